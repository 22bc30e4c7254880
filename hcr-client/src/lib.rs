//! Hot code reloading for Rust programs: reloadable functions in plain
//! Rust, a host that reloads them at safe points, and a static build from
//! the same sources.
//!
//! A program is a small **host** (a binary) and **module** crates. In a hot
//! build each module crate is also built as a shared library
//! (`lib<crate>.so`; `<crate>.dll` on Windows); the host loads the runtime
//! library (`libhcr_runtime.so`; `hcr_runtime.dll`), which loads the
//! modules, and reloads a module when its library changes. Every
//! reloadable function has a stub in the runtime's jump table, and a
//! function pointer to it is the stub, so pointers taken before a reload
//! run the new code after it. A typed call reads the word the stub jumps
//! through and calls the current code directly: it costs what a call
//! through a `dlsym`'d pointer costs, in release and, because the calling
//! code is always inlined, at opt-level 0 too.
//!
//! # A module
//! A module crate depends on `hcr-client` (under that name) and on the
//! module crates it calls, and says so once:
//!
//! ```no_run
//! // physics/src/lib.rs
//! hcr_client::module!(); // or module!(imports = [geometry, "c_module"])
//!
//! /// A body in free fall.
//! #[derive(Debug, Clone, PartialEq)]
//! pub struct Body {
//!     pub name: String,
//!     pub height: f64,
//!     pub speed: f64,
//! }
//!
//! /// Advances every body by `dt` seconds. Edit it while the host runs.
//! #[hcr_client::reloadable]
//! pub fn step(bodies: Vec<Body>, dt: f64) -> Vec<Body> {
//!     bodies
//!         .into_iter()
//!         .map(|b| Body { height: b.height + b.speed * dt, speed: b.speed - 9.81 * dt, ..b })
//!         .collect()
//! }
//! ```
//!
//! Nothing else: no `extern "C"`, `#[no_mangle]` or registration. Mark the
//! crate with `[package.metadata.hcr] module = true` in its `Cargo.toml` so
//! that `cargo hcr` builds it as a module: `cargo rustc -p physics --lib
//! --crate-type cdylib -- --cfg hcr_module` (`hcr_build::RustModule`); the
//! `hcr_module` cfg tells the crate it is the module being built, so a
//! module linked into another crate as a library exports nothing and calls
//! through stubs.
//!
//! # A host
//! ```no_run
//! # mod physics {
//! #     #[derive(Debug, Clone, PartialEq)]
//! #     pub struct Body { pub name: String, pub height: f64, pub speed: f64 }
//! #     #[hcr_client::reloadable]
//! #     pub fn step(bodies: Vec<Body>, dt: f64) -> Vec<Body> { bodies }
//! # }
//! use hcr_client::Host;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Loads the runtime and the physics module from beside the executable.
//!     let host = Host::builder().import("physics").start()?;
//!     let mut bodies = vec![physics::Body { name: "ball".into(), height: 10.0, speed: 0.0 }];
//!     loop {
//!         // A safe point: no module code is running on this thread.
//!         if host.reload_needed() {
//!             match host.reload() {
//!                 Ok(report) => eprintln!("reloaded {:?} in {:?}", report.modules, report.elapsed),
//!                 Err(err) => eprintln!("{err}"), // the old code keeps running
//!             }
//!         }
//!         bodies = physics::step(bodies, 0.016); // an ordinary, type-checked call
//!         std::thread::sleep(std::time::Duration::from_millis(16));
//!     }
//! }
//! ```
//!
//! # Hot and static builds
//! Hot is the default, in every profile. The `static` feature (e.g. a
//! host feature `static = ["hcr-client/static"]`, then `cargo build
//! --release --features static`) links the module crates into the host as
//! ordinary crates: calls are direct, no runtime is loaded, [`HostBuilder::start`]
//! does nothing and [`Host::reload_needed`] is always false. The sources do
//! not change. Hot release builds (for speed) and static debug builds are
//! both possible, since the switch is not tied to the profile.
//!
//! # What crosses a reload, and what does not
//! * **Calls and function pointers.** A call or a pointer to a reloadable
//!   function always reaches the newest code.
//! * **Panics.** A panic in a reloadable function is caught in its module
//!   and raised again in the caller as an ordinary panic whose message is
//!   `module::function panicked: <message>`, so `catch_unwind` in the host
//!   works. (Each module has its own std; a panic unwinding from one into
//!   another would abort the process.) An `extern "C"` reloadable function
//!   cannot report a panic to a C caller: after the panic's message, Rust
//!   aborts the process where the panic reaches the function's end ("panic
//!   in a function that cannot unwind"), as for any `extern "C"` function.
//! * **Signatures and compilers.** Each reloadable function's signature
//!   (its text, the size and alignment of each parameter and of the
//!   result, and of every type they reach behind a reference, a raw
//!   pointer, a slice, an array or a type parameter such as `Box`, `Vec`
//!   or `Option`, with its [`Fingerprint`] where it has one) and the
//!   compiler that built each module are recorded. A reload that changes a
//!   signature while a module that is not reloaded with it (or the host)
//!   calls the function, or that brings a module built by another
//!   compiler, is refused with a message that names the function, what
//!   differs (a field added to a `State` passed as `&mut State` shows as
//!   its two layouts) and the fix, or both compilers; the old code keeps
//!   running. A type reached only through a field of another type, or
//!   behind a trait object, is covered only by its container's size (and
//!   fingerprint).
//! * **`tracing` and `log`.** Events and records emitted in modules go to
//!   the host's subscriber or logger (features `tracing` and `log`, on by
//!   default; host and modules must use the same versions of those
//!   crates, as one `Cargo.lock` gives).
//! * **Persistent globals.** A `static` marked [`macro@global`] keeps its
//!   value across reloads; its initializer runs on the first load only. A
//!   change of its type (found by [`Fingerprint`]: field names, order and
//!   types) starts it again with a warning, or runs its migration hook.
//!   Other modules and the host read a `pub` global in the owner's memory
//!   (see below).
//! * **Plain `static`s and thread-locals are not kept.** Every version of a
//!   module is a new library with fresh statics: a `static COUNTER:
//!   AtomicU32` in a module starts again at its initial value after each
//!   reload of that module. Make it a persistent global, or carry it
//!   through the module's [`Lifecycle`] (`unload` returns bytes, the next
//!   version's `load` gets them).
//! * **Lifecycle and veto.** `module!(lifecycle = T)` runs `startup` once,
//!   `load`/`unload` per version and `shutdown` once (importers first); its
//!   `can_reload` can refuse a reload. `docs/state.md` in the repository
//!   says all of this with examples.
//! * **One allocator.** Modules use Rust's default, the system allocator
//!   (`malloc`), and values that own heap memory (`String`, `Vec`, `Box`)
//!   move between host and modules and are freed on the other side. So the
//!   host must use the system allocator too: a host with a
//!   `#[global_allocator]` of its own would free module memory with the
//!   wrong allocator, and hcr does not forward it. To use another
//!   allocator, install it as the process's `malloc` (for example
//!   mimalloc's `override` mode, or `LD_PRELOAD`), which every library
//!   then shares.
//! * **Without a runtime** (a module crate's own `cargo test`, a
//!   benchmark, a host that has not started yet), calls run the code
//!   linked into the caller and globals are plain statics, so a module
//!   crate tests like any crate.
//! * **Code stays mapped.** Old versions are never unloaded, so a thread
//!   still running old code, or a `&'static str` from a module, stays valid.
//!
//! # Reload handlers
//! [`before_reload`] and [`after_reload`] add code that runs around every
//! reload that replaces code, in every module of the tree and in the host
//! (Nim's `beforeCodeReload` and `afterCodeReload`): the before-handlers
//! of the code about to be replaced, then the after-handlers of the code
//! now loaded, modules leaves first and the host last, each module's in
//! the order it added them. A module adds its handlers in
//! [`Lifecycle::load`], so that each version has its own; the host adds
//! its own after [`HostBuilder::start`].
//!
//! ```no_run
//! fn flush_log() { /* ... */ }
//! fn reopen_log() { /* ... */ }
//!
//! struct Hooks;
//! impl hcr_client::Lifecycle for Hooks {
//!     fn load(_: hcr_client::Saved) -> Result<(), String> {
//!         hcr_client::before_reload(flush_log);
//!         hcr_client::after_reload(reopen_log);
//!         Ok(())
//!     }
//! }
//! hcr_client::module!(lifecycle = Hooks);
//! ```
//!
//! # Other modules' globals
//! A `pub` persistent global is one value, wherever it is used: another
//! module (or the host) that names `physics::GRAVITY` reads and writes the
//! memory `physics` registered, found through the runtime and checked
//! against the type it was built with. The address is kept and looked up
//! again only after a reload. If the owner's loaded version no longer has
//! the global, or has it with another type, using it panics with a message
//! that names the global (and both types).
//!
//! ```no_run
//! // physics/src/lib.rs
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! #[hcr_client::global]
//! pub static STEPS: AtomicU64 = AtomicU64::new(0);
//!
//! // In another module, or in the host:
//! # fn elsewhere() {
//! let steps = STEPS.load(Ordering::Relaxed); // physics's value
//! # }
//! ```
//!
//! # Methods and trait impls
//! [`macro@reloadable`] on an inherent `impl` block makes its methods and
//! associated functions reloadable (receivers `self`, `&self`,
//! `&mut self`, `self: Box<Self>`, or none); with `#[reloadable]` on some
//! of its methods, only those. On `impl Trait for Type`, the trait's
//! methods call through stubs, so a `Box<dyn Trait>` made before a reload,
//! and generic code compiled into any crate, run the newest code.
//!
//! ```no_run
//! pub struct World { pub tick: u64 }
//!
//! #[hcr_client::reloadable]
//! impl World {
//!     pub fn new() -> World { World { tick: 0 } }
//!     pub fn step(&mut self) { self.tick += 1 }
//! }
//!
//! pub trait Draw { fn draw(&self) -> String; }
//!
//! #[hcr_client::reloadable]
//! impl Draw for World {
//!     fn draw(&self) -> String { format!("tick {}", self.tick) }
//! }
//! ```
//!
//! # Limits
//! A reloadable function or method cannot be generic, `async`, `const`, or
//! take or return `impl Trait`: its code would be compiled into each
//! caller, where a reload cannot reach it; call such code from inside a
//! reloadable function instead. An impl block must not be generic either.
//! Trait methods an impl does not write (the trait's defaults) and generic
//! trait methods stay ordinary. A method is made reloadable through its
//! impl block: an attribute on a method alone cannot see the type its
//! registration names. The generated code names `::hcr_client`, so depend
//! on this crate under its own name.

#![deny(missing_docs)]

#[doc(hidden)]
#[path = "private/mod.rs"]
pub mod __private;
pub mod fingerprint;
#[cfg(not(feature = "static"))]
mod forward;
mod global;
#[cfg(not(feature = "static"))]
mod guarded;
mod handlers;
mod host;
pub mod lifecycle;
pub mod runtime;
mod sys;

/// Makes a function reloadable: every call, from any crate, reaches the
/// newest code through its stub's cell, and a pointer to it is the stub.
///
/// Works on free functions with the Rust ABI (any Rust types as parameters
/// and result) and on `extern "C"` functions (callable from C modules with
/// `hcr_get_proc("<crate>", "<name>")`). The function is registered under
/// its path inside the crate (`step`, or `geometry::area` in module
/// `geometry`).
///
/// What other crates compile in its place is a small wrapper (two loads,
/// a test and the call), marked `#[inline(always)]` unless you give the
/// function an `#[inline]` attribute of your own. A panic in a Rust-ABI
/// function reaches the caller as a panic that names the function; an
/// `extern "C"` one cannot unwind into its caller: Rust aborts the process
/// where the panic leaves it, after the panic's message.
///
/// ```no_run
/// #[hcr_client::reloadable]
/// pub fn greet(name: &str) -> String {
///     format!("hello, {name}")
/// }
///
/// #[hcr_client::reloadable]
/// pub extern "C" fn twice(x: i32) -> i32 {
///     x * 2
/// }
/// ```
///
/// On an `impl` block it makes the block's methods reloadable, registered
/// as `Type::method` (or `<Type as Trait>::method`): every eligible method
/// of the block, or only those marked `#[reloadable]` inside it. Generic,
/// `async`, `const` and `impl Trait` methods stay ordinary, and are refused
/// with the reason when marked.
///
/// ```no_run
/// pub struct Counter { pub count: u32 }
///
/// #[hcr_client::reloadable]
/// impl Counter {
///     #[reloadable]
///     pub fn bump(&mut self) -> u32 { self.count += 1; self.count }
///     pub fn peek(&self) -> u32 { self.count } // not marked: ordinary
/// }
/// ```
pub use hcr_client_macros::reloadable;

/// Declares the crate to be a module and lists what it imports: module
/// crates by name (each must be a dependency) and modules written in other
/// languages as strings. Call it once, at the crate root.
///
/// `lifecycle = Type` names a type implementing [`Lifecycle`], whose hooks
/// run at startup, on each load and unload, and at shutdown, and which can
/// veto a reload.
///
/// ```no_run
/// // With module crates: `hcr_client::module!(imports = [geometry, "c_physics"]);`
/// struct Hooks;
/// impl hcr_client::Lifecycle for Hooks {
///     fn can_reload() -> bool {
///         true // e.g. false while a transaction is open
///     }
/// }
/// hcr_client::module!(imports = ["c_physics"], lifecycle = Hooks);
/// ```
pub use hcr_client_macros::module;

/// Makes a `static` a persistent global ([`Global`]): its value survives
/// reloads, its initializer runs on the module's first load only, and a
/// change of its type is detected by [`Fingerprint`]. Use it through
/// `Deref`, as the static it replaces; shared mutation needs a type that
/// allows it (an atomic, a `Mutex`), as for any static.
///
/// `#[global(migrate = hook)]` names a `fn(&Old) -> T` that converts the
/// value when the type changed from `Old` (matched by fingerprint, size
/// and alignment); without one, or for another old type, the global starts
/// again from its initializer and a warning names it.
///
/// ```no_run
/// use std::sync::Mutex;
/// use std::sync::atomic::AtomicU64;
///
/// #[hcr_client::global]
/// static FRAMES: AtomicU64 = AtomicU64::new(0);
///
/// #[derive(hcr_client::Fingerprint)]
/// struct OldScore { points: u32 }
///
/// #[derive(hcr_client::Fingerprint)]
/// struct Score { points: u64, bonus: u64 }
///
/// fn upgrade(old: &Mutex<OldScore>) -> Mutex<Score> {
///     let points = old.lock().map(|old| u64::from(old.points)).unwrap_or(0);
///     Mutex::new(Score { points, bonus: 0 })
/// }
///
/// #[hcr_client::global(migrate = upgrade)]
/// static SCORE: Mutex<Score> = Mutex::new(Score { points: 0, bonus: 0 });
/// ```
pub use hcr_client_macros::global;

pub use fingerprint::Fingerprint;
pub use global::Global;
pub use handlers::{after_reload, before_reload};
/// Derives [`Fingerprint`] from the type's structure: field and variant
/// names in order, each field type's fingerprint, and the `repr`. Every
/// field type must implement [`Fingerprint`].
///
/// ```
/// #[derive(hcr_client::Fingerprint)]
/// struct Settings {
///     volume: u8,
///     names: Vec<String>,
/// }
/// ```
pub use hcr_client_macros::Fingerprint;
/// Calls the procs of a module written in C: each function of the block
/// becomes a Rust function that calls the proc's stub (`safe fn` ones can
/// be called without `unsafe`). In a static build the block is kept as
/// written, to be linked with the C code.
///
/// ```no_run
/// #[hcr_client::foreign(module = "c_physics")]
/// unsafe extern "C" {
///     safe fn gravity(height: f64) -> f64;
///     fn fill(buffer: *mut u8, len: usize);
/// }
/// ```
pub use hcr_client_macros::foreign;
pub use host::{GuardError, Host, HostBuilder, ReloadError, ReloadReport, StartError};
pub use lifecycle::{Lifecycle, Saved};
pub use runtime::{
    GlobalStatus, PlacementKind, ReloadPhases, RuntimeError, RuntimeLibrary, TablePlacement,
};
