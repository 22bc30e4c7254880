//! Copies of module libraries on Windows.
//!
//! Windows keeps a loaded DLL's file locked against writes (the linker
//! could not write the next build) and returns the same module for a path
//! already loaded, so every version is loaded from a copy of its own:
//! `<module>.<load>.dll` in a directory of this process's,
//! `%TEMP%\hcr-copies\<pid>`. Each copy is held open for deletion on close
//! (`FILE_FLAG_DELETE_ON_CLOSE`, sharing reads and deletion with the
//! loader), so Windows deletes it once this process has closed it and
//! unmapped it: at exit, however the process ends. The directories that
//! processes leave (they cannot delete a directory their own copies are
//! still in) are removed by the next process that starts, once the
//! process they belonged to is gone.
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

use windows_sys::Win32::Foundation::{CloseHandle, STILL_ACTIVE};
use windows_sys::Win32::Storage::FileSystem::{
    DELETE, FILE_FLAG_DELETE_ON_CLOSE, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
};
use windows_sys::Win32::System::LibraryLoader::GetModuleHandleW;
use windows_sys::Win32::System::Memory::{MEM_FREE, MEMORY_BASIC_INFORMATION, VirtualQuery};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
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
    /// A copy of `bytes`, load `id` of module `module`.
    ///
    /// # Errors
    /// No temporary directory, or the copy cannot be written.
    pub(crate) fn new(module: &str, id: u64, bytes: &[u8]) -> io::Result<LibraryCopy> {
        let path = copies_dir()?.join(format!("{module}.{id}.dll"));
        let mut bytes = bytes.to_vec();
        if let Some(base) = crate::pe::image_size(&bytes).and_then(free_range_above_table) {
            // A DLL that cannot be rebased loads where it would anyway.
            let _ = crate::pe::rebase(&mut bytes, base as u64);
        }
        std::fs::write(&path, &bytes)?;
        let deletes = std::fs::OpenOptions::new()
            .access_mode(DELETE)
            .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)
            .custom_flags(FILE_FLAG_DELETE_ON_CLOSE)
            .open(&path)?;
        Ok(LibraryCopy {
            _deletes: deletes,
            path,
        })
    }

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

/// This process's directory of copies, made (after removing what dead
/// processes left) on first use.
fn copies_dir() -> io::Result<&'static Path> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let base = std::env::temp_dir().join("hcr-copies");
        std::fs::create_dir_all(&base).map_err(|err| format!("{}: {err}", base.display()))?;
        remove_leftovers(&base);
        let mine = base.join(std::process::id().to_string());
        std::fs::create_dir_all(&mine).map_err(|err| format!("{}: {err}", mine.display()))?;
        Ok(mine)
    });
    dir.as_deref().map_err(|err| io::Error::other(err.clone()))
}

/// Removes the directories in `base` of processes that are gone.
fn remove_leftovers(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|name| name.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !is_running(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether process `pid` is still running.
fn is_running(pid: u32) -> bool {
    // SAFETY: opens a handle for querying only, closed below.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return false;
    }
    let mut code = 0u32;
    // SAFETY: `process` is the handle opened above; writes only `code`.
    let known = unsafe { GetExitCodeProcess(process, &mut code) } != 0;
    // SAFETY: closes the handle opened above.
    unsafe { CloseHandle(process) };
    known && code == STILL_ACTIVE as u32
}
