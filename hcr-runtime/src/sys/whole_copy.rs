//! What the systems that load each version from a whole copy of its file
//! (Windows, macOS) share: what a copy hands the library check, and the
//! names that tie a copy (or a directory of copies) to the process that
//! made it, `<pid>-<start time>[.…]`, by which the next process finds what
//! processes that are gone left behind. The id alone would not do: ids
//! are handed out again soon. (Built on Linux for its tests alone.)

use std::path::Path;

/// A copy just made (`copy`), and what the library check reads.
#[cfg(any(windows, target_os = "macos"))]
#[derive(Debug)]
pub(crate) struct Copied<C> {
    pub(crate) copy: C,
    /// The file's metadata before and after it was read: equal when no
    /// write or rename landed meanwhile.
    pub(crate) before: std::fs::Metadata,
    pub(crate) after: std::fs::Metadata,
    /// The bytes read.
    pub(crate) contents: Vec<u8>,
    /// Nothing: a copy is complete when it is made.
    pub(crate) rest: Rest,
}

/// A file read whole, with its metadata before and after the read.
#[cfg(any(windows, target_os = "macos"))]
#[derive(Debug)]
pub(crate) struct Read {
    before: std::fs::Metadata,
    pub(crate) contents: Vec<u8>,
    after: std::fs::Metadata,
}

#[cfg(any(windows, target_os = "macos"))]
impl Read {
    /// Reads the file at `path`.
    pub(crate) fn of(path: &Path) -> std::io::Result<Read> {
        let before = std::fs::metadata(path)?;
        let contents = std::fs::read(path)?;
        let after = std::fs::metadata(path)?;
        Ok(Read {
            before,
            contents,
            after,
        })
    }

    /// What the library check reads of `copy`, made from these bytes.
    pub(crate) fn copied<C>(self, copy: C) -> Copied<C> {
        Copied {
            copy,
            before: self.before,
            after: self.after,
            contents: self.contents,
            rest: Rest,
        }
    }
}

/// What is left to copy: nothing (the loader maps all of the file).
#[cfg(any(windows, target_os = "macos"))]
#[derive(Debug)]
pub(crate) struct Rest;

#[cfg(any(windows, target_os = "macos"))]
impl Rest {
    /// Whether the copy is complete already: always.
    pub(crate) fn is_empty(&self) -> bool {
        true
    }

    /// Nothing to fill in.
    pub(crate) fn fill(self) {}
}

/// How the names of what the process `pid` started at `started` (in the
/// system's units) makes begin, before the first dot.
pub(crate) fn owner_name(pid: u32, started: u64) -> String {
    format!("{pid}-{started:x}")
}

/// The process a name made by [`owner_name`] stands for: its id and start
/// time.
pub(crate) fn owner_of(name: &str) -> Option<(u32, u64)> {
    let owner = name.split('.').next()?;
    let (pid, started) = owner.split_once('-')?;
    Some((pid.parse().ok()?, u64::from_str_radix(started, 16).ok()?))
}

/// Removes from `dir` the files and directories of processes that are
/// gone: `started_at` (when the process with an id started, if it runs)
/// knows no process with the id the name gives, or one that started at
/// another time. What no process's name is left alone.
pub(crate) fn remove_leftovers(dir: &Path, started_at: impl Fn(u32) -> Option<u64>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((pid, started)) = name.to_str().and_then(owner_of) else {
            continue;
        };
        if started_at(pid) == Some(started) {
            continue;
        }
        let _ = match entry.file_type() {
            Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(entry.path()),
            _ => std::fs::remove_file(entry.path()),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_gives_its_process_by_id_and_start_time() {
        let owner = owner_name(4242, 0x1d9_0000_1234);
        assert_eq!(owner_of(&owner), Some((4242, 0x1d9_0000_1234)));
        assert_eq!(
            owner_of(&format!("{owner}.my-module.3.dll")),
            Some((4242, 0x1d9_0000_1234))
        );
        assert_eq!(
            owner_of("1234.view.1.dll"),
            None,
            "a name without a start time is no one's"
        );
        assert_eq!(owner_of("notes-1"), None);
    }

    #[test]
    fn only_what_processes_that_are_gone_left_is_removed() {
        let dir = std::env::temp_dir().join(format!("hcr-leftovers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // Process 8 runs, started at 100; no other does.
        let started_at = |pid| (pid == 8).then_some(100);
        let mine = dir.join(format!("{}.view.1.dll", owner_name(8, 100)));
        let before = dir.join(format!("{}.view.1.dll", owner_name(8, 99)));
        let gone = dir.join(format!("{}.view.2.dylib", owner_name(12, 100)));
        let directory = dir.join(owner_name(16, 5));
        let running_directory = dir.join(owner_name(8, 100));
        let other = dir.join("notes.txt");
        for file in [&mine, &before, &gone, &other] {
            std::fs::write(file, b"bytes").unwrap();
        }
        for inside in [directory.join("inside"), running_directory.join("inside")] {
            std::fs::create_dir_all(inside).unwrap();
        }
        remove_leftovers(&dir, started_at);
        assert!(mine.is_file(), "a running process's copy stays");
        assert!(running_directory.is_dir(), "and its directory");
        assert!(!before.exists(), "the id's earlier process is gone");
        assert!(!gone.exists());
        assert!(!directory.exists());
        assert!(other.is_file(), "what is no process's is left alone");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
