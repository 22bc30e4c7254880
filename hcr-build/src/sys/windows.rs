//! Windows.

/// Cargo prints the commands it runs for `cmd`, which `direct::Capture`
/// does not read: every module build goes through cargo.
pub(crate) const CARGO_COMMANDS_READABLE: bool = false;

/// Not told here yet.
pub(crate) fn process_is_running(_pid: u64) -> Option<bool> {
    None
}
