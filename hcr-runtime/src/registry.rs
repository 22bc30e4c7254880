//! Procs and globals keyed by (module, name), and the journal that lets a
//! failed reload put every one of them back.
//!
//! A proc owns one jump-table slot for the life of the process: the slot is
//! bound to its (module, name) when first registered or requested and is
//! never given to another proc. A proc that disappears points its slot at
//! the bad-call veneer; registered again, it gets the same slot back.
//!
//! Symbols carry the epoch (one per init or reload) in which they were last
//! registered. After a new version of a module ran its init, the symbols of
//! that module with an older epoch are the ones it no longer registers.

use std::sync::Arc;

use hashbrown::HashMap;

use crate::global_memory::GlobalBlock;
use crate::jump_table::{JumpTable, SlotId, StubForm, TableError};

/// What `register_global` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlobalStatus {
    /// First registration: fresh zeroed memory the caller initializes.
    New,
    /// Registered before with the same size, alignment and layout hash.
    Existing,
    /// Registered before with another layout: fresh zeroed memory; the old
    /// block stays readable until the reload ends.
    LayoutChanged,
}

/// Why a global could not be registered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum GlobalError {
    #[error("alignment {0} is not a power of two")]
    BadAlignment(usize),
    #[error("out of memory allocating {size} bytes aligned to {align}")]
    OutOfMemory { size: usize, align: usize },
}

#[derive(Debug, Clone, Copy)]
struct Proc {
    slot: SlotId,
    /// `None` while the slot jumps to the bad-call handler.
    target: Option<usize>,
    epoch: u64,
}

#[derive(Debug)]
struct Global {
    block: GlobalBlock,
    size: usize,
    align: usize,
    layout_hash: u64,
    epoch: u64,
}

#[derive(Debug, Default)]
struct ModuleSymbols {
    procs: HashMap<Arc<str>, Proc>,
    globals: HashMap<Arc<str>, Global>,
}

/// One undoable change made during a transaction.
#[derive(Debug)]
enum Undo {
    /// A proc's target changed; `before` is what its slot jumped to.
    Proc {
        module: Arc<str>,
        name: Arc<str>,
        before: Option<usize>,
    },
    /// A global was created in this transaction.
    GlobalAdded { module: Arc<str>, name: Arc<str> },
    /// A global was replaced (layout change) or removed (stale); `old` is
    /// kept alive, and readable, until the transaction ends.
    GlobalReplaced {
        module: Arc<str>,
        name: Arc<str>,
        old: Global,
        removed: bool,
    },
}

/// The registry of every module's procs and globals.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    modules: HashMap<Arc<str>, ModuleSymbols>,
    /// (module, name) of every slot, by slot index, for the bad-call message.
    slot_names: Vec<(Arc<str>, Arc<str>)>,
    journal: Option<Vec<Undo>>,
    epoch: u64,
}

impl Registry {
    fn module(&mut self, module: &str) -> (&Arc<str>, &mut ModuleSymbols) {
        if !self.modules.contains_key(module) {
            self.modules
                .insert(Arc::from(module), ModuleSymbols::default());
        }
        let (key, symbols) = self
            .modules
            .get_key_value_mut(module)
            .expect("inserted above");
        (key, symbols)
    }

    fn record(&mut self, undo: Undo) {
        if let Some(journal) = &mut self.journal {
            journal.push(undo);
        }
    }

    /// The slot of (module, name), bound to a fresh slot on first use.
    fn proc_slot(
        &mut self,
        table: &mut JumpTable,
        module: &str,
        name: &str,
    ) -> Result<(Arc<str>, Arc<str>, Proc), TableError> {
        let (module_key, symbols) = self.module(module);
        let module_key = module_key.clone();
        if let Some((name_key, proc)) = symbols.procs.get_key_value(name) {
            return Ok((module_key, name_key.clone(), *proc));
        }
        let slot = table.allocate()?;
        let name_key: Arc<str> = Arc::from(name);
        let proc = Proc {
            slot,
            target: None,
            epoch: 0,
        };
        self.module(module).1.procs.insert(name_key.clone(), proc);
        debug_assert_eq!(self.slot_names.len() + 1, slot.index());
        self.slot_names.push((module_key.clone(), name_key.clone()));
        Ok((module_key, name_key, proc))
    }

    /// Registers (or re-points) a proc and returns its stub's address.
    pub(crate) fn register_proc(
        &mut self,
        table: &mut JumpTable,
        module: &str,
        name: &str,
        target: usize,
        form: StubForm,
    ) -> Result<usize, TableError> {
        let (module_key, name_key, proc) = self.proc_slot(table, module, name)?;
        table.point_at(proc.slot, target, form)?;
        let epoch = self.epoch;
        if let Some(entry) = self.module(module).1.procs.get_mut(name) {
            entry.target = Some(target);
            entry.epoch = epoch;
        }
        self.record(Undo::Proc {
            module: module_key,
            name: name_key,
            before: proc.target,
        });
        Ok(table.address(proc.slot))
    }

    /// The stub of (module, name), jumping to the bad-call handler until
    /// the proc is registered.
    pub(crate) fn get_proc(
        &mut self,
        table: &mut JumpTable,
        module: &str,
        name: &str,
    ) -> Result<usize, TableError> {
        let (_, _, proc) = self.proc_slot(table, module, name)?;
        Ok(table.address(proc.slot))
    }

    /// The (module, name) bound to a slot.
    pub(crate) fn slot_name(&self, slot: SlotId) -> Option<(&str, &str)> {
        let (module, name) = self.slot_names.get(slot.index().checked_sub(1)?)?;
        Some((module, name))
    }

    /// Registers a global; see [`GlobalStatus`].
    pub(crate) fn register_global(
        &mut self,
        module: &str,
        name: &str,
        size: usize,
        align: usize,
        layout_hash: u64,
    ) -> Result<(*mut u8, GlobalStatus), GlobalError> {
        if !align.is_power_of_two() {
            return Err(GlobalError::BadAlignment(align));
        }
        let epoch = self.epoch;
        let (module_key, symbols) = self.module(module);
        let module_key = module_key.clone();
        if let Some(global) = symbols.globals.get_mut(name) {
            if (global.size, global.align, global.layout_hash) == (size, align, layout_hash) {
                global.epoch = epoch;
                return Ok((global.block.as_ptr(), GlobalStatus::Existing));
            }
        }
        let block =
            GlobalBlock::zeroed(size, align).ok_or(GlobalError::OutOfMemory { size, align })?;
        let ptr = block.as_ptr();
        let global = Global {
            block,
            size,
            align,
            layout_hash,
            epoch,
        };
        let (name_key, old) = match symbols.globals.remove_entry(name) {
            Some((key, old)) => (key, Some(old)),
            None => (Arc::from(name), None),
        };
        symbols.globals.insert(name_key.clone(), global);
        let status = if old.is_some() {
            GlobalStatus::LayoutChanged
        } else {
            GlobalStatus::New
        };
        let undo = match old {
            Some(old) => Undo::GlobalReplaced {
                module: module_key,
                name: name_key,
                old,
                removed: false,
            },
            None => Undo::GlobalAdded {
                module: module_key,
                name: name_key,
            },
        };
        // Outside a transaction, a replaced block is simply freed here.
        self.record(undo);
        Ok((ptr, status))
    }

    /// The memory of a registered global.
    pub(crate) fn get_global(&self, module: &str, name: &str) -> Option<*mut u8> {
        let global = self.modules.get(module)?.globals.get(name)?;
        Some(global.block.as_ptr())
    }

    /// The block a global had before its layout changed in the running
    /// reload, so a migration can read it.
    pub(crate) fn previous_global(&self, module: &str, name: &str) -> Option<*mut u8> {
        self.previous(module, name).map(|old| old.block.as_ptr())
    }

    /// The size, alignment and layout hash of that block.
    pub(crate) fn previous_global_layout(
        &self,
        module: &str,
        name: &str,
    ) -> Option<(usize, usize, u64)> {
        self.previous(module, name)
            .map(|old| (old.size, old.align, old.layout_hash))
    }

    fn previous(&self, module: &str, name: &str) -> Option<&Global> {
        self.journal
            .as_ref()?
            .iter()
            .rev()
            .find_map(|undo| match undo {
                Undo::GlobalReplaced {
                    module: m,
                    name: n,
                    old,
                    removed: false,
                } if &**m == module && &**n == name => Some(old),
                _ => None,
            })
    }

    /// Starts recording changes so that [`Registry::rollback`] can undo them.
    pub(crate) fn begin(&mut self) {
        self.epoch += 1;
        self.journal = Some(Vec::new());
    }

    /// Keeps every change; frees replaced and removed globals.
    pub(crate) fn commit(&mut self) {
        self.journal = None;
    }

    /// Undoes every change since [`Registry::begin`], newest first.
    pub(crate) fn rollback(&mut self, table: &mut JumpTable) {
        let journal = self.journal.take().unwrap_or_default();
        for undo in journal.into_iter().rev() {
            match undo {
                Undo::Proc {
                    module,
                    name,
                    before,
                } => {
                    let symbols = self.module(&module).1;
                    if let Some(proc) = symbols.procs.get_mut(&name) {
                        proc.target = before;
                        let slot = proc.slot;
                        point(table, slot, before);
                    }
                }
                Undo::GlobalAdded { module, name } => {
                    self.module(&module).1.globals.remove(&name);
                }
                Undo::GlobalReplaced {
                    module, name, old, ..
                } => {
                    self.module(&module).1.globals.insert(name, old);
                }
            }
        }
    }

    /// Removes what a module's newest version no longer registers: its
    /// procs jump to the bad-call handler, its globals can no longer be
    /// found (their memory is freed when the transaction commits).
    pub(crate) fn remove_stale(&mut self, table: &mut JumpTable, module: &str) {
        let epoch = self.epoch;
        self.remove_where(table, module, |symbol_epoch| symbol_epoch < epoch);
    }

    /// Removes every symbol of a module that left the tree.
    pub(crate) fn remove_module(&mut self, table: &mut JumpTable, module: &str) {
        self.remove_where(table, module, |_| true);
    }

    fn remove_where(&mut self, table: &mut JumpTable, module: &str, stale: impl Fn(u64) -> bool) {
        let Some((module_key, symbols)) = self.modules.get_key_value_mut(module) else {
            return;
        };
        let module_key = module_key.clone();
        let mut undo = Vec::new();
        for (name, proc) in &mut symbols.procs {
            if proc.target.is_some() && stale(proc.epoch) {
                undo.push(Undo::Proc {
                    module: module_key.clone(),
                    name: name.clone(),
                    before: proc.target.take(),
                });
                table.point_at_bad_call(proc.slot);
            }
        }
        let gone: Vec<Arc<str>> = symbols
            .globals
            .iter()
            .filter(|(_, global)| stale(global.epoch))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            if let Some((name, old)) = symbols.globals.remove_entry(&name) {
                undo.push(Undo::GlobalReplaced {
                    module: module_key.clone(),
                    name,
                    old,
                    removed: true,
                });
            }
        }
        for entry in undo {
            self.record(entry);
        }
    }
}

fn point(table: &mut JumpTable, slot: SlotId, target: Option<usize>) {
    match target {
        // Rolling back never switches to the near form.
        Some(target) => {
            let _ = table.point_at(slot, target, StubForm::Data);
        }
        None => table.point_at_bad_call(slot),
    }
}
