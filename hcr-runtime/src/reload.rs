//! Start-up and reloading of the module tree, all or nothing.
//!
//! Both run as a transaction: the registry journals every change, the tree
//! is snapshotted, and a failure anywhere puts back the old tree, stubs and
//! globals. Module code (imports, hash, dat_init, init, can_reload and the
//! handlers) always runs with the state unlocked, because modules call back
//! into the runtime from it; only one init or reload runs at a time
//! ([`Runtime::claim`]).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hashbrown::HashSet;

use crate::error::Error;
use crate::file_identity::Reading;
use crate::loader::{self, ModuleExports};
use crate::runtime::changes::{self, Refusal};
use crate::runtime::{ModuleRecord, Previous, Retained, Runtime, State, Tree, Version};
use crate::sys::FileStamp;

/// Where the time of one reload went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Timings {
    /// Finding changed files and asking every module `can_reload`.
    pub(crate) check: Duration,
    /// The before-handlers.
    pub(crate) before_handlers: Duration,
    /// Reading, checking and copying the changed libraries.
    pub(crate) copy: Duration,
    /// `dlopen` of the copies (their constructors included).
    pub(crate) dlopen: Duration,
    /// `dat_init` and `init` of every module: registration and patching.
    pub(crate) init: Duration,
    /// Keeping the transaction: freeing replaced globals, deleting copies.
    pub(crate) commit: Duration,
    /// The after-handlers.
    pub(crate) after_handlers: Duration,
    /// Dropping modules no longer imported.
    pub(crate) cleanup: Duration,
    /// The whole call.
    pub(crate) total: Duration,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// No module changed: nothing ran.
    NothingChanged,
    /// The tree was reloaded.
    Reloaded {
        /// The new generation.
        generation: i64,
        /// The modules loaded, leaves first.
        loaded: Vec<String>,
        /// Where the time went.
        timings: Timings,
    },
}

/// Loads the tree below `root` for the first time.
pub(crate) fn init(
    rt: &Runtime,
    root: &str,
    imports: Vec<String>,
    dir: PathBuf,
) -> Result<(), Error> {
    let _busy = rt.claim()?;
    // Its memory first, then the table, then the modules beside the table.
    crate::background::start();
    {
        let mut state = rt.lock();
        if let Some(tree) = &state.tree {
            return Err(Error::AlreadyInitialized(tree.root.clone()));
        }
        if state.kept_versions == 0 {
            state.kept_versions = crate::collect::kept_versions_from_env()?;
        }
        // The table first, before any module is mapped: it goes beside
        // where the kernel maps next, which is where the modules then land.
        state.symbols()?;
        let root_record = ModuleRecord {
            imports,
            handlers: Vec::new(),
            version: None,
            previous: Vec::new(),
            refused: None,
        };
        let mut modules = hashbrown::HashMap::new();
        modules.insert(root.to_owned(), root_record);
        state.tree = Some(Tree {
            root: root.to_owned(),
            dir,
            modules,
        });
        state.begin()?;
    }
    let result = rebuild(rt, &HashSet::new(), HashSet::new(), &mut Timings::default());
    let mut state = rt.lock();
    match result {
        Ok(_) => {
            state.commit();
            crate::manifest::write(&mut state, crate::manifest::Event::Started);
            Ok(())
        }
        Err(err) => {
            state.tree = None;
            state.rollback();
            Err(err)
        }
    }
}

/// How a reload may go.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ReloadOptions {
    /// Reload even when the calling thread runs code of a module the reload
    /// replaces (`HCR_RELOAD_ALLOW_ACTIVE_FRAMES`).
    pub(crate) allow_active_frames: bool,
}

/// Reloads every changed module; see `hcr_perform_code_reload` in hcr.h.
/// A refusal (other than one by a reload or shutdown that is running, or
/// before any init) is kept with the files it was tried with, and
/// reported in the manifest unless it is the last refusal again (a veto
/// at every safe point is one event).
pub(crate) fn perform(rt: &Runtime, options: ReloadOptions) -> Result<Outcome, Error> {
    let mut tried = Vec::new();
    let result = try_perform(rt, options, &mut tried);
    match &result {
        Err(Error::Busy | Error::ShutDown | Error::NotInitialized) => {}
        Err(err) => {
            let refusal = Refusal {
                message: err.report(),
                files: tried,
                stays: err.stays_until_files_change(),
            };
            let mut state = rt.lock();
            let message = refusal.message.clone();
            if state.note_refusal(refusal) {
                crate::manifest::write(
                    &mut state,
                    crate::manifest::Event::Refused { message: &message },
                );
            }
        }
        Ok(Outcome::Reloaded { .. }) => rt.lock().forget_refusal(),
        Ok(_) => {}
    }
    result
}

/// [`perform`]; `tried` gets the changed modules' files as they were
/// before anything was read.
fn try_perform(
    rt: &Runtime,
    options: ReloadOptions,
    tried: &mut Vec<(String, Option<FileStamp>)>,
) -> Result<Outcome, Error> {
    let started = Instant::now();
    let mut timings = Timings::default();
    let _busy = rt.claim()?;
    if rt.lock().shut_down {
        return Err(Error::ShutDown);
    }
    let changed = rt.changed_modules(Reading::Now)?;
    if changed.is_empty() {
        return Ok(Outcome::NothingChanged);
    }
    let dir = rt.lock().tree()?.dir.clone();
    *tried = changes::stamps_of(&dir, &changed);
    let changed: HashSet<String> = changed.into_iter().collect();
    if !options.allow_active_frames {
        if let Some(module) = crate::active_frames::module_on_stack(rt, &changed) {
            return Err(Error::ActiveFrame(module));
        }
    }
    let (old_order, exports) = {
        let state = rt.lock();
        let tree = state.tree()?;
        let order = tree.order();
        (order.clone(), exports_of(tree, &order))
    };
    for (name, exports) in &exports {
        if !exports.can_reload() {
            return Err(Error::Vetoed(name.clone()));
        }
    }
    timings.check = started.elapsed();
    let phase = Instant::now();
    rt.run_handlers(true, &old_order);
    timings.before_handlers = phase.elapsed();

    let snapshot = {
        let mut state = rt.lock();
        state.begin()?;
        state.tree()?.clone()
    };
    match rebuild_or_restore(rt, snapshot, &changed, HashSet::new(), &mut timings) {
        Ok(new_order) => {
            let loaded = reloaded_in_order(rt, &new_order);
            let generation = commit(rt, &new_order, &mut timings);
            timings.total = started.elapsed();
            crate::manifest::write(
                &mut rt.lock(),
                crate::manifest::Event::Reloaded {
                    modules: &loaded,
                    took: timings.total,
                },
            );
            Ok(Outcome::Reloaded {
                generation,
                loaded,
                timings,
            })
        }
        Err(err) => {
            rt.run_handlers(false, &old_order);
            Err(err)
        }
    }
}

/// Rebuilds the tree inside the transaction the caller began (see
/// [`rebuild`]); on failure undoes the transaction and puts `snapshot`, the
/// tree as it was when the transaction began, back.
pub(crate) fn rebuild_or_restore(
    rt: &Runtime,
    snapshot: Tree,
    changed: &HashSet<String>,
    fresh: HashSet<String>,
    timings: &mut Timings,
) -> Result<Vec<String>, Error> {
    rebuild(rt, changed, fresh, timings).inspect_err(|_| {
        let mut state = rt.lock();
        state.rollback();
        state.tree = Some(snapshot);
    })
}

/// Runs every module's `hcr_module_shutdown` once, importers before their
/// imports, and stops reloading. Code stays mapped and stubs keep working.
pub(crate) fn shutdown(rt: &Runtime) -> Result<(), Error> {
    let _busy = rt.claim()?;
    let exports = {
        let mut state = rt.lock();
        if state.shut_down {
            return Ok(());
        }
        state.shut_down = true;
        let tree = state.tree()?;
        exports_of(tree, &tree.order())
    };
    for (_, exports) in exports.iter().rev() {
        exports.shutdown();
    }
    Ok(())
}

/// Keeps a successful reload: the new generation, after-handlers, then the
/// modules no longer imported leave the tree, and versions beyond the cap
/// (`hcr_set_kept_versions`) are unmapped.
pub(crate) fn commit(rt: &Runtime, new_order: &[String], timings: &mut Timings) -> i64 {
    let phase = Instant::now();
    let generation = {
        let mut state = rt.lock();
        let loaded = std::mem::take(&mut state.reloading);
        state.commit();
        state.generation += 1;
        let generation = state.generation;
        if let Some(tree) = &mut state.tree {
            for name in &loaded {
                if let Some(version) = tree.modules.get_mut(name).and_then(|r| r.version.as_mut()) {
                    version.generation = generation;
                }
            }
        }
        state.generation
    };
    timings.commit = phase.elapsed();
    let phase = Instant::now();
    rt.run_handlers(false, new_order);
    timings.after_handlers = phase.elapsed();

    let phase = Instant::now();
    let _cleanup = PhaseTimer(phase, &mut timings.cleanup);
    let kept_versions = {
        let mut state = rt.lock();
        drop_unimported(&mut state, new_order);
        shed_replaced(&state);
        state.kept_versions
    };
    if kept_versions > 0 {
        crate::collect::unmap_old_versions(rt, kept_versions);
    }
    generation
}

/// Gives back what the versions that are no longer current hold beyond
/// what they mapped (see `LibraryCopy::shed_unmapped`): a kept version
/// costs about its code and data.
fn shed_replaced(state: &State) {
    let Some(tree) = &state.tree else {
        return;
    };
    let current: HashSet<u64> = tree
        .modules
        .values()
        .filter_map(|record| record.version.as_ref().map(|version| version.id))
        .collect();
    for retained in state.retained() {
        if !current.contains(&retained.id) {
            retained.copy.shed_unmapped();
        }
    }
}

/// Takes the modules that `order` no longer reaches out of the tree; their
/// procs jump to the bad-call handler from now on.
fn drop_unimported(state: &mut State, order: &[String]) {
    let State { tree, .. } = &mut *state;
    let Some(tree) = tree else {
        return;
    };
    let keep: HashSet<&String> = order.iter().collect();
    let dropped: Vec<String> = tree
        .modules
        .keys()
        .filter(|name| !keep.contains(name))
        .cloned()
        .collect();
    for name in &dropped {
        tree.modules.remove(name);
    }
    if let Ok((registry, table)) = state.symbols() {
        for name in &dropped {
            registry.remove_module(table, name);
        }
    }
}

/// Records the time from its creation to its drop (every return path).
struct PhaseTimer<'a>(Instant, &'a mut Duration);

impl Drop for PhaseTimer<'_> {
    fn drop(&mut self) {
        *self.1 = self.0.elapsed();
    }
}

/// The modules the running reload loaded, leaves first.
fn reloaded_in_order(rt: &Runtime, order: &[String]) -> Vec<String> {
    let state = rt.lock();
    order
        .iter()
        .filter(|name| state.reloading.contains(*name))
        .cloned()
        .collect()
}

fn exports_of(tree: &Tree, order: &[String]) -> Vec<(String, ModuleExports)> {
    order
        .iter()
        .filter_map(|name| {
            let version = tree.modules.get(name)?.version.as_ref()?;
            Some((name.clone(), version.exports))
        })
        .collect()
}

/// Loads what changed or is newly imported, then runs dat_init and init
/// leaves first; `fresh` names modules whose version is new to the tree
/// without being loaded here (one the crash guard made current again), so
/// that they run init as a loaded one does. Returns the new order of the
/// tree.
fn rebuild(
    rt: &Runtime,
    changed: &HashSet<String>,
    fresh: HashSet<String>,
    timings: &mut Timings,
) -> Result<Vec<String>, Error> {
    let (root, dir) = {
        let state = rt.lock();
        let tree = state.tree()?;
        (tree.root.clone(), tree.dir.clone())
    };
    // The changed modules' files are copied and checked side by side
    // first; the walk opens them in import order.
    let copying = Instant::now();
    let mut changed_names: Vec<String> = changed.iter().cloned().collect();
    changed_names.sort();
    let prepared = loader::prepare_all(&dir, &changed_names)
        .into_iter()
        .collect();
    let mut walk = Discovery {
        rt,
        dir: &dir,
        changed,
        prepared,
        stack: Vec::new(),
        done: HashSet::new(),
        fresh,
        order: Vec::new(),
        copy: copying.elapsed(),
        dlopen: Duration::ZERO,
    };
    let visited = walk.visit(&root);
    (timings.copy, timings.dlopen) = (walk.copy, walk.dlopen);
    visited?;
    let Discovery { order, fresh, .. } = walk;
    rt.lock().reloading = fresh.clone();
    let phase = Instant::now();
    let _init = PhaseTimer(phase, &mut timings.init);

    for name in order.iter().filter(|name| **name != root) {
        let exports = {
            let mut state = rt.lock();
            let tree = state.tree.as_mut().ok_or(Error::NotInitialized)?;
            let record = tree
                .modules
                .get_mut(name)
                .expect("discovered modules have records");
            let exports = record
                .version
                .as_ref()
                .expect("modules have versions")
                .exports;
            if fresh.contains(name) {
                // A new version re-adds its handlers in its init, and
                // records which procs it calls as it calls them.
                record.handlers.clear();
                state.signatures.forget_caller(name);
            }
            state.running_module = Some((std::thread::current().id(), name.clone()));
            state.failure = None;
            exports
        };
        let result = run_steps(name, &exports, fresh.contains(name));
        let mut state = rt.lock();
        state.running_module = None;
        let reported = state.failure.take();
        result.map_err(|err| err.with_detail(reported))?;
        if fresh.contains(name) {
            let (registry, table) = state.symbols()?;
            registry.remove_stale(table, name);
        }
    }
    Ok(order)
}

fn run_steps(name: &str, exports: &ModuleExports, fresh: bool) -> Result<(), Error> {
    let step = |step, status| Error::Step {
        module: name.to_owned(),
        step,
        status,
        detail: None,
    };
    let status = exports.dat_init();
    if status != 0 {
        return Err(step("hcr_module_dat_init", status));
    }
    if fresh {
        let status = exports.init();
        if status != 0 {
            return Err(step("hcr_module_init", status));
        }
    }
    Ok(())
}

/// Depth-first walk over imports that loads modules as it finds them.
struct Discovery<'a> {
    rt: &'a Runtime,
    dir: &'a Path,
    changed: &'a HashSet<String>,
    /// The changed modules' copies, made before the walk.
    prepared: hashbrown::HashMap<String, Result<loader::Prepared, loader::LoadError>>,
    stack: Vec<String>,
    done: HashSet<String>,
    fresh: HashSet<String>,
    order: Vec<String>,
    copy: Duration,
    dlopen: Duration,
}

impl Discovery<'_> {
    fn visit(&mut self, name: &str) -> Result<(), Error> {
        if self.done.contains(name) {
            return Ok(());
        }
        if let Some(start) = self.stack.iter().position(|m| m == name) {
            let mut cycle = self.stack[start..].to_vec();
            cycle.push(name.to_owned());
            return Err(Error::Cycle(cycle.join(" -> ")));
        }
        self.stack.push(name.to_owned());
        let imports = self.imports_of(name)?;
        for import in &imports {
            self.visit(import)?;
        }
        self.stack.pop();
        self.done.insert(name.to_owned());
        self.order.push(name.to_owned());
        Ok(())
    }

    /// The imports of a module, loading its current file first when it is
    /// new to the tree or changed.
    fn imports_of(&mut self, name: &str) -> Result<Vec<String>, Error> {
        {
            let state = self.rt.lock();
            let tree = state.tree()?;
            if let Some(record) = tree.modules.get(name) {
                if record.version.is_none() || !self.changed.contains(name) {
                    return Ok(record.imports.clone());
                }
            }
        }
        let prepared = self.prepared.remove(name);
        let copied_already = prepared.is_some();
        let loaded = match prepared {
            Some(prepared) => prepared.and_then(loader::open_prepared),
            None => loader::load(self.dir, name),
        };
        let loaded = loaded.map_err(|err| match err {
            loader::LoadError::Untrusted(untrusted) => Error::Untrusted {
                module: name.to_owned(),
                detail: untrusted.to_string(),
            },
            err => Error::Load {
                module: name.to_owned(),
                detail: crate::error::chain(&err),
            },
        })?;
        if !copied_already {
            self.copy += loaded.copy_time;
        }
        self.dlopen += loaded.open_time;
        let imports = loaded.imports.clone();
        let mut state = self.rt.lock();
        let version = Version {
            build_hash: loaded.exports.build_hash(),
            exports: loaded.exports,
            id: loaded.id,
            identity: loaded.identity,
            content_hash: loaded.content_hash,
            loaded_at: std::time::SystemTime::now(),
            generation: 0,
        };
        state.retain(Retained {
            module: name.to_owned(),
            id: loaded.id,
            library: loaded.library,
            copy: loaded.copy,
            code: loaded.code,
        });
        let tree = state.tree.as_mut().ok_or(Error::NotInitialized)?;
        let (handlers, previous) = match tree.modules.remove(name) {
            Some(old) => {
                let mut previous = old.previous;
                if let Some(version) = old.version {
                    previous.push(Previous {
                        version,
                        imports: old.imports,
                    });
                }
                (old.handlers, previous)
            }
            None => (Vec::new(), Vec::new()),
        };
        tree.modules.insert(
            name.to_owned(),
            ModuleRecord {
                imports: imports.clone(),
                handlers,
                version: Some(version),
                previous,
                refused: None,
            },
        );
        self.fresh.insert(name.to_owned());
        Ok(imports)
    }
}
