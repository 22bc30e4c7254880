//! `cargo hcr` end to end: the demo's script mode (real edits, real cargo
//! builds, real reloads), and a fresh project outside this repository.

use std::path::{Path, PathBuf};
use std::process::Command;

#[cfg(unix)]
mod egui;
#[cfg(unix)]
mod for_apple;
#[cfg(unix)]
mod for_windows;
#[cfg(unix)]
mod new_project;
#[cfg(unix)]
mod running;
#[cfg(unix)]
mod watcher;

fn binary(package: &str, bin: &str) -> PathBuf {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"));
    hcr_tests::build_binary(work, package, bin, &[], bin)
}

/// `cargo-hcr`, built once for all the tests here (a copy made while
/// another test runs it would fail as busy).
fn cargo_hcr() -> &'static Path {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| binary("hcr-build", "cargo-hcr"))
}

/// The target directory the demo script builds its copy in; the other
/// projects here share it, so the dependencies are built once. Every host
/// built there keeps its modules and its manifest in the same directory,
/// so a test that builds there holds [`shared_target_turn`] throughout.
fn shared_target() -> PathBuf {
    hcr_build::workspace_dir()
        .join("target")
        .join("hcr-demo-script")
        .join("target")
}

/// One test at a time in [`shared_target`].
fn shared_target_turn() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed holding it left nothing half-done that matters.
    TURN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The frame number in a demo line (`gen G | frame N | ...`).
fn frame_of(line: &str) -> u64 {
    line.split('|')
        .nth(1)
        .and_then(|part| part.trim().strip_prefix("frame "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no frame number in {line:?}"))
}

#[test]
fn the_demo_script_edits_rebuilds_reloads_and_recovers_from_a_broken_build_and_a_crash() {
    let _turn = shared_target_turn();
    let demo = binary("hcr-demo", "demo");
    let output = Command::new(&demo).arg("--script").output().unwrap();
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let line = |prefix: &str| {
        stdout
            .lines()
            .find(|line| line.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in\n{stdout}"))
    };
    // The board: what follows the last `|`.
    let board = |line: &str| line.rsplit('|').next().unwrap_or_default().to_owned();
    let first = line("generation 0: gen 0 |");
    assert!(
        board(first).contains('#') && !board(first).contains('o'),
        "{first}"
    );
    assert!(line("edit 1, view: draw live cells as 'o': rebuilt demo_view in ").contains("reload"));
    let second = line("generation 1: gen 1 |");
    assert!(
        board(second).contains('o') && !board(second).contains('#'),
        "{second}"
    );
    let broken =
        line("edit 2, world: a change that does not compile: `demo_world` does not build: error");
    assert!(broken.contains("cannot add"), "{broken}");
    let still = line("the demo keeps running its last good code: gen 1 |");
    assert!(
        line(
            "edit 3, world: fixed, and frames now count by ten: rebuilt demo_world, demo_view in "
        )
        .contains(" ms")
    );
    let third = line("generation 2: gen 2 |");
    // The frame counter, a persistent global, went on through the reloads.
    assert!(frame_of(third) > frame_of(still) && frame_of(still) > frame_of(second));
    // A crash in new code: the reload (generation 3), the fault, the
    // rollback (generation 4); the demo goes on with the previous view.
    let crash = line(
        "edit 4, view: an unsafe read far out of bounds: rebuilt demo_view; the new code crashed: module `demo_view` faulted: SIGSEGV",
    );
    assert!(
        crash.contains("rolled back to the version loaded in generation 1"),
        "{crash}"
    );
    let rolled_back = line("the demo goes on with the previous version: gen 4 |");
    assert!(board(rolled_back).contains('o'), "{rolled_back}");
    assert!(frame_of(rolled_back) > frame_of(third));
    assert!(
        line("edit 5, view: fixed, counting the dead cells: rebuilt demo_view in ").contains(" ms")
    );
    line("generation 5: gen 5 |");
    assert!(line("edit 6, rules: a live cell survives with any neighbour: rebuilt demo_rules, demo_world, demo_view in ").contains(" ms"));
    // Each edit that showed, against rustc alone compiling it.
    for edit in [1, 3, 5, 6] {
        let against = line(&format!("edit {edit}: rustc alone compiles it in "));
        assert!(against.contains("save to screen took"), "{against}");
    }
    line("generation 6: gen 6 |");
    line("done at generation 6: a failed build and a crash recovered");
}

/// A host that runs `rounds` rounds (its first argument, default 1),
/// reloading at the top of each and printing one greeting.
const HOST_MAIN: &str = r#"
use hcr_client::Host;

fn main() {
    let host = Host::builder().import("greet").start().unwrap_or_else(|err| panic!("{err}"));
    let rounds: u32 = std::env::args().nth(1).map_or(1, |n| n.parse().expect("a number"));
    for _ in 0..rounds {
        if host.reload_needed() {
            host.reload().unwrap_or_else(|err| panic!("{err}"));
        }
        println!("{} (generation {})", greet::greeting("outside"), host.generation());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
"#;

const GREET_LIB: &str = r#"
hcr_client::module!(imports = [words]);

/// A greeting, from a module.
#[hcr_client::reloadable]
pub fn greeting(name: &str) -> String {
    format!("{}, {name}, from a module", words::salutation())
}

#[cfg(test)]
mod tests {
    #[test]
    fn greets_without_a_runtime() {
        assert_eq!(super::greeting("test"), "hello #1, test, from a module");
    }
}
"#;

/// The module `greet` imports; its counter persists across reloads.
const WORDS_LIB: &str = r#"
use std::sync::atomic::{AtomicU64, Ordering};

hcr_client::module!();

#[hcr_client::global]
static SAID: AtomicU64 = AtomicU64::new(0);

/// A salutation, numbered.
#[hcr_client::reloadable]
pub fn salutation() -> String {
    format!("hello #{}", SAID.fetch_add(1, Ordering::Relaxed) + 1)
}
"#;

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// A module crate's `Cargo.toml`.
fn module_manifest(name: &str, dependencies: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [package.metadata.hcr]\nmodule = true\n\n\
         [dependencies]\nhcr-client.workspace = true\n{dependencies}\n\
         [lints.rust]\nunexpected_cfgs = {{ level = \"warn\", check-cfg = ['cfg(hcr_module)'] }}\n"
    )
}

/// A fresh directory outside this repository, named after `name`, with
/// the root of a workspace of `members` that depends on hcr-client by
/// path and starts from this repository's Cargo.lock. Returns it.
fn outside_workspace(name: &str, members: &[&str]) -> PathBuf {
    let project = std::env::temp_dir().join(format!("hcr-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&project);
    let client = hcr_build::workspace_dir().join("hcr-client");
    write(
        &project.join("Cargo.toml"),
        &format!(
            "[workspace]\nresolver = \"3\"\nmembers = {members:?}\n\n\
             [workspace.dependencies]\nhcr-client = {{ path = {:?} }}\n",
            client.display().to_string()
        ),
    );
    std::fs::copy(
        hcr_build::workspace_dir().join("Cargo.lock"),
        project.join("Cargo.lock"),
    )
    .unwrap();
    project
}

/// A workspace outside this repository, in a fresh directory named after
/// `name`: a host and two modules, `greet` importing `words`, depending on
/// hcr-client by path. Returns its directory.
fn outside_project(name: &str) -> PathBuf {
    let project = outside_workspace(name, &["host", "greet", "words"]);
    write(
        &project.join("words/Cargo.toml"),
        &module_manifest("words", ""),
    );
    write(&project.join("words/src/lib.rs"), WORDS_LIB);
    write(
        &project.join("greet/Cargo.toml"),
        &module_manifest("greet", "words = { path = \"../words\" }\n"),
    );
    write(&project.join("greet/src/lib.rs"), GREET_LIB);
    write(
        &project.join("host/Cargo.toml"),
        "[package]\nname = \"host\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\ngreet = { path = \"../greet\" }\nhcr-client.workspace = true\n",
    );
    write(&project.join("host/src/main.rs"), HOST_MAIN);
    project
}

/// Runs `cargo hcr` (built from this workspace) on the project in
/// `project`, with the shared target directory: whether it succeeded, its
/// stdout and its stderr.
fn cargo_hcr_in(project: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(cargo_hcr())
        .arg("hcr")
        .args(args)
        .arg("--manifest-path")
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", shared_target())
        .output()
        .unwrap();
    (
        output.status.success(),
        text(&output.stdout),
        text(&output.stderr),
    )
}

#[test]
fn cargo_hcr_builds_a_fresh_project_outside_the_repository_and_it_runs() {
    let _turn = shared_target_turn();
    let project = outside_project("outside");
    let target = shared_target();
    let cargo_hcr_in = |args: &[&str]| cargo_hcr_in(&project, args);
    let (ok, _, stderr) = cargo_hcr_in(&["build"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("built `host`, the runtime and 2 module(s)"),
        "{stderr}"
    );

    // The host runs with no environment: the runtime and the module are
    // beside it.
    let host = target.join("debug").join("host");
    for file in ["libhcr_runtime.so", "libgreet.so", "libwords.so"] {
        assert!(
            target.join("debug").join(file).is_file(),
            "{file} is not beside the host"
        );
    }
    let output = Command::new(&host)
        .env_remove("HCR_RUNTIME")
        .env_remove("HCR_MANIFEST")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "hello #1, outside, from a module (generation 0)\n"
    );

    let (ok, stdout, stderr) = cargo_hcr_in(&["status"]);
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("host `main`") && stdout.contains("not running"),
        "{stdout}"
    );
    assert!(
        stdout.lines().any(|line| line.starts_with("greet ")),
        "{stdout}"
    );

    // The module crate's own tests run like any crate's.
    let test = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["test", "-p", "greet", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(test.status.success(), "{}", text(&test.stderr));
    assert!(text(&test.stdout).contains("greets_without_a_runtime ... ok"));
    let _ = std::fs::remove_dir_all(&project);
}

const COUNTER_LIB: &str = r#"
//! A plain library of the project, used by the host and the module.
use std::sync::atomic::{AtomicU64, Ordering};

static COUNT: AtomicU64 = AtomicU64::new(0);

/// Counts one more.
pub fn bump() -> u64 {
    COUNT.fetch_add(1, Ordering::Relaxed) + 1
}

/// The count so far.
pub fn count() -> u64 {
    COUNT.load(Ordering::Relaxed)
}
"#;

const SEER_LIB: &str = r#"
hcr_client::module!();

/// What the module sees of the shared crate and of std.
#[hcr_client::reloadable]
pub fn seen() -> String {
    let thread = std::thread::current();
    format!("count {} on thread {}", counter::count(), thread.name().unwrap_or("<unnamed>"))
}
"#;

const SEER_HOST: &str = r#"
use hcr_client::Host;

fn main() {
    let _host = Host::builder().import("seer").start().unwrap_or_else(|err| panic!("{err}"));
    counter::bump();
    counter::bump();
    println!("{}", seer::seen());
}
"#;

#[test]
fn host_and_module_share_one_build_of_a_dependency_its_statics_and_std() {
    let _turn = shared_target_turn();
    let project = outside_workspace("one-copy", &["host", "seer", "counter"]);
    write(
        &project.join("counter/Cargo.toml"),
        "[package]\nname = \"counter\"\nversion = \"0.1.0\"\nedition = \"2024\"\n",
    );
    write(&project.join("counter/src/lib.rs"), COUNTER_LIB);
    write(
        &project.join("seer/Cargo.toml"),
        &module_manifest("seer", "counter = { path = \"../counter\" }\n"),
    );
    write(&project.join("seer/src/lib.rs"), SEER_LIB);
    write(
        &project.join("host/Cargo.toml"),
        "[package]\nname = \"seeing\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\ncounter = { path = \"../counter\" }\nhcr-client.workspace = true\n\
         seer = { path = \"../seer\" }\n",
    );
    write(&project.join("host/src/main.rs"), SEER_HOST);
    let run = |shared: &str| {
        let output = Command::new(cargo_hcr())
            .args(["hcr", "run", "--manifest-path"])
            .arg(project.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", shared_target())
            .env("HCR_SHARED_DEPENDENCIES", shared)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", text(&output.stderr));
        text(&output.stdout)
    };
    // The module reads the static the host counted, and its std knows the
    // host's main thread: one of each.
    assert_eq!(run("1"), "count 2 on thread main\n");
    // Each module its own copy: the module's static and std are others.
    assert_eq!(run("0"), "count 0 on thread <unnamed>\n");
    let _ = std::fs::remove_dir_all(&project);
}

/// `cargo hcr run -p hcr-demo --target <target>` with only the
/// toolchain's directory on `PATH` (cargo and rustc: no wine, no zig) and
/// no runner set: whether it failed, and its stderr.
fn run_demo_for(target: &str) -> (bool, String) {
    let cargo = PathBuf::from(std::env::var_os("CARGO").expect("cargo sets CARGO for its tests"));
    let toolchain = cargo.parent().expect("cargo is in a directory");
    assert!(!toolchain.join("wine").exists());
    let output = Command::new(cargo_hcr())
        .args(["hcr", "run", "-p", "hcr-demo", "--target", target])
        .arg("--manifest-path")
        .arg(hcr_build::workspace_dir().join("Cargo.toml"))
        .env("PATH", toolchain)
        .env_remove(hcr_build::runner_variable(target))
        .output()
        .unwrap();
    (!output.status.success(), text(&output.stderr))
}

#[test]
fn run_for_windows_without_wine_says_the_target_cannot_run_here_before_building() {
    let (failed, stderr) = run_demo_for("x86_64-pc-windows-gnu");
    assert!(failed, "{stderr}");
    assert!(
        stderr.contains(
            "the host is built for x86_64-pc-windows-gnu, which cannot run on this machine: \
             install wine, or set CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("building"), "{stderr}");
}

/// Runs `cargo-hcr` with `args` (no project): exit code, stdout, stderr.
fn cargo_hcr_says(args: &[&str]) -> (i32, String, String) {
    let output = Command::new(cargo_hcr()).args(args).output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        text(&output.stdout),
        text(&output.stderr),
    )
}

#[test]
fn help_version_and_usage_errors_are_what_cargo_users_expect() {
    for args in [&["--help"][..], &["hcr", "--help"], &["-h"], &["help"]] {
        let (code, stdout, stderr) = cargo_hcr_says(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        hcr_tests::assert_says(
            &stdout,
            &[
                "Usage: cargo hcr <COMMAND>",
                "new ",
                "build ",
                "HCR_MANIFEST",
                "HOT_CODE_RELOADING_JUMP_TABLE_SIZE",
            ],
        );
    }
    // The defaults it gives are the runtime's.
    let (_, stdout, _) = cargo_hcr_says(&["--help"]);
    let table = format!(
        "in MiB (default: {}",
        hcr_runtime::jump_table::DEFAULT_SIZE_MIB
    );
    assert!(stdout.contains(&table), "{table:?} not in\n{stdout}");
    assert!(stdout.contains("current one included"), "{stdout}");
    let (code, stdout, _) = cargo_hcr_says(&["help", "build"]);
    assert_eq!(code, 0);
    hcr_tests::assert_says(
        &stdout,
        &[
            "Usage: cargo hcr build [OPTIONS]",
            "--features <FEATURES>",
            "--no-default-features",
            "--profile <PROFILE-NAME>",
            "--target-dir <DIRECTORY>",
            "--bin <NAME>",
            "HCR_RUNTIME",
        ],
    );
    let (code, stdout, _) = cargo_hcr_says(&["hcr", "--version"]);
    assert_eq!((code, stdout.as_str()), (0, "cargo-hcr 0.1.0\n"));

    let (code, _, stderr) = cargo_hcr_says(&["build", "--featurs", "x"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("a similar argument exists: '--features'"),
        "{stderr}"
    );
    let (code, _, stderr) = cargo_hcr_says(&["hcr", "biuld"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("a similar subcommand exists: 'build'"),
        "{stderr}"
    );
}

#[cfg(unix)]
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn on_a_terminal_the_demo_draws_the_board_in_place() {
    // The static build draws as the hot one does, with nothing to load.
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let demo = hcr_tests::build_binary(work, "hcr-demo", "demo", &["static"], "demo-static");
    // `script` runs it under a pseudo-terminal (util-linux).
    let command = format!("'{}' --frames 3 --interval-ms 10", demo.display());
    let output = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .output()
        .expect("script (util-linux) runs the demo under a pseudo-terminal");
    let drawn = text(&output.stdout);
    assert!(output.status.success(), "{drawn}\n{}", text(&output.stderr));
    // The alternate screen, one redraw from the top per frame, a status
    // line, no scrolling lines, and the terminal given back.
    assert!(drawn.starts_with("\x1b[?1049h"), "{drawn:?}");
    assert_eq!(drawn.matches("\x1b7\x1b[H").count(), 3, "{drawn:?}");
    assert!(
        drawn.contains("generation 0 | frame 3 | 8 alive | last reload none yet"),
        "{drawn:?}"
    );
    assert!(!drawn.contains("gen 0 |"), "{drawn:?}");
    assert!(drawn.trim_end().ends_with("\x1b[r\x1b[?1049l"), "{drawn:?}");
    // A whole board: every row of it.
    assert!(
        drawn.contains("..#.....................\x1b[K"),
        "{drawn:?}"
    );

    // Not a terminal: one line per frame, as before.
    let output = Command::new(&demo)
        .args(["--frames", "2", "--interval-ms", "1"])
        .output()
        .unwrap();
    let lines = text(&output.stdout);
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(
        lines.starts_with("gen 0 | frame    1 |  8 alive | "),
        "{lines}"
    );
}
