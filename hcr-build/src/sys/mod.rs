//! What differs by the system `cargo hcr` itself runs on, selected once
//! here so that nothing else names a system.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub(crate) use windows::*;
