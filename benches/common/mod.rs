//! What every bench shares.

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use criterion::Criterion;

#[allow(dead_code, reason = "used by the stub benches only")]
pub mod stub_subjects;

/// Criterion as configured from the command line, shortened when
/// `HCR_BENCH_QUICK` is set (CI proves the benches run; the numbers of a
/// quick run are not worth publishing).
#[allow(dead_code, reason = "the memory bench prints instead of timing")]
pub fn config() -> Criterion {
    let criterion = Criterion::default();
    if std::env::var_os("HCR_BENCH_QUICK").is_some() {
        criterion
            .sample_size(10)
            .warm_up_time(Duration::from_millis(100))
            .measurement_time(Duration::from_millis(300))
            .without_plots()
    } else {
        criterion
    }
}

/// A C module named `name` registering `procs` procs that return `version`.
#[allow(dead_code, reason = "used by the reload and memory benches only")]
pub fn module_source(name: &str, procs: usize, version: u32) -> String {
    let mut source = String::from("#include <hcr.h>\n#include <stddef.h>\n");
    for i in 0..procs {
        let _ = writeln!(
            source,
            "static int p{i}(void) {{ return {i} + {version}; }}"
        );
    }
    source.push_str("static const char *const names[] = {");
    for i in 0..procs {
        let _ = write!(source, "\"p{i}\",");
    }
    source.push_str("};\nstatic void *const fns[] = {");
    for i in 0..procs {
        let _ = write!(source, "(void *)p{i},");
    }
    let _ = write!(
        source,
        "}};\n\
         const char *const *hcr_module_imports(void) {{ static const char *const none[] = {{NULL}}; return none; }}\n\
         const char *hcr_module_hash(void) {{ return \"{name} v{version}\"; }}\n\
         int hcr_module_dat_init(void) {{\n\
             for (size_t i = 0; i < {procs}; i++)\n\
                 if (!hcr_register_proc(\"{name}\", names[i], fns[i])) return 1;\n\
             return 0;\n\
         }}\n\
         int hcr_module_init(void) {{ return 0; }}\n"
    );
    source
}

/// Runs a call on another thread until dropped, so that a bench measures
/// its own calls while a second thread calls too.
#[allow(dead_code, reason = "used by the per-call benches only")]
pub struct Busy {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[allow(dead_code, reason = "used by the per-call benches only")]
impl Busy {
    /// Starts a thread that calls `call` over and over.
    pub fn calling<R>(call: impl Fn() -> R + Send + 'static) -> Busy {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                black_box(call());
            }
        });
        Busy {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reload phases summed over many reloads, as the reload benches report
/// them: handlers are before and after together, commit includes cleanup.
#[allow(dead_code, reason = "used by the reload benches only")]
#[derive(Default)]
pub struct PhaseSums {
    total: Duration,
    phases: hcr_client::ReloadPhases,
}

#[allow(dead_code, reason = "used by the reload benches only")]
impl PhaseSums {
    /// Adds one reload that took `took` as timed by its caller.
    pub fn add(&mut self, took: Duration, phases: hcr_client::ReloadPhases) {
        let sum = &mut self.phases;
        self.total += took;
        sum.check += phases.check;
        sum.copy += phases.copy;
        sum.dlopen += phases.dlopen;
        sum.init += phases.init;
        sum.before_handlers += phases.before_handlers + phases.after_handlers;
        sum.commit += phases.commit + phases.cleanup;
        sum.total += phases.total;
    }

    /// In ns: the callers' total, check, copy, dlopen, registration,
    /// handlers, commit and what the call spent outside the runtime's
    /// phases (mostly writing the manifest, and the C ABI's bookkeeping).
    pub fn line(&self) -> String {
        let sum = &self.phases;
        let outside = self.total.saturating_sub(sum.total);
        [
            self.total,
            sum.check,
            sum.copy,
            sum.dlopen,
            sum.init,
            sum.before_handlers,
            sum.commit,
            outside,
        ]
        .map(|d| d.as_nanos().to_string())
        .join(" ")
    }
}
