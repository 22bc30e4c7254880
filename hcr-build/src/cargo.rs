//! Builds driven through cargo: the runtime library, Rust modules and host
//! binaries, read back from cargo's JSON messages.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use crate::{BuildError, workspace_dir};

/// The cargo command `subcommand` (`build`, `rustc`) for builds for
/// `target`: cargo itself, or for an Apple target on another system
/// `cargo-zigbuild`, which links with zig (and its copy of the macOS SDK's
/// stubs) what no linker here could.
///
/// # Errors
/// [`BuildError::Project`] saying how to install cargo-zigbuild when it is
/// needed and missing.
fn cargo(subcommand: &str, target: &str) -> Result<Command, BuildError> {
    if !needs_zig(target, env!("HCR_BUILD_HOST")) {
        let mut command =
            Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
        command.arg(subcommand);
        return Ok(command);
    }
    let zigbuild = zigbuild().ok_or_else(|| {
        BuildError::Project(format!(
            "building for {target} on this machine needs cargo-zigbuild and zig: install them \
             with `pip install cargo-zigbuild ziglang` (or `cargo install cargo-zigbuild` and a \
             zig on PATH), then run this again"
        ))
    })?;
    let mut command = Command::new(zigbuild);
    command.arg(if subcommand == "build" {
        "zigbuild"
    } else {
        subcommand
    });
    Ok(command)
}

/// Whether builds for `target` on `machine` (triples) link through zig:
/// Apple targets anywhere but on a Mac.
pub(crate) fn needs_zig(target: &str, machine: &str) -> bool {
    target.contains("apple") && !machine.contains("apple")
}

/// zig's C compiler for `target` (an Apple triple), as cargo-zigbuild
/// finds zig: `zig` on `PATH`, else the PyPI package's `python3 -m
/// ziglang`.
///
/// # Errors
/// [`BuildError::Compiler`] saying how to install zig when neither runs.
pub(crate) fn zig_cc(target: &str) -> Result<Command, BuildError> {
    let runs = |mut command: Command| {
        command
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let python = || {
        let mut command = Command::new("python3");
        command.args(["-m", "ziglang"]);
        command
    };
    let mut command = if runs(Command::new("zig")) {
        Command::new("zig")
    } else if runs(python()) {
        python()
    } else {
        return Err(BuildError::Compiler(format!(
            "compiling C for {target} on this machine needs zig: install it with `pip install \
             ziglang`, or put a zig on PATH"
        )));
    };
    let arch = target.split('-').next().unwrap_or(target);
    command.args(["cc", "-target", &format!("{arch}-macos")]);
    Ok(command)
}

/// `cargo-zigbuild` from `PATH` (where pip and cargo install it), if it
/// runs.
fn zigbuild() -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("cargo-zigbuild"))
        .find(|file| file.is_file())?;
    let runs = Command::new(&found)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    runs.then_some(found)
}

/// The target this crate was built for, when that is not the machine that
/// built it: then builds it runs are for that target too.
pub fn cross_target() -> Option<&'static str> {
    let (target, host) = (env!("HCR_BUILD_TARGET"), env!("HCR_BUILD_HOST"));
    (target != host).then_some(target)
}

/// The target this crate was built for: what its builds are for unless
/// told otherwise.
pub fn build_target() -> &'static str {
    env!("HCR_BUILD_TARGET")
}

/// The file name of a shared library `name` on `target`: `lib<name>.so`
/// on Linux, `lib<name>.dylib` on macOS, `<name>.dll` on Windows (what
/// cargo names a `cdylib` and hcr loads a module from).
pub fn library_file_name(target: &str, name: &str) -> String {
    if target.contains("windows") {
        format!("{name}.dll")
    } else if target.contains("apple") {
        format!("lib{name}.dylib")
    } else {
        format!("lib{name}.so")
    }
}

/// The file name of program `name` on `target`: `<name>.exe` on Windows.
pub fn executable_file_name(target: &str, name: &str) -> String {
    if target.contains("windows") {
        format!("{name}.exe")
    } else {
        name.to_owned()
    }
}

/// The directory cargo puts `target`'s builds in under its target
/// directory: none for the machine building (cargo is not passed
/// `--target` then), the triple for another.
pub fn target_subdir(target: &str) -> Option<&str> {
    (target != env!("HCR_BUILD_HOST")).then_some(target)
}

/// Cargo's arguments for `profile` (`None` or `dev`: none).
fn profile_args(profile: Option<&str>) -> Vec<String> {
    match profile {
        None | Some("dev") => Vec::new(),
        Some("release") => vec!["--release".to_owned()],
        Some(other) => vec!["--profile".to_owned(), other.to_owned()],
    }
}

/// Adds `--target` for a build for another machine than this one.
fn for_target(command: &mut Command, target: &str) {
    if let Some(target) = target_subdir(target) {
        command.args(["--target", target]);
    }
}

/// A cargo build that is running: its JSON messages are read on one
/// thread and its rendered diagnostics on another, so neither pipe fills.
#[derive(Debug)]
pub struct Running {
    child: Child,
    artifact: Option<JoinHandle<Option<PathBuf>>>,
    stderr: Option<JoinHandle<String>>,
    /// Everything cargo wrote on stderr, once it ended.
    log: String,
    tool: String,
    wanted: String,
}

/// Starts a cargo build with JSON messages that produces the artifact of
/// target `target_name` whose file name ends in `suffix`.
fn spawn_build(
    mut command: Command,
    tool: String,
    target_name: &str,
    suffix: &str,
) -> Result<Running, BuildError> {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().map_err(|source| BuildError::Spawn {
        tool: tool.clone(),
        source,
    })?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let wanted = format!("{target_name} ({suffix})");
    let (target_name, suffix) = (target_name.to_owned(), suffix.to_owned());
    let artifact = std::thread::spawn(move || {
        let mut found = None;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if message["reason"] != "compiler-artifact" || message["target"]["name"] != *target_name
            {
                continue;
            }
            let filenames = message["filenames"].as_array().into_iter().flatten();
            for file in filenames.filter_map(|f| f.as_str()) {
                if file.ends_with(&suffix) {
                    found = Some(PathBuf::from(file));
                }
            }
        }
        found
    });
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    Ok(Running {
        child,
        artifact: Some(artifact),
        stderr: Some(stderr),
        log: String::new(),
        tool,
        wanted,
    })
}

impl Running {
    /// The build's result if it ended, without waiting.
    pub fn try_finish(&mut self) -> Option<Result<PathBuf, BuildError>> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(self.collect(status)),
            Err(source) => Some(Err(BuildError::Spawn {
                tool: self.tool.clone(),
                source,
            })),
        }
    }

    /// Waits for the build and returns the artifact's path.
    ///
    /// # Errors
    /// [`BuildError`] with cargo's rendered diagnostics when it fails.
    pub fn finish(mut self) -> Result<PathBuf, BuildError> {
        self.finish_in_place()
    }

    /// Waits for the build, keeping it (and its log) here.
    pub(crate) fn finish_in_place(&mut self) -> Result<PathBuf, BuildError> {
        match self.child.wait() {
            Ok(status) => self.collect(status),
            Err(source) => Err(BuildError::Spawn {
                tool: self.tool.clone(),
                source,
            }),
        }
    }

    /// What cargo wrote on stderr, once the build ended.
    pub(crate) fn log(&self) -> &str {
        &self.log
    }

    /// Stops the build (a newer change makes it useless).
    pub fn cancel(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn collect(&mut self, status: std::process::ExitStatus) -> Result<PathBuf, BuildError> {
        let found = self
            .artifact
            .take()
            .and_then(|reader| reader.join().ok())
            .flatten();
        self.log = self
            .stderr
            .take()
            .and_then(|reader| reader.join().ok())
            .unwrap_or_default();
        if !status.success() {
            // What `-vv` adds (commands, build scripts' output) is not
            // what the user needs to see of a failure.
            let output = self
                .log
                .lines()
                .filter(|line| {
                    let line = line.trim_start();
                    !(line.starts_with("Running `") || line.starts_with('['))
                })
                .fold(String::new(), |text, line| text + line + "\n");
            return Err(BuildError::Failed {
                tool: self.tool.clone(),
                status,
                output,
            });
        }
        found.ok_or_else(|| BuildError::NoArtifact(self.wanted.clone()))
    }
}

/// Runs a cargo build with JSON messages and returns the file of the
/// artifact of target `target_name` whose name ends in `suffix`.
fn build_artifact(
    command: Command,
    tool: String,
    target_name: &str,
    suffix: &str,
) -> Result<PathBuf, BuildError> {
    spawn_build(command, tool, target_name, suffix)?.finish()
}

/// Builds `libhcr_runtime.so` of this workspace (debug profile unless
/// `release`) and returns its path, as cargo reports it.
///
/// # Errors
/// [`BuildError`] when cargo fails or names no runtime library.
pub fn runtime_library(release: bool) -> Result<PathBuf, BuildError> {
    runtime_library_from(
        &workspace_dir().join("Cargo.toml"),
        None,
        release,
        build_target(),
    )
}

/// [`runtime_library`] for `target` (a target triple), from this machine.
///
/// # Errors
/// [`BuildError`] when cargo fails or names no runtime library.
pub fn runtime_library_for(target: &str, release: bool) -> Result<PathBuf, BuildError> {
    runtime_library_from(&workspace_dir().join("Cargo.toml"), None, release, target)
}

/// Builds the runtime library for `target` (`libhcr_runtime.so`,
/// `hcr_runtime.dll`) from the package or workspace at `manifest` (which
/// holds `hcr-runtime`), into `target_dir` (default: its own).
///
/// # Errors
/// [`BuildError`] when cargo fails or names no runtime library.
pub fn runtime_library_from(
    manifest: &Path,
    target_dir: Option<&Path>,
    release: bool,
    target: &str,
) -> Result<PathBuf, BuildError> {
    let mut command = cargo("build", target)?;
    command
        .args(["-p", "hcr-runtime", "--lib"])
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--message-format=json-render-diagnostics");
    if let Some(dir) = target_dir {
        command.arg("--target-dir").arg(dir);
    }
    if release {
        command.arg("--release");
    }
    for_target(&mut command, target);
    build_artifact(
        command,
        "cargo build -p hcr-runtime".to_owned(),
        "hcr_runtime",
        &library_file_name(target, "hcr_runtime"),
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
    profile_args: Vec<String>,
    features: Vec<String>,
    cfgs: Vec<String>,
    envs: Vec<(OsString, OsString)>,
    target: String,
    commands_shown: bool,
}

impl RustModule {
    /// The module crate `package` (its package name, as in `cargo -p`).
    pub fn new(package: &str) -> Self {
        RustModule {
            package: package.to_owned(),
            manifest: None,
            target_dir: None,
            profile_args: Vec::new(),
            features: Vec::new(),
            cfgs: Vec::new(),
            envs: Vec::new(),
            target: build_target().to_owned(),
            commands_shown: false,
        }
    }

    /// Has cargo print each rustc command with its environment (`-vv`),
    /// for [`crate::direct::Capture`].
    pub(crate) fn show_commands(mut self) -> Self {
        self.commands_shown = true;
        self
    }

    /// Builds for `target` (a target triple; default: the target this
    /// crate was built for).
    pub fn target(mut self, target: &str) -> Self {
        self.target = target.to_owned();
        self
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
        self.profile_args = profile_args(release.then_some("release"));
        self
    }

    /// Builds with cargo profile `profile` (`dev`, `release` or one of the
    /// workspace's).
    pub fn profile(mut self, profile: &str) -> Self {
        self.profile_args = profile_args(Some(profile));
        self
    }

    /// Enables a feature of the module crate.
    pub fn feature(mut self, feature: &str) -> Self {
        self.features.push(feature.to_owned());
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
        self.spawn()?.finish()
    }

    /// Starts the build; see [`RustModule::build`].
    ///
    /// # Errors
    /// [`BuildError::Spawn`] when cargo cannot be started.
    pub fn spawn(&self) -> Result<Running, BuildError> {
        let mut command = cargo("rustc", &self.target)?;
        command.args([
            "-p",
            &self.package,
            "--lib",
            "--crate-type",
            "cdylib",
            "--message-format=json-render-diagnostics",
        ]);
        if self.commands_shown {
            command.arg("-vv");
        }
        if let Some(manifest) = &self.manifest {
            command.arg("--manifest-path").arg(manifest);
        }
        if let Some(dir) = &self.target_dir {
            command.arg("--target-dir").arg(dir);
        }
        command.args(&self.profile_args);
        if !self.features.is_empty() {
            command.arg("--features").arg(self.features.join(","));
        }
        for_target(&mut command, &self.target);
        command.args(["--", "--cfg", "hcr_module"]);
        if self.target.ends_with("windows-gnu") {
            // GNU ld drops the sections of the module's list of reloadable
            // functions and globals (linkme's distributed slices) as unused
            // when it links a PE with --gc-sections, which rustc asks for.
            command.args(["-C", "link-arg=-Wl,--no-gc-sections"]);
        }
        for cfg in &self.cfgs {
            command.args(["--cfg", cfg]);
        }
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        let target_name = self.package.replace('-', "_");
        let suffix = library_file_name(&self.target, &target_name);
        spawn_build(
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
    all_features: bool,
    no_default_features: bool,
    profile_args: Vec<String>,
    manifest: Option<PathBuf>,
    target_dir: Option<PathBuf>,
    target: String,
    envs: Vec<(OsString, OsString)>,
    keep_going: bool,
}

impl HostBinary {
    /// Binary `bin` of package `package`.
    pub fn new(package: &str, bin: &str) -> Self {
        HostBinary {
            package: package.to_owned(),
            bin: bin.to_owned(),
            features: Vec::new(),
            all_features: false,
            no_default_features: false,
            profile_args: Vec::new(),
            manifest: None,
            target_dir: None,
            target: build_target().to_owned(),
            envs: Vec::new(),
            keep_going: false,
        }
    }

    /// Builds for `target` (a target triple; default: the target this
    /// crate was built for).
    pub fn target(mut self, target: &str) -> Self {
        self.target = target.to_owned();
        self
    }

    /// Sets an environment variable for cargo and the compilers it runs.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// Cargo's `--keep-going`: what does not depend on a failed crate is
    /// built all the same.
    pub(crate) fn keep_going(mut self) -> Self {
        self.keep_going = true;
        self
    }

    /// Enables a feature of the package (e.g. `static`).
    pub fn feature(mut self, feature: &str) -> Self {
        self.features.push(feature.to_owned());
        self
    }

    /// Cargo's `--all-features`.
    pub fn all_features(mut self, all: bool) -> Self {
        self.all_features = all;
        self
    }

    /// Cargo's `--no-default-features`.
    pub fn no_default_features(mut self, none: bool) -> Self {
        self.no_default_features = none;
        self
    }

    /// Builds with the release profile.
    pub fn release(mut self, release: bool) -> Self {
        self.profile_args = profile_args(release.then_some("release"));
        self
    }

    /// Builds with cargo profile `profile`.
    pub fn profile(mut self, profile: &str) -> Self {
        self.profile_args = profile_args(Some(profile));
        self
    }

    /// The `Cargo.toml` of the workspace or package.
    pub fn manifest_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.manifest = Some(path.into());
        self
    }

    /// Cargo's `--target-dir`.
    pub fn target_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.target_dir = Some(dir.into());
        self
    }

    /// Builds the binary and returns its path, as cargo reports it (it is
    /// overwritten by the next build with other features).
    ///
    /// # Errors
    /// [`BuildError`] with cargo's messages when the build fails.
    pub fn build(&self) -> Result<PathBuf, BuildError> {
        self.spawn()?.finish()
    }

    /// Starts the build; see [`HostBinary::build`].
    ///
    /// # Errors
    /// [`BuildError::Spawn`] when cargo cannot be started.
    pub fn spawn(&self) -> Result<Running, BuildError> {
        spawn_build(
            self.command()?,
            format!("cargo build -p {} --bin {}", self.package, self.bin),
            &self.bin,
            &format!("/{}", executable_file_name(&self.target, &self.bin)),
        )
    }

    /// Runs the build to its end, whatever its result, and returns cargo's
    /// JSON messages.
    ///
    /// # Errors
    /// [`BuildError::Spawn`] when cargo cannot be started.
    pub(crate) fn run_for_messages(&self) -> Result<String, BuildError> {
        let output = self
            .command()?
            .stderr(Stdio::null())
            .output()
            .map_err(|source| BuildError::Spawn {
                tool: format!("cargo build -p {}", self.package),
                source,
            })?;
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn command(&self) -> Result<Command, BuildError> {
        // A macOS host gets the run path `@executable_path`, where dyld
        // then finds the runtime (`@rpath/libhcr_runtime.dylib`) for the C
        // modules that link it: only the binary's link takes the argument,
        // through `cargo rustc`, so no dependency is built again for it.
        let apple = self.target.contains("apple");
        let subcommand = if apple { "rustc" } else { "build" };
        let mut command = cargo(subcommand, &self.target)?;
        command.args([
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
        if self.all_features {
            command.arg("--all-features");
        }
        if self.no_default_features {
            command.arg("--no-default-features");
        }
        if let Some(dir) = &self.target_dir {
            command.arg("--target-dir").arg(dir);
        }
        if self.keep_going {
            command.arg("--keep-going");
        }
        command.args(&self.profile_args);
        for_target(&mut command, &self.target);
        command.envs(self.envs.iter().map(|(k, v)| (k, v)));
        if apple {
            command.args(["--", "-C", "link-arg=-Wl,-rpath,@executable_path"]);
        }
        Ok(command)
    }
}
