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
pub(crate) use crate::sys::whole_copy::Rest;
use crate::sys::whole_copy::{self, Read, owner_name, remove_leftovers};

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
        let read = Read::of(path)?;
        let (dir, owner) = copies_dir()?;
        let copy = dir.join(format!("{owner}.{module}.{id}.dll"));
        let mut bytes = read.contents.clone();
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
        Ok(read.copied(LibraryCopy {
            _deletes: deletes,
            path: copy,
        }))
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

/// A copy just made, and what the library check reads (the bytes before
/// the rebase).
pub(crate) type Copied = whole_copy::Copied<LibraryCopy>;

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
        remove_leftovers(&dir, started_at);
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
    fn this_process_is_found_running_since_it_started() {
        let pid = std::process::id();
        let started = started_at(pid).expect("this process runs");
        assert_eq!(started_at(pid), Some(started));
        assert_eq!(started_at(u32::MAX - 2), None, "ids are multiples of 4");
    }
}
