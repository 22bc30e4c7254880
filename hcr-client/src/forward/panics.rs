//! Panic messages from a module name the thread as the host knows it.
//!
//! A module's copy of std never saw the threads the host started, so its
//! panic hook would call every one of them `<unnamed>`. The host
//! publishes a function that tells the calling thread's name as its own
//! std knows it, and each module's hook asks it.

use std::panic::PanicHookInfo;

use crate::runtime::RuntimeLibrary;

/// Calls its argument with the calling thread's name, as the host's std
/// knows it.
type HostThreadName = fn(&mut dyn FnMut(Option<&str>));

const GLOBAL: &str = "thread_name";

fn host_thread_name(answer: &mut dyn FnMut(Option<&str>)) {
    answer(std::thread::current().name());
}

pub(crate) fn publish(runtime: &RuntimeLibrary) -> Result<(), String> {
    super::publish::<HostThreadName>(runtime, GLOBAL, host_thread_name)
}

/// Wraps the module's panic hook: a thread the module's std knows no name
/// for is named as the host knows it; the rest is std's default report.
pub(crate) fn install(runtime: &RuntimeLibrary) {
    let Some(host) = super::published::<HostThreadName>(runtime, GLOBAL) else {
        return;
    };
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name().is_some() {
            return default(info);
        }
        let mut name = None;
        host(&mut |found| name = found.map(str::to_owned));
        match name {
            Some(name) => report(&name, info),
            None => default(info),
        }
    }));
}

/// What std's default hook prints, for a thread named `name`.
fn report(name: &str, info: &PanicHookInfo<'_>) {
    let backtrace = std::backtrace::Backtrace::capture();
    let trace = match backtrace.status() {
        std::backtrace::BacktraceStatus::Captured => format!("stack backtrace:\n{backtrace}"),
        _ => "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n"
            .to_owned(),
    };
    eprint!("\nthread '{name}' {info}\n{trace}");
}
