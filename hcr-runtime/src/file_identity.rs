//! Tells whether a module's library file changed since it was loaded.
//!
//! Size and a whole-second mtime miss two builds of the same size written
//! within a second, and even nanosecond timestamps only move once per
//! kernel timer tick. So a file is judged by its identity, size and
//! fine-grained timestamps (`sys::FileStamp`: device, inode, nanosecond
//! mtime and ctime on Linux), and, while the file is fresh (written less
//! than [`FRESH_WINDOW`] before it was recorded, when a rewrite within the
//! same tick could leave every timestamp equal), by a hash of its contents.
//! Once the window has passed, any later write must move a timestamp, so
//! the cheap metadata comparison is enough.

use std::hash::Hasher;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::sys::FileStamp;

/// How long after a write the contents are compared as well as metadata.
pub(crate) const FRESH_WINDOW: Duration = Duration::from_secs(2);

/// Whether the file `stamp` describes last changed within
/// [`FRESH_WINDOW`] before `at`.
fn is_fresh(stamp: &FileStamp, at: SystemTime) -> bool {
    let now_ns = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    now_ns - stamp.changed_ns() < FRESH_WINDOW.as_nanos() as i128
}

/// Identity of one version of a library file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileIdentity {
    metadata: FileStamp,
    content_hash: u64,
    fresh: bool,
}

/// A content hash for change detection (not for security).
pub(crate) fn content_hash(bytes: &[u8]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(bytes);
    hasher.finish()
}

impl FileIdentity {
    /// Whether two `stat`s of a file, taken around a read, show the same
    /// file in the same state (no write landed in between, as far as the
    /// timestamps' resolution can tell).
    pub(crate) fn same_file_state(before: &std::fs::Metadata, after: &std::fs::Metadata) -> bool {
        FileStamp::of(before) == FileStamp::of(after)
    }

    /// Identity of a version whose bytes were read right after `meta` was taken.
    pub(crate) fn new(meta: &std::fs::Metadata, bytes: &[u8]) -> Self {
        let metadata = FileStamp::of(meta);
        FileIdentity {
            metadata,
            content_hash: content_hash(bytes),
            fresh: is_fresh(&metadata, SystemTime::now()),
        }
    }

    /// The hash of the contents this identity was taken from.
    pub(crate) fn content_hash(&self) -> u64 {
        self.content_hash
    }

    /// Whether the file at `path` now holds other contents than this
    /// version. A missing or unreadable file counts as unchanged: there is
    /// nothing to load yet (a build may be replacing it).
    ///
    /// When the file is unchanged, the identity is refreshed so that later
    /// checks can skip reading the contents.
    pub(crate) fn changed(&mut self, path: &Path) -> bool {
        let Ok(meta) = std::fs::metadata(path) else {
            return false;
        };
        let now = FileStamp::of(&meta);
        if now == self.metadata && !self.fresh {
            return false;
        }
        let Ok(bytes) = std::fs::read(path) else {
            return false;
        };
        if content_hash(&bytes) != self.content_hash {
            return true;
        }
        self.metadata = now;
        self.fresh = is_fresh(&now, SystemTime::now());
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity_of(path: &Path) -> FileIdentity {
        let meta = std::fs::metadata(path).unwrap();
        FileIdentity::new(&meta, &std::fs::read(path).unwrap())
    }

    #[test]
    fn a_same_size_rewrite_in_place_within_one_tick_is_seen() {
        let dir = std::env::temp_dir().join(format!("hcr-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lib.so");
        std::fs::write(&path, b"version-1").unwrap();
        let mut identity = identity_of(&path);
        std::fs::write(&path, b"version-2").unwrap();
        assert!(identity.changed(&path));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_touch_without_new_contents_is_not_a_change() {
        let dir = std::env::temp_dir().join(format!("hcr-touch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("lib.so");
        std::fs::write(&path, b"same").unwrap();
        let mut identity = identity_of(&path);
        std::fs::write(&path, b"same").unwrap();
        assert!(!identity.changed(&path));
        assert!(!identity.changed(&dir.join("missing.so")));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
