//! The patch library the subsecond case of the peers bench applies with
//! `subsecond::apply_patch`.
//!
//! subsecond finds the library's base through its `main` symbol, and calls
//! a patched function as `fn(&F, Args) -> R`, where `F` is the function
//! the caller handed to `subsecond::call` (a zero-sized fn item here).

use std::hint::black_box;

/// The base subsecond measures the library's addresses from.
#[no_mangle]
pub extern "C" fn main() {}

/// The new body of the bench's `tick`: the same call of `add`, with a
/// different result so that the bench can tell the patch runs.
#[no_mangle]
pub fn hcr_bench_patched_tick(_function: &(), _args: ()) -> u64 {
    add(black_box(1), black_box(2)) + 100
}

#[inline(never)]
fn add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}
