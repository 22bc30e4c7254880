//! Windows only: the copies modules are loaded from
//! (`%TEMP%\hcr-copies\<pid>-<creation time>.<module>.<load>.dll`) go when
//! the process goes, however it ends, leaving nothing of it, and what the
//! system failed to delete is removed by the next process; and the
//! scenario harness starts again only what the system failed to start.

use hcr_tests::{Ending, Expect};

/// Loads two versions of a module, then ends the way `HCR_TEST_ENDING`
/// says: `exit`, or `kill` (terminated, as a task manager would).
fn end_after_loading(host: &mut hcr_tests::Host) {
    host.load_two_versions();
    match std::env::var("HCR_TEST_ENDING").unwrap().as_str() {
        "exit" => std::process::exit(3),
        "kill" => {
            use windows_sys::Win32::System::Threading::{GetCurrentProcess, TerminateProcess};
            // SAFETY: ends this process; nothing runs after it.
            unsafe { TerminateProcess(GetCurrentProcess(), 7) };
            unreachable!("the process was terminated");
        }
        other => panic!("unknown ending {other}"),
    }
}

/// What is under a temporary directory's `hcr-copies`.
fn copies_under(temp: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(temp.join("hcr-copies"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn nothing_of_a_process_is_left_once_it_ends_and_the_next_removes_what_the_system_left() {
    let test = concat!(
        module_path!(),
        "::nothing_of_a_process_is_left_once_it_ends_and_the_next_removes_what_the_system_left"
    );
    let work = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    if hcr_tests::in_scenario_process(work, test, end_after_loading) {
        return;
    }
    for (how, ending) in [("exit", Ending::Exit(3)), ("kill", Ending::Exit(7))] {
        let temp = work.join("copies-temp").join(how);
        let _ = std::fs::remove_dir_all(&temp);
        std::fs::create_dir_all(&temp).unwrap();
        let env = [
            ("HCR_TEST_ENDING", how),
            ("TEMP", temp.to_str().unwrap()),
            ("TMP", temp.to_str().unwrap()),
        ];
        hcr_tests::run_scenario(work, test, &env, Expect::Ended(ending), end_after_loading);
        let left = copies_under(&temp);
        assert!(left.is_empty(), "{how}: left behind: {left:?}");

        // What the system failed to delete (a copy and a directory of a
        // process that is gone: no process has an odd id) goes with the
        // next start; what is no process's stays.
        let copies = temp.join("hcr-copies");
        let stale = ["4095-1d0000000000000.view.1.dll", "4093-1d0000000000000"];
        std::fs::write(copies.join(stale[0]), b"MZ").unwrap();
        std::fs::create_dir_all(copies.join(stale[1])).unwrap();
        std::fs::write(copies.join("notes.txt"), b"mine").unwrap();
        hcr_tests::run_scenario(work, test, &env, Expect::Ended(ending), end_after_loading);
        assert_eq!(copies_under(&temp), ["notes.txt"], "{how}");
    }
}

/// The scenario harness starts a process again only when the system failed
/// to start it: process creation failing with ERROR_INTERNAL_ERROR, or the
/// process ending with STATUS_DLL_INIT_FAILED before it printed anything.
/// Every other failure and ending is the scenario's own.
#[test]
fn the_harness_starts_a_process_again_only_when_the_system_failed_to_start_it() {
    use std::io::Error;
    use std::os::windows::process::ExitStatusExt;
    use std::process::ExitStatus;

    let internal_error = Error::from_raw_os_error(1359);
    assert!(hcr_tests::system_failed_to_spawn(&internal_error).is_some());
    let not_found = Error::from_raw_os_error(2);
    assert_eq!(hcr_tests::system_failed_to_spawn(&not_found), None);
    let access_denied = Error::from_raw_os_error(5);
    assert_eq!(hcr_tests::system_failed_to_spawn(&access_denied), None);

    let dll_init_failed = ExitStatus::from_raw(0xC000_0142);
    assert!(hcr_tests::did_not_start(dll_init_failed, "").is_some());
    let after_printing = "\nrunning 1 test\n";
    assert_eq!(
        hcr_tests::did_not_start(dll_init_failed, after_printing),
        None
    );
    let access_violation = ExitStatus::from_raw(0xC000_0005);
    assert_eq!(hcr_tests::did_not_start(access_violation, ""), None);
    assert_eq!(
        hcr_tests::did_not_start(ExitStatus::from_raw(101), ""),
        None
    );
}
