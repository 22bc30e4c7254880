//! Per-call cost of a stub by where the jump table lies, against a
//! `dlsym`'d pointer to the same function, from Rust and from C, with one
//! thread and with a second thread calling at once.
//!
//! `cargo bench -p hcr-benches --bench stubs`
//!
//! The function is `add` in a C library of its own (`c/add.c`), loaded
//! after the default table was reserved, as a module is. The stubs live in
//! tables built with hcr-runtime's Rust API (the runtime's own code):
//!
//! - far: a table at `0x10000000`, where Nim's runtime puts it (what
//!   `HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS=0x10000000` asks for);
//! - near: a table placed as the runtime places it by default, beside
//!   where the library then landed;
//! - paged: a table of the paged layout, the one macOS uses (a copy of
//!   the runtime's stub page whose stub loads its target from the data
//!   page above it), run here.
//!
//! Before the figures the bench prints how far each stub's jump goes.
//! The C host side is `c/calls.c`, compiled at `-O2`: loops that call
//! through a pointer, or read a stub's cell (`hcr_stub_cell`) per call.
//! Figures of about 1.5 ns depend on where the code happens to lie (see
//! `stub_rounds`, which measures across process starts).

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;
use std::time::Instant;

use common::stub_subjects::{Call, Subjects, distance};
use criterion::{Criterion, criterion_group, criterion_main};

#[inline(never)]
extern "C" fn rust_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

fn calls(c: &mut Criterion) {
    let subjects = Subjects::set_up();
    if let Some(note) = &subjects.note {
        println!("note: {note}");
    }
    for case in subjects.cases {
        if let Some(bytes) = case.jump {
            println!("{}: the stub is {} from add", case.name, distance(bytes));
        }
    }
    for second_thread in [false, true] {
        let threads = if second_thread { ", 2 threads" } else { "" };
        let mut group = c.benchmark_group(format!("add(a, b) from Rust{threads}"));
        let direct = Call::Pointer(rust_add);
        let busy = second_thread.then(|| common::Busy::calling(move || direct.in_rust()));
        group.bench_function("direct (not inlined)", |b| {
            b.iter(|| rust_add(black_box(1), black_box(2)))
        });
        drop(busy);
        for case in subjects.cases {
            let call = case.call;
            let _busy = second_thread.then(|| common::Busy::calling(move || call.in_rust()));
            group.bench_function(case.name, |b| b.iter(|| call.in_rust()));
        }
        group.finish();
    }

    let host = subjects.c;
    for second_thread in [false, true] {
        let threads = if second_thread { ", 2 threads" } else { "" };
        let mut group = c.benchmark_group(format!("add(a, b) from C{threads}"));
        for case in subjects.cases {
            let call = case.call;
            let _busy = second_thread.then(|| common::Busy::calling(move || call.in_c(host, 1)));
            group.bench_function(case.name, |b| {
                b.iter_custom(|calls| {
                    let start = Instant::now();
                    black_box(call.in_c(host, calls));
                    start.elapsed()
                })
            });
        }
        group.finish();
    }
}

mod common;

criterion_group! {
    name = benches;
    config = common::config();
    targets = calls
}
criterion_main!(benches);
