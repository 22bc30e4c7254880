//! Builds what an hcr program loads: the runtime library and modules.
//!
//! * [`runtime_library`] builds `libhcr_runtime.so` with cargo and returns
//!   its path, read from cargo's JSON messages.
//! * [`CModule`] compiles a module written in C into `lib<name>.so` with the
//!   C compiler the `cc` crate finds, linked against the runtime.

#![deny(missing_docs)]

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A tool could not be started.
    #[error("cannot run {tool}")]
    Spawn {
        /// The command.
        tool: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A tool ran and failed.
    #[error("{tool} failed ({status}):\n{output}")]
    Failed {
        /// The command.
        tool: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed.
        output: String,
    },
    /// No C compiler was found.
    #[error("no C compiler: {0}")]
    Compiler(String),
    /// Cargo built, but its messages named no such artifact.
    #[error("cargo reported no artifact named {0}")]
    NoArtifact(String),
}

/// The workspace this crate was built in.
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The directory holding `hcr.h`.
pub fn include_dir() -> PathBuf {
    workspace_dir().join("hcr-runtime").join("include")
}

/// Builds `libhcr_runtime.so` (debug profile unless `release`) and returns
/// its path, as cargo reports it.
///
/// # Errors
/// [`BuildError`] when cargo fails or names no runtime library.
pub fn runtime_library(release: bool) -> Result<PathBuf, BuildError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command.current_dir(workspace_dir()).args([
        "build",
        "-p",
        "hcr-runtime",
        "--lib",
        "--message-format=json-render-diagnostics",
    ]);
    if release {
        command.arg("--release");
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let tool = "cargo build -p hcr-runtime".to_owned();
    let mut child = command.spawn().map_err(|source| BuildError::Spawn {
        tool: tool.clone(),
        source,
    })?;
    let stdout = child.stdout.take().expect("piped");
    let mut found = None;
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if message["reason"] != "compiler-artifact" || message["target"]["name"] != "hcr_runtime" {
            continue;
        }
        let filenames = message["filenames"].as_array().into_iter().flatten();
        for file in filenames.filter_map(|f| f.as_str()) {
            if file.ends_with("libhcr_runtime.so") {
                found = Some(PathBuf::from(file));
            }
        }
    }
    finished(tool, child.wait_with_output())?;
    found.ok_or_else(|| BuildError::NoArtifact("libhcr_runtime.so".into()))
}

/// Turns a finished command into an error unless it succeeded; the error
/// carries what the command printed on stderr.
fn finished(tool: String, output: std::io::Result<std::process::Output>) -> Result<(), BuildError> {
    let output = output.map_err(|source| BuildError::Spawn {
        tool: tool.clone(),
        source,
    })?;
    if !output.status.success() {
        return Err(BuildError::Failed {
            tool,
            status: output.status,
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(())
}

/// A module written in C, compiled into a shared library.
#[derive(Debug, Clone)]
pub struct CModule {
    source: PathBuf,
    defines: Vec<(String, String)>,
    runtime_dir: Option<PathBuf>,
}

impl CModule {
    /// A module compiled from one C file.
    pub fn new(source: impl Into<PathBuf>) -> Self {
        CModule {
            source: source.into(),
            defines: Vec::new(),
            runtime_dir: None,
        }
    }

    /// Adds `-Dname=value`.
    pub fn define(mut self, name: &str, value: impl ToString) -> Self {
        self.defines.push((name.to_owned(), value.to_string()));
        self
    }

    /// Links with `-lhcr_runtime` from `dir`, as C modules are meant to.
    pub fn link_runtime(mut self, dir: impl Into<PathBuf>) -> Self {
        self.runtime_dir = Some(dir.into());
        self
    }

    /// Compiles to `output` (any name; hcr loads `lib<name>.so`).
    ///
    /// # Errors
    /// [`BuildError`] when no compiler is found or it fails; the compiler's
    /// messages are in the error.
    pub fn build(&self, output: &Path) -> Result<(), BuildError> {
        let target = env!("HCR_BUILD_TARGET");
        let compiler = cc::Build::new()
            .target(target)
            .host(target)
            .opt_level(1)
            .cargo_metadata(false)
            .try_get_compiler()
            .map_err(|err| BuildError::Compiler(err.to_string()))?;
        let mut command = compiler.to_command();
        command
            .args(["-shared", "-fPIC", "-Wall", "-Werror", "-o"])
            .arg(output)
            .arg(&self.source)
            .arg("-I")
            .arg(include_dir());
        for (name, value) in &self.defines {
            command.arg(format!("-D{name}={value}"));
        }
        if let Some(dir) = &self.runtime_dir {
            command.arg("-L").arg(dir).arg("-lhcr_runtime");
        }
        let tool = format!("{} ({})", compiler.path().display(), self.source.display());
        finished(tool, command.output())
    }
}
