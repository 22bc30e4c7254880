//! What hcr hosts and modules link.
//!
//! For now this crate holds [`runtime`], a typed binding to the C ABI of
//! `libhcr_runtime.so` that a host uses to load the runtime, start its
//! module tree and reload it. Macros for writing modules in plain Rust
//! build on it.

#![deny(missing_docs)]

pub mod runtime;

pub use runtime::{GlobalStatus, RuntimeError, RuntimeLibrary};
