//! Tells whether a module's library file changed since it was loaded, for
//! the cost of a `stat`.
//!
//! A file is judged by its stamp (`sys::FileStamp`: device, inode, size,
//! nanosecond mtime and ctime on Linux; size, creation and last-write
//! times on Windows). Another stamp with another size is a change. Another
//! stamp with the same size may be a touch, so the contents are hashed,
//! once for that stamp. An equal stamp is no change, with one exception:
//! file timestamps move only once per clock tick (a jiffy on Linux, two
//! seconds on FAT), so a rewrite in place within the tick of the write
//! that was read leaves every part of the stamp equal. An identity taken
//! while its file was fresh (changed less than [`SETTLE_WINDOW`] before)
//! is therefore settled once the window has passed: its contents are
//! hashed once more and compared. From then on a `stat` is enough.
//!
//! Change checks never read on the calling thread unless asked to
//! ([`Reading::Now`], for a reload): a hash is computed by one thread of
//! the process's, so that a host checking every frame never waits for a
//! read. On Windows, where a file open for reading cannot be replaced
//! (the build's rename would fail), the thread that asks reads instead.
//! Until the hash is known, a same-size file with new timestamps counts
//! as changed: a reload compares it, and loads nothing for a touch.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use crate::sys::FileStamp;

/// How long after its last change a file's stamp may still be left equal
/// by a rewrite in place.
pub(crate) const SETTLE_WINDOW: Duration = Duration::from_secs(2);

/// Identity of one version of a library file.
#[derive(Debug, Clone)]
pub(crate) struct FileIdentity {
    stamp: FileStamp,
    content_hash: u64,
    settle: Settle,
    /// What is known of the last other stamp of the same size the file
    /// showed: its contents differ, or are being hashed.
    other: Option<(FileStamp, Hash)>,
    window: Duration,
}

/// Whether the stamp alone tells that the file is unchanged.
#[derive(Debug, Clone)]
enum Settle {
    /// It does.
    Done,
    /// Not yet: the contents are hashed once the file is `not_before`.
    Pending { not_before: SystemTime },
    /// They are being hashed.
    Hashing(Background),
    /// The contents differ under the same stamp.
    Differs,
}

/// What a hash of a file's contents came to.
#[derive(Debug, Clone)]
enum Hash {
    /// Known: the contents differ from this identity's.
    Differs,
    /// Being computed.
    Hashing(Background),
}

/// A hash of a file's contents computed on the process's background thread.
#[derive(Debug, Clone)]
struct Background {
    /// `None` when the file could not be read as it was at the stamp.
    result: Arc<OnceLock<Option<u64>>>,
    /// The process that started it (a forked child has no such thread).
    pid: u32,
}

impl Background {
    /// Hashes the file at `path` as it is at `stamp`, on the process's
    /// background thread, if a job can be queued there.
    fn start(path: &Path, stamp: FileStamp) -> Option<Background> {
        if crate::sys::READING_BLOCKS_REPLACING {
            // A read on another thread could fail a build's rename at any
            // time; the thread that asks reads, when it asks.
            let result = Arc::new(OnceLock::from(hash_at(path, stamp)));
            return Some(Background {
                result,
                pid: std::process::id(),
            });
        }
        let result = Arc::new(OnceLock::new());
        let slot = Arc::clone(&result);
        let (path, pid) = (path.to_owned(), std::process::id());
        // Busy, no hash starts now: a same-size stamp is asked for again at
        // the next check, a settle a window later.
        crate::background::run(Box::new(move || {
            let _ = slot.set(hash_at(&path, stamp));
        }))
        .ok()?;
        Some(Background { result, pid })
    }

    /// The result, once there is one; `Some(None)` also when its thread
    /// is gone (in a forked child) without one.
    fn result(&self) -> Option<Option<u64>> {
        match self.result.get() {
            Some(result) => Some(*result),
            None if self.pid != std::process::id() => Some(None),
            None => None,
        }
    }
}

/// How a check may learn a file's contents when it must.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reading {
    /// On the background thread: the check costs the caller a `stat`, and
    /// answers "changed" until the hash is known (a few milliseconds
    /// later; then "unchanged" for a touch).
    InBackground,
    /// Now, on the calling thread: the check answers at once.
    Now,
}

/// A content hash for change detection (not for security): XXH3, which
/// hashes a debug build's megabytes in a fraction of a millisecond.
pub(crate) fn content_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// How many hashes [`recent_hash_at`] remembers.
const REMEMBERED: usize = 32;

/// The last hashes read, with the file and the stamp they were read at.
static RECENT: Mutex<Vec<(PathBuf, FileStamp, u64)>> = Mutex::new(Vec::new());

/// [`hash_at`], unless the file is fresh and a hash of it at `stamp` was
/// read lately: a reload that compared a rebuilt library's contents, and
/// the load that follows, read it once. Only a fresh file's hash is taken
/// from memory: a rewrite within one clock tick keeps the stamp, and the
/// identity of a fresh file is settled later from a read of its own.
pub(crate) fn recent_hash_at(path: &Path, stamp: FileStamp) -> Option<u64> {
    recent_hash_within(path, stamp, SETTLE_WINDOW)
}

/// [`recent_hash_at`] with a settle window of `window`.
fn recent_hash_within(path: &Path, stamp: FileStamp, window: Duration) -> Option<u64> {
    // Half a window's margin, so that the identity made from the hash is
    // still unsettled.
    let fresh = SystemTime::now() + window / 2 < settles_at(&stamp, window);
    let remembered = fresh
        .then(|| RECENT.try_lock().ok())
        .flatten()
        .and_then(|recent| {
            recent
                .iter()
                .find(|(file, at, _)| *at == stamp && file == path)
                .map(|(_, _, hash)| *hash)
        });
    remembered.or_else(|| hash_at(path, stamp))
}

/// The hash of the file at `path` (as [`content_hash`] of its bytes) if it
/// holds the state `stamp` describes throughout the read. Read in pieces
/// through one small buffer, so that no copy of the file is made.
pub(crate) fn hash_at(path: &Path, stamp: FileStamp) -> Option<u64> {
    let hash = read_hash(path, stamp)?;
    // Never waited for: a child forked while another thread held it would
    // wait forever.
    if let Ok(mut recent) = RECENT.try_lock() {
        if recent.len() == REMEMBERED {
            recent.remove(0);
        }
        recent.push((path.to_owned(), stamp, hash));
    }
    Some(hash)
}

/// [`hash_at`], without remembering it.
fn read_hash(path: &Path, stamp: FileStamp) -> Option<u64> {
    #[cfg(test)]
    tests::note_read(path);
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        match std::io::Read::read(&mut file, &mut buffer) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buffer[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let after = std::fs::metadata(path).ok()?;
    (FileStamp::of(&after) == stamp).then(|| hasher.digest())
}

/// When the file `stamp` describes stops being fresh.
fn settles_at(stamp: &FileStamp, window: Duration) -> SystemTime {
    let changed = stamp.changed_ns().max(0) as u128;
    let at = Duration::from_nanos((changed + window.as_nanos()).min(u64::MAX as u128) as u64);
    SystemTime::UNIX_EPOCH + at
}

impl FileIdentity {
    /// Whether two `stat`s of a file, taken around a read, show the same
    /// file in the same state (no write landed in between, as far as the
    /// timestamps' resolution can tell).
    pub(crate) fn same_file_state(before: &std::fs::Metadata, after: &std::fs::Metadata) -> bool {
        FileStamp::of(before) == FileStamp::of(after)
    }

    /// Identity of a version whose bytes, of [`content_hash`]
    /// `content_hash`, were read right after `meta` was taken.
    pub(crate) fn new(meta: &std::fs::Metadata, content_hash: u64) -> Self {
        Self::with_window(meta, content_hash, SETTLE_WINDOW)
    }

    fn with_window(meta: &std::fs::Metadata, content_hash: u64, window: Duration) -> Self {
        let stamp = FileStamp::of(meta);
        FileIdentity {
            stamp,
            content_hash,
            settle: Self::settle_for(&stamp, window),
            other: None,
            window,
        }
    }

    fn settle_for(stamp: &FileStamp, window: Duration) -> Settle {
        let not_before = settles_at(stamp, window);
        if SystemTime::now() >= not_before {
            Settle::Done
        } else {
            Settle::Pending { not_before }
        }
    }

    /// The hash of the contents this identity was taken from.
    pub(crate) fn content_hash(&self) -> u64 {
        self.content_hash
    }

    /// Whether the file at `path` now holds other contents than this
    /// version. A missing or unreadable file counts as unchanged: there is
    /// nothing to load yet (a build may be replacing it). Costs a `stat`;
    /// the contents are read at most once for each stamp the file shows,
    /// as `reading` says, and to settle a fresh identity only ever in the
    /// background.
    pub(crate) fn changed(&mut self, path: &Path, reading: Reading) -> bool {
        let Ok(meta) = std::fs::metadata(path) else {
            return false;
        };
        let now = FileStamp::of(&meta);
        if now != self.stamp {
            return self.changed_to(path, now, reading);
        }
        match &self.settle {
            Settle::Done => false,
            Settle::Differs => true,
            Settle::Pending { not_before } => {
                if SystemTime::now() >= *not_before {
                    self.settle = match Background::start(path, self.stamp) {
                        Some(hashing) => Settle::Hashing(hashing),
                        None => self.pending_again(),
                    };
                }
                false
            }
            Settle::Hashing(hashing) => match hashing.result() {
                Some(Some(hash)) if hash == self.content_hash => {
                    self.settle = Settle::Done;
                    false
                }
                Some(Some(_)) => {
                    self.settle = Settle::Differs;
                    true
                }
                // Not read as it was at the stamp: try again a window
                // later (a file that changes shows another stamp).
                Some(None) => {
                    self.settle = self.pending_again();
                    false
                }
                None => false,
            },
        }
    }

    fn pending_again(&self) -> Settle {
        Settle::Pending {
            not_before: SystemTime::now() + self.window,
        }
    }

    /// [`changed`](Self::changed) for a file that shows stamp `now`, not
    /// this identity's.
    fn changed_to(&mut self, path: &Path, now: FileStamp, reading: Reading) -> bool {
        if now.len() != self.stamp.len() {
            return true;
        }
        // The same size: a touch, or new contents. One hash tells.
        let known = match &self.other {
            Some((stamp, Hash::Differs)) if *stamp == now => return true,
            Some((stamp, Hash::Hashing(hashing))) if *stamp == now => hashing.result(),
            _ => None,
        };
        let hash = match (known, reading) {
            (Some(hash), _) => hash,
            (None, Reading::Now) => recent_hash_at(path, now),
            (None, Reading::InBackground) => {
                // Until the hash says it was a touch, a change: a reload
                // that compares finds nothing to load, where an answer of
                // "unchanged" would leave a host that asks once waiting.
                let running = matches!(&self.other, Some((stamp, _)) if *stamp == now);
                if !running {
                    self.other = Background::start(path, now).map(|h| (now, Hash::Hashing(h)));
                }
                return true;
            }
        };
        match hash {
            Some(hash) if hash == self.content_hash => {
                self.stamp = now;
                self.settle = Self::settle_for(&now, self.window);
                self.other = None;
                false
            }
            Some(_) => {
                self.other = Some((now, Hash::Differs));
                true
            }
            // Being written: no verdict until it shows a steady stamp.
            None => {
                self.other = None;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Mutex;

    use super::*;

    /// Every path whose contents an identity read, in order.
    static READS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

    pub(super) fn note_read(path: &Path) {
        READS.lock().unwrap().push(path.to_owned());
    }

    fn reads_of(path: &Path) -> usize {
        READS.lock().unwrap().iter().filter(|p| *p == path).count()
    }

    fn scratch(test: &str) -> PathBuf {
        crate::test_support::scratch(&format!("identity-{test}"))
    }

    fn identity_of(path: &Path, window: Duration) -> FileIdentity {
        let meta = std::fs::metadata(path).unwrap();
        let hash = content_hash(&std::fs::read(path).unwrap());
        FileIdentity::with_window(&meta, hash, window)
    }

    /// Checks `path` every millisecond until `identity` says it changed,
    /// or `limit` has passed.
    fn seen_within(identity: &mut FileIdentity, path: &Path, limit: Duration) -> bool {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if identity.changed(path, Reading::InBackground) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    #[test]
    fn a_same_size_rewrite_in_place_within_one_tick_is_seen() {
        let dir = scratch("same-tick");
        let path = dir.join("lib.so");
        std::fs::write(&path, b"version-1").unwrap();
        let mut identity = identity_of(&path, Duration::from_millis(50));
        std::fs::write(&path, b"version-2").unwrap();
        assert!(seen_within(&mut identity, &path, Duration::from_secs(5)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn contents_that_differ_under_an_equal_stamp_are_seen_once_the_window_passed() {
        // Whether a rewrite lands within the tick is the system's to
        // decide; an identity taken from other bytes than the file holds
        // under the same stamp is that case, every time.
        let dir = scratch("kept-stamp");
        let path = dir.join("lib.so");
        std::fs::write(&path, b"version-2").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let mut identity = FileIdentity::with_window(
            &meta,
            content_hash(b"version-1"),
            Duration::from_millis(100),
        );
        assert!(
            !identity.changed(&path, Reading::InBackground),
            "within the window the stamp is all"
        );
        assert!(seen_within(&mut identity, &path, Duration::from_secs(5)));
        assert!(
            identity.changed(&path, Reading::InBackground),
            "and it stays changed"
        );
        assert_eq!(reads_of(&path), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_touch_without_new_contents_is_not_a_change() {
        let dir = scratch("touch");
        let path = dir.join("lib.so");
        std::fs::write(&path, b"same").unwrap();
        let mut identity = identity_of(&path, Duration::from_millis(20));
        std::thread::sleep(Duration::from_millis(30));
        std::fs::write(&path, b"same").unwrap();
        // Compared now: no change.
        assert!(!identity.clone().changed(&path, Reading::Now));
        // Compared in the background: a change until the hash says
        // otherwise, then never again.
        let started = std::time::Instant::now();
        while identity.changed(&path, Reading::InBackground) {
            assert!(started.elapsed() < Duration::from_secs(5), "never compared");
            std::thread::sleep(Duration::from_millis(1));
        }
        for _ in 0..100 {
            assert!(!identity.changed(&path, Reading::InBackground));
        }
        assert!(!identity.changed(&dir.join("missing.so"), Reading::Now));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_size_is_a_change_without_a_read() {
        let dir = scratch("size");
        let path = dir.join("lib.so");
        std::fs::write(&path, b"version-1").unwrap();
        let mut identity = identity_of(&path, Duration::from_secs(60));
        std::fs::write(&path, b"version-two").unwrap();
        assert!(identity.changed(&path, Reading::InBackground));
        assert_eq!(reads_of(&path), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_is_read_at_most_once_per_version_however_often_it_is_checked() {
        let dir = scratch("reads");
        let path = dir.join("lib.so");
        std::fs::write(&path, vec![1u8; 1 << 16]).unwrap();
        let mut identity = identity_of(&path, Duration::from_millis(50));
        // Fresh, then settled by one read on another thread.
        assert!(!seen_within(
            &mut identity,
            &path,
            Duration::from_millis(300)
        ));
        assert!(
            matches!(identity.settle, Settle::Done),
            "{:?}",
            identity.settle
        );
        assert_eq!(reads_of(&path), 1, "settling read the file once");
        for _ in 0..1000 {
            assert!(!identity.changed(&path, Reading::InBackground));
        }
        assert_eq!(reads_of(&path), 1, "a settled identity costs a stat");
        // A same-size change is a change at once, hashed once in the
        // background to be sure; the checks meanwhile cost a stat.
        std::fs::write(&path, vec![2u8; 1 << 16]).unwrap();
        let started = std::time::Instant::now();
        while !matches!(identity.other, Some((_, Hash::Differs))) {
            assert!(identity.changed(&path, Reading::InBackground));
            assert!(started.elapsed() < Duration::from_secs(5), "never hashed");
            std::thread::sleep(Duration::from_millis(1));
        }
        for _ in 0..1000 {
            assert!(identity.changed(&path, Reading::InBackground));
        }
        assert_eq!(reads_of(&path), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_check_that_must_answer_now_reads_on_the_calling_thread() {
        let dir = scratch("now");
        let path = dir.join("lib.so");
        std::fs::write(&path, b"version-1").unwrap();
        let mut identity = identity_of(&path, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"version-2").unwrap();
        assert!(
            identity.changed(&path, Reading::Now),
            "same size, new contents"
        );
        assert_eq!(reads_of(&path), 1);
        assert!(
            identity.changed(&path, Reading::InBackground),
            "known since"
        );
        assert_eq!(reads_of(&path), 1);
        // A touch, answered now, is no change.
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"version-1").unwrap();
        assert!(!identity.changed(&path, Reading::Now));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_fresh_files_hash_is_read_once_for_a_compare_and_the_load_after_it() {
        let dir = scratch("recent");
        let path = dir.join("lib.so");
        std::fs::write(&path, b"version-1").unwrap();
        let stamp = FileStamp::of(&std::fs::metadata(&path).unwrap());
        let hash = hash_at(&path, stamp);
        assert_eq!(hash, Some(content_hash(b"version-1")));
        assert_eq!(recent_hash_at(&path, stamp), hash);
        assert_eq!(reads_of(&path), 1, "the fresh file's hash was remembered");
        // Once the file is no longer fresh, a hash is read again.
        let window = Duration::from_millis(100);
        std::thread::sleep(window);
        assert_eq!(recent_hash_within(&path, stamp, window), hash);
        assert_eq!(reads_of(&path), 2);
        assert_eq!(recent_hash_within(&path, stamp, window), hash);
        assert_eq!(reads_of(&path), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
