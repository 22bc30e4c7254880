//! Modules written in C.

use std::path::{Path, PathBuf};

use crate::{BuildError, finished, include_dir};

/// A module written in C, compiled into a shared library.
#[derive(Debug, Clone)]
pub struct CModule {
    source: PathBuf,
    defines: Vec<(String, String)>,
    runtime_dir: Option<PathBuf>,
    opt_level: u32,
    target: String,
    libraries: Vec<(PathBuf, String)>,
}

impl CModule {
    /// A module compiled from one C file.
    pub fn new(source: impl Into<PathBuf>) -> Self {
        CModule {
            source: source.into(),
            defines: Vec::new(),
            runtime_dir: None,
            opt_level: 1,
            target: crate::build_target().to_owned(),
            libraries: Vec::new(),
        }
    }

    /// Links with shared library `name` from `dir` (`-L dir -l name`:
    /// `lib<name>.so`, or on Windows `<name>.dll` or its import library),
    /// which the module then needs, by that name, at load time.
    pub fn link(mut self, dir: impl Into<PathBuf>, name: &str) -> Self {
        self.libraries.push((dir.into(), name.to_owned()));
        self
    }

    /// Compiles for `target` (a target triple; default: the target this
    /// crate was built for), with that target's C compiler.
    pub fn target(mut self, target: &str) -> Self {
        self.target = target.to_owned();
        self
    }

    /// Optimizes at `-O<level>` (1 unless set).
    pub fn opt_level(mut self, level: u32) -> Self {
        self.opt_level = level;
        self
    }

    /// Adds `-Dname=value`.
    pub fn define(mut self, name: &str, value: impl ToString) -> Self {
        self.defines.push((name.to_owned(), value.to_string()));
        self
    }

    /// Links with `-lhcr_runtime` from `dir` (where `libhcr_runtime.so`,
    /// or on Windows the import library `libhcr_runtime.dll.a`, is), as C
    /// modules are meant to.
    pub fn link_runtime(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runtime_dir = Some(dir.into());
        self
    }

    /// Compiles to `output` (any name; hcr loads `lib<name>.so`, or
    /// `<name>.dll` on Windows).
    ///
    /// # Errors
    /// [`BuildError`] when no compiler is found or it fails; the compiler's
    /// messages are in the error.
    pub fn build(&self, output: &Path) -> Result<(), BuildError> {
        // The machine that built this crate is the one running the compiler
        // (a cross-compiled test suite runs under an emulator on it).
        let machine = env!("HCR_BUILD_HOST");
        let (mut command, program) = if crate::cargo::needs_zig(&self.target, machine) {
            let mut command = crate::cargo::zig_cc(&self.target)?;
            command.arg(format!("-O{}", self.opt_level));
            let program = command.get_program().to_string_lossy().into_owned();
            (command, program)
        } else {
            let compiler = cc::Build::new()
                .target(&self.target)
                .host(machine)
                .opt_level(self.opt_level)
                .cargo_metadata(false)
                .try_get_compiler()
                .map_err(|err| BuildError::Compiler(err.to_string()))?;
            (compiler.to_command(), compiler.path().display().to_string())
        };
        // Unwind tables let the runtime's reload check see this module's
        // frames on the stack (32-bit ARM has none by default for C).
        command
            .args([
                "-shared",
                "-fPIC",
                "-funwind-tables",
                "-Wall",
                "-Werror",
                "-o",
            ])
            .arg(output)
            .arg(&self.source)
            .arg("-I")
            .arg(include_dir());
        for (name, value) in &self.defines {
            command.arg(format!("-D{name}={value}"));
        }
        for (dir, name) in &self.libraries {
            command.arg("-L").arg(dir).arg(format!("-l{name}"));
        }
        if let Some(dir) = &self.runtime_dir {
            command.arg("-L").arg(dir).arg("-lhcr_runtime");
            if self.target.contains("apple") {
                // The runtime's install name is @rpath/libhcr_runtime.dylib:
                // found beside the host.
                command.arg("-Wl,-rpath,@executable_path");
            }
        }
        let tool = format!("{program} ({})", self.source.display());
        finished(tool, command.output())
    }
}
