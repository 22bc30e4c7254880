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
//!
//! Another crate (another module, or the host) that uses a `pub` global
//! reads the owner's memory: the same value the owner's code sees, found
//! through the runtime by module and path, and checked against the type
//! this crate was built with (fingerprint, size and alignment; the owner
//! records them beside the value). The address is kept and looked up
//! again only after a reload. A global the owner no longer has, or has
//! with another type, panics on use, naming it (and both types).

use std::ops::Deref;

/// A persistent global; see the module docs. Declare one with
/// `#[hcr_client::global]`.
pub struct Global<T: 'static> {
    #[cfg(not(feature = "static"))]
    hot: hot::Slot<T>,
    #[cfg(feature = "static")]
    value: std::sync::LazyLock<T, fn() -> T>,
}

impl<T: crate::Fingerprint + Send + Sync> Deref for Global<T> {
    type Target = T;

    /// The value. Do not keep the reference across a reload: a reload
    /// that changes the global's type gives it new memory.
    ///
    /// # Panics
    /// In a hot build with the runtime loaded: in the owner's module, when
    /// used before its init registered the global; elsewhere, when the
    /// owner's loaded version has no such global or has it with another
    /// type. Without a runtime (a module crate's own tests), it is a plain
    /// lazily initialized static.
    fn deref(&self) -> &T {
        #[cfg(not(feature = "static"))]
        return self.hot.get();
        #[cfg(feature = "static")]
        &self.value
    }
}

impl<T: crate::Fingerprint + std::fmt::Debug + Send + Sync> std::fmt::Debug for Global<T> {
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
    use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

    use super::{Global, Migration};
    use crate::__private::proc_name;
    use crate::runtime::{GlobalStatus, RuntimeLibrary};

    /// What the owner records beside each global, for other crates to
    /// check their type against: registered as the global `hcr.type:<path>`
    /// of the owner's module.
    #[repr(C)]
    struct TypeRecord {
        fingerprint: u64,
        size: usize,
        align: usize,
        /// Held in the block itself, so that it outlives the version that
        /// wrote it (a pointer into that version would dangle once it is
        /// unloaded): the first `name_len` bytes, cut at a character
        /// boundary if the name is longer (then `cut` is set).
        type_name: [u8; TYPE_NAME_CAPACITY],
        name_len: usize,
        cut: bool,
    }

    const TYPE_NAME_CAPACITY: usize = 232;

    impl TypeRecord {
        fn new<T: crate::Fingerprint>() -> Self {
            let name = std::any::type_name::<T>();
            let mut len = name.len().min(TYPE_NAME_CAPACITY);
            while !name.is_char_boundary(len) {
                len -= 1;
            }
            let mut type_name = [0; TYPE_NAME_CAPACITY];
            type_name[..len].copy_from_slice(&name.as_bytes()[..len]);
            TypeRecord {
                fingerprint: T::FINGERPRINT,
                size: size_of::<T>(),
                align: align_of::<T>(),
                type_name,
                name_len: len,
                cut: len < name.len(),
            }
        }

        /// The type's name, with "…" where it was cut.
        fn type_name(&self) -> String {
            let len = self.name_len.min(TYPE_NAME_CAPACITY);
            let name = String::from_utf8_lossy(&self.type_name[..len]);
            if self.cut {
                format!("{name}…")
            } else {
                name.into_owned()
            }
        }
    }

    /// Tells a `TypeRecord` block from one of another layout.
    const TYPE_RECORD_TAG: u64 = crate::fingerprint::start("hcr-client TypeRecord v2");

    fn type_record_name(path: &str) -> String {
        format!("hcr.type:{path}")
    }

    pub(super) struct Slot<T: 'static> {
        crate_name: &'static str,
        module_path: &'static str,
        name: &'static str,
        owner: bool,
        init: fn() -> T,
        migration: Option<Migration<T>>,
        value: AtomicPtr<T>,
        /// For another crate's global: the epoch of this copy's lookups
        /// (see `handlers::foreign_epoch`) in which `value` was found.
        epoch: AtomicU64,
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
                epoch: AtomicU64::new(0),
                unhosted: OnceLock::new(),
            }
        }

        fn full_name(&self) -> String {
            format!("{}::{}", self.crate_name, self.path())
        }

        fn path(&self) -> String {
            proc_name(self.crate_name, self.module_path, self.name)
        }
    }

    impl<T: crate::Fingerprint> Slot<T> {
        pub(super) fn get(&self) -> &T {
            let value = self.value.load(Ordering::Acquire);
            let current = self.owner
                || self.epoch.load(Ordering::Acquire) == crate::handlers::foreign_epoch();
            if value.is_null() || !current {
                return self.slow_get();
            }
            // SAFETY: a non-NULL pointer was stored by `register` (the
            // owner) or `look_up` (another crate, in the current epoch)
            // after the block held an initialized `T`; the block lives
            // until a reload changes the global's layout or removes it,
            // after which the owner's new version has its own copy of this
            // static and another crate's epoch has moved on.
            unsafe { &*value }
        }

        #[cold]
        #[inline(never)]
        fn slow_get(&self) -> &T {
            let Some(runtime) = crate::__private::loaded_runtime() else {
                return self.unhosted.get_or_init(self.init);
            };
            if self.owner {
                panic!(
                    "global {} is used before its module's init registered it",
                    self.full_name()
                )
            }
            let found = self.look_up(&runtime);
            // SAFETY: as in `get`: `look_up` checked that the block holds
            // a `T`, in this epoch.
            unsafe { &*found }
        }

        /// Finds the owner's memory for another crate, checking the type
        /// the owner recorded, and keeps it for this epoch.
        fn look_up(&self, runtime: &RuntimeLibrary) -> *mut T {
            crate::handlers::install_for_host(runtime);
            let epoch = crate::handlers::foreign_epoch();
            let path = self.path();
            let record = runtime.get_global(self.crate_name, &type_record_name(&path));
            let value = runtime.get_global(self.crate_name, &path);
            let (Some(record), Some(value)) = (record, value) else {
                panic!(
                    "global {} is not there: the loaded version of module `{}` does not \
                     register it (was it removed, or is the module not loaded?)",
                    self.full_name(),
                    self.crate_name
                )
            };
            // SAFETY: the owner registered this block with TypeRecord's
            // tag, size and alignment and wrote one in its init.
            let record = unsafe { &*record.as_ptr().cast::<TypeRecord>() };
            let mine = (T::FINGERPRINT, size_of::<T>(), align_of::<T>());
            if (record.fingerprint, record.size, record.align) != mine {
                panic!(
                    "global {} has another type in the loaded version of module `{}` \
                     (`{}`) than this code was built with (`{}`): rebuild this crate \
                     against the module's new version",
                    self.full_name(),
                    self.crate_name,
                    record.type_name(),
                    std::any::type_name::<T>()
                )
            }
            let value = value.as_ptr().cast::<T>();
            self.value.store(value, Ordering::Release);
            self.epoch.store(epoch, Ordering::Release);
            value
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
            record_type::<T>(runtime, slot.crate_name, &path, status)
        }
    }

    /// Records the global's type beside it, for other crates' checks:
    /// written when the record or the value is new.
    fn record_type<T: crate::Fingerprint>(
        runtime: &RuntimeLibrary,
        module: &str,
        path: &str,
        value_status: GlobalStatus,
    ) -> Result<(), String> {
        let (block, status) = runtime
            .register_global(
                module,
                &type_record_name(path),
                size_of::<TypeRecord>(),
                align_of::<TypeRecord>(),
                TYPE_RECORD_TAG,
            )
            .map_err(|err| err.message)?;
        if status != GlobalStatus::Existing || value_status != GlobalStatus::Existing {
            let record = TypeRecord::new::<T>();
            // SAFETY: a block of TypeRecord's size and alignment, which
            // nothing else writes during this init.
            unsafe { block.as_ptr().cast::<TypeRecord>().write(record) };
        }
        Ok(())
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

    #[cfg(test)]
    mod tests {
        use super::TypeRecord;

        #[test]
        fn a_type_record_holds_its_name_and_cuts_a_long_one_with_a_mark() {
            assert_eq!(TypeRecord::new::<u64>().type_name(), "u64");
            type Long = ((u64, u64, u64, u64), (u64, u64, u64, u64), [(u64, i64); 3]);
            type Longer = (Long, Long, Long, Long, Long);
            let full = std::any::type_name::<Longer>();
            let record = TypeRecord::new::<Longer>();
            let shown = record.type_name();
            assert!(full.len() > record.type_name.len(), "{full}");
            assert!(shown.ends_with('…'), "{shown}");
            assert!(full.starts_with(shown.trim_end_matches('…')), "{shown}");
            assert_eq!(
                record.fingerprint,
                <Longer as crate::Fingerprint>::FINGERPRINT
            );
        }
    }
}
