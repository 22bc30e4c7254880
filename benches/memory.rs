//! Memory: what the jump table commits per proc and reserves, how resident
//! memory grows per 10 000 registered procs, and what 100 retained module
//! versions keep.
//!
//! `cargo bench -p hcr-benches --bench memory`
//!
//! Memory is not timed, so this prints a table instead of asking
//! criterion; the figures come from the runtime's own counters and from
//! `/proc/self/statm` and `/proc/self/maps`.

use std::fmt::Write as _;
use std::path::Path;

use hcr_build::CModule;
use hcr_client::RuntimeLibrary;
use hcr_runtime::{JumpTable, JumpTableConfig};

extern "C" fn target() -> i32 {
    7
}

extern "C" fn never(_slot: *const u8) -> ! {
    std::process::abort()
}

/// Resident bytes of this process.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("resident pages");
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    pages * page
}

/// Bytes mapped from files whose path contains `marker`.
fn mapped_from(marker: &str) -> (usize, usize) {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    let mut bytes = 0;
    let mut files = std::collections::BTreeSet::new();
    for line in maps.lines().filter(|line| line.contains(marker)) {
        let range = line.split_whitespace().next().unwrap_or_default();
        if let Some((start, end)) = range.split_once('-') {
            let start = usize::from_str_radix(start, 16).unwrap_or(0);
            let end = usize::from_str_radix(end, 16).unwrap_or(0);
            bytes += end - start;
        }
        files.insert(
            line.split_whitespace()
                .nth(5)
                .unwrap_or_default()
                .to_owned(),
        );
    }
    (bytes, files.len())
}

mod common;

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo bench -- --list`: nothing to list
    }
    let mut out = String::from("| measure | value |\n| --- | --- |\n");
    let mut row = |what: &str, value: String| {
        let _ = writeln!(out, "| {what} | {value} |");
    };

    // The jump table alone.
    let config = JumpTableConfig::from_env().expect("table size");
    let mut table = JumpTable::new(config, never as *const () as usize).expect("table");
    for _ in 0..10_000 {
        table.allocate().expect("slot");
    }
    row(
        "jump table: committed bytes per proc (10 000 slots)",
        format!("{:.1}", table.committed_bytes() as f64 / 10_000.0),
    );
    row(
        "jump table: address space reserved (both views)",
        format!("{} MiB", (2 * table.reserved_bytes()) >> 20),
    );
    drop(table);

    // Procs registered through the runtime: slots, names, bookkeeping.
    let runtime_path = hcr_build::runtime_library(true).expect("runtime");
    let runtime = RuntimeLibrary::open(&runtime_path).expect("open the runtime");
    let before = resident();
    for i in 0..10_000 {
        // SAFETY: `target` is code of this program, which stays mapped.
        unsafe {
            runtime.register_proc("bench", &format!("p{i}"), target as *const std::ffi::c_void)
        }
        .expect("register");
    }
    row(
        "resident memory per 10 000 registered procs",
        format!("{} KiB", resident().saturating_sub(before) >> 10),
    );

    // 100 reloads of a module with 100 procs: every version stays mapped.
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-memory");
    std::fs::create_dir_all(&work).expect("work dir");
    for version in 0..2 {
        let source = work.join(format!("kept.v{version}.c"));
        std::fs::write(&source, common::module_source("kept", 100, version)).expect("source");
        CModule::new(&source)
            .build(&work.join(format!("libkept.v{version}.so")))
            .unwrap_or_else(|err| panic!("{err}"));
    }
    let install = |version: u32| {
        let built = work.join(format!("libkept.v{version}.so"));
        hcr_build::install_file(&built, &work.join("libkept.so")).expect("install");
    };
    install(0);
    // The runtime's in-memory copies show as `memfd:hcr:<name>`.
    const COPIES: &str = "memfd:hcr:libkept";
    runtime.init("main", &["kept"], Some(&work)).expect("init");
    let (mapped_one, _) = mapped_from(COPIES);
    let before = resident();
    for i in 0..100u32 {
        install((i + 1) % 2);
        runtime.perform_code_reload().expect("reload");
    }
    let (mapped, files) = mapped_from(COPIES);
    row(
        "retained versions after 100 reloads",
        format!(
            "{} (runtime's count), {files} mapped copies",
            runtime.retained_version_count()
        ),
    );
    row(
        "address space mapped by those versions",
        format!("{} KiB ({} KiB for one)", mapped >> 10, mapped_one >> 10),
    );
    row(
        "resident memory growth over the 100 reloads",
        format!("{} KiB", resident().saturating_sub(before) >> 10),
    );
    let unmapped = runtime.collect().expect("collect");
    let (mapped, files) = mapped_from(COPIES);
    row(
        "after `hcr_collect`",
        format!(
            "{unmapped} versions unmapped; {} retained, {files} mapped copy, {} KiB mapped; \
             resident growth since before the reloads {} KiB",
            runtime.retained_version_count(),
            mapped >> 10,
            resident().saturating_sub(before) >> 10
        ),
    );
    println!("\n{out}");
}
