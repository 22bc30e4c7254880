//! `tracing` events and spans from a module, handed to the host's current
//! dispatcher.

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::subscriber::{Interest, Subscriber};
use tracing_core::{Dispatch, Event, Metadata};

use crate::runtime::RuntimeLibrary;

/// Runs a closure with the host's current dispatcher.
type WithDispatch = fn(&mut dyn FnMut(&Dispatch));

const GLOBAL: &str = "tracing";

fn host_dispatch(f: &mut dyn FnMut(&Dispatch)) {
    tracing_core::dispatcher::get_default(|dispatch| f(dispatch));
}

pub(crate) fn publish(runtime: &RuntimeLibrary) -> Result<(), String> {
    super::publish::<WithDispatch>(runtime, GLOBAL, host_dispatch)
}

pub(crate) fn install(runtime: &RuntimeLibrary) {
    if let Some(with) = super::published::<WithDispatch>(runtime, GLOBAL) {
        // Only the first dat_init of this version sets it; later ones find
        // it set, which is fine.
        let _ = tracing_core::dispatcher::set_global_default(Dispatch::new(Forwarder { with }));
    }
}

/// The module's global subscriber: every call goes to the host's.
struct Forwarder {
    with: WithDispatch,
}

impl Forwarder {
    fn ask<T>(&self, fallback: T, f: impl Fn(&Dispatch) -> T) -> T {
        let mut answer = Some(fallback);
        (self.with)(&mut |dispatch| answer = Some(f(dispatch)));
        answer.expect("set above")
    }
}

impl Subscriber for Forwarder {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The host's dispatcher can change (scoped defaults), so every
        // event asks `enabled`.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.ask(false, |dispatch| dispatch.enabled(metadata))
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        self.ask(Id::from_u64(u64::MAX), |dispatch| dispatch.new_span(span))
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        (self.with)(&mut |dispatch| dispatch.record(span, values));
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        (self.with)(&mut |dispatch| dispatch.record_follows_from(span, follows));
    }

    fn event(&self, event: &Event<'_>) {
        (self.with)(&mut |dispatch| dispatch.event(event));
    }

    fn enter(&self, span: &Id) {
        (self.with)(&mut |dispatch| dispatch.enter(span));
    }

    fn exit(&self, span: &Id) {
        (self.with)(&mut |dispatch| dispatch.exit(span));
    }

    fn clone_span(&self, id: &Id) -> Id {
        self.ask(id.clone(), |dispatch| dispatch.clone_span(id))
    }

    fn try_close(&self, id: Id) -> bool {
        self.ask(false, |dispatch| dispatch.try_close(id.clone()))
    }
}
