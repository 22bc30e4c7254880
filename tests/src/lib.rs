//! Support for the integration tests: the C fixture modules, built once per
//! test run, and scenarios that each run in a process of their own (the
//! runtime is one per process, at a fixed address, with no reset).
//!
//! A scenario is an ordinary `#[test]`. Run normally, it re-executes the
//! test binary for just that test with `HCR_SCENARIO` set; the child sees
//! the variable and runs the body against a fresh [`Host`].

use std::ffi::c_int;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hcr_build::{CModule, RustModule};
use hcr_client::RuntimeLibrary;

mod sys;

/// `-D` switches of a fixture build.
type Defines = &'static [(&'static str, &'static str)];

/// Each fixture: output name, source file, `-D` switches.
const FIXTURES: &[(&str, &str, Defines)] = &[
    ("leaf-1", "tree.c", &[("NAME", "leaf"), ("VERSION", "1")]),
    (
        "leaf-2",
        "tree.c",
        &[("NAME", "leaf"), ("VERSION", "2"), ("NEW_GLOBAL", "1")],
    ),
    (
        "mid-1",
        "tree.c",
        &[
            ("NAME", "mid"),
            ("VERSION", "1"),
            ("IMPORT", "leaf"),
            ("CAN_VETO", "1"),
        ],
    ),
    (
        "mid-2",
        "tree.c",
        &[
            ("NAME", "mid"),
            ("VERSION", "2"),
            ("IMPORT", "leaf"),
            ("CAN_VETO", "1"),
        ],
    ),
    (
        "mid-2-failing",
        "tree.c",
        &[
            ("NAME", "mid"),
            ("VERSION", "2"),
            ("IMPORT", "leaf"),
            ("CAN_VETO", "1"),
            ("FAIL_INIT", "3"),
        ],
    ),
    (
        "top-1",
        "tree.c",
        &[("NAME", "top"), ("VERSION", "1"), ("IMPORT", "mid")],
    ),
    ("spin-1", "tree.c", &[("NAME", "spin"), ("VERSION", "1")]),
    ("spin-2", "tree.c", &[("NAME", "spin"), ("VERSION", "2")]),
    ("spin-3", "tree.c", &[("NAME", "spin"), ("VERSION", "3")]),
    (
        "spin-divides",
        "tree.c",
        &[("NAME", "spin"), ("VERSION", "5"), ("DIVIDES_BY_ZERO", "1")],
    ),
    (
        "spin-touchy",
        "tree.c",
        &[("NAME", "spin"), ("VERSION", "1"), ("INIT_OBEYS_VETO", "1")],
    ),
    (
        "spin-faulty",
        "tree.c",
        &[("NAME", "spin"), ("VERSION", "4"), ("FAULTY", "1")],
    ),
    ("state-1", "state.c", &[("VERSION", "1")]),
    ("state-2", "state.c", &[("VERSION", "2")]),
    ("state-3", "state.c", &[("VERSION", "3")]),
    ("state-4", "state.c", &[("VERSION", "4")]),
    ("state-5", "state.c", &[("VERSION", "5")]),
    ("grower-1", "grower.c", &[("VERSION", "1")]),
    ("grower-2", "grower.c", &[("VERSION", "2")]),
    ("grower-3", "grower.c", &[("VERSION", "3")]),
    ("extra", "extra.c", &[]),
    ("plain", "plain.c", &[]),
    ("cyc_a", "cycle.c", &[("NAME", "cyc_a"), ("OTHER", "cyc_b")]),
    ("cyc_b", "cycle.c", &[("NAME", "cyc_b"), ("OTHER", "cyc_a")]),
    ("cfx", "cfx.c", &[]),
];

/// Each Rust fixture: output name, package, cfgs for the module build.
const RUST_FIXTURES: &[(&str, &str, &[&str])] = &[
    ("fx_shapes-1", "fx_shapes", &[]),
    ("fx_shapes-2", "fx_shapes", &["fixture_version=\"2\""]),
    (
        "fx_shapes-signature",
        "fx_shapes",
        &["fixture_signature_changed"],
    ),
    (
        "fx_shapes-frame-grown",
        "fx_shapes",
        &["fixture_frame_grown"],
    ),
    ("fx_app-1", "fx_app", &[]),
    ("fx_state-1", "fx_state", &[]),
    ("fx_state-2", "fx_state", &["fixture_version=\"2\""]),
    (
        "fx_state-initializer",
        "fx_state",
        &["fixture_initializer_changed"],
    ),
    ("fx_state-field-added", "fx_state", &["fixture_field_added"]),
    (
        "fx_state-fields-reordered",
        "fx_state",
        &["fixture_fields_reordered"],
    ),
    (
        "fx_state-field-retyped",
        "fx_state",
        &["fixture_field_retyped"],
    ),
    ("fx_state-migrated", "fx_state", &["fixture_migrated"]),
    (
        "fx_state-codec",
        "fx_state",
        &["fixture_codec_changed", "fixture_version=\"2\""],
    ),
    ("fx_state-load-fails", "fx_state", &["fixture_load_fails"]),
    ("fx_state_user-1", "fx_state_user", &[]),
    ("fx_nim_leaf-1", "fx_nim_leaf", &[]),
    ("fx_nim_leaf-6", "fx_nim_leaf", &["fixture_version=\"6\""]),
    ("fx_nim_mid-1", "fx_nim_mid", &[]),
    ("fx_nim_mid-2", "fx_nim_mid", &["fixture_version=\"2\""]),
    ("fx_nim_mid-3", "fx_nim_mid", &["fixture_version=\"3\""]),
    ("fx_nim_mid-4", "fx_nim_mid", &["fixture_version=\"4\""]),
    (
        "fx_nim_mid-retyped",
        "fx_nim_mid",
        &["fixture_global_retyped"],
    ),
    ("fx_nim_extra-1", "fx_nim_extra", &[]),
    ("fx_nim_top-1", "fx_nim_top", &[]),
    ("fx_nim_top-3", "fx_nim_top", &["fixture_version=\"3\""]),
    ("fx_nim_top-5", "fx_nim_top", &["fixture_version=\"5\""]),
];

/// How long one scenario process may run.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);

/// The runtime and the fixtures, built.
#[derive(Debug)]
pub struct Built {
    /// The runtime library (`libhcr_runtime.so`, `hcr_runtime.dll`).
    pub runtime: PathBuf,
    /// The directory of the fixtures ([`library_file`] of each variant).
    pub fixtures: PathBuf,
}

/// The file name of module `name`'s library on the target these tests
/// were built for: `lib<name>.so`, or `<name>.dll` on Windows.
pub fn library_file(name: &str) -> String {
    hcr_build::library_file_name(hcr_build::build_target(), name)
}

/// Environment variable: a directory where `hcr-test-fixtures` built the
/// runtime, the fixtures and the binaries the tests run for the target
/// beforehand (for a target whose test binaries cannot run the build
/// tools, such as Windows under wine).
pub const PREBUILT_ENV: &str = "HCR_TEST_PREBUILT";

/// Builds the runtime and every fixture, once per test run, for tests that
/// run hosts of their own; `work` is the test's `CARGO_TARGET_TMPDIR`.
pub fn built_fixtures(work: &Path) -> &'static Built {
    built(work)
}

/// Builds the runtime and every fixture once per test run, or takes them
/// from `$HCR_TEST_PREBUILT`.
fn built(work: &Path) -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| match std::env::var_os(PREBUILT_ENV) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            Built {
                runtime: dir.join(library_file("hcr_runtime")),
                fixtures: dir.join("fixtures"),
            }
        }
        None => build_fixtures(hcr_build::build_target(), work),
    })
}

/// Builds the runtime and the C and Rust fixtures for `target` into `out`
/// (the fixtures into `out/fixtures`).
/// The runtime is copied into `out`, with its import library on Windows.
///
/// # Panics
/// When a build fails, with the builder's message.
pub fn build_fixtures(target: &str, out: &Path) -> Built {
    let name = |base: &str| hcr_build::library_file_name(target, base);
    let built_runtime =
        hcr_build::runtime_library_for(target, false).unwrap_or_else(|err| panic!("{err}"));
    let runtime_dir = built_runtime.parent().expect("a file has a directory");
    let fixtures = out.join("fixtures");
    std::fs::create_dir_all(&fixtures).unwrap();
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    for (variant, source, defines) in FIXTURES {
        let module = defines
            .iter()
            .fold(
                CModule::new(sources.join(source)).target(target),
                |module, (k, v)| module.define(k, v),
            )
            .link_runtime(runtime_dir);
        module
            .build(&fixtures.join(name(variant)))
            .unwrap_or_else(|err| panic!("fixture {variant}: {err}"));
    }
    // A library built beside the fixtures, never where a loader looks for
    // it, and a module that needs it.
    let deps = out.join("deps");
    std::fs::create_dir_all(&deps).unwrap();
    let missing = deps.join(name("missingdep"));
    CModule::new(sources.join("missingdep.c"))
        .target(target)
        .build(&missing)
        .unwrap_or_else(|err| panic!("fixture missingdep: {err}"));
    CModule::new(sources.join("needy.c"))
        .target(target)
        .link(&deps, "missingdep")
        .link_runtime(runtime_dir)
        .build(&fixtures.join(name("needy")))
        .unwrap_or_else(|err| panic!("fixture needy: {err}"));
    let manifest = hcr_build::workspace_dir().join("Cargo.toml");
    for (variant, package, cfgs) in RUST_FIXTURES {
        let module = cfgs.iter().fold(
            RustModule::new(package)
                .manifest_path(&manifest)
                .target(target),
            |module, cfg| module.cfg(cfg),
        );
        let library = module
            .build()
            .unwrap_or_else(|err| panic!("fixture {variant}: {err}"));
        std::fs::copy(&library, fixtures.join(name(variant))).unwrap();
    }
    let runtime = out.join(name("hcr_runtime"));
    if runtime != built_runtime {
        std::fs::copy(&built_runtime, &runtime).unwrap();
    }
    Built { runtime, fixtures }
}

/// The binaries [`build_binary`] can take from `$HCR_TEST_PREBUILT` (its
/// `binaries` directory), as `(package, bin, features, name)`: those the
/// tests that run under wine ask for.
pub const PREBUILT_BINARIES: &[(&str, &str, &[&str], &str)] = &[
    ("fx_state_host", "fx_state_host", &[], "hot"),
    ("fx_state_host", "fx_state_host", &["static"], "static"),
];

/// Builds binary `bin` of `package` for `target` with `features` into
/// `dir` as `name` (plus `.exe` on Windows), and returns its path.
///
/// # Panics
/// When the build fails, with cargo's message.
pub fn build_binary_for(
    target: &str,
    dir: &Path,
    package: &str,
    bin: &str,
    features: &[&str],
    name: &str,
) -> PathBuf {
    let binary = features
        .iter()
        .fold(
            hcr_build::HostBinary::new(package, bin)
                .manifest_path(hcr_build::workspace_dir().join("Cargo.toml"))
                .target(target),
            |binary, feature| binary.feature(feature),
        )
        .build()
        .unwrap_or_else(|err| panic!("{err}"));
    std::fs::create_dir_all(dir).unwrap();
    let copy = dir.join(hcr_build::executable_file_name(target, name));
    std::fs::copy(binary, &copy).unwrap();
    copy
}

/// Builds binary `bin` of `package` with `features` and keeps a copy named
/// `name` under the tests' scratch directory `work` (the next build with
/// other features overwrites cargo's own file). With `$HCR_TEST_PREBUILT`,
/// takes it from there instead (see [`PREBUILT_BINARIES`]).
pub fn build_binary(
    work: &Path,
    package: &str,
    bin: &str,
    features: &[&str],
    name: &str,
) -> PathBuf {
    if let Some(dir) = std::env::var_os(PREBUILT_ENV) {
        let prebuilt =
            Path::new(&dir)
                .join("binaries")
                .join(package)
                .join(hcr_build::executable_file_name(
                    hcr_build::build_target(),
                    name,
                ));
        assert!(
            prebuilt.is_file(),
            "{} was not prebuilt: add it to PREBUILT_BINARIES",
            prebuilt.display()
        );
        return prebuilt;
    }
    // One build and copy at a time: builds of one binary with other
    // features write the same file.
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = work.join("binaries").join(package);
    build_binary_for(
        hcr_build::build_target(),
        &dir,
        package,
        bin,
        features,
        name,
    )
}

/// A stand-in for another compiler: runs rustc, but reports another
/// version (a development build of the same release, which tools that
/// read the version, cargo-zigbuild among them, accept), as cargo and
/// hcr-client's build script ask it.
const OTHER_RUSTC: &str = r#"#!/bin/sh
rustc="$1"; shift
case " $* " in
  *" -V "*|*" -vV "*|*" --version "*)
    "$rustc" "$@" | sed -e 's/^rustc \([0-9.]*\)/rustc \1-dev/' -e 's/^release: \(.*\)/release: \1-dev/' ;;
  *) exec "$rustc" "$@" ;;
esac
"#;

/// Builds fixture `fx_shapes` for `target` with a stand-in for another
/// compiler, in `dir` with a target directory of its own (everything is
/// rebuilt, as for a real other compiler), and returns the library. Slow:
/// only the test that needs it calls this.
///
/// # Panics
/// When the build fails, with cargo's message.
pub fn build_fx_shapes_by_another_compiler(target: &str, dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let wrapper = dir.join("other-rustc");
    std::fs::write(&wrapper, OTHER_RUSTC).unwrap();
    sys::make_executable(&wrapper);
    let library = RustModule::new("fx_shapes")
        .manifest_path(hcr_build::workspace_dir().join("Cargo.toml"))
        .target_dir(dir.join("target"))
        .target(target)
        .env("RUSTC_WRAPPER", &wrapper)
        .build()
        .unwrap_or_else(|err| panic!("fx_shapes by another compiler: {err}"));
    let stored = dir.join(hcr_build::library_file_name(target, "fx_shapes-other"));
    std::fs::copy(library, &stored).unwrap();
    stored
}

/// Fixture `fx_shapes` built by a stand-in for another compiler (see
/// [`build_fx_shapes_by_another_compiler`]), or the one in
/// `$HCR_TEST_PREBUILT`'s fixtures.
pub fn fx_shapes_by_another_compiler(work: &Path) -> PathBuf {
    match std::env::var_os(PREBUILT_ENV) {
        Some(dir) => Path::new(&dir)
            .join("fixtures")
            .join(library_file("fx_shapes-other")),
        None => build_fx_shapes_by_another_compiler(
            hcr_build::build_target(),
            &work.join("other-compiler"),
        ),
    }
}

/// How a scenario's process must end.
#[derive(Debug, Clone, Copy)]
pub enum Expect<'a> {
    /// Exit successfully after running the whole body.
    Success,
    /// Be killed by SIGABRT with each of these texts on stderr.
    Abort(&'a [&'a str]),
    /// Exit successfully with this text on stderr.
    SuccessWithStderr(&'a str),
    /// End by this exit code or this signal, whatever was printed.
    Ended(Ending),
    /// End by this exit code or this signal, with this text on stderr.
    EndedSaying(Ending, &'a str),
}

/// How a scenario's process is expected to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `exit` with this code.
    Exit(i32),
    /// Killed by this signal.
    Signal(i32),
}

/// The scratch directory of scenario `test` (as [`run_scenario`] names it);
/// its `modules` subdirectory is the scenario's module directory.
pub fn scenario_dir(work: &Path, test: &str) -> PathBuf {
    let name = test.split_once("::").map_or(test, |(_, rest)| rest);
    work.join("scenarios").join(name.replace("::", "-"))
}

/// For a test that starts its scenario's process itself (several times,
/// or with an environment of its own, through [`run_scenario`]): in that
/// process, runs `body` and returns true; in the test's own process
/// returns false, and the test goes on to start the processes.
pub fn in_scenario_process(work: &Path, test: &str, body: fn(&mut Host)) -> bool {
    let name = test.split_once("::").map_or(test, |(_, rest)| rest);
    if std::env::var("HCR_SCENARIO").as_deref() != Ok(name) {
        return false;
    }
    run_scenario(work, test, &[], Expect::Success, body);
    true
}

/// Runs `body` in a child process; see the crate docs. `test` is the test's
/// path from `module_path!()` and its name; `work` is a scratch directory
/// (the test's `CARGO_TARGET_TMPDIR`).
pub fn run_scenario(
    work: &Path,
    test: &str,
    env: &[(&str, &str)],
    expect: Expect<'_>,
    body: fn(&mut Host),
) {
    // `module_path!()` starts with the crate; libtest names omit it.
    let name = test.split_once("::").map_or(test, |(_, rest)| rest);
    if std::env::var("HCR_SCENARIO").as_deref() == Ok(name) {
        let mut host = Host::from_env();
        body(&mut host);
        println!("scenario {name} ran to the end");
        return;
    }
    let built = built(work);
    let dir = scenario_dir(work, test);
    let _ = std::fs::remove_dir_all(&dir);
    let modules = dir.join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    let mut command = self_command();
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("HCR_SCENARIO", name)
        .env("HCR_TEST_RUNTIME", &built.runtime)
        .env("HCR_TEST_FIXTURES", &built.fixtures)
        .env("HCR_TEST_MODULES", &modules)
        .env("RUST_BACKTRACE", "1")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let emulated = !std::env::var("HCR_TEST_RUNNER")
        .unwrap_or_default()
        .is_empty();
    // qemu-user can hang when a guest with several threads aborts (after
    // the guest printed its message): such a scenario gets a shorter wait.
    let timeout = match expect {
        Expect::Abort(_) if emulated => Duration::from_secs(60),
        _ => SCENARIO_TIMEOUT,
    };
    let finished = run_started(&mut command, timeout, name);
    let (stdout, stderr) = (&finished.stdout, &finished.stderr);
    let report = format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    let Some(status) = finished.status else {
        let printed = match expect {
            Expect::Abort(texts) => emulated && texts.iter().all(|text| stderr.contains(text)),
            _ => false,
        };
        if printed {
            eprintln!(
                "scenario {name}: printed the expected message, then hung in the \
                 emulator's abort; counted as aborted"
            );
            return;
        }
        panic!("scenario {name} ran longer than {timeout:?}\n{report}");
    };
    // What the child printed (figures, counts) shows with `--nocapture`.
    print!("{stdout}");
    let printed = |text: &str| {
        assert!(
            stderr.contains(text),
            "scenario {name}: stderr lacks {text:?}\n{report}"
        );
    };
    match expect {
        Expect::Success => {
            assert!(
                status.success(),
                "scenario {name} failed: {}\n{report}",
                status
            );
            assert!(
                stdout.contains(&format!("scenario {name} ran to the end")),
                "scenario {name} did not run\n{report}"
            );
        }
        Expect::SuccessWithStderr(text) => {
            assert!(
                status.success() && stdout.contains(&format!("scenario {name} ran to the end")),
                "scenario {name} failed: {}\n{report}",
                status
            );
            printed(text);
        }
        Expect::Ended(ending) | Expect::EndedSaying(ending, _) => {
            let ended = sys::ending(status);
            assert_eq!(ended, ending, "scenario {name} ended otherwise\n{report}");
            if let Expect::EndedSaying(_, text) = expect {
                printed(text);
            }
        }
        Expect::Abort(texts) => {
            assert_eq!(
                sys::ending(status),
                ABORTED,
                "scenario {name} did not abort\n{report}"
            );
            texts.iter().for_each(|text| printed(text));
        }
    }
}

/// A command that runs this test binary again: directly, or through
/// `$HCR_TEST_RUNNER` (e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`) when
/// the binary was built for another machine.
fn self_command() -> Command {
    let exe = std::env::current_exe().unwrap();
    let runner = std::env::var("HCR_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(exe);
            command
        }
        None => Command::new(exe),
    };
    sys::no_core_dumps(&mut command);
    command
}

/// How many times a scenario's process is started when the system fails
/// to start it (see `sys::did_not_start` and `sys::system_failed_to_spawn`).
const START_ATTEMPTS: usize = 3;

/// Runs `command` until it ends or `timeout` passes. A process that the
/// system failed to create, or to start before any of the test binary's
/// code ran, is started again (up to [`START_ATTEMPTS`] times, said on
/// stderr): that is no outcome of the scenario. Any other ending is the
/// scenario's.
fn run_started(command: &mut Command, timeout: Duration, name: &str) -> Finished {
    let mut attempt = 1;
    loop {
        let failed_to_start = match command.spawn() {
            Ok(child) => {
                let finished = wait_with_timeout(child, timeout);
                match finished
                    .status
                    .and_then(|status| sys::did_not_start(status, &finished.stdout))
                {
                    Some(why) => format!("{why}\nits stderr: {:?}", finished.stderr),
                    None => return finished,
                }
            }
            Err(error) => match sys::system_failed_to_spawn(&error) {
                Some(why) if attempt < START_ATTEMPTS => why,
                _ => panic!("scenario {name}: could not start its process: {error}"),
            },
        };
        assert!(
            attempt < START_ATTEMPTS,
            "scenario {name}: the system failed to start its process {START_ATTEMPTS} times; \
             the last time: {failed_to_start}"
        );
        attempt += 1;
        eprintln!(
            "scenario {name}: {failed_to_start}; starting it again (attempt {attempt} of \
             {START_ATTEMPTS})"
        );
    }
}

/// What a scenario's process did: its exit status (`None` when it ran past
/// the timeout and was killed) and everything it printed.
struct Finished {
    status: Option<std::process::ExitStatus>,
    stdout: String,
    stderr: String,
}

fn wait_with_timeout(mut child: std::process::Child, timeout: Duration) -> Finished {
    // Drain the pipes on threads so that a chatty child cannot block.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut buf).ok();
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut buf).ok();
        buf
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    Finished {
        status,
        stdout: text(out.join().unwrap()),
        stderr: text(err.join().unwrap()),
    }
}

/// The host side of a scenario: the runtime, a module directory, the built
/// fixtures, and the globals `main::log` and `main::veto` that fixtures use.
pub struct Host {
    /// The loaded runtime.
    pub rt: RuntimeLibrary,
    /// The module directory handed to `hcr_init`.
    pub modules: PathBuf,
    fixtures: PathBuf,
}

fn env_path(name: &str) -> PathBuf {
    PathBuf::from(std::env::var_os(name).unwrap_or_else(|| panic!("{name} is not set")))
}

impl Host {
    fn from_env() -> Self {
        let rt = RuntimeLibrary::open(&env_path("HCR_TEST_RUNTIME")).unwrap();
        let host = Host {
            rt,
            modules: env_path("HCR_TEST_MODULES"),
            fixtures: env_path("HCR_TEST_FIXTURES"),
        };
        host.rt.register_global("main", "log", 4096, 1, 1).unwrap();
        host.rt.register_global("main", "veto", 4, 4, 1).unwrap();
        host
    }

    /// Starts the module tree of the host `main` with `imports` through
    /// hcr-client's [`hcr_client::Host`], as a Rust host does.
    pub fn start(&self, imports: &[&str]) -> hcr_client::Host {
        imports
            .iter()
            .fold(
                hcr_client::Host::builder()
                    .runtime_library(env_path("HCR_TEST_RUNTIME"))
                    .module_dir(&self.modules),
                |builder, import| builder.import(import),
            )
            .start()
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// The directory of the built fixtures ([`library_file`] of each variant).
    pub fn fixtures(&self) -> &Path {
        &self.fixtures
    }

    /// Whether fixture `variant` was built (the Rust fixtures are not,
    /// where fixtures were built beforehand for another target).
    pub fn has_fixture(&self, variant: &str) -> bool {
        self.fixtures.join(library_file(variant)).exists()
    }

    /// The built fixture `variant`.
    pub fn fixture(&self, variant: &str) -> Vec<u8> {
        std::fs::read(self.fixtures.join(library_file(variant))).unwrap()
    }

    /// Where module `module`'s library goes in the module directory.
    pub fn library(&self, module: &str) -> PathBuf {
        self.modules.join(library_file(module))
    }

    /// Installs bytes as module `module`'s library the way a linker does:
    /// a new file renamed over the old one.
    pub fn install_bytes(&self, module: &str, bytes: &[u8]) {
        let tmp = self.modules.join(format!(".{}.tmp", library_file(module)));
        std::fs::write(&tmp, bytes).unwrap();
        std::fs::rename(&tmp, self.library(module)).unwrap();
    }

    /// Installs fixture `variant` as module `module`.
    pub fn install(&self, module: &str, variant: &str) {
        self.install_bytes(module, &self.fixture(variant));
    }

    /// Starts a tree of module `spin` and reloads it once, so that two
    /// versions of it are loaded (two copies exist).
    pub fn load_two_versions(&self) {
        self.install("spin", "spin-1");
        self.init(&["spin"]);
        self.install("spin", "spin-2");
        self.rt.perform_code_reload().unwrap();
        assert_eq!(self.copy_names().len(), 2);
    }

    /// `hcr_init("main", imports, modules)`, which must succeed.
    pub fn init(&self, imports: &[&str]) {
        self.rt.init("main", imports, Some(&self.modules)).unwrap();
    }

    /// The stub of fixture proc `module::name`.
    pub fn stub(&self, module: &str, name: &str) -> Stub {
        Stub(self.rt.get_proc(module, name).unwrap().as_ptr() as usize)
    }

    /// Calls `module::name` through its stub as `int (*)(void)`.
    pub fn call(&self, module: &str, name: &str) -> c_int {
        self.stub(module, name).call_int()
    }

    /// The host's event log.
    pub fn log(&self) -> String {
        let log = self.rt.get_global("main", "log").unwrap();
        // SAFETY: main::log is a 4096-byte block that fixtures keep
        // NUL-terminated (zeroed, then written with snprintf).
        let text = unsafe { std::ffi::CStr::from_ptr(log.as_ptr().cast()) };
        text.to_string_lossy().trim_end().to_owned()
    }

    /// Empties the event log.
    pub fn clear_log(&self) {
        let log = self.rt.get_global("main", "log").unwrap();
        // SAFETY: main::log has at least one byte.
        unsafe { log.as_ptr().write(0) };
    }

    /// Reads an `int` global.
    pub fn global_int(&self, module: &str, name: &str) -> Option<c_int> {
        let block = self.rt.get_global(module, name)?;
        // SAFETY: the fixtures register these globals as aligned `int`s.
        Some(unsafe { block.as_ptr().cast::<c_int>().read() })
    }

    /// Writes an `int` global.
    pub fn set_global_int(&self, module: &str, name: &str, value: c_int) {
        let block = self.rt.get_global(module, name).unwrap();
        // SAFETY: as in `global_int`.
        unsafe { block.as_ptr().cast::<c_int>().write(value) };
    }

    /// Names of the runtime's library copies in this process
    /// (`lib<module>.<load>.so` memfds on Linux, `<module>.<load>.dll`
    /// files on Windows).
    pub fn copy_names(&self) -> Vec<String> {
        copy_names()
    }
}

/// The stub of a fixture proc. Every fixture proc is `int f(void)`, except
/// those of the `state` fixture, which are `long long f(void)`; [`Host::stub`]
/// hands stubs out only for those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stub(usize);

impl Stub {
    /// Calls the stub as `int (*)(void)`.
    pub fn call_int(self) -> c_int {
        // SAFETY: a `Stub` comes from `Host::stub`, for a fixture proc of
        // this signature (see the type's docs); stubs never move.
        let f: extern "C" fn() -> c_int = unsafe { std::mem::transmute(self.0) };
        f()
    }

    /// Calls the stub as `long long (*)(void)`, for the `state` fixture.
    pub fn call_long(self) -> i64 {
        // SAFETY: as in `call_int`, for the `state` fixture's procs.
        let f: extern "C" fn() -> i64 = unsafe { std::mem::transmute(self.0) };
        f()
    }

    /// The stub's address.
    pub fn address(self) -> usize {
        self.0
    }
}

#[cfg(windows)]
pub use sys::grant_write;
pub use sys::{
    ABORTED, DIVISION_BY_ZERO, NOT_A_LIBRARY, NULL_READ, UNCAUGHT_FAULT, copy_names, copy_prefix,
    did_not_start, for_another_machine, mapped_copies, occupy, resident_kib,
    system_failed_to_spawn, under_asan, under_valgrind, writable_and_executable,
};

/// Checks that `text` holds every one of `parts`, naming the first that
/// it does not, with the whole text.
///
/// # Panics
/// When a part is missing.
#[track_caller]
pub fn assert_says(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{part:?} missing from:\n{text}");
    }
}

/// Whether `check` comes true within five seconds, asked every
/// millisecond: the runtime says a library rewritten with its size
/// unchanged has changed once it has hashed its contents, on a thread of
/// its own, a few milliseconds after it was first asked.
pub fn eventually(check: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

/// A small deterministic generator (xorshift64*) for property tests: a
/// failing case is replayed from its seed and number.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait, reason = "not an iterator: never ends")]
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The message of a caught panic (`""` for a payload that is not text).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

/// The Rust examples of `docs/state.md`, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/state.md")]
pub struct StateGuide;
