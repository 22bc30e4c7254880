//! `cargo hcr new`: a new project (a workspace with a host and one
//! module), or a module added to an existing one and wired into its host.
//!
//! Decisions: the project depends on `hcr-client` by path (it is not on a
//! registry); it starts from the `Cargo.lock` of those hcr sources, so
//! that it builds with the versions hcr is tested with; names must be
//! crate names. Nothing is written when anything is refused.

use std::path::{Path, PathBuf};

use toml_edit::{DocumentMut, InlineTable, Item, Value};

use crate::BuildError;

/// The module crate a new project starts with.
const FIRST_MODULE: &str = "logic";

fn refused(message: String) -> BuildError {
    BuildError::Project(message)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Layout {
        path: path.to_path_buf(),
        source,
    }
}

/// Refuses what cannot be a crate name.
fn check_name(name: &str) -> Result<(), BuildError> {
    let valid = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if valid {
        Ok(())
    } else {
        Err(refused(format!(
            "`{name}` cannot be a crate name: use ASCII letters, digits, `_` and `-`, \
             starting with a letter"
        )))
    }
}

/// Where `hcr-client` is in the hcr sources at `hcr`, checked.
fn hcr_client_dir(hcr: &Path) -> Result<PathBuf, BuildError> {
    let client = hcr.join("hcr-client");
    if client.join("Cargo.toml").is_file() {
        Ok(client)
    } else {
        Err(refused(format!(
            "no hcr sources at {} (no hcr-client/Cargo.toml there): pass --hcr-path",
            hcr.display()
        )))
    }
}

/// The files of a new project, by path inside it.
fn project_files(name: &str, client: &Path) -> Vec<(PathBuf, String)> {
    let root = format!(
        "[workspace]\nresolver = \"3\"\nmembers = [\"host\", \"{FIRST_MODULE}\"]\n\n\
         [workspace.dependencies]\nhcr-client = {{ path = {:?} }}\n",
        client.display().to_string()
    );
    let host_manifest = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [package.metadata.hcr]\nhost = true\n\n\
         [features]\n\
         # `cargo build --release --features static`: one program, modules linked in.\n\
         static = [\"hcr-client/static\"]\n\n\
         [dependencies]\nhcr-client.workspace = true\n\
         {FIRST_MODULE} = {{ path = \"../{FIRST_MODULE}\" }}\n"
    );
    let readme = format!(
        "# {name}\n\n`cargo hcr run` builds and runs it; edit `{FIRST_MODULE}/src/lib.rs` \
         while it runs and the next frame shows the change.\n\
         `cargo build --release --features static` builds it as one ordinary program.\n"
    );
    vec![
        ("Cargo.toml".into(), root),
        (".gitignore".into(), "/target\n".into()),
        ("README.md".into(), readme),
        ("host/Cargo.toml".into(), host_manifest),
        (
            "host/src/main.rs".into(),
            HOST_MAIN.replace("{module}", FIRST_MODULE),
        ),
        (
            format!("{FIRST_MODULE}/Cargo.toml").into(),
            module_manifest(FIRST_MODULE),
        ),
        (
            format!("{FIRST_MODULE}/src/lib.rs").into(),
            FIRST_MODULE_LIB.into(),
        ),
    ]
}

const HOST_MAIN: &str = r#"//! The host: starts the modules, then runs one frame a second and reloads
//! between two frames whatever `cargo hcr run` rebuilt.

use std::time::Duration;

use hcr_client::Host;

fn main() {
    let host = match Host::builder().import("{module}").start() {
        Ok(host) => host,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(1);
        }
    };
    for frame in 0_u64.. {
        // A safe point: no module code runs between two frames.
        if host.reload_needed() {
            match host.reload() {
                Ok(report) => eprintln!("reloaded {}", report.modules.join(", ")),
                Err(err) => eprintln!("{err}"),
            }
        }
        println!("{}", {module}::greet(frame));
        std::thread::sleep(Duration::from_secs(1));
    }
}
"#;

const FIRST_MODULE_LIB: &str = r#"//! A module: edit `greet` while `cargo hcr run` runs, save, and the next
//! frame runs the new code.

use std::sync::atomic::{AtomicU64, Ordering};

hcr_client::module!();

/// Greetings so far: a persistent global, which keeps its value across
/// reloads.
#[hcr_client::global]
static GREETINGS: AtomicU64 = AtomicU64::new(0);

/// The line of one frame.
#[hcr_client::reloadable]
pub fn greet(frame: u64) -> String {
    let count = GREETINGS.fetch_add(1, Ordering::Relaxed) + 1;
    format!("frame {frame}: hello from a module ({count} greetings so far)")
}
"#;

fn module_manifest(name: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [package.metadata.hcr]\nmodule = true\n\n\
         [dependencies]\nhcr-client.workspace = true\n\n\
         [lints.rust]\n\
         unexpected_cfgs = {{ level = \"warn\", check-cfg = ['cfg(hcr_module)'] }}\n"
    )
}

fn added_module_lib(name: &str) -> String {
    format!(
        "//! Module `{name}`: its reloadable functions run the newest code.\n\n\
         hcr_client::module!();\n\n\
         /// Says which module answers.\n\
         #[hcr_client::reloadable]\n\
         pub fn hello() -> String {{\n    \"hello from {name}\".to_owned()\n}}\n"
    )
}

fn write_all(dir: &Path, files: &[(PathBuf, String)]) -> Result<(), BuildError> {
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        std::fs::write(&path, text).map_err(io_error(&path))?;
    }
    Ok(())
}

/// Creates a project at `dir` (which must not exist): a workspace with a
/// host package `name` (default: the directory's name) and a module crate
/// `logic`, depending on the `hcr-client` of the hcr sources at `hcr`.
/// Returns the host's package name.
///
/// # Errors
/// [`BuildError::Project`] when `dir` exists, the name is not a crate
/// name, or `hcr` holds no hcr sources; [`BuildError::Layout`] when a file
/// cannot be written.
pub fn new_project(dir: &Path, name: Option<&str>, hcr: &Path) -> Result<String, BuildError> {
    if dir.exists() {
        return Err(refused(format!(
            "{} already exists: cargo hcr new makes a new directory",
            dir.display()
        )));
    }
    let name = match name {
        Some(name) => name.to_owned(),
        None => dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| refused(format!("{} has no name to take", dir.display())))?,
    };
    check_name(&name)?;
    if name.replace('-', "_") == FIRST_MODULE {
        return Err(refused(format!(
            "`{name}` is the name of the project's module: pick another with --name"
        )));
    }
    let client = hcr_client_dir(hcr)?;
    let client = client.canonicalize().map_err(io_error(&client))?;
    write_all(dir, &project_files(&name, &client))?;
    let lock = hcr.join("Cargo.lock");
    if lock.is_file() {
        let target = dir.join("Cargo.lock");
        std::fs::copy(&lock, &target).map_err(io_error(&target))?;
    }
    Ok(name)
}

fn read_toml(path: &Path) -> Result<DocumentMut, BuildError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    text.parse()
        .map_err(|err| refused(format!("{} is not valid TOML: {err}", path.display())))
}

/// Adds module crate `name` to the project whose workspace is at `root`:
/// the crate (marked as a module, with one reloadable function), a member
/// of the workspace, a dependency of the host `host_dir`, and an import
/// in the host's `Host::builder()` (in `src/main.rs`). Returns what the
/// user must still do by hand, if anything.
///
/// # Errors
/// [`BuildError::Project`] when the name is taken or not a crate name,
/// or a manifest cannot be read; nothing is written then.
pub fn add_module(root: &Path, host_dir: &Path, name: &str) -> Result<Option<String>, BuildError> {
    check_name(name)?;
    let dir = root.join(name);
    if dir.exists() {
        return Err(refused(format!("{} already exists", dir.display())));
    }
    let root_manifest = root.join("Cargo.toml");
    let mut workspace = read_toml(&root_manifest)?;
    let members = workspace
        .get_mut("workspace")
        .and_then(|w| w.get_mut("members"))
        .and_then(Item::as_array_mut)
        .ok_or_else(|| {
            refused(format!(
                "{} has no [workspace] members list to add `{name}` to",
                root_manifest.display()
            ))
        })?;
    if members.iter().any(|member| member.as_str() == Some(name)) {
        return Err(refused(format!("`{name}` is a member already")));
    }
    members.push(name);

    let host_manifest = host_dir.join("Cargo.toml");
    let mut host = read_toml(&host_manifest)?;
    let dependencies = host
        .entry("dependencies")
        .or_insert(toml_edit::table())
        .as_table_like_mut()
        .ok_or_else(|| {
            refused(format!(
                "{}: [dependencies] is not a table",
                host_manifest.display()
            ))
        })?;
    if dependencies.contains_key(name) {
        return Err(refused(format!("the host depends on `{name}` already")));
    }
    let mut dependency = InlineTable::new();
    dependency.insert("path", Value::from(relative(host_dir, &dir)));
    dependencies.insert(name, Item::Value(Value::InlineTable(dependency)));

    let main = host_dir.join("src").join("main.rs");
    let module = name.replace('-', "_");
    let wired = std::fs::read_to_string(&main)
        .ok()
        .and_then(|text| add_import(&text, &module));

    write_all(
        root,
        &[
            (format!("{name}/Cargo.toml").into(), module_manifest(name)),
            (
                format!("{name}/src/lib.rs").into(),
                added_module_lib(&module),
            ),
        ],
    )?;
    std::fs::write(&root_manifest, workspace.to_string()).map_err(io_error(&root_manifest))?;
    std::fs::write(&host_manifest, host.to_string()).map_err(io_error(&host_manifest))?;
    match wired {
        Some(text) => {
            std::fs::write(&main, text).map_err(io_error(&main))?;
            Ok(None)
        }
        None => Ok(Some(format!(
            "add `.import(\"{module}\")` to the host's `Host::builder()` in {}",
            main.display()
        ))),
    }
}

/// `text` with `.import("module")` after the last `.import(..)` of a
/// `Host::builder()` chain, if there is one.
fn add_import(text: &str, module: &str) -> Option<String> {
    let builder = text.find("Host::builder()")?;
    let mut end = builder + "Host::builder()".len();
    while text[end..].starts_with(".import(") {
        end += text[end..].find(')')? + 1;
    }
    Some(format!(
        "{}.import(\"{module}\"){}",
        &text[..end],
        &text[end..]
    ))
}

/// `to` relative to `from`, both inside one directory tree, with `/`.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|part| part.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_goes_after_the_last_one_of_the_builder() {
        assert_eq!(
            add_import(r#"Host::builder().import("a").start()"#, "b").as_deref(),
            Some(r#"Host::builder().import("a").import("b").start()"#)
        );
        assert_eq!(
            add_import("Host::builder().start()", "b").as_deref(),
            Some(r#"Host::builder().import("b").start()"#)
        );
        assert_eq!(add_import("fn main() {}", "b"), None);
    }

    #[test]
    fn names_and_paths() {
        assert!(check_name("game-logic_2").is_ok());
        for bad in ["", "2d", "a b", "é", "a/b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            relative(Path::new("/p/host"), Path::new("/p/audio")),
            "../audio"
        );
        assert_eq!(relative(Path::new("/p"), Path::new("/p/audio")), "audio");
    }

    #[test]
    fn an_existing_path_is_refused_and_nothing_is_written() {
        let dir = std::env::temp_dir().join(format!("hcr-scaffold-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = new_project(&dir, None, &crate::workspace_dir()).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let missing = dir.join("fresh");
        let err = new_project(&missing, None, Path::new("/nonexistent")).unwrap_err();
        assert!(err.to_string().contains("pass --hcr-path"), "{err}");
        assert!(!missing.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
