//! Threads calling through stubs while the main thread reloads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Reloads per run; valgrind, which runs one thread at a time, gets fewer.
const RELOADS: usize = 300;
const RELOADS_UNDER_VALGRIND: usize = 30;
const CALLERS: usize = 3;

scenario! {
    fn threads_calling_through_stubs_see_old_or_new_code_during_hundreds_of_reloads(host) {
        call_through_stubs_during_reloads(host);
    }
}

/// Threads call `spin::value` through its stub while this one reloads it
/// hundreds of times: each sees the old or the new version, never
/// anything else (shared with the paged table's scenarios).
pub(crate) fn call_through_stubs_during_reloads(host: &mut hcr_tests::Host) {
    let reloads = if hcr_tests::under_valgrind() {
        RELOADS_UNDER_VALGRIND
    } else {
        RELOADS
    };
    host.install("spin", "spin-1");
    host.init(&["spin"]);
    let stub = host.stub("spin", "value");
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new([AtomicU64::new(0), AtomicU64::new(0)]);
    let callers: Vec<_> = (0..CALLERS)
        .map(|_| {
            let (stop, seen) = (stop.clone(), seen.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let value = stub.call_int();
                    assert!(value == 1 || value == 2, "a call returned {value}");
                    seen[value as usize - 1].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for round in 0..reloads {
        let version = 2 - (round % 2) as i32;
        host.install("spin", &format!("spin-{version}"));
        host.rt.perform_code_reload().unwrap();
        assert_eq!(stub.call_int(), version, "reload {round} was not picked up");
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().expect("a calling thread failed");
    }
    assert_eq!(host.rt.generation(), reloads as i64);
    let (ones, twos) = (
        seen[0].load(Ordering::Relaxed),
        seen[1].load(Ordering::Relaxed),
    );
    assert!(
        ones > 0 && twos > 0,
        "callers saw both versions: {ones} and {twos}"
    );
}
