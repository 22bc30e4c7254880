//! The permanent runtime of hcr, hot code reloading for native code.
//!
//! A host program splits into a small executable and reloadable modules
//! (shared libraries). This crate is built as `libhcr_runtime.so`, loaded
//! once and never reloaded. It gives every reloadable proc a stable address
//! (a stub in the jump table that jumps to the current code), keeps globals
//! at stable addresses across reloads, loads the module tree and reloads
//! changed modules at a safe point, all or nothing. Its C ABI is
//! `include/hcr.h`; Rust modules and hosts use it through `hcr-client`.
//!
//! # Using it from C
//! ```c
//! #include "hcr.h"
//! static const char *const imports[] = {"physics", NULL};
//! int main(void) {
//!     if (hcr_init("main", imports, NULL) != 0) { puts(hcr_last_error()); return 1; }
//!     int (*step)(int) = hcr_get_proc("physics", "step");
//!     for (;;) {
//!         step(1);
//!         if (hcr_reload_needed() && hcr_perform_code_reload() != 0)
//!             puts(hcr_last_error());   /* the old code keeps running */
//!     }
//! }
//! ```
//! A module exports `hcr_module_imports`, `hcr_module_hash`,
//! `hcr_module_dat_init`, `hcr_module_init` and optionally
//! `hcr_module_can_reload`; see the header for their contract.
//!
//! # Decisions where the design leaves room
//! * The generation is 0 after `hcr_init` and grows by one per successful
//!   reload and per crash-guard rollback; a reload with nothing changed
//!   leaves it alone.
//! * Handlers belong to the module whose `dat_init` or `init` the reloading
//!   thread is running; any other call (the host, another thread, a
//!   handler adding a handler) belongs to the main module.
//! * A global registered again with another layout outside any reload gets
//!   fresh memory (result 2) and its old block is freed at once; inside a
//!   reload the old block stays readable through `hcr_get_previous_global`
//!   until the reload ends.
//! * A library is loaded from an in-memory copy of its bytes (a memfd,
//!   opened as `/proc/self/fd/<n>`): no copy is ever written to disk, so
//!   none can be left behind, whatever ends the process.
//! * Every version stays mapped until the process exits, unless the host
//!   calls `hcr_collect` (unmaps every version that is not current) or sets
//!   a cap with `hcr_set_kept_versions` or `$HCR_KEEP_VERSIONS` (at most N
//!   versions of each module stay mapped after each reload, the current one
//!   included). Both are the host's promise that no thread runs the code
//!   that goes and nothing points into it; see `collect`.
//! * Before a module's library is read, the file and each directory above
//!   it (along the path as given and with symlinks resolved) must pass the
//!   trust check of the `hcr_trust` crate: not writable by others (a
//!   sticky directory is fine), not owned by another user than the
//!   process's or root. Group-write passes. A path that cannot be inspected
//!   passes, so that the read then reports it. A refusal is
//!   `HCR_ERR_UNTRUSTED`, before a byte is read; `HCR_ALLOW_INSECURE_MODULES=1`
//!   turns the check off. The manifest's temporary file is created new
//!   (O_CREAT | O_EXCL after removing whatever is at the name), never
//!   written through a symlink.
//! * A library is loaded only once it is complete: its copy passes the ELF
//!   check and the file did not change while it was copied. A file that is
//!   too short for its headers, or changing, is copied again every 10 ms
//!   for up to `$HCR_LOAD_WAIT_MS` (1000); then the load fails, saying the
//!   library is still being written.
//! * Change checks (`hcr_reload_needed`, `hcr_has_module_changed`) cost a
//!   `stat` per module (see `file_identity`): contents are read at most
//!   once for each stamp a file shows, on a thread of the runtime's; a
//!   same-size rewrite counts as a change until it is compared there
//!   (milliseconds later), and a reload compares contents at once.
//! * `hcr_perform_code_reload` walks the calling thread's stack and refuses
//!   (`HCR_ERR_ACTIVE_FRAME`) when a frame runs the current code of a
//!   module the reload would replace; `hcr_perform_code_reload_with(
//!   HCR_RELOAD_ALLOW_ACTIVE_FRAMES)` skips the check. Modules a reload
//!   drops are not checked: their code stays mapped.
//! * After `fork` the child switches to a private copy of the jump table,
//!   and never inherits the runtime's lock held (see `fork`).
//! * A proc that a module stops registering keeps its slot, which jumps to
//!   the bad-call handler; slots are never given to another name, so the
//!   table grows only with distinct names.
//! * A library file that is missing or unreadable counts as unchanged, so a
//!   build that is replacing it is not mistaken for a broken module.
//! * Rust modules register procs with a signature text
//!   (`hcr_register_proc_checked`) and look them up as a named caller
//!   (`hcr_get_proc_checked`). A new signature is refused while a caller
//!   outside the running reload expects another; a module that is reloaded
//!   forgets its old expectations before its new `dat_init` runs. Plain
//!   `hcr_register_proc` and `hcr_get_proc` are never checked.
//! * The first `hcr_check_toolchain` sets the process's compiler (a Rust
//!   host reports its own before `hcr_init`); a module that reports another
//!   fails its `dat_init`, so the reload is refused.
//! * A module's `dat_init` or `init` can say why it fails with
//!   `hcr_report_failure`; the reason ends up in the reload's message.
//! * `hcr_shutdown` exists because only the runtime knows the current
//!   import order: it runs the optional `hcr_module_shutdown` exports,
//!   importers first, once, and then refuses reloads.
//!   `hcr_get_previous_global_layout` lets a migration check the old
//!   block's layout before reading it.
//! * Globals of module `hcr` are hcr-client's own (the host's `tracing`
//!   and `log` forwarders).
//! * The jump table is reserved when the first proc is registered or looked
//!   up, or at the start of `hcr_init`, before any module is mapped. Both
//!   views are reserved as one range where the kernel chooses; a probe
//!   mapping tells on which side the kernel maps next, and the executable
//!   view takes that half, handing slots out from that edge (see
//!   `jump_table::placement`). So modules loaded afterwards lie a few MiB
//!   from their slots, within reach of the near forms.
//!   `$HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS` asks for a fixed address
//!   instead (slots from its bottom, as Nim's); when it is taken the
//!   table is placed near, a warning says why, and the start goes on. A
//!   malformed value fails the reservation, naming the variable.
//! * The near stub form is used only after `hcr_set_stub_form(1)`, which is
//!   the host's promise that no other thread calls through a stub while the
//!   runtime writes one; out of reach, a slot keeps the data form. It stays
//!   opt-in although it is faster on some machines (docs/performance.md):
//!   re-pointing it rewrites an instruction other threads may be running.
//! * `hcr_stub_cell` hands out the address of a stub's target word, which
//!   always holds the current target, so that typed callers (hcr-client)
//!   call the code directly; the stub stays the one pointer to hand to
//!   code that keeps function pointers.
//! * The crash guard (`hcr_guarded_call`) is opt-in per call and catches
//!   only synchronous faults whose instruction lies in a loaded module
//!   version's code, on the calling thread, during the call; everything
//!   else goes to the handlers that were there before it. A rollback is a
//!   reload back to the previous mapped version (its `dat_init` and `init`
//!   run again; no before-handlers), and the faulting bytes are refused
//!   until the module's file holds other bytes. See `docs/crash-guard.md`.
//!
//! # Windows
//! The runtime builds for `x86_64-pc-windows-gnu` as `hcr_runtime.dll`,
//! with the same C ABI. Where Windows differs:
//! * The jump table is a pagefile-backed section reserved with
//!   `SEC_RESERVE` and mapped twice; pages are committed through the
//!   writable view. The executable view goes right below the runtime's
//!   image (or as near below as there is room), slots from its top, and
//!   every module copy is rebased to prefer the first free range above the
//!   view, so that modules load beside their stubs. A fixed address
//!   (`HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS`) must be 64 KiB aligned.
//! * Module `m` is `m.dll`; each version is loaded from a copy,
//!   `%TEMP%\hcr-copies\<pid>-<creation time>.m.<load>.dll`, opened for
//!   deletion on close, so it is deleted once the process has unloaded it
//!   or ended, however it ended; nothing of the process is left behind
//!   (a copy the system failed to delete is removed by the next process
//!   that starts).
//!   The library check is the PE check ([`pe`]).
//! * A load that fails because a DLL the module imports is missing names
//!   that DLL (read from the module's import directory).
//! * File changes are judged by size, creation and last-write times (and
//!   the contents as on Linux).
//! * The active-frame check walks the stack with
//!   `RtlCaptureStackBackTrace`.
//! * The crash guard catches with a vectored exception handler and resumes
//!   at the guarded call's captured context (`asm/crash_guard_windows.c`);
//!   it does not catch a stack overflow (`docs/crash-guard.md`).
//! * The trust check reads owners and access lists (`hcr_trust`'s crate
//!   docs say which accounts and rights are refused).
//! * There is no `fork`, so nothing is done for it.
//! * On x86_64 the bad-call handler takes the slot where the veneer puts
//!   it, in `rdi`, as the System V ABI does, on every system.
//!
//! # macOS
//! The runtime builds for `aarch64-apple-darwin` and `x86_64-apple-darwin`
//! as `libhcr_runtime.dylib` (install name `@rpath/libhcr_runtime.dylib`),
//! with the same C ABI. It is built, linked and read in CI, never run
//! there. Where macOS differs:
//! * The jump table is paged (`jump_table::paged`): copies of one page of
//!   fixed code in the runtime's `__TEXT,__hcr_stubs`, `vm_remap`ed beside
//!   read-write data pages of cells. No page is ever writable and
//!   executable and no code is written, so it runs under the hardened
//!   runtime without the JIT entitlement; only the data form exists
//!   (`hcr_set_stub_form(1)` is refused). A forked child's cells are its
//!   own from the start (the data pages are private).
//! * Module `m` is `libm.dylib`; each version is loaded from a
//!   byte-identical copy under a name never used before, in
//!   `$TMPDIR/hcr-copies/<pid>-<start time>` (mode `0700`), removed once
//!   dyld has mapped it (or its load failed); the directories of processes
//!   that are gone are removed by the next process that starts. The
//!   library check is the Mach-O check ([`macho`]).
//! * Collecting asks dyld whether an image is still loaded (`dlclose`
//!   leaves one with thread-local destructors mapped), and code ranges come
//!   from dyld's images.
//! * The crash guard is the signal-based one of Linux, reading Darwin's
//!   thread state; its per-thread slot is a pthread key (Darwin allocates a
//!   thread's `__thread` block on first use). A debugger attached through
//!   Mach exception ports sees a fault first.
//! * The trust check is the one of Linux (owners and mode bits).
//!
//! # Warning
//! A reload replaces code while the process runs. The host must call
//! `hcr_perform_code_reload` where no frame of a module being reloaded is
//! on the calling thread's stack, and must not keep `'static` references
//! into a module's data across a reload.

#![deny(missing_docs)]

mod active_frames;
pub mod arch;
mod background;
mod bad_call;
pub mod collect;
mod crash_guard;
pub mod elf;
pub mod error;
pub mod ffi;
mod file_identity;
mod fork;
mod global_memory;
pub mod jump_table;
pub mod library_error;
mod loader;
pub mod macho;
mod manifest;
mod names;
pub mod pe;
mod registry;
mod reload;
mod rollback;
mod runtime;
mod signatures;
mod sys;
#[cfg(test)]
mod test_support;

pub use error::Error;
pub use jump_table::{JumpTable, JumpTableConfig, StubForm};

/// Copies all of the library at `path` as a load does (on Linux, by the
/// kernel into a memfd, including the part a load leaves to the background
/// thread) and drops the copy: what all the bytes of a load cost alone,
/// for `benches/rust_reload.rs`.
///
/// # Errors
/// When the file cannot be read or copied.
#[doc(hidden)]
pub fn copy_library_alone(path: &std::path::Path) -> std::io::Result<()> {
    sys::copy::LibraryCopy::of_file("bench", u64::MAX, path).map(|copied| copied.rest.fill())
}

/// The runtime of this process, made on first use with what the layers
/// above [`runtime`] give it: the bad-call handler, the crash guard's view
/// of mapped code, and a watch for `fork`.
fn process_runtime() -> &'static runtime::Runtime {
    static RUNTIME: std::sync::OnceLock<runtime::Runtime> = std::sync::OnceLock::new();
    RUNTIME.get_or_init(|| {
        fork::install();
        runtime::Runtime::new(runtime::Hooks {
            bad_call_handler: bad_call::handler as *const () as usize,
            mapped_code_changed: crash_guard::publish,
        })
    })
}
