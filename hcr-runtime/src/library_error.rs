//! What the checks that run before a library is loaded (the ELF check on
//! Linux, the PE check on Windows) report.

/// Why a file is not a library this process can load.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LibraryError {
    /// The file is not of the format checked (its magic bytes are wrong).
    #[error("not {0}")]
    NotLibrary(&'static str),
    /// The file ends inside the headers that say what it is.
    #[error("truncated: {len} bytes is too short for {what}")]
    TooShort {
        /// The file's length.
        len: usize,
        /// What it is too short for.
        what: &'static str,
    },
    /// Built for another machine, word size or byte order.
    #[error("built for {found}, but this process is {expected}")]
    WrongTarget {
        /// What the file declares.
        found: String,
        /// What this process needs.
        expected: String,
    },
    /// An executable, object file or core dump, not a shared library.
    #[error("not a shared library ({0})")]
    NotShared(String),
    /// A table or segment the loader reads lies past the end of the file.
    #[error("truncated: {what} ends at byte {end}, but the file has {len} bytes")]
    Truncated {
        /// Which part.
        what: String,
        /// Where it ends.
        end: u64,
        /// The file's length.
        len: usize,
    },
    /// A header field holds a value no loader accepts.
    #[error("malformed: {0}")]
    Malformed(String),
}

impl LibraryError {
    /// Whether this is what a file still being written shows: it ends
    /// before what its headers describe.
    pub fn is_unfinished(&self) -> bool {
        matches!(
            self,
            LibraryError::TooShort { .. } | LibraryError::Truncated { .. }
        )
    }

    /// `Ok` when `size` bytes from `start` lie within a file of `len`
    /// bytes, else [`LibraryError::Truncated`] naming `what`.
    pub(crate) fn end_within(
        what: impl FnOnce() -> String,
        start: u64,
        size: u64,
        len: usize,
    ) -> Result<(), LibraryError> {
        match start.checked_add(size) {
            Some(end) if end <= len as u64 => Ok(()),
            end => Err(LibraryError::Truncated {
                what: what(),
                end: end.unwrap_or(u64::MAX),
                len,
            }),
        }
    }
}
