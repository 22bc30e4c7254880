//! One library of the dependencies the host and its modules share.
//!
//! Built the ordinary way, a module is a `cdylib` holding its own copy of
//! every crate it uses, compiled with the features cargo resolves for the
//! module alone: the host and each module then hold different builds of
//! the same framework (two `egui`s whose types differ), and framework
//! caches keep pointers into module code that a reload frees. So on
//! systems where it is supported (see [`supported`]), `cargo hcr` builds
//! a project in four steps:
//!
//! 1. Cargo builds the host's dependencies alone (`cargo build -p HOST
//!    --keep-going`, with `cargo-hcr` in rustc's place for workspace
//!    members, refusing each module crate and so what depends on one):
//!    every crate is compiled once, with the host's feature resolution.
//! 2. The crates the host, its modules and `hcr-client` name directly
//!    (other than those, and the project's crates that depend on a
//!    module) are linked into one Rust `dylib`, `hcr-shared/libhcr_shared-<hash>.so`
//!    beside the host, with everything they depend on and std linked
//!    dynamically. It is never reloaded; the hash names its contents.
//! 3. Cargo builds the host again, `cargo-hcr` adding to rustc's command
//!    line: each module crate's library loads the shared library (`--cfg
//!    hcr_shared_deps` makes `module!` name it), so the host's binary
//!    links it and std dynamically and finds them by its run path. The
//!    wrapper records, for each module crate, the command that compiles
//!    it as a module: cargo's command for its library, as a `cdylib`
//!    with `--cfg hcr_module`, in a directory of its own.
//! 4. Each module is compiled by that command, with rustc directly: its
//!    library holds only its own code and `hcr-client`.
//!
//! Host and modules then use one std, one `log` logger and one `tracing`
//! dispatcher, and one build of every framework. Cargo counts the wrapper
//! in its fingerprints: a plain `cargo build` after `cargo hcr` compiles
//! the project's own crates again (not the dependencies), and the other
//! way round. A module whose dependencies change so that they are no
//! longer those the running host holds is refused at build time, naming
//! the crate: the host must be restarted to take it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::direct::Capture;
use crate::{BuildError, BuildOptions, HostBinary, Project};

/// The environment variable that tells `cargo-hcr` it runs in rustc's
/// place, and what for (a JSON [`Plan`]).
const PLAN_VARIABLE: &str = "HCR_RUSTC_WRAPPER_PLAN";

/// The crate name of the shared library.
const CRATE_NAME: &str = "hcr_shared";

/// Whether builds for `target` link a shared library of dependencies: an
/// ELF system with run paths, built on the machine that runs it (the
/// library is found by absolute path). On Windows a Rust `dylib` of a
/// framework exceeds what a DLL can export, so each module links its own
/// copy there, compiled with the features cargo resolves for the module.
pub fn supported(target: &str) -> bool {
    target.contains("linux") && target == env!("HCR_BUILD_HOST")
}

/// The directory of the shared library and of what goes with it, under
/// the profile's output directory.
fn directory(output_dir: &Path) -> PathBuf {
    output_dir.join("hcr-shared")
}

/// The strings of a JSON array; `None` if it is not one.
fn json_strings(value: &Value) -> Option<Vec<String>> {
    let items = value.as_array()?.iter();
    Some(
        items
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect(),
    )
}

/// A crate the shared library holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HeldCrate {
    /// Its crate name.
    name: String,
    /// Its library's file stem: `lib<name>-<hash>`.
    stem: String,
    /// Its features.
    features: Vec<String>,
}

/// The shared library of a project's dependencies, as built last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SharedLibrary {
    /// The library.
    pub(crate) path: PathBuf,
    /// Where the toolchain's std library is (`rustc --print
    /// target-libdir`).
    std_dir: PathBuf,
    /// The crates it was linked from.
    crates: Vec<HeldCrate>,
}

impl SharedLibrary {
    /// Where its description is recorded.
    fn record_path(output_dir: &Path) -> PathBuf {
        directory(output_dir).join("library.json")
    }

    fn to_json(&self) -> Value {
        json!({
            "path": self.path,
            "std_dir": self.std_dir,
            "crates": self.crates.iter().map(|held| json!({
                "name": held.name, "stem": held.stem, "features": held.features,
            })).collect::<Vec<_>>(),
        })
    }

    fn from_json(value: &Value) -> Option<SharedLibrary> {
        let crates = value["crates"]
            .as_array()?
            .iter()
            .map(|held| {
                Some(HeldCrate {
                    name: held["name"].as_str()?.to_owned(),
                    stem: held["stem"].as_str()?.to_owned(),
                    features: json_strings(&held["features"]).unwrap_or_default(),
                })
            })
            .collect::<Option<_>>()?;
        Some(SharedLibrary {
            path: PathBuf::from(value["path"].as_str()?),
            std_dir: PathBuf::from(value["std_dir"].as_str()?),
            crates,
        })
    }

    /// The library last built for the profile whose output directory is
    /// `output_dir`, if it is still there.
    pub(crate) fn current(output_dir: &Path) -> Option<SharedLibrary> {
        let text = std::fs::read_to_string(Self::record_path(output_dir)).ok()?;
        let library = Self::from_json(&serde_json::from_str(&text).ok()?)?;
        library.path.is_file().then_some(library)
    }
}

/// What the wrapper does in one cargo run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// Dependencies only: the module crates (by crate name) are refused,
    /// and so never is what depends on them (the host).
    DependenciesOnly { modules: Vec<String> },
    /// The project, against the shared library.
    Shared {
        library: SharedLibrary,
        /// The crate names of the module crates.
        modules: Vec<String>,
        /// The profile's output directory, where commands are recorded.
        output_dir: PathBuf,
    },
}

impl Plan {
    fn to_json(&self) -> Value {
        match self {
            Plan::DependenciesOnly { modules } => json!({ "refused": modules }),
            Plan::Shared {
                library,
                modules,
                output_dir,
            } => json!({
                "library": library.to_json(),
                "modules": modules,
                "output_dir": output_dir,
            }),
        }
    }

    fn from_json(value: &Value) -> Option<Plan> {
        if let Some(modules) = json_strings(&value["refused"]) {
            return Some(Plan::DependenciesOnly { modules });
        }
        Some(Plan::Shared {
            library: SharedLibrary::from_json(&value["library"])?,
            modules: json_strings(&value["modules"])?,
            output_dir: PathBuf::from(value["output_dir"].as_str()?),
        })
    }
}

/// A cargo build of the host with the wrapper following `plan`.
fn host_build(project: &Project, options: &BuildOptions, plan: &Plan) -> HostBinary {
    let wrapper = options.wrapper.clone().unwrap_or_default();
    crate::layout::host_binary(project, options)
        .env("RUSTC_WORKSPACE_WRAPPER", wrapper)
        .env(PLAN_VARIABLE, plan.to_json().to_string())
}

/// The crate names of the project's module crates.
fn module_crates(project: &Project) -> Vec<String> {
    let crates = project.modules.iter();
    crates
        .map(|module| module.package.replace('-', "_"))
        .collect()
}

/// The host's build against the shared library `library` (step 3).
pub(crate) fn host_against(
    project: &Project,
    options: &BuildOptions,
    library: &SharedLibrary,
) -> HostBinary {
    let plan = Plan::Shared {
        library: library.clone(),
        modules: module_crates(project),
        output_dir: options.output_dir(project),
    };
    host_build(project, options, &plan)
}

/// Builds the host's dependencies and links the shared library of those
/// the project names (steps 1 and 2), unless the one built last holds
/// the same builds; reports each step to `status`.
///
/// # Errors
/// [`BuildError`] when cargo cannot run, a dependency fails to compile
/// (cargo's messages), or the library does not link (rustc's).
pub(crate) fn prepare(
    project: &Project,
    options: &BuildOptions,
    status: &mut dyn FnMut(&str),
) -> Result<SharedLibrary, BuildError> {
    status(&format!(
        "building the dependencies of host `{}`…",
        project.host
    ));
    let refused = Plan::DependenciesOnly {
        modules: module_crates(project),
    };
    let dependencies = host_build(project, options, &refused).keep_going();
    let messages = dependencies.run_for_messages()?;
    let mut crates = Vec::new();
    let mut rlibs = Vec::new();
    for message in messages.lines() {
        let Ok(message) = serde_json::from_str::<Value>(message) else {
            continue;
        };
        if message["reason"] != "compiler-artifact"
            || !message["package_id"]
                .as_str()
                .is_some_and(|id| project.shared_packages.contains(id))
        {
            continue;
        }
        let files = message["filenames"].as_array().into_iter().flatten();
        for rlib in files
            .filter_map(Value::as_str)
            .filter(|f| f.ends_with(".rlib"))
        {
            let rlib = PathBuf::from(rlib);
            let stem = rlib
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            crates.push(HeldCrate {
                name: message["target"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .replace('-', "_"),
                stem,
                features: json_strings(&message["features"]).unwrap_or_default(),
            });
            rlibs.push(rlib);
        }
    }
    let output_dir = options.output_dir(project);
    let root = project.manifest.parent().unwrap_or(Path::new("."));
    // A dependency that failed to build is left out: cargo's build of the
    // host (step 3) says why, with its messages.
    rlibs.sort();
    crates.sort_by(|a, b| a.stem.cmp(&b.stem));
    let std_dir = rustc_output(root, &["--print", "target-libdir"])?;
    let version = rustc_output(root, &["-vV"])?;
    let hash = fingerprint(&rlibs, &version);
    let dir = directory(&output_dir);
    let library = SharedLibrary {
        path: dir.join(format!("lib{CRATE_NAME}-{hash}.so")),
        std_dir: PathBuf::from(std_dir),
        crates,
    };
    if !library.path.is_file() {
        status(&format!(
            "linking the {} crates the host and its modules share into {}…",
            rlibs.len(),
            library.path.display()
        ));
        link(&library, &rlibs, &hash, &output_dir.join("deps"), root)?;
    }
    let record = SharedLibrary::record_path(&output_dir);
    std::fs::write(&record, library.to_json().to_string()).map_err(|source| {
        BuildError::Layout {
            path: record.clone(),
            source,
        }
    })?;
    remove_others(&dir, &library.path);
    Ok(library)
}

/// What rustc prints for `args`, trimmed (run where cargo would run it,
/// so that the project's toolchain file applies).
fn rustc_output(root: &Path, args: &[&str]) -> Result<String, BuildError> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let output = Command::new(&rustc)
        .args(args)
        .current_dir(root)
        .output()
        .map_err(|source| BuildError::Spawn {
            tool: "rustc".to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Failed {
            tool: format!("rustc {}", args.join(" ")),
            status: output.status,
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A short hash naming a library linked from `rlibs` by `version`
/// (FNV-1a: stable across builds of this tool).
fn fingerprint(rlibs: &[PathBuf], version: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let texts = rlibs
        .iter()
        .map(|path| path.to_string_lossy().into_owned())
        .chain([version.to_owned()]);
    for text in texts {
        for byte in text.bytes().chain([0]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Links `library` from `rlibs` (found with their dependencies in `deps`).
fn link(
    library: &SharedLibrary,
    rlibs: &[PathBuf],
    hash: &str,
    deps: &Path,
    root: &Path,
) -> Result<(), BuildError> {
    let dir = library.path.parent().unwrap_or(Path::new("."));
    let layout_error = |source| BuildError::Layout {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(layout_error)?;
    let source: String = (0..rlibs.len())
        .map(|i| format!("pub extern crate hcr_dependency_{i};\n"))
        .collect();
    let source_path = dir.join("lib.rs");
    std::fs::write(&source_path, source).map_err(layout_error)?;
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    let mut command = Command::new(&rustc);
    command
        .current_dir(root)
        .args(["--crate-name", CRATE_NAME, "--crate-type", "dylib"])
        .args(["--edition", "2021", "--cap-lints", "allow"])
        .args(["-C", "prefer-dynamic"])
        .arg("-C")
        .arg(format!("metadata={hash}"))
        .arg("-C")
        .arg(format!("extra-filename=-{hash}"))
        .arg("-C")
        .arg(format!("link-arg=-Wl,-rpath,{}", library.std_dir.display()))
        .arg("--out-dir")
        .arg(dir)
        .arg("-L")
        .arg(format!("dependency={}", deps.display()))
        .arg(&source_path);
    for (i, rlib) in rlibs.iter().enumerate() {
        command
            .arg("--extern")
            .arg(format!("hcr_dependency_{i}={}", rlib.display()));
    }
    let output = command.stderr(Stdio::piped()).output();
    crate::finished("rustc (the shared library)".to_owned(), output)
}

/// Removes the shared libraries in `dir` other than `keep`: a host
/// running one keeps it mapped.
fn remove_others(dir: &Path, keep: &Path) {
    let prefix = format!("lib{CRATE_NAME}-");
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && path != keep {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Where the command compiling module crate `package` is recorded.
fn command_record(output_dir: &Path, package: &str) -> PathBuf {
    directory(output_dir).join("commands").join(package)
}

/// The command that compiles module crate `package` (crate `crate_name`)
/// against the shared library, as the host's last build recorded it;
/// `cwd` is the workspace root.
pub(crate) fn module_command(
    output_dir: &Path,
    package: &str,
    crate_name: &str,
    cwd: &Path,
) -> Option<Capture> {
    let line = std::fs::read_to_string(command_record(output_dir, package)).ok()?;
    Capture::from_cargo(&line, crate_name, cwd)
}

/// [`module_command`], or the error that the host's build recorded none.
///
/// # Errors
/// [`BuildError::Project`] naming the module crate.
pub(crate) fn recorded_command(
    output_dir: &Path,
    package: &str,
    crate_name: &str,
    cwd: &Path,
) -> Result<Capture, BuildError> {
    module_command(output_dir, package, crate_name, cwd).ok_or_else(|| {
        BuildError::Project(format!(
            "the host's build recorded no command for module crate `{package}`"
        ))
    })
}

/// Module crate `package`'s library (crate `crate_name`) built against
/// the shared library: the one built last if it is newer than its
/// command and its sources, else built now by the command the host's
/// build recorded (`cwd`: the workspace root).
///
/// # Errors
/// [`BuildError`] when no command was recorded or rustc fails.
pub(crate) fn module_library(
    output_dir: &Path,
    package: &str,
    crate_name: &str,
    cwd: &Path,
) -> Result<PathBuf, BuildError> {
    let command = recorded_command(output_dir, package, crate_name, cwd)?;
    let recorded = std::fs::metadata(command_record(output_dir, package))
        .and_then(|meta| meta.modified())
        .ok();
    if let Some(library) = recorded.and_then(|at| command.fresh_output(crate_name, at)) {
        return Ok(library);
    }
    command.spawn()?.finish()
}

/// Runs as rustc's wrapper when cargo started this program as one (the
/// plan variable is set): returns rustc's exit code, or `None` when this
/// is not such a run.
pub fn run_as_rustc_wrapper() -> Option<i32> {
    let plan = std::env::var(PLAN_VARIABLE).ok()?;
    let mut args = std::env::args_os().skip(1);
    let rustc = args.next()?;
    let args: Vec<String> = args.map(|arg| arg.to_string_lossy().into_owned()).collect();
    let Some(plan) = serde_json::from_str(&plan)
        .ok()
        .and_then(|v| Plan::from_json(&v))
    else {
        eprintln!("hcr: cannot read {PLAN_VARIABLE}");
        return Some(1);
    };
    Some(wrap(&plan, &rustc, args))
}

/// Every value of `--name value` in `args`.
fn values<'a>(args: &'a [String], name: &str) -> Vec<&'a str> {
    args.windows(2)
        .filter(|pair| pair[0] == name)
        .map(|pair| pair[1].as_str())
        .collect()
}

/// One rustc run for a workspace member, as `plan` says.
fn wrap(plan: &Plan, rustc: &OsString, mut args: Vec<String>) -> i32 {
    let crate_name = values(&args, "--crate-name")
        .first()
        .map(|s| (*s).to_owned());
    // Cargo's questions to rustc (`-vV`, `--print`) compile no crate.
    let Some(crate_name) = crate_name.filter(|name| name != "___") else {
        return run(rustc, &args);
    };
    let (library, modules, output_dir) = match plan {
        Plan::Shared {
            library,
            modules,
            output_dir,
        } => (library, modules, output_dir),
        // Refused: cargo goes on with the rest (--keep-going).
        Plan::DependenciesOnly { modules } if modules.contains(&crate_name) => return 1,
        Plan::DependenciesOnly { .. } => return run(rustc, &args),
    };
    let library_dir = library.path.parent().unwrap_or(Path::new("."));
    args.push("-L".to_owned());
    args.push(format!("dependency={}", library_dir.display()));
    let types: Vec<String> = values(&args, "--crate-type")
        .into_iter()
        .map(str::to_owned)
        .collect();
    if types.iter().any(|kind| kind == "bin") {
        if without_lto(&mut args) {
            eprintln!(
                "hcr: `{crate_name}` is linked without the profile's LTO, which cannot link the \
                 shared library of dependencies (static builds keep it)"
            );
        }
        args.extend(["-C".to_owned(), "prefer-dynamic".to_owned()]);
        for dir in [library_dir, &library.std_dir] {
            args.push("-C".to_owned());
            args.push(format!("link-arg=-Wl,-rpath,{}", dir.display()));
        }
    }
    let is_module = types == ["lib"] && modules.contains(&crate_name);
    if !is_module {
        return run(rustc, &args);
    }
    if let Err(message) = same_builds(library, &args) {
        eprintln!("error: {message}");
        return 1;
    }
    args.extend(["--cfg".to_owned(), "hcr_shared_deps".to_owned()]);
    args.push("--extern".to_owned());
    args.push(format!("{CRATE_NAME}={}", library.path.display()));
    let code = run(rustc, &args);
    if code == 0 {
        record_module_command(output_dir, rustc, &args, &crate_name);
    }
    code
}

/// Takes link-time optimization (`-C lto`, `-C lto=fat|thin|yes|true`)
/// out of `args`, as it cannot link dynamically; whether there was any.
fn without_lto(args: &mut Vec<String>) -> bool {
    let is_lto = |option: &str| {
        option == "lto"
            || option
                .strip_prefix("lto=")
                .is_some_and(|value| !["off", "no", "false", "n"].contains(&value))
    };
    let mut kept = Vec::with_capacity(args.len());
    let mut removed = false;
    let mut words = std::mem::take(args).into_iter().peekable();
    while let Some(arg) = words.next() {
        if arg == "-C" && words.peek().is_some_and(|option| is_lto(option)) {
            words.next();
            removed = true;
        } else {
            kept.push(arg);
        }
    }
    *args = kept;
    removed
}

/// Refuses a module whose dependencies are other builds of crates the
/// shared library holds: it could not be loaded beside them.
fn same_builds(library: &SharedLibrary, args: &[String]) -> Result<(), String> {
    for dependency in values(args, "--extern") {
        let Some((_, path)) = dependency.split_once('=') else {
            continue;
        };
        let Some(stem) = Path::new(path).file_stem().map(|s| s.to_string_lossy()) else {
            continue;
        };
        let Some((name, _)) = stem.strip_prefix("lib").and_then(|s| s.rsplit_once('-')) else {
            continue;
        };
        let held = library.crates.iter().filter(|held| {
            held.stem
                .strip_prefix("lib")
                .and_then(|s| s.rsplit_once('-'))
                .is_some_and(|(held_name, _)| held_name == name)
        });
        let held: Vec<&HeldCrate> = held.collect();
        if !held.is_empty() && !held.iter().any(|held| held.stem == stem) {
            return Err(format!(
                "hcr: this build of `{name}` ({stem}) is not the one the running host's shared \
                 library holds ({}, features [{}]): its version or features changed since the \
                 host was built; restart `cargo hcr run` (or run `cargo hcr build`) to rebuild \
                 the host with it",
                held[0].stem,
                held[0].features.join(", ")
            ));
        }
    }
    Ok(())
}

/// Runs rustc with `args`, passing its output through.
fn run(rustc: &OsString, args: &[String]) -> i32 {
    match Command::new(rustc).args(args).status() {
        Ok(status) => status.code().unwrap_or(1),
        Err(err) => {
            eprintln!("hcr: cannot run {}: {err}", rustc.to_string_lossy());
            1
        }
    }
}

/// The command that compiles a module crate as a module, from cargo's
/// command `args` for its library (with the shared library added):
/// a `cdylib` with `--cfg hcr_module`, linking its dependencies' rlibs,
/// written with its dep-info and incremental state under `directory`.
fn module_args(args: &[String], directory: &Path) -> Vec<String> {
    let mut module = Vec::with_capacity(args.len() + 4);
    let mut words = args.iter();
    while let Some(arg) = words.next() {
        let value = match arg.as_str() {
            "--crate-type" | "--out-dir" | "-C" | "--extern" => words.next(),
            _ => None,
        };
        match (arg.as_str(), value.map(String::as_str)) {
            ("--crate-type", Some(_)) => {
                module.extend(["--crate-type".to_owned(), "cdylib".to_owned()]);
            }
            ("--out-dir", Some(_)) => {
                module.push("--out-dir".to_owned());
                module.push(directory.join("modules").display().to_string());
            }
            ("-C", Some(option)) if option.starts_with("extra-filename=") => {}
            ("-C", Some(option)) if option.starts_with("incremental=") => {
                module.push("-C".to_owned());
                module.push(format!(
                    "incremental={}",
                    directory.join("incremental").display()
                ));
            }
            ("--extern", Some(dependency)) => {
                module.push("--extern".to_owned());
                module.push(match dependency.strip_suffix(".rmeta") {
                    Some(stem) => format!("{stem}.rlib"),
                    None => dependency.to_owned(),
                });
            }
            (_, Some(value)) => {
                module.push(arg.clone());
                module.push(value.to_owned());
            }
            (emit, None) if emit.starts_with("--emit=") => {
                module.push("--emit=dep-info,link".to_owned());
            }
            _ => module.push(arg.clone()),
        }
    }
    module.extend(["--cfg", "hcr_module", "-C", "prefer-dynamic"].map(str::to_owned));
    module
}

/// Records the command compiling module crate `crate_name` as a module
/// (best effort: without it, the module's build says it has none), with
/// the dep-info of the library build just made, which lists its sources.
fn record_module_command(output_dir: &Path, rustc: &OsString, args: &[String], crate_name: &str) {
    let Ok(package) = std::env::var("CARGO_PKG_NAME") else {
        return;
    };
    let directory = directory(output_dir);
    let module = module_args(args, &directory);
    let modules_dir = directory.join("modules");
    let _ = std::fs::create_dir_all(&modules_dir);
    // Cargo's dep-info of the library it just built, for the sources.
    let out_dir = values(args, "--out-dir").first().map(PathBuf::from);
    let extra = values(args, "-C")
        .iter()
        .find_map(|option| option.strip_prefix("extra-filename="))
        .unwrap_or("")
        .to_owned();
    if let Some(out_dir) = out_dir {
        let dep_info = out_dir.join(format!("{crate_name}{extra}.d"));
        let _ = std::fs::copy(dep_info, modules_dir.join(format!("{crate_name}.d")));
    }
    // What cargo sets for this crate's rustc, as its `-vv` shows it; the
    // rest of the environment is inherited by a direct build anyway.
    let envs = std::env::vars().filter(|(name, _)| {
        ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
            || [
                "CARGO",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_RUSTC_CURRENT_DIR",
                "OUT_DIR",
            ]
            .contains(&name.as_str())
    });
    let words: Vec<String> = envs
        .map(|(name, value)| format!("{name}={value}"))
        .chain([rustc.to_string_lossy().into_owned()])
        .chain(module)
        .collect();
    let line = format!("Running `{}`\n", shell_words::join(words));
    let record = command_record(output_dir, &package);
    if let Some(dir) = record.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(record, line);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn a_module_s_command_is_its_library_s_as_a_cdylib_linking_rlibs() {
        let args = strings(&[
            "--crate-name",
            "logic",
            "--edition=2024",
            "logic/src/lib.rs",
            "--crate-type",
            "lib",
            "--emit=dep-info,metadata,link",
            "-C",
            "metadata=7963",
            "-C",
            "extra-filename=-abbc",
            "--out-dir",
            "/t/debug/deps",
            "-C",
            "incremental=/t/debug/incremental",
            "-L",
            "dependency=/t/debug/deps",
            "--extern",
            "egui=/t/debug/deps/libegui-f2ff.rmeta",
            "--extern",
            "hcr_shared=/t/debug/hcr-shared/libhcr_shared-1.so",
        ]);
        let module = module_args(&args, Path::new("/t/debug/hcr-shared"));
        assert_eq!(
            module,
            strings(&[
                "--crate-name",
                "logic",
                "--edition=2024",
                "logic/src/lib.rs",
                "--crate-type",
                "cdylib",
                "--emit=dep-info,link",
                "-C",
                "metadata=7963",
                "--out-dir",
                "/t/debug/hcr-shared/modules",
                "-C",
                "incremental=/t/debug/hcr-shared/incremental",
                "-L",
                "dependency=/t/debug/deps",
                "--extern",
                "egui=/t/debug/deps/libegui-f2ff.rlib",
                "--extern",
                "hcr_shared=/t/debug/hcr-shared/libhcr_shared-1.so",
                "--cfg",
                "hcr_module",
                "-C",
                "prefer-dynamic",
            ])
        );
    }

    #[test]
    fn a_host_s_link_time_optimization_is_taken_out_and_said() {
        let mut args = strings(&["--crate-type", "bin", "-C", "lto", "-C", "opt-level=3"]);
        assert!(without_lto(&mut args));
        assert_eq!(args, strings(&["--crate-type", "bin", "-C", "opt-level=3"]));
        let mut thin = strings(&["-C", "lto=thin"]);
        assert!(without_lto(&mut thin));
        assert!(thin.is_empty());
        let mut off = strings(&["-C", "lto=off", "-C", "debuginfo=2"]);
        assert!(!without_lto(&mut off));
        assert_eq!(off, strings(&["-C", "lto=off", "-C", "debuginfo=2"]));
    }

    fn library_holding(stems: &[&str]) -> SharedLibrary {
        SharedLibrary {
            path: PathBuf::from("/t/hcr-shared/libhcr_shared-1.so"),
            std_dir: PathBuf::from("/rust/lib"),
            crates: stems
                .iter()
                .map(|stem| HeldCrate {
                    name: stem[3..stem.rfind('-').unwrap()].to_owned(),
                    stem: (*stem).to_owned(),
                    features: vec!["default_fonts".to_owned()],
                })
                .collect(),
        }
    }

    #[test]
    fn a_module_built_against_other_builds_of_held_crates_is_refused_by_name() {
        let library = library_holding(&["libegui-aaaa", "liblog-bbbb", "liblog-cccc"]);
        let args = |egui: &str| {
            strings(&[
                "--extern",
                &format!("egui=/d/libegui-{egui}.rmeta"),
                "--extern",
                "log=/d/liblog-cccc.rmeta",
                "--extern",
                "rand=/d/librand-dddd.rmeta",
            ])
        };
        assert_eq!(same_builds(&library, &args("aaaa")), Ok(()));
        let refused = same_builds(&library, &args("ffff")).unwrap_err();
        assert!(refused.contains("`egui` (libegui-ffff)"), "{refused}");
        assert!(
            refused.contains("libegui-aaaa, features [default_fonts]"),
            "{refused}"
        );
        assert!(refused.contains("restart `cargo hcr run`"), "{refused}");
    }

    #[test]
    fn plans_and_libraries_survive_their_json() {
        let plan = Plan::Shared {
            library: library_holding(&["libegui-aaaa"]),
            modules: vec!["logic".to_owned()],
            output_dir: PathBuf::from("/t/debug"),
        };
        assert_eq!(Plan::from_json(&plan.to_json()), Some(plan));
        let only = Plan::DependenciesOnly {
            modules: vec!["logic".to_owned()],
        };
        assert_eq!(Plan::from_json(&only.to_json()), Some(only));
    }

    #[test]
    fn the_library_s_name_changes_with_its_contents() {
        let rlibs = |hash: &str| vec![PathBuf::from(format!("/d/libegui-{hash}.rlib"))];
        assert_eq!(
            fingerprint(&rlibs("a"), "1.95"),
            fingerprint(&rlibs("a"), "1.95")
        );
        assert_ne!(
            fingerprint(&rlibs("a"), "1.95"),
            fingerprint(&rlibs("b"), "1.95")
        );
        assert_ne!(
            fingerprint(&rlibs("a"), "1.95"),
            fingerprint(&rlibs("a"), "1.96")
        );
    }
}
