//! The host's side: start the module tree, reload it at safe points.
//!
//! In a hot build (the default) [`Host`] loads the runtime library
//! (`libhcr_runtime.so`; `hcr_runtime.dll` on Windows), hands it the
//! host's imports and reloads what changed. In a static build (the `static`
//! feature) the modules are linked in, so starting does nothing and there
//! is never anything to reload; the host's code is the same.

use std::path::PathBuf;
use std::time::Duration;

/// Configures and starts a [`Host`].
///
/// ```no_run
/// let host = hcr_client::Host::builder().import("physics").start()?;
/// # Ok::<(), hcr_client::StartError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct HostBuilder {
    main: String,
    imports: Vec<String>,
    runtime: Option<PathBuf>,
    module_dir: Option<PathBuf>,
}

/// The host's handle on its module tree. Dropping it shuts the tree down
/// (see [`Host::shutdown`]).
#[derive(Debug)]
pub struct Host {
    #[cfg(not(feature = "static"))]
    runtime: crate::runtime::RuntimeLibrary,
    #[cfg(feature = "static")]
    started: crate::__private::Started,
    shut_down: bool,
}

/// What a successful [`Host::reload`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReloadReport {
    /// The modules loaded anew, leaves first; empty when nothing changed.
    pub modules: Vec<String>,
    /// The generation after the reload (0 until the first reload).
    pub generation: i64,
    /// How long the reload took.
    pub elapsed: Duration,
    /// Where the runtime spent that time (`None` when nothing reloaded).
    pub phases: Option<crate::runtime::ReloadPhases>,
}

impl ReloadReport {
    /// Whether anything was reloaded.
    pub fn reloaded(&self) -> bool {
        !self.modules.is_empty()
    }
}

/// Why a reload was refused or failed. The old code keeps running: every
/// module, stub and global is as it was before the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ReloadError {
    /// The module that failed or refused, where one did.
    pub module: Option<String>,
    /// The runtime's code (`HCR_ERR_*` in hcr.h).
    pub code: i32,
    /// The runtime's message, which names the module and the step.
    pub message: String,
}

/// A guarded call faulted in module code ([`Host::call_guarded`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GuardError {
    /// The module whose code faulted.
    pub module: Option<String>,
    /// The runtime's code: `HCR_ERR_FAULTED` (-16), or another `HCR_ERR_*`
    /// when the guard could not run.
    pub code: i32,
    /// The runtime's message: the module, the signal, where it hit, and
    /// whether the previous version was put back.
    pub message: String,
}

impl GuardError {
    /// `HCR_ERR_UNSUPPORTED`: the guard does not run on this system (it
    /// runs on Linux and Windows), and the function was not called.
    const UNSUPPORTED: i32 = -17;

    /// Whether the guard does not run on this system (it runs on Linux
    /// and Windows): the function was not called; call it unguarded.
    pub fn is_unsupported(&self) -> bool {
        self.code == Self::UNSUPPORTED
    }
}

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The runtime library could not be found or opened.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::OpenError),
    /// The executable's directory, where the runtime is looked for by
    /// default, is unknown.
    #[error("cannot find the executable's directory to look for the runtime library")]
    NoExecutableDir(#[source] std::io::Error),
    /// The runtime refused to start the tree (a module failed to load or
    /// init, a cyclic import, another compiler, ...); nothing stays loaded.
    #[error("cannot start the module tree: {0}")]
    Tree(#[source] crate::runtime::RuntimeError),
    /// A module's `startup` or `load` failed (static build; in a hot build
    /// this is a [`StartError::Tree`]).
    #[error("cannot start the module tree: module `{module}` failed: {message}")]
    Module {
        /// The module.
        module: String,
        /// Its message.
        message: String,
    },
}

impl Default for HostBuilder {
    fn default() -> Self {
        HostBuilder {
            main: "main".to_owned(),
            imports: Vec::new(),
            runtime: None,
            module_dir: None,
        }
    }
}

impl HostBuilder {
    /// The host's own module name, which its handlers and calls go by
    /// (default `main`).
    pub fn main_module(mut self, name: &str) -> Self {
        self.main = name.to_owned();
        self
    }

    /// Adds a module the host imports (a crate name, or a C module's name).
    pub fn import(mut self, module: &str) -> Self {
        self.imports.push(module.to_owned());
        self
    }

    /// Where the runtime library (`libhcr_runtime.so`; `hcr_runtime.dll` on
    /// Windows) is. Default: the `HCR_RUNTIME` environment variable, else
    /// beside the executable. Ignored in a static build.
    pub fn runtime_library(mut self, path: impl Into<PathBuf>) -> Self {
        self.runtime = Some(path.into());
        self
    }

    /// Where the modules' libraries are (`lib<module>.so`; `<module>.dll` on
    /// Windows). Default: the executable's directory. Ignored in a static
    /// build.
    pub fn module_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.module_dir = Some(dir.into());
        self
    }

    /// Where [`HostBuilder::start`] looks for the runtime library: the path
    /// given to [`HostBuilder::runtime_library`], else `$HCR_RUNTIME`, else
    /// beside the executable.
    ///
    /// # Errors
    /// [`StartError::NoExecutableDir`] when the executable's path is unknown.
    pub fn runtime_path(&self) -> Result<PathBuf, StartError> {
        if let Some(path) = &self.runtime {
            return Ok(path.clone());
        }
        if let Some(path) = std::env::var_os("HCR_RUNTIME").filter(|path| !path.is_empty()) {
            return Ok(PathBuf::from(path));
        }
        let exe = std::env::current_exe().map_err(StartError::NoExecutableDir)?;
        Ok(exe.with_file_name(crate::sys::RUNTIME_FILE))
    }

    /// Loads the runtime and the module tree: every import and,
    /// recursively, theirs, leaves first. In a static build, does nothing.
    ///
    /// # Errors
    /// [`StartError`] when the runtime cannot be opened or the tree cannot
    /// start; nothing stays loaded but the runtime itself.
    #[cfg(not(feature = "static"))]
    pub fn start(self) -> Result<Host, StartError> {
        let path = self.runtime_path()?;
        let runtime = crate::runtime::RuntimeLibrary::open(&path)?;
        runtime
            .check_toolchain(&self.main, crate::__private::toolchain())
            .map_err(StartError::Tree)?;
        crate::forward::publish_all(&runtime).map_err(|message| {
            StartError::Tree(crate::runtime::RuntimeError { code: -1, message })
        })?;
        let imports: Vec<&str> = self.imports.iter().map(String::as_str).collect();
        runtime
            .init(&self.main, &imports, self.module_dir.as_deref())
            .map_err(StartError::Tree)?;
        crate::handlers::install_for_host(&runtime);
        Ok(Host {
            runtime,
            shut_down: false,
        })
    }

    /// Loads the runtime and the module tree: every import and,
    /// recursively, theirs, leaves first. In a static build, does nothing.
    ///
    /// # Errors
    /// [`StartError::Module`] when a module's `startup` or `load` fails.
    #[cfg(feature = "static")]
    pub fn start(self) -> Result<Host, StartError> {
        let started = crate::__private::Started::start(&self.imports)
            .map_err(|(module, message)| StartError::Module { module, message })?;
        Ok(Host {
            started,
            shut_down: false,
        })
    }
}

impl Host {
    /// A builder with the defaults: main module `main`, no imports, the
    /// runtime and the modules beside the executable.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// Whether this build reloads code (false with the `static` feature).
    pub const fn is_hot() -> bool {
        cfg!(not(feature = "static"))
    }

    /// The runtime's raw binding, in a hot build.
    #[cfg(not(feature = "static"))]
    pub fn runtime(&self) -> &crate::runtime::RuntimeLibrary {
        &self.runtime
    }

    /// Whether any module's library changed on disk since it was loaded.
    /// Cheap enough for every frame (a `stat` per module): contents are
    /// compared on a thread of the runtime's, and a library rewritten
    /// with its size unchanged counts as changed until they are (a few
    /// milliseconds); [`Host::reload`] compares at once and loads nothing
    /// for a file that was only touched.
    pub fn reload_needed(&self) -> bool {
        #[cfg(not(feature = "static"))]
        return self.runtime.reload_needed();
        #[cfg(feature = "static")]
        false
    }

    /// Whether module `name`'s library changed on disk since it was
    /// loaded (false for a module that is not loaded, and always in a
    /// static build).
    pub fn module_changed(&self, name: &str) -> bool {
        #[cfg(not(feature = "static"))]
        return self.runtime.has_module_changed(name);
        #[cfg(feature = "static")]
        {
            let _ = name;
            false
        }
    }

    /// Reloads every changed module. Call it where no module function is
    /// running on this thread (e.g. between two frames of a main loop).
    ///
    /// # Errors
    /// [`ReloadError`] naming the module and the step; the old code keeps
    /// running and every module, stub and global is as before.
    pub fn reload(&self) -> Result<ReloadReport, ReloadError> {
        let started = std::time::Instant::now();
        #[cfg(not(feature = "static"))]
        {
            let runtime = &self.runtime;
            runtime.perform_code_reload().map_err(|err| ReloadError {
                module: runtime.last_error_module(),
                code: err.code,
                message: err.message,
            })?;
            let modules = runtime.reloaded_modules();
            let phases = if modules.is_empty() {
                None
            } else {
                runtime.last_reload_phases()
            };
            Ok(ReloadReport {
                modules,
                generation: runtime.generation(),
                elapsed: started.elapsed(),
                phases,
            })
        }
        #[cfg(feature = "static")]
        Ok(ReloadReport {
            modules: Vec::new(),
            generation: 0,
            elapsed: started.elapsed(),
            phases: None,
        })
    }

    /// Shuts the tree down: every module's `unload` and `shutdown` hooks
    /// run once, importers before the modules they import. Afterwards
    /// nothing reloads, and module functions can still be called. Dropping
    /// the host does this too.
    ///
    /// # Errors
    /// The runtime's error (a reload running on another thread).
    pub fn shutdown(&mut self) -> Result<(), ReloadError> {
        if self.shut_down {
            return Ok(());
        }
        self.shut_down = true;
        #[cfg(not(feature = "static"))]
        self.runtime.shutdown().map_err(|err| ReloadError {
            module: None,
            code: err.code,
            message: err.message,
        })?;
        #[cfg(feature = "static")]
        self.started.shutdown();
        Ok(())
    }

    /// Unmaps every old module version (and versions of modules that left
    /// the tree); returns how many went. Old versions otherwise stay
    /// mapped for the life of the process, so a long session that reloads
    /// thousands of times calls this at a quiet point.
    ///
    /// Calling it is a promise: no thread runs code of an old version (no
    /// call into a module is in flight on another thread) and nothing
    /// kept across the reload points into one: a `&'static str`, a trait
    /// object or a plain function pointer created by old code and stored
    /// in a [`Global`](crate::Global), in the host's state, or by a library
    /// the module handed it to (a framework's callbacks, a logger). Calls
    /// through reloadable functions and stubs are always safe. Code of the
    /// dependencies is not module code: with `cargo hcr`'s shared library
    /// of dependencies, what a framework caches of its own (egui's text
    /// shaping, its plugins) stays valid. A static build has nothing to
    /// unmap.
    ///
    /// # Errors
    /// The runtime's error (a reload is running on another thread).
    pub fn collect(&self) -> Result<usize, ReloadError> {
        #[cfg(not(feature = "static"))]
        return self.runtime.collect().map_err(|err| ReloadError {
            module: None,
            code: err.code,
            message: err.message,
        });
        #[cfg(feature = "static")]
        Ok(0)
    }

    /// Runs `f` under the crash guard: when module code it calls faults
    /// (SIGSEGV, SIGBUS, SIGILL, SIGFPE raised in a loaded module's code),
    /// `f` ends there and the error names the module, the signal and
    /// whether the module's previous version was put back (when the
    /// faulting version is the current one); the faulting version is not
    /// loaded again until its file changes. Faults anywhere else (in the
    /// host, in a library the module called) are handled as without the
    /// guard, and so are aborts: with debug assertions Rust itself stops
    /// the process on a NULL or misaligned raw-pointer dereference before
    /// anything faults. A panic in `f` goes on as a panic. In a static
    /// build, runs `f`.
    ///
    /// For a session that should survive a bad edit; see
    /// `docs/crash-guard.md` for what it cannot promise.
    ///
    /// # Safety
    /// After a fault, no frame between the fault and this call runs again:
    /// destructors, unlocks and writes back in them never happen, and a
    /// lock, the allocator or stdio may be left mid-operation. `F` is
    /// `Copy`, so `f` itself owns nothing that needs dropping; the caller
    /// promises the same of the code it calls, or accepts the leak.
    ///
    /// # Errors
    /// [`GuardError`] when the call faulted, or when the guard does not
    /// run on this system ([`GuardError::is_unsupported`]; `f` did not
    /// run).
    pub unsafe fn call_guarded<F, R>(&self, f: F) -> Result<R, GuardError>
    where
        F: FnOnce() -> R + Copy,
    {
        #[cfg(not(feature = "static"))]
        return crate::guarded::call(&self.runtime, f);
        #[cfg(feature = "static")]
        Ok(f())
    }

    /// The number of successful reloads so far.
    pub fn generation(&self) -> i64 {
        #[cfg(not(feature = "static"))]
        return self.runtime.generation();
        #[cfg(feature = "static")]
        0
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Err(err) = self.shutdown() {
            eprintln!("hcr: shutting the module tree down failed: {err}");
        }
    }
}
