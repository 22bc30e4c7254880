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

/// What a new project is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Template {
    /// A terminal program: the host prints a line a second, which the
    /// module `logic` makes.
    #[default]
    Terminal,
    /// A window app (eframe, glow): the module `view` draws the window
    /// every frame. Its sources are those of `examples/egui`.
    Egui,
}

/// The egui example's dependencies, as the template writes them.
const EFRAME: &str = "eframe = { version = \"0.37\", default-features = false, \
                      features = [\"default_fonts\", \"glow\", \"wayland\", \"x11\"] }";
const EGUI: &str = "egui = { version = \"0.37\", default-features = false }";
const LOG: &str = "log = \"0.4\"";

impl Template {
    /// The module crate the project starts with.
    pub fn module(self) -> &'static str {
        match self {
            Template::Terminal => "logic",
            Template::Egui => "view",
        }
    }

    /// The host's dependencies besides hcr-client and the module.
    fn host_dependencies(self) -> String {
        match self {
            Template::Terminal => String::new(),
            Template::Egui => format!("{EFRAME}\n{LOG}\n"),
        }
    }

    /// The module's dependencies besides hcr-client.
    fn module_dependencies(self) -> String {
        match self {
            Template::Terminal => String::new(),
            Template::Egui => format!("{EGUI}\n{LOG}\n"),
        }
    }

    /// The host's `src/main.rs` for host `name`.
    fn host_main(self, name: &str) -> String {
        match self {
            Template::Terminal => HOST_MAIN.replace("{module}", self.module()),
            Template::Egui => include_str!("../../examples/egui/app/src/main.rs")
                .replace("egui_view", self.module())
                .replace("\"hcr egui example\"", &format!("{name:?}")),
        }
    }

    /// The module's `src/lib.rs`.
    fn module_lib(self) -> &'static str {
        match self {
            Template::Terminal => FIRST_MODULE_LIB,
            Template::Egui => include_str!("../../examples/egui/view/src/lib.rs"),
        }
    }

    /// What `README.md` says to edit.
    fn what_to_edit(self) -> &'static str {
        match self {
            Template::Terminal => "the next frame shows the change",
            Template::Egui => "the window shows the change at its next frame",
        }
    }
}

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
fn project_files(name: &str, client: &Path, template: Template) -> Vec<(PathBuf, String)> {
    let module = template.module();
    let root = format!(
        "[workspace]\nresolver = \"3\"\nmembers = [\"host\", \"{module}\"]\n\n\
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
         {module} = {{ path = \"../{module}\" }}\n{}",
        template.host_dependencies()
    );
    let readme = format!(
        "# {name}\n\n`cargo hcr run` builds and runs it; edit `{module}/src/lib.rs` \
         while it runs and {}.\n\
         `cargo build --release --features static` builds it as one ordinary program.\n",
        template.what_to_edit()
    );
    vec![
        ("Cargo.toml".into(), root),
        (".gitignore".into(), "/target\n".into()),
        ("README.md".into(), readme),
        ("host/Cargo.toml".into(), host_manifest),
        ("host/src/main.rs".into(), template.host_main(name)),
        (
            format!("{module}/Cargo.toml").into(),
            module_manifest(module, &template.module_dependencies()),
        ),
        (
            format!("{module}/src/lib.rs").into(),
            template.module_lib().into(),
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

fn module_manifest(name: &str, dependencies: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [package.metadata.hcr]\nmodule = true\n\n\
         [dependencies]\nhcr-client.workspace = true\n{dependencies}\n\
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

/// Creates a project at `dir` (which must not exist) from `template`: a
/// workspace with a host package `name` (default: the directory's name)
/// and a module crate (`logic`, or `view` for egui), depending on the
/// `hcr-client` of the hcr sources at `hcr`. Returns the host's package
/// name.
///
/// # Errors
/// [`BuildError::Project`] when `dir` exists, the name is not a crate
/// name, or `hcr` holds no hcr sources; [`BuildError::Layout`] when a file
/// cannot be written.
pub fn new_project(
    dir: &Path,
    name: Option<&str>,
    hcr: &Path,
    template: Template,
) -> Result<String, BuildError> {
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
    if name.replace('-', "_") == template.module() {
        return Err(refused(format!(
            "`{name}` is the name of the project's module: pick another with --name"
        )));
    }
    let client = hcr_client_dir(hcr)?;
    let client = client.canonicalize().map_err(io_error(&client))?;
    write_all(dir, &project_files(&name, &client, template))?;
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
            (
                format!("{name}/Cargo.toml").into(),
                module_manifest(name, ""),
            ),
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
    fn the_egui_template_is_the_egui_example_under_the_project_s_names() {
        let files = project_files("paint", Path::new("/hcr/hcr-client"), Template::Egui);
        let file = |path: &str| {
            let found = files.iter().find(|(p, _)| p == Path::new(path));
            found
                .map(|(_, text)| text.as_str())
                .unwrap_or_else(|| panic!("no {path}"))
        };
        let example = crate::workspace_dir().join("examples/egui");
        let example_file = |path: &str| std::fs::read_to_string(example.join(path)).unwrap();
        assert!(file("host/src/main.rs").contains("Host::builder().import(\"view\")"));
        assert!(file("host/src/main.rs").contains("\"paint\","));
        assert!(!file("host/src/main.rs").contains("egui_view"));
        assert_eq!(file("view/src/lib.rs"), example_file("view/src/lib.rs"));
        // The example's manifests name what the template's do.
        let squeeze = |text: &str| text.split_whitespace().collect::<String>();
        let (app, view) = (
            example_file("app/Cargo.toml"),
            example_file("view/Cargo.toml"),
        );
        for line in [EFRAME, LOG] {
            assert!(squeeze(file("host/Cargo.toml")).contains(&squeeze(line)));
            assert!(squeeze(&app).contains(&squeeze(line)), "{line}");
        }
        for line in [EGUI, LOG] {
            assert!(squeeze(file("view/Cargo.toml")).contains(&squeeze(line)));
            assert!(squeeze(&view).contains(&squeeze(line)), "{line}");
        }
        assert!(!file("view/Cargo.toml").contains("eframe"));
    }

    #[test]
    fn an_existing_path_is_refused_and_nothing_is_written() {
        let dir = std::env::temp_dir().join(format!("hcr-scaffold-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = new_project(&dir, None, &crate::workspace_dir(), Template::Egui).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        let missing = dir.join("fresh");
        let err = new_project(
            &missing,
            None,
            Path::new("/nonexistent"),
            Template::Terminal,
        )
        .unwrap_err();
        assert!(err.to_string().contains("pass --hcr-path"), "{err}");
        assert!(!missing.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
