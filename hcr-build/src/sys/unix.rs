//! Unix systems.

use std::path::Path;
use std::process::ExitStatus;

/// Cargo prints the commands it runs (`-vv`) for a POSIX shell, which
/// `direct::Capture` reads.
pub(crate) const CARGO_COMMANDS_READABLE: bool = true;

/// Whether process `pid` of this system runs, where `/proc` tells.
pub(crate) fn process_is_running(pid: u64) -> Option<bool> {
    Path::new("/proc/self")
        .exists()
        .then(|| Path::new(&format!("/proc/{pid}")).exists())
}

/// The signal that ended a process, and its name where it is a common
/// one, if a signal ended it.
pub(crate) fn ending_signal(status: ExitStatus) -> Option<(i32, Option<&'static str>)> {
    use std::os::unix::process::ExitStatusExt;
    let signal = status.signal()?;
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGABRT => "SIGABRT",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        libc::SIGPIPE => "SIGPIPE",
        _ => return Some((signal, None)),
    };
    Some((signal, Some(name)))
}

/// What an exit code says beyond its number: nothing here.
pub(crate) fn exit_code_name(_code: i32) -> Option<&'static str> {
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    use crate::HostEnding;

    #[test]
    fn a_host_ending_says_its_exit_code_or_the_signal_that_killed_it() {
        let exited = |code: i32| HostEnding::of(ExitStatus::from_raw(code << 8));
        let killed = |signal: i32| HostEnding::of(ExitStatus::from_raw(signal));
        assert_eq!(
            exited(0),
            HostEnding {
                said: "the host exited with code 0".into(),
                success: true,
                code: 0
            }
        );
        assert_eq!(
            exited(101),
            HostEnding {
                said: "the host exited with code 101".into(),
                success: false,
                code: 101
            }
        );
        assert_eq!(
            killed(libc::SIGSEGV),
            HostEnding {
                said: format!("the host was killed by signal {} (SIGSEGV)", libc::SIGSEGV),
                success: false,
                code: 128 + libc::SIGSEGV as u8
            }
        );
        assert_eq!(
            killed(libc::SIGABRT).said,
            format!("the host was killed by signal {} (SIGABRT)", libc::SIGABRT)
        );
        assert_eq!(
            killed(libc::SIGUSR1).said,
            format!("the host was killed by signal {}", libc::SIGUSR1)
        );
    }
}
