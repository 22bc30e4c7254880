//! The stub bench's question answered across process starts: what a call
//! through each kind of stub costs, as a ratio to a call through a
//! `dlsym`'d pointer to the same function.
//!
//! `cargo bench -p hcr-benches --bench stub_rounds`
//!
//! A call of about 1.5 ns moves by up to a third of a nanosecond with where
//! the calling loop, the stub and the function happen to lie in memory: on
//! this kind of machine the same bytes of `add`, called from the same loop,
//! took 1.1 to 1.9 ns at different addresses. One process has one layout,
//! so one criterion run (the `stubs` bench) can show a stub faster or
//! slower than the pointer it wraps. This bench starts itself
//! [`PROCESSES`] times (each process gets other addresses from ASLR); each
//! process runs alternating rounds of calls of every kind and keeps the
//! median round of each. The table gives, per kind, the median over the
//! processes of its ratio to the `dlsym` pointer of the same process, and
//! the lowest and highest of those ratios.
//!
//! `HCR_BENCH_QUICK=1` runs 2 processes of short rounds (CI proves the
//! bench works; its figures are not worth publishing).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::Command;
use std::time::Instant;

use common::stub_subjects::{Call, Case, Subjects, c_library, distance};

/// Processes started, each with its own layout.
const PROCESSES: usize = 10;
/// Rounds per kind of call in each process.
const ROUNDS: usize = 9;
/// Calls per round.
const CALLS: u64 = 20_000_000;

/// Set in the processes the bench starts.
const CHILD: &str = "HCR_STUB_ROUNDS_CHILD";

/// The columns: who calls, and whether a second thread calls at once.
const COLUMNS: [(&str, bool); 4] = [
    ("from Rust", false),
    ("from Rust, 2 threads", true),
    ("from C", false),
    ("from C, 2 threads", true),
];

fn quick() -> bool {
    std::env::var_os("HCR_BENCH_QUICK").is_some()
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo bench -- --list`: nothing to list
    }
    if std::env::var_os(CHILD).is_some() {
        child();
    } else {
        parent();
    }
}

/// One process: prints a `jump\t<kind>\t<bytes>` line per stub, then one
/// `time\t<column>\t<kind>\t<ns>` line per column and kind.
fn child() {
    let (rounds, calls) = if quick() {
        (3, 1_000_000)
    } else {
        (ROUNDS, CALLS)
    };
    let subjects = Subjects::set_up();
    if let Some(note) = &subjects.note {
        eprintln!("note: {note}");
    }
    for case in subjects.cases {
        if let Some(bytes) = case.jump {
            println!("jump\t{}\t{bytes}", case.name);
        }
    }
    let host = subjects.c;
    for (column, second_thread) in COLUMNS {
        let from_c = column.starts_with("from C");
        let run = move |call: Call, calls: u64| {
            if from_c {
                call.in_c(host, calls)
            } else {
                call.in_rust_loop(calls)
            }
        };
        let mut times = vec![Vec::new(); subjects.cases.len()];
        for _ in 0..rounds {
            for (times, Case { call, .. }) in times.iter_mut().zip(subjects.cases) {
                let _busy = second_thread.then(|| common::Busy::calling(move || run(call, 1_000)));
                let start = Instant::now();
                black_box(run(call, calls));
                times.push(start.elapsed().as_secs_f64() * 1e9 / calls as f64);
            }
        }
        for (times, Case { name, .. }) in times.iter_mut().zip(subjects.cases) {
            println!("time\t{column}\t{name}\t{}", median(times));
        }
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Starts the processes and prints the table.
fn parent() {
    let processes = if quick() { 2 } else { PROCESSES };
    c_library("add.c");
    c_library("calls.c");
    let exe = std::env::current_exe().expect("this bench's path");
    // (column, kind) -> time per process, in ns.
    let mut times: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    // kind -> how far its stub jumps, per process.
    let mut jumps: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut kinds: Vec<String> = Vec::new();
    for process in 1..=processes {
        eprintln!("stub_rounds: process {process} of {processes}");
        let output = Command::new(&exe)
            .env(CHILD, "1")
            .env("HCR_BENCH_C_BUILT", "1")
            .output()
            .expect("start a measuring process");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "a measuring process failed: {}\n{text}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        for line in text.lines() {
            match line.split('\t').collect::<Vec<_>>()[..] {
                ["jump", kind, bytes] => {
                    let bytes = bytes.parse().expect("a distance");
                    jumps.entry(kind.to_owned()).or_default().push(bytes);
                }
                ["time", column, kind, ns] => {
                    if !kinds.iter().any(|known| known == kind) {
                        kinds.push(kind.to_owned());
                    }
                    let ns: f64 = ns.parse().expect("a time");
                    times
                        .entry((column.to_owned(), kind.to_owned()))
                        .or_default()
                        .push(ns);
                }
                _ => {}
            }
        }
    }
    let base = &kinds[0];
    println!(
        "{processes} processes, median ratio to `{base}` (lowest-highest); the base row \
         gives its median time; a stub's row how far its jump goes\n"
    );
    let header: Vec<&str> = COLUMNS.iter().map(|(column, _)| *column).collect();
    println!("| call | {} |", header.join(" | "));
    println!("| --- |{}", " --- |".repeat(header.len()));
    for kind in &kinds {
        let cells: Vec<String> = header
            .iter()
            .map(|column| {
                let of = |kind: &str| &times[&(column.to_string(), kind.to_owned())];
                if kind == base {
                    return format!("{:.2} ns", median(&mut of(kind).clone()));
                }
                let mut ratios: Vec<f64> = of(kind)
                    .iter()
                    .zip(of(base))
                    .map(|(time, base)| time / base)
                    .collect();
                let middle = median(&mut ratios);
                format!(
                    "{middle:.2} ({:.2}-{:.2})",
                    ratios[0],
                    ratios[ratios.len() - 1]
                )
            })
            .collect();
        let label = match jumps.get_mut(kind) {
            Some(bytes) => {
                bytes.sort();
                let (nearest, farthest) = (distance(bytes[0]), distance(bytes[bytes.len() - 1]));
                if nearest == farthest {
                    format!("{kind}, {nearest}")
                } else {
                    format!("{kind}, {nearest} to {farthest}")
                }
            }
            None => kind.clone(),
        };
        println!("| {label} | {} |", cells.join(" | "));
    }
}

mod common;
