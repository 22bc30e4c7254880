//! Hot code reloading for Rust programs: reloadable functions in plain
//! Rust, a host that reloads them, and a static build from the same source.
//!
//! TODO(docs) replaced below.

#![deny(missing_docs)]

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;
#[cfg(not(feature = "static"))]
mod forward;
mod host;
pub mod runtime;

pub use hcr_client_macros::{foreign, module, reloadable};
pub use host::{Host, HostBuilder, ReloadError, ReloadReport, StartError};
pub use runtime::{GlobalStatus, RuntimeError, RuntimeLibrary};
