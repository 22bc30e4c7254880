//! `cargo hcr build`: the host, the runtime and every module, laid out
//! beside the host binary so that it runs with no extra environment.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::direct::Capture;
use crate::shared;
use crate::{BuildError, BuildOptions, HostBinary, Project, RustModule, runtime_library_from};

/// Where everything was put.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The host binary.
    pub host: PathBuf,
    /// Its directory, holding the runtime library and the modules'
    /// (`libhcr_runtime.so` and `lib<module>.so`; `hcr_runtime.dll` and
    /// `<module>.dll` on Windows).
    pub dir: PathBuf,
    /// The module libraries, by module name.
    pub modules: Vec<(String, PathBuf)>,
}

pub use hcr_files::BUILDING_MARKER;

/// The marker of a set of libraries being written in a module directory,
/// there as long as this lives. Best effort: without it a host may try a
/// partial set, which the runtime refuses as a whole and tries again once
/// the set is complete.
#[derive(Debug)]
pub(crate) struct WritingSet {
    marker: PathBuf,
}

impl WritingSet {
    /// Puts the marker naming `modules` in `dir`.
    pub(crate) fn begin(dir: &Path, modules: &[String]) -> WritingSet {
        let writing = WritingSet {
            marker: dir.join(BUILDING_MARKER),
        };
        writing.name(modules);
        writing
    }

    /// Makes the marker name `modules` instead, without removing it in
    /// between (a new file renamed over it).
    pub(crate) fn name(&self, modules: &[String]) {
        let staging = self.marker.with_extension("hcr-tmp");
        let names: String = modules.iter().map(|name| format!("{name}\n")).collect();
        if std::fs::write(&staging, names).is_ok() {
            let _ = std::fs::rename(&staging, &self.marker);
        }
    }

    /// Removes a marker left in `dir` by a process that was killed.
    pub(crate) fn clear(dir: &Path) {
        let _ = std::fs::remove_file(dir.join(BUILDING_MARKER));
    }
}

impl Drop for WritingSet {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.marker);
    }
}

/// Copies `file` into `dir` under its own name unless it is there already
/// (see [`install_file`]).
///
/// # Errors
/// [`BuildError::Layout`] with the path.
pub fn place(file: &Path, dir: &Path) -> Result<PathBuf, BuildError> {
    let target = dir.join(file.file_name().unwrap_or_default());
    if file.parent() != Some(dir) {
        install_file(file, &target)?;
    }
    Ok(target)
}

/// Copies `file` to `target` the way a linker writes: into a new file
/// beside `target`, then renamed over it, so a running host never reads
/// half a library.
///
/// # Errors
/// [`BuildError::Layout`] with the target's path.
pub fn install_file(file: &Path, target: &Path) -> Result<(), BuildError> {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    let staging = target.with_file_name(format!(".{name}.hcr-tmp"));
    let layout_error = |source| BuildError::Layout {
        path: target.to_path_buf(),
        source,
    };
    std::fs::copy(file, &staging).map_err(layout_error)?;
    std::fs::rename(&staging, target).map_err(layout_error)
}

/// How one module crate of `project` is built.
pub fn module_build(project: &Project, package: &str, options: &BuildOptions) -> RustModule {
    options.module_features(package).iter().fold(
        RustModule::new(package)
            .manifest_path(&project.manifest)
            .profile(options.profile())
            .target(options.target())
            .target_dir(options.target_dir(project)),
        |module, feature| module.feature(feature),
    )
}

/// How the host of `project` is built.
pub(crate) fn host_binary(project: &Project, options: &BuildOptions) -> HostBinary {
    options.features.iter().fold(
        HostBinary::new(&project.host, &project.host_bin)
            .manifest_path(&project.manifest)
            .profile(options.profile())
            .all_features(options.all_features)
            .no_default_features(options.no_default_features)
            .target(options.target())
            .target_dir(options.target_dir(project)),
        |host, feature| host.feature(feature),
    )
}

/// Builds the host, the runtime and every module of `project`, reporting
/// each step to `status`, and lays them out beside the host binary.
///
/// # Errors
/// The first [`BuildError`], with cargo's diagnostics.
pub fn build_project(
    project: &Project,
    options: &BuildOptions,
    status: &mut dyn FnMut(&str),
) -> Result<Layout, BuildError> {
    let started = Instant::now();
    let target = options.target();
    let for_target = match &options.target {
        Some(target) => format!(" for {target}"),
        None => String::new(),
    };
    let shared = match options.shares_dependencies() {
        true => Some(shared::prepare(project, options, status)?),
        false => None,
    };
    status(&format!("building host `{}`{for_target}…", project.host));
    let host = match &shared {
        Some(library) => {
            let mut build = shared::host_against(project, options, library).spawn()?;
            let host = build.finish_in_place()?;
            // What the wrapper said of the host's build.
            let said = build.log().lines().map(str::trim_start);
            said.filter_map(|line| line.strip_prefix("hcr: "))
                .for_each(&mut *status);
            host
        }
        None => host_binary(project, options).build()?,
    };
    let dir = host
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| BuildError::Project(format!("{} has no directory", host.display())))?;

    // The runtime is always optimized: it hashes and copies every library
    // it loads, whatever the profile of the program.
    status("building the runtime…");
    let target_dir = options.target_dir(project);
    let runtime_target = if project.runtime_in_workspace {
        target_dir
    } else {
        target_dir.join("hcr-runtime")
    };
    let runtime = runtime_library_from(
        &project.runtime_manifest,
        Some(&runtime_target),
        true,
        target,
    )?;
    place(&runtime, &dir)?;

    let names: Vec<String> = project.modules.iter().map(|m| m.name.clone()).collect();
    let writing = WritingSet::begin(&dir, &names);
    let mut built = Vec::new();
    let output_dir = options.output_dir(project);
    let root = project.manifest.parent().unwrap_or(Path::new("."));
    for module in &project.modules {
        status(&format!("building module `{}`…", module.name));
        let crate_name = module.package.replace('-', "_");
        let library = if shared.is_some() {
            shared::module_library(&output_dir, &module.package, &crate_name, root)?
        } else {
            let mut build = module_build(project, &module.package, options)
                .show_commands()
                .spawn()?;
            let library = build.finish_in_place()?;
            // How cargo ran rustc, for the watcher's direct builds (kept
            // from an earlier build when cargo found the module fresh).
            if let Some(capture) = Capture::from_cargo(build.log(), &crate_name, root) {
                capture.record(&output_dir, &module.package);
            }
            library
        };
        built.push((module, library));
    }
    // Laid out once all are built, so that a running host sees the new
    // versions together, or nothing when one fails.
    let mut modules = Vec::new();
    for (module, library) in built {
        modules.push((module.name.clone(), place(&library, &dir)?));
    }
    drop(writing);
    status(&format!(
        "built `{}`, the runtime and {} module(s){for_target} in {:.1?} into {}",
        project.host,
        modules.len(),
        started.elapsed(),
        dir.display()
    ));
    Ok(Layout { host, dir, modules })
}
