//! Builds driven through cargo: the runtime library and Rust modules.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::{BuildError, finished, workspace_dir};

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")))
}

/// Runs a cargo build with JSON messages and returns the file of the
/// artifact of library target `target_name` whose name ends in `suffix`.
fn build_artifact(
    mut command: Command,
    tool: String,
    target_name: &str,
    suffix: &str,
) -> Result<PathBuf, BuildError> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
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
        if message["reason"] != "compiler-artifact" || message["target"]["name"] != target_name {
            continue;
        }
        let filenames = message["filenames"].as_array().into_iter().flatten();
        for file in filenames.filter_map(|f| f.as_str()) {
            if file.ends_with(suffix) {
                found = Some(PathBuf::from(file));
            }
        }
    }
    finished(tool, child.wait_with_output())?;
    found.ok_or_else(|| BuildError::NoArtifact(format!("{target_name} ({suffix})")))
}

/// Builds `libhcr_runtime.so` (debug profile unless `release`) and returns
/// its path, as cargo reports it.
///
/// # Errors
/// [`BuildError`] when cargo fails or names no runtime library.
pub fn runtime_library(release: bool) -> Result<PathBuf, BuildError> {
    let mut command = cargo();
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
    build_artifact(
        command,
        "cargo build -p hcr-runtime".to_owned(),
        "hcr_runtime",
        "libhcr_runtime.so",
    )
}

/// A module crate, built as a shared library with `cargo rustc`.
///
/// The crate's library is compiled with `--crate-type cdylib` and
/// `--cfg hcr_module`, which only that crate sees: the module crates it
/// depends on are linked in as plain libraries, calling each other's
/// reloadable functions through stubs and exporting nothing.
#[derive(Debug, Clone)]
pub struct RustModule {
    package: String,
    manifest: Option<PathBuf>,
    target_dir: Option<PathBuf>,
    release: bool,
    cfgs: Vec<String>,
    envs: Vec<(OsString, OsString)>,
}

impl RustModule {
    /// The module crate `package` (its package name, as in `cargo -p`).
    pub fn new(package: &str) -> Self {
        RustModule {
            package: package.to_owned(),
            manifest: None,
            target_dir: None,
            release: false,
            cfgs: Vec::new(),
            envs: Vec::new(),
        }
    }

    /// The `Cargo.toml` of the workspace or package (default: cargo's
    /// search from the current directory).
    pub fn manifest_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.manifest = Some(path.into());
        self
    }

    /// Cargo's `--target-dir`.
    pub fn target_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.target_dir = Some(dir.into());
        self
    }

    /// Builds with the release profile.
    pub fn release(mut self, release: bool) -> Self {
        self.release = release;
        self
    }

    /// Adds `--cfg spec` for the module crate alone (e.g. `feature_x` or
    /// `version="2"`).
    pub fn cfg(mut self, spec: &str) -> Self {
        self.cfgs.push(spec.to_owned());
        self
    }

    /// Sets an environment variable for cargo and the compilers it runs.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Builds the module and returns the path of its `lib<crate>.so`, as
    /// cargo reports it (it is overwritten by the next build).
    ///
    /// # Errors
    /// [`BuildError`] with cargo's messages when the build fails.
    pub fn build(&self) -> Result<PathBuf, BuildError> {
        let mut command = cargo();
        command.args([
            "rustc",
            "-p",
            &self.package,
            "--lib",
            "--crate-type",
            "cdylib",
            "--message-format=json-render-diagnostics",
        ]);
        if let Some(manifest) = &self.manifest {
            command.arg("--manifest-path").arg(manifest);
        }
        if let Some(dir) = &self.target_dir {
            command.arg("--target-dir").arg(dir);
        }
        if self.release {
            command.arg("--release");
        }
        command.args(["--", "--cfg", "hcr_module"]);
        for cfg in &self.cfgs {
            command.args(["--cfg", cfg]);
        }
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        let target_name = self.package.replace('-', "_");
        let suffix = format!("lib{target_name}.so");
        build_artifact(
            command,
            format!("cargo rustc -p {}", self.package),
            &target_name,
            &suffix,
        )
    }
}

/// A host program (a binary target), built with cargo.
#[derive(Debug, Clone)]
pub struct HostBinary {
    package: String,
    bin: String,
    features: Vec<String>,
    release: bool,
    manifest: Option<PathBuf>,
}

impl HostBinary {
    /// Binary `bin` of package `package`.
    pub fn new(package: &str, bin: &str) -> Self {
        HostBinary {
            package: package.to_owned(),
            bin: bin.to_owned(),
            features: Vec::new(),
            release: false,
            manifest: None,
        }
    }

    /// Enables a feature of the package (e.g. `static`).
    pub fn feature(mut self, feature: &str) -> Self {
        self.features.push(feature.to_owned());
        self
    }

    /// Builds with the release profile.
    pub fn release(mut self, release: bool) -> Self {
        self.release = release;
        self
    }

    /// The `Cargo.toml` of the workspace or package.
    pub fn manifest_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.manifest = Some(path.into());
        self
    }

    /// Builds the binary and returns its path, as cargo reports it (it is
    /// overwritten by the next build with other features).
    ///
    /// # Errors
    /// [`BuildError`] with cargo's messages when the build fails.
    pub fn build(&self) -> Result<PathBuf, BuildError> {
        let mut command = cargo();
        command.args([
            "build",
            "-p",
            &self.package,
            "--bin",
            &self.bin,
            "--message-format=json-render-diagnostics",
        ]);
        if let Some(manifest) = &self.manifest {
            command.arg("--manifest-path").arg(manifest);
        }
        if !self.features.is_empty() {
            command.arg("--features").arg(self.features.join(","));
        }
        if self.release {
            command.arg("--release");
        }
        build_artifact(
            command,
            format!("cargo build -p {} --bin {}", self.package, self.bin),
            &self.bin,
            &format!("/{}", self.bin),
        )
    }
}
