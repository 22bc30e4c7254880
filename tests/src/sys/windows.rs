//! Windows: processes end by exit codes (an abort is exit code 3), the
//! runtime's copies are files in its per-process directory, and memory
//! is listed with `VirtualQuery`.

use std::process::{Command, ExitStatus};

use windows_sys::Win32::Foundation::FILETIME;
use windows_sys::Win32::System::Memory::{
    MEM_COMMIT, MEM_RESERVE, MEMORY_BASIC_INFORMATION, PAGE_EXECUTE_READWRITE,
    PAGE_EXECUTE_WRITECOPY, PAGE_READWRITE, VirtualAlloc, VirtualQuery,
};
use windows_sys::Win32::System::ProcessStatus::{GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessTimes};

use crate::Ending;

/// How a process that aborts ends: Rust's `abort` is a fail-fast here,
/// which ends the process with STATUS_STACK_BUFFER_OVERRUN (0xC0000409).
pub const ABORTED: Ending = Ending::Exit(0xC000_0409_u32 as i32);

/// How a fault nobody catches ends a process: with its exception code,
/// STATUS_ACCESS_VIOLATION.
pub const UNCAUGHT_FAULT: Ending = Ending::Exit(0xC000_0005_u32 as i32);

/// How the crash guard names a read through NULL: the exception, and
/// what was accessed.
pub const NULL_READ: [&str; 2] = ["EXCEPTION_ACCESS_VIOLATION", "reading 0x0"];

/// How the crash guard names an integer division by zero.
pub const DIVISION_BY_ZERO: &str = "EXCEPTION_INT_DIVIDE_BY_ZERO (integer division by zero)";

/// What the runtime says of bytes that are no library at all.
pub const NOT_A_LIBRARY: &str = "not a PE file";

/// `library` with its file header naming another machine (AArch64) and
/// the name of that machine as the runtime says it.
pub fn for_another_machine(library: &[u8]) -> (Vec<u8>, &'static str) {
    let mut bytes = library.to_vec();
    let nt = u32::from_le_bytes(bytes[0x3c..0x40].try_into().unwrap()) as usize;
    bytes[nt + 4..nt + 6].copy_from_slice(&0xaa64u16.to_le_bytes()); // Machine
    (bytes, "AArch64")
}

/// How the names of module `module`'s copies start (`<module>.<load>.dll`).
pub fn copy_prefix(module: &str) -> String {
    format!("{module}.")
}

/// How a process ended: its exit code (`abort` exits with 3 here).
pub fn ending(status: ExitStatus) -> Ending {
    Ending::Exit(status.code().unwrap_or(-1))
}

/// STATUS_DLL_INIT_FAILED: a DLL the process loads at start refused to
/// initialize.
const DLL_INIT_FAILED: i32 = 0xC000_0142_u32 as i32;

/// Why the system failed to start a process that ended with `status`
/// after printing `stdout`, if it did: it ended with
/// STATUS_DLL_INIT_FAILED having printed nothing on stdout, so it never
/// reached the test harness's first line (`running 1 test`), let alone
/// the scenario: the loader failed before any of its code ran.
pub fn did_not_start(status: ExitStatus, stdout: &str) -> Option<String> {
    (status.code() == Some(DLL_INIT_FAILED) && stdout.is_empty()).then(|| {
        "the process ended with STATUS_DLL_INIT_FAILED (0xc0000142) before it printed \
         anything: the system failed to start it"
            .to_owned()
    })
}

/// ERROR_INTERNAL_ERROR: what process creation under wine returns, now
/// and then, when many processes start at once.
const INTERNAL_ERROR: i32 = 1359;

/// Why the system refused to create a process, if the refusal is the
/// system's and not the command's (a missing program, a bad argument):
/// creation failed with ERROR_INTERNAL_ERROR, which says nothing about the
/// program being started.
pub fn system_failed_to_spawn(error: &std::io::Error) -> Option<String> {
    (error.raw_os_error() == Some(INTERNAL_ERROR)).then(|| {
        format!("the system failed to create the process ({error}), before it ran anything")
    })
}

/// Nothing to turn off: Windows writes no core dumps by default.
pub fn no_core_dumps(_command: &mut Command) {}

/// Adds an entry to the access list of `path` that lets the account with
/// SID `sid` (`S-1-1-0`: Everyone) write to it, as `icacls path /grant
/// *sid:W` does.
pub fn grant_write(path: &std::path::Path, sid: &str) {
    use std::os::windows::ffi::OsStrExt;
    use windows_sys::Win32::Foundation::LocalFree;
    use windows_sys::Win32::Security::Authorization::{
        ConvertStringSidToSidW, EXPLICIT_ACCESS_W, GRANT_ACCESS, GetNamedSecurityInfoW,
        SE_FILE_OBJECT, SetEntriesInAclW, SetNamedSecurityInfoW, TRUSTEE_IS_SID,
        TRUSTEE_IS_UNKNOWN, TRUSTEE_W,
    };
    use windows_sys::Win32::Security::{ACL, DACL_SECURITY_INFORMATION, NO_INHERITANCE, PSID};
    let wide = |text: &std::ffi::OsStr| -> Vec<u16> { text.encode_wide().chain([0]).collect() };
    let (path, sid) = (wide(path.as_os_str()), wide(sid.as_ref()));
    // SAFETY: every string is NUL-terminated; every pointer the system
    // allocates is freed with LocalFree after its last use.
    unsafe {
        let mut account: PSID = std::ptr::null_mut();
        assert_ne!(
            ConvertStringSidToSidW(sid.as_ptr(), &mut account),
            0,
            "a SID"
        );
        let (mut old, mut descriptor): (*mut ACL, _) = (std::ptr::null_mut(), std::ptr::null_mut());
        let read = GetNamedSecurityInfoW(
            path.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &mut old,
            std::ptr::null_mut(),
            &mut descriptor,
        );
        assert_eq!(read, 0, "reading the access list");
        let entry = EXPLICIT_ACCESS_W {
            grfAccessPermissions: 0x0012_0116, // FILE_GENERIC_WRITE
            grfAccessMode: GRANT_ACCESS,
            grfInheritance: NO_INHERITANCE,
            Trustee: TRUSTEE_W {
                TrusteeForm: TRUSTEE_IS_SID,
                TrusteeType: TRUSTEE_IS_UNKNOWN,
                ptstrName: account.cast(),
                ..TRUSTEE_W::default()
            },
        };
        let mut new: *mut ACL = std::ptr::null_mut();
        assert_eq!(
            SetEntriesInAclW(1, &entry, old, &mut new),
            0,
            "a new access list"
        );
        let set = SetNamedSecurityInfoW(
            path.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            new,
            std::ptr::null_mut(),
        );
        assert_eq!(set, 0, "writing the access list");
        LocalFree(new.cast());
        LocalFree(descriptor);
        LocalFree(account);
    }
}

/// Windows has no execute permission bit to set.
pub fn make_executable(_path: &std::path::Path) {}

/// Names of this process's library copies, without the part naming the
/// process (`%TEMP%\hcr-copies\<pid>-<creation time>.<module>.<load>.dll`):
/// `<module>.<load>.dll`.
pub fn copy_names() -> Vec<String> {
    let owner = format!("{}-{:x}.", std::process::id(), started_at());
    let mut names: Vec<String> = std::fs::read_dir(std::env::temp_dir().join("hcr-copies"))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    name.strip_prefix(&owner).map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// When this process was created, in 100 ns ticks since 1601.
fn started_at() -> u64 {
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: this process's pseudo-handle; writes only the four times.
    let ok = unsafe {
        GetProcessTimes(
            GetCurrentProcess(),
            &mut created,
            &mut exited,
            &mut kernel,
            &mut user,
        )
    };
    assert_ne!(ok, 0, "GetProcessTimes failed");
    u64::from(created.dwHighDateTime) << 32 | u64::from(created.dwLowDateTime)
}

/// Every committed region of this process that is writable and executable
/// at once, found by walking the address space with `VirtualQuery`.
pub fn writable_and_executable() -> Vec<String> {
    let mut found = Vec::new();
    let mut address = 0usize;
    loop {
        // SAFETY: an all-zero MEMORY_BASIC_INFORMATION is valid to be
        // overwritten; VirtualQuery only describes the region at `address`.
        let mut info: MEMORY_BASIC_INFORMATION = unsafe { std::mem::zeroed() };
        // SAFETY: as above; any address may be asked about.
        let got = unsafe {
            VirtualQuery(
                address as *const std::ffi::c_void,
                &mut info,
                size_of::<MEMORY_BASIC_INFORMATION>(),
            )
        };
        if got == 0 {
            break;
        }
        let writable_and_executable = PAGE_EXECUTE_READWRITE | PAGE_EXECUTE_WRITECOPY;
        if info.State == MEM_COMMIT && info.Protect & writable_and_executable != 0 {
            found.push(format!(
                "{:#x}..{:#x} protection {:#x}",
                info.BaseAddress as usize,
                info.BaseAddress as usize + info.RegionSize,
                info.Protect
            ));
        }
        let Some(next) = (info.BaseAddress as usize).checked_add(info.RegionSize) else {
            break;
        };
        if next <= address {
            break;
        }
        address = next;
    }
    found
}

/// valgrind does not run Windows programs.
pub fn under_valgrind() -> bool {
    false
}

/// AddressSanitizer is not used for the Windows build.
pub fn under_asan() -> bool {
    false
}

/// How many of the runtime's library copies exist for this process: a
/// copy is deleted once it is unmapped and closed.
pub fn mapped_copies() -> usize {
    copy_names().len()
}

/// The working set of this process, in KiB.
pub fn resident_kib() -> u64 {
    // SAFETY: an all-zero PROCESS_MEMORY_COUNTERS is valid to be
    // overwritten; the call fills in at most its size.
    let mut counters: PROCESS_MEMORY_COUNTERS = unsafe { std::mem::zeroed() };
    // SAFETY: as above, for this process's pseudo-handle.
    let ok = unsafe {
        GetProcessMemoryInfo(
            GetCurrentProcess(),
            &mut counters,
            size_of::<PROCESS_MEMORY_COUNTERS>() as u32,
        )
    };
    assert_ne!(ok, 0, "GetProcessMemoryInfo failed");
    counters.WorkingSetSize as u64 / 1024
}

/// Reserves and commits `len` bytes of readable, writable memory at
/// exactly `address` (which must be free, 64 KiB aligned) and returns it;
/// `None` when something is there.
pub fn occupy(address: usize, len: usize) -> Option<*mut u8> {
    // SAFETY: VirtualAlloc at a given address fails rather than replace
    // anything; the memory is the caller's from now on.
    let mapped = unsafe {
        VirtualAlloc(
            address as *const std::ffi::c_void,
            len,
            MEM_RESERVE | MEM_COMMIT,
            PAGE_READWRITE,
        )
    };
    (mapped as usize == address).then_some(mapped.cast())
}
