//! A window app as a new user makes one: `cargo hcr new --template egui`
//! (the egui example's sources), run by `cargo hcr run` in a real window
//! under Xvfb with Mesa's OpenGL. Each edit of the module shows in the
//! window (the host prints the text egui paints there whenever it
//! changes); a module's log line reaches the host's logger; a field added
//! to the state the host passes by `&mut` is refused, not a crash; and
//! with `HCR_KEEP_VERSIONS=1`, which unloads every replaced version at
//! once, the host lives through all of it, as egui's caches point into
//! the shared library of dependencies, never into a module.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{cargo_hcr, edit, running::Running};

/// The target directory of these builds: eframe's dependencies are built
/// once for all runs.
fn target_dir() -> PathBuf {
    hcr_build::workspace_dir()
        .join("target")
        .join("hcr-egui-test")
}

/// Reads the host's lines until the window shows `heading` first.
fn until_shown(run: &Running, heading: &str) {
    let wanted = format!("the window shows: {heading} |");
    loop {
        let line = run.next_line(&wanted);
        if line.starts_with(&wanted) {
            return;
        }
    }
}

/// Replaces the heading the module draws.
fn set_heading(lib: &Path, from: &str, to: &str) {
    edit(
        lib,
        &format!("ui.heading(\"{from}\")"),
        &format!("ui.heading(\"{to}\")"),
    );
}

#[test]
#[ignore = "needs Xvfb (Debian's xvfb) and Mesa; .ci/run installs them and runs it"]
fn the_egui_template_reloads_in_a_real_window_keeping_no_old_version() {
    let project = std::env::temp_dir().join(format!("hcr-egui-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&project);
    let created = Command::new(cargo_hcr())
        .args(["hcr", "new", "--template", "egui", "--name", "paint"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let manifest = std::fs::read_to_string(project.join("view/Cargo.toml")).unwrap();
    assert!(
        manifest.contains("egui =") && !manifest.contains("eframe"),
        "the module names egui alone:\n{manifest}"
    );
    let lib = project.join("view/src/lib.rs");

    let mut command = Command::new("xvfb-run");
    command
        .args(["--auto-servernum", "--server-args=-screen 0 800x600x24"])
        .arg(cargo_hcr())
        .args(["hcr", "run", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir())
        .env("HCR_KEEP_VERSIONS", "1")
        .env("LIBGL_ALWAYS_SOFTWARE", "1");
    let run = Running::start(command);
    until_shown(&run, "Hello from a module");

    // Three edits, each in the window.
    let mut heading = "Hello from a module".to_owned();
    for edit_number in 1..=3 {
        let next = format!("Edit {edit_number}");
        set_heading(&lib, &heading, &next);
        until_shown(&run, &next);
        heading = next;
    }
    run.stderr_says("reloaded view (generation 3)");

    // The module's log record, through the host's logger.
    edit(
        &lib,
        "    egui::CentralPanel",
        "    log::info!(\"drawing edit 4\");\n    egui::CentralPanel",
    );
    run.stderr_says("[INFO view] drawing edit 4");

    // A field in the state the host passes by `&mut`: refused, naming the
    // function, the type and both layouts.
    edit(
        &lib,
        "    pub clicks: u32,\n",
        "    pub clicks: u32,\n    pub name: String,\n",
    );
    run.stderr_says("reload refused, the old code keeps running");
    let stderr = run.stderr();
    assert!(
        stderr.contains("proc `view::draw` changed its signature")
            && stderr.contains("`[reached State 4/4]` became `[reached State 32/8]`")
            && stderr.contains("restart the host"),
        "{stderr}"
    );

    // Taken back, the next edit shows: the host lived through it all.
    edit(&lib, "    pub name: String,\n", "");
    set_heading(&lib, &heading, "After the refusal");
    until_shown(&run, "After the refusal");
    assert!(
        !run.stderr().contains("the host was killed"),
        "{}",
        run.stderr()
    );
    drop(run);
    let _ = std::fs::remove_dir_all(&project);
}
