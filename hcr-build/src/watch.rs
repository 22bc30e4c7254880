//! The rebuild loop of `cargo hcr run` and `cargo hcr watch`.
//!
//! [`Rebuilder`] is a state machine fed with changed paths and the time,
//! so that it can be tested without a file system or a clock: a rebuild
//! starts as soon as a write is known to be finished (the file was closed
//! or renamed into place), else once the files were quiet for [`QUIET`]
//! (one save, which editors often make as several writes, is one
//! rebuild), mapped to module crates, and rebuilt with the modules that
//! depend on them, in two sets: the edited modules, laid out together once
//! all of them are built (so that a save changing a function's signature
//! and its callers is one consistent set), then their dependents, laid out
//! together after (so that the edited code runs without waiting for them).
//! Within a set, modules that do not depend on each other build side by
//! side, as many as there are cores. A change that arrives while a build
//! runs cancels the rebuild and starts again with everything pending. A change to the host's own crate is reported
//! as needing a restart. [`watch`] drives it with `notify` and real cargo
//! builds.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::direct::{Capture, DirectBuild};
use crate::layout::WritingSet;
use crate::shared;
use crate::{BuildError, BuildOptions, ModuleCrate, Project, Running, module_build, place};

/// How long the files must stay quiet before a rebuild starts, when
/// nothing says that a write finished (see [`Rebuilder::file_written`]).
pub const QUIET: Duration = Duration::from_millis(100);

/// What the loop did, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The files are watched (this many directories and files): from now
    /// on every save is seen.
    Watching(usize),
    /// A rebuild of these modules started.
    Building(Vec<String>),
    /// The running build was stopped by a newer change.
    Cancelled(Vec<String>),
    /// These modules were rebuilt and put in place.
    Rebuilt {
        /// The modules.
        modules: Vec<String>,
        /// From the start of the build to the last library in place.
        elapsed: Duration,
    },
    /// A module did not build; the program keeps its last good code.
    Failed {
        /// The module.
        module: String,
        /// Cargo's diagnostics, in full.
        message: String,
    },
    /// The host's own crate changed: it is never rebuilt while it runs.
    HostChanged(PathBuf),
    /// How a module is compiled, when it is worth saying: with rustc
    /// directly, or with cargo and why.
    Compiling {
        /// The module.
        module: String,
        /// How.
        how: String,
    },
}

/// Starts, polls and cancels module builds, and lays the libraries of a
/// set out together; [`CargoBuilds`] in real use.
pub trait Builder {
    /// A running build.
    type Build;
    /// What a finished build gives: the library to lay out.
    type Output;
    /// A set of builds of `modules`, whose libraries go out together,
    /// begins: until [`Builder::lay_out`] or [`Builder::abandon_set`], a
    /// running host must not take any of them.
    fn begin_set(&mut self, modules: &[String]) {
        let _ = modules;
    }
    /// Starts building `module`. `changed` are the module's own files
    /// that changed, when it may be compiled on its own (no module it
    /// depends on is rebuilt with it); empty when it is rebuilt for a
    /// dependency's sake. Returns the build and, when it is worth a
    /// status line, how it is built.
    ///
    /// # Errors
    /// When the build cannot start.
    fn start(
        &mut self,
        module: &ModuleCrate,
        changed: &[PathBuf],
    ) -> Result<(Self::Build, Option<String>), BuildError>;
    /// The build's result if it ended.
    fn poll(&mut self, build: &mut Self::Build) -> Option<Result<Self::Output, BuildError>>;
    /// Stops a build.
    fn cancel(&mut self, build: Self::Build);
    /// Lays the libraries of the set out together and ends the set.
    ///
    /// # Errors
    /// When a library cannot be put in place.
    fn lay_out(&mut self, built: Vec<Self::Output>) -> Result<(), BuildError>;
    /// Ends the set without laying anything out (a build failed).
    fn abandon_set(&mut self) {}
    /// Whether a changed file is still there when its rebuild would start:
    /// one that is gone (an editor's temporary, renamed away or deleted)
    /// neither starts nor restarts a rebuild.
    fn still_there(&self, path: &Path) -> bool {
        path.exists()
    }
}

/// What kind of file a changed path is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Module(String),
    Host,
    Ignored,
}

/// The rebuild state machine; see the module docs.
#[derive(Debug)]
pub struct Rebuilder<B: Builder> {
    project: Project,
    builder: B,
    /// Modules changed since the last rebuild started, with their files
    /// that changed, and when the files are expected to have settled.
    pending: BTreeMap<String, BTreeSet<PathBuf>>,
    settled_at: Option<Instant>,
    host_changed: Option<PathBuf>,
    /// The rebuild in progress: what it covers, the sets of modules still
    /// to build (each laid out together once all its modules are built),
    /// what is left to start of the current set and what it built, the
    /// builds running now and when the rebuild started.
    batch: Vec<String>,
    covers: BTreeMap<String, BTreeSet<PathBuf>>,
    sets: Vec<Vec<ModuleCrate>>,
    set: Vec<ModuleCrate>,
    set_names: Vec<String>,
    built: Vec<B::Output>,
    running: Vec<(ModuleCrate, B::Build)>,
    started: Option<Instant>,
    /// How many builds may run at once.
    parallel: usize,
}

impl<B: Builder> Rebuilder<B> {
    /// A loop over `project`'s modules, building with `builder`.
    pub fn new(project: Project, builder: B) -> Self {
        Rebuilder {
            project,
            builder,
            pending: BTreeMap::new(),
            settled_at: None,
            host_changed: None,
            batch: Vec::new(),
            covers: BTreeMap::new(),
            sets: Vec::new(),
            set: Vec::new(),
            set_names: Vec::new(),
            built: Vec::new(),
            running: Vec::new(),
            started: None,
            parallel: 1,
        }
    }

    /// Lets up to `builds` modules of a set that do not depend on each
    /// other build at once (default: one at a time).
    pub fn parallel(mut self, builds: usize) -> Self {
        self.parallel = builds.max(1);
        self
    }

    /// The builder, for tests.
    pub fn builder(&self) -> &B {
        &self.builder
    }

    /// Whether a rebuild is running.
    pub fn is_building(&self) -> bool {
        !self.running.is_empty()
    }

    fn classify(&self, path: &Path) -> Source {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        // Hidden files and directories inside the project (.git); the
        // project itself may live under a hidden directory.
        let root = self.project.manifest.parent().unwrap_or(Path::new("/"));
        let hidden = path
            .strip_prefix(root)
            .unwrap_or(path)
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
        if hidden || editors::is_editor_file(&name) || path.starts_with(&self.project.target_dir) {
            return Source::Ignored;
        }
        if let Some(module) = self.project.module_of(path) {
            return Source::Module(module.package.clone());
        }
        if self.project.is_host_source(path) {
            return Source::Host;
        }
        Source::Ignored
    }

    /// Notes that `path` changed at `now`: more writes may follow, so the
    /// files settle once they have been quiet for [`QUIET`].
    pub fn file_changed(&mut self, path: &Path, now: Instant) {
        self.note(path, now + QUIET);
    }

    /// Notes that a write of `path` finished at `now` (the writer closed
    /// it, or renamed it into place): the file is complete, so a rebuild
    /// starts at once; a write that lands during it restarts it.
    pub fn file_written(&mut self, path: &Path, now: Instant) {
        self.note(path, now);
    }

    fn note(&mut self, path: &Path, settled_at: Instant) {
        match self.classify(path) {
            Source::Module(package) => {
                self.pending
                    .entry(package)
                    .or_default()
                    .insert(path.to_path_buf());
            }
            Source::Host => {
                self.host_changed.get_or_insert_with(|| path.to_path_buf());
            }
            Source::Ignored => return,
        }
        self.settled_at = Some(settled_at);
    }

    /// Advances the loop to `now`: starts, cancels and finishes builds.
    pub fn tick(&mut self, now: Instant) -> Vec<Event> {
        let mut events = Vec::new();
        let quiet = self.settled_at.is_some_and(|settled| now >= settled);
        if quiet {
            self.settled_at = None;
            if let Some(path) = self.host_changed.take() {
                events.push(Event::HostChanged(path));
            }
            for files in self.pending.values_mut() {
                files.retain(|path| self.builder.still_there(path));
            }
            self.pending.retain(|_, files| !files.is_empty());
            if !self.pending.is_empty() {
                let mut changed = std::mem::take(&mut self.pending);
                if !self.batch.is_empty() {
                    self.cancel_running();
                    events.push(Event::Cancelled(std::mem::take(&mut self.batch)));
                    for (module, files) in std::mem::take(&mut self.covers) {
                        changed.entry(module).or_default().extend(files);
                    }
                }
                let edited: BTreeSet<String> = changed.keys().cloned().collect();
                // The edited modules first, laid out together (one save
                // that changes a signature and its callers is one set);
                // then their dependents, as a second set, so that the
                // edited code runs without waiting for them.
                let (edited, dependents): (Vec<ModuleCrate>, Vec<ModuleCrate>) = self
                    .project
                    .rebuild_set(&edited)
                    .into_iter()
                    .cloned()
                    .partition(|module| edited.contains(&module.package));
                self.batch = edited
                    .iter()
                    .chain(&dependents)
                    .map(|m| m.name.clone())
                    .collect();
                self.sets = [dependents, edited]
                    .into_iter()
                    .filter(|set| !set.is_empty())
                    .collect();
                self.set.clear();
                self.set_names.clear();
                self.built.clear();
                self.covers = changed;
                self.started = Some(now);
                events.push(Event::Building(self.batch.clone()));
                self.start_next(now, &mut events);
            }
        }
        let mut index = 0;
        while index < self.running.len() {
            let (_, build) = &mut self.running[index];
            match self.builder.poll(build) {
                None => index += 1,
                Some(Ok(output)) => {
                    self.running.remove(index);
                    self.built.push(output);
                }
                Some(Err(err)) => {
                    let (module, _) = self.running.remove(index);
                    self.fail(module.name, &err, &mut events);
                    return events;
                }
            }
        }
        if !self.batch.is_empty() {
            self.start_next(now, &mut events);
        }
        events
    }

    /// Stops every build that runs.
    fn cancel_running(&mut self) {
        for (_, build) in std::mem::take(&mut self.running) {
            self.builder.cancel(build);
        }
    }

    /// Whether `module` may start: no module it depends on is still to be
    /// built in this set.
    fn may_start(&self, module: &ModuleCrate) -> bool {
        let waits_for = |other: &ModuleCrate| module.depends_on.contains(&other.package);
        !self.set.iter().any(waits_for) && !self.running.iter().any(|(other, _)| waits_for(other))
    }

    /// Starts what may start of the current set; when the set is
    /// complete, lays it out and goes on with the next one.
    fn start_next(&mut self, now: Instant, events: &mut Vec<Event>) {
        loop {
            while self.running.len() < self.parallel {
                let Some(at) = self.set.iter().position(|module| self.may_start(module)) else {
                    break;
                };
                let module = self.set.remove(at);
                // On its own when none of its module dependencies is
                // rebuilt with it (their libraries must come from cargo).
                let alone = !module
                    .depends_on
                    .iter()
                    .any(|dep| self.covers.contains_key(dep));
                let changed: Vec<PathBuf> = match self.covers.get(&module.package) {
                    Some(files) if alone => files.iter().cloned().collect(),
                    _ => Vec::new(),
                };
                match self.builder.start(&module, &changed) {
                    Ok((build, how)) => {
                        if let Some(how) = how {
                            events.push(Event::Compiling {
                                module: module.name.clone(),
                                how,
                            });
                        }
                        self.running.push((module, build));
                    }
                    Err(err) => return self.fail(module.name.clone(), &err, events),
                }
            }
            if !self.set.is_empty() || !self.running.is_empty() {
                return;
            }
            if !self.set_names.is_empty() {
                let modules = std::mem::take(&mut self.set_names);
                match self.builder.lay_out(std::mem::take(&mut self.built)) {
                    Ok(()) => events.push(Event::Rebuilt {
                        modules,
                        elapsed: self
                            .started
                            .map_or(Duration::ZERO, |s| now.duration_since(s)),
                    }),
                    Err(err) => return self.fail(modules.join(", "), &err, events),
                }
            }
            let Some(set) = self.sets.pop() else {
                self.started = None;
                self.covers.clear();
                self.batch.clear();
                return;
            };
            self.set_names = set.iter().map(|m| m.name.clone()).collect();
            self.set = set;
            self.builder.begin_set(&self.set_names);
        }
    }

    fn fail(&mut self, module: String, err: &BuildError, events: &mut Vec<Event>) {
        self.cancel_running();
        self.builder.abandon_set();
        self.sets.clear();
        self.set.clear();
        self.set_names.clear();
        self.built.clear();
        self.batch.clear();
        self.covers.clear();
        self.started = None;
        let message = match err {
            BuildError::Failed { output, .. } => output.clone(),
            other => other.to_string(),
        };
        events.push(Event::Failed { module, message });
    }
}

/// Real builds: `cargo rustc` of each module, the libraries of a set put
/// beside the host together. Cargo writes each library into its output
/// directory as soon as it is built, which is the module directory of a
/// host it built; so while a set builds, the marker file
/// [`BUILDING_MARKER`](crate::BUILDING_MARKER) in the module directory
/// tells the runtime which modules there are not ready yet.
#[derive(Debug)]
pub struct CargoBuilds {
    project: Project,
    dir: PathBuf,
    options: BuildOptions,
    writing: Option<WritingSet>,
    /// How cargo last ran rustc for each module (by package).
    captures: HashMap<String, Capture>,
}

/// A module build of [`CargoBuilds`].
#[derive(Debug)]
pub struct ModuleBuild(BuildKind);

/// By cargo (which shows its rustc command, to be kept), or by rustc
/// directly.
#[derive(Debug)]
enum BuildKind {
    /// `cargo rustc -vv` of this package.
    Cargo(Running, String),
    /// Cargo's build of the host against the shared library, which
    /// records the command compiling this package as a module; that runs
    /// next.
    Host(Running, String),
    /// rustc run as cargo last ran it.
    Direct(DirectBuild),
}

impl CargoBuilds {
    /// Builds for `project` as `options` say, laying libraries out in
    /// `dir`.
    pub fn new(project: Project, dir: PathBuf, options: BuildOptions) -> Self {
        // One left by a watcher that was killed.
        WritingSet::clear(&dir);
        let captures = Self::recorded_captures(&project, &options);
        CargoBuilds {
            project,
            dir,
            options,
            writing: None,
            captures,
        }
    }

    /// The rustc commands recorded by earlier builds that still write the
    /// libraries cargo last built (see `direct`), by package: so that the
    /// first change of a session is compiled directly too.
    fn recorded_captures(project: &Project, options: &BuildOptions) -> HashMap<String, Capture> {
        let output_dir = options.output_dir(project);
        let root = project.manifest.parent().unwrap_or(Path::new("."));
        project
            .modules
            .iter()
            .filter_map(|module| {
                let crate_name = module.package.replace('-', "_");
                if options.shares_dependencies() {
                    let command =
                        shared::module_command(&output_dir, &module.package, &crate_name, root)?;
                    return Some((module.package.clone(), command));
                }
                let library =
                    output_dir.join(crate::library_file_name(options.target(), &crate_name));
                let capture =
                    Capture::recorded(&output_dir, &module.package, &crate_name, root, &library)?;
                Some((module.package.clone(), capture))
            })
            .collect()
    }

    /// Whether `module`'s change in `changed` can be compiled by rustc
    /// directly; if not, why not (`None`: not worth saying).
    fn direct_or_why(
        &self,
        module: &ModuleCrate,
        changed: &[PathBuf],
    ) -> Result<(), Option<String>> {
        if changed.is_empty() {
            return Err(None);
        }
        if !crate::sys::CARGO_COMMANDS_READABLE {
            return Err(Some(
                "cargo's commands are not read on this system".to_owned(),
            ));
        }
        let Some(capture) = self.captures.get(&module.package) else {
            return Err(Some("its first build here".to_owned()));
        };
        match capture.refuses(changed) {
            Some(why) => Err(Some(why)),
            None => Ok(()),
        }
    }
}

impl Builder for CargoBuilds {
    type Build = ModuleBuild;
    type Output = PathBuf;

    fn begin_set(&mut self, modules: &[String]) {
        // A set that replaces a cancelled one rewrites its marker, which
        // is never away in between.
        match &self.writing {
            Some(writing) => writing.name(modules),
            None => self.writing = Some(WritingSet::begin(&self.dir, modules)),
        }
    }

    fn start(
        &mut self,
        module: &ModuleCrate,
        changed: &[PathBuf],
    ) -> Result<(ModuleBuild, Option<String>), BuildError> {
        match self.direct_or_why(module, changed) {
            Ok(()) => {
                let capture = &self.captures[&module.package];
                Ok((
                    ModuleBuild(BuildKind::Direct(capture.spawn()?)),
                    Some("with rustc directly".to_owned()),
                ))
            }
            Err(why) if self.options.shares_dependencies() => {
                let output_dir = self.options.output_dir(&self.project);
                let library = shared::SharedLibrary::current(&output_dir).ok_or_else(|| {
                    BuildError::Project(
                        "the host was not built by `cargo hcr build` here (no shared library of \
                         its dependencies): build it so first"
                            .to_owned(),
                    )
                })?;
                let build = shared::host_against(&self.project, &self.options, &library).spawn()?;
                let how = why.map(|why| format!("with cargo: {why}"));
                Ok((
                    ModuleBuild(BuildKind::Host(build, module.package.clone())),
                    how,
                ))
            }
            Err(why) => {
                let build = module_build(&self.project, &module.package, &self.options)
                    .show_commands()
                    .spawn()?;
                let how = why.map(|why| format!("with cargo: {why}"));
                Ok((
                    ModuleBuild(BuildKind::Cargo(build, module.package.clone())),
                    how,
                ))
            }
        }
    }

    fn poll(&mut self, build: &mut ModuleBuild) -> Option<Result<PathBuf, BuildError>> {
        match &mut build.0 {
            BuildKind::Direct(build) => build.try_finish(),
            BuildKind::Host(host, package) => {
                if let Err(err) = host.try_finish()? {
                    self.captures.remove(package.as_str());
                    return Some(Err(err));
                }
                let crate_name = package.replace('-', "_");
                let root = self.project.manifest.parent().unwrap_or(Path::new("."));
                let output_dir = self.options.output_dir(&self.project);
                let command =
                    match shared::recorded_command(&output_dir, package, &crate_name, root) {
                        Ok(command) => command,
                        Err(err) => return Some(Err(err)),
                    };
                match command.spawn() {
                    Ok(direct) => {
                        self.captures.insert(package.clone(), command);
                        build.0 = BuildKind::Direct(direct);
                        None
                    }
                    Err(err) => Some(Err(err)),
                }
            }
            BuildKind::Cargo(build, package) => {
                let result = build.try_finish()?;
                // The command cargo ran is kept. When it ran none (the
                // library was fresh), the one kept before is still what it
                // would run; after a failure it may be out of date (a
                // manifest being edited), so cargo builds next time too.
                if result.is_ok() {
                    let crate_name = package.replace('-', "_");
                    let root = self.project.manifest.parent().unwrap_or(Path::new("."));
                    if let Some(capture) = Capture::from_cargo(build.log(), &crate_name, root) {
                        capture.record(&self.options.output_dir(&self.project), package);
                        self.captures.insert(package.clone(), capture);
                    }
                } else {
                    self.captures.remove(package.as_str());
                }
                Some(result)
            }
        }
    }

    fn cancel(&mut self, build: ModuleBuild) {
        match build.0 {
            BuildKind::Direct(build) => build.cancel(),
            BuildKind::Cargo(build, _) | BuildKind::Host(build, _) => build.cancel(),
        }
    }

    fn lay_out(&mut self, built: Vec<PathBuf>) -> Result<(), BuildError> {
        let placed = built
            .iter()
            .try_for_each(|library| place(library, &self.dir).map(drop));
        self.abandon_set();
        placed
    }

    fn abandon_set(&mut self) {
        self.writing = None;
    }
}

/// What a file event says of its paths: `Some(true)` when a write
/// finished (the file was closed after writing, or renamed into place, as
/// an editor's atomic save does), `Some(false)` for a change that more may
/// follow, `None` for an event that changes nothing. The name a file was
/// renamed away from holds nothing new (an editor's save moves the old
/// file aside first, then writes the new one), and the event pairing a
/// rename's two names repeats the one of its new name: either would
/// restart the build the save started.
fn write_of(kind: &notify::EventKind) -> Option<bool> {
    use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(true),
        EventKind::Access(_)
        | EventKind::Modify(ModifyKind::Name(RenameMode::From | RenameMode::Both)) => None,
        EventKind::Modify(ModifyKind::Name(_)) => Some(true),
        _ => Some(false),
    }
}

/// Watches the project's module and host crates and rebuilds changed
/// modules into `dir` as `options` say, reporting to `report`, until
/// `keep_going` says stop (checked every few milliseconds).
///
/// # Errors
/// When the files cannot be watched.
pub fn watch(
    project: &Project,
    dir: &Path,
    options: &BuildOptions,
    report: &mut dyn FnMut(&Event),
    keep_going: &mut dyn FnMut() -> bool,
) -> Result<(), BuildError> {
    use notify::{RecursiveMode, Watcher};
    let (sender, receiver) = mpsc::channel();
    let watch_error =
        |err: notify::Error| BuildError::Project(format!("cannot watch files: {err}"));
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let Ok(event) = event else {
            return;
        };
        let Some(written) = write_of(&event.kind) else {
            return;
        };
        let _ = sender.send((event.paths, written));
    })
    .map_err(watch_error)?;
    let mut dirs: Vec<&Path> = project.modules.iter().map(|m| m.dir.as_path()).collect();
    dirs.push(&project.host_dir);
    let mut watched = 0;
    for dir in dirs {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            // Everything but build output and hidden directories.
            let name = entry.file_name();
            if path.starts_with(&project.target_dir) || name.to_string_lossy().starts_with('.') {
                continue;
            }
            let mode = if path.is_dir() {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            watcher.watch(&path, mode).map_err(watch_error)?;
            watched += 1;
        }
    }
    report(&Event::Watching(watched));
    let builds = CargoBuilds::new(project.clone(), dir.to_path_buf(), options.clone());
    // Direct builds run side by side; cargo's wait for each other on the
    // target directory's lock.
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut rebuilder = Rebuilder::new(project.clone(), builds).parallel(cores);
    while keep_going() {
        // A build that ends is noticed within a couple of milliseconds;
        // between builds, changes wake the loop and 20 ms is plenty.
        let wait = if rebuilder.is_building() { 2 } else { 20 };
        match receiver.recv_timeout(Duration::from_millis(wait)) {
            Ok((paths, written)) => {
                for path in paths {
                    if written {
                        rebuilder.file_written(&path, Instant::now());
                    } else {
                        rebuilder.file_changed(&path, Instant::now());
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        for event in rebuilder.tick(Instant::now()) {
            report(&event);
        }
    }
    Ok(())
}

mod editors;
#[cfg(test)]
mod tests;
