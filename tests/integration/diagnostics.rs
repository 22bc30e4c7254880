//! `tracing` events and `log` records emitted in a module reach the host's
//! subscriber and logger, though the module has its own copy of both
//! crates.

use std::sync::{Arc, Mutex};

use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Metadata, Subscriber};

/// Records event messages and span names.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<String>>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl Subscriber for Collector {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = Message(format!("span {}", span.metadata().name()));
        span.record(&mut text);
        self.0.lock().unwrap().push(text.0);
        Id::from_u64(7)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = Message(format!("event {}", event.metadata().target()));
        event.record(&mut text);
        self.0.lock().unwrap().push(text.0);
    }
    fn enter(&self, span: &Id) {
        self.0
            .lock()
            .unwrap()
            .push(format!("enter {}", span.into_u64()));
    }
    fn exit(&self, span: &Id) {
        self.0
            .lock()
            .unwrap()
            .push(format!("exit {}", span.into_u64()));
    }
}

/// Records log lines.
struct Logger(Mutex<Vec<String>>);

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

scenario! {
    fn tracing_events_and_log_records_from_a_module_reach_the_host(host) {
        let logger: &'static Logger = Box::leak(Box::new(Logger(Mutex::new(Vec::new()))));
        log::set_logger(logger).unwrap();
        log::set_max_level(log::LevelFilter::Info);
        host.install("fx_shapes", "fx_shapes-1");
        let hcr = host.start(&["fx_shapes"]);

        let collector = Collector::default();
        tracing_core::dispatcher::with_default(
            &tracing_core::Dispatch::new(collector.clone()),
            || assert_eq!(fx_shapes::announce(3), 3),
        );
        let seen = collector.0.lock().unwrap().clone();
        assert_eq!(
            seen,
            [
                "span announce n=3",
                "enter 7",
                "event fx_shapes message=traced from fx_shapes v1 n=3",
                "exit 7",
            ]
        );
        assert_eq!(
            *logger.0.lock().unwrap(),
            ["WARN fx_shapes logged from fx_shapes v1: 3"]
        );

        // A new version forwards too; the host's level still applies.
        host.install("fx_shapes", "fx_shapes-2");
        hcr.reload().unwrap();
        log::set_max_level(log::LevelFilter::Error);
        let collector = Collector::default();
        tracing_core::dispatcher::with_default(
            &tracing_core::Dispatch::new(collector.clone()),
            || fx_shapes::announce(4),
        );
        assert!(collector.0.lock().unwrap().contains(
            &"event fx_shapes message=traced from fx_shapes v2 n=4".to_owned()
        ));
        assert_eq!(logger.0.lock().unwrap().len(), 1, "WARN is above the host's level now");
        log::set_max_level(log::LevelFilter::Warn);
        fx_shapes::announce(5);
        assert_eq!(
            logger.0.lock().unwrap().last().map(String::as_str),
            Some("WARN fx_shapes logged from fx_shapes v2: 5")
        );
    }
}

scenario! {
    stderr("thread 'renderer' panicked at ")
    fn a_panic_in_a_module_names_the_thread_as_the_host_named_it(host) {
        host.install("fx_shapes", "fx_shapes-1");
        let _hcr = host.start(&["fx_shapes"]);
        let caught = std::thread::Builder::new()
            .name("renderer".into())
            .spawn(|| std::panic::catch_unwind(|| fx_shapes::explode("boom")).is_err())
            .unwrap()
            .join()
            .unwrap();
        assert!(caught, "the panic reached the caller");
    }
}
