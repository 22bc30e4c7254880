//! Reload latency: `hcr_perform_code_reload` of one module with 10 to
//! 10 000 procs, and of one module in trees of 1, 10 and 50 modules, with
//! where the time goes (copy, dlopen, registration, handlers, cleanup) and
//! what `hcr_init` costs for the same trees.
//!
//! `cargo bench -p hcr-benches --bench reload`
//!
//! The runtime is one per process and cannot be reset, so every
//! configuration runs in a process of its own (this bench binary started
//! again with `HCR_BENCH_CHILD`), which times its reloads itself and hands
//! criterion the sum. The modules are C, generated and compiled once.

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use hcr_build::CModule;
use hcr_client::RuntimeLibrary;

/// (procs in the reloaded module, modules in the tree).
const CONFIGS: &[(usize, usize)] = &[
    (10, 1),
    (100, 1),
    (1_000, 1),
    (10_000, 1),
    (10, 10),
    (10, 50),
];

/// Builds versions 0 and 1 of every module of a configuration into `dir`
/// (`lib<name>.v<n>.so`); module `m0` is the one that reloads.
fn build_config(work: &Path, procs: usize, modules: usize) -> PathBuf {
    let dir = work.join(format!("reload-{procs}x{modules}"));
    std::fs::create_dir_all(&dir).expect("bench directory");
    for index in 0..modules {
        let name = format!("m{index}");
        let count = if index == 0 { procs } else { 10 };
        for version in 0..2 {
            let library = dir.join(format!("lib{name}.v{version}.so"));
            if library.exists() {
                continue;
            }
            let source = dir.join(format!("{name}.v{version}.c"));
            std::fs::write(&source, common::module_source(&name, count, version)).expect("source");
            CModule::new(&source)
                .build(&library)
                .unwrap_or_else(|err| panic!("{err}"));
        }
    }
    dir
}

/// Installs version `version` of `name` as the linker would: a new file
/// renamed over the old one.
fn install(dir: &Path, name: &str, version: u32) {
    let built = dir.join(format!("lib{name}.v{version}.so"));
    hcr_build::install_file(&built, &dir.join(format!("lib{name}.so"))).expect("install");
}

/// In the child: init the tree, then `iters` reloads of `m0`. Prints the
/// init time, the summed reload time and the summed phases, in ns.
fn child(spec: &str) {
    let fields: Vec<&str> = spec.split(',').collect();
    let (dir, modules, iters): (PathBuf, usize, u64) = (
        PathBuf::from(fields[0]),
        fields[1].parse().expect("modules"),
        fields[2].parse().expect("iterations"),
    );
    let runtime = RuntimeLibrary::open(Path::new(fields[3])).expect("runtime");
    let names: Vec<String> = (0..modules).map(|i| format!("m{i}")).collect();
    for name in &names {
        install(&dir, name, 0);
    }
    let imports: Vec<&str> = names.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    runtime.init("main", &imports, Some(&dir)).expect("init");
    let init = started.elapsed();
    let mut sums = common::PhaseSums::default();
    for i in 0..iters {
        install(&dir, "m0", (i % 2 + 1) as u32 % 2);
        let started = std::time::Instant::now();
        runtime.perform_code_reload().expect("reload");
        let took = started.elapsed();
        sums.add(took, runtime.last_reload_phases().expect("phases"));
    }
    println!("{} {}", init.as_nanos(), sums.line());
}

/// Phase sums reported by the children of one configuration.
#[derive(Default)]
struct Report {
    runs: u64,
    reloads: u64,
    init: Duration,
    total: Duration,
    phases: [Duration; 7],
}

fn run_child(
    dir: &Path,
    modules: usize,
    iters: u64,
    runtime: &Path,
    report: &mut Report,
) -> Duration {
    let spec = format!("{},{modules},{iters},{}", dir.display(), runtime.display());
    let output = Command::new(std::env::current_exe().expect("bench binary"))
        .env("HCR_BENCH_CHILD", spec)
        .output()
        .expect("child");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<u64> = text
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .map(|n| n.parse().expect("a number"))
        .collect();
    let ns = Duration::from_nanos;
    report.runs += 1;
    report.reloads += iters;
    report.init += ns(numbers[0]);
    report.total += ns(numbers[1]);
    for (slot, value) in report.phases.iter_mut().zip(&numbers[2..]) {
        *slot += ns(*value);
    }
    ns(numbers[1])
}

fn reloads(c: &mut Criterion) {
    let runtime = hcr_build::runtime_library(true).expect("build the runtime");
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-reload");
    let mut group = c.benchmark_group("hcr_perform_code_reload");
    group.sample_size(10);
    let mut table = String::from(
        "| procs in m0 | modules | init (ms) | reload (µs) | check | copy | dlopen | registration | handlers | commit+cleanup | manifest+other |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for &(procs, modules) in CONFIGS {
        let dir = build_config(&work, procs, modules);
        let mut report = Report::default();
        group.bench_function(format!("{procs} procs, {modules} modules"), |b| {
            b.iter_custom(|iters| run_child(&dir, modules, iters, &runtime, &mut report));
        });
        let per = |d: Duration| d.as_secs_f64() * 1e6 / report.reloads.max(1) as f64;
        let _ = write!(
            table,
            "| {procs} | {modules} | {:.2} | {:.1} |",
            report.init.as_secs_f64() * 1e3 / report.runs.max(1) as f64,
            per(report.total)
        );
        for phase in report.phases {
            let _ = write!(table, " {:.1} |", per(phase));
        }
        table.push('\n');
    }
    group.finish();
    println!("\nwhere the time goes (µs per reload, means over every run):\n\n{table}");
}

mod common;

criterion_group! {
    name = benches;
    config = common::config();
    targets = reloads
}

fn main() {
    if let Ok(spec) = std::env::var("HCR_BENCH_CHILD") {
        child(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
