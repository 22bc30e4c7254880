//! In-memory copies of module libraries.
//!
//! A copy is an anonymous in-memory file (memfd) holding the library's
//! bytes, which `dlopen` opens as `/proc/self/fd/<n>`. Nothing is written
//! to disk, so nothing is left behind however the process ends (exit, a
//! signal, SIGKILL), two processes never share a copy, and a forked child
//! has no file it could delete. The process itself can still read the
//! library under that name, so backtraces name module functions; a
//! debugger outside the process reads it as `/proc/<pid>/fd/<n>`.
//!
//! glibc also recognizes a loaded library by the name it was opened with,
//! so a copy's descriptor stays open as long as its library may be mapped:
//! no later copy can get the same number, hence the same name, while it is.
//!
//! The kernel copies the file into the memfd (`sendfile`): no byte passes
//! through this process, and the bytes the library check then reads are
//! the copy's own, mapped read-only, which nobody else can change between
//! the check and `dlopen`.
//!
//! Only what the loader and the check read is copied at once (the headers,
//! the loadable segments and the section header table, in whole pages:
//! a tenth of a debug build's library). The rest, debug information and
//! the symbol table, which only debuggers and backtraces read, is filled
//! in on the background thread ([`Rest`]): most of a reload's copying is
//! the kernel allocating the copy's pages, and no reload waits for those.
//! A process that a debugger or valgrind watches gets whole copies: they
//! read a library's debug information as soon as it is loaded.

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::sys::FileStamp;

/// How much of a file is copied before its headers are read: enough for
/// the file header and program headers of any library a linker writes.
const HEAD: u64 = 64 * 1024;

/// How many times the headers are read again after copying what they
/// name, before the whole file is copied instead.
const ROUNDS: usize = 4;

/// The bytes of one loaded version, and the name `dlopen` opens them by.
#[derive(Debug)]
pub(crate) struct LibraryCopy {
    path: PathBuf,
    /// The copy's descriptor, with the parts the loader does not map; shared
    /// with their [`Rest`] and with a job giving them back, so that the
    /// copy lives as long as any of them.
    unmapped: Arc<Unmapped>,
}

/// The parts of a copy that the loader does not map (debug information,
/// the symbol table), and whether they hold the file's bytes: copied in
/// by [`Rest::fill`], given back by [`LibraryCopy::shed_unmapped`].
/// Changed without a lock, so that a forked child never waits for a
/// thread it does not have.
#[derive(Debug)]
struct Unmapped {
    /// The copy: it lives as long as this descriptor.
    copy: File,
    ranges: Vec<Range<u64>>,
    state: AtomicU8,
}

/// [`Unmapped::state`]: not copied yet, being copied, copied, given back.
const PENDING: u8 = 0;
const FILLING: u8 = 1;
const FILLED: u8 = 2;
const SHED: u8 = 3;

/// A copy just made, and what the library check reads.
#[derive(Debug)]
pub(crate) struct Copied {
    pub(crate) copy: LibraryCopy,
    /// The file's metadata before the copy (of the file copied) and after
    /// it (of whatever its path names then): equal when no write or
    /// rename landed meanwhile.
    pub(crate) before: std::fs::Metadata,
    pub(crate) after: std::fs::Metadata,
    /// The copy's bytes (zeros where [`Rest`] has not filled them yet).
    pub(crate) contents: Contents,
    /// What is left to copy.
    pub(crate) rest: Rest,
}

/// The parts of a copy that nothing reads before the library is loaded,
/// left to copy.
#[derive(Debug)]
pub(crate) struct Rest {
    source: File,
    /// The source's stamp when the copy began.
    stamp: FileStamp,
    unmapped: Arc<Unmapped>,
}

impl Rest {
    /// Whether the copy is complete already.
    pub(crate) fn is_empty(&self) -> bool {
        self.unmapped.ranges.is_empty()
    }

    /// Copies the rest from the file the copy began from (still open, so a
    /// build that renamed a new file over it meanwhile changes nothing).
    /// When that file was written to since the copy began, the rest is
    /// left as zeros, which debuggers read as no information, rather than
    /// as another build's. Nothing is copied once the version was
    /// replaced ([`LibraryCopy::shed_unmapped`]).
    pub(crate) fn fill(self) {
        let unmapped = &self.unmapped;
        if !advance(&unmapped.state, PENDING, FILLING) {
            return;
        }
        let copied = unmapped.ranges.iter().try_for_each(|range| {
            copy_range(&self.source, &unmapped.copy, range.clone()).map(drop)
        });
        let unchanged = self
            .source
            .metadata()
            .is_ok_and(|meta| FileStamp::of(&meta) == self.stamp);
        // Shed while it was copied: give the pages back now.
        let shed = !advance(&unmapped.state, FILLING, FILLED);
        if copied.is_err() || !unchanged || shed {
            unmapped.punch();
        }
    }
}

/// Moves `state` from `from` to `to`; whether it was at `from`.
fn advance(state: &AtomicU8, from: u8, to: u8) -> bool {
    state
        .compare_exchange(from, to, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

impl Unmapped {
    /// Zeroes every unmapped range of the copy, giving its pages back.
    fn punch(&self) {
        for range in &self.ranges {
            punch_hole(&self.copy, range.clone());
        }
    }

    /// Marks the parts given back, and gives back what a fill copied.
    fn shed(&self) {
        // FILLING: the fill gives them back when it ends; PENDING: nothing
        // was copied, and now nothing will be.
        if self.state.swap(SHED, Ordering::AcqRel) == FILLED {
            self.punch();
        }
    }
}

/// Copies `range` of `source` to the same place in `copy`; returns how many
/// bytes there were (fewer at the end of the file).
fn copy_range(source: &File, copy: &File, range: Range<u64>) -> io::Result<u64> {
    let mut at = range.start;
    while at < range.end {
        let mut offset = libc::off_t::try_from(at).map_err(io::Error::other)?;
        let want = usize::try_from(range.end - at)
            .unwrap_or(usize::MAX)
            .min(1 << 30);
        // SAFETY: seeks `copy` to where `offset` says the bytes go; both
        // descriptors are open and ours.
        let placed = unsafe { libc::lseek(copy.as_raw_fd(), offset, libc::SEEK_SET) };
        if placed < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: both descriptors are open and ours; `offset` is a local
        // that sendfile reads and advances, leaving the source's own file
        // offset alone.
        let sent =
            unsafe { libc::sendfile(copy.as_raw_fd(), source.as_raw_fd(), &mut offset, want) };
        match sent {
            0 => break,
            n if n > 0 => at += n as u64,
            _ => {
                let err = io::Error::last_os_error();
                if !matches!(err.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) {
                    return Err(err);
                }
                // A file system sendfile cannot read from: copy through
                // this process instead.
                return copy_range_by_reading(source, copy, at..range.end)
                    .map(|copied| at + copied - range.start);
            }
        }
    }
    Ok(at - range.start)
}

/// [`copy_range`] through a buffer of this process's.
fn copy_range_by_reading(source: &File, copy: &File, range: Range<u64>) -> io::Result<u64> {
    use std::os::unix::fs::FileExt;
    let mut buffer = vec![0u8; 1 << 16];
    let mut at = range.start;
    while at < range.end {
        let want = usize::try_from(range.end - at).map_or(buffer.len(), |n| n.min(buffer.len()));
        let read = source.read_at(&mut buffer[..want], at)?;
        if read == 0 {
            break;
        }
        copy.write_all_at(&buffer[..read], at)?;
        at += read as u64;
    }
    Ok(at - range.start)
}

/// Zeroes `range` of `copy` again, giving its pages back.
fn punch_hole(copy: &File, range: Range<u64>) {
    let (Ok(start), Ok(len)) = (
        libc::off_t::try_from(range.start),
        libc::off_t::try_from(range.end - range.start),
    ) else {
        return;
    };
    // SAFETY: deallocates a range of a file we own; nothing maps it as
    // code (the loader maps only whole pages of what was copied at once).
    unsafe {
        libc::fallocate(
            copy.as_raw_fd(),
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            start,
            len,
        )
    };
}

/// Whether a debugger (any tracer) or valgrind watches this process: they
/// read a library's debug information when it is loaded, and would find
/// zeros where a copy is filled in later.
fn watched() -> bool {
    static VALGRIND: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let valgrind = *VALGRIND.get_or_init(|| {
        std::fs::read_to_string("/proc/self/maps").is_ok_and(|maps| maps.contains("/vgpreload"))
    });
    let traced = || {
        std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("TracerPid:"))
                .is_some_and(|pid| pid.trim() != "0")
        })
    };
    valgrind || traced()
}

/// What a copy holds so far, of a file of `len` bytes.
struct Held {
    ranges: Vec<Range<u64>>,
    len: u64,
}

impl Held {
    /// Copies what of `wanted` is not held yet. A file that ends before
    /// its length said (it is being written) is cut where it ended, for
    /// the library check to see.
    fn fetch(&mut self, source: &File, copy: &File, wanted: Vec<Range<u64>>) -> io::Result<()> {
        for range in missing(&wanted, &self.ranges) {
            let copied = copy_range(source, copy, range.clone())?;
            if copied < range.end - range.start {
                self.len = range.start + copied;
                copy.set_len(self.len)?;
                let copied = range.start..self.len;
                self.ranges = whole_pages(self.ranges.iter().cloned().chain([copied]), self.len);
                return Ok(());
            }
        }
        self.ranges = whole_pages(self.ranges.iter().cloned().chain(wanted), self.len);
        Ok(())
    }
}

/// `ranges` grown to whole pages within `0..len`, sorted and merged.
fn whole_pages(ranges: impl IntoIterator<Item = Range<u64>>, len: u64) -> Vec<Range<u64>> {
    let page = super::page_size() as u64;
    let mut pages: Vec<Range<u64>> = ranges
        .into_iter()
        .map(|range| range.start / page * page..range.end.div_ceil(page).saturating_mul(page))
        .map(|range| range.start.min(len)..range.end.min(len))
        .filter(|range| !range.is_empty())
        .collect();
    pages.sort_by_key(|range| range.start);
    let mut merged: Vec<Range<u64>> = Vec::new();
    for range in pages {
        match merged.last_mut() {
            Some(last) if range.start <= last.end => last.end = last.end.max(range.end),
            _ => merged.push(range),
        }
    }
    merged
}

/// All of a file of `len` bytes, as ranges.
fn all(len: u64) -> Vec<Range<u64>> {
    std::iter::once(0..len).collect()
}

/// The parts of `wanted` that `have` leaves out (both sorted and merged).
fn missing(wanted: &[Range<u64>], have: &[Range<u64>]) -> Vec<Range<u64>> {
    let mut out = Vec::new();
    for range in wanted {
        let mut start = range.start;
        for held in have {
            if held.end <= start || held.start >= range.end {
                continue;
            }
            if held.start > start {
                out.push(start..held.start);
            }
            start = start.max(held.end);
        }
        if start < range.end {
            out.push(start..range.end);
        }
    }
    out
}

/// The bytes of a copy, mapped read-only for as long as this lives.
#[derive(Debug)]
pub(crate) struct Contents {
    start: *const u8,
    len: usize,
}

impl Contents {
    /// Maps the `len` bytes of the file behind `fd`.
    fn map(fd: &impl AsRawFd, len: usize) -> io::Result<Contents> {
        if len == 0 {
            return Ok(Contents {
                start: std::ptr::NonNull::dangling().as_ptr(),
                len,
            });
        }
        // SAFETY: a new shared read-only mapping of a file we own; it
        // replaces nothing (no address is asked for) and is unmapped only
        // by `drop`.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Contents {
            start: start.cast(),
            len,
        })
    }
}

impl std::ops::Deref for Contents {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `start` maps `len` readable bytes (or is a dangling,
        // aligned pointer for no bytes) until `drop`; the memfd behind it
        // is written by no one once the copy is made.
        unsafe { std::slice::from_raw_parts(self.start, self.len) }
    }
}

impl Drop for Contents {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: unmaps exactly the mapping `map` made, which no
            // slice outlives (they borrow `self`).
            unsafe { libc::munmap(self.start.cast_mut().cast(), self.len) };
        }
    }
}

impl LibraryCopy {
    /// A copy of the file at `path`, load `id` of module `module`, shown
    /// as `memfd:hcr:lib<module>.<id>.so` in `/proc/self/maps`: what the
    /// loader reads copied, the [`Rest`] left to copy.
    pub(crate) fn of_file(module: &str, id: u64, path: &Path) -> io::Result<Copied> {
        let label = CString::new(format!("hcr:lib{module}.{id}.so")).map_err(io::Error::other)?;
        let source = File::open(path)?;
        let before = source.metadata()?;
        let copy = File::from(super::memfd(&label)?);
        let mut len = before.len();
        super::set_file_len(&copy, usize::try_from(len).map_err(io::Error::other)?)?;
        let contents = Contents::map(&copy, usize::try_from(len).map_err(io::Error::other)?)?;
        let mut held = Held {
            ranges: Vec::new(),
            len,
        };
        let first = if watched() { len } else { HEAD };
        held.fetch(&source, &copy, whole_pages(std::iter::once(0..first), len))?;
        let mut rounds = 0;
        loop {
            len = held.len;
            let readable = &contents[..usize::try_from(len).map_err(io::Error::other)?];
            let wanted = match crate::elf::read_by_loader(readable) {
                Some(ranges) if rounds < ROUNDS => whole_pages(ranges, len),
                _ => all(len),
            };
            if missing(&wanted, &held.ranges).is_empty() {
                break;
            }
            held.fetch(&source, &copy, wanted)?;
            rounds += 1;
        }
        let after = std::fs::metadata(path)?;
        let len_in_memory = usize::try_from(len).map_err(io::Error::other)?;
        let contents = if len_in_memory == contents.len {
            contents
        } else {
            drop(contents);
            Contents::map(&copy, len_in_memory)?
        };
        let path = PathBuf::from(format!("/proc/self/fd/{}", copy.as_raw_fd()));
        let unmapped = Arc::new(Unmapped {
            copy,
            ranges: missing(&all(len), &held.ranges),
            state: AtomicU8::new(PENDING),
        });
        Ok(Copied {
            copy: LibraryCopy {
                path,
                unmapped: Arc::clone(&unmapped),
            },
            rest: Rest {
                source,
                stamp: FileStamp::of(&before),
                unmapped,
            },
            before,
            after,
            contents,
        })
    }

    /// The name to `dlopen`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Nothing to do once the library is open: the memfd goes with its
    /// last descriptor and mapping.
    pub(crate) fn opened(&self) {}

    /// Gives back the memory of the parts the loader did not map (debug
    /// information, the symbol table), once this version is no longer
    /// current: a kept version costs what it mapped, and backtraces through
    /// it name fewer functions.
    /// On the background thread, as giving back thousands of pages takes
    /// milliseconds that no reload should wait for.
    pub(crate) fn shed_unmapped(&self) {
        if self.unmapped.ranges.is_empty() || self.unmapped.state.load(Ordering::Acquire) == SHED {
            return;
        }
        let unmapped = Arc::clone(&self.unmapped);
        crate::background::run_or_here(Box::new(move || unmapped.shed()));
    }

    /// Whether a library opened from this copy is still loaded (`dlclose`
    /// leaves a library loaded while it is pinned, e.g. by a thread-local
    /// destructor it registered).
    pub(crate) fn is_loaded(&self) -> bool {
        let Ok(path) = CString::new(self.path.as_os_str().as_encoded_bytes()) else {
            return false;
        };
        // SAFETY: RTLD_NOLOAD never loads anything (no constructor runs); it
        // returns a handle, which is closed at once, only for a library that
        // is already loaded.
        unsafe {
            let handle = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD);
            if handle.is_null() {
                return false;
            }
            libc::dlclose(handle);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file with debug information (this test binary), copied into a
    /// directory of test `test`'s own.
    fn a_file_with_debug_information(test: &str) -> (PathBuf, Vec<u8>) {
        let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let path = crate::test_support::scratch(test).join("lib.so");
        std::fs::write(&path, &bytes).unwrap();
        (path, bytes)
    }

    /// The bytes of `contents` in `ranges`, and the file's bytes there.
    fn compare(contents: &[u8], file: &[u8], ranges: &[Range<u64>]) -> bool {
        ranges.iter().all(|range| {
            let range = range.start as usize..range.end as usize;
            contents[range.clone()] == file[range]
        })
    }

    #[test]
    fn what_the_loader_reads_is_copied_at_once_and_the_rest_when_filled() {
        let (path, bytes) = a_file_with_debug_information("copy-rest-filled");
        let copied = LibraryCopy::of_file("test", 1, &path).unwrap();
        assert_eq!(copied.contents.len(), bytes.len());
        let read = crate::elf::read_by_loader(&bytes).unwrap();
        assert!(compare(&copied.contents, &bytes, &read));
        if watched() {
            assert!(copied.rest.is_empty(), "a watched process copies whole");
            return;
        }
        let rest = copied.rest.unmapped.ranges.clone();
        let left: u64 = rest.iter().map(|range| range.end - range.start).sum();
        assert!(
            left > bytes.len() as u64 / 2,
            "{left} of {} bytes left for later",
            bytes.len()
        );
        assert!(!compare(&copied.contents, &bytes, &rest), "not copied yet");
        copied.rest.fill();
        assert!(*copied.contents == *bytes, "the copy is complete");
    }

    #[test]
    fn a_rest_is_left_as_zeros_when_its_file_was_written_since_the_copy_began() {
        let (path, bytes) = a_file_with_debug_information("copy-rest-zeroed");
        let copied = LibraryCopy::of_file("test", 2, &path).unwrap();
        if watched() {
            return;
        }
        let rest = copied.rest.unmapped.ranges.clone();
        let first = rest[0].clone();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&file, b"another build", first.start).unwrap();
        drop(file);
        copied.rest.fill();
        let zeros = rest.iter().all(|range| {
            copied.contents[range.start as usize..range.end as usize]
                .iter()
                .all(|byte| *byte == 0)
        });
        assert!(zeros, "the rest holds another build's bytes");
        let read = crate::elf::read_by_loader(&bytes).unwrap();
        assert!(
            compare(&copied.contents, &bytes, &read),
            "what was loaded stays"
        );
    }

    #[test]
    fn bytes_that_are_no_library_are_copied_whole_at_once() {
        let path = crate::test_support::scratch("copy-no-library").join("lib.so");
        let bytes: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let copied = LibraryCopy::of_file("test", 3, &path).unwrap();
        assert!(copied.rest.is_empty());
        assert!(*copied.contents == *bytes);
    }

    /// How many bytes of memory the copy behind `copy` holds.
    fn held_bytes(copy: &LibraryCopy) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(copy.path()).unwrap().blocks() * 512
    }

    #[test]
    fn a_replaced_versions_unmapped_parts_are_given_back_and_never_filled_again() {
        let (path, bytes) = a_file_with_debug_information("copy-rest-shed");
        let filled = LibraryCopy::of_file("test", 4, &path).unwrap();
        if watched() {
            return;
        }
        let rest = filled.rest.unmapped.ranges.clone();
        let left: u64 = rest.iter().map(|range| range.end - range.start).sum();
        let Copied {
            copy, rest: filler, ..
        } = filled;
        filler.fill();
        let whole = held_bytes(&copy);
        copy.shed_unmapped();
        // Given back on the background thread.
        let asked = std::time::Instant::now();
        while held_bytes(&copy) > whole - left / 2 {
            assert!(
                asked.elapsed() < std::time::Duration::from_secs(10),
                "{} of {whole} bytes still held after giving back {left}",
                held_bytes(&copy)
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let read = crate::elf::read_by_loader(&bytes).unwrap();
        let mapped = Contents::map(&copy.unmapped.copy, bytes.len()).unwrap();
        assert!(
            compare(&mapped, &bytes, &read),
            "what the loader maps stays"
        );

        // Given back before its fill ran: the fill copies nothing.
        let early = LibraryCopy::of_file("test", 5, &path).unwrap();
        let Copied {
            copy, rest: filler, ..
        } = early;
        let before = held_bytes(&copy);
        copy.unmapped.shed();
        filler.fill();
        assert_eq!(held_bytes(&copy), before, "nothing was filled in");
    }

    #[test]
    fn ranges_grow_to_whole_pages_and_merge_and_what_is_missing_is_found() {
        let page = super::super::page_size() as u64;
        let len = 10 * page;
        assert_eq!(
            whole_pages([1..2, page + 5..page + 6, 9 * page + 1..20 * page], len),
            vec![0..2 * page, 9 * page..len]
        );
        assert_eq!(
            whole_pages(std::iter::once(3 * page..3 * page), len),
            vec![]
        );
        assert_eq!(
            missing(&all(100), &[10..20, 30..40]),
            vec![0..10, 20..30, 40..100]
        );
        assert_eq!(missing(&all(100), &all(100)), vec![]);
        let wanted: Vec<_> = std::iter::once(50..60).collect();
        let partly: Vec<_> = std::iter::once(55..58).collect();
        assert_eq!(missing(&wanted, &[0..55, 58..70]), partly);
    }
}
