//! The per-OS half of the check: what is wrong with one path, if anything.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::problem;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::problem;
