//! Which modules changed on disk: each version's file identity (see
//! `file_identity`), the file of a version the crash guard rolled back,
//! the building marker of a tool writing a set of libraries, and the
//! record of the last refused reload.

use std::path::Path;
use std::time::Duration;

use crate::error::Error;
use crate::file_identity::{FileIdentity, Reading};
use crate::loader;
use crate::sys::FileStamp;

use super::{Runtime, Version};

/// How old a building marker is when it is taken for one a stopped tool
/// left behind.
const STALE_MARKER: Duration = Duration::from_secs(hcr_files::STALE_BUILDING_MARKER_SECS);

/// Which modules a tool is writing a set of libraries of.
enum Writing {
    /// None: there is no marker, or only one left long ago.
    Nothing,
    /// Every module (an empty marker).
    All,
    /// These.
    Modules(Vec<String>),
}

impl Writing {
    /// Whether module `name`'s library is being written.
    fn covers(&self, name: &str) -> bool {
        match self {
            Writing::Nothing => false,
            Writing::All => true,
            Writing::Modules(names) => names.iter().any(|n| n == name),
        }
    }
}

/// What the marker ([`hcr_files::BUILDING_MARKER`]) of a set of libraries
/// being written in `dir` says: the modules in it do not count as changed.
fn being_written(dir: &Path) -> Writing {
    let marker = dir.join(hcr_files::BUILDING_MARKER);
    let Ok(written) = std::fs::metadata(&marker).and_then(|m| m.modified()) else {
        return Writing::Nothing;
    };
    let fresh = std::time::SystemTime::now()
        .duration_since(written)
        .map_or(true, |age| age < STALE_MARKER);
    match std::fs::read_to_string(&marker) {
        Ok(_) if !fresh => Writing::Nothing,
        Ok(names) if names.trim().is_empty() => Writing::All,
        Ok(names) => Writing::Modules(names.lines().map(str::to_owned).collect()),
        Err(_) => Writing::Nothing,
    }
}

/// The stamps of the library files of `modules` in `dir` (a file that is
/// not there has none).
pub(crate) fn stamps_of(dir: &Path, modules: &[String]) -> Vec<(String, Option<FileStamp>)> {
    modules
        .iter()
        .map(|name| {
            let path = loader::library_path(dir, name);
            let stamp = std::fs::metadata(path)
                .ok()
                .map(|meta| FileStamp::of(&meta));
            (name.clone(), stamp)
        })
        .collect()
}

/// A refused reload: why, and the files of the changed modules it was
/// tried with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The refusal's report.
    pub(crate) message: String,
    /// The changed modules' files as they were when the reload began.
    pub(crate) files: Vec<(String, Option<FileStamp>)>,
    /// Whether trying the same files again would be refused again.
    pub(crate) stays: bool,
}

/// What one check of a module needs, taken out of the state so that files
/// are looked at with the state unlocked.
struct Check {
    name: String,
    version: Version,
    refused: Option<FileIdentity>,
}

impl Runtime {
    /// Modules whose library changed since it was loaded, sorted, leaving
    /// out a file that still holds a version the crash guard rolled back
    /// and the modules of a set still being written (see
    /// [`being_written`]). None while the changed files are exactly those
    /// of the last refused reload and the refusal stays while they do:
    /// trying them again would fail again. Costs a `stat` per module
    /// (and of the marker); where contents must be compared (a file of
    /// the same size with new timestamps), `reading` says how.
    pub(crate) fn changed_modules(&self, reading: Reading) -> Result<Vec<String>, Error> {
        let dir = self.lock().tree()?.dir.clone();
        let changed = self.changed_files(&dir, &being_written(&dir), reading)?;
        let refusal = self.lock().last_refusal.clone();
        let refused_again = refusal
            .is_some_and(|refusal| refusal.stays && refusal.files == stamps_of(&dir, &changed));
        Ok(if refused_again { Vec::new() } else { changed })
    }

    /// The modules of the tree whose files in `dir` changed, sorted,
    /// leaving out (unlooked at) those being written. Identities are
    /// checked with the state unlocked and written back.
    fn changed_files(
        &self,
        dir: &Path,
        writing: &Writing,
        reading: Reading,
    ) -> Result<Vec<String>, Error> {
        let mut checks: Vec<Check> = {
            let state = self.lock();
            state
                .tree()?
                .modules
                .iter()
                .filter(|(name, _)| !writing.covers(name))
                .filter_map(|(name, record)| {
                    Some(Check {
                        name: name.clone(),
                        version: record.version.clone()?,
                        refused: record.refused.clone(),
                    })
                })
                .collect()
        };
        let mut changed = Vec::new();
        for check in &mut checks {
            let path = loader::library_path(dir, &check.name);
            if check.version.identity.changed(&path, reading)
                && check
                    .refused
                    .as_mut()
                    .is_none_or(|refused| refused.changed(&path, reading))
            {
                changed.push(check.name.clone());
            }
        }
        changed.sort();
        let mut state = self.lock();
        if let Some(tree) = &mut state.tree {
            for check in checks {
                let Some(record) = tree.modules.get_mut(&check.name) else {
                    continue;
                };
                let Some(version) = record.version.as_mut() else {
                    continue;
                };
                if version.id == check.version.id {
                    version.identity = check.version.identity;
                    if record.refused.is_some() {
                        record.refused = check.refused;
                    }
                }
            }
        }
        Ok(changed)
    }
}

impl super::State {
    /// Keeps `refusal` as the last one; whether it is new (not the last
    /// refusal again: a veto met at every safe point is one refusal).
    pub(crate) fn note_refusal(&mut self, refusal: Refusal) -> bool {
        if self.last_refusal.as_ref() == Some(&refusal) {
            return false;
        }
        self.last_refusal = Some(refusal);
        true
    }

    /// Forgets the last refusal: a reload succeeded.
    pub(crate) fn forget_refusal(&mut self) {
        self.last_refusal = None;
    }
}
