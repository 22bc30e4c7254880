//! `cargo hcr` end to end: the demo's script mode (real edits, real cargo
//! builds, real reloads), and a fresh project outside this repository.

use std::path::{Path, PathBuf};
use std::process::Command;

fn binary(package: &str, bin: &str) -> PathBuf {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"));
    hcr_tests::build_binary(work, package, bin, &[], bin)
}

/// The target directory the demo script builds its copy in; the fresh
/// project shares it, so the dependencies are built once.
fn shared_target() -> PathBuf {
    hcr_build::workspace_dir()
        .join("target")
        .join("hcr-demo-script")
        .join("target")
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
    line("generation 6: gen 6 |");
    line("done at generation 6: a failed build and a crash recovered");
}

const HOST_MAIN: &str = r#"
use hcr_client::Host;

fn main() {
    let host = Host::builder().import("greet").start().unwrap_or_else(|err| panic!("{err}"));
    println!("{}", greet::greeting("outside"));
    println!("generation {}", host.generation());
}
"#;

const GREET_LIB: &str = r#"
hcr_client::module!();

/// A greeting, from a module.
#[hcr_client::reloadable]
pub fn greeting(name: &str) -> String {
    format!("hello, {name}, from a module")
}

#[cfg(test)]
mod tests {
    #[test]
    fn greets_without_a_runtime() {
        assert_eq!(super::greeting("test"), "hello, test, from a module");
    }
}
"#;

fn write(path: &Path, contents: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

#[test]
fn cargo_hcr_builds_a_fresh_project_outside_the_repository_and_it_runs() {
    let cargo_hcr = binary("hcr-build", "cargo-hcr");
    let project = std::env::temp_dir().join(format!("hcr-outside-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&project);
    let client = hcr_build::workspace_dir().join("hcr-client");
    write(
        &project.join("Cargo.toml"),
        &format!(
            "[workspace]\nresolver = \"3\"\nmembers = [\"host\", \"greet\"]\n\n\
             [workspace.dependencies]\nhcr-client = {{ path = {:?} }}\n",
            client.display().to_string()
        ),
    );
    std::fs::copy(
        hcr_build::workspace_dir().join("Cargo.lock"),
        project.join("Cargo.lock"),
    )
    .unwrap();
    write(
        &project.join("greet/Cargo.toml"),
        "[package]\nname = \"greet\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [package.metadata.hcr]\nmodule = true\n\n\
         [dependencies]\nhcr-client.workspace = true\n\n\
         [lints.rust]\nunexpected_cfgs = { level = \"warn\", check-cfg = ['cfg(hcr_module)'] }\n",
    );
    write(&project.join("greet/src/lib.rs"), GREET_LIB);
    write(
        &project.join("host/Cargo.toml"),
        "[package]\nname = \"host\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\ngreet = { path = \"../greet\" }\nhcr-client.workspace = true\n",
    );
    write(&project.join("host/src/main.rs"), HOST_MAIN);

    let target = shared_target();
    let cargo_hcr_in = |args: &[&str]| {
        let output = Command::new(&cargo_hcr)
            .arg("hcr")
            .args(args)
            .arg("--manifest-path")
            .arg(project.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .output()
            .unwrap();
        (
            output.status.success(),
            text(&output.stdout),
            text(&output.stderr),
        )
    };
    let (ok, _, stderr) = cargo_hcr_in(&["build"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("built `host`, the runtime and 1 module(s)"),
        "{stderr}"
    );

    // The host runs with no environment: the runtime and the module are
    // beside it.
    let host = target.join("debug").join("host");
    for file in ["libhcr_runtime.so", "libgreet.so"] {
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
        "hello, outside, from a module\ngeneration 0\n"
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
