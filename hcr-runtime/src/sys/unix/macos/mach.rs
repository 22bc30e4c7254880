//! The few Mach and dyld calls the runtime makes, declared here from
//! their headers (`<mach/vm_map.h>`, `<mach-o/dyld.h>`): stable C
//! interfaces of libSystem.

use std::ffi::{c_char, c_int, c_uint};

/// A Mach port name (`mach_port_t`).
pub(super) type Port = c_uint;

/// `KERN_SUCCESS`.
pub(super) const KERN_SUCCESS: c_int = 0;
/// `VM_FLAGS_FIXED`: at the address given.
pub(super) const VM_FLAGS_FIXED: c_int = 0;
/// `VM_FLAGS_OVERWRITE`: replacing what is mapped there.
pub(super) const VM_FLAGS_OVERWRITE: c_int = 0x4000;
/// `VM_INHERIT_SHARE`: a forked child maps the same pages.
pub(super) const VM_INHERIT_SHARE: c_uint = 0;

unsafe extern "C" {
    /// The task's own port, which `mach_task_self()` reads.
    static mach_task_self_: Port;

    pub(super) fn vm_remap(
        target_task: Port,
        target_address: *mut usize,
        size: usize,
        mask: usize,
        flags: c_int,
        src_task: Port,
        src_address: usize,
        copy: c_uint,
        cur_protection: *mut c_int,
        max_protection: *mut c_int,
        inheritance: c_uint,
    ) -> c_int;

    pub(super) fn _dyld_image_count() -> u32;
    pub(super) fn _dyld_get_image_name(index: u32) -> *const c_char;
    pub(super) fn _dyld_get_image_header(index: u32) -> *const u8;
    pub(super) fn _dyld_get_image_vmaddr_slide(index: u32) -> isize;
}

/// This task's port (`mach_task_self()`, a macro in C).
pub(super) fn task_self() -> Port {
    // SAFETY: libSystem sets `mach_task_self_` before any code of this
    // library runs, and never changes it.
    unsafe { mach_task_self_ }
}
