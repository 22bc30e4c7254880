//! Windows only: the copies modules are loaded from live in a directory of
//! the process's (`%TEMP%\hcr-copies\<pid>-<creation time>`), go when the
//! process goes, however it ends, and what a process leaves is removed by
//! the next one; and the scenario harness starts again only what the
//! system failed to start.

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

/// The directories (one per process) and the files in them under a
/// temporary directory's `hcr-copies`.
fn copies_under(temp: &std::path::Path) -> (Vec<String>, Vec<String>) {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for dir in std::fs::read_dir(temp.join("hcr-copies"))
        .into_iter()
        .flatten()
        .flatten()
    {
        dirs.push(dir.file_name().to_string_lossy().into_owned());
        for file in std::fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            files.push(file.file_name().to_string_lossy().into_owned());
        }
    }
    (dirs, files)
}

#[test]
fn copies_go_with_their_process_and_the_next_process_removes_its_directory() {
    let test = concat!(
        module_path!(),
        "::copies_go_with_their_process_and_the_next_process_removes_its_directory"
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
        let (dirs, files) = copies_under(&temp);
        assert!(files.is_empty(), "{how}: copies left behind: {files:?}");
        assert!(dirs.len() <= 1, "{how}: {dirs:?}");
        // The next process removes what the first left (its directory).
        hcr_tests::run_scenario(work, test, &env, Expect::Ended(ending), end_after_loading);
        let (after, files) = copies_under(&temp);
        assert!(files.is_empty(), "{how}: copies left behind: {files:?}");
        assert!(
            dirs.iter().all(|dir| !after.contains(dir)),
            "{how}: the first process's directory {dirs:?} is still there: {after:?}"
        );
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
