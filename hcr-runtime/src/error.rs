//! The runtime's error type and the codes the C ABI returns for it.

use std::ffi::c_int;

use crate::jump_table::TableError;

/// `hcr_*` result codes; see `include/hcr.h`.
pub mod code {
    use std::ffi::c_int;
    /// A NULL, empty, non-UTF-8 or otherwise malformed argument.
    pub const INVALID_ARGUMENT: c_int = -1;
    /// `hcr_init` has not succeeded yet.
    pub const NOT_INITIALIZED: c_int = -2;
    /// `hcr_init` already succeeded.
    pub const ALREADY_INITIALIZED: c_int = -3;
    /// Another init or reload is running (e.g. called from a module's init).
    pub const BUSY: c_int = -4;
    /// A module's library could not be read, checked, copied or opened.
    pub const LOAD_FAILED: c_int = -5;
    /// A module's `dat_init` or `init` returned non-zero.
    pub const INIT_FAILED: c_int = -6;
    /// A module's `hcr_module_can_reload` returned false.
    pub const VETOED: c_int = -7;
    /// The import graph has a cycle.
    pub const CYCLIC_IMPORT: c_int = -8;
    /// The jump table is full or cannot be reserved.
    pub const JUMP_TABLE: c_int = -9;
    /// Memory for a global could not be allocated.
    pub const OUT_OF_MEMORY: c_int = -10;
    /// A bug in the runtime (a caught panic); the runtime carries on.
    pub const INTERNAL: c_int = -11;
    /// A proc's signature differs from what one of its callers was built
    /// against.
    pub const SIGNATURE: c_int = -12;
    /// A module was built by another compiler than the running program.
    pub const TOOLCHAIN: c_int = -13;
    /// `hcr_shutdown` ran: the tree no longer reloads.
    pub const SHUT_DOWN: c_int = -14;
    /// A frame of a module the reload would replace is on the calling
    /// thread's stack.
    pub const ACTIVE_FRAME: c_int = -15;
    /// A guarded call faulted in a module's code.
    pub const FAULTED: c_int = -16;
    /// Not supported on this platform.
    pub const UNSUPPORTED: c_int = -17;
    /// A module's library, or a directory above it, could have been
    /// written by another user (writable by others, or owned by another
    /// user than the process's or root).
    pub const UNTRUSTED: c_int = -18;
}

/// What went wrong in a runtime call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A malformed argument.
    #[error("{0}")]
    InvalidArgument(String),
    /// `hcr_init` has not succeeded yet.
    #[error("the runtime is not initialized: call hcr_init first")]
    NotInitialized,
    /// `hcr_init` already succeeded.
    #[error("hcr_init was already called (main module `{0}`)")]
    AlreadyInitialized(String),
    /// Another init or reload is running.
    #[error("another hcr_init or reload is running (is a module calling it from its own init?)")]
    Busy,
    /// The jump table failed.
    #[error(transparent)]
    Table(#[from] TableError),
    /// A global could not be registered.
    #[error("global `{module}::{name}`: {detail}")]
    Global {
        /// Its module.
        module: String,
        /// Its name.
        name: String,
        /// What went wrong.
        detail: String,
        /// Whether it was a failed allocation.
        out_of_memory: bool,
    },
    /// A module could not be loaded; every module was put back.
    #[error(
        "module `{module}` failed to load: {detail}; nothing changed, the previous code keeps running"
    )]
    Load {
        /// The module.
        module: String,
        /// The loader's message.
        detail: String,
    },
    /// A module's library was refused before it was read: another user
    /// could have written it or a directory above it.
    #[error(
        "module `{module}` was not loaded: {detail}; nothing changed, the previous code keeps running"
    )]
    Untrusted {
        /// The module.
        module: String,
        /// Which path, why, and the fix.
        detail: String,
    },
    /// A module's init step failed; every module was put back.
    #[error(
        "module `{module}` failed in {step} (returned {status}){}; \
         nothing changed, the previous code keeps running",
        detail.as_ref().map(|detail| format!(": {detail}")).unwrap_or_default()
    )]
    Step {
        /// The module.
        module: String,
        /// `hcr_module_dat_init` or `hcr_module_init`.
        step: &'static str,
        /// What it returned.
        status: c_int,
        /// Why, as the module reported it (`hcr_report_failure`).
        detail: Option<String>,
    },
    /// A proc's signature and a caller's expectation disagree.
    #[error("{0}")]
    Signature(String),
    /// A module was built by another compiler than the running program.
    #[error("{0}")]
    Toolchain(String),
    /// The tree was shut down.
    #[error("the module tree was shut down (hcr_shutdown): it no longer reloads")]
    ShutDown,
    /// A module vetoed the reload; nothing ran.
    #[error(
        "reload refused: module `{0}` cannot be reloaded now (hcr_module_can_reload returned false)"
    )]
    Vetoed(String),
    /// The imports form a cycle.
    #[error("cyclic import: {0}; nothing changed")]
    Cycle(String),
    /// The reloading thread runs code of a module the reload would replace.
    #[error(
        "reload refused: the calling thread has a frame of module `{0}` on its stack, \
         and this reload would replace that module's code; reload from outside it, \
         or pass HCR_RELOAD_ALLOW_ACTIVE_FRAMES"
    )]
    ActiveFrame(String),
    /// A guarded call faulted in a module version's code; the guard says
    /// whether it put the module's previous version back.
    #[error("module `{module}` faulted: {fault}; {outcome}")]
    Faulted {
        /// The module whose code faulted.
        module: String,
        /// The signal and where it hit.
        fault: String,
        /// The rollback, or why there was none.
        outcome: String,
    },
    /// A panic inside the runtime, caught at the C boundary.
    #[error("internal error in hcr-runtime: {0}")]
    Internal(String),
    /// What was asked is not supported on this platform.
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    /// The negative code the C ABI returns for this error.
    pub fn code(&self) -> c_int {
        match self {
            Error::InvalidArgument(_) => code::INVALID_ARGUMENT,
            Error::NotInitialized => code::NOT_INITIALIZED,
            Error::AlreadyInitialized(_) => code::ALREADY_INITIALIZED,
            Error::Busy => code::BUSY,
            Error::Table(_) => code::JUMP_TABLE,
            Error::Global { out_of_memory, .. } => {
                if *out_of_memory {
                    code::OUT_OF_MEMORY
                } else {
                    code::INVALID_ARGUMENT
                }
            }
            Error::Load { .. } => code::LOAD_FAILED,
            Error::Untrusted { .. } => code::UNTRUSTED,
            Error::Step { .. } => code::INIT_FAILED,
            Error::Vetoed(_) => code::VETOED,
            Error::Cycle(_) => code::CYCLIC_IMPORT,
            Error::Internal(_) => code::INTERNAL,
            Error::Signature(_) => code::SIGNATURE,
            Error::Toolchain(_) => code::TOOLCHAIN,
            Error::ShutDown => code::SHUT_DOWN,
            Error::ActiveFrame(_) => code::ACTIVE_FRAME,
            Error::Faulted { .. } => code::FAULTED,
            Error::Unsupported(_) => code::UNSUPPORTED,
        }
    }

    /// Adds the reason a module reported to a failed step.
    pub(crate) fn with_detail(self, reported: Option<String>) -> Error {
        match self {
            Error::Step {
                module,
                step,
                status,
                detail: None,
            } => Error::Step {
                module,
                step,
                status,
                detail: reported,
            },
            other => other,
        }
    }

    /// Whether a reload refused with this error would be refused again,
    /// the same way, until a module's file changes: a library that does
    /// not load, an init that fails, a signature or toolchain mismatch, an
    /// import cycle. (A veto, a frame on the stack, a busy runtime or a
    /// full table can pass by themselves.)
    pub(crate) fn stays_until_files_change(&self) -> bool {
        matches!(
            self,
            Error::Load { .. }
                | Error::Untrusted { .. }
                | Error::Step { .. }
                | Error::Signature(_)
                | Error::Toolchain(_)
                | Error::Cycle(_)
        )
    }

    /// The module the error is about, where there is one.
    pub fn module(&self) -> Option<&str> {
        match self {
            Error::Load { module, .. }
            | Error::Untrusted { module, .. }
            | Error::Step { module, .. }
            | Error::Faulted { module, .. }
            | Error::Vetoed(module)
            | Error::ActiveFrame(module) => Some(module),
            _ => None,
        }
    }

    /// The full message, with the chain of sources.
    pub fn report(&self) -> String {
        chain(self)
    }
}

/// An error's message followed by those of its sources.
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
