//! Reloads of ordinary dev-built Rust modules: a project made by `cargo hcr
//! new` with a module `common` and eight modules that call it, built twice
//! by what `cargo hcr build` runs (a one-line edit to every module between
//! the builds). Times a reload of one module, of all nine (an edit to
//! `common` rebuilds its dependents), with where the time goes, and what
//! `reload_needed()` costs in the seconds after a reload, checked every
//! 10 ms as a game loop does, and the memory the copies of kept versions
//! hold.
//!
//! `cargo bench -p hcr-benches --bench rust_reload`
//!
//! `HCR_BENCH_RUNTIME=<path of a libhcr_runtime.so>` measures that runtime
//! instead of this tree's (another version's, for a before-and-after).
//!
//! As in `reload.rs`, every configuration runs in processes of its own
//! (this binary started again with `HCR_BENCH_CHILD`), which time their
//! reloads themselves.

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use hcr_build::{BuildOptions, Project};
use hcr_client::RuntimeLibrary;

/// The modules that call `common`.
const DEPENDENTS: usize = 8;

/// How many reloads of `d1` the memory of kept versions is measured after.
const KEPT: u64 = 6;

/// How long `reload_needed()` is watched after a reload, and how often.
const WATCHED: Duration = Duration::from_millis(2500);
const FRAME: Duration = Duration::from_millis(10);

fn dependents() -> Vec<String> {
    (1..=DEPENDENTS).map(|i| format!("d{i}")).collect()
}

fn common_source(version: u32) -> String {
    format!(
        r#"//! Shared code: every other module calls it.
use std::collections::HashMap;
use std::sync::atomic::{{AtomicU64, Ordering}};

hcr_client::module!();

const VERSION: u64 = {version};

#[hcr_client::global]
static CALLS: AtomicU64 = AtomicU64::new(0);

#[hcr_client::reloadable]
pub fn scale(x: u64) -> u64 {{
    CALLS.fetch_add(1, Ordering::Relaxed);
    x * 3 + VERSION
}}

#[hcr_client::reloadable]
pub fn tally(words: Vec<String>) -> HashMap<String, usize> {{
    let mut counts = HashMap::new();
    for word in words {{
        *counts.entry(word).or_default() += 1;
    }}
    counts
}}
"#
    )
}

fn dependent_source(name: &str, version: u32) -> String {
    format!(
        r#"//! A module that calls `common`.
hcr_client::module!(imports = [common]);

const VERSION: u64 = {version};

#[hcr_client::reloadable]
pub fn step(x: u64) -> u64 {{
    common::scale(x) + VERSION
}}

#[hcr_client::reloadable]
pub fn report(text: &str) -> String {{
    let counts = common::tally(text.split(' ').map(str::to_owned).collect());
    let mut words: Vec<_> = counts.into_iter().collect();
    words.sort();
    format!("{name} v{{VERSION}}: {{words:?}}")
}}
"#
    )
}

/// Makes the project in `dir` (once) and builds it twice, keeping each
/// build's module libraries in `dir/v0` and `dir/v1`.
fn build_project(dir: &Path) {
    let root = dir.join("project");
    if !root.exists() {
        hcr_build::new_project(
            &root,
            Some("bench"),
            &hcr_build::workspace_dir(),
            hcr_build::Template::Terminal,
        )
        .unwrap_or_else(|err| panic!("{err}"));
        let host = root.join("host");
        for name in std::iter::once("common".to_owned()).chain(dependents()) {
            hcr_build::add_module(&root, &host, &name).unwrap_or_else(|err| panic!("{err}"));
        }
        for name in dependents() {
            let manifest = root.join(&name).join("Cargo.toml");
            let text = std::fs::read_to_string(&manifest).expect("manifest");
            let text = text.replace(
                "[dependencies]\n",
                "[dependencies]\ncommon = { path = \"../common\" }\n",
            );
            std::fs::write(&manifest, text).expect("manifest");
        }
    }
    let project =
        Project::load(Some(&root.join("Cargo.toml")), None).unwrap_or_else(|err| panic!("{err}"));
    for version in 0..2 {
        let kept = dir.join(format!("v{version}"));
        if kept.join(library("common")).exists() {
            continue;
        }
        std::fs::write(root.join("common/src/lib.rs"), common_source(version)).expect("source");
        for name in dependents() {
            let source = dependent_source(&name, version);
            std::fs::write(root.join(&name).join("src/lib.rs"), source).expect("source");
        }
        eprintln!("rust_reload: building version {version} of the nine modules");
        let layout = hcr_build::build_project(&project, &BuildOptions::default(), &mut |line| {
            eprintln!("rust_reload: {line}");
        })
        .unwrap_or_else(|err| panic!("{err}"));
        std::fs::create_dir_all(&kept).expect("kept");
        for (name, library) in &layout.modules {
            std::fs::copy(library, kept.join(self::library(name))).expect("keep");
        }
    }
}

fn library(name: &str) -> String {
    hcr_build::library_file_name(hcr_build::build_target(), name)
}

/// Installs version `version` of module `name` into `modules` as a
/// linker does: a new file renamed over the old one.
fn install(dir: &Path, name: &str, version: u64) {
    let built = dir.join(format!("v{version}")).join(library(name));
    let modules = dir.join("modules");
    hcr_build::install_file(&built, &modules.join(library(name))).expect("install");
}

fn all_modules() -> Vec<String> {
    std::iter::once("common".to_owned())
        .chain(dependents())
        .collect()
}

/// In the child: start the tree, then `iters` reloads of `which` (`one`:
/// d1; `nine`: every module), each of the other version, each as soon as
/// `reload_needed()` says so. Prints the summed
/// reload time and phases in ns; `watch` instead prints the cost of every
/// `reload_needed()` in the seconds after one reload of d1.
fn child(spec: &str) {
    let fields: Vec<&str> = spec.split(',').collect();
    let (dir, which, iters) = (
        PathBuf::from(fields[0]),
        fields[1],
        fields[2].parse::<u64>().expect("iterations"),
    );
    let runtime = RuntimeLibrary::open(Path::new(fields[3])).expect("runtime");
    let modules = dir.join("modules");
    let _ = std::fs::remove_dir_all(&modules);
    std::fs::create_dir_all(&modules).expect("modules");
    for name in all_modules() {
        install(&dir, &name, 0);
    }
    let imports = dependents();
    let imports: Vec<&str> = imports.iter().map(String::as_str).collect();
    runtime
        .init("main", &imports, Some(&modules))
        .expect("init");
    let reloaded: Vec<String> = match which {
        "nine" => all_modules(),
        _ => vec!["d1".to_owned()],
    };
    if which == "watch" {
        install(&dir, "d1", 1);
        runtime.perform_code_reload().expect("reload");
        // Each frame: the call, then (a frame later) what the stats it
        // makes cost alone, one per module and one of the marker.
        let files: Vec<PathBuf> = all_modules()
            .iter()
            .map(|name| modules.join(library(name)))
            .chain([modules.join(hcr_build::BUILDING_MARKER)])
            .collect();
        let (mut calls, mut stats) = (Vec::new(), Vec::new());
        let started = Instant::now();
        while started.elapsed() < WATCHED {
            let call = Instant::now();
            assert!(!runtime.reload_needed(), "nothing changed");
            calls.push(call.elapsed().as_nanos().to_string());
            std::thread::sleep(FRAME);
            let call = Instant::now();
            for file in &files {
                let _ = std::hint::black_box(std::fs::metadata(file));
            }
            stats.push(call.elapsed().as_nanos().to_string());
            std::thread::sleep(FRAME);
        }
        println!("{}", stats.join(" "));
        println!("{}", calls.join(" "));
        return;
    }
    if which == "kept" {
        // Versions of d1, all kept (the default); then what their copies
        // hold once the background thread is done with them.
        for i in 0..KEPT {
            install(&dir, "d1", (i + 1) % 2);
            while !runtime.reload_needed() {
                std::thread::sleep(Duration::from_millis(1));
            }
            runtime.perform_code_reload().expect("reload");
        }
        std::thread::sleep(Duration::from_millis(500));
        let (copies, bytes) = copies_held("libd1.");
        println!("{copies} {bytes}");
        return;
    }
    let mut sums = common::PhaseSums::default();
    for i in 0..iters {
        for name in &reloaded {
            install(&dir, name, (i + 1) % 2);
        }
        // As a host does: it reloads once reload_needed() says so (for a
        // build of the same size, once the runtime has hashed it).
        let asked = Instant::now();
        while !runtime.reload_needed() {
            assert!(asked.elapsed() < Duration::from_secs(5), "no change seen");
            std::thread::sleep(Duration::from_millis(1));
        }
        let started = Instant::now();
        runtime.perform_code_reload().expect("reload");
        let took = started.elapsed();
        sums.add(took, runtime.last_reload_phases().expect("phases"));
    }
    println!("{}", sums.line());
}

/// How many of this process's in-memory library copies have names that
/// start with `prefix`, and the bytes of memory they hold (Linux: memfds
/// named `hcr:<library>.<load>.so`).
fn copies_held(prefix: &str) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let mut held = (0, 0);
    for entry in std::fs::read_dir("/proc/self/fd").expect("fds").flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if target
            .to_string_lossy()
            .starts_with(&format!("/memfd:hcr:{prefix}"))
        {
            let blocks = std::fs::metadata(entry.path()).map_or(0, |meta| meta.blocks());
            held = (held.0 + 1, held.1 + blocks * 512);
        }
    }
    held
}

/// What copying the library at `path` into memory costs alone: the
/// median of 20 copies made as the runtime makes them for a load.
fn copy_alone(path: &Path) -> Duration {
    let mut times: Vec<Duration> = (0..20)
        .map(|_| {
            let started = Instant::now();
            hcr_runtime::copy_library_alone(path).expect("copy the library");
            started.elapsed()
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

/// The lines a child printed, as numbers.
fn child_lines(dir: &Path, which: &str, iters: u64, runtime: &Path) -> Vec<Vec<u64>> {
    let spec = format!("{},{which},{iters},{}", dir.display(), runtime.display());
    let output = Command::new(std::env::current_exe().expect("bench binary"))
        .env("HCR_BENCH_CHILD", spec)
        .output()
        .expect("child");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            line.split_whitespace()
                .map(|n| n.parse().expect("a number"))
                .collect()
        })
        .collect()
}

/// The last line a child printed, as numbers.
fn run_child(dir: &Path, which: &str, iters: u64, runtime: &Path) -> Vec<u64> {
    child_lines(dir, which, iters, runtime)
        .pop()
        .unwrap_or_default()
}

/// What the stats alone and `reload_needed()` cost, in ns per frame.
fn run_watch(dir: &Path, runtime: &Path) -> (Vec<u64>, Vec<u64>) {
    let mut lines = child_lines(dir, "watch", 0, runtime);
    let calls = lines.pop().unwrap_or_default();
    (lines.pop().unwrap_or_default(), calls)
}

fn reloads(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-rust-reload");
    build_project(&dir);
    let runtime = match std::env::var_os("HCR_BENCH_RUNTIME") {
        Some(path) => PathBuf::from(path),
        None => hcr_build::runtime_library(true).expect("build the runtime"),
    };
    eprintln!("rust_reload: measuring {}", runtime.display());
    let size = std::fs::metadata(dir.join("v0").join(library("d1"))).map_or(0, |m| m.len());
    let mut group = c.benchmark_group("reload of dev-built Rust modules");
    group.sample_size(10);
    let mut table = String::from(
        "| reloaded | reload (ms) | check | copy | dlopen | registration | handlers | commit+cleanup | manifest+other |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for which in ["one", "nine"] {
        let (mut reloads, mut sums) = (0u64, vec![0u64; 8]);
        group.bench_function(format!("{which} of nine modules"), |b| {
            b.iter_custom(|iters| {
                let numbers = run_child(&dir, which, iters, &runtime);
                reloads += iters;
                for (sum, n) in sums.iter_mut().zip(&numbers) {
                    *sum += n;
                }
                Duration::from_nanos(numbers[0])
            });
        });
        let per = |ns: u64| ns as f64 / 1e6 / reloads.max(1) as f64;
        let _ = write!(table, "| {which} | {:.2} |", per(sums[0]));
        for sum in &sums[1..] {
            let _ = write!(table, " {:.2} |", per(*sum));
        }
        table.push('\n');
    }
    group.finish();
    let bytes_alone = copy_alone(&dir.join("v0").join(library("d1")));
    let (stats, calls) = run_watch(&dir, &runtime);
    let kept = run_child(&dir, "kept", 0, &runtime);
    let (copies, held) = (kept[0], kept[1]);
    let quantiles = |mut costs: Vec<u64>| {
        costs.sort_unstable();
        let at = |q: f64| costs[((costs.len() - 1) as f64 * q) as usize] as f64 / 1e3;
        format!(
            "{} calls, median {:.1} µs, 90 % {:.1} µs, max {:.1} µs",
            costs.len(),
            at(0.5),
            at(0.9),
            at(1.0)
        )
    };
    println!(
        "\nmodule libraries of {:.1} MB; copying one into memory as a load does takes {:.2} ms (median \
         of 20, the bytes alone); where the time goes (ms per reload, means):\n\n{table}\n\
         after a reload, every {} ms for {} s:\n\
         reload_needed():               {}\n\
         its stats alone (one a module and the marker): {}\n\n\
         {copies} versions of d1 loaded ({KEPT} reloads, all kept): their copies hold {:.1} MB, \
         {:.2} MB a version",
        size as f64 / 1e6,
        bytes_alone.as_secs_f64() * 1e3,
        FRAME.as_millis() * 2,
        WATCHED.as_secs_f64(),
        quantiles(calls),
        quantiles(stats),
        held as f64 / 1e6,
        held as f64 / 1e6 / copies.max(1) as f64,
    );
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
