//! Persistent globals: statics whose value survives reloads.
//!
//! `#[hcr_client::global] static NAME: T = init;` makes `NAME` a
//! [`Global<T>`], used through `Deref` like the static it replaces. In a hot
//! build its value lives in memory the runtime owns, registered by the
//! module's init under the global's path: the initializer runs on the first
//! load only, and every later version finds the value as it was. When the
//! type's layout or [`Fingerprint`](crate::Fingerprint) changes, the old
//! bytes are never read as the new type: a migration hook, if the global
//! has one, converts the old value, else the initializer runs again and a
//! warning names the global. In a static build it is a plain lazily
//! initialized static.

use std::ops::Deref;

/// A persistent global; see the module docs. Declare one with
/// `#[hcr_client::global]`.
pub struct Global<T: 'static> {
    #[cfg(not(feature = "static"))]
    hot: hot::Slot<T>,
    #[cfg(feature = "static")]
    value: std::sync::LazyLock<T, fn() -> T>,
}

impl<T: Send + Sync> Deref for Global<T> {
    type Target = T;

    /// The value.
    ///
    /// # Panics
    /// In a hot build with the runtime loaded, when the global is used
    /// outside its module's own library (another crate linking the module
    /// crate sees its own, unregistered copy), with a message that says so.
    /// Without a runtime (a module crate's own tests), it is a plain
    /// lazily initialized static.
    fn deref(&self) -> &T {
        #[cfg(not(feature = "static"))]
        return self.hot.get();
        #[cfg(feature = "static")]
        &self.value
    }
}

impl<T: std::fmt::Debug + Send + Sync> std::fmt::Debug for Global<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&**self, f)
    }
}

/// How to turn the value of an older layout into the current type.
#[doc(hidden)]
pub struct Migration<T> {
    /// Size, alignment and fingerprint of the older type.
    pub old: (usize, usize, u64),
    /// Reads the old value (a `&Old`) and converts it.
    ///
    /// # Safety
    /// The pointer is a live, aligned value of the older type.
    pub run: unsafe fn(*const u8) -> T,
}

impl<T> Clone for Migration<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Migration<T> {}

/// The layout a migration hook reads, taken from its signature.
#[doc(hidden)]
pub const fn old_layout<O: crate::Fingerprint, R>(_hook: fn(&O) -> R) -> (usize, usize, u64) {
    (size_of::<O>(), align_of::<O>(), O::FINGERPRINT)
}

impl<T: Send + Sync + 'static> Global<T> {
    /// Used by `#[global]`: the global `name` declared in `module_path` of
    /// crate `crate_name`; `owner` is true in that crate's module build.
    #[doc(hidden)]
    pub const fn __new(
        crate_name: &'static str,
        module_path: &'static str,
        name: &'static str,
        owner: bool,
        init: fn() -> T,
        migration: Option<Migration<T>>,
    ) -> Self {
        #[cfg(not(feature = "static"))]
        return Global {
            hot: hot::Slot::new(crate_name, module_path, name, owner, init, migration),
        };
        #[cfg(feature = "static")]
        {
            let _ = (crate_name, module_path, name, owner, migration);
            Global {
                value: std::sync::LazyLock::new(init),
            }
        }
    }
}

#[cfg(not(feature = "static"))]
pub use hot::RegisterGlobal;

#[cfg(not(feature = "static"))]
mod hot {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicPtr, Ordering};

    use super::{Global, Migration};
    use crate::__private::proc_name;
    use crate::runtime::{GlobalStatus, RuntimeLibrary};

    pub(super) struct Slot<T: 'static> {
        crate_name: &'static str,
        module_path: &'static str,
        name: &'static str,
        owner: bool,
        init: fn() -> T,
        migration: Option<Migration<T>>,
        value: AtomicPtr<T>,
        /// The value when no runtime is loaded (a module crate's own
        /// tests, a benchmark): a plain lazily initialized static.
        unhosted: OnceLock<T>,
    }

    impl<T> Slot<T> {
        pub(super) const fn new(
            crate_name: &'static str,
            module_path: &'static str,
            name: &'static str,
            owner: bool,
            init: fn() -> T,
            migration: Option<Migration<T>>,
        ) -> Self {
            Slot {
                crate_name,
                module_path,
                name,
                owner,
                init,
                migration,
                value: AtomicPtr::new(std::ptr::null_mut()),
                unhosted: OnceLock::new(),
            }
        }

        fn full_name(&self) -> String {
            format!("{}::{}", self.crate_name, self.path())
        }

        fn path(&self) -> String {
            proc_name(self.crate_name, self.module_path, self.name)
        }

        pub(super) fn get(&self) -> &T {
            let value = self.value.load(Ordering::Acquire);
            if value.is_null() {
                if crate::__private::runtime_loaded() {
                    self.unavailable()
                }
                return self.unhosted.get_or_init(self.init);
            }
            // SAFETY: a non-NULL pointer was stored by `register` after
            // the block held an initialized `T`; the block lives as long as
            // this version of the module uses it (until a reload changes
            // the global's layout, which loads a new version whose own
            // copy of this static holds the new block).
            unsafe { &*value }
        }

        #[cold]
        fn unavailable(&self) -> ! {
            if self.owner {
                panic!(
                    "global {} is used before its module's init registered it",
                    self.full_name()
                )
            }
            panic!(
                "global {} belongs to module `{}`: in a hot build only that module's code \
                 (its reloadable functions and what they call) can use it; call one of its \
                 reloadable functions instead",
                self.full_name(),
                self.crate_name
            )
        }
    }

    /// A global of the module being built, registered by its init.
    pub trait RegisterGlobal: Sync {
        /// Registers the global, initializes or migrates it, and points
        /// the static at its memory.
        fn register(&self, runtime: &RuntimeLibrary) -> Result<(), String>;
    }

    impl<T: crate::Fingerprint + Send + Sync + 'static> RegisterGlobal for Global<T> {
        fn register(&self, runtime: &RuntimeLibrary) -> Result<(), String> {
            let slot = &self.hot;
            let path = slot.path();
            let (block, status) = runtime
                .register_global(
                    slot.crate_name,
                    &path,
                    size_of::<T>(),
                    align_of::<T>(),
                    T::FINGERPRINT,
                )
                .map_err(|err| err.message)?;
            let block = block.as_ptr().cast::<T>();
            let fresh = match status {
                GlobalStatus::Existing => None,
                GlobalStatus::New => Some((slot.init)()),
                GlobalStatus::LayoutChanged => Some(self.migrate(runtime, &path)),
            };
            if let Some(value) = fresh {
                // SAFETY: the runtime gave a block of T's size and
                // alignment that nothing else writes during this init.
                unsafe { block.write(value) };
            }
            slot.value.store(block, Ordering::Release);
            Ok(())
        }
    }

    impl<T: crate::Fingerprint + Send + Sync + 'static> Global<T> {
        /// The value for a block whose layout changed: migrated from the
        /// old block if a hook reads exactly that layout, else initial.
        fn migrate(&self, runtime: &RuntimeLibrary, path: &str) -> T {
            let slot = &self.hot;
            let old = runtime.previous_global(slot.crate_name, path);
            match (slot.migration, old) {
                (Some(migration), Some((block, size, align, hash)))
                    if migration.old == (size, align, hash) =>
                {
                    // SAFETY: the old block holds a live value of the
                    // hook's input type (same size, alignment and
                    // fingerprint) and stays readable during this reload;
                    // the hook only borrows it.
                    unsafe { (migration.run)(block.as_ptr()) }
                }
                (migration, _) => {
                    let why = if migration.is_some() {
                        "its migration reads another layout than the old value's"
                    } else {
                        "it has no migration"
                    };
                    eprintln!(
                        "hcr: warning: global {} changed its type or layout and {why}, so it \
                         starts again from its initializer (the old value is not dropped)",
                        slot.full_name()
                    );
                    (slot.init)()
                }
            }
        }
    }
}
