//! The crash guard: a fault in a module's fresh code is rolled back and
//! reported; faults anywhere else end the process as they would without
//! it, through the handlers that were there before.

use std::ffi::{c_int, c_void};

use hcr_client::RuntimeError;
use hcr_tests::{Ending, Expect, Host, Stub};

/// A stub call, as `hcr_guarded_call` runs it.
struct StubCall {
    stub: Stub,
    result: c_int,
}

unsafe extern "C" fn call_stub(arg: *mut c_void) {
    // SAFETY: `arg` is the `StubCall` of `guarded` below.
    let call = unsafe { &mut *arg.cast::<StubCall>() };
    call.result = call.stub.call_int();
}

/// Calls `module::name` through its stub under the crash guard.
fn guarded(host: &Host, module: &str, name: &str) -> Result<c_int, RuntimeError> {
    let mut call = StubCall {
        stub: host.stub(module, name),
        result: 0,
    };
    // SAFETY: `call_stub` takes this `StubCall`, which outlives the call
    // and owns nothing to drop.
    unsafe { host.rt.guarded_call(call_stub, (&raw mut call).cast()) }?;
    Ok(call.result)
}

/// Host code that reads an unmapped address (the first page is never
/// mapped); a non-null, aligned pointer, so it is a real load.
unsafe extern "C" fn host_fault(_: *mut c_void) {
    let nowhere = std::hint::black_box(16usize) as *const c_int;
    // SAFETY: none: this read faults on purpose.
    let value = unsafe { nowhere.read_volatile() };
    std::hint::black_box(value);
}

/// Starts `spin` at version 1 and makes one guarded call into it, which
/// installs the guard's signal handler.
fn start_with_the_guard_installed(host: &Host) {
    host.install("spin", "spin-1");
    host.init(&["spin"]);
    assert_eq!(guarded(host, "spin", "value").unwrap(), 1);
}

/// Starts `spin` as fixture `first`, then reloads it to fixture `then`.
fn start_then_reload(host: &Host, first: &str, then: &str) {
    host.install("spin", first);
    host.init(&["spin"]);
    host.install("spin", then);
    host.rt.perform_code_reload().unwrap();
    assert_eq!(host.rt.generation(), 1);
}

/// Starts `spin` at version 1, bumps its counter once, and reloads it to
/// the version whose `value` dereferences NULL.
fn start_then_reload_faulty(host: &Host) {
    host.install("spin", "spin-1");
    host.init(&["spin"]);
    assert_eq!(host.call("spin", "bump"), 1001);
    host.install("spin", "spin-faulty");
    host.rt.perform_code_reload().unwrap();
    assert_eq!(host.rt.generation(), 1);
}

scenario! {
    fn a_version_that_dereferences_null_is_rolled_back_and_the_call_returns_an_error(host) {
        null_read_rolls_back(host);
    }
}

/// A version that reads through NULL under the guard: the call returns the
/// fault, the module rolls back, its state survives (shared with the paged
/// table's scenarios).
pub(crate) fn null_read_rolls_back(host: &mut hcr_tests::Host) {
    start_then_reload_faulty(host);
    host.clear_log();

    let err = guarded(host, "spin", "value").unwrap_err();
    println!("{err}");
    assert_eq!(err.code, -16, "HCR_ERR_FAULTED: {err}");
    let [fault, access] = hcr_tests::NULL_READ;
    let library = hcr_build::library_file_name(hcr_build::build_target(), "spin");
    hcr_tests::assert_says(
        &err.message,
        &[
            &format!("module `spin` faulted: {fault}"),
            access,
            &format!("{library}+0x"),
            "rolled back to the version loaded in generation 0 (now generation 2)",
        ],
    );
    assert_eq!(host.rt.last_error_module().as_deref(), Some("spin"));

    assert_eq!(host.call("spin", "value"), 1, "version 1 runs again");
    assert_eq!(
        guarded(host, "spin", "value").unwrap(),
        1,
        "and under the guard"
    );
    assert_eq!(host.rt.generation(), 2);
    assert_eq!(
        host.call("spin", "bump"),
        1002,
        "state survived the fault and the rollback"
    );
    // The old version's init ran again (as on a reload to it), no
    // before-handler ran, then its after-handler.
    assert_eq!(host.log(), "spin1:init spin1:a");
    assert_eq!(host.global_int("spin", "dat_inits"), Some(3));
    // The manifest says it was a rollback, for `cargo hcr`'s status line.
    let manifest = hcr_build::Manifest::read(&host.modules).unwrap();
    assert_eq!(
        manifest.last_event,
        Some(hcr_build::LastEvent::RolledBack {
            module: "spin".into(),
            loaded_in: 0
        })
    );
    assert_eq!(manifest.generation, 2);
}

// Integer division by zero traps on x86 only; ARM returns 0.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
scenario! {
    fn a_division_by_zero_is_caught_and_rolled_back(host) {
        start_then_reload(host, "spin-1", "spin-divides");
        let err = guarded(host, "spin", "value").unwrap_err();
        let said = format!("module `spin` faulted: {} at", hcr_tests::DIVISION_BY_ZERO);
        assert!(err.message.contains(&said), "{}", err.message);
        assert!(err.message.contains("rolled back"), "{}", err.message);
        assert_eq!(host.call("spin", "value"), 1);
    }
}

scenario! {
    fn a_version_that_faulted_is_not_loaded_again_until_its_file_changes(host) {
        start_then_reload_faulty(host);
        assert_eq!(guarded(host, "spin", "value").unwrap_err().code, -16);

        assert!(!host.rt.reload_needed(), "the faulting file is not a change");
        assert!(!host.rt.has_module_changed("spin"));
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.rt.generation(), 2, "nothing was reloaded");
        assert_eq!(host.call("spin", "value"), 1);

        host.install("spin", "spin-faulty");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.rt.generation(), 2, "the same bytes written again are still refused");
        assert!(hcr_tests::eventually(|| !host.rt.reload_needed()), "and not a change");
        assert_eq!(guarded(host, "spin", "value").unwrap(), 1);

        host.install("spin", "spin-3");
        assert!(host.rt.reload_needed(), "a new build is loaded");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(guarded(host, "spin", "value").unwrap(), 3);
        assert_eq!(host.rt.generation(), 3);
    }
}

scenario! {
    fn a_first_version_that_faults_has_nothing_to_roll_back_to(host) {
        host.install("spin", "spin-faulty");
        host.init(&["spin"]);
        for _ in 0..2 {
            let err = guarded(host, "spin", "value").unwrap_err();
            assert_eq!(err.code, -16);
            assert!(
                err.message.contains("not rolled back: no earlier version of it is mapped"),
                "{}",
                err.message
            );
        }
        assert_eq!(host.rt.generation(), 0);
        host.install("spin", "spin-1");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(guarded(host, "spin", "value").unwrap(), 1);
    }
}

scenario! {
    fn a_rollback_whose_init_fails_changes_nothing_and_the_next_fault_tries_again(host) {
        start_then_reload(host, "spin-touchy", "spin-faulty");
        host.set_global_int("main", "veto", 1);

        let err = guarded(host, "spin", "value").unwrap_err();
        assert_eq!(err.code, -16);
        hcr_tests::assert_says(
            &err.message,
            &[
            "not rolled back: putting the previous version back failed",
            "hcr_module_init (returned 5)",
            "the faulting version stays current",
            ],
        );
        assert_eq!(host.rt.generation(), 1, "nothing changed");
        assert!(!host.rt.reload_needed(), "the faulting file is refused all the same");

        host.set_global_int("main", "veto", 0);
        let err = guarded(host, "spin", "value").unwrap_err();
        assert!(err.message.contains("rolled back to the version loaded in generation 0"), "{}", err.message);
        assert_eq!(host.call("spin", "value"), 1);
        assert_eq!(host.rt.generation(), 2);
    }
}

scenario! {
    fn with_versions_unmapped_there_is_nothing_to_roll_back_to(host) {
        start_then_reload_faulty(host);
        assert_eq!(host.rt.collect().unwrap(), 1);
        let err = guarded(host, "spin", "value").unwrap_err();
        assert!(err.message.contains("hcr_collect"), "{}", err.message);
        assert_eq!(host.rt.generation(), 1);
    }
}

scenario! {
    fn a_rust_host_gets_the_fault_as_an_error_and_its_panics_as_panics(host) {
        host.install("spin", "spin-1");
        let client = host.start(&["spin"]);
        let value = host.stub("spin", "value");
        // SAFETY: the closure only calls a stub; nothing to drop.
        assert_eq!(unsafe { client.call_guarded(|| value.call_int()) }, Ok(1));

        host.install("spin", "spin-faulty");
        client.reload().unwrap();
        // SAFETY: as above.
        let err = unsafe { client.call_guarded(|| value.call_int()) }.unwrap_err();
        assert_eq!((err.code, err.module.as_deref()), (-16, Some("spin")));
        assert_eq!(value.call_int(), 1);

        let panicked = std::panic::catch_unwind(|| {
            // SAFETY: the closure panics before any fault.
            unsafe { client.call_guarded(|| -> i32 { panic!("from the closure") }) }
        });
        let payload = panicked.unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"from the closure"));
    }
}

/// How a fault nobody catches ends the process: by the default action, or
/// under AddressSanitizer through its handler, which reports it and exits.
fn uncaught_fault() -> Expect<'static> {
    if hcr_tests::under_asan() {
        Expect::EndedSaying(Ending::Exit(1), "AddressSanitizer: SEGV")
    } else {
        Expect::Ended(hcr_tests::UNCAUGHT_FAULT)
    }
}

scenario! {
    expect(uncaught_fault())
    fn a_fault_in_host_code_under_the_guard_still_kills(host) {
        start_then_reload_faulty(host);
        // SAFETY: `host_fault` takes no argument; it faults on purpose.
        let _ = unsafe { host.rt.guarded_call(host_fault, std::ptr::null_mut()) };
        unreachable!("the host's fault was swallowed");
    }
}

scenario! {
    expect(uncaught_fault())
    fn a_fault_in_module_code_outside_a_guarded_call_still_kills(host) {
        start_with_the_guard_installed(host);
        host.install("spin", "spin-faulty");
        host.rt.perform_code_reload().unwrap();
        host.call("spin", "value");
        unreachable!("a fault outside the guarded call was swallowed");
    }
}

/// The exit status of the host's own SIGSEGV handler.
#[cfg(unix)]
const HOST_HANDLER_EXIT: c_int = 42;

#[cfg(unix)]
extern "C" fn host_handler(_: c_int, _: *mut libc::siginfo_t, _: *mut c_void) {
    const TEXT: &[u8] = b"the host's handler ran\n";
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        libc::write(2, TEXT.as_ptr().cast(), TEXT.len());
        libc::_exit(HOST_HANDLER_EXIT);
    }
}

#[cfg(unix)]
scenario! {
    expect(Expect::EndedSaying(Ending::Exit(HOST_HANDLER_EXIT), "the host's handler ran"))
    fn a_handler_installed_before_the_guard_gets_the_faults_the_guard_leaves(host) {
        // SAFETY: a zeroed sigaction is valid; the handler only calls
        // async-signal-safe functions.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = host_handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            assert_eq!(libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut()), 0);
        }
        start_then_reload_faulty(host);
        let err = guarded(host, "spin", "value").unwrap_err();
        assert_eq!(err.code, -16, "the guard catches the module's fault first");
        // SAFETY: as in the host-fault scenario.
        let _ = unsafe { host.rt.guarded_call(host_fault, std::ptr::null_mut()) };
        unreachable!("the host's fault was swallowed");
    }
}

// On Windows a stack overflow is not caught either (see
// docs/crash-guard.md), but how it ends differs: Windows ends the process,
// wine only the thread.

/// Recurses until the stack runs out (the limit is never reached).
#[cfg(unix)]
fn overflow(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 32]);
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    overflow(depth + 1) + frame[7]
}

/// How a stack overflow is reported: by Rust's handler, or under
/// AddressSanitizer by its own (Rust then installs none).
#[cfg(unix)]
fn stack_overflow_report() -> Expect<'static> {
    if hcr_tests::under_asan() {
        Expect::EndedSaying(Ending::Exit(1), "AddressSanitizer: stack-overflow")
    } else {
        Expect::Abort(&["has overflowed its stack"])
    }
}

#[cfg(unix)]
scenario! {
    expect(stack_overflow_report())
    fn a_stack_overflow_is_still_reported_under_the_guard(host) {
        start_with_the_guard_installed(host);
        let thread = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| overflow(0))
            .unwrap();
        let _ = thread.join();
        unreachable!("the overflow was not reported");
    }
}

scenario! {
    fn threads_faulting_at_once_are_all_caught_and_the_module_rolls_back_once(host) {
        use std::sync::atomic::{AtomicBool, Ordering};
        const THREADS: usize = 4;
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let stop = AtomicBool::new(false);
        let outcomes = std::thread::scope(|scope| {
            let callers: Vec<_> = (0..THREADS)
                .map(|_| {
                    scope.spawn(|| {
                        let (mut ok, mut faulted) = (0, 0);
                        while !stop.load(Ordering::Relaxed) {
                            match guarded(host, "spin", "value") {
                                Ok(1) => ok += 1,
                                Err(err) if err.code == -16 => faulted += 1,
                                other => panic!("unexpected outcome {other:?}"),
                            }
                        }
                        (ok, faulted)
                    })
                })
                .collect();
            std::thread::sleep(std::time::Duration::from_millis(50));
            host.install("spin", "spin-faulty");
            host.rt.perform_code_reload().unwrap();
            // Once the rollback is done, the faulting version never runs
            // again.
            let started = std::time::Instant::now();
            while host.rt.generation() < 2 {
                assert!(started.elapsed().as_secs() < 60, "no rollback happened");
                std::thread::yield_now();
            }
            stop.store(true, Ordering::Relaxed);
            callers
                .into_iter()
                .map(|caller| caller.join().unwrap())
                .collect::<Vec<_>>()
        });
        println!("per thread (calls that returned 1, calls that faulted): {outcomes:?}");
        let faults: usize = outcomes.iter().map(|(_, faulted)| faulted).sum();
        assert!(faults >= 1, "the faulting version ran under the guard");
        assert_eq!(host.rt.generation(), 2, "one reload, one rollback");
        assert_eq!(host.call("spin", "value"), 1);
        assert!(!host.rt.reload_needed());
    }
}
