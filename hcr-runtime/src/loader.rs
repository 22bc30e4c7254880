//! Loads one version of a module: copies the library (see
//! [`LibraryCopy`]), checks the copy's headers
//! (`sys::library::check_library`: ELF on Linux), opens the copy and
//! resolves the module exports. The file is read once (on Linux by the
//! kernel alone), unless it was being written.
//!
//! Loading a copy, not the file itself, lets the build overwrite the
//! original at any time, and gives each version its own file: the system
//! loader recognizes a library it has loaded (glibc by inode), so opening
//! the same file again would return the old version.

use std::ffi::{c_char, c_int};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub(crate) use crate::sys::copy::LibraryCopy;
use crate::sys::copy::{Copied, Rest};
use crate::sys::library::{self, FormatError, Library};

use crate::file_identity::{self, FileIdentity, content_hash};
use crate::names;
use crate::sys::FileStamp;

type ImportsFn = unsafe extern "C" fn() -> *const *const c_char;
type HashFn = unsafe extern "C" fn() -> *const c_char;
type StepFn = unsafe extern "C" fn() -> c_int;
type CanReloadFn = unsafe extern "C" fn() -> bool;
type ShutdownFn = unsafe extern "C" fn();

/// Why a module version could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("cannot read and copy {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a loadable library: {problem}")]
    Format { path: PathBuf, problem: FormatError },
    #[error(
        "{path} is still being written (or was left incomplete): {reason}, \
         still after waiting {} ms",
        waited.as_millis()
    )]
    StillWritten {
        path: PathBuf,
        reason: String,
        waited: Duration,
    },
    #[error("loading {path} failed: {message}")]
    Open { path: PathBuf, message: String },
    /// The file or a directory above it could have been written by
    /// another user (see `hcr_trust`).
    #[error("refused to load it: {0}")]
    Untrusted(#[from] hcr_trust::Untrusted),
    #[error("{path} lacks the module export `{symbol}`: is it an hcr module?")]
    MissingExport { path: PathBuf, symbol: &'static str },
    #[error("hcr_module_imports of {path} returned {problem}")]
    BadImports { path: PathBuf, problem: String },
}

/// The module exports of one loaded version. Each method calls into the
/// module.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ModuleExports {
    imports: ImportsFn,
    dat_init: StepFn,
    init: StepFn,
    can_reload: Option<CanReloadFn>,
    shutdown: Option<ShutdownFn>,
    hash: HashFn,
}

// Every call below is sound for the same reason: the function pointers were
// resolved from a library that is never unloaded (old versions stay mapped
// for the life of the process), under the names whose C signatures the
// module ABI in hcr.h fixes.
impl ModuleExports {
    /// Runs `hcr_module_dat_init`.
    pub(crate) fn dat_init(&self) -> c_int {
        // SAFETY: see the comment on this impl.
        unsafe { (self.dat_init)() }
    }

    /// Runs `hcr_module_init`.
    pub(crate) fn init(&self) -> c_int {
        // SAFETY: see the comment on this impl.
        unsafe { (self.init)() }
    }

    /// Runs `hcr_module_can_reload`; a module without it never vetoes.
    pub(crate) fn can_reload(&self) -> bool {
        // SAFETY: see the comment on this impl.
        self.can_reload
            .is_none_or(|can_reload| unsafe { can_reload() })
    }

    /// Runs `hcr_module_hash` and copies the text out ("" for NULL).
    pub(crate) fn build_hash(&self) -> String {
        // SAFETY: see the comment on this impl.
        let text = unsafe { (self.hash)() };
        if text.is_null() {
            return String::new();
        }
        // SAFETY: the module ABI makes a non-NULL result a NUL-terminated
        // string in the library, which stays mapped.
        unsafe { std::ffi::CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }

    /// Runs `hcr_module_shutdown`, if the module has it.
    pub(crate) fn shutdown(&self) {
        if let Some(shutdown) = self.shutdown {
            // SAFETY: see the comment on this impl.
            unsafe { shutdown() }
        }
    }

    /// Runs `hcr_module_imports` and copies the names out.
    fn imports(&self) -> Result<Vec<String>, String> {
        // SAFETY: see the comment on this impl; the module ABI makes the
        // result NULL or a NULL-terminated list of strings in the library.
        unsafe { names::module_list((self.imports)()) }
    }
}

/// A freshly loaded version, before any of its init code ran.
#[derive(Debug)]
pub(crate) struct LoadedVersion {
    pub(crate) library: Library,
    pub(crate) exports: ModuleExports,
    pub(crate) copy: LibraryCopy,
    /// Unique to this load in this process.
    pub(crate) id: u64,
    pub(crate) identity: FileIdentity,
    pub(crate) imports: Vec<String>,
    /// A hash of the library's bytes, for manifests.
    pub(crate) content_hash: u64,
    /// Where its executable segments were mapped.
    pub(crate) code: Vec<std::ops::Range<usize>>,
    /// Time spent reading, checking and copying the file, and in `dlopen`.
    pub(crate) copy_time: std::time::Duration,
    pub(crate) open_time: std::time::Duration,
}

/// The library file of module `name` in `dir`.
pub(crate) fn library_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(library::library_file_name(name))
}

/// Environment variable: how long (in milliseconds) a load waits for a
/// library that is still being written.
pub const LOAD_WAIT_ENV: &str = "HCR_LOAD_WAIT_MS";

/// `$HCR_LOAD_WAIT_MS`, else one second.
fn load_wait() -> Duration {
    let millis = std::env::var(LOAD_WAIT_ENV)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(1000);
    Duration::from_millis(millis)
}

enum CopyError {
    Io(std::io::Error),
    Format(FormatError),
    /// Why the file looks unfinished, and how long it was waited for.
    StillWritten(String, Duration),
}

/// Copies a library once it is complete: the copy passes the library check
/// and the file did not change while it was copied (or, where part of the
/// copy is left for later, while it was hashed). A file that is too short
/// for what its headers describe, or that changed meanwhile, is being
/// written (by a linker or a copy): it is copied again every 10 ms for up
/// to `wait`. Other problems are final at once. Returns the copy and the
/// hash of the file's contents.
fn copy_complete(
    name: &str,
    id: u64,
    path: &Path,
    wait: Duration,
) -> Result<(Copied, u64), CopyError> {
    let started = Instant::now();
    loop {
        let copied = LibraryCopy::of_file(name, id, path).map_err(CopyError::Io)?;
        let stable = FileIdentity::same_file_state(&copied.before, &copied.after);
        let unfinished = match library::check_library(&copied.contents) {
            Ok(()) if stable => match contents_hash(&copied, path) {
                Some(hash) => return Ok((copied, hash)),
                None => "it changed while it was read".to_owned(),
            },
            Ok(()) => "it changed while it was read".to_owned(),
            Err(problem) if problem.is_unfinished() => problem.to_string(),
            Err(problem) if stable => return Err(CopyError::Format(problem)),
            Err(problem) => problem.to_string(),
        };
        let waited = started.elapsed();
        if waited >= wait {
            return Err(CopyError::StillWritten(unfinished, waited));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The hash of the contents `copied` was made from: the copy's, when it is
/// complete; else the file's, read as it was when the copy began (`None`
/// when it changed since).
fn contents_hash(copied: &Copied, path: &Path) -> Option<u64> {
    if copied.rest.is_empty() {
        Some(content_hash(&copied.contents))
    } else {
        file_identity::recent_hash_at(path, FileStamp::of(&copied.before))
    }
}

/// A module's library copied and checked, not opened yet: the part of a
/// load that only reads files, which the modules of one reload do side
/// by side.
#[derive(Debug)]
pub(crate) struct Prepared {
    path: PathBuf,
    id: u64,
    copy: LibraryCopy,
    /// What of the copy is left to fill in once the library is open.
    rest: Rest,
    identity: FileIdentity,
    copy_time: Duration,
}

/// Copies and checks the current file of module `name` in `dir`.
pub(crate) fn prepare(dir: &Path, name: &str) -> Result<Prepared, LoadError> {
    static ATTEMPT: AtomicU64 = AtomicU64::new(0);
    let started = Instant::now();
    let path = library_path(dir, name);
    // Before a byte is read: code nobody but this user could have written.
    hcr_trust::check(&path)?;
    let id = ATTEMPT.fetch_add(1, Ordering::Relaxed);
    // The copy is what gets checked and opened, so a build that rewrites
    // the original meanwhile cannot slip unchecked bytes in.
    let (copied, hash) = copy_complete(name, id, &path, load_wait()).map_err(|err| match err {
        CopyError::Io(source) => LoadError::Read {
            path: path.clone(),
            source,
        },
        CopyError::Format(problem) => LoadError::Format {
            path: path.clone(),
            problem,
        },
        CopyError::StillWritten(reason, waited) => LoadError::StillWritten {
            path: path.clone(),
            reason,
            waited,
        },
    })?;
    let identity = FileIdentity::new(&copied.before, hash);
    let Copied { copy, rest, .. } = copied;
    Ok(Prepared {
        path,
        id,
        copy,
        rest,
        identity,
        copy_time: started.elapsed(),
    })
}

/// Prepares the current files of `modules` in `dir`, as many at once as
/// there are cores: one reload's copies cost what the slowest costs, not
/// what all cost together.
pub(crate) fn prepare_all(
    dir: &Path,
    modules: &[String],
) -> Vec<(String, Result<Prepared, LoadError>)> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .min(modules.len());
    if workers <= 1 {
        return modules
            .iter()
            .map(|name| (name.clone(), prepare(dir, name)))
            .collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let at = next.fetch_add(1, Ordering::Relaxed);
                    let Some(name) = modules.get(at) else {
                        break;
                    };
                    let prepared = prepare(dir, name);
                    done.lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push((name.clone(), prepared));
                }
            });
        }
    });
    done.into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Loads the current file of module `name` from `dir`.
pub(crate) fn load(dir: &Path, name: &str) -> Result<LoadedVersion, LoadError> {
    open_prepared(prepare(dir, name)?)
}

/// Opens a prepared copy (running the library's initializers) and
/// resolves the module exports.
pub(crate) fn open_prepared(prepared: Prepared) -> Result<LoadedVersion, LoadError> {
    let Prepared {
        path,
        id,
        copy,
        rest,
        identity,
        copy_time,
    } = prepared;
    let started = Instant::now();
    let opened = open(copy.path(), &path);
    let open_time = started.elapsed();
    let (library, exports) = opened?;
    copy.opened();
    // Not waited for, and not begun before the library is open, so that it
    // takes no time from the copies of one reload: only debuggers and
    // backtraces read it. A library that failed to open needs none.
    if !rest.is_empty() {
        crate::background::run_or_here(Box::new(move || rest.fill()));
    }
    let imports = exports.imports().map_err(|problem| LoadError::BadImports {
        path: path.clone(),
        problem,
    })?;
    Ok(LoadedVersion {
        code: crate::sys::objects::code_ranges(copy.path()),
        content_hash: identity.content_hash(),
        copy_time,
        open_time,
        library,
        exports,
        copy,
        id,
        identity,
        imports,
    })
}

/// Opens a copy and resolves the module exports. A library without them
/// is closed again: none of its module code has run.
fn open(copy: &Path, original: &Path) -> Result<(Library, ModuleExports), LoadError> {
    // SAFETY: loading runs the library's initializers. The file passed the
    // library check, and running a module's code is what loading it is for.
    let library = unsafe { Library::open(copy) }.map_err(|message| LoadError::Open {
        path: original.to_owned(),
        message,
    })?;
    let exports = resolve(&library, original)?;
    Ok((library, exports))
}

fn resolve(library: &Library, path: &Path) -> Result<ModuleExports, LoadError> {
    fn symbol<T: Copy>(library: &Library, path: &Path, name: &'static str) -> Result<T, LoadError> {
        // SAFETY: `T` is the C signature the module ABI fixes for `name`;
        // the copied-out pointer outlives the library handle because the
        // library is never unloaded once its module code may run.
        unsafe { library.get::<T>(name) }.ok_or_else(|| LoadError::MissingExport {
            path: path.to_owned(),
            symbol: name,
        })
    }
    Ok(ModuleExports {
        hash: symbol(library, path, "hcr_module_hash")?,
        imports: symbol(library, path, "hcr_module_imports")?,
        dat_init: symbol(library, path, "hcr_module_dat_init")?,
        init: symbol(library, path, "hcr_module_init")?,
        can_reload: symbol(library, path, "hcr_module_can_reload").ok(),
        shutdown: symbol(library, path, "hcr_module_shutdown").ok(),
    })
}
