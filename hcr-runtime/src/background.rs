//! One thread of the process's for work that nobody waits for: hashing a
//! library file to tell a touch from a change, and filling in the parts of
//! a library's copy that only debuggers and backtraces read.

use std::sync::{Mutex, TryLockError, mpsc};

/// Work for the background thread.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// Queues `job` on the process's background thread, started on first use
/// (and again in a forked child, which has none). Hands `job` back when
/// it cannot: the thread cannot be started, or another thread is queueing
/// a job this instant. The queue's lock is never waited for: a child
/// forked while another thread held it would wait forever.
pub(crate) fn run(job: Job) -> Result<(), Job> {
    static WORKER: Mutex<Option<(u32, mpsc::Sender<Job>)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut worker = match WORKER.try_lock() {
        Ok(worker) => worker,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return Err(job),
    };
    if worker.as_ref().is_none_or(|(owner, _)| *owner != pid) {
        let (jobs, queue) = mpsc::channel::<Job>();
        let started = std::thread::Builder::new()
            .name("hcr-background".into())
            .spawn(move || queue.into_iter().for_each(|job| job()));
        if started.is_err() {
            return Err(job);
        }
        *worker = Some((pid, jobs));
    }
    match worker.as_ref() {
        Some((_, jobs)) => jobs.send(job).map_err(|mpsc::SendError(job)| job),
        None => Err(job),
    }
}

/// Queues `job` on the background thread, or runs it on this one when it
/// cannot be queued (see [`run`]).
pub(crate) fn run_or_here(job: Job) {
    if let Err(job) = run(job) {
        job();
    }
}

/// Starts the background thread now, and waits until it has allocated
/// and freed memory once: the C library gives a thread its own heap
/// (tens of MiB of address space) at its first allocation, and that heap
/// must not land between the jump table and the modules loaded after it,
/// which must lie within a near jump of their stubs. Called before the
/// table is reserved.
pub(crate) fn start() {
    let (done, started) = mpsc::channel();
    let first = Box::new(move || {
        drop(std::hint::black_box(vec![0u8; 64]));
        let _ = done.send(());
    });
    if run(first).is_ok() {
        // Not forever: a thread that cannot start is no reason to hang.
        let _ = started.recv_timeout(std::time::Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_another_thread_in_the_order_queued() {
        let (done, finished) = mpsc::channel();
        for n in 0..5 {
            let done = done.clone();
            let queued = run(Box::new(move || {
                done.send((n, std::thread::current().name().map(str::to_owned)))
                    .unwrap();
            }));
            assert!(queued.is_ok());
        }
        let ran: Vec<_> = (0..5).map(|_| finished.recv().unwrap()).collect();
        let named = Some("hcr-background".to_owned());
        assert_eq!(ran, (0..5).map(|n| (n, named.clone())).collect::<Vec<_>>());
    }
}
