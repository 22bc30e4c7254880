//! Copies of module libraries on macOS.
//!
//! A signed file that is changed in place, or overwritten, gets the
//! process that maps it again killed (the kernel caches its signature by
//! file), and dyld returns the image already loaded for a path it knows.
//! So every version is loaded from a byte-identical copy under a name
//! never used before, `<module>.<load>.dylib`, in a directory only this
//! user can enter, of this process's own:
//! `$TMPDIR/hcr-copies/<pid>-<start time>` (mode `0700`). The copy is
//! removed as soon as dyld has mapped it (an unlinked file stays mapped),
//! or when its load failed. What a process leaves (its empty directory;
//! copies, when it was killed between copying and loading) is removed by
//! the next process that starts, once the process it belonged to is gone:
//! a directory is named by its process's id and start time together,
//! since ids are handed out again.

use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub(crate) use crate::sys::whole_copy::Rest;
use crate::sys::whole_copy::{self, Read, owner_name, remove_leftovers};

/// The file one loaded version was copied to.
#[derive(Debug)]
pub(crate) struct LibraryCopy {
    path: PathBuf,
}

impl LibraryCopy {
    /// A copy of the file at `path`, load `id` of module `module`, made
    /// from the bytes read (which the library check then reads).
    pub(crate) fn of_file(module: &str, id: u64, path: &Path) -> io::Result<Copied> {
        let read = Read::of(path)?;
        let copy = copies_dir()?.join(format!("{module}.{id}.dylib"));
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&copy)?;
        let copy = LibraryCopy { path: copy };
        file.write_all(&read.contents)?;
        Ok(read.copied(copy))
    }

    /// Removes the copy once dyld has mapped it: nothing reads the file
    /// again, and a name is never used twice.
    pub(crate) fn opened(&self) {
        let _ = std::fs::remove_file(&self.path);
    }

    /// Nothing to give back: the copy is gone once opened.
    pub(crate) fn shed_unmapped(&self) {}

    /// The path to load.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the image loaded from this copy is still loaded.
    pub(crate) fn is_loaded(&self) -> bool {
        super::objects::is_loaded(&self.path)
    }
}

impl Drop for LibraryCopy {
    /// A copy whose load failed is removed too.
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A copy just made, and what the library check reads.
pub(crate) type Copied = whole_copy::Copied<LibraryCopy>;

/// This process's directory of copies, made (after removing what
/// processes that are gone left) on first use.
fn copies_dir() -> io::Result<&'static Path> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let base = std::env::temp_dir().join("hcr-copies");
        let made = |dir: &Path| {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|err| format!("{}: {err}", dir.display()))
        };
        made(&base)?;
        // By its real path: $TMPDIR lies under /var, a link to
        // /private/var, and dyld names an image by the real path, which
        // is how a copy's image is found again (code ranges, collecting).
        let base =
            std::fs::canonicalize(&base).map_err(|err| format!("{}: {err}", base.display()))?;
        remove_leftovers(&base, started_at);
        let pid = std::process::id();
        let started = started_at(pid)
            .ok_or_else(|| format!("the start time of this process ({pid}) is unknown"))?;
        let mine = base.join(owner_name(pid, started));
        made(&mine)?;
        Ok(mine)
    });
    dir.as_deref().map_err(|err| io::Error::other(err.clone()))
}

/// When process `pid` started (in microseconds since the Unix epoch), if
/// it is running.
fn started_at(pid: u32) -> Option<u64> {
    let pid = libc::c_int::try_from(pid).ok()?;
    // SAFETY: an all-zero proc_bsdinfo is a valid value to be overwritten.
    let mut info: libc::proc_bsdinfo = unsafe { std::mem::zeroed() };
    let size = libc::c_int::try_from(size_of::<libc::proc_bsdinfo>()).ok()?;
    // SAFETY: proc_pidinfo writes at most `size` bytes into `info`.
    let got =
        unsafe { libc::proc_pidinfo(pid, libc::PROC_PIDTBSDINFO, 0, (&raw mut info).cast(), size) };
    (got == size).then(|| info.pbi_start_tvsec * 1_000_000 + info.pbi_start_tvusec)
}
