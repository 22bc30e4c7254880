//! The process-wide runtime: the jump table, the registry, the module tree
//! and the event handlers, behind one lock that is never held while module
//! code runs. What the layers above it provide (the bad-call handler, who
//! hears of changes to the mapped code) they install as [`Hooks`] when
//! the runtime is made.

pub(crate) mod changes;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

use hashbrown::HashMap;

use crate::error::Error;
use crate::file_identity::FileIdentity;
use crate::jump_table::{JumpTable, JumpTableConfig, Placed, StubForm};
use crate::loader::{LibraryCopy, ModuleExports};
use crate::registry::Registry;
use crate::signatures::Signatures;
use crate::sys::library::Library;

/// A reload event handler.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Handler {
    pub(crate) before: bool,
    pub(crate) callback: extern "C" fn(),
}

/// The loaded version of a module.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    pub(crate) exports: ModuleExports,
    /// The load this version came from (its [`Retained`] entry).
    pub(crate) id: u64,
    pub(crate) identity: FileIdentity,
    /// What the manifest shows: `hcr_module_hash`, a hash of the bytes,
    /// when and in which generation this version was loaded.
    pub(crate) build_hash: String,
    pub(crate) content_hash: u64,
    pub(crate) loaded_at: std::time::SystemTime,
    pub(crate) generation: i64,
}

/// A version a reload replaced, kept so that the crash guard can make it
/// current again.
#[derive(Debug, Clone)]
pub(crate) struct Previous {
    pub(crate) version: Version,
    /// What that version imported.
    pub(crate) imports: Vec<String>,
}

/// A library the runtime loaded and still keeps mapped.
#[derive(Debug)]
pub(crate) struct Retained {
    pub(crate) module: String,
    /// The load it came from ([`Version::id`]).
    pub(crate) id: u64,
    pub(crate) library: Library,
    pub(crate) copy: LibraryCopy,
    /// Where its executable segments were mapped, for the crash guard.
    pub(crate) code: Vec<std::ops::Range<usize>>,
}

/// One module of the tree.
#[derive(Debug, Clone)]
pub(crate) struct ModuleRecord {
    pub(crate) imports: Vec<String>,
    pub(crate) handlers: Vec<Handler>,
    /// `None` for the main module, which is the host and never loaded.
    pub(crate) version: Option<Version>,
    /// The versions this one replaced, oldest first, as long as they stay
    /// mapped.
    pub(crate) previous: Vec<Previous>,
    /// The file of a version the crash guard rolled back: it is not loaded
    /// again while the module's file holds those bytes.
    pub(crate) refused: Option<FileIdentity>,
}

/// The module tree that `hcr_init` set up.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub(crate) root: String,
    pub(crate) dir: PathBuf,
    pub(crate) modules: HashMap<String, ModuleRecord>,
}

impl Tree {
    /// Modules reachable from the root, leaves first (depth-first over
    /// imports, in import order), the root last.
    pub(crate) fn order(&self) -> Vec<String> {
        fn visit(
            tree: &Tree,
            name: &str,
            seen: &mut hashbrown::HashSet<String>,
            out: &mut Vec<String>,
        ) {
            if !seen.insert(name.to_owned()) {
                return;
            }
            if let Some(record) = tree.modules.get(name) {
                for import in &record.imports {
                    visit(tree, import, seen, out);
                }
            }
            out.push(name.to_owned());
        }
        let mut out = Vec::new();
        visit(self, &self.root, &mut hashbrown::HashSet::new(), &mut out);
        out
    }
}

/// Everything behind the runtime's lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    table: Option<JumpTable>,
    pub(crate) registry: Registry,
    pub(crate) stub_form: StubForm,
    pub(crate) tree: Option<Tree>,
    /// Handlers of the main module (added outside any module's init).
    pub(crate) main_handlers: Vec<Handler>,
    /// Every library loaded and not collected: old code stays mapped
    /// unless the host collects it. Changed only through [`State::retain`]
    /// and [`State::release_retained`], which keep the crash guard's view
    /// of module code current.
    retained: Vec<Retained>,
    /// Copies of libraries that `dlclose` left loaded: their descriptors
    /// stay open (see `sys::copy`) and their code stays mapped.
    pub(crate) pinned: Vec<LibraryCopy>,
    /// How many versions of each module stay mapped after a reload, the
    /// current one included; 0 keeps every version.
    pub(crate) kept_versions: usize,
    pub(crate) generation: i64,
    /// The module whose code the reloading thread is running.
    pub(crate) running_module: Option<(ThreadId, String)>,
    /// Why the running module's step failed, as it reported it.
    pub(crate) failure: Option<String>,
    /// Modules loaded by the init or reload that is running.
    pub(crate) reloading: hashbrown::HashSet<String>,
    /// Procs' signatures and their callers' expectations.
    pub(crate) signatures: Signatures,
    /// The first Rust toolchain reported, and by which module.
    pub(crate) toolchain: Option<(String, String)>,
    /// `hcr_shutdown` ran.
    pub(crate) shut_down: bool,
    /// Events the manifest reported so far (see `manifest::write`).
    pub(crate) manifest_events: u64,
    /// The last reload's refusal, until a reload succeeds (see
    /// [`changes`]).
    last_refusal: Option<changes::Refusal>,
    hooks: Hooks,
}

/// What the layers above the runtime give it when it is made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hooks {
    /// The address every stub of a proc that is gone jumps to.
    pub(crate) bad_call_handler: usize,
    /// Called with every library mapped, whenever that list changes.
    pub(crate) mapped_code_changed: fn(&[Retained]),
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            bad_call_handler: 0,
            mapped_code_changed: |_| {},
        }
    }
}

impl State {
    /// The registry and the jump table, reserving the table on first use.
    pub(crate) fn symbols(&mut self) -> Result<(&mut Registry, &mut JumpTable), Error> {
        if self.table.is_none() {
            let config = JumpTableConfig::from_env()?;
            let table = JumpTable::new(config, self.hooks.bad_call_handler)?;
            if let Placed::NotFixed { .. } = table.placed() {
                eprintln!("hcr: warning: {}", table.describe_placement());
            }
            self.table = Some(table);
        }
        let table = self.table.as_mut().expect("created above");
        Ok((&mut self.registry, table))
    }

    /// Starts a transaction: symbols and signatures journal their changes.
    pub(crate) fn begin(&mut self) -> Result<(), Error> {
        self.symbols()?.0.begin();
        self.signatures.begin();
        Ok(())
    }

    /// Keeps the transaction's changes.
    pub(crate) fn commit(&mut self) {
        self.registry.commit();
        self.signatures.commit();
        self.reloading.clear();
    }

    /// Undoes the transaction's changes.
    pub(crate) fn rollback(&mut self) {
        if let Ok((registry, table)) = self.symbols() {
            registry.rollback(table);
        }
        self.signatures.rollback();
        self.reloading.clear();
    }

    /// Libraries loaded and not collected, oldest first.
    pub(crate) fn retained(&self) -> &[Retained] {
        &self.retained
    }

    /// Keeps a library just loaded, before any of its code runs.
    pub(crate) fn retain(&mut self, version: Retained) {
        self.retained.push(version);
        (self.hooks.mapped_code_changed)(&self.retained);
    }

    /// Stops keeping the libraries of the loads in `going`, before they are
    /// unmapped, and returns them.
    pub(crate) fn release_retained(&mut self, going: &hashbrown::HashSet<u64>) -> Vec<Retained> {
        let (released, kept) = std::mem::take(&mut self.retained)
            .into_iter()
            .partition(|version| going.contains(&version.id));
        self.retained = kept;
        (self.hooks.mapped_code_changed)(&self.retained);
        released
    }

    /// The module whose step this thread is running, if any.
    pub(crate) fn running_module(&self) -> Option<&str> {
        match &self.running_module {
            Some((thread, module)) if *thread == std::thread::current().id() => Some(module),
            _ => None,
        }
    }

    /// The name callers in the host go by: the main module's.
    pub(crate) fn main_name(&self) -> &str {
        self.tree.as_ref().map_or("main", |tree| &tree.root)
    }

    /// The jump table, if it was reserved.
    pub(crate) fn table(&self) -> Option<&JumpTable> {
        self.table.as_ref()
    }

    /// The jump table, for changes, if it was reserved.
    pub(crate) fn table_mut(&mut self) -> Option<&mut JumpTable> {
        self.table.as_mut()
    }

    /// The tree, or [`Error::NotInitialized`].
    pub(crate) fn tree(&self) -> Result<&Tree, Error> {
        self.tree.as_ref().ok_or(Error::NotInitialized)
    }

    /// Adds a handler to the module whose code this thread runs, else to
    /// the main module.
    pub(crate) fn add_handler(&mut self, handler: Handler) {
        let Some(owner) = self.running_module().map(str::to_owned) else {
            self.main_handlers.push(handler);
            return;
        };
        if let Some(record) = self
            .tree
            .as_mut()
            .and_then(|tree| tree.modules.get_mut(&owner))
        {
            record.handlers.push(handler);
        }
    }

    /// The handlers of one kind for the given module order, main last.
    pub(crate) fn handlers(&self, before: bool, order: &[String]) -> Vec<extern "C" fn()> {
        let Some(tree) = &self.tree else {
            return Vec::new();
        };
        let modules = order
            .iter()
            .filter(|name| **name != tree.root)
            .filter_map(|name| tree.modules.get(name))
            .flat_map(|record| &record.handlers);
        modules
            .chain(&self.main_handlers)
            .filter(|handler| handler.before == before)
            .map(|handler| handler.callback)
            .collect()
    }
}

/// The runtime of this process.
#[derive(Debug)]
pub(crate) struct Runtime {
    state: Mutex<State>,
    busy: AtomicBool,
}

/// Proof that this thread runs the one init or reload allowed at a time.
pub(crate) struct BusyGuard<'a>(&'a AtomicBool);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl Runtime {
    /// A runtime with the hooks the layers above it give.
    pub(crate) fn new(hooks: Hooks) -> Runtime {
        Runtime {
            state: Mutex::new(State {
                hooks,
                ..State::default()
            }),
            busy: AtomicBool::new(false),
        }
    }

    /// Locks the state. A panic while it was held (a runtime bug, caught at
    /// the C boundary) leaves consistent data: every mutation is a single
    /// map operation, so the poison flag is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks the state without waiting, for the bad-call path.
    pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, State>> {
        match self.state.try_lock() {
            Ok(guard) => Some(guard),
            Err(std::sync::TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => None,
        }
    }

    /// Runs the before- or after-handlers of the modules in `order` (main
    /// last), collected under the lock and called without it.
    pub(crate) fn run_handlers(&self, before: bool, order: &[String]) {
        let callbacks = self.lock().handlers(before, order);
        for callback in callbacks {
            callback();
        }
    }

    /// Claims the right to run an init or reload.
    pub(crate) fn claim(&self) -> Result<BusyGuard<'_>, Error> {
        self.busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .map_err(|_| Error::Busy)?;
        Ok(BusyGuard(&self.busy))
    }
}
