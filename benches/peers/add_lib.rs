//! The library the hot-lib-reloader and `libloading` cases of the peers
//! bench load: `add` with the Rust ABI, unmangled, as hot-lib-reloader
//! expects its libraries' functions.

/// Adds two numbers.
#[no_mangle]
pub fn add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}
