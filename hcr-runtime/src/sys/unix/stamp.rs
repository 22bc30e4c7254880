//! What tells a file changed on Linux: device, inode, size and nanosecond
//! modification and status-change times.

use std::os::unix::fs::MetadataExt;

/// A file's identity and timestamps, from one `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    dev: u64,
    ino: u64,
    len: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileStamp {
    /// The stamp of a file from its metadata.
    pub(crate) fn of(meta: &std::fs::Metadata) -> FileStamp {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The file's size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The latest write to the file or its metadata, in nanoseconds since
    /// the Unix epoch.
    pub(crate) fn changed_ns(&self) -> i128 {
        self.mtime_ns.max(self.ctime_ns)
    }
}
