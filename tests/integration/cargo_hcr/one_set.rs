//! One save that changes a function's signature and its caller gives the
//! running host one consistent set: one reload, no refused partial set.

use std::path::PathBuf;
use std::process::Command;

use super::{
    cargo_hcr, edit, module_manifest, running::Running, shared_target, shared_target_turn, write,
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

/// A host importing `app`, which calls `common::base`.
fn project() -> PathBuf {
    let project = std::env::temp_dir().join(format!("hcr-one-set-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&project);
    let client = hcr_build::workspace_dir().join("hcr-client");
    write(
        &project.join("Cargo.toml"),
        &format!(
            "[workspace]\nresolver = \"3\"\nmembers = [\"host\", \"app\", \"common\"]\n\n\
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

#[test]
fn a_save_that_changes_a_signature_and_its_caller_is_one_reload() {
    let _turn = shared_target_turn();
    let project = project();
    let mut command = Command::new(cargo_hcr());
    command
        .args(["hcr", "run", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", shared_target());
    let run = Running::start(command);
    let first = run.next_line("the first value");
    assert_eq!(first, "value 1");

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
    let mut said = Vec::new();
    loop {
        let line = run.next_line("the new value");
        if line == "value 11" {
            break;
        }
        if !line.starts_with("value ") {
            said.push(line);
        }
    }
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
