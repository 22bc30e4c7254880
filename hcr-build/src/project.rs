//! An hcr project as cargo describes it: the host, the module crates it
//! uses, and where the runtime's sources are.
//!
//! A module crate says so in its manifest:
//!
//! ```toml
//! [package.metadata.hcr]
//! module = true
//! ```
//!
//! and a host may mark itself with `host = true` there, so that `cargo hcr`
//! finds it without `-p`. The modules of a host are the module crates in
//! its dependency graph.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use cargo_metadata::{Metadata, MetadataCommand, Package, PackageId};

use crate::BuildError;

/// A module crate of the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleCrate {
    /// Its package name (as in `cargo -p`).
    pub package: String,
    /// Its library's name: the module name (`lib<name>.so`).
    pub name: String,
    /// The directory of its `Cargo.toml`, whose files are its sources.
    pub dir: PathBuf,
    /// The module crates it depends on, directly or not.
    pub depends_on: BTreeSet<String>,
}

/// The host, its modules and the runtime's sources.
#[derive(Debug, Clone)]
pub struct Project {
    /// The workspace's `Cargo.toml`.
    pub manifest: PathBuf,
    /// Cargo's target directory.
    pub target_dir: PathBuf,
    /// The host's package name.
    pub host: String,
    /// The host's binary target.
    pub host_bin: String,
    /// Every binary target of the host's package.
    pub host_bins: Vec<String>,
    /// The directory of the host's `Cargo.toml`.
    pub host_dir: PathBuf,
    /// The module crates the host uses, leaves first.
    pub modules: Vec<ModuleCrate>,
    /// A `Cargo.toml` from which `cargo build -p hcr-runtime` works.
    pub runtime_manifest: PathBuf,
    /// Whether that manifest is the project's own (else the runtime is
    /// built into a directory of the project's target directory).
    pub runtime_in_workspace: bool,
    /// The packages (cargo's package ids) the host, its modules and
    /// `hcr-client` depend on directly, other than those and the
    /// workspace members that depend on a module: what goes into the
    /// library they share (see `shared`).
    pub shared_packages: BTreeSet<String>,
}

fn hcr_flag(package: &Package, key: &str) -> bool {
    package.metadata["hcr"][key].as_bool() == Some(true)
}

fn project_error(message: String) -> BuildError {
    BuildError::Project(message)
}

impl Project {
    /// Reads the project at `manifest` (default: cargo's search from the
    /// current directory) with `cargo metadata`. `host` names the host
    /// package; without it, the one workspace member marked
    /// `[package.metadata.hcr] host = true`, or the only one with a binary
    /// that uses module crates.
    ///
    /// # Errors
    /// [`BuildError::Project`] when cargo cannot describe the project, or
    /// the host or the runtime cannot be found.
    pub fn load(manifest: Option<&Path>, host: Option<&str>) -> Result<Project, BuildError> {
        let mut command = MetadataCommand::new();
        if let Some(manifest) = manifest {
            command.manifest_path(manifest);
        }
        let metadata = command
            .exec()
            .map_err(|err| project_error(format!("cargo metadata failed: {err}")))?;
        Project::from_metadata(&metadata, host)
    }

    fn from_metadata(metadata: &Metadata, host: Option<&str>) -> Result<Project, BuildError> {
        let packages: BTreeMap<&PackageId, &Package> =
            metadata.packages.iter().map(|p| (&p.id, p)).collect();
        let resolve = metadata
            .resolve
            .as_ref()
            .ok_or_else(|| project_error("cargo metadata has no dependency graph".into()))?;
        let deps: BTreeMap<&PackageId, Vec<&PackageId>> = resolve
            .nodes
            .iter()
            .map(|node| (&node.id, node.dependencies.iter().collect()))
            .collect();
        let closure = |start: &PackageId| -> BTreeSet<PackageId> {
            let mut seen = BTreeSet::new();
            let mut stack = vec![start.clone()];
            while let Some(id) = stack.pop() {
                for dep in deps.get(&id).into_iter().flatten() {
                    if seen.insert((*dep).clone()) {
                        stack.push((*dep).clone());
                    }
                }
            }
            seen
        };
        let is_module = |id: &PackageId| packages.get(id).is_some_and(|p| hcr_flag(p, "module"));
        let members: Vec<&Package> = metadata.workspace_packages();
        let has_bin = |p: &Package| p.targets.iter().any(|t| t.is_bin());
        let host_package = match host {
            Some(name) => members
                .iter()
                .find(|p| p.name.as_str() == name)
                .copied()
                .ok_or_else(|| project_error(format!("no package `{name}` in the workspace")))?,
            None => {
                let marked: Vec<&Package> = members
                    .iter()
                    .copied()
                    .filter(|p| hcr_flag(p, "host"))
                    .collect();
                let candidates = if marked.is_empty() {
                    members
                        .iter()
                        .copied()
                        .filter(|p| has_bin(p) && closure(&p.id).iter().any(&is_module))
                        .collect()
                } else {
                    marked
                };
                match candidates.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(project_error(
                            "no host found: mark one with `[package.metadata.hcr] host = true` \
                             or pass -p HOST"
                                .into(),
                        ));
                    }
                    several => {
                        let names: Vec<&str> = several.iter().map(|p| p.name.as_str()).collect();
                        return Err(project_error(format!(
                            "several hosts ({}): pass -p HOST",
                            names.join(", ")
                        )));
                    }
                }
            }
        };
        let host_bins: Vec<String> = host_package
            .targets
            .iter()
            .filter(|t| t.is_bin())
            .map(|t| t.name.clone())
            .collect();
        let host_bin = host_bins.first().cloned().ok_or_else(|| {
            project_error(format!("host `{}` has no binary target", host_package.name))
        })?;

        let mut modules: Vec<ModuleCrate> = closure(&host_package.id)
            .iter()
            .filter(|id| is_module(id))
            .filter_map(|id| packages.get(id))
            .map(|package| {
                let name = package
                    .targets
                    .iter()
                    .find(|t| t.is_lib())
                    .map_or_else(|| package.name.replace('-', "_"), |t| t.name.clone());
                let depends_on = closure(&package.id)
                    .iter()
                    .filter(|id| is_module(id))
                    .filter_map(|id| packages.get(id))
                    .map(|p| p.name.to_string())
                    .collect();
                ModuleCrate {
                    package: package.name.to_string(),
                    name,
                    dir: package_dir(package),
                    depends_on,
                }
            })
            .collect();
        // Leaves first: a module after every module it depends on.
        modules.sort_by(|a, b| {
            a.depends_on
                .len()
                .cmp(&b.depends_on.len())
                .then(a.package.cmp(&b.package))
        });

        let find = |name: &str| metadata.packages.iter().find(|p| p.name.as_str() == name);
        let reaches_module = |id: &PackageId| closure(id).iter().any(&is_module);
        let shared_packages =
            shared_packages(metadata, &host_package.id, &modules, find, reaches_module);
        let (runtime_manifest, runtime_in_workspace) = match find("hcr-runtime") {
            Some(runtime) if metadata.workspace_members.contains(&runtime.id) => (
                metadata
                    .workspace_root
                    .join("Cargo.toml")
                    .into_std_path_buf(),
                true,
            ),
            _ => {
                let client = find("hcr-client").ok_or_else(|| {
                    project_error("the host does not depend on hcr-client".into())
                })?;
                let manifest = package_dir(client)
                    .parent()
                    .map(|repo| repo.join("hcr-runtime").join("Cargo.toml"))
                    .filter(|manifest| manifest.is_file())
                    .ok_or_else(|| {
                        project_error(format!(
                            "cannot find hcr-runtime beside hcr-client ({}): depend on \
                             hcr-client by path or git so that its sources are at hand",
                            client.manifest_path
                        ))
                    })?;
                (manifest, false)
            }
        };
        Ok(Project {
            manifest: metadata
                .workspace_root
                .join("Cargo.toml")
                .into_std_path_buf(),
            target_dir: metadata.target_directory.clone().into_std_path_buf(),
            host: host_package.name.to_string(),
            host_bin,
            host_bins,
            host_dir: package_dir(host_package),
            modules,
            runtime_manifest,
            runtime_in_workspace,
            shared_packages,
        })
    }

    /// The project with `bin` as the host's binary (cargo's `--bin`).
    ///
    /// # Errors
    /// [`BuildError::Project`] when the host has no such binary, naming
    /// those it has.
    pub fn with_bin(mut self, bin: &str) -> Result<Project, BuildError> {
        if !self.host_bins.iter().any(|name| name == bin) {
            return Err(project_error(format!(
                "host `{}` has no binary `{bin}` (it has {})",
                self.host,
                self.host_bins.join(", ")
            )));
        }
        self.host_bin = bin.to_owned();
        Ok(self)
    }

    /// The module crate whose sources hold `path`, if any.
    pub fn module_of(&self, path: &Path) -> Option<&ModuleCrate> {
        self.modules
            .iter()
            .filter(|module| path.starts_with(&module.dir))
            .max_by_key(|module| module.dir.components().count())
    }

    /// Whether `path` is one of the host crate's own sources (and no
    /// module's).
    pub fn is_host_source(&self, path: &Path) -> bool {
        path.starts_with(&self.host_dir)
            && self.module_of(path).is_none()
            && !path.starts_with(&self.target_dir)
    }

    /// The modules to rebuild when `changed` changed: those and every
    /// module that depends on one of them, leaves first.
    pub fn rebuild_set(&self, changed: &BTreeSet<String>) -> Vec<&ModuleCrate> {
        self.modules
            .iter()
            .filter(|module| {
                changed.contains(&module.package)
                    || module.depends_on.iter().any(|dep| changed.contains(dep))
            })
            .collect()
    }
}

/// The direct normal dependencies of the host, of every module and of
/// `hcr-client`, but for those themselves (each module links its own
/// `hcr-client`, whose lists of reloadable functions are per library)
/// and the workspace members that depend on a module (`reaches_module`),
/// which are built with the modules.
fn shared_packages<'a>(
    metadata: &'a Metadata,
    host: &PackageId,
    modules: &[ModuleCrate],
    find: impl Fn(&str) -> Option<&'a Package>,
    reaches_module: impl Fn(&PackageId) -> bool,
) -> BTreeSet<String> {
    let Some(resolve) = &metadata.resolve else {
        return BTreeSet::new();
    };
    let client = find("hcr-client").map(|p| &p.id);
    let mut users: Vec<&PackageId> = modules
        .iter()
        .filter_map(|module| find(&module.package).map(|p| &p.id))
        .collect();
    users.push(host);
    users.extend(client);
    let normal = |dep: &cargo_metadata::NodeDep| {
        dep.dep_kinds
            .iter()
            .any(|kind| kind.kind == cargo_metadata::DependencyKind::Normal)
    };
    resolve
        .nodes
        .iter()
        .filter(|node| users.contains(&&node.id))
        .flat_map(|node| node.deps.iter().filter(|dep| normal(dep)))
        .map(|dep| &dep.pkg)
        .filter(|id| !users.contains(id))
        .filter(|id| !(metadata.workspace_members.contains(id) && reaches_module(id)))
        .map(|id| id.repr.clone())
        .collect()
}

fn package_dir(package: &Package) -> PathBuf {
    package
        .manifest_path
        .parent()
        .map(|dir| dir.to_path_buf().into_std_path_buf())
        .unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::Project;

    /// A project with host `host` at `/p` and no modules, whose target
    /// directory is `target_dir`.
    pub(crate) fn project_in(target_dir: &str) -> Project {
        Project {
            manifest: PathBuf::from("/p/Cargo.toml"),
            target_dir: PathBuf::from(target_dir),
            host: "host".into(),
            host_bin: "host".into(),
            host_bins: vec!["host".into(), "tool".into()],
            host_dir: PathBuf::from("/p"),
            modules: Vec::new(),
            runtime_manifest: PathBuf::from("/hcr/Cargo.toml"),
            runtime_in_workspace: false,
            shared_packages: Default::default(),
        }
    }

    #[test]
    fn the_shared_packages_are_what_host_modules_and_client_name_but_themselves() {
        let manifest = crate::workspace_dir().join("Cargo.toml");
        let project = Project::load(Some(&manifest), Some("hcr-egui")).unwrap();
        // Cargo's ids: `registry+…#egui@0.37.0`, `path+file:///…/hcr-trust#0.1.0`.
        let has = |name: &str| {
            project
                .shared_packages
                .iter()
                .any(|id| id.contains(&format!("#{name}@")) || id.contains(&format!("/{name}#")))
        };
        for shared in ["eframe", "egui", "log", "linkme", "hcr-trust"] {
            assert!(has(shared), "{shared} in {:?}", project.shared_packages);
        }
        for own in ["egui_view", "hcr-client", "hcr-egui"] {
            assert!(!has(own), "{own} in {:?}", project.shared_packages);
        }
    }

    #[test]
    fn another_binary_of_the_host_is_chosen_and_a_missing_one_is_named() {
        let project = project_in("/p/target").with_bin("tool").unwrap();
        assert_eq!(project.host_bin, "tool");
        let err = project.with_bin("nope").unwrap_err().to_string();
        assert_eq!(err, "host `host` has no binary `nope` (it has host, tool)");
    }
}
