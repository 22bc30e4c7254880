//! Operating-system primitives, selected once here so that callers never
//! write `cfg(target_os)`.

#[cfg(unix)]
pub(crate) mod copy;
pub(crate) mod icache;
#[cfg(unix)]
pub(crate) mod objects;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) mod unwind;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(not(unix))]
compile_error!("hcr-runtime supports Unix-like systems only (it needs mmap and memfd)");
