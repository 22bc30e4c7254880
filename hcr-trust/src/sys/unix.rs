//! Unix: permission bits and owners.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::Problem;

const OTHERS_WRITE: u32 = 0o002;
const STICKY: u32 = 0o1000;

/// What is wrong with `path` (a directory when `is_dir`), or `None` when
/// nothing is or it cannot be inspected.
pub(crate) fn problem(path: &Path, is_dir: bool) -> Option<Problem> {
    let meta = std::fs::metadata(path).ok()?;
    let mode = meta.mode() & 0o7777;
    let shared = mode & OTHERS_WRITE != 0 && !(is_dir && mode & STICKY != 0);
    if shared {
        return Some(Problem::WritableByOthers { mode });
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let process = unsafe { libc::geteuid() };
    let owner = meta.uid();
    if owner != process && owner != 0 {
        return Some(Problem::Owner { owner, process });
    }
    None
}
