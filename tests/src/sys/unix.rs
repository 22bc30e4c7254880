//! Linux and macOS alike: signals end processes, core dumps are turned
//! off per process; what differs (copies, mappings, the library format)
//! is in `linux.rs` and `macos.rs`.

use std::process::{Command, ExitStatus};

use crate::Ending;

/// How a process that aborts ends: killed by SIGABRT.
pub const ABORTED: Ending = Ending::Signal(6);

/// How a fault nobody catches ends a process: killed by SIGSEGV.
pub const UNCAUGHT_FAULT: Ending = Ending::Signal(libc::SIGSEGV);

/// How the crash guard names a read through NULL: the fault, and what
/// was accessed.
pub const NULL_READ: [&str; 2] = ["SIGSEGV", "accessing 0x0"];

/// How the crash guard names an integer division by zero.
pub const DIVISION_BY_ZERO: &str = "SIGFPE (integer division by zero)";

/// How a process ended: its exit code, or the signal that killed it.
pub fn ending(status: ExitStatus) -> Ending {
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        Some(signal) => Ending::Signal(signal),
        None => Ending::Exit(status.code().unwrap_or(-1)),
    }
}

/// Whether the system failed to start a process: on these systems a
/// process that started runs the test binary, whatever it prints.
pub fn did_not_start(_status: ExitStatus, _stdout: &str) -> Option<String> {
    None
}

/// Whether the system, not the command, made creating a process fail: on
/// these systems a failed fork or exec always says something about the
/// command or the machine's limits, which starting again does not mend.
pub fn system_failed_to_spawn(_error: &std::io::Error) -> Option<String> {
    None
}

/// Scenarios that expect an abort must not dump core: nobody reads the
/// dump, and qemu-user, writing one for a guest with several threads, can
/// hang.
pub fn no_core_dumps(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the child between fork and exec and only
    // calls setrlimit, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::setrlimit(libc::RLIMIT_CORE, &none) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Makes a file executable by its owner and everyone.
pub fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether this process runs under AddressSanitizer (its runtime is linked
/// in and exported, as `.ci/asan` builds the tests): a fault nobody
/// catches is then reported by its handler, which exits with status 1.
pub fn under_asan() -> bool {
    // SAFETY: dlsym only reads the loader's tables; the name is a valid
    // NUL-terminated string.
    !unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__asan_init".as_ptr()) }.is_null()
}
