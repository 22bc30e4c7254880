//! Copies of module libraries on Windows.
//!
//! Windows keeps a loaded DLL's file locked against writes (the linker
//! could not write the next build) and returns the same module for a path
//! already loaded, so every version is loaded from a copy of its own:
//! `%TEMP%\hcr-copies\<pid>-<started>.<module>.<load>.dll`. Each copy is
//! held open for deletion on close (`FILE_FLAG_DELETE_ON_CLOSE`, sharing
//! reads and deletion with the loader), so Windows deletes it once this
//! process has closed it and unmapped it: at exit, however the process
//! ends. No directory of the process's own is made, as a process cannot
//! remove a directory while its copies are still mapped from it: when the
//! process is gone, nothing of it is left. A copy the system failed to
//! delete is removed by the next process that starts, once the process it
//! belonged to is gone.
//!
//! A copy is named by its process's id and creation time together:
//! Windows hands the id of a process that ended to the next one soon (wine
//! within a few processes), and a copy named by the id alone could be
//! taken for a dead process's by a new process with that id.
//!
//! A copy is rebased (`pe::rebase`) to prefer the first free range above
//! the jump table's executable view, beside its first slots: Windows
//! would otherwise load each DLL at its own preferred base (mingw-w64
//! derives one from the DLL's name) or wherever ASLR puts it, gigabytes
//! from the table. Where the range is taken after all, the loader
//! relocates the copy as it would any DLL.

use std::io;
use std::os::windows::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use windows_sys::Win32::Foundation::{CloseHandle, FILETIME, STILL_ACTIVE};
use windows_sys::Win32::Storage::FileSystem::{
    DELETE, FILE_FLAG_DELETE_ON_CLOSE, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::System::Memory::{MEM_FREE, MEMORY_BASIC_INFORMATION, VirtualQuery};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, GetProcessTimes, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
};

use super::wide;

/// The file one loaded version was copied to, held for deletion on close.
#[derive(Debug)]
pub(crate) struct LibraryCopy {
    /// Held, not read: closing it (with the library unmapped) deletes the copy.
    _deletes: std::fs::File,
    path: PathBuf,
}

impl LibraryCopy {
    /// A copy of the file at `path`, load `id` of module `module`, made
    /// from the bytes read (which the library check then reads), rebased.
    pub(crate) fn of_file(module: &str, id: u64, path: &Path) -> io::Result<Copied> {
        let before = std::fs::metadata(path)?;
        let contents = std::fs::read(path)?;
        let after = std::fs::metadata(path)?;
        let (dir, owner) = copies_dir()?;
        let copy = dir.join(format!("{owner}.{module}.{id}.dll"));
        let mut bytes = contents.clone();
        if let Some(base) = crate::pe::image_size(&bytes).and_then(free_range_above_table) {
            // A DLL that cannot be rebased loads where it would anyway.
            let _ = crate::pe::rebase(&mut bytes, base as u64);
        }
        std::fs::write(&copy, &bytes)?;
        let deletes = std::fs::OpenOptions::new()
            .access_mode(DELETE)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
            .custom_flags(FILE_FLAG_DELETE_ON_CLOSE)
            .open(&copy)?;
        Ok(Copied {
            copy: LibraryCopy {
                _deletes: deletes,
                path: copy,
            },
            before,
            after,
            contents,
            rest: Rest,
        })
    }

    /// Nothing to do once the DLL is loaded: the copy goes when it is
    /// closed and unmapped.
    pub(crate) fn opened(&self) {}

    /// Nothing to give back: a DLL's copy holds what it maps.
    pub(crate) fn shed_unmapped(&self) {}

    /// The path to load.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the library loaded from this copy is still loaded.
    pub(crate) fn is_loaded(&self) -> bool {
        // SAFETY: a NUL-terminated wide string; looks loaded modules up only.
        !unsafe { GetModuleHandleW(wide(&self.path).as_ptr()) }.is_null()
    }
}

/// A copy just made, and what the library check reads.
#[derive(Debug)]
pub(crate) struct Copied {
    pub(crate) copy: LibraryCopy,
    /// The file's metadata before and after it was read: equal when no
    /// write or rename landed meanwhile.
    pub(crate) before: std::fs::Metadata,
    pub(crate) after: std::fs::Metadata,
    /// The bytes read, before the rebase.
    pub(crate) contents: Vec<u8>,
    /// Nothing: a copy here is complete when it is made.
    pub(crate) rest: Rest,
}

/// What is left to copy: nothing here (the loader maps all of a DLL).
#[derive(Debug)]
pub(crate) struct Rest;

impl Rest {
    /// Whether the copy is complete already: always.
    pub(crate) fn is_empty(&self) -> bool {
        true
    }

    /// Nothing to fill in.
    pub(crate) fn fill(self) {}
}

/// The first free range of `len` bytes (64 KiB aligned) above the jump
/// table's executable view (or, before there is one, the runtime's
/// image), within 2 GiB of it.
fn free_range_above_table(len: usize) -> Option<usize> {
    let from = match super::views::modules_from() {
        Some(end) => end,
        None => super::objects::image_range(super::objects::runtime_module()?)?.end,
    };
    let granularity = super::allocation_granularity();
    let mut at = from.next_multiple_of(granularity);
    let limit = from.checked_add(1 << 31)?;
    while at < limit {
        // SAFETY: an all-zero MEMORY_BASIC_INFORMATION is valid to be
        // overwritten; VirtualQuery only describes the region at `at`.
        let mut region: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: as above; any address may be asked about.
        let got = unsafe {
            VirtualQuery(
                at as *const std::ffi::c_void,
                &mut region,
                size_of::<MEMORY_BASIC_INFORMATION>(),
            )
        };
        if got == 0 {
            return None;
        }
        let end = region.BaseAddress as usize + region.RegionSize;
        if region.State == MEM_FREE && at + len <= end {
            return Some(at);
        }
        at = end.next_multiple_of(granularity);
    }
    None
}

/// The directory of copies, made (after removing what processes that are
/// gone left in it) on first use, and how this process's copies are
/// named first (see [`owner_name`]).
fn copies_dir() -> io::Result<(&'static Path, &'static str)> {
    static DIR: OnceLock<Result<(PathBuf, String), String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join("hcr-copies");
        std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        remove_leftovers(&dir);
        let pid = std::process::id();
        let started = started_at(pid)
            .ok_or_else(|| format!("the creation time of this process ({pid}) is unknown"))?;
        Ok((dir, owner_name(pid, started)))
    });
    match dir {
        Ok((dir, owner)) => Ok((dir, owner)),
        Err(err) => Err(io::Error::other(err.clone())),
    }
}

/// How the names of the copies of the process `pid` created at `started`
/// (in 100 ns ticks) begin, before the first dot.
fn owner_name(pid: u32, started: u64) -> String {
    format!("{pid}-{started:x}")
}

/// The process a copy's name (or a directory's, as earlier versions made
/// one per process) stands for: its id and creation time.
fn owner_of(name: &str) -> Option<(u32, u64)> {
    let owner = name.split('.').next()?;
    let (pid, started) = owner.split_once('-')?;
    Some((pid.parse().ok()?, u64::from_str_radix(started, 16).ok()?))
}

/// Removes from `dir` what processes that are gone left: no process runs
/// with the id the name gives, or the one that does started at another
/// time.
fn remove_leftovers(dir: &Path) {
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

/// When process `pid` was created (in 100 ns ticks since 1601), if it is
/// still running.
fn started_at(pid: u32) -> Option<u64> {
    // SAFETY: opens a handle for querying only, closed below.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return None;
    }
    let mut code = 0u32;
    // SAFETY: `process` is the handle opened above; writes only `code`.
    let running =
        unsafe { GetExitCodeProcess(process, &mut code) } != 0 && code == STILL_ACTIVE as u32;
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: as above; writes only the four times.
    let known =
        unsafe { GetProcessTimes(process, &mut created, &mut exited, &mut kernel, &mut user) } != 0;
    // SAFETY: closes the handle opened above.
    unsafe { CloseHandle(process) };
    (running && known)
        .then(|| u64::from(created.dwHighDateTime) << 32 | u64::from(created.dwLowDateTime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_names_its_process_by_id_and_creation_time() {
        let pid = std::process::id();
        let started = started_at(pid).expect("this process runs");
        let owner = owner_name(pid, started);
        assert_eq!(owner_of(&owner), Some((pid, started)));
        assert_eq!(
            owner_of(&format!("{owner}.my-module.3.dll")),
            Some((pid, started))
        );
        assert_eq!(
            owner_of("1234.view.1.dll"),
            None,
            "a name without a creation time is no one's"
        );
        assert_eq!(owner_of("notes-1"), None);
    }

    #[test]
    fn only_what_processes_that_are_gone_left_is_removed() {
        let dir = std::env::temp_dir().join(format!("hcr-leftovers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let pid = std::process::id();
        let started = started_at(pid).unwrap();
        // This process's own copy, one of a process that had this id
        // before, one of an id no process has (ids are multiples of 4),
        // and a directory of a gone process as earlier versions made.
        let mine = dir.join(format!("{}.view.1.dll", owner_name(pid, started)));
        let before = dir.join(format!("{}.view.1.dll", owner_name(pid, started - 1)));
        let gone = dir.join(format!("{}.view.2.dll", owner_name(u32::MAX - 2, started)));
        let old_directory = dir.join(owner_name(u32::MAX - 2, started - 1));
        let other = dir.join("notes.txt");
        for file in [&mine, &before, &gone, &other] {
            std::fs::write(file, b"MZ").unwrap();
        }
        std::fs::create_dir_all(old_directory.join("inside")).unwrap();
        remove_leftovers(&dir);
        assert!(mine.is_file(), "a running process's copy stays");
        assert!(!before.exists(), "the id's earlier process is gone");
        assert!(!gone.exists());
        assert!(!old_directory.exists());
        assert!(other.is_file(), "what is no process's is left alone");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
