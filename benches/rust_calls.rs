//! Per-call cost of typed Rust calls into reloadable code: hcr's
//! `#[reloadable]` functions beside the other hot-reload systems for Rust
//! and a plain `dylib` function pointer, in one run, with one thread and
//! with a second thread calling at once.
//!
//! `cargo bench -p hcr-benches --bench rust_calls`
//!
//! - hcr: the module `hcr_bench_module` is built and loaded through
//!   `hcr_client::Host`, as a real host does; the bench calls its functions
//!   the way host code does.
//! - hot-lib-reloader: its `hot_module` wrapper around `add` in a library
//!   built from `peers/add_lib.rs`. Each call takes the loader's lock and
//!   looks the symbol up.
//! - subsecond: `subsecond::call(tick)` after a patch built from
//!   `peers/subsecond_patch.rs` was applied with `subsecond::apply_patch`.
//!   subsecond looks a patch up only when built with debug assertions
//!   (without them `call` is a plain call and a patch never runs), so the
//!   workspace builds subsecond alone with them in the bench profile.
//! - `libloading`: a function pointer to `add` in the same library
//!   hot-lib-reloader loads; the ratios' base.
//!
//! The peer libraries are compiled with `rustc` at the bench's opt level
//! (`CARGO_PROFILE_BENCH_OPT_LEVEL`, else 3).

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use hcr_build::RustModule;
use hcr_client::Host;

#[inline(never)]
fn add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

#[inline(never)]
fn join(a: &str, b: &str) -> String {
    let mut joined = String::with_capacity(a.len() + b.len());
    joined.push_str(a);
    joined.push_str(b);
    joined
}

/// The host, started once and kept for the whole run.
static HOST: OnceLock<Host> = OnceLock::new();

fn host() -> &'static Host {
    HOST.get_or_init(start)
}

fn start() -> Host {
    let release = !cfg!(debug_assertions);
    let runtime = hcr_build::runtime_library(release).expect("build the runtime");
    let module = RustModule::new("hcr_bench_module")
        .manifest_path(hcr_build::workspace_dir().join("Cargo.toml"))
        .release(release)
        .build()
        .expect("build the module");
    Host::builder()
        .runtime_library(runtime)
        .module_dir(module.parent().expect("a file has a directory"))
        .import("hcr_bench_module")
        .start()
        .expect("start the module")
}

/// Where the peer libraries are built; set before the first call of a
/// hot-lib-reloader function.
static PEER_DIR: OnceLock<PathBuf> = OnceLock::new();

fn peer_dir() -> PathBuf {
    PEER_DIR
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-peers");
            std::fs::create_dir_all(&dir).expect("bench directory");
            dir
        })
        .clone()
}

#[hot_lib_reloader::hot_module(dylib = "hcr_bench_peer", lib_dir = super::peer_dir())]
mod hot_peer {
    #[hot_function]
    pub fn add(a: u64, b: u64) -> u64 {}
}

/// Compiles the peer library `source` (in `peers/`) into `lib<name>.so` in
/// the peer directory, with the same `rustc` cargo uses.
fn compile_peer(source: &str, name: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("peers")
        .join(source);
    let library = peer_dir().join(format!("lib{name}.so"));
    let opt_level =
        std::env::var("CARGO_PROFILE_BENCH_OPT_LEVEL").unwrap_or_else(|_| "3".to_owned());
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let status = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "cdylib",
            "--crate-name",
        ])
        .arg(name)
        .arg(format!("-Copt-level={opt_level}"))
        .arg(&source)
        .arg("-o")
        .arg(&library)
        .status()
        .expect("run rustc");
    assert!(status.success(), "rustc failed on {}", source.display());
    library
}

/// `add` in the peer library, as a plain `dylib` function pointer.
fn dylib_add(library: &Path) -> (libloading::Library, fn(u64, u64) -> u64) {
    // SAFETY: the library (peers/add_lib.rs) has no initializers.
    let library = unsafe { libloading::Library::new(library) }.expect("dlopen");
    // SAFETY: `add` has this signature and ABI in peers/add_lib.rs, compiled
    // by the same rustc.
    let add = *unsafe { library.get::<fn(u64, u64) -> u64>(b"add\0") }.expect("dlsym");
    (library, add)
}

/// The function the subsecond case calls through `subsecond::call`.
fn tick() -> u64 {
    add(black_box(1), black_box(2))
}

/// Builds the patch for `tick` and applies it through subsecond's public
/// API, as its CLI would; returns the library, which must stay loaded.
fn patch_tick() -> libloading::Library {
    let path = compile_peer("subsecond_patch.rs", "hcr_bench_subsecond_patch");
    // SAFETY: the patch library has no initializers.
    let library = unsafe { libloading::Library::new(&path) }.expect("dlopen the patch");
    let address = |symbol: &[u8]| {
        // SAFETY: only the symbol's address is read, nothing is called.
        let symbol = unsafe { library.get::<unsafe extern "C" fn()>(symbol) };
        *symbol.expect("a symbol of the patch") as usize as u64
    };
    let (main, patched) = (address(b"main\0"), address(b"hcr_bench_patched_tick\0"));
    // Before a patch, `ptr_address` is the address subsecond looks up.
    let original = subsecond::HotFn::current(tick).ptr_address().0;
    let mut table = subsecond::JumpTable {
        lib: path,
        map: Default::default(),
        aslr_reference: subsecond::aslr_reference() as u64,
        new_base_address: 0,
        ifunc_count: 0,
    };
    // Addresses in the patch are offsets from its `main`.
    table.map.insert(original, patched - main);
    // SAFETY: the map sends `tick`'s entry to a function with the signature
    // subsecond calls it with (peers/subsecond_patch.rs).
    unsafe { subsecond::apply_patch(table) }.expect("apply the patch");
    assert_eq!(subsecond::call(tick), 103, "the patch runs");
    library
}

type Group<'a> = BenchmarkGroup<'a, WallTime>;

/// Benches each case it is shown, alone or while a second thread makes the
/// same call.
struct Bench<'g, 'a> {
    group: &'g mut Group<'a>,
    second_thread: bool,
}

impl Bench<'_, '_> {
    fn case<R>(&mut self, name: &str, call: impl Fn() -> R + Copy + Send + 'static) {
        let _busy = self.second_thread.then(|| common::Busy::calling(call));
        self.group.bench_function(name, |b| b.iter(call));
    }
}

/// Every way of calling `add(a, b)`.
fn add_cases(bench: &mut Bench<'_, '_>, dylib: fn(u64, u64) -> u64) {
    let args = || (black_box(1), black_box(2));
    bench.case("direct (not inlined)", move || {
        let (a, b) = args();
        add(a, b)
    });
    bench.case("dylib function pointer (libloading)", move || {
        let (a, b) = args();
        dylib(a, b)
    });
    bench.case("hcr reloadable, extern \"C\"", move || {
        let (a, b) = args();
        hcr_bench_module::add_c(a, b)
    });
    bench.case("hcr reloadable, Rust", move || {
        let (a, b) = args();
        hcr_bench_module::add(a, b)
    });
    bench.case("hcr reloadable, Rust, under the crash guard", move || {
        let (a, b) = args();
        // SAFETY: the closure owns nothing; `add` never faults.
        unsafe { host().call_guarded(move || hcr_bench_module::add(a, b)) }.expect("no fault")
    });
    bench.case("hot-lib-reloader wrapper", move || {
        let (a, b) = args();
        hot_peer::add(a, b)
    });
    bench.case("subsecond::call, patched", || subsecond::call(tick));
}

fn calls(c: &mut Criterion) {
    host();
    let (_library, dylib) = dylib_add(&compile_peer("add_lib.rs", "hcr_bench_peer"));
    let _patch = patch_tick();
    assert_eq!(hot_peer::add(1, 2), 3, "hot-lib-reloader loads the library");

    for (name, second_thread) in [("add(a, b)", false), ("add(a, b), 2 threads", true)] {
        let mut group = c.benchmark_group(name);
        add_cases(
            &mut Bench {
                group: &mut group,
                second_thread,
            },
            dylib,
        );
        group.finish();
    }

    let mut group = c.benchmark_group("join(&str, &str) -> String");
    group.bench_function("direct (not inlined)", |b| {
        b.iter(|| join(black_box("hot "), black_box("reload")))
    });
    group.bench_function("hcr reloadable, Rust", |b| {
        b.iter(|| hcr_bench_module::join(black_box("hot "), black_box("reload")))
    });
    group.finish();
}

mod common;

criterion_group! {
    name = benches;
    config = common::config();
    targets = calls
}
criterion_main!(benches);
