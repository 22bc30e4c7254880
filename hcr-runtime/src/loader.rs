//! Loads one version of a module: reads the library, checks its ELF headers,
//! writes a copy under a name unique to this process and attempt, `dlopen`s
//! the copy and resolves the module exports.
//!
//! Loading a copy, not the file itself, lets the build overwrite the
//! original at any time, and gives each version its own inode: glibc
//! identifies loaded libraries by inode, so opening the same file again
//! would return the old version.

use std::ffi::{c_char, c_int};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use libloading::os::unix::{Library, RTLD_LOCAL, RTLD_NOW};

use crate::elf::{self, ElfError};
use crate::file_identity::FileIdentity;
use crate::names;

/// Environment variable naming the directory for the per-process copies.
pub const TEMP_DIR_ENV: &str = "HCR_TEMP_DIR";

type ImportsFn = unsafe extern "C" fn() -> *const *const c_char;
type HashFn = unsafe extern "C" fn() -> *const c_char;
type StepFn = unsafe extern "C" fn() -> c_int;
type CanReloadFn = unsafe extern "C" fn() -> bool;
type ShutdownFn = unsafe extern "C" fn();

/// Why a module version could not be loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LoadError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a loadable library: {problem}")]
    Elf { path: PathBuf, problem: ElfError },
    #[error("cannot write the copy {path}")]
    Copy {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("dlopen of {path} failed: {message}")]
    Open { path: PathBuf, message: String },
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
    pub(crate) copy: PathBuf,
    pub(crate) identity: FileIdentity,
    pub(crate) imports: Vec<String>,
    /// A hash of the library's bytes, for manifests.
    pub(crate) content_hash: u64,
    /// Time spent reading, checking and copying the file, and in `dlopen`.
    pub(crate) copy_time: std::time::Duration,
    pub(crate) open_time: std::time::Duration,
}

/// The library file of module `name` in `dir`.
pub(crate) fn library_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("lib{name}.so"))
}

/// The directory for this process's copies, created on first use.
fn copy_dir() -> std::io::Result<&'static Path> {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    if let Some(dir) = DIR.get() {
        return Ok(dir);
    }
    let base = std::env::var_os(TEMP_DIR_ENV).map_or_else(std::env::temp_dir, PathBuf::from);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = base.join(format!("hcr-{}-{nanos:08x}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(DIR.get_or_init(|| dir))
}

/// Loads the current file of module `name` from `dir`.
pub(crate) fn load(dir: &Path, name: &str) -> Result<LoadedVersion, LoadError> {
    static ATTEMPT: AtomicU64 = AtomicU64::new(0);
    let started = std::time::Instant::now();
    let path = library_path(dir, name);
    let read_error = |source| LoadError::Read {
        path: path.clone(),
        source,
    };
    let meta = std::fs::metadata(&path).map_err(read_error)?;
    let bytes = std::fs::read(&path).map_err(read_error)?;
    elf::check_shared_library(&bytes).map_err(|problem| LoadError::Elf {
        path: path.clone(),
        problem,
    })?;
    let identity = FileIdentity::new(&meta, &bytes);

    // The copy is written from the bytes just checked, so a build that
    // rewrites the original meanwhile cannot slip unchecked bytes in.
    let attempt = ATTEMPT.fetch_add(1, Ordering::Relaxed);
    let copy_error = |copy: &Path, source| LoadError::Copy {
        path: copy.to_owned(),
        source,
    };
    let dir = copy_dir().map_err(|source| copy_error(Path::new("<temp dir>"), source))?;
    let copy = dir.join(format!("lib{name}.{attempt}.so"));
    std::fs::write(&copy, &bytes).map_err(|source| copy_error(&copy, source))?;

    let copy_time = started.elapsed();
    let opened = open(&copy, &path);
    let open_time = started.elapsed() - copy_time;
    let (library, exports) = match opened {
        Ok(opened) => opened,
        Err(err) => {
            let _ = std::fs::remove_file(&copy);
            return Err(err);
        }
    };
    let imports = exports.imports().map_err(|problem| LoadError::BadImports {
        path: path.clone(),
        problem,
    });
    let imports = match imports {
        Ok(imports) => imports,
        Err(err) => {
            let _ = std::fs::remove_file(&copy);
            return Err(err);
        }
    };
    Ok(LoadedVersion {
        content_hash: identity.content_hash(),
        copy_time,
        open_time,
        library,
        exports,
        copy,
        identity,
        imports,
    })
}

/// `dlopen`s a copy and resolves the module exports. A library without them
/// is closed again: none of its module code has run.
fn open(copy: &Path, original: &Path) -> Result<(Library, ModuleExports), LoadError> {
    // SAFETY: loading runs the library's constructors. The file passed the
    // ELF check, and running a module's code is what loading it is for.
    let library = unsafe { Library::open(Some(copy), RTLD_NOW | RTLD_LOCAL) }.map_err(|err| {
        LoadError::Open {
            path: original.to_owned(),
            message: err.to_string(),
        }
    })?;
    let exports = resolve(&library, original)?;
    Ok((library, exports))
}

fn resolve(library: &Library, path: &Path) -> Result<ModuleExports, LoadError> {
    fn symbol<T: Copy>(library: &Library, path: &Path, name: &'static str) -> Result<T, LoadError> {
        let with_nul = format!("{name}\0");
        // SAFETY: `T` is the C signature the module ABI fixes for `name`;
        // the copied-out pointer outlives the `Symbol` because the library
        // is never unloaded once its module code may run.
        unsafe { library.get::<T>(with_nul.as_bytes()) }
            .map(|symbol| *symbol)
            .map_err(|_| LoadError::MissingExport {
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
