//! The C ABI of `include/hcr.h`. Each entry point validates its input,
//! calls into the safe runtime, and turns errors and caught panics into a
//! return value plus a per-thread message for `hcr_last_error`.

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char, c_int, c_uint, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::ptr;

use crate::error::Error;
use crate::file_identity::Reading;
use crate::jump_table::{Placed, StubForm};
use crate::names;
use crate::registry::{GlobalError, GlobalStatus};
use crate::reload::{self, Outcome};
use crate::runtime::{Handler, State};

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
    static LAST_ERROR_MODULE: RefCell<CString> = RefCell::new(CString::default());
    static RELOADED: RefCell<CString> = RefCell::new(CString::default());
    static LAST_TIMINGS: std::cell::Cell<Option<ReloadTimings>> = const { std::cell::Cell::new(None) };
}

/// Where the time of a reload went, in nanoseconds; see hcr.h.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReloadTimings {
    /// Finding changed files and asking `can_reload`.
    pub check_ns: u64,
    /// The before-handlers.
    pub before_handlers_ns: u64,
    /// Reading, checking and copying libraries.
    pub copy_ns: u64,
    /// `dlopen` of the copies.
    pub dlopen_ns: u64,
    /// `dat_init` and `init`: registration and patching.
    pub init_ns: u64,
    /// Keeping the transaction.
    pub commit_ns: u64,
    /// The after-handlers.
    pub after_handlers_ns: u64,
    /// Dropping modules no longer imported.
    pub cleanup_ns: u64,
    /// The whole call.
    pub total_ns: u64,
}

impl From<reload::Timings> for ReloadTimings {
    fn from(t: reload::Timings) -> Self {
        let ns = |d: std::time::Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        ReloadTimings {
            check_ns: ns(t.check),
            before_handlers_ns: ns(t.before_handlers),
            copy_ns: ns(t.copy),
            dlopen_ns: ns(t.dlopen),
            init_ns: ns(t.init),
            commit_ns: ns(t.commit),
            after_handlers_ns: ns(t.after_handlers),
            cleanup_ns: ns(t.cleanup),
            total_ns: ns(t.total),
        }
    }
}

fn to_c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}

fn set_last_error(err: &Error) {
    let message = to_c_string(&err.report());
    let module = to_c_string(err.module().unwrap_or_default());
    LAST_ERROR.with(|slot| *slot.borrow_mut() = message);
    LAST_ERROR_MODULE.with(|slot| *slot.borrow_mut() = module);
}

/// Runs `body`, turning an error or a panic into `on_error(&err)` and a
/// last-error message. No panic leaves this function.
fn guard<T>(on_error: impl FnOnce(&Error) -> T, body: impl FnOnce() -> Result<T, Error>) -> T {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let text = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        Err(Error::Internal(text))
    });
    match result {
        Ok(value) => value,
        Err(err) => {
            set_last_error(&err);
            on_error(&err)
        }
    }
}

fn code_of(err: &Error) -> c_int {
    err.code()
}

/// # Safety
/// As for [`c_str`].
unsafe fn signature_arg<'a>(ptr: *const c_char) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded from the caller.
    let text = unsafe { c_str(ptr, "signature")? };
    let text = text
        .to_str()
        .map_err(|_| Error::InvalidArgument("signature is not valid UTF-8".into()))?;
    Ok(Some(text))
}

/// Reads a C string argument.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that stays valid for `'a`.
unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a CStr, Error> {
    if ptr.is_null() {
        return Err(Error::InvalidArgument(format!("{what} is NULL")));
    }
    // SAFETY: non-NULL and NUL-terminated, as the caller guarantees.
    Ok(unsafe { CStr::from_ptr(ptr) })
}

/// # Safety
/// As for [`c_str`].
unsafe fn module_arg<'a>(ptr: *const c_char) -> Result<&'a str, Error> {
    // SAFETY: forwarded from the caller.
    let text = unsafe { c_str(ptr, "module name")? };
    names::module_name(text).map_err(|err| Error::InvalidArgument(format!("module name: {err}")))
}

/// # Safety
/// As for [`c_str`].
unsafe fn symbol_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded from the caller.
    let text = unsafe { c_str(ptr, what)? };
    names::symbol_name(text).map_err(|err| Error::InvalidArgument(format!("{what}: {err}")))
}

/// Registers `fn` as the implementation of `module::name` and returns the
/// proc's stub, whose address never changes. NULL on error.
///
/// # Safety
/// `module` and `name` are NULL or NUL-terminated strings; `fn` is NULL or
/// the address of code that stays mapped (a loaded module's function).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_register_proc(
    module: *const c_char,
    name: *const c_char,
    fn_: *const c_void,
) -> *mut c_void {
    // SAFETY: forwarded from the caller; a NULL signature is allowed.
    unsafe { hcr_register_proc_checked(module, name, fn_, ptr::null()) }
}

/// [`hcr_register_proc`] with the text of the proc's signature (NULL: not
/// checked). Refused while a caller outside the running reload expects
/// another signature.
///
/// # Safety
/// As for [`hcr_register_proc`]; `signature` is NULL or a NUL-terminated
/// string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_register_proc_checked(
    module: *const c_char,
    name: *const c_char,
    fn_: *const c_void,
    signature: *const c_char,
) -> *mut c_void {
    guard(
        |_| ptr::null_mut(),
        || {
            // SAFETY: the caller passes valid strings or NULL.
            let (module, name, signature) = unsafe {
                (
                    module_arg(module)?,
                    symbol_arg(name, "proc name")?,
                    signature_arg(signature)?,
                )
            };
            if fn_.is_null() {
                return Err(Error::InvalidArgument(format!(
                    "proc `{module}::{name}`: fn is NULL"
                )));
            }
            let mut state = crate::process_runtime().lock();
            if let Some(signature) = signature {
                let host = state.main_name().to_owned();
                let State {
                    signatures,
                    reloading,
                    ..
                } = &mut *state;
                signatures
                    .register(module, name, signature, &host, |caller| {
                        reloading.contains(caller)
                    })
                    .map_err(|err| Error::Signature(err.to_string()))?;
            }
            let form = state.stub_form;
            let (registry, table) = state.symbols()?;
            let stub = registry.register_proc(table, module, name, fn_ as usize, form)?;
            Ok(stub as *mut c_void)
        },
    )
}

/// The stub of `module::name`; until the proc is registered it jumps to the
/// bad-call handler. NULL only for malformed input or a full jump table.
///
/// # Safety
/// `module` and `name` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_get_proc(module: *const c_char, name: *const c_char) -> *mut c_void {
    guard(
        |_| ptr::null_mut(),
        || {
            // SAFETY: the caller passes valid strings or NULL.
            let (module, name) = unsafe { (module_arg(module)?, symbol_arg(name, "proc name")?) };
            let mut state = crate::process_runtime().lock();
            let (registry, table) = state.symbols()?;
            Ok(registry.get_proc(table, module, name)? as *mut c_void)
        },
    )
}

/// [`hcr_get_proc`] for a caller built against `signature`: NULL with an
/// error naming both signatures when the registered code has another one.
/// `caller` is the calling module (NULL: the main module).
///
/// # Safety
/// Every argument is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_get_proc_checked(
    caller: *const c_char,
    module: *const c_char,
    name: *const c_char,
    signature: *const c_char,
) -> *mut c_void {
    guard(
        |_| ptr::null_mut(),
        || {
            // SAFETY: the caller passes valid strings or NULL.
            let (caller, module, name, signature) = unsafe {
                (
                    if caller.is_null() {
                        None
                    } else {
                        Some(module_arg(caller)?)
                    },
                    module_arg(module)?,
                    symbol_arg(name, "proc name")?,
                    signature_arg(signature)?,
                )
            };
            let mut state = crate::process_runtime().lock();
            if let Some(signature) = signature {
                let caller = caller.unwrap_or(state.main_name()).to_owned();
                state
                    .signatures
                    .expect(&caller, module, name, signature)
                    .map_err(|err| Error::Signature(err.to_string()))?;
            }
            let (registry, table) = state.symbols()?;
            Ok(registry.get_proc(table, module, name)? as *mut c_void)
        },
    )
}

/// The word `stub` jumps through, which always holds its current target:
/// calling what it holds is calling the stub, one jump shorter. NULL when
/// `stub` is not a stub this runtime handed out.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_stub_cell(stub: *const c_void) -> *const *const c_void {
    guard(
        |_| ptr::null(),
        || {
            let state = crate::process_runtime().lock();
            let table = state.table();
            table
                .and_then(|table| {
                    let slot = table.slot_at(stub as usize)?;
                    Some(table.target_cell(slot) as *const *const c_void)
                })
                .ok_or_else(|| {
                    Error::InvalidArgument(format!("{stub:p} is not a stub of this runtime"))
                })
        },
    )
}

/// Registers a global; see hcr.h for the results 1, 0, 2 and < 0.
///
/// # Safety
/// `module` and `name` are NULL or NUL-terminated strings; `out` is NULL or
/// points to writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_register_global(
    module: *const c_char,
    name: *const c_char,
    size: usize,
    align: usize,
    layout_hash: u64,
    out: *mut *mut c_void,
) -> c_int {
    guard(code_of, || {
        // SAFETY: the caller passes valid strings or NULL.
        let (module, name) = unsafe { (module_arg(module)?, symbol_arg(name, "global name")?) };
        if out.is_null() {
            return Err(Error::InvalidArgument(format!(
                "global `{module}::{name}`: out is NULL"
            )));
        }
        let result = crate::process_runtime().lock().registry.register_global(
            module,
            name,
            size,
            align,
            layout_hash,
        );
        let (block, status) = result.map_err(|err| Error::Global {
            module: module.to_owned(),
            name: name.to_owned(),
            detail: err.to_string(),
            out_of_memory: matches!(err, GlobalError::OutOfMemory { .. }),
        })?;
        // SAFETY: `out` is non-NULL and writable, as the caller guarantees.
        unsafe { out.write(block.cast()) };
        Ok(match status {
            GlobalStatus::New => 1,
            GlobalStatus::Existing => 0,
            GlobalStatus::LayoutChanged => 2,
        })
    })
}

/// The memory of global `module::name`, or NULL if it is not registered.
///
/// # Safety
/// `module` and `name` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_get_global(module: *const c_char, name: *const c_char) -> *mut c_void {
    guard(
        |_| ptr::null_mut(),
        || {
            // SAFETY: the caller passes valid strings or NULL.
            let (module, name) = unsafe { (module_arg(module)?, symbol_arg(name, "global name")?) };
            let found = crate::process_runtime()
                .lock()
                .registry
                .get_global(module, name);
            found.map(|block| block.cast()).ok_or_else(|| {
                Error::InvalidArgument(format!("no global `{module}::{name}` is registered"))
            })
        },
    )
}

/// During the reload in which global `module::name` changed its layout, the
/// old block (still holding the old value), so a migration can read it;
/// NULL otherwise. The block is freed when that reload ends.
///
/// # Safety
/// `module` and `name` are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_get_previous_global(
    module: *const c_char,
    name: *const c_char,
) -> *mut c_void {
    guard(
        |_| ptr::null_mut(),
        || {
            // SAFETY: the caller passes valid strings or NULL.
            let (module, name) = unsafe { (module_arg(module)?, symbol_arg(name, "global name")?) };
            let found = crate::process_runtime()
                .lock()
                .registry
                .previous_global(module, name);
            found.map(|block| block.cast()).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "global `{module}::{name}` did not change its layout in a running reload"
                ))
            })
        },
    )
}

/// Loads the module tree of the host `main_module`; see hcr.h.
///
/// # Safety
/// `main_module` and `module_dir` are NULL or NUL-terminated strings;
/// `imports` is NULL or a NULL-terminated array of them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_init(
    main_module: *const c_char,
    imports: *const *const c_char,
    module_dir: *const c_char,
) -> c_int {
    guard(code_of, || {
        // SAFETY: the caller passes valid strings, lists or NULL.
        let (main, imports) = unsafe {
            let imports = names::module_list(imports)
                .map_err(|err| Error::InvalidArgument(format!("imports: {err}")))?;
            (module_arg(main_module)?, imports)
        };
        let dir = if module_dir.is_null() {
            let exe = std::env::current_exe().map_err(|err| {
                Error::InvalidArgument(format!("cannot find the executable's directory: {err}"))
            })?;
            exe.parent().map(PathBuf::from).unwrap_or_default()
        } else {
            // SAFETY: non-NULL and NUL-terminated, as the caller guarantees.
            let text = unsafe { c_str(module_dir, "module_dir")? };
            let text = text
                .to_str()
                .map_err(|_| Error::InvalidArgument("module_dir is not valid UTF-8".into()))?;
            PathBuf::from(text)
        };
        if !dir.is_dir() {
            return Err(Error::InvalidArgument(format!(
                "module directory {} does not exist",
                dir.display()
            )));
        }
        reload::init(crate::process_runtime(), main, imports, dir)?;
        Ok(0)
    })
}

/// Whether any loaded module's library changed on disk.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_reload_needed() -> bool {
    guard(
        |_| false,
        || {
            let rt = crate::process_runtime();
            if rt.lock().shut_down {
                return Ok(false);
            }
            Ok(!rt.changed_modules(Reading::InBackground)?.is_empty())
        },
    )
}

/// Whether the library of `module` changed on disk since it was loaded.
///
/// # Safety
/// `module` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_has_module_changed(module: *const c_char) -> bool {
    guard(
        |_| false,
        || {
            // SAFETY: the caller passes a valid string or NULL.
            let module = unsafe { module_arg(module)? };
            let rt = crate::process_runtime();
            let known = rt.lock().tree()?.modules.contains_key(module);
            if !known {
                return Err(Error::InvalidArgument(format!(
                    "no module `{module}` is loaded"
                )));
            }
            Ok(rt
                .changed_modules(Reading::InBackground)?
                .iter()
                .any(|name| name == module))
        },
    )
}

/// Reloads every changed module at this safe point; 0 when done or when
/// nothing changed, < 0 with every module as it was otherwise. Refused
/// (`HCR_ERR_ACTIVE_FRAME`) when the calling thread runs code of a module
/// the reload would replace.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_perform_code_reload() -> c_int {
    hcr_perform_code_reload_with(0)
}

/// [`hcr_perform_code_reload`] with flags: `HCR_RELOAD_ALLOW_ACTIVE_FRAMES`
/// (1) skips the check of the calling thread's stack.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_perform_code_reload_with(flags: c_uint) -> c_int {
    guard(code_of, || {
        if flags & !RELOAD_ALLOW_ACTIVE_FRAMES != 0 {
            return Err(Error::InvalidArgument(format!(
                "unknown reload flags {flags:#x}"
            )));
        }
        let options = reload::ReloadOptions {
            allow_active_frames: flags & RELOAD_ALLOW_ACTIVE_FRAMES != 0,
        };
        let loaded = match reload::perform(crate::process_runtime(), options)? {
            Outcome::NothingChanged => Vec::new(),
            Outcome::Reloaded {
                loaded, timings, ..
            } => {
                LAST_TIMINGS.with(|slot| slot.set(Some(timings.into())));
                loaded
            }
        };
        let list = to_c_string(&loaded.join("\n"));
        RELOADED.with(|slot| *slot.borrow_mut() = list);
        Ok(0)
    })
}

/// `hcr_perform_code_reload_with` flag: reload even when the calling thread
/// has a frame of a module the reload replaces.
pub const RELOAD_ALLOW_ACTIVE_FRAMES: c_uint = 1;

/// Runs every module's optional `hcr_module_shutdown` once, importers
/// before their imports; afterwards reloads are refused. 0 or < 0.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_shutdown() -> c_int {
    guard(code_of, || {
        reload::shutdown(crate::process_runtime())?;
        Ok(0)
    })
}

/// The size, alignment and layout hash the old block of global
/// `module::name` was registered with, during the reload in which its
/// layout changed: 0, or < 0 when there is no such block.
///
/// # Safety
/// `module` and `name` are NULL or NUL-terminated strings; `size`, `align`
/// and `layout_hash` are NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_get_previous_global_layout(
    module: *const c_char,
    name: *const c_char,
    size: *mut usize,
    align: *mut usize,
    layout_hash: *mut u64,
) -> c_int {
    guard(code_of, || {
        // SAFETY: the caller passes valid strings or NULL.
        let (module, name) = unsafe { (module_arg(module)?, symbol_arg(name, "global name")?) };
        if size.is_null() || align.is_null() || layout_hash.is_null() {
            return Err(Error::InvalidArgument("an out pointer is NULL".into()));
        }
        let found = crate::process_runtime()
            .lock()
            .registry
            .previous_global_layout(module, name);
        let (old_size, old_align, old_hash) = found.ok_or_else(|| {
            Error::InvalidArgument(format!(
                "global `{module}::{name}` did not change its layout in a running reload"
            ))
        })?;
        // SAFETY: all three are non-NULL and writable, as the caller
        // guarantees.
        unsafe {
            size.write(old_size);
            align.write(old_align);
            layout_hash.write(old_hash);
        }
        Ok(0)
    })
}

/// The modules the last successful `hcr_perform_code_reload` on this
/// thread loaded, leaves first, one per line ("" if none).
#[unsafe(no_mangle)]
pub extern "C" fn hcr_reloaded_modules() -> *const c_char {
    RELOADED.with(|slot| slot.borrow().as_ptr())
}

/// Where the time of this thread's last successful reload went: 0, or
/// `HCR_ERR_INVALID_ARGUMENT` for a NULL `out` or when no reload ran yet.
///
/// # Safety
/// `out` is NULL or points to writable memory for one [`ReloadTimings`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_last_reload_timings(out: *mut ReloadTimings) -> c_int {
    guard(code_of, || {
        if out.is_null() {
            return Err(Error::InvalidArgument("out is NULL".into()));
        }
        let timings = LAST_TIMINGS
            .with(std::cell::Cell::get)
            .ok_or_else(|| Error::InvalidArgument("no reload ran on this thread yet".into()))?;
        // SAFETY: `out` is non-NULL and writable, as the caller guarantees.
        unsafe { out.write(timings) };
        Ok(0)
    })
}

/// The module this thread's last error is about ("" if none or not about
/// one module).
#[unsafe(no_mangle)]
pub extern "C" fn hcr_last_error_module() -> *const c_char {
    LAST_ERROR_MODULE.with(|slot| slot.borrow().as_ptr())
}

/// Records why the module whose `dat_init` or `init` this thread runs is
/// about to fail; the reload's error includes it. Ignored elsewhere.
///
/// # Safety
/// `message` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_report_failure(message: *const c_char) {
    guard(
        |_| (),
        || {
            // SAFETY: the caller passes a valid string or NULL.
            let message = unsafe { c_str(message, "message")? };
            let mut state = crate::process_runtime().lock();
            if state.running_module().is_some() {
                state.failure = Some(message.to_string_lossy().into_owned());
            }
            Ok(())
        },
    )
}

/// Checks that `module` was built by the same Rust `toolchain` (any text
/// that names the compiler and its version) as everything loaded before:
/// the first report sets the process's toolchain. 0 or
/// `HCR_ERR_TOOLCHAIN`.
///
/// # Safety
/// Both arguments are NULL or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_check_toolchain(
    module: *const c_char,
    toolchain: *const c_char,
) -> c_int {
    guard(code_of, || {
        // SAFETY: the caller passes valid strings or NULL.
        let (module, toolchain) = unsafe { (module_arg(module)?, c_str(toolchain, "toolchain")?) };
        let toolchain = toolchain.to_string_lossy();
        let mut state = crate::process_runtime().lock();
        match &state.toolchain {
            None => state.toolchain = Some((module.to_owned(), toolchain.into_owned())),
            Some((first, known)) if *known != toolchain => {
                return Err(Error::Toolchain(format!(
                    "module `{module}` was built by {toolchain}, but `{first}` by {known}; \
                     Rust modules and their host must be built by the same compiler"
                )));
            }
            Some(_) => {}
        }
        Ok(0)
    })
}

/// This thread's last error message ("" if none). Valid until the next
/// failing call on this thread.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_last_error() -> *const c_char {
    LAST_ERROR.with(|slot| slot.borrow().as_ptr())
}

/// Adds a reload handler to the module whose init is running on this
/// thread, else to the main module.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_add_event_handler(is_before: bool, cb: Option<extern "C" fn()>) {
    guard(
        |_| (),
        || {
            let callback =
                cb.ok_or_else(|| Error::InvalidArgument("event handler is NULL".into()))?;
            crate::process_runtime().lock().add_handler(Handler {
                before: is_before,
                callback,
            });
            Ok(())
        },
    )
}

/// Declares a module by name; loads nothing. Kept for Nim's ABI: symbols
/// are keyed by (module, name), so registering into a module never needs a
/// declaration first, and this only validates the name.
///
/// # Safety
/// `module` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_add_module(module: *const c_char) {
    guard(
        |_| (),
        || {
            // SAFETY: the caller passes a valid string or NULL.
            unsafe { module_arg(module)? };
            Ok(())
        },
    )
}

/// The number of successful reloads so far (0 after `hcr_init`).
#[unsafe(no_mangle)]
pub extern "C" fn hcr_generation() -> i64 {
    guard(|_| 0, || Ok(crate::process_runtime().lock().generation))
}

/// Chooses the stub form for procs registered from now on: 0 data form
/// (default), 1 near form where in reach; see hcr.h for the promise the near
/// form needs.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_set_stub_form(form: c_int) -> c_int {
    guard(code_of, || {
        let form = match form {
            0 => StubForm::Data,
            1 => StubForm::Near,
            other => {
                return Err(Error::InvalidArgument(format!(
                    "stub form {other} is neither 0 nor 1"
                )));
            }
        };
        let mut state = crate::process_runtime().lock();
        let layout = match state.table() {
            Some(table) => table.layout(),
            None => crate::jump_table::Layout::from_env()?,
        };
        if form == StubForm::Near && layout == crate::jump_table::Layout::Paged {
            return Err(Error::Unsupported(format!(
                "the near stub form writes jump instructions, which the paged jump table \
                 (the layout on macOS, or where {} asks for it) never does: it has only the \
                 data form",
                crate::jump_table::LAYOUT_ENV
            )));
        }
        state.stub_form = form;
        Ok(0)
    })
}

/// Where the jump table is (reserving it if nothing did yet): its
/// executable view's first byte and size, a sentence saying why there, and
/// 0 (placed near the modules), 1 (at the address asked for) or 2 (that
/// address was not free: near instead); < 0 on error. Each out pointer may
/// be NULL.
///
/// # Safety
/// Each pointer is NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_jump_table_placement(
    base: *mut usize,
    size: *mut usize,
    description: *mut *const c_char,
) -> c_int {
    static DESCRIPTION: std::sync::OnceLock<CString> = std::sync::OnceLock::new();
    guard(code_of, || {
        let mut state = crate::process_runtime().lock();
        let (_, table) = state.symbols()?;
        // The table never moves, so the sentence is made once.
        let text = DESCRIPTION.get_or_init(|| to_c_string(&table.describe_placement()));
        // SAFETY: each pointer is NULL or writable, as the caller guarantees.
        unsafe {
            if !base.is_null() {
                base.write(table.base());
            }
            if !size.is_null() {
                size.write(table.reserved_bytes());
            }
            if !description.is_null() {
                description.write(text.as_ptr());
            }
        }
        Ok(match table.placed() {
            Placed::Near => 0,
            Placed::Fixed => 1,
            Placed::NotFixed { .. } => 2,
        })
    })
}

/// How many module versions have been loaded and are still mapped.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_retained_version_count() -> i64 {
    guard(
        |_| 0,
        || {
            let state = crate::process_runtime().lock();
            Ok((state.retained().len() + state.pinned.len()) as i64)
        },
    )
}

/// Unmaps every module version that is not current; the host promises that
/// no thread runs that code and nothing points into it (see hcr.h).
/// Returns how many versions were unmapped, or an error code.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_collect() -> c_int {
    guard(code_of, || {
        let unmapped = crate::collect::collect(crate::process_runtime())?;
        Ok(c_int::try_from(unmapped).unwrap_or(c_int::MAX))
    })
}

/// Keeps at most `count` versions of each module mapped after every
/// reload, the current one included (0: keep all, the default). Returns
/// the previous cap, or an error code.
#[unsafe(no_mangle)]
pub extern "C" fn hcr_set_kept_versions(count: c_int) -> c_int {
    guard(code_of, || {
        let count = usize::try_from(count)
            .map_err(|_| Error::InvalidArgument(format!("kept versions {count} is negative")))?;
        let previous = std::mem::replace(&mut crate::process_runtime().lock().kept_versions, count);
        Ok(c_int::try_from(previous).unwrap_or(c_int::MAX))
    })
}

/// Calls `function(arg)` under the crash guard: a fault inside a loaded
/// module version's code ends the call with `HCR_ERR_FAULTED`, and puts
/// that module's previous version back when the faulting one is current;
/// see hcr.h for what it cannot promise.
///
/// # Safety
/// `function` is NULL (an error) or a function that may be called with
/// `arg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn hcr_guarded_call(
    function: Option<crate::crash_guard::GuardedFunction>,
    arg: *mut c_void,
) -> c_int {
    guard(code_of, || {
        let function = function
            .ok_or_else(|| Error::InvalidArgument("the guarded function is NULL".into()))?;
        // SAFETY: the caller vouches for `function(arg)`.
        unsafe { crate::crash_guard::call(crate::process_runtime(), function, arg) }?;
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code;

    #[test]
    fn malformed_names_are_errors_with_messages() {
        // SAFETY: all arguments are NULL or valid strings.
        let stub =
            unsafe { hcr_register_proc(ptr::null(), c"f".as_ptr(), ptr::dangling::<c_void>()) };
        assert!(stub.is_null());
        // SAFETY: hcr_last_error returns a valid string.
        let message = unsafe { CStr::from_ptr(hcr_last_error()) }
            .to_string_lossy()
            .into_owned();
        assert_eq!(message, "module name is NULL");
        assert_eq!(hcr_set_stub_form(7), code::INVALID_ARGUMENT);
        assert_eq!(hcr_set_kept_versions(-1), code::INVALID_ARGUMENT);
    }

    /// A NUL-terminated string of 0 to 40 random non-NUL bytes (often not
    /// UTF-8, sometimes with `::`, spaces or control characters).
    fn random_name(rng: &mut crate::test_support::Rng) -> CString {
        let len = rng.below(41);
        let bytes: Vec<u8> = (0..len).map(|_| (rng.next() % 255) as u8 + 1).collect();
        CString::new(bytes).expect("no NUL inside")
    }

    extern "C" fn target() -> c_int {
        7
    }

    #[test]
    fn arbitrary_byte_strings_as_names_never_crash_and_answer_consistently() {
        let mut rng = crate::test_support::Rng(0x5eed_0004);
        for _ in 0..crate::test_support::cases(500) {
            let (module, name) = (random_name(&mut rng), random_name(&mut rng));
            let signature = random_name(&mut rng);
            let (m, n) = (module.as_ptr(), name.as_ptr());
            // SAFETY: every pointer is a valid NUL-terminated string or a
            // writable out-pointer; `target` is a real function.
            unsafe {
                let stub = hcr_register_proc(m, n, target as *const () as *mut c_void);
                assert_eq!(hcr_get_proc(m, n), stub, "{module:?}::{name:?}");
                if stub.is_null() {
                    assert!(!CStr::from_ptr(hcr_last_error()).to_bytes().is_empty());
                } else {
                    let call: extern "C" fn() -> c_int = std::mem::transmute(stub);
                    assert_eq!(
                        call(),
                        7,
                        "the stub of {module:?}::{name:?} runs its target"
                    );
                }
                let mut out = ptr::null_mut();
                let status = hcr_register_global(m, n, 8, 8, 1, &mut out);
                if status >= 0 {
                    assert_eq!(hcr_get_global(m, n), out);
                } else {
                    assert!(hcr_get_global(m, n).is_null());
                }
                let _ = hcr_get_proc_checked(m, n, m, signature.as_ptr());
                let _ = hcr_has_module_changed(m);
                hcr_add_module(m);
            }
        }
    }
}
