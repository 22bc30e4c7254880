//! Per-call cost of reloadable Rust functions, side by side with the same
//! bodies called directly, in one run.
//!
//! `cargo bench -p hcr-benches --bench rust_calls`
//!
//! The module `hcr_bench_module` is built (release) and loaded through
//! `hcr_client::Host`, as a real host would; the benchmark calls its
//! functions the way host code does.

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
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

fn calls(c: &mut Criterion) {
    let _host = start();
    let mut group = c.benchmark_group("add(a, b)");
    group.bench_function("direct (not inlined)", |b| {
        b.iter(|| add(black_box(1), black_box(2)))
    });
    group.bench_function("reloadable, extern \"C\"", |b| {
        b.iter(|| hcr_bench_module::add_c(black_box(1), black_box(2)))
    });
    group.bench_function("reloadable, Rust", |b| {
        b.iter(|| hcr_bench_module::add(black_box(1), black_box(2)))
    });
    group.finish();

    let mut group = c.benchmark_group("join(&str, &str) -> String");
    group.bench_function("direct (not inlined)", |b| {
        b.iter(|| join(black_box("hot "), black_box("reload")))
    });
    group.bench_function("reloadable, Rust", |b| {
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
