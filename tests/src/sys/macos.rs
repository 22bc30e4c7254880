//! macOS: the runtime's copies are files in a directory of the process's
//! (removed once loaded: dyld's list of images names them), mappings are
//! listed by `mach_vm_region`, libraries are Mach-O files.

use std::ffi::{CStr, c_char, c_int, c_uint};

/// What the runtime says of bytes that are no library at all.
pub const NOT_A_LIBRARY: &str = "not a Mach-O file";

/// `library` with its header naming the other Apple CPU, and that CPU's
/// name as the runtime says it.
pub fn for_another_machine(library: &[u8]) -> (Vec<u8>, &'static str) {
    let mut bytes = library.to_vec();
    let (cpu, name) = if cfg!(target_arch = "aarch64") {
        (0x0100_0007u32, "x86_64")
    } else {
        (0x0100_000cu32, "arm64")
    };
    bytes[4..8].copy_from_slice(&cpu.to_le_bytes()); // cputype
    (bytes, name)
}

/// How the names of module `module`'s copies start (`<module>.<load>.dylib`).
pub fn copy_prefix(module: &str) -> String {
    format!("{module}.")
}

unsafe extern "C" {
    fn _dyld_image_count() -> u32;
    fn _dyld_get_image_name(index: u32) -> *const c_char;
    static mach_task_self_: c_uint;
    fn mach_vm_region(
        task: c_uint,
        address: *mut u64,
        size: *mut u64,
        flavor: c_int,
        info: *mut c_int,
        count: *mut c_uint,
        object_name: *mut c_uint,
    ) -> c_int;
}

/// Names of the runtime's library copies loaded in this process: images
/// dyld loaded from this process's directory of copies
/// (`$TMPDIR/hcr-copies/<pid>-<start time>`).
pub fn copy_names() -> Vec<String> {
    // The real path, as dyld names images (the runtime's copies go there).
    let dir = std::env::temp_dir().join("hcr-copies");
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let mine = format!("{}-", std::process::id());
    let mut names = Vec::new();
    // SAFETY: dyld's image list may be read at any time; each name is a
    // NUL-terminated string while its image stays loaded.
    unsafe {
        for index in 0.._dyld_image_count() {
            let name = _dyld_get_image_name(index);
            if name.is_null() {
                continue;
            }
            let path = std::path::PathBuf::from(CStr::from_ptr(name).to_string_lossy().as_ref());
            let Ok(rest) = path.strip_prefix(&dir) else {
                continue;
            };
            let mut parts = rest.iter();
            if let (Some(process), Some(file)) = (parts.next(), parts.next())
                && process.to_string_lossy().starts_with(&mine)
            {
                names.push(file.to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    names
}

/// Every region of this process that is writable and executable at once,
/// as `mach_vm_region` describes them.
pub fn writable_and_executable() -> Vec<String> {
    const VM_REGION_BASIC_INFO_64: c_int = 9;
    const INFO_WORDS: c_uint = 9; // sizeof(vm_region_basic_info_data_64_t) / sizeof(int)
    let (write, execute) = (0x2, 0x4);
    let mut found = Vec::new();
    let mut address = 0u64;
    loop {
        let (mut size, mut info, mut count, mut object) = (0u64, [0 as c_int; 9], INFO_WORDS, 0);
        // SAFETY: the kernel describes the region at or after `address`
        // into `info`, which holds `count` ints.
        let status = unsafe {
            mach_vm_region(
                mach_task_self_,
                &mut address,
                &mut size,
                VM_REGION_BASIC_INFO_64,
                info.as_mut_ptr(),
                &mut count,
                &mut object,
            )
        };
        if status != 0 {
            break;
        }
        // vm_region_basic_info_64: protection is its first field.
        if info[0] & (write | execute) == write | execute {
            found.push(format!("{address:#x}-{:#x} rwx", address + size));
        }
        address += size;
    }
    found
}

/// valgrind does not run on current macOS.
pub fn under_valgrind() -> bool {
    false
}

/// How many of the runtime's library copies this process has loaded.
pub fn mapped_copies() -> usize {
    copy_names().len()
}

/// Resident memory of this process, in KiB.
pub fn resident_kib() -> u64 {
    // SAFETY: an all-zero proc_taskinfo is a valid value to be overwritten.
    let mut info: libc::proc_taskinfo = unsafe { std::mem::zeroed() };
    let size = size_of::<libc::proc_taskinfo>() as c_int;
    // SAFETY: proc_pidinfo writes at most `size` bytes into `info`.
    let got = unsafe {
        libc::proc_pidinfo(
            std::process::id() as c_int,
            libc::PROC_PIDTASKINFO,
            0,
            (&raw mut info).cast(),
            size,
        )
    };
    assert_eq!(got, size, "proc_pidinfo(PROC_PIDTASKINFO)");
    info.pti_resident_size / 1024
}

/// Maps `len` bytes of readable, writable memory at exactly `address`
/// (which must be free) and returns it; `None` when something is there.
pub fn occupy(address: usize, len: usize) -> Option<*mut u8> {
    // SAFETY: an anonymous mapping with the address as a hint replaces
    // nothing; it is the caller's from now on, or unmapped at once.
    let mapped = unsafe {
        libc::mmap(
            address as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANON,
            -1,
            0,
        )
    };
    if mapped == libc::MAP_FAILED {
        return None;
    }
    if mapped as usize != address {
        // SAFETY: mapped just above and handed to no one.
        unsafe { libc::munmap(mapped, len) };
        return None;
    }
    Some(mapped.cast())
}
