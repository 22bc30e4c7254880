//! The module tree of a static build: every module crate linked into the
//! host registers its name, imports and lifecycle with [`inventory`], and
//! the host starts and shuts them down in dependency order, as the runtime
//! does in a hot build.
//!
//! Registered through a constructor rather than a linker section of its
//! own (as a hot module's functions and globals are): a linker that drops
//! unreferenced sections (GNU ld for Windows) keeps constructors, and the
//! host is linked by the user's own `cargo build`, where hcr cannot add
//! linker flags.

use crate::lifecycle::{Lifecycle, Saved};

/// One module crate linked into the host.
#[derive(Debug)]
pub struct StaticModule {
    name: &'static str,
    imports: &'static [&'static str],
    startup: fn() -> Result<(), String>,
    load: fn(Saved) -> Result<(), String>,
    unload: fn() -> Option<Vec<u8>>,
    shutdown: fn(),
}

impl StaticModule {
    /// Module `name` with `imports` and the hooks of `L`.
    pub const fn of<L: Lifecycle>(name: &'static str, imports: &'static [&'static str]) -> Self {
        StaticModule {
            name,
            imports,
            startup: L::startup,
            load: L::load,
            unload: L::unload,
            shutdown: L::shutdown,
        }
    }
}

inventory::collect!(StaticModule);

/// The started modules, leaves first.
#[derive(Debug, Default)]
pub(crate) struct Started(Vec<&'static StaticModule>);

impl Started {
    /// Runs `startup` and `load` of every module reachable from `imports`,
    /// leaves first. Modules that are not Rust crates (C modules) are not
    /// in the list and are skipped.
    ///
    /// # Errors
    /// The module and its message, after shutting down those started.
    pub(crate) fn start(imports: &[String]) -> Result<Started, (String, String)> {
        fn visit(name: &str, seen: &mut Vec<&'static str>, order: &mut Vec<&'static StaticModule>) {
            let mut linked = inventory::iter::<StaticModule>.into_iter();
            let Some(module) = linked.find(|module| module.name == name) else {
                return;
            };
            if seen.contains(&module.name) {
                return;
            }
            seen.push(module.name);
            for import in module.imports {
                visit(import, seen, order);
            }
            order.push(module);
        }
        let (mut seen, mut order) = (Vec::new(), Vec::new());
        for import in imports {
            visit(import, &mut seen, &mut order);
        }
        let mut started = Started::default();
        for module in order {
            let result = (module.startup)().and_then(|()| (module.load)(Saved::Nothing));
            if let Err(message) = result {
                started.shutdown();
                return Err((module.name.to_owned(), message));
            }
            started.0.push(module);
        }
        Ok(started)
    }

    /// Runs `unload` and `shutdown` of every started module, importers
    /// first, once.
    pub(crate) fn shutdown(&mut self) {
        for module in self.0.drain(..).rev() {
            let _ = (module.unload)();
            (module.shutdown)();
        }
    }
}
