//! Windows.

/// Cargo prints the commands it runs for `cmd`, which `direct::Capture`
/// does not read: every module build goes through cargo.
pub(crate) const CARGO_COMMANDS_READABLE: bool = false;

/// Not told here yet.
pub(crate) fn process_is_running(_pid: u64) -> Option<bool> {
    None
}

/// No signals here: a crash ends a process with an exception code.
pub(crate) fn ending_signal(
    _status: std::process::ExitStatus,
) -> Option<(i32, Option<&'static str>)> {
    None
}

/// The name of the exception an exit code reports, for the common ones.
pub(crate) fn exit_code_name(code: i32) -> Option<&'static str> {
    Some(match code as u32 {
        0xC000_0005 => "STATUS_ACCESS_VIOLATION",
        0xC000_001D => "STATUS_ILLEGAL_INSTRUCTION",
        0xC000_0094 => "STATUS_INTEGER_DIVIDE_BY_ZERO",
        0xC000_00FD => "STATUS_STACK_OVERFLOW",
        0xC000_0409 => "STATUS_STACK_BUFFER_OVERRUN (an abort)",
        0xC000_013A => "STATUS_CONTROL_C_EXIT",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::os::windows::process::ExitStatusExt;
    use std::process::ExitStatus;

    use crate::HostEnding;

    #[test]
    fn a_host_ending_says_its_exit_code_and_names_an_exception() {
        let ending = HostEnding::of(ExitStatus::from_raw(0xC000_0005));
        assert_eq!(
            ending.said,
            "the host exited with code 0xc0000005 (STATUS_ACCESS_VIOLATION)"
        );
        assert_eq!((ending.success, ending.code), (false, 1));
        let ending = HostEnding::of(ExitStatus::from_raw(3));
        assert_eq!(ending.said, "the host exited with code 3");
        assert_eq!((ending.success, ending.code), (false, 3));
    }
}
