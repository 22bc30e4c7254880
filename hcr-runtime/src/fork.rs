//! `fork` in a process that runs the runtime.
//!
//! The jump table's two views map one shared memory object, and a forked child
//! inherits those mappings: without care, a reload in the parent would
//! re-point the child's stubs at a library the child never loaded (and the
//! other way round). So `pthread_atfork` handlers give the child a private
//! copy of the table at the same addresses, and hold the runtime's lock
//! across the fork, so that the child never inherits it locked by a thread
//! that does not exist there. Each process then registers and reloads on
//! its own.
//!
//! A fork while another thread is in the middle of a reload leaves the
//! child with that reload marked as running: the child's reloads then fail
//! with `HCR_ERR_BUSY`, and its stubs keep the code they had.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{MutexGuard, Once};

use crate::jump_table::ForkCopy;
use crate::runtime::State;

/// What `prepare` took, for `parent` or `child` to finish.
struct Forking {
    state: MutexGuard<'static, State>,
    /// The child's private table, copied under the lock.
    snapshot: Option<ForkCopy>,
}

thread_local! {
    /// Set by `prepare` on the forking thread, taken by `parent` or
    /// `child`, which run on that same thread.
    static FORKING: RefCell<Option<Forking>> = const { RefCell::new(None) };
}

/// Registers the handlers, once per process.
pub(crate) fn install() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        if !crate::sys::HAS_FORK {
            return;
        }
        if let Err(err) = crate::sys::at_fork(prepare, parent, child) {
            eprintln!("hcr: warning: cannot watch for fork ({err}); a forked child shares stubs");
        }
    });
}

extern "C" fn prepare() {
    let _ = catch_unwind(|| {
        let state = crate::process_runtime().lock();
        let snapshot = match state.table().map(|table| table.snapshot()) {
            Some(Ok(snapshot)) => Some(snapshot),
            Some(Err(err)) => {
                eprintln!("hcr: warning: cannot copy the jump table for a forked child: {err}");
                None
            }
            None => None,
        };
        FORKING.with(|slot| *slot.borrow_mut() = Some(Forking { state, snapshot }));
    });
}

extern "C" fn parent() {
    // Unlocks; the parent keeps its table and drops the copy.
    let _ = catch_unwind(|| FORKING.with(|slot| slot.borrow_mut().take()));
}

/// Runs in the child, the only thread there: it switches to the private
/// table, then unlocks. Nothing here takes a lock another thread of the
/// parent could have held (stderr included: failures go to fd 2 directly).
extern "C" fn child() {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let Some(mut forking) = FORKING.with(|slot| slot.borrow_mut().take()) else {
            return;
        };
        let switched = match (forking.snapshot.take(), forking.state.table_mut()) {
            // SAFETY: the copy was taken under the lock held since, and the
            // child runs no other thread.
            (Some(snapshot), Some(table)) => unsafe { table.switch_to(snapshot) }.is_ok(),
            (None, Some(_)) => false,
            (_, None) => true,
        };
        if !switched {
            // The child would share stubs with the parent: refuse to change
            // them at all rather than re-point the parent's.
            forking.state.shut_down = true;
            crate::sys::write_stderr(
                b"hcr: warning: this forked child shares its stubs with the parent; reloads are off\n",
            );
        }
    }));
}
