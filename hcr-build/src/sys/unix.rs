//! Unix systems.

use std::path::Path;

/// Cargo prints the commands it runs (`-vv`) for a POSIX shell, which
/// `direct::Capture` reads.
pub(crate) const CARGO_COMMANDS_READABLE: bool = true;

/// Whether process `pid` of this system runs, where `/proc` tells.
pub(crate) fn process_is_running(pid: u64) -> Option<bool> {
    Path::new("/proc/self")
        .exists()
        .then(|| Path::new(&format!("/proc/{pid}")).exists())
}
