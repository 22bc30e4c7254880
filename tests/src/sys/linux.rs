//! Linux: the runtime's copies are memfds, mappings are listed in
//! `/proc/self/maps`, libraries are ELF files.

/// What the runtime says of bytes that are no library at all.
pub const NOT_A_LIBRARY: &str = "not an ELF file";

/// `library` with its header naming another machine (ARM, or x86_64 on
/// ARM) and the name of that machine as the runtime says it.
pub fn for_another_machine(library: &[u8]) -> (Vec<u8>, &'static str) {
    let mut bytes = library.to_vec();
    let (machine, name) = if cfg!(target_arch = "arm") {
        (62u16, "x86_64")
    } else {
        (40u16, "ARM")
    };
    bytes[18..20].copy_from_slice(&machine.to_le_bytes()); // e_machine
    (bytes, name)
}

/// How the names of module `module`'s copies start (`lib<module>.<load>.so`).
pub fn copy_prefix(module: &str) -> String {
    format!("lib{module}.")
}

/// Names of the runtime's in-memory library copies open in this process:
/// its memfds, `memfd:hcr:<name>` in `/proc/self/fd`.
pub fn copy_names() -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        if let Some(name) = target.strip_prefix("/memfd:hcr:") {
            names.push(name.trim_end_matches(" (deleted)").to_owned());
        }
    }
    names.sort();
    names
}

/// Every mapping of this process that is writable and executable at once,
/// as `/proc/self/maps` shows it.
pub fn writable_and_executable() -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|line| {
            line.split_whitespace()
                .nth(1)
                .is_some_and(|perms| perms.starts_with("rwx"))
        })
        .map(str::to_owned)
        .collect()
}

/// Whether this process runs under valgrind (its preloaded helper is
/// mapped), where W^X and memory figures describe valgrind, not hcr.
pub fn under_valgrind() -> bool {
    std::fs::read_to_string("/proc/self/maps").is_ok_and(|maps| maps.contains("vgpreload"))
}

/// How many mappings of the runtime's library copies this process has
/// (lines of `/proc/self/maps`: one per segment of each copy).
pub fn mapped_copies() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|line| line.contains("memfd:hcr:"))
        .count()
}

/// Resident memory of this process, in KiB.
pub fn resident_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page / 1024
}

/// Maps `len` bytes of readable, writable memory at exactly `address`
/// (which must be free) and returns it; `None` when something is there.
pub fn occupy(address: usize, len: usize) -> Option<*mut u8> {
    // SAFETY: an anonymous mapping at a free address (MAP_FIXED_NOREPLACE
    // replaces nothing); it is the caller's from now on.
    let mapped = unsafe {
        libc::mmap(
            address as *mut libc::c_void,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    (mapped as usize == address).then_some(mapped.cast())
}
