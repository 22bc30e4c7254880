//! The bad-call handler: where a slot without a proc jumps.
//!
//! A call through the stub of a removed or never-registered proc must not
//! run freed or foreign code. The slot's veneer passes the slot's address
//! here; the handler names the proc and aborts the process, since it cannot
//! know what the caller expected to get back.

use std::io::Write;

/// Entered from a slot's veneer with the slot's executable address as the
/// first argument, as if the stub's caller had called it. On x86_64 the
/// veneer passes it where the System V ABI does (`rdi`), on every system:
/// Windows' own convention would look in `rcx`.
#[cfg(target_arch = "x86_64")]
pub(crate) extern "sysv64" fn handler(slot: *const u8) -> ! {
    report(slot)
}

/// Entered from a slot's veneer with the slot's executable address as the
/// first argument, as if the stub's caller had called it.
#[cfg(not(target_arch = "x86_64"))]
pub(crate) extern "C" fn handler(slot: *const u8) -> ! {
    report(slot)
}

/// Names the proc whose slot was called and aborts.
fn report(slot: *const u8) -> ! {
    let name = std::panic::catch_unwind(|| describe(slot as usize)).unwrap_or(None);
    let name = name.unwrap_or_else(|| "an unknown proc".to_owned());
    let message = format!(
        "hcr: bad call: {name} was called through its stub at {slot:p}, but no loaded \
         module provides it (it was removed by a reload, its module was dropped, or it \
         was never registered); aborting\n"
    );
    let _ = std::io::stderr().write_all(message.as_bytes());
    std::process::abort();
}

/// `module::proc` of the slot at `address`. Waits a bounded time for the
/// lock: a reload on another thread holds it only briefly.
fn describe(address: usize) -> Option<String> {
    let rt = crate::process_runtime();
    for _ in 0..1000 {
        if let Some(state) = rt.try_lock() {
            let table = state.table()?;
            let slot = table.slot_at(address)?;
            let (module, name) = state.registry.slot_name(slot)?;
            return Some(format!("`{module}::{name}`"));
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    None
}
