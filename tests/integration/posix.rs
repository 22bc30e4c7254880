//! Scenarios built from POSIX mechanisms: processes that end by signals,
//! `fork`, and `dlopen` in a forked child. Linux only (Windows has none of
//! them; its counterparts are in the other modules).

/// Loads two versions of a module, then ends the way `HCR_TEST_ENDING`
/// says.
fn end_after_loading(host: &mut hcr_tests::Host) {
    host.load_two_versions();
    let ending = std::env::var("HCR_TEST_ENDING").unwrap();
    let signal = match ending.as_str() {
        "exit" => std::process::exit(3),
        "sigterm" => libc::SIGTERM,
        "sigsegv" => libc::SIGSEGV,
        "sigkill" => libc::SIGKILL,
        other => panic!("unknown ending {other}"),
    };
    // SAFETY: the default action of each of these signals ends the process;
    // resetting the handler first keeps Rust's SIGSEGV handler out of it.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
    unreachable!("signal {signal} did not end the process");
}

/// However a process ends, no file of the runtime's is left: its copies
/// live in memory, so the temporary directory stays empty and the module
/// directory holds the library and the manifest only.
#[test]
fn no_file_of_the_runtime_outlives_its_process() {
    use hcr_tests::{Ending, Expect};
    let test = concat!(
        module_path!(),
        "::no_file_of_the_runtime_outlives_its_process"
    );
    let work = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    if hcr_tests::in_scenario_process(work, test, end_after_loading) {
        return;
    }
    let endings = [
        ("exit", Ending::Exit(3)),
        ("sigterm", Ending::Signal(libc::SIGTERM)),
        ("sigsegv", Ending::Signal(libc::SIGSEGV)),
        ("sigkill", Ending::Signal(libc::SIGKILL)),
    ];
    for (how, ending) in endings {
        let temp = work.join("ending-temp").join(how);
        let _ = std::fs::remove_dir_all(&temp);
        std::fs::create_dir_all(&temp).unwrap();
        let env = [("HCR_TEST_ENDING", how), ("TMPDIR", temp.to_str().unwrap())];
        hcr_tests::run_scenario(work, test, &env, Expect::Ended(ending), end_after_loading);
        let left: Vec<_> = std::fs::read_dir(&temp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(
            left.is_empty(),
            "{how}: left in the temporary directory: {left:?}"
        );
        let modules = hcr_tests::scenario_dir(work, test).join("modules");
        let mut files: Vec<String> = std::fs::read_dir(&modules)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        assert_eq!(
            files,
            ["hcr-manifest.json", "libspin.so"],
            "{how}: the module directory"
        );
    }
}

scenario! {
    /// Property: whatever the ELF check lets through of a truncated library
    /// or one with flipped header bits, glibc's loader opens (or refuses)
    /// without faulting. `HCR_FUZZ_CASES` sets the number of mutants.
    fn what_the_elf_check_lets_through_loads_without_faulting(host) {
        let library = host.fixture("spin-1");
        let dir = host.modules.join("mutants");
        std::fs::create_dir_all(&dir).unwrap();
        let default_cases = if hcr_tests::under_valgrind() { 20 } else { 300 };
        let cases: usize = std::env::var("HCR_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default_cases);
        let wide = library[4] == 2;
        let phoff = if wide {
            u64::from_le_bytes(library[32..40].try_into().unwrap()) as usize
        } else {
            u32::from_le_bytes(library[28..32].try_into().unwrap()) as usize
        };
        let headers = if wide { 64 } else { 52 };
        let phnum_at = if wide { 56 } else { 44 };
        let phnum = u16::from_le_bytes([library[phnum_at], library[phnum_at + 1]]) as usize;
        let program_headers = phoff..phoff + if wide { 56 } else { 32 } * phnum;
        let mut rng = hcr_tests::Rng(0x5eed_0003);
        let mut passed = 0;
        for case in 0..cases {
            let mut bytes = library.clone();
            let mut mutation = Vec::new();
            if case % 3 == 0 {
                bytes.truncate(rng.below(library.len()));
                mutation.push(format!("cut at {}", bytes.len()));
            } else {
                for _ in 0..1 + rng.below(3) {
                    let at = if rng.next() & 1 == 0 {
                        rng.below(headers)
                    } else {
                        program_headers.start + rng.below(program_headers.len())
                    };
                    let bit = rng.below(8);
                    bytes[at] ^= 1 << bit;
                    mutation.push(format!("bit {bit} of byte {at}"));
                }
            }
            if hcr_runtime::elf::check_shared_library(&bytes).is_err() {
                continue;
            }
            passed += 1;
            let path = dir.join(format!("libmutant{case}.so"));
            std::fs::write(&path, &bytes).unwrap();
            let path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
            // SAFETY: the child only calls dlopen and _exit.
            let child = unsafe { libc::fork() };
            if child == 0 {
                // SAFETY: a valid path; whatever dlopen returns, the child ends.
                unsafe {
                    libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
                    libc::_exit(0);
                }
            }
            let mut status = 0;
            // SAFETY: waits for our own child.
            assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
            assert!(
                !libc::WIFSIGNALED(status),
                "mutant {case} ({mutation:?}) passed the check, and dlopen died of signal {}",
                libc::WTERMSIG(status)
            );
        }
        println!("{passed} of {cases} mutants passed the ELF check; each loaded without a fault");
    }
}

/// Reads one byte from `fd` (a pipe), waiting for it.
fn wait_for(fd: i32) {
    let mut byte = 0u8;
    // SAFETY: reads one byte into a live local.
    let read = unsafe { libc::read(fd, (&raw mut byte).cast(), 1) };
    assert_eq!(read, 1, "the other process went away");
}

/// Writes one byte to `fd` (a pipe).
fn signal(fd: i32) {
    // SAFETY: writes one byte from a live local.
    let written = unsafe { libc::write(fd, [1u8].as_ptr().cast(), 1) };
    assert_eq!(written, 1);
}

fn pipe() -> (i32, i32) {
    let mut fds = [0; 2];
    // SAFETY: pipe writes two descriptors into the array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    (fds[0], fds[1])
}

scenario! {
    fn after_fork_parent_and_child_each_reload_their_own_versions(host) {
        fork_and_reload_in_both(host);
    }
}

/// Forks while another thread takes the runtime's lock; then the parent
/// and the child each reload a build of their own, and neither sees the
/// other's (shared with the paged table's scenarios).
pub(crate) fn fork_and_reload_in_both(host: &mut hcr_tests::Host) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    host.install("spin", "spin-1");
    host.init(&["spin"]);
    let stub = host.stub("spin", "value");
    // Another thread takes the runtime's lock over and over, so a fork
    // without the atfork handlers could leave the child's lock held.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let (stop, rt) = (stop.clone(), host.rt);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                rt.get_proc("spin", "value").unwrap();
            }
        })
    };
    let (from_parent, to_child) = pipe();
    let (from_child, to_parent) = pipe();
    // SAFETY: the child runs only the code below and leaves with _exit.
    let child = unsafe { libc::fork() };
    assert!(child >= 0, "fork failed");
    // Each process keeps only its own pipe ends, so that one dying ends
    // the other's wait.
    let close = |fds: [i32; 2]| {
        for fd in fds {
            // SAFETY: closes a descriptor of this process's pipe.
            unsafe { libc::close(fd) };
        }
    };
    if child == 0 {
        close([to_child, from_child]);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            wait_for(from_parent);
            assert_eq!(
                stub.call_int(),
                1,
                "the parent's reload left the child's stub alone"
            );
            host.install("spin", "spin-3");
            host.rt.perform_code_reload().unwrap();
            assert_eq!(stub.call_int(), 3, "the child's own reload");
        }));
        signal(to_parent);
        // SAFETY: ends the child without running the parent's exit code.
        unsafe { libc::_exit(if result.is_ok() { 0 } else { 1 }) };
    }
    close([from_parent, to_parent]);
    host.install("spin", "spin-2");
    host.rt.perform_code_reload().unwrap();
    assert_eq!(stub.call_int(), 2);
    signal(to_child);
    wait_for(from_child);
    let mut status = 0;
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child failed (status {status:#x}); see its message above"
    );
    assert_eq!(
        stub.call_int(),
        2,
        "the child's reload left the parent's stub alone"
    );
    assert_eq!(
        host.copy_names().len(),
        2,
        "the child's exit left the parent's copies alone"
    );
    host.rt.perform_code_reload().unwrap();
    assert_eq!(
        stub.call_int(),
        3,
        "the parent reloads the child's build on its own"
    );
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
}
