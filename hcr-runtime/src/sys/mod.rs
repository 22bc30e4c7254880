//! Operating-system primitives, selected once here so that callers never
//! write `cfg(target_os)`. Every OS module offers the same items:
//!
//! * memory: `page_size`, `TABLE_LAYOUT` (the jump table's layout here),
//!   `StubPages` (the paged table's reservation of stub and data pages)
//!   `TableCopy` (a private copy of the mapped table, for a forked child;
//!   none on macOS) and, where the mapped table is built
//!   (`cfg(hcr_mapped_table)`: not on macOS, which has `NO_MAPPED_TABLE`
//!   instead), `Views` (its two views of one shared memory object, placed
//!   at an address or near the modules);
//! * processes: `at_fork`, `write_stderr`;
//! * loading: `library` (`Library`, `library_file_name`, `check_library`),
//!   `copy::LibraryCopy` (where each version is loaded from), `FileStamp`
//!   (what tells a file changed);
//! * what is loaded where: `objects` (`object_name`, `code_ranges`,
//!   `place_of`) and `unwind::frame_addresses`;
//! * the crash guard's catching: `crash_guard`.

// Only the mapped jump table writes instructions.
#[cfg(hcr_mapped_table)]
pub(crate) mod icache;
#[cfg(unix)]
mod unix;
#[cfg(any(windows, target_os = "macos", test))]
mod whole_copy;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("hcr-runtime supports Linux, macOS and Windows");
