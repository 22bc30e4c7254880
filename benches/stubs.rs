//! Per-call cost of the two stub forms, side by side with a direct call and
//! a plain function pointer, in one run.
//!
//! `cargo bench -p hcr-benches --bench stubs`
//!
//! The stubs live in a jump table built with hcr-runtime's Rust API: the
//! data form in a table at the default hint address (as the runtime places
//! it), the near form in a table placed within 2 GiB of this binary's code
//! (the only place `jmp rel32` can reach it from).

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hcr_runtime::jump_table::DEFAULT_HINT;
use hcr_runtime::{JumpTable, JumpTableConfig, StubForm};

#[inline(never)]
extern "C" fn add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

extern "C" fn unreachable_bad_call(_slot: *const u8) -> ! {
    std::process::abort()
}

type Add = extern "C" fn(u64, u64) -> u64;

fn stub(form: StubForm, hint: usize) -> (JumpTable, Add) {
    let config = JumpTableConfig {
        size: 1 << 20,
        hint: Some(hint),
    };
    let mut table = JumpTable::new(config, unreachable_bad_call as *const () as usize)
        .expect("reserve a table");
    let slot = table.allocate().expect("a slot");
    table
        .point_at(slot, add as *const () as usize, form)
        .expect("point the slot");
    // SAFETY: the slot jumps to `add`, which has this signature; the table is
    // returned alongside and outlives every call.
    let f: Add = unsafe { std::mem::transmute(table.address(slot)) };
    (table, f)
}

fn near_hint() -> usize {
    let code = add as *const () as usize;
    (code + 0x4000_0000) & !0xffff
}

fn calls(c: &mut Criterion) {
    let (data_table, data) = stub(StubForm::Data, DEFAULT_HINT);
    let (near_table, near) = stub(StubForm::Near, near_hint());
    assert!(
        near_table.placed_at_hint(),
        "the near table needs its hint address"
    );
    let pointer: Add = black_box(add);

    let mut group = c.benchmark_group("call add(a, b)");
    group.bench_function("direct (not inlined)", |b| {
        b.iter(|| add(black_box(1), black_box(2)))
    });
    group.bench_function("function pointer", |b| {
        b.iter(|| pointer(black_box(1), black_box(2)))
    });
    group.bench_function("hcr stub, data form", |b| {
        b.iter(|| data(black_box(1), black_box(2)))
    });
    group.bench_function("hcr stub, near form", |b| {
        b.iter(|| near(black_box(1), black_box(2)))
    });
    group.finish();
    drop((data_table, near_table));
}

mod common;

criterion_group! {
    name = benches;
    config = common::config();
    targets = calls
}
criterion_main!(benches);
