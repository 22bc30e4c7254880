//! Operating-system primitives, selected once here so that callers never
//! write `cfg(target_os)`. Every OS module offers the same items:
//!
//! * memory: `page_size`, `Views` (the jump table's two views of one
//!   shared memory object, placed at an address or near the modules), and
//!   `TableCopy` (a private copy of the table, for a forked child);
//! * processes: `at_fork`, `write_stderr`;
//! * loading: `library` (`Library`, `library_file_name`, `check_library`),
//!   `copy::LibraryCopy` (where each version is loaded from), `FileStamp`
//!   (what tells a file changed);
//! * what is loaded where: `objects` (`object_name`, `code_ranges`,
//!   `place_of`) and `unwind::frame_addresses`;
//! * the crash guard's catching: `crash_guard`.

pub(crate) mod icache;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("hcr-runtime supports Linux and Windows");
