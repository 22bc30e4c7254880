//! `log` records from a module, handed to the host's logger.

use log::{LevelFilter, Log, Metadata, Record};

use crate::runtime::RuntimeLibrary;

/// The host's logger and its maximum level.
type HostLogger = fn() -> (&'static dyn Log, LevelFilter);

const GLOBAL: &str = "log";

fn host_logger() -> (&'static dyn Log, LevelFilter) {
    (log::logger(), log::max_level())
}

pub(crate) fn publish(runtime: &RuntimeLibrary) -> Result<(), String> {
    super::publish::<HostLogger>(runtime, GLOBAL, host_logger)
}

pub(crate) fn install(runtime: &RuntimeLibrary) {
    if let Some(host) = super::published::<HostLogger>(runtime, GLOBAL) {
        // The host's level is checked per record, as it may change.
        if log::set_boxed_logger(Box::new(Forwarder { host })).is_ok() {
            log::set_max_level(LevelFilter::Trace);
        }
    }
}

/// The module's logger: every record goes to the host's.
struct Forwarder {
    host: HostLogger,
}

impl Log for Forwarder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        let (logger, level) = (self.host)();
        metadata.level() <= level && logger.enabled(metadata)
    }

    fn log(&self, record: &Record<'_>) {
        let (logger, level) = (self.host)();
        if record.level() <= level {
            logger.log(record);
        }
    }

    fn flush(&self) {
        (self.host)().0.flush();
    }
}
