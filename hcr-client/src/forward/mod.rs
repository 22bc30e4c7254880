//! Diagnostics from modules reach the host: log records, tracing events,
//! and the names of the threads panics happen on.
//!
//! Each module is a shared library with its own copy of every crate it
//! uses, so a module's `tracing` or `log` macros see that copy's
//! dispatcher or logger, not the host's. The host publishes one function
//! per facade in a runtime global (module `hcr`); each module, in its
//! `dat_init`, installs a forwarder that calls it, so events go to
//! whatever subscriber or logger the host has at the time of the event
//! (including `tracing`'s scoped defaults).
//!
//! Host and modules must use the same versions of `tracing-core` and
//! `log` (one `Cargo.lock`), as they use the same compiler.
//!
//! A module built by `cargo hcr` where dependencies are shared links the
//! host's std, `log` and `tracing-core` themselves: there is one logger,
//! one dispatcher and one panic hook, and nothing is installed (a hook
//! in the module would outlive its code).

#[cfg(feature = "log")]
pub(crate) mod log;
mod panics;
#[cfg(feature = "tracing")]
pub(crate) mod tracing;

use crate::runtime::RuntimeLibrary;

/// A function pointer the host publishes, in a runtime global.
#[repr(C)]
#[derive(Clone, Copy)]
struct Published<F: Copy> {
    function: F,
}

/// Writes `function` into global `hcr::name` for the modules to find.
fn publish<F: Copy>(runtime: &RuntimeLibrary, name: &str, function: F) -> Result<(), String> {
    let (block, _) = runtime
        .register_global(
            "hcr",
            name,
            size_of::<Published<F>>(),
            align_of::<Published<F>>(),
            // Tells one forwarder's global from a stale one of another kind.
            crate::fingerprint::start(name),
        )
        .map_err(|err| err.message)?;
    // SAFETY: the block was registered with this type's size and
    // alignment, and only this function writes it.
    unsafe {
        block
            .as_ptr()
            .cast::<Published<F>>()
            .write(Published { function })
    };
    Ok(())
}

/// What the host published as `hcr::name`, if it did.
fn published<F: Copy>(runtime: &RuntimeLibrary, name: &str) -> Option<F> {
    let block = runtime.get_global("hcr", name)?;
    // SAFETY: `publish` wrote a `Published<F>` there: the name fixes F,
    // and host and module share the compiler (checked before dat_init
    // goes on) and this crate's version (part of the toolchain text).
    Some(unsafe { block.as_ptr().cast::<Published<F>>().read() }.function)
}

/// Publishes the host's forwarders (host side, at start).
pub(crate) fn publish_all(runtime: &RuntimeLibrary) -> Result<(), String> {
    #[cfg(feature = "tracing")]
    tracing::publish(runtime)?;
    #[cfg(feature = "log")]
    log::publish(runtime)?;
    panics::publish(runtime)
}

/// Installs the forwarders in this module (module side, in dat_init).
pub(crate) fn install_all(runtime: &RuntimeLibrary) {
    #[cfg(feature = "tracing")]
    tracing::install(runtime);
    #[cfg(feature = "log")]
    log::install(runtime);
    panics::install(runtime);
}
