//! `cargo hcr new`: a new project builds, runs and reloads an edit; a
//! module added to it is wired in; a host feature and --target-dir reach
//! the host's build.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{
    cargo_hcr, cargo_hcr_in, cargo_hcr_says, edit, running, shared_target, shared_target_turn, text,
};

/// Starts `binary` and returns the first line it prints, then stops it.
fn first_line(binary: &Path) -> String {
    let mut child = Command::new(binary)
        .env_remove("HCR_RUNTIME")
        .env_remove("HCR_MANIFEST")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{}: {err}", binary.display()));
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    assert!(
        !line.is_empty(),
        "no output; stderr:\n{}",
        text(&output.stderr)
    );
    line.trim_end().to_owned()
}

/// `cargo hcr run` in `project` (made by `cargo hcr new`): an edit of its
/// module shows in the running host, whose global counts on.
fn run_and_reload_an_edit(project: &Path) {
    let count = |line: &str| -> u64 {
        line.rsplit('(')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {line:?}"))
    };
    let mut command = Command::new(cargo_hcr());
    command
        .args(["hcr", "run", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", shared_target());
    let run = running::Running::start(command);
    let first = run.next_line("the first frame");
    assert!(first.starts_with("frame 0: hello from a module"), "{first}");
    edit(
        &project.join("logic/src/lib.rs"),
        "hello from a module",
        "hello from an edited module",
    );
    let mut last = first;
    let edited = loop {
        let line = run.next_line("the edited module's frame");
        if line.contains("edited") {
            break line;
        }
        last = line;
    };
    assert_eq!(count(&edited), count(&last) + 1, "{last}\n{edited}");
    // cargo hcr says so when it next reads the manifest.
    run.stderr_says("hcr: reloaded logic (generation 1) in ");
    drop(run);
    edit(
        &project.join("logic/src/lib.rs"),
        "hello from an edited module",
        "hello from a module",
    );
}

#[test]
fn cargo_hcr_new_makes_a_project_that_runs_takes_a_module_and_builds_with_features() {
    let _turn = shared_target_turn();
    let parent = std::env::temp_dir().join(format!("hcr-new-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&parent);
    std::fs::create_dir_all(&parent).unwrap();
    let project = parent.join("space-game");
    let path = project.to_str().unwrap();
    let (code, _, stderr) = cargo_hcr_says(&["new", path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("created `space-game`"), "{stderr}");
    let readme = std::fs::read_to_string(project.join("README.md")).unwrap();
    assert_eq!(
        readme.lines().filter(|line| !line.is_empty()).count(),
        3,
        "{readme}"
    );
    // An existing path is refused and left as it was.
    let files = || walk(&project);
    let before = files();
    let (code, _, stderr) = cargo_hcr_says(&["new", path]);
    assert_eq!(code, 1);
    assert!(stderr.contains("already exists"), "{stderr}");
    assert_eq!(files(), before);

    let target = shared_target();
    let host = target.join("debug").join("space-game");
    let (ok, _, stderr) = cargo_hcr_in(&project, &["build"]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("built `space-game`, the runtime and 1 module(s)"),
        "{stderr}"
    );
    assert_eq!(
        first_line(&host),
        "frame 0: hello from a module (1 greetings so far)"
    );
    run_and_reload_an_edit(&project);

    // A second module, wired into the workspace and the host.
    let (code, _, stderr) = cargo_hcr_says(&["new", "--module", "audio", path]);
    assert_eq!(code, 0, "{stderr}");
    let main = std::fs::read_to_string(project.join("host/src/main.rs")).unwrap();
    assert!(
        main.contains(r#"Host::builder().import("logic").import("audio")"#),
        "{main}"
    );
    let (code, _, stderr) = cargo_hcr_says(&["new", "--module", "audio", path]);
    assert_eq!(code, 1);
    assert!(stderr.contains("already exists"), "{stderr}");
    let (ok, _, stderr) = cargo_hcr_in(&project, &["build"]);
    assert!(ok, "{stderr}");
    assert!(stderr.contains("the runtime and 2 module(s)"), "{stderr}");
    assert!(target.join("debug").join("libaudio.so").is_file());
    // The host starts only if both modules load.
    assert!(first_line(&host).starts_with("frame 0: hello from a module"));

    // A host feature, passed through to the host's build.
    edit(
        &project.join("host/Cargo.toml"),
        "static = [\"hcr-client/static\"]",
        "static = [\"hcr-client/static\"]\nshout = []",
    );
    edit(
        &project.join("host/src/main.rs"),
        "fn main() {",
        "fn main() {\n    if cfg!(feature = \"shout\") {\n        println!(\"SHOUTING\");\n    }",
    );
    // With --target-dir instead of CARGO_TARGET_DIR: the same directory.
    let output = Command::new(cargo_hcr())
        .args(["hcr", "build", "--features", "shout", "--target-dir"])
        .arg(&target)
        .arg("--manifest-path")
        .arg(project.join("Cargo.toml"))
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(!project.join("target").exists());
    assert_eq!(first_line(&host), "SHOUTING");
    let _ = std::fs::remove_dir_all(&parent);
}

/// Every file under `dir`, with its contents.
fn walk(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}
