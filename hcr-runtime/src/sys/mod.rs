//! Operating-system primitives, selected once here so that callers never
//! write `cfg(target_os)`.

pub(crate) mod icache;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub(crate) use unix::*;

#[cfg(not(unix))]
compile_error!("hcr-runtime supports Unix-like systems only (it needs mmap and memfd)");
