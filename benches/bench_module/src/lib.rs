//! The module that `benches/rust_calls.rs` loads: the same small bodies
//! behind each kind of reloadable function.

hcr_client::module!();

/// Adds two numbers (Rust ABI: arguments and result pass in memory, the
/// body runs under `catch_unwind`).
#[hcr_client::reloadable]
pub fn add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// Adds two numbers (C ABI: called through the stub directly).
#[hcr_client::reloadable]
pub extern "C" fn add_c(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

/// Joins two strings into a new one: a call that moves heap data.
#[hcr_client::reloadable]
pub fn join(a: &str, b: &str) -> String {
    let mut joined = String::with_capacity(a.len() + b.len());
    joined.push_str(a);
    joined.push_str(b);
    joined
}
