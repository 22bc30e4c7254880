//! Reload handlers: code that runs before and after every reload, in
//! every module of the tree and in the host (Nim's `beforeCodeReload` and
//! `afterCodeReload`).
//!
//! Each copy of this crate (the host's, and one per module version) keeps
//! its handlers in a list of its own and gives the runtime one function
//! per kind that runs that list in registration order. A module version's
//! functions are added by its init, so they belong to that version: the
//! runtime runs the before-handlers of the code being replaced, the
//! after-handlers of the code that replaced it, leaves first and the host
//! last, and drops a version's handlers when it is replaced. The host's
//! are added when the host starts, or at its first handler after that.
//!
//! The after-function of every copy also tells that copy's persistent
//! globals of other modules to look their memory up again
//! ([`foreign_epoch`]), before any handler of the copy runs.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

/// One handler: its name (the function's path, or its closure's) and the
/// code.
struct Handler {
    name: &'static str,
    run: Box<dyn Fn() + Send + Sync>,
}

/// This copy's handlers, in registration order.
#[derive(Default)]
struct Lists {
    before: Vec<std::sync::Arc<Handler>>,
    after: Vec<std::sync::Arc<Handler>>,
}

static LISTS: Mutex<Lists> = Mutex::new(Lists {
    before: Vec::new(),
    after: Vec::new(),
});

fn lists() -> std::sync::MutexGuard<'static, Lists> {
    LISTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Adds `handler` to run before every reload that replaces code: in a
/// module, before the reload that replaces this version of the module
/// and before every other reload while this version is loaded; in the
/// host, before every reload. A panic in it is caught and named on
/// stderr, and the other handlers still run.
///
/// Call it from a module's [`Lifecycle::load`](crate::Lifecycle::load),
/// which runs for every version (from `startup`, which runs once per
/// process, the handler belongs to the first version only), or from the
/// host once [`Host::start`](crate::Host) has run; a handler added by the
/// host before that is kept until it starts. In a static build the handler
/// is accepted and never runs: nothing reloads.
///
/// ```no_run
/// fn pause_audio() { /* ... */ }
///
/// struct Hooks;
/// impl hcr_client::Lifecycle for Hooks {
///     fn load(_: hcr_client::Saved) -> Result<(), String> {
///         hcr_client::before_reload(pause_audio);
///         Ok(())
///     }
/// }
/// hcr_client::module!(lifecycle = Hooks);
/// ```
pub fn before_reload<F: Fn() + Send + Sync + 'static>(handler: F) {
    add(true, handler);
}

/// Adds `handler` to run after every reload that replaced code (also after
/// one that failed, for the code that stays); otherwise as
/// [`before_reload`]. After a reload, the after-handlers that run are
/// those of the versions now loaded: a module that left the tree runs
/// none.
pub fn after_reload<F: Fn() + Send + Sync + 'static>(handler: F) {
    add(false, handler);
}

fn add<F: Fn() + Send + Sync + 'static>(before: bool, handler: F) {
    let handler = std::sync::Arc::new(Handler {
        name: std::any::type_name::<F>(),
        run: Box::new(handler),
    });
    {
        let mut lists = lists();
        let list = if before {
            &mut lists.before
        } else {
            &mut lists.after
        };
        list.push(handler);
    }
    #[cfg(not(feature = "static"))]
    hot::host_handlers_added();
}

/// Runs this copy's handlers of one kind, each contained.
#[cfg_attr(
    feature = "static",
    allow(
        dead_code,
        reason = "a static build has no reloads to run handlers for"
    )
)]
fn run(before: bool, owner: &str) {
    // Cloned out of the lock: a handler may add handlers.
    let handlers = {
        let lists = lists();
        if before {
            lists.before.clone()
        } else {
            lists.after.clone()
        }
    };
    let kind = if before { "before" } else { "after" };
    for handler in handlers {
        if catch_unwind(AssertUnwindSafe(|| (handler.run)())).is_err() {
            eprintln!(
                "hcr: {kind}-reload handler `{}` of {owner} panicked; the other handlers still run",
                handler.name
            );
        }
    }
}

#[cfg(not(feature = "static"))]
pub(crate) use hot::{foreign_epoch, install_for_host, install_for_module};

#[cfg(not(feature = "static"))]
mod hot {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    use crate::__private::self_module;
    use crate::runtime::RuntimeLibrary;

    /// Bumped after every reload, before this copy's handlers run: a
    /// persistent global of another module that this copy looked up in an
    /// older epoch looks it up again.
    static FOREIGN_EPOCH: AtomicU64 = AtomicU64::new(1);

    /// Whether this copy gave the runtime its handler functions.
    static INSTALLED: AtomicBool = AtomicBool::new(false);

    /// The current epoch of this copy's lookups of other modules' globals.
    pub(crate) fn foreign_epoch() -> u64 {
        FOREIGN_EPOCH.load(Ordering::Acquire)
    }

    fn owner() -> String {
        match self_module() {
            Some(module) => format!("module `{}`", module.to_string_lossy()),
            None => "the host".to_owned(),
        }
    }

    extern "C" fn run_before() {
        super::run(true, &owner());
    }

    extern "C" fn run_after() {
        FOREIGN_EPOCH.fetch_add(1, Ordering::AcqRel);
        super::run(false, &owner());
    }

    /// Gives the runtime this copy's handler functions, once.
    fn install(runtime: &RuntimeLibrary) {
        if !INSTALLED.swap(true, Ordering::AcqRel) {
            runtime.add_event_handler(true, run_before);
            runtime.add_event_handler(false, run_after);
        }
    }

    /// From a module version's init: its handlers belong to it.
    pub(crate) fn install_for_module(runtime: &RuntimeLibrary) {
        install(runtime);
    }

    /// From the host, once the tree started (or at its first lookup of a
    /// module's global): its handlers run last.
    pub(crate) fn install_for_host(runtime: &RuntimeLibrary) {
        if self_module().is_none() {
            install(runtime);
        }
    }

    /// A handler was added: in the host, once the runtime runs, the
    /// runtime must know the host's functions.
    pub(super) fn host_handlers_added() {
        if let Some(runtime) = crate::__private::loaded_runtime() {
            install_for_host(&runtime);
        }
    }
}
