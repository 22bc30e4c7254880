//! Putting a module's previous version back after the crash guard caught a
//! fault in its current one.
//!
//! A rollback is a reload to the version before, still mapped: it runs as
//! a transaction like any reload (the previous version's dat_init and init,
//! as when it was first loaded, then the other modules' dat_init, leaves
//! first; generation + 1; after-handlers), except that no before-handler
//! runs, since the code that faulted may be what they would call. The
//! faulting version's file is remembered and not loaded again until the
//! module's file holds other bytes.

use std::fmt;

use hashbrown::HashSet;

use crate::reload::{self, Timings};
use crate::runtime::Runtime;

/// A rollback that happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RolledBack {
    /// The generation in which the version now current had been loaded.
    pub(crate) loaded_in: i64,
    /// The generation the rollback started.
    pub(crate) generation: i64,
}

impl fmt::Display for RolledBack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rolled back to the version loaded in generation {} (now generation {}); \
             the faulting version is not loaded again until its file changes",
            self.loaded_in, self.generation
        )
    }
}

/// Makes the version of `module` before the one loaded as `faulted` current
/// again. The faulting version is refused from now on either way. Returns
/// why there was no rollback otherwise: the module's state is then as the
/// fault left it, and the faulting version stays current.
pub(crate) fn roll_back(rt: &Runtime, module: &str, faulted: u64) -> Result<RolledBack, String> {
    let _busy = rt
        .claim()
        .map_err(|_| "an init or reload is running".to_owned())?;
    refuse(rt, module, faulted)?;
    let on_stack: HashSet<String> = std::iter::once(module.to_owned()).collect();
    if crate::active_frames::module_on_stack(rt, &on_stack).is_some() {
        return Err(format!(
            "this thread still runs code of `{module}` (the guarded call was made from inside it)"
        ));
    }
    let (snapshot, loaded_in) = {
        let mut state = rt.lock();
        if state.shut_down {
            return Err("the module tree was shut down".to_owned());
        }
        let has_previous = state
            .tree
            .as_ref()
            .and_then(|tree| tree.modules.get(module))
            .is_some_and(|record| !record.previous.is_empty());
        if !has_previous {
            return Err(
                "no earlier version of it is mapped (it is the first one loaded, or \
                 hcr_collect or the kept-versions cap unmapped the others)"
                    .to_owned(),
            );
        }
        state.begin().map_err(|err| err.to_string())?;
        let tree = state.tree.as_mut().expect("checked above");
        let snapshot = tree.clone();
        let record = tree.modules.get_mut(module).expect("checked above");
        let previous = record.previous.pop().expect("checked above");
        let loaded_in = previous.version.generation;
        record.version = Some(previous.version);
        record.imports = previous.imports;
        (snapshot, loaded_in)
    };
    let fresh: HashSet<String> = std::iter::once(module.to_owned()).collect();
    let mut timings = Timings::default();
    let order = reload::rebuild_or_restore(rt, snapshot, &HashSet::new(), fresh, &mut timings)
        .map_err(|err| {
            format!(
                "putting the previous version back failed ({}); the faulting version stays current",
                err.report()
            )
        })?;
    let generation = reload::commit(rt, &order, &mut timings);
    crate::manifest::write(
        &mut rt.lock(),
        crate::manifest::Event::RolledBack { module, loaded_in },
    );
    Ok(RolledBack {
        loaded_in,
        generation,
    })
}

/// Remembers the file of version `faulted` of `module` as one not to load
/// again, if that version is still the current one.
fn refuse(rt: &Runtime, module: &str, faulted: u64) -> Result<(), String> {
    let mut state = rt.lock();
    let record = state
        .tree
        .as_mut()
        .and_then(|tree| tree.modules.get_mut(module))
        .ok_or_else(|| format!("`{module}` left the tree"))?;
    match &record.version {
        Some(version) if version.id == faulted => {
            record.refused = Some(version.identity.clone());
            Ok(())
        }
        _ => Err("the faulting version is no longer current".to_owned()),
    }
}
