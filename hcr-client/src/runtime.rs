//! A typed binding to the runtime's C ABI (`hcr-runtime/include/hcr.h`).
//!
//! The runtime is a shared library loaded once per process (on Linux with
//! `RTLD_GLOBAL`, so that modules opened later resolve their `hcr_*` calls
//! against it; on Windows modules import it by name) and never unloaded:
//! its jump table is where every handed-out function pointer points. [`RuntimeLibrary::open`] loads it and resolves
//! every entry point into an [`Api`], whose methods take Rust strings and
//! return `Result`.

use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::path::Path;
use std::ptr::NonNull;
use std::time::Duration;

use crate::sys::{self, Library};

/// An error reported by the runtime, or met before calling it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct RuntimeError {
    /// The runtime's negative result code (`HCR_ERR_*`), or
    /// `HCR_ERR_INVALID_ARGUMENT` (-1) for input refused before the call.
    pub code: i32,
    /// `hcr_last_error()` of the failing call.
    pub message: String,
}

/// Where the time of a reload went (`hcr_last_reload_timings`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadPhases {
    /// Finding changed files and asking every module `can_reload`.
    pub check: Duration,
    /// The before-handlers.
    pub before_handlers: Duration,
    /// Reading, checking and copying the changed libraries.
    pub copy: Duration,
    /// `dlopen` of the copies.
    pub dlopen: Duration,
    /// `dat_init` and `init`: registration and patching.
    pub init: Duration,
    /// Keeping the transaction.
    pub commit: Duration,
    /// The after-handlers.
    pub after_handlers: Duration,
    /// Dropping modules no longer imported.
    pub cleanup: Duration,
    /// The whole reload.
    pub total: Duration,
}

/// What `register_global` found; see `hcr_register_global`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalStatus {
    /// Kept as it was.
    Existing,
    /// Fresh zeroed memory to initialize.
    New,
    /// Fresh zeroed memory; the layout differs from the last registration.
    LayoutChanged,
}

/// Where the jump table went (`hcr_jump_table_placement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePlacement {
    /// How it was placed.
    pub kind: PlacementKind,
    /// The first byte of its executable view.
    pub base: usize,
    /// Bytes reserved for that view.
    pub size: usize,
    /// A sentence saying where and why.
    pub description: String,
}

/// How the jump table was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlacementKind {
    /// Beside where libraries are mapped next (the default).
    Near,
    /// At `$HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS`.
    Fixed,
    /// That address was not free: placed near instead.
    NotFixed,
}

/// Why the runtime library could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// `dlopen` failed.
    #[error("cannot open the hcr runtime {path}")]
    Open {
        /// The library's path.
        path: String,
        /// The loader's error.
        #[source]
        source: libloading::Error,
    },
    /// The library, or a directory above it, could have been written by
    /// another user; it was not opened. `HCR_ALLOW_INSECURE_MODULES=1`
    /// turns this check off.
    #[error("refused to open the hcr runtime: {0}")]
    Untrusted(#[from] hcr_trust::Untrusted),
    /// An entry point is missing: the library is not a matching runtime.
    #[error("{path} lacks `{symbol}`: not an hcr runtime of this version")]
    Missing {
        /// The library's path.
        path: String,
        /// The missing symbol.
        symbol: &'static str,
    },
}

macro_rules! entry_points {
    ($($name:ident : fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        /// The runtime's entry points, valid for the life of the process.
        /// Calling the fields directly is for tests of the C ABI's input
        /// checks; prefer the methods.
        #[derive(Debug, Clone, Copy)]
        #[allow(missing_docs, reason = "each field is the hcr.h function of the same name")]
        pub struct Api {
            $(pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
        }

        impl Api {
            pub(crate) fn resolve(library: &Library, path: &str) -> Result<Api, OpenError> {
                Ok(Api {
                    $($name: {
                        let symbol = concat!(stringify!($name), "\0");
                        // SAFETY: the field's type is the signature hcr.h
                        // declares for this name; the runtime is never
                        // unloaded (see RuntimeLibrary::open), so the pointer
                        // stays valid.
                        unsafe { library.get(symbol.as_bytes()) }
                            .map(|symbol| *symbol)
                            .map_err(|_| OpenError::Missing {
                                path: path.to_owned(),
                                symbol: stringify!($name),
                            })?
                    },)*
                })
            }
        }
    };
}

entry_points! {
    hcr_register_proc: fn(*const c_char, *const c_char, *const c_void) -> *mut c_void;
    hcr_get_proc: fn(*const c_char, *const c_char) -> *mut c_void;
    hcr_register_global: fn(*const c_char, *const c_char, usize, usize, u64, *mut *mut c_void) -> c_int;
    hcr_get_global: fn(*const c_char, *const c_char) -> *mut c_void;
    hcr_get_previous_global: fn(*const c_char, *const c_char) -> *mut c_void;
    hcr_init: fn(*const c_char, *const *const c_char, *const c_char) -> c_int;
    hcr_reload_needed: fn() -> bool;
    hcr_has_module_changed: fn(*const c_char) -> bool;
    hcr_perform_code_reload: fn() -> c_int;
    hcr_perform_code_reload_with: fn(c_uint) -> c_int;
    hcr_last_error: fn() -> *const c_char;
    hcr_add_event_handler: fn(bool, Option<extern "C" fn()>);
    hcr_add_module: fn(*const c_char);
    hcr_generation: fn() -> i64;
    hcr_set_stub_form: fn(c_int) -> c_int;
    hcr_retained_version_count: fn() -> i64;
    hcr_collect: fn() -> c_int;
    hcr_set_kept_versions: fn(c_int) -> c_int;
    hcr_register_proc_checked: fn(*const c_char, *const c_char, *const c_void, *const c_char) -> *mut c_void;
    hcr_get_proc_checked: fn(*const c_char, *const c_char, *const c_char, *const c_char) -> *mut c_void;
    hcr_check_toolchain: fn(*const c_char, *const c_char) -> c_int;
    hcr_report_failure: fn(*const c_char);
    hcr_reloaded_modules: fn() -> *const c_char;
    hcr_last_error_module: fn() -> *const c_char;
    hcr_get_previous_global_layout: fn(*const c_char, *const c_char, *mut usize, *mut usize, *mut u64) -> c_int;
    hcr_shutdown: fn() -> c_int;
    hcr_last_reload_timings: fn(*mut [u64; 9]) -> c_int;
    hcr_guarded_call: fn(Option<unsafe extern "C" fn(*mut c_void)>, *mut c_void) -> c_int;
    hcr_stub_cell: fn(*const c_void) -> *const *const c_void;
    hcr_jump_table_placement: fn(*mut usize, *mut usize, *mut *const c_char) -> c_int;
}

/// The runtime library, loaded for the rest of the process's life.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeLibrary {
    api: Api,
}

impl std::ops::Deref for RuntimeLibrary {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

fn c_string(text: &str, what: &str) -> Result<CString, RuntimeError> {
    CString::new(text).map_err(|_| RuntimeError {
        code: -1,
        message: format!("{what} `{}` contains a NUL byte", text.escape_debug()),
    })
}

impl RuntimeLibrary {
    /// Opens the runtime library (`libhcr_runtime.so`, `hcr_runtime.dll`)
    /// at `path` (on Linux with `RTLD_NOW | RTLD_GLOBAL`) and keeps it
    /// loaded until the process exits. Opening it again returns the same
    /// runtime.
    ///
    /// # Errors
    /// [`OpenError`] when the library cannot be loaded, another user could
    /// have written it (see the `hcr_trust` crate), or it lacks an entry
    /// point.
    pub fn open(path: &Path) -> Result<Self, OpenError> {
        let shown = path.display().to_string();
        // Loading it runs its code: only code this user could have written.
        hcr_trust::check(path)?;
        // SAFETY: loading the runtime runs only its own (Rust std) initializers.
        let library = unsafe { sys::open_runtime(path) }.map_err(|source| OpenError::Open {
            path: shown.clone(),
            source,
        })?;
        let api = Api::resolve(&library, &shown)?;
        // Never closed: stubs, globals and modules depend on the runtime.
        let _ = library.into_raw();
        Ok(RuntimeLibrary { api })
    }

    /// The runtime another part of this process already loaded (with
    /// `RTLD_GLOBAL`, or linked in), if any.
    pub fn loaded() -> Option<Self> {
        // Never closed: the handle is the process's, not ours to close.
        let this = std::mem::ManuallyDrop::new(sys::loaded_runtime()?);
        // One lookup first: without a runtime (a module crate's own tests,
        // which ask on every call) this is all it costs.
        // SAFETY: the symbol is only checked for presence, never called.
        unsafe { this.get::<*const c_void>(b"hcr_get_proc_checked\0") }.ok()?;
        let api = Api::resolve(&this, "this process").ok()?;
        Some(RuntimeLibrary { api })
    }

    /// The raw entry points.
    pub fn api(&self) -> &Api {
        &self.api
    }
}

// Every `unsafe` call below passes NUL-terminated strings that live across
// the call and the pointer types hcr.h declares; the runtime validates
// everything else itself.
impl Api {
    /// The calling thread's last error message.
    pub fn last_error(&self) -> String {
        // SAFETY: see the comment on this impl; the result is a valid string.
        owned(unsafe { (self.hcr_last_error)() })
    }

    /// The module the calling thread's last error is about, if any.
    pub fn last_error_module(&self) -> Option<String> {
        // SAFETY: see the comment on this impl; the result is a valid string.
        Some(owned(unsafe { (self.hcr_last_error_module)() })).filter(|name| !name.is_empty())
    }

    /// The modules the calling thread's last successful reload loaded,
    /// leaves first.
    pub fn reloaded_modules(&self) -> Vec<String> {
        // SAFETY: see the comment on this impl; the result is a valid string.
        let list = owned(unsafe { (self.hcr_reloaded_modules)() });
        list.lines().map(str::to_owned).collect()
    }

    /// `hcr_check_toolchain`: whether `module`, built by `toolchain`, may
    /// join this process.
    ///
    /// # Errors
    /// `HCR_ERR_TOOLCHAIN` with a message naming both compilers.
    pub fn check_toolchain(&self, module: &str, toolchain: &str) -> Result<(), RuntimeError> {
        let (module, toolchain) = (
            c_string(module, "module")?,
            c_string(toolchain, "toolchain")?,
        );
        // SAFETY: see the comment on this impl.
        self.check(unsafe { (self.hcr_check_toolchain)(module.as_ptr(), toolchain.as_ptr()) })?;
        Ok(())
    }

    /// Where the time of the calling thread's last successful reload went.
    pub fn last_reload_phases(&self) -> Option<ReloadPhases> {
        let mut ns = [0u64; 9];
        // SAFETY: see the comment on this impl; `hcr_reload_timings` is
        // nine u64 fields, laid out as this array.
        if unsafe { (self.hcr_last_reload_timings)(&mut ns) } != 0 {
            return None;
        }
        let [
            check,
            before,
            copy,
            dlopen,
            init,
            commit,
            after,
            cleanup,
            total,
        ] = ns.map(Duration::from_nanos);
        Some(ReloadPhases {
            check,
            before_handlers: before,
            copy,
            dlopen,
            init,
            commit,
            after_handlers: after,
            cleanup,
            total,
        })
    }

    /// `hcr_shutdown`: runs every module's shutdown, importers first.
    ///
    /// # Errors
    /// The runtime's error (e.g. a reload is running).
    pub fn shutdown(&self) -> Result<(), RuntimeError> {
        // SAFETY: see the comment on this impl.
        self.check(unsafe { (self.hcr_shutdown)() })?;
        Ok(())
    }

    /// During the reload in which global `module::name` changed its
    /// layout: its old block, with the size, alignment and layout hash it
    /// was registered with.
    pub fn previous_global(
        &self,
        module: &str,
        name: &str,
    ) -> Option<(NonNull<u8>, usize, usize, u64)> {
        let (module, name) = (
            c_string(module, "module").ok()?,
            c_string(name, "global").ok()?,
        );
        let (mut size, mut align, mut hash) = (0, 0, 0);
        // SAFETY: see the comment on this impl; the out pointers are writable.
        let code = unsafe {
            (self.hcr_get_previous_global_layout)(
                module.as_ptr(),
                name.as_ptr(),
                &mut size,
                &mut align,
                &mut hash,
            )
        };
        if code != 0 {
            return None;
        }
        // SAFETY: see the comment on this impl.
        let block = unsafe { (self.hcr_get_previous_global)(module.as_ptr(), name.as_ptr()) };
        Some((NonNull::new(block.cast())?, size, align, hash))
    }

    /// `hcr_report_failure`: why the running module's step is failing.
    pub fn report_failure(&self, message: &str) {
        let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
        // SAFETY: see the comment on this impl.
        unsafe { (self.hcr_report_failure)(message.as_ptr()) }
    }

    /// `hcr_get_proc_checked`: the stub of `module::name` for `caller`
    /// (`None`: the main module), built against `signature`.
    ///
    /// # Errors
    /// Malformed names, a full jump table, or a registered signature that
    /// differs from `signature`.
    pub fn get_proc_checked(
        &self,
        caller: Option<&CStr>,
        module: &CStr,
        name: &CStr,
        signature: Option<&CStr>,
    ) -> Result<NonNull<c_void>, RuntimeError> {
        // SAFETY: see the comment on this impl.
        self.non_null(unsafe {
            (self.hcr_get_proc_checked)(
                caller.map_or(std::ptr::null(), CStr::as_ptr),
                module.as_ptr(),
                name.as_ptr(),
                signature.map_or(std::ptr::null(), CStr::as_ptr),
            )
        })
    }

    /// `hcr_register_proc_checked`.
    ///
    /// # Safety
    /// As for [`Api::register_proc`], and `signature` must describe
    /// `target` truthfully.
    ///
    /// # Errors
    /// Malformed input, a full jump table, or a signature change that a
    /// caller outside the reload would not survive.
    pub unsafe fn register_proc_checked(
        &self,
        module: &CStr,
        name: &CStr,
        target: *const c_void,
        signature: &CStr,
    ) -> Result<NonNull<c_void>, RuntimeError> {
        // SAFETY: see the comment on this impl; the runtime refuses NULL.
        self.non_null(unsafe {
            (self.hcr_register_proc_checked)(
                module.as_ptr(),
                name.as_ptr(),
                target,
                signature.as_ptr(),
            )
        })
    }

    pub(crate) fn check(&self, code: c_int) -> Result<c_int, RuntimeError> {
        if code < 0 {
            return Err(RuntimeError {
                code,
                message: self.last_error(),
            });
        }
        Ok(code)
    }

    fn non_null<T>(&self, ptr: *mut T) -> Result<NonNull<T>, RuntimeError> {
        NonNull::new(ptr).ok_or_else(|| RuntimeError {
            code: -1,
            message: self.last_error(),
        })
    }

    /// `hcr_init`: loads the tree of `main` with its `imports` from `dir`
    /// (`None`: the executable's directory).
    ///
    /// # Errors
    /// The runtime's error; nothing stays loaded.
    pub fn init(
        &self,
        main: &str,
        imports: &[&str],
        dir: Option<&Path>,
    ) -> Result<(), RuntimeError> {
        let main = c_string(main, "main module")?;
        let imports = imports
            .iter()
            .map(|name| c_string(name, "import"))
            .collect::<Result<Vec<_>, _>>()?;
        let mut list: Vec<*const c_char> = imports.iter().map(|name| name.as_ptr()).collect();
        list.push(std::ptr::null());
        let dir = dir
            .map(|dir| c_string(&dir.to_string_lossy(), "module directory"))
            .transpose()?;
        let dir_ptr = dir.as_ref().map_or(std::ptr::null(), |dir| dir.as_ptr());
        // SAFETY: see the comment on this impl.
        self.check(unsafe { (self.hcr_init)(main.as_ptr(), list.as_ptr(), dir_ptr) })?;
        Ok(())
    }

    /// `hcr_perform_code_reload`.
    ///
    /// # Errors
    /// The runtime's error; every module is as it was.
    pub fn perform_code_reload(&self) -> Result<(), RuntimeError> {
        // SAFETY: see the comment on this impl.
        self.check(unsafe { (self.hcr_perform_code_reload)() })?;
        Ok(())
    }

    /// `hcr_perform_code_reload_with(HCR_RELOAD_ALLOW_ACTIVE_FRAMES)`: the
    /// same reload without the check that the calling thread runs no code
    /// of a module the reload replaces. The caller knows that returning
    /// into the old version's frames is fine (old code stays mapped unless
    /// collected).
    ///
    /// # Errors
    /// The runtime's error; every module is as it was.
    pub fn perform_code_reload_allowing_active_frames(&self) -> Result<(), RuntimeError> {
        const ALLOW_ACTIVE_FRAMES: c_uint = 1;
        // SAFETY: see the comment on this impl.
        self.check(unsafe { (self.hcr_perform_code_reload_with)(ALLOW_ACTIVE_FRAMES) })?;
        Ok(())
    }

    /// `hcr_guarded_call`: calls `function(arg)` under the crash guard. A
    /// fault inside a loaded module version's code ends the call with
    /// `HCR_ERR_FAULTED` (-16) instead of the process, and puts the
    /// module's previous version back where one is mapped (see hcr.h).
    ///
    /// # Safety
    /// `function` may be called with `arg`. If it faults, the frames it
    /// left are never returned to: nothing in them runs (no destructor, no
    /// unlock), so `function` and what it calls must not leave anything
    /// behind that matters when that happens.
    ///
    /// # Errors
    /// `HCR_ERR_FAULTED`, whose message names the module, the signal and
    /// whether the previous version was put back.
    pub unsafe fn guarded_call(
        &self,
        function: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
    ) -> Result<(), RuntimeError> {
        // SAFETY: the caller vouches for `function(arg)`; see also the
        // comment on this impl.
        self.check(unsafe { (self.hcr_guarded_call)(Some(function), arg) })?;
        Ok(())
    }

    /// `hcr_reload_needed`.
    pub fn reload_needed(&self) -> bool {
        // SAFETY: see the comment on this impl.
        unsafe { (self.hcr_reload_needed)() }
    }

    /// `hcr_has_module_changed`; false for unknown or malformed names.
    pub fn has_module_changed(&self, module: &str) -> bool {
        let Ok(module) = c_string(module, "module") else {
            return false;
        };
        // SAFETY: see the comment on this impl.
        unsafe { (self.hcr_has_module_changed)(module.as_ptr()) }
    }

    /// `hcr_generation`.
    pub fn generation(&self) -> i64 {
        // SAFETY: see the comment on this impl.
        unsafe { (self.hcr_generation)() }
    }

    /// `hcr_retained_version_count`.
    pub fn retained_version_count(&self) -> i64 {
        // SAFETY: see the comment on this impl.
        unsafe { (self.hcr_retained_version_count)() }
    }

    /// `hcr_get_proc`: the stub of `module::name`.
    ///
    /// # Errors
    /// Malformed names or a full jump table.
    pub fn get_proc(&self, module: &str, name: &str) -> Result<NonNull<c_void>, RuntimeError> {
        let (module, name) = (c_string(module, "module")?, c_string(name, "proc")?);
        // SAFETY: see the comment on this impl.
        self.non_null(unsafe { (self.hcr_get_proc)(module.as_ptr(), name.as_ptr()) })
    }

    /// `hcr_register_proc`: makes `module::name` jump to `target`.
    ///
    /// # Safety
    /// `target` must be code that stays mapped for as long as anyone may
    /// call the stub, with the signature every caller of the stub assumes.
    ///
    /// # Errors
    /// Malformed input or a full jump table.
    pub unsafe fn register_proc(
        &self,
        module: &str,
        name: &str,
        target: *const c_void,
    ) -> Result<NonNull<c_void>, RuntimeError> {
        let (module, name) = (c_string(module, "module")?, c_string(name, "proc")?);
        // SAFETY: see the comment on this impl; the runtime refuses NULL.
        self.non_null(unsafe { (self.hcr_register_proc)(module.as_ptr(), name.as_ptr(), target) })
    }

    /// `hcr_register_global`.
    ///
    /// # Errors
    /// Malformed input, a bad alignment or no memory.
    pub fn register_global(
        &self,
        module: &str,
        name: &str,
        size: usize,
        align: usize,
        layout_hash: u64,
    ) -> Result<(NonNull<u8>, GlobalStatus), RuntimeError> {
        let (module, name) = (c_string(module, "module")?, c_string(name, "global")?);
        let mut out = std::ptr::null_mut();
        // SAFETY: see the comment on this impl; `out` is writable.
        let code = unsafe {
            (self.hcr_register_global)(
                module.as_ptr(),
                name.as_ptr(),
                size,
                align,
                layout_hash,
                &mut out,
            )
        };
        let status = match self.check(code)? {
            0 => GlobalStatus::Existing,
            1 => GlobalStatus::New,
            _ => GlobalStatus::LayoutChanged,
        };
        Ok((self.non_null(out.cast())?, status))
    }

    /// `hcr_get_global`.
    pub fn get_global(&self, module: &str, name: &str) -> Option<NonNull<u8>> {
        let (module, name) = (
            c_string(module, "module").ok()?,
            c_string(name, "global").ok()?,
        );
        // SAFETY: see the comment on this impl.
        NonNull::new(unsafe { (self.hcr_get_global)(module.as_ptr(), name.as_ptr()) }.cast())
    }

    /// `hcr_add_event_handler`.
    pub fn add_event_handler(&self, before: bool, callback: extern "C" fn()) {
        // SAFETY: see the comment on this impl.
        unsafe { (self.hcr_add_event_handler)(before, Some(callback)) }
    }

    /// `hcr_collect`: unmaps every module version that is not current and
    /// returns how many went. The caller promises what hcr.h says: no
    /// thread runs that code and nothing points into it.
    ///
    /// # Errors
    /// `HCR_ERR_BUSY` while an init or reload runs; `HCR_ERR_NOT_INITIALIZED`.
    pub fn collect(&self) -> Result<usize, RuntimeError> {
        // SAFETY: see the comment on this impl.
        let unmapped = self.check(unsafe { (self.hcr_collect)() })?;
        Ok(usize::try_from(unmapped).unwrap_or(0))
    }

    /// `hcr_set_kept_versions`: after each reload at most `count` versions
    /// of each module stay mapped (0: all). Returns the previous cap.
    ///
    /// # Errors
    /// A count that does not fit the C `int`.
    pub fn set_kept_versions(&self, count: usize) -> Result<usize, RuntimeError> {
        let count = c_int::try_from(count).map_err(|_| RuntimeError {
            code: -1,
            message: format!("kept versions {count} is too large"),
        })?;
        // SAFETY: see the comment on this impl.
        let previous = self.check(unsafe { (self.hcr_set_kept_versions)(count) })?;
        Ok(usize::try_from(previous).unwrap_or(0))
    }

    /// `hcr_stub_cell`: the word `stub` jumps through, which always holds
    /// its current target (see hcr.h).
    ///
    /// # Errors
    /// `stub` is not a stub this runtime handed out.
    pub fn stub_cell(&self, stub: NonNull<c_void>) -> Result<NonNull<*const c_void>, RuntimeError> {
        // SAFETY: see the comment on this impl; any address may be asked about.
        let cell = unsafe { (self.hcr_stub_cell)(stub.as_ptr()) };
        self.non_null(cell.cast_mut())
    }

    /// `hcr_jump_table_placement`: where the jump table is, reserving it if
    /// nothing did yet.
    ///
    /// # Errors
    /// A malformed `HOT_CODE_RELOADING_JUMP_TABLE_*` variable, or no
    /// address space.
    pub fn jump_table_placement(&self) -> Result<TablePlacement, RuntimeError> {
        let (mut base, mut size, mut description) = (0, 0, std::ptr::null());
        // SAFETY: see the comment on this impl; the out pointers are writable.
        let kind = self.check(unsafe {
            (self.hcr_jump_table_placement)(&mut base, &mut size, &mut description)
        })?;
        let kind = match kind {
            0 => PlacementKind::Near,
            1 => PlacementKind::Fixed,
            _ => PlacementKind::NotFixed,
        };
        Ok(TablePlacement {
            kind,
            base,
            size,
            description: owned(description),
        })
    }

    /// `hcr_set_stub_form`: 0 data form, 1 near form (see hcr.h).
    ///
    /// # Errors
    /// An unknown form.
    pub fn set_stub_form(&self, form: i32) -> Result<(), RuntimeError> {
        // SAFETY: see the comment on this impl.
        self.check(unsafe { (self.hcr_set_stub_form)(form) })?;
        Ok(())
    }
}

/// Copies a string the runtime returned.
///
/// The pointer comes from one of the runtime's string-returning entry
/// points, which never return NULL.
fn owned(text: *const c_char) -> String {
    if text.is_null() {
        return String::new();
    }
    // SAFETY: a non-NULL pointer from the runtime is a NUL-terminated
    // string valid until the thread's next runtime call.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}
