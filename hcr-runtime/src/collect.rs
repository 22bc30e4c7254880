//! Unmapping old versions: `hcr_collect` and the cap on kept versions.
//!
//! By default every version ever loaded stays mapped (a thread may still
//! run old code). Unmapping is the host's decision and its promise: no
//! thread runs the versions that go, and nothing keeps a pointer into them
//! (a `&'static str` or a vtable of old code kept in a global, a function
//! pointer that is not a stub). Stubs never point into them: every stub
//! jumps to a current version or to the bad-call handler.

use hashbrown::{HashMap, HashSet};

use crate::error::Error;
use crate::runtime::{Retained, Runtime};

/// Environment variable that sets the cap on kept versions at `hcr_init`.
pub const KEPT_VERSIONS_ENV: &str = "HCR_KEEP_VERSIONS";

/// The cap `$HCR_KEEP_VERSIONS` asks for (0, keep all, when unset).
pub(crate) fn kept_versions_from_env() -> Result<usize, Error> {
    match std::env::var(KEPT_VERSIONS_ENV) {
        Err(_) => Ok(0),
        Ok(text) => text.trim().parse().map_err(|_| {
            Error::InvalidArgument(format!(
                "{KEPT_VERSIONS_ENV}={text:?} is not a number of versions"
            ))
        }),
    }
}

/// Unmaps every version that is not current; see `hcr_collect` in hcr.h.
/// Returns how many versions were unmapped.
pub(crate) fn collect(rt: &Runtime) -> Result<usize, Error> {
    let _busy = rt.claim()?;
    rt.lock().tree()?;
    Ok(unmap_old_versions(rt, 1))
}

/// Unmaps versions so that at most `kept` of each module stay mapped: the
/// current one and the newest others. Returns how many were unmapped; a
/// library that `dlclose` leaves loaded is counted as kept.
///
/// The caller has claimed the runtime (no init or reload runs).
pub(crate) fn unmap_old_versions(rt: &Runtime, kept: usize) -> usize {
    let going = {
        let mut state = rt.lock();
        let current: HashSet<u64> = state
            .tree
            .iter()
            .flat_map(|tree| tree.modules.values())
            .filter_map(|record| Some(record.version.as_ref()?.id))
            .collect();
        let mut others_kept: HashMap<String, usize> = HashMap::new();
        let mut newest_first: Vec<(u64, &str)> = state
            .retained()
            .iter()
            .map(|version| (version.id, version.module.as_str()))
            .collect();
        // Newest first, so the newest old versions are the ones kept.
        newest_first.sort_by_key(|(id, _)| std::cmp::Reverse(*id));
        let mut going = HashSet::new();
        for (id, module) in newest_first {
            if current.contains(&id) {
                continue;
            }
            let others = others_kept.entry(module.to_owned()).or_default();
            if *others + 1 < kept {
                *others += 1;
            } else {
                going.insert(id);
            }
        }
        for record in state
            .tree
            .iter_mut()
            .flat_map(|tree| tree.modules.values_mut())
        {
            record
                .previous
                .retain(|previous| !going.contains(&previous.version.id));
        }
        state.release_retained(&going)
    };
    // `dlclose` runs the library's destructors: module code, so the lock is
    // not held.
    let mut unmapped = 0;
    let mut pinned = Vec::new();
    for Retained { library, copy, .. } in going {
        drop(library);
        if copy.is_loaded() {
            pinned.push(copy);
        } else {
            unmapped += 1;
        }
    }
    rt.lock().pinned.extend(pinned);
    unmapped
}
