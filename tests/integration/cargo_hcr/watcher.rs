//! The watcher of `cargo hcr run` against a real project: one save that
//! changes a function's signature and its caller gives the running host
//! one consistent set (one reload, no refused partial set); a change to a
//! module's own sources is compiled by rustc directly, as cargo ran it,
//! and anything else by cargo, saying why.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{
    cargo_hcr, edit, module_manifest, outside_workspace, running::Running, shared_target,
    shared_target_turn, write,
};

const HOST_MAIN: &str = r#"
use hcr_client::Host;

fn main() {
    let host = Host::builder().import("app").start().unwrap_or_else(|err| panic!("{err}"));
    loop {
        if host.reload_needed() {
            match host.reload() {
                Ok(_) => println!("reloaded"),
                Err(err) => println!("refused: {err}"),
            }
        }
        println!("value {}", app::value());
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
"#;

const APP_LIB: &str = r#"
hcr_client::module!(imports = [common]);

/// What the host prints.
#[hcr_client::reloadable]
pub fn value() -> u64 {
    common::base()
}
"#;

const COMMON_LIB: &str = r#"
hcr_client::module!();

/// The base value.
#[hcr_client::reloadable]
pub fn base() -> u64 {
    1
}
"#;

/// A host importing `app`, which calls `common::base`, in a fresh
/// directory named after `name`.
fn project(name: &str) -> PathBuf {
    let project = outside_workspace(name, &["host", "app", "common"]);
    write(
        &project.join("common/Cargo.toml"),
        &module_manifest("common", ""),
    );
    write(&project.join("common/src/lib.rs"), COMMON_LIB);
    write(
        &project.join("app/Cargo.toml"),
        &module_manifest("app", "common = { path = \"../common\" }\n"),
    );
    write(&project.join("app/src/lib.rs"), APP_LIB);
    write(
        &project.join("host/Cargo.toml"),
        "[package]\nname = \"signs\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [dependencies]\napp = { path = \"../app\" }\nhcr-client.workspace = true\n",
    );
    write(&project.join("host/src/main.rs"), HOST_MAIN);
    project
}

/// `cargo hcr run` of `project`, once its host printed its first value.
fn run(project: &Path) -> Running {
    let mut command = Command::new(cargo_hcr());
    command
        .args(["hcr", "run", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", shared_target());
    let run = Running::start(command);
    let first = run.next_line("the first value");
    assert_eq!(first, "value 1");
    run
}

/// Reads the host's lines until it prints `value`; returns the other
/// lines it printed meanwhile (reloads and refusals).
fn until_value(run: &Running, value: u64) -> Vec<String> {
    let wanted = format!("value {value}");
    let mut said = Vec::new();
    loop {
        let line = run.next_line(&wanted);
        if line == wanted {
            return said;
        }
        if !line.starts_with("value ") {
            said.push(line);
        }
    }
}

/// Asserts that `said` holds reloads only. (How many depends on when the
/// modules rebuilt for an earlier change's sake came in.)
fn no_refusal(said: Vec<String>) {
    assert!(said.iter().all(|line| line == "reloaded"), "{said:?}");
}

#[test]
fn a_save_that_changes_a_signature_and_its_caller_is_one_reload() {
    let _turn = shared_target_turn();
    let project = project("one-set");
    let run = run(&project);

    // One save of both files, as an editor's "save all" makes it.
    edit(
        &project.join("common/src/lib.rs"),
        "pub fn base() -> u64 {\n    1",
        "pub fn base(by: u64) -> u64 {\n    by + 1",
    );
    edit(
        &project.join("app/src/lib.rs"),
        "common::base()",
        "common::base(10)",
    );
    let mut said = until_value(&run, 11);
    // A while longer: nothing more comes of that one save.
    for _ in 0..50 {
        let line = run.next_line("more frames");
        if !line.starts_with("value ") {
            said.push(line);
        }
    }
    assert_eq!(said, ["reloaded"], "stderr:\n{}", run.stderr());
    drop(run);
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_change_to_a_module_s_own_sources_is_compiled_by_rustc_directly_from_the_first() {
    let _turn = shared_target_turn();
    let project = project("direct");
    let common = project.join("common/src/lib.rs");
    let run = run(&project);
    // The first change too: `cargo hcr run`'s own build recorded how
    // cargo runs rustc for the module.
    edit(&common, "    1\n", "    2\n");
    no_refusal(until_value(&run, 2));
    run.stderr_says("compiling common with rustc directly");
    assert!(!run.stderr().contains("with cargo"), "{}", run.stderr());
    edit(&common, "    2\n", "    3\n");
    no_refusal(until_value(&run, 3));
    run.stderr_says("compiling common with rustc directly");
    // Two saves in a row: the second cancels or follows the first, and
    // the newer source wins.
    edit(&common, "    3\n", "    4\n");
    std::thread::sleep(Duration::from_millis(30));
    edit(&common, "    4\n", "    5\n");
    until_value(&run, 5);
    // (app, rebuilt for common's sake, follows as a set of its own.)
    for _ in 0..30 {
        let line = run.next_line("more frames");
        assert!(line == "value 5" || line == "reloaded", "{line}");
    }
    // A new file needs cargo, which says why.
    write(
        &project.join("common/src/extra.rs"),
        "pub fn six() -> u64 {\n    6\n}\n",
    );
    edit(
        &common,
        "hcr_client::module!();",
        "hcr_client::module!();\nmod extra;",
    );
    edit(&common, "    5\n", "    extra::six()\n");
    until_value(&run, 6);
    run.stderr_says("is not one of the sources of its last build");
    // So does a manifest (and the next edit waits for that build).
    let rebuilt_app = |run: &Running| run.stderr().matches("rebuilt app in").count();
    let apps = rebuilt_app(&run);
    edit(
        &project.join("common/Cargo.toml"),
        "version = \"0.1.0\"",
        "version = \"0.1.0\"\ndescription = \"the base\"",
    );
    run.stderr_says("common/Cargo.toml is not one of the sources of its last build");
    run.wait_for_stderr(|_| rebuilt_app(&run) > apps);
    // And rustc directly again after it.
    let before = run.stderr().len();
    edit(&common, "extra::six()", "extra::six() + 1");
    no_refusal(until_value(&run, 7));
    let after = run.stderr()[before..].to_owned();
    assert!(
        after.contains("compiling common with rustc directly"),
        "{after}"
    );
    let direct = run
        .stderr()
        .matches("compiling common with rustc directly")
        .count();
    assert!(direct >= 3, "{}", run.stderr());
    // The edited module reloads on its own, before app, rebuilt for its
    // sake, follows.
    run.stderr_says("reloaded common (generation");
    run.stderr_says("reloaded app (generation");
    drop(run);

    // Cargo was not told of the direct builds: it compiles common again
    // rather than take its old library for fresh.
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args([
            "rustc",
            "-v",
            "-p",
            "common",
            "--lib",
            "--crate-type",
            "cdylib",
            "--manifest-path",
        ])
        .arg(project.join("Cargo.toml"))
        .args(["--", "--cfg", "hcr_module"])
        .env("CARGO_TARGET_DIR", shared_target())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("Compiling common"), "{stderr}");
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_module_needing_other_builds_of_shared_dependencies_is_refused_by_name() {
    let _turn = shared_target_turn();
    let project = project("other-builds");
    let manifest = project.join("common/Cargo.toml");
    let run = run(&project);
    // The module asks `log` for a feature the host's build of it lacks:
    // another build of a crate the running host's shared library holds.
    let wants_kv =
        "hcr-client.workspace = true\nlog = { version = \"0.4\", features = [\"kv\"] }\n";
    edit(&manifest, "hcr-client.workspace = true\n", wants_kv);
    run.stderr_says("is not the one the running host's shared library holds");
    let stderr = run.stderr();
    assert!(
        stderr.contains("this build of `log`") && stderr.contains("restart `cargo hcr run`"),
        "{stderr}"
    );
    // The host runs on, and takes the next build that fits it.
    edit(&manifest, wants_kv, "hcr-client.workspace = true\n");
    edit(&project.join("common/src/lib.rs"), "    1\n", "    2\n");
    no_refusal(until_value(&run, 2));
    drop(run);
    let _ = std::fs::remove_dir_all(&project);
}

/// Saves `new` as `file` the way `editor` does: the temporaries, backups,
/// swap, lock and probe files it writes beside the file, and how the new
/// contents get there (written in place, or renamed over the file).
fn save_as(editor: &str, file: &Path, new: &str) {
    let dir = file.parent().unwrap();
    let beside = |name: &str| dir.join(name);
    let rename_over = |temporary: &str| {
        write(&beside(temporary), new);
        std::fs::rename(beside(temporary), file).unwrap();
    };
    match editor {
        "sed -i" => {
            let old = std::fs::read_to_string(file).unwrap();
            let status = Command::new("sed")
                .arg("-i")
                .arg(format!("s/{}/{}/", sed_line(&old), sed_line(new)))
                .arg(file)
                .status()
                .unwrap();
            assert!(status.success(), "sed -i");
            assert_eq!(std::fs::read_to_string(file).unwrap(), new);
        }
        "vim" => {
            write(&beside(".lib.rs.swp"), "swap");
            write(&beside("4913"), "");
            std::fs::remove_file(beside("4913")).unwrap();
            std::fs::rename(file, beside("lib.rs~")).unwrap();
            write(file, new);
            std::fs::remove_file(beside("lib.rs~")).unwrap();
            std::fs::remove_file(beside(".lib.rs.swp")).unwrap();
        }
        "emacs" => {
            write(&beside("#lib.rs#"), new);
            std::fs::rename(file, beside("lib.rs~")).unwrap();
            write(file, new);
            std::fs::remove_file(beside("#lib.rs#")).unwrap();
        }
        "JetBrains" => {
            write(&beside("lib.rs___jb_tmp___"), new);
            std::fs::rename(file, beside("lib.rs___jb_old___")).unwrap();
            std::fs::rename(beside("lib.rs___jb_tmp___"), file).unwrap();
            std::fs::remove_file(beside("lib.rs___jb_old___")).unwrap();
        }
        "gedit" => rename_over(".goutputstream-ZB3RQ2"),
        "Kate" => rename_over("lib.rs.a1B2c3.new"),
        "VS Code" => write(file, new),
        other => panic!("no editor {other}"),
    }
}

/// The line of `text` that calls `common::base`, as a sed (basic)
/// expression matches it: nothing in it is special there.
fn sed_line(text: &str) -> String {
    let line = text.lines().find(|line| line.contains("base()")).unwrap();
    assert!(!line.contains(['.', '*', '[', '/', '\\']), "{line}");
    line.to_owned()
}

#[test]
fn each_editors_save_is_compiled_by_rustc_directly_and_reloads_once() {
    let _turn = shared_target_turn();
    let project = project("editors");
    let app = project.join("app/src/lib.rs");
    let run = run(&project);
    let source =
        |added: u64| APP_LIB.replace("common::base()", &format!("common::base() + {added}"));
    let editors = [
        "sed -i",
        "vim",
        "emacs",
        "JetBrains",
        "gedit",
        "Kate",
        "VS Code",
    ];
    for (added, editor) in (1..).zip(editors) {
        let before = run.stderr().len();
        save_as(editor, &app, &source(added));
        let said = until_value(&run, added + 1);
        // A while longer: nothing more comes of that one save.
        let mut more = Vec::new();
        for _ in 0..30 {
            let line = run.next_line("more frames");
            if !line.starts_with("value ") {
                more.push(line);
            }
        }
        let stderr = run.stderr()[before..].to_owned();
        assert_eq!(said, ["reloaded"], "{editor}: {stderr}");
        assert!(more.is_empty(), "{editor}: {more:?}\n{stderr}");
        assert!(
            stderr.contains("compiling app with rustc directly"),
            "{editor}: {stderr}"
        );
        assert!(!stderr.contains("with cargo"), "{editor}: {stderr}");
        assert!(
            !stderr.contains("stopped building"),
            "{editor}: the save restarted its build: {stderr}"
        );
        assert_eq!(
            stderr.matches("rebuilt app in").count(),
            1,
            "{editor}: {stderr}"
        );
    }
    drop(run);
    let _ = std::fs::remove_dir_all(&project);
}

#[test]
fn a_host_that_dies_after_a_reload_is_said_to_have_died_and_after_which_reload() {
    let _turn = shared_target_turn();
    let project = project("dies");
    let mut run = run(&project);
    // Code that ends the process, outside any guard, as a bad edit might.
    edit(
        &project.join("app/src/lib.rs"),
        "    common::base()\n",
        "    std::process::abort()\n",
    );
    let status = run.exit_status();
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!(
            "hcr: the host was killed by signal {} (SIGABRT), ",
            libc::SIGABRT
        )) && stderr.contains(" s after it reloaded app (generation 1)"),
        "{stderr}"
    );
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGABRT),
        "cargo hcr passes the signal on"
    );
    drop(run);
    let _ = std::fs::remove_dir_all(&project);
}
