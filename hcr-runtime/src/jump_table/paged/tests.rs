//! The paged table's stubs, executed for real: on Linux x86_64 and AArch64
//! these run the code macOS runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

extern "C" fn one() -> i32 {
    1
}

extern "C" fn two() -> i32 {
    2
}

thread_local! {
    /// The slot address the bad-call entry passed on last on this thread
    /// (tests run side by side).
    static BAD_CALL_SLOT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// A bad-call handler that returns: the entry jumps (not calls) to it with
/// the caller's return address in place, so a caller gets 99 back. On
/// x86_64 it takes the slot as the runtime's handler does, by the System V
/// convention on every system (see [`call_to_bad_call`]).
#[cfg(target_arch = "x86_64")]
extern "sysv64" fn bad_call(slot: *const u8) -> i32 {
    record_bad_call(slot)
}

#[cfg(not(target_arch = "x86_64"))]
extern "C" fn bad_call(slot: *const u8) -> i32 {
    record_bad_call(slot)
}

/// Calls a slot that leads to [`bad_call`]. On x86_64 the entry puts the
/// slot in rdi and the handler is a System V function, while Windows'
/// convention keeps rdi, rsi and xmm6-15 across calls: the call is made in
/// assembly declared to clobber what a System V callee may.
#[cfg(target_arch = "x86_64")]
fn call_to_bad_call(table: &Paged, slot: SlotId) -> i32 {
    let result: i32;
    // SAFETY: the slot leads to `bad_call`, which takes no argument from
    // the caller and returns an `i32` in eax; every register a System V
    // callee may change is declared clobbered, and asm! blocks without
    // `nostack` start with the stack aligned for a call.
    unsafe {
        std::arch::asm!(
            "call {stub}",
            stub = in(reg) table.address(slot),
            lateout("eax") result,
            clobber_abi("sysv64"),
        );
    }
    result
}

#[cfg(not(target_arch = "x86_64"))]
fn call_to_bad_call(table: &Paged, slot: SlotId) -> i32 {
    call(table, slot)
}

fn record_bad_call(slot: *const u8) -> i32 {
    BAD_CALL_SLOT.set(slot as usize);
    99
}

/// A paged table of `size` bytes placed as asked, or None (said) where the
/// layout cannot run: 32-bit targets and pages larger than the stub page.
fn paged(size: usize, placement: Placement) -> Option<Paged> {
    let config = JumpTableConfig {
        size,
        placement,
        layout: Layout::Paged,
    };
    match Paged::new(config, bad_call as *const () as usize) {
        Err(TableError::LayoutUnavailable { why, .. }) => {
            assert!(
                STUB_PAGE_BYTES.is_none() || sys::page_size() > STUB_PAGE,
                "the paged layout must run on this machine: {why}"
            );
            eprintln!("skipped: {why}");
            None
        }
        table => Some(table.unwrap()),
    }
}

fn call(table: &Paged, slot: SlotId) -> i32 {
    // SAFETY: every slot called here leads to `one` or `two` (or, but on
    // x86_64, `bad_call`), which a caller typed `fn() -> i32` may call;
    // the table outlives the call.
    let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(table.address(slot)) };
    f()
}

/// `len` bytes at `address`, which lies in a committed page.
fn bytes_at(address: usize, len: usize) -> Vec<u8> {
    // SAFETY: the callers read inside committed stub or data pages, which
    // are readable.
    unsafe { std::slice::from_raw_parts(address as *const u8, len) }.to_vec()
}

#[test]
fn a_fresh_slot_reaches_the_bad_call_handler_with_its_own_address() {
    let Some(mut table) = paged(1 << 20, Placement::Near) else {
        return;
    };
    let slots: Vec<SlotId> = (0..STUBS_PER_PAGE + 2)
        .map(|_| table.allocate().unwrap())
        .collect();
    // The first and last of the first page, and the first of the second:
    // each page has its own entry and handler cell.
    for slot in [slots[0], slots[STUBS_PER_PAGE - 1], slots[STUBS_PER_PAGE]] {
        assert!(table.is_bad_call(slot));
        assert_eq!(call_to_bad_call(&table, slot), 99);
        assert_eq!(BAD_CALL_SLOT.get(), table.address(slot));
    }
}

#[test]
fn slots_run_and_are_repointed_through_a_cell_one_page_above() {
    let Some(mut table) = paged(1 << 20, Placement::Near) else {
        return;
    };
    let slot = table.allocate().unwrap();
    let address = table.address(slot);
    assert_eq!(table.target_cell(slot), address + STUB_PAGE);
    let one_at = one as *const () as usize;
    table.point_at(slot, one_at);
    assert_eq!(call(&table, slot), 1);
    assert_eq!(
        bytes_at(table.target_cell(slot), size_of::<usize>()),
        one_at.to_ne_bytes()
    );
    table.point_at(slot, two as *const () as usize);
    assert_eq!(call(&table, slot), 2);
    assert_eq!(table.address(slot), address, "a stub never moves");
    table.point_at_bad_call(slot);
    assert!(table.is_bad_call(slot));
    assert_eq!(call_to_bad_call(&table, slot), 99);
    assert_eq!(BAD_CALL_SLOT.get(), address);
}

#[test]
fn every_stub_page_is_the_runtime_s_and_slots_fill_pairs_in_order() {
    let Some(mut table) = paged(1 << 20, Placement::Near) else {
        return;
    };
    let page = STUB_PAGE_BYTES.unwrap();
    let slots: Vec<SlotId> = (0..2 * STUBS_PER_PAGE + 3)
        .map(|_| table.allocate().unwrap())
        .collect();
    assert_eq!(table.committed_bytes(), 3 * PAIR);
    assert_eq!(table.reserved_bytes(), 1 << 20);
    assert_eq!(table.slots_used(), slots.len());
    for pair in 0..3 {
        let stubs = table.base() + pair * PAIR;
        assert!(bytes_at(stubs, STUB_PAGE) == page, "stub page {pair}");
        assert_eq!(table.slot_at(stubs + PAGE_BAD_CALL_OFFSET), None);
        assert_eq!(table.slot_at(stubs + STUB_PAGE), None, "a cell is no slot");
    }
    for pair in slots.windows(2) {
        assert!(table.address(pair[0]) < table.address(pair[1]));
    }
    for (i, &slot) in slots.iter().enumerate() {
        let address = table.address(slot);
        assert_eq!(table.slot_at(address), Some(slot));
        assert_eq!(table.slot_at(address + 4), None);
        assert_eq!((address - table.base()) / PAIR, i / STUBS_PER_PAGE);
        let target = if i % 2 == 0 { one } else { two };
        table.point_at(slot, target as *const () as usize);
    }
    for (i, &slot) in slots.iter().enumerate() {
        assert_eq!(call(&table, slot), if i % 2 == 0 { 1 } else { 2 });
    }
    let beyond = table.address(slots[slots.len() - 1]) + PAGE_STUB_LEN;
    assert_eq!(table.slot_at(beyond), None, "not handed out yet");
}

#[test]
fn a_full_table_is_an_error_and_earlier_slots_still_work() {
    let Some(mut table) = paged(PAIR * 2, Placement::Near) else {
        return;
    };
    let first = table.allocate().unwrap();
    table.point_at(first, one as *const () as usize);
    for _ in 1..2 * STUBS_PER_PAGE {
        table.allocate().unwrap();
    }
    let err = table.allocate().unwrap_err().to_string();
    let expected = format!("jump table is full: all {} slots", 2 * STUBS_PER_PAGE);
    assert!(err.contains(&expected), "{err}");
    assert_eq!(call(&table, first), 1);
}

#[test]
fn repointing_while_other_threads_call_through_the_slot() {
    let Some(mut table) = paged(1 << 20, Placement::Near) else {
        return;
    };
    let slot = table.allocate().unwrap();
    table.point_at(slot, one as *const () as usize);
    let address = table.address(slot);
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                // SAFETY: as in `call`; the table is dropped after the join.
                let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(address) };
                let mut calls = 0u64;
                while !stop.load(Ordering::Relaxed) || calls == 0 {
                    let value = f();
                    assert!(value == 1 || value == 2, "got {value}");
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    for round in 0..10_000 {
        let target = if round % 2 == 0 { two } else { one };
        table.point_at(slot, target as *const () as usize);
        assert_eq!(call(&table, slot), target());
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        assert!(caller.join().unwrap() > 0);
    }
}

#[test]
fn a_fixed_address_is_used_when_free_and_left_alone_when_taken() {
    let size = 1 << 20;
    let Some(probe) = paged(size, Placement::Near) else {
        return;
    };
    let free = probe.base();
    drop(probe);
    // Another test thread may map the address meanwhile: then the table
    // says so and goes elsewhere, which the second half checks anyway.
    let mut table = paged(size, Placement::Fixed(free)).unwrap();
    if *table.placed() == Placed::Fixed {
        assert_eq!(table.base(), free);
        let slot = table.allocate().unwrap();
        assert_eq!(table.address(slot), free);
        table.point_at(slot, one as *const () as usize);
        assert_eq!(call(&table, slot), 1);
        let text = table.describe_placement();
        assert!(text.contains(ADDRESS_ENV) && text.contains(&format!("{free:#x}")));
    }
    let buffer = vec![0x5au8; 3 * sys::allocation_granularity()];
    let taken = (buffer.as_ptr() as usize).next_multiple_of(sys::allocation_granularity());
    let mut table = paged(size, Placement::Fixed(taken)).unwrap();
    assert!(
        matches!(table.placed(), Placed::NotFixed { requested, .. } if *requested == taken),
        "{:?}",
        table.placed()
    );
    assert!(
        buffer.iter().all(|byte| *byte == 0x5a),
        "the heap was replaced"
    );
    let slot = table.allocate().unwrap();
    table.point_at(slot, two as *const () as usize);
    assert_eq!(call(&table, slot), 2);
    assert!(
        table
            .describe_placement()
            .contains(&format!("at {taken:#x}, but"))
    );
}

#[test]
fn layouts_are_named_as_the_variable_spells_them_and_others_refused() {
    assert_eq!(Layout::named(" paged\n").unwrap(), Layout::Paged);
    assert_eq!(Layout::named("mapped").unwrap(), Layout::Mapped);
    let err = Layout::named("jit").unwrap_err().to_string();
    assert_eq!(
        err,
        "HCR_JUMP_TABLE_LAYOUT must be `mapped` or `paged`, got `jit`"
    );
    assert_eq!(Layout::Paged.name(), "paged");
}
