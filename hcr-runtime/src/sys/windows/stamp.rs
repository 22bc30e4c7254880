//! What tells a file changed on Windows: size, creation and last-write
//! times (100 ns ticks): a build renamed over the old file is a new file
//! with a new creation time.

use std::os::windows::fs::MetadataExt as _;

/// Seconds from 1601-01-01 (where Windows file times start) to 1970-01-01.
const EPOCH_DIFFERENCE_S: i128 = 11_644_473_600;

/// A file's size and timestamps, from its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    len: u64,
    created: u64,
    written: u64,
}

impl FileStamp {
    /// The stamp of a file from its metadata.
    pub(crate) fn of(meta: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            len: meta.file_size(),
            created: meta.creation_time(),
            written: meta.last_write_time(),
        }
    }

    /// The file's size in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The latest write or creation, in nanoseconds since the Unix epoch.
    pub(crate) fn changed_ns(&self) -> i128 {
        let ticks = i128::from(self.created.max(self.written));
        ticks * 100 - EPOCH_DIFFERENCE_S * 1_000_000_000
    }
}
