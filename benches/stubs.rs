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
//!   where the library then landed.
//!
//! Before the figures the bench prints how far each stub is from `add`.
//! The C host side is `c/calls.c`, compiled at `-O2`: loops that call
//! through a pointer, or read a stub's cell (`hcr_stub_cell`) per call.

#![expect(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use hcr_runtime::jump_table::{NIM_ADDRESS, Placed, Placement};
use hcr_runtime::{JumpTable, JumpTableConfig, StubForm};

type Add = extern "C" fn(u64, u64) -> u64;

#[inline(never)]
extern "C" fn rust_add(a: u64, b: u64) -> u64 {
    a.wrapping_add(b)
}

extern "C" fn unreachable_bad_call(_slot: *const u8) -> ! {
    std::process::abort()
}

/// A table placed as `placement` asks.
fn table(placement: Placement) -> JumpTable {
    let config = JumpTableConfig {
        placement,
        ..JumpTableConfig::default()
    };
    JumpTable::new(config, unreachable_bad_call as *const () as usize).expect("reserve a table")
}

/// A slot of `table` pointing at `target` in `form`: its stub and its cell.
fn stub(table: &mut JumpTable, target: Add, form: StubForm) -> (Add, &'static AtomicPtr<()>) {
    let slot = table.allocate().expect("a slot");
    table
        .point_at(slot, target as usize, form)
        .expect("point the slot");
    // SAFETY: the slot jumps to `target`, which has this signature; every
    // table outlives the bench (they are leaked below).
    let stub: Add = unsafe { std::mem::transmute(table.address(slot)) };
    // SAFETY: the cell is an aligned pointer-sized word of the table,
    // written only atomically, and the table is never dropped.
    let cell = unsafe { AtomicPtr::from_ptr(table.target_cell(slot) as *mut *mut ()) };
    (stub, cell)
}

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-stubs");
    std::fs::create_dir_all(&dir).expect("bench directory");
    dir
}

/// Compiles `c/<source>` at `-O2` into a library and opens it.
fn c_library(source: &str) -> libloading::Library {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("c").join(source);
    let library = scratch().join(format!("lib{}.so", source.trim_end_matches(".c")));
    hcr_build::CModule::new(&path)
        .opt_level(2)
        .build(&library)
        .unwrap_or_else(|err| panic!("{err}"));
    // SAFETY: the library is plain C with no initializers.
    unsafe { libloading::Library::new(&library) }.expect("dlopen")
}

/// The C host's loops (`c/calls.c`).
#[derive(Clone, Copy)]
struct CHost {
    pointer: extern "C" fn(Add, u64) -> u64,
    cell: extern "C" fn(*const AtomicPtr<()>, u64) -> u64,
}

impl CHost {
    fn load() -> CHost {
        let library = Box::leak(Box::new(c_library("calls.c")));
        // SAFETY: both functions have these signatures in c/calls.c (a cell
        // is read there as `add_fn const *`, which an AtomicPtr is laid
        // out as); the library is leaked, so it stays loaded.
        unsafe {
            CHost {
                pointer: *library.get(b"hcr_bench_call_pointer\0").expect("dlsym"),
                cell: *library.get(b"hcr_bench_call_cell\0").expect("dlsym"),
            }
        }
    }
}

/// How far apart two addresses are, as a power of two and in bytes.
fn distance(from: usize, to: usize) -> String {
    let bytes = from.abs_diff(to).max(1);
    let (value, unit) = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)]
        .into_iter()
        .find(|(_, shift)| bytes >> shift > 0)
        .map_or((bytes, "B"), |(unit, shift)| (bytes >> shift, unit));
    format!("2^{} bytes ({value} {unit})", bytes.ilog2())
}

/// How a case calls `add`.
#[derive(Clone, Copy)]
enum Call {
    Pointer(Add),
    Cell(&'static AtomicPtr<()>),
}

impl Call {
    fn in_rust(self) -> u64 {
        match self {
            Call::Pointer(f) => f(black_box(1), black_box(2)),
            Call::Cell(cell) => {
                // SAFETY: the cell holds `add`, as the stub it belongs to does.
                let f: Add = unsafe { std::mem::transmute(cell.load(Ordering::Acquire)) };
                f(black_box(1), black_box(2))
            }
        }
    }

    fn in_c(self, host: CHost, calls: u64) -> u64 {
        match self {
            Call::Pointer(f) => (host.pointer)(f, calls),
            Call::Cell(cell) => (host.cell)(cell, calls),
        }
    }
}

fn calls(c: &mut Criterion) {
    // The default table first, then the library: as the runtime does.
    let near = Box::leak(Box::new(table(Placement::Near)));
    let library = Box::leak(Box::new(c_library("add.c")));
    // SAFETY: `add` has this signature in c/add.c; the library is leaked.
    let add: Add = *unsafe { library.get::<Add>(b"add\0") }.expect("dlsym");
    let far = Box::leak(Box::new(table(Placement::Fixed(NIM_ADDRESS))));
    if *far.placed() != Placed::Fixed {
        println!("note: {}", far.describe_placement());
    }
    let (far_data, _) = stub(far, add, StubForm::Data);
    let (near_data, cell) = stub(near, add, StubForm::Data);
    let (near_jump, _) = stub(near, add, StubForm::Near);
    assert!(
        hcr_runtime::arch::host::near_jump_area(near_jump as usize as u64, add as usize as u64)
            .is_ok(),
        "add ({}) is out of the near form's reach of the default table",
        distance(near_jump as usize, add as usize)
    );
    println!("`add` is at {:#x}; from it:", add as usize);
    for (what, at) in [("far table", far_data), ("near table", near_data)] {
        println!("  {what}'s stub: {}", distance(at as usize, add as usize));
    }

    let cases: [(&str, Call); 5] = [
        ("dylib function pointer (dlsym)", Call::Pointer(add)),
        ("hcr stub, data form, table far", Call::Pointer(far_data)),
        ("hcr stub, data form, table near", Call::Pointer(near_data)),
        ("hcr stub, near form, table near", Call::Pointer(near_jump)),
        ("hcr stub's cell, read per call", Call::Cell(cell)),
    ];
    for second_thread in [false, true] {
        let threads = if second_thread { ", 2 threads" } else { "" };
        let mut group = c.benchmark_group(format!("add(a, b) from Rust{threads}"));
        let direct = Call::Pointer(rust_add);
        let _busy = second_thread.then(|| common::Busy::calling(move || direct.in_rust()));
        group.bench_function("direct (not inlined)", |b| {
            b.iter(|| rust_add(black_box(1), black_box(2)))
        });
        drop(_busy);
        for (name, call) in cases {
            let _busy = second_thread.then(|| common::Busy::calling(move || call.in_rust()));
            group.bench_function(name, |b| b.iter(|| call.in_rust()));
        }
        group.finish();
    }

    let host = CHost::load();
    for second_thread in [false, true] {
        let threads = if second_thread { ", 2 threads" } else { "" };
        let mut group = c.benchmark_group(format!("add(a, b) from C{threads}"));
        for (name, call) in cases {
            let _busy = second_thread.then(|| common::Busy::calling(move || call.in_c(host, 1)));
            group.bench_function(name, |b| {
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
