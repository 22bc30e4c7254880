//! What the stub benches call: `add` in a C library of its own, loaded
//! after the default jump table was reserved (as a module is), through a
//! `dlsym`'d pointer and through stubs in a table far from it and in one
//! placed as the runtime places it by default, and through a stub of the
//! paged table (macOS's layout); and the C host code that calls them
//! (`c/calls.c`).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, Ordering};

use hcr_runtime::jump_table::{Layout, NIM_ADDRESS, Placed, Placement};
use hcr_runtime::{JumpTable, JumpTableConfig, StubForm};

/// The signature of `add`.
pub type Add = extern "C" fn(u64, u64) -> u64;

extern "C" fn unreachable_bad_call(_slot: *const u8) -> ! {
    std::process::abort()
}

/// A table of the mapped layout placed as `placement` asks, never dropped.
fn table(placement: Placement) -> &'static mut JumpTable {
    table_of(Layout::Mapped, placement)
}

/// A table of `layout` placed as `placement` asks, never dropped.
fn table_of(layout: Layout, placement: Placement) -> &'static mut JumpTable {
    let config = JumpTableConfig {
        placement,
        layout,
        ..JumpTableConfig::default()
    };
    let table = JumpTable::new(config, unreachable_bad_call as *const () as usize)
        .expect("reserve a table");
    Box::leak(Box::new(table))
}

/// A slot of `table` pointing at `target` in `form`: its stub and its cell.
fn stub(table: &mut JumpTable, target: Add, form: StubForm) -> (Add, &'static AtomicPtr<()>) {
    let slot = table.allocate().expect("a slot");
    table
        .point_at(slot, target as usize, form)
        .expect("point the slot");
    // SAFETY: the slot jumps to `target`, which has this signature; the
    // table is never dropped.
    let stub: Add = unsafe { std::mem::transmute(table.address(slot)) };
    // SAFETY: the cell is an aligned pointer-sized word of the table,
    // written only atomically, and the table is never dropped.
    let cell = unsafe { AtomicPtr::from_ptr(table.target_cell(slot) as *mut *mut ()) };
    (stub, cell)
}

/// Where the C libraries are built.
fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-stubs");
    std::fs::create_dir_all(&dir).expect("bench directory");
    dir
}

/// Compiles `c/<source>` at `-O2` into a library, unless `HCR_BENCH_C_BUILT`
/// says an earlier process did, and returns its path.
pub fn c_library(source: &str) -> PathBuf {
    let library = scratch().join(format!("lib{}.so", source.trim_end_matches(".c")));
    if std::env::var_os("HCR_BENCH_C_BUILT").is_none() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("c").join(source);
        hcr_build::CModule::new(&path)
            .opt_level(2)
            .build(&library)
            .unwrap_or_else(|err| panic!("{err}"));
    }
    library
}

/// Opens a library for the rest of the process.
fn open(path: &Path) -> &'static libloading::Library {
    // SAFETY: the bench's C libraries have no initializers.
    let library = unsafe { libloading::Library::new(path) }.expect("dlopen");
    Box::leak(Box::new(library))
}

/// The C host's loops (`c/calls.c`).
#[derive(Clone, Copy)]
pub struct CHost {
    pointer: extern "C" fn(Add, u64) -> u64,
    cell: extern "C" fn(*const AtomicPtr<()>, u64) -> u64,
}

/// How a case calls `add`.
#[derive(Clone, Copy)]
pub enum Call {
    /// Through a function pointer: `add` itself or a stub.
    Pointer(Add),
    /// Through what a stub's cell holds, read per call.
    Cell(&'static AtomicPtr<()>),
}

impl Call {
    /// One call, from Rust.
    #[inline(always)]
    pub fn in_rust(self) -> u64 {
        match self {
            Call::Pointer(f) => f(black_box(1), black_box(2)),
            Call::Cell(cell) => {
                // SAFETY: the cell holds `add`, as the stub it belongs to does.
                let f: Add = unsafe { std::mem::transmute(cell.load(Ordering::Acquire)) };
                f(black_box(1), black_box(2))
            }
        }
    }

    /// `calls` calls from a Rust loop, written as the C host's loops are.
    pub fn in_rust_loop(self, calls: u64) -> u64 {
        match self {
            Call::Pointer(f) => rust_pointer_loop(f, calls),
            Call::Cell(cell) => rust_cell_loop(cell, calls),
        }
    }

    /// `calls` calls from the C host's loop.
    pub fn in_c(self, host: CHost, calls: u64) -> u64 {
        match self {
            Call::Pointer(f) => (host.pointer)(f, calls),
            Call::Cell(cell) => (host.cell)(cell, calls),
        }
    }
}

/// Calls `f(i, 1)` `calls` times; an empty asm statement makes `f` opaque
/// on every round (as in `c/calls.c`), so the call is neither inlined nor
/// hoisted.
#[inline(never)]
fn rust_pointer_loop(f: Add, calls: u64) -> u64 {
    let mut word = f as usize;
    let mut sum = 0u64;
    for i in 0..calls {
        // SAFETY: an empty statement that only claims to change a register.
        unsafe {
            std::arch::asm!("/* {0} */", inout(reg) word, options(nomem, nostack, preserves_flags))
        };
        // SAFETY: `word` still holds `f`.
        let f: Add = unsafe { std::mem::transmute::<usize, Add>(word) };
        sum = sum.wrapping_add(f(i, 1));
    }
    sum
}

/// Calls what `cell` holds `calls` times, reading it anew every time.
#[inline(never)]
fn rust_cell_loop(cell: &AtomicPtr<()>, calls: u64) -> u64 {
    let mut sum = 0u64;
    for i in 0..calls {
        // SAFETY: the cell holds `add`, as the stub it belongs to does.
        let f: Add = unsafe { std::mem::transmute(cell.load(Ordering::Acquire)) };
        sum = sum.wrapping_add(f(i, 1));
    }
    sum
}

/// One way of calling `add`.
#[derive(Clone, Copy)]
pub struct Case {
    /// What the bench calls it.
    pub name: &'static str,
    /// How it calls.
    pub call: Call,
    /// For a stub, how many bytes its jump spans to reach `add`.
    pub jump: Option<usize>,
}

/// Everything the stub benches call, set up in the order the runtime
/// works in.
pub struct Subjects {
    /// The ways of calling `add`, the `dlsym` pointer first.
    pub cases: [Case; 6],
    /// The C host.
    pub c: CHost,
    /// Why the far table is not at `0x10000000`, if it is not.
    pub note: Option<String>,
}

impl Subjects {
    /// Reserves the default table, then loads `add` (so it lands as a
    /// module would), then reserves a table at `0x10000000`.
    ///
    /// # Panics
    /// When `add` is out of the near form's reach of the default table.
    pub fn set_up() -> Subjects {
        let near = table(Placement::Near);
        let add_library = open(&c_library("add.c"));
        // SAFETY: `add` has this signature in c/add.c; the library stays open.
        let add: Add = *unsafe { add_library.get::<Add>(b"add\0") }.expect("dlsym");
        let far = table(Placement::Fixed(NIM_ADDRESS));
        let note = (*far.placed() != Placed::Fixed).then(|| far.describe_placement());
        let (far_data, _) = stub(far, add, StubForm::Data);
        let (near_data, cell) = stub(near, add, StubForm::Data);
        let (near_form, _) = stub(near, add, StubForm::Near);
        let (paged, _) = stub(
            table_of(Layout::Paged, Placement::Near),
            add,
            StubForm::Data,
        );
        let add_at = add as usize;
        let jump = |stub: Add| Some((stub as usize).abs_diff(add_at));
        assert!(
            hcr_runtime::arch::host::near_jump_area(near_form as usize as u64, add_at as u64)
                .is_ok(),
            "add ({}) is out of the near form's reach of the default table",
            distance(jump(near_form).unwrap_or(0))
        );
        let calls = open(&c_library("calls.c"));
        // SAFETY: both functions have these signatures in c/calls.c (a cell
        // is read there as `add_fn const *`, which an AtomicPtr is laid out
        // as); the library stays open.
        let c = unsafe {
            CHost {
                pointer: *calls.get(b"hcr_bench_call_pointer\0").expect("dlsym"),
                cell: *calls.get(b"hcr_bench_call_cell\0").expect("dlsym"),
            }
        };
        let case = |name, call, jump| Case { name, call, jump };
        Subjects {
            cases: [
                case("dylib function pointer (dlsym)", Call::Pointer(add), None),
                case(
                    "hcr stub, data form, table far",
                    Call::Pointer(far_data),
                    jump(far_data),
                ),
                case(
                    "hcr stub, data form, table near",
                    Call::Pointer(near_data),
                    jump(near_data),
                ),
                case(
                    "hcr stub, near form, table near",
                    Call::Pointer(near_form),
                    jump(near_form),
                ),
                case(
                    "hcr stub, paged table (macOS's layout)",
                    Call::Pointer(paged),
                    jump(paged),
                ),
                case("hcr stub's cell, read per call", Call::Cell(cell), None),
            ],
            c,
            note,
        }
    }
}

/// A distance in bytes, as a power of two and in the largest whole unit.
pub fn distance(bytes: usize) -> String {
    let bytes = bytes.max(1);
    let (value, unit) = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)]
        .into_iter()
        .find(|(_, shift)| bytes >> shift > 0)
        .map_or((bytes, "B"), |(unit, shift)| (bytes >> shift, unit));
    format!("2^{} bytes ({value} {unit})", bytes.ilog2())
}
