//! The mapped table's stubs, executed for real (the paged table's are in
//! `paged/tests.rs`), and what both layouts share.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::*;
use crate::arch::{JUMP_LEN, SLOT_SIZE, host};
use crate::sys::Views;

extern "C" fn one() -> i32 {
    1
}

extern "C" fn two() -> i32 {
    2
}

extern "C" fn never_called(_slot: *const u8) -> ! {
    std::process::abort()
}

fn table(size: usize, placement: Placement) -> JumpTable {
    JumpTable::new(
        JumpTableConfig {
            size,
            placement,
            layout: Layout::Mapped,
        },
        never_called as *const () as usize,
    )
    .unwrap()
}

fn call(table: &JumpTable, slot: SlotId) -> i32 {
    // SAFETY: every slot called here was pointed at `one` or `two`, which
    // have this signature; the table outlives the call.
    let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(table.address(slot)) };
    f()
}

fn jump_bytes(table: &JumpTable, slot: SlotId) -> [u8; JUMP_LEN] {
    // SAFETY: the slot lies in the committed executable view, which is readable.
    unsafe { std::ptr::read(table.address(slot) as *const [u8; JUMP_LEN]) }
}

fn data_form(table: &JumpTable, slot: SlotId) -> [u8; JUMP_LEN] {
    host::data_jump(table.address(slot) as u64).unwrap()
}

fn near_form(table: &JumpTable, slot: SlotId, target: usize) -> [u8; JUMP_LEN] {
    host::near_jump_area(table.address(slot) as u64, target as u64).unwrap()
}

/// A table within near-jump reach of this test's code, if one can be placed.
fn table_near_code() -> Option<JumpTable> {
    let code = one as *const () as usize;
    let granularity = sys::allocation_granularity();
    let reach = usize::try_from(host::NEAR_REACH).unwrap_or(usize::MAX);
    [reach / 2, reach / 4, reach / 8].iter().find_map(|offset| {
        let address = (code.checked_add(*offset)? / granularity) * granularity;
        let table = JumpTable::new(
            JumpTableConfig {
                size: 1 << 20,
                placement: Placement::Fixed(address),
                layout: Layout::Mapped,
            },
            never_called as *const () as usize,
        )
        .ok()?;
        (*table.placed() == Placed::Fixed).then_some(table)
    })
}

#[test]
fn data_form_slots_run_and_are_repointed_in_place() {
    let mut table = table(1 << 20, Placement::Near);
    let slot = table.allocate().unwrap();
    let address = table.address(slot);
    assert!(
        table.is_bad_call(slot),
        "a fresh slot jumps to the bad-call veneer"
    );
    table
        .point_at(slot, one as *const () as usize, StubForm::Data)
        .unwrap();
    assert_eq!(jump_bytes(&table, slot), data_form(&table, slot));
    assert_eq!(call(&table, slot), 1);
    table
        .point_at(slot, two as *const () as usize, StubForm::Data)
        .unwrap();
    assert_eq!(call(&table, slot), 2);
    assert_eq!(table.address(slot), address);
    assert_eq!(table.slot_at(address), Some(slot));
    assert_eq!(table.slot_at(address + 8), None);
}

#[test]
fn near_form_runs_when_the_target_is_in_reach() {
    let Some(mut table) = table_near_code() else {
        panic!("no free address within near-jump reach of this test's code");
    };
    // Each slot gets its near jump before its first call: qemu-user never
    // sees instructions rewritten through the other view after it ran them.
    let (first, second) = (table.allocate().unwrap(), table.allocate().unwrap());
    let (one_at, two_at) = (one as *const () as usize, two as *const () as usize);
    for (slot, target, expected) in [(first, one_at, 1), (second, two_at, 2)] {
        table.point_at(slot, target, StubForm::Near).unwrap();
        assert_eq!(jump_bytes(&table, slot), near_form(&table, slot, target));
        assert_eq!(call(&table, slot), expected);
    }
    // Back to the data form: the target word was already written.
    table.point_at(first, two_at, StubForm::Data).unwrap();
    assert_eq!(jump_bytes(&table, first), data_form(&table, first));
    rewritten_near_jumps_run_the_new_code(&mut table, first);
}

/// Rewriting a near jump that already ran, through the writable view, is
/// visible at once on x86. qemu-user does not see such a rewrite (it
/// caches translated code), so on ARM only hardware can show it.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn rewritten_near_jumps_run_the_new_code(table: &mut JumpTable, slot: SlotId) {
    assert_eq!(call(table, slot), 2);
    table
        .point_at(slot, one as *const () as usize, StubForm::Near)
        .unwrap();
    assert_eq!(call(table, slot), 1);
    table
        .point_at(slot, two as *const () as usize, StubForm::Near)
        .unwrap();
    assert_eq!(call(table, slot), 2);
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn rewritten_near_jumps_run_the_new_code(_table: &mut JumpTable, _slot: SlotId) {}

#[test]
fn near_form_out_of_reach_keeps_the_data_form() {
    let mut table = table(1 << 20, Placement::Fixed(NIM_ADDRESS));
    let slot = table.allocate().unwrap();
    let target = one as *const () as usize;
    table.point_at(slot, target, StubForm::Near).unwrap();
    let near = host::near_jump_area(table.address(slot) as u64, target as u64).ok();
    let expected = near.unwrap_or_else(|| data_form(&table, slot));
    assert_eq!(jump_bytes(&table, slot), expected);
    assert_eq!(call(&table, slot), 1);
}

#[test]
fn a_full_table_is_an_error_and_earlier_slots_still_work() {
    let mut table = table(1 << 20, Placement::Near);
    let first = table.allocate().unwrap();
    table
        .point_at(first, one as *const () as usize, StubForm::Data)
        .unwrap();
    let slots = (1 << 20) / SLOT_SIZE - 1;
    for _ in 1..slots {
        table.allocate().unwrap();
    }
    let err = table.allocate().unwrap_err();
    assert!(
        err.to_string()
            .contains("jump table is full: all 32767 slots of 1 MiB"),
        "{err}"
    );
    assert_eq!(call(&table, first), 1);
    assert_eq!(table.committed_bytes(), 1 << 20);
}

#[test]
fn pages_are_committed_only_as_slots_are_used() {
    let mut table = table(16 << 20, Placement::Near);
    let page = sys::page_size();
    assert_eq!(table.committed_bytes(), page);
    for _ in 0..page / SLOT_SIZE {
        table.allocate().unwrap();
    }
    assert_eq!(table.committed_bytes(), 2 * page);
    assert_eq!(table.reserved_bytes(), 16 << 20);
}

#[test]
fn repointing_while_other_threads_call_through_the_slot() {
    let mut table = table(1 << 20, Placement::Near);
    let slot = table.allocate().unwrap();
    table
        .point_at(slot, one as *const () as usize, StubForm::Data)
        .unwrap();
    let address = table.address(slot);
    let stop = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicUsize::new(0));
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, running) = (stop.clone(), running.clone());
            std::thread::spawn(move || {
                // SAFETY: as in `call`; the table is dropped only after the join.
                let f: extern "C" fn() -> i32 = unsafe { std::mem::transmute(address) };
                let mut calls = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let value = f();
                    assert!(value == 1 || value == 2, "got {value}");
                    if calls == 0 {
                        running.fetch_add(1, Ordering::Relaxed);
                    }
                    calls += 1;
                }
                calls
            })
        })
        .collect();
    while running.load(Ordering::Relaxed) < 2 {
        std::thread::yield_now();
    }
    for round in 0..10_000 {
        let target = if round % 2 == 0 { two } else { one };
        table
            .point_at(slot, target as *const () as usize, StubForm::Data)
            .unwrap();
        assert_eq!(call(&table, slot), target());
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        assert!(caller.join().unwrap() > 0);
    }
}

/// A table in two views reserved here, handing slots out `growth`-wards.
fn table_growing(growth: Growth, size: usize) -> JumpTable {
    let (views, _) = Views::near(size).unwrap();
    let reservation = placement::Reservation {
        views,
        growth,
        placed: Placed::Near,
    };
    let table =
        mapped::Mapped::in_reservation(reservation, size, never_called as *const () as usize);
    JumpTable {
        kind: Kind::Mapped(table.unwrap()),
    }
}

#[test]
fn slots_work_whichever_way_they_are_handed_out() {
    // 2 MiB of slots: many pages and, on AArch64, two stretches of handler
    // cells.
    let size = 2 << 20;
    for growth in [Growth::Up, Growth::Down] {
        let mut table = table_growing(growth, size);
        let slots: Vec<SlotId> = (0..40_000).map(|_| table.allocate().unwrap()).collect();
        let (start, end) = (table.base(), table.base() + size);
        let edge = match growth {
            Growth::Up => start,
            Growth::Down => end,
        };
        let first = table.address(slots[0]);
        assert!(
            first.abs_diff(edge) <= 2 * SLOT_SIZE,
            "{growth:?}: the first slot {first:#x} is not at the edge {edge:#x}"
        );
        for pair in slots.windows(2) {
            let (a, b) = (table.address(pair[0]), table.address(pair[1]));
            let away_from_the_edge = match growth {
                Growth::Up => a < b,
                Growth::Down => a > b,
            };
            assert!(away_from_the_edge, "{growth:?}: {a:#x} then {b:#x}");
        }
        for &slot in &slots {
            let address = table.address(slot);
            assert!(start <= address && address + SLOT_SIZE <= end);
            assert_eq!(table.slot_at(address), Some(slot), "{growth:?}");
            assert!(table.is_bad_call(slot));
        }
        assert_eq!(
            table.slot_at(edge),
            None,
            "{growth:?}: the header is no slot"
        );
        for slot in [slots[0], slots[20_000], slots[39_999]] {
            table
                .point_at(slot, one as *const () as usize, StubForm::Data)
                .unwrap();
            assert_eq!(call(&table, slot), 1, "{growth:?}");
        }
        let page = sys::page_size();
        let used = (table.slots_used() + mapped::cell_count(size)) * SLOT_SIZE;
        assert_eq!(table.committed_bytes(), used.div_ceil(page) * page);
    }
}

#[test]
fn a_forked_child_copy_keeps_every_slot_whichever_way_they_grow() {
    if !sys::HAS_FORK {
        eprintln!("skipped: this system has no fork");
        return;
    }
    for growth in [Growth::Up, Growth::Down] {
        let mut table = table_growing(growth, 1 << 20);
        let slots: Vec<SlotId> = (0..300).map(|_| table.allocate().unwrap()).collect();
        for (i, &slot) in slots.iter().enumerate() {
            let target = if i % 2 == 0 { one } else { two };
            table
                .point_at(slot, target as *const () as usize, StubForm::Data)
                .unwrap();
        }
        let copy = table.snapshot().unwrap();
        // SAFETY: the copy was just taken and no other thread uses this table.
        unsafe { table.switch_to(copy) }.unwrap();
        for (i, &slot) in slots.iter().enumerate() {
            assert_eq!(
                call(&table, slot),
                if i % 2 == 0 { 1 } else { 2 },
                "{growth:?}"
            );
        }
        table
            .point_at(slots[0], two as *const () as usize, StubForm::Data)
            .unwrap();
        assert_eq!(call(&table, slots[0]), 2, "{growth:?}");
    }
}

#[test]
fn a_fixed_address_that_is_free_is_used() {
    let size = 1 << 20;
    // Another test thread may map the address between the look and the
    // request: try a few free ranges.
    let table = (0..5)
        .find_map(|_| {
            let free = Views::near(size).unwrap().0.rx().as_ptr() as usize;
            let table = table(size, Placement::Fixed(free));
            (*table.placed() == Placed::Fixed).then_some((table, free))
        })
        .expect("a free address is used");
    let (mut table, address) = table;
    assert_eq!(table.base(), address);
    assert_eq!(table.growth(), Growth::Up);
    let slot = table.allocate().unwrap();
    assert_eq!(table.address(slot), address + SLOT_SIZE);
    table
        .point_at(slot, one as *const () as usize, StubForm::Data)
        .unwrap();
    assert_eq!(call(&table, slot), 1);
    let text = table.describe_placement();
    assert!(text.contains(&format!("{address:#x}")), "{text}");
    assert!(text.contains(ADDRESS_ENV), "{text}");
}

#[test]
fn a_fixed_address_that_is_taken_is_left_alone_and_the_table_goes_near() {
    let granularity = sys::allocation_granularity();
    let mut buffer = vec![0x5au8; 3 * granularity];
    let taken = (buffer.as_ptr() as usize).next_multiple_of(granularity);
    let mut table = table(1 << 20, Placement::Fixed(taken));
    match table.placed() {
        Placed::NotFixed { requested, reason } => {
            assert_eq!(*requested, taken);
            assert!(
                reason.contains("already mapped") || reason.contains("offered"),
                "{reason}"
            );
        }
        other => panic!("placed {other:?} over a live heap page"),
    }
    assert_ne!(table.base(), taken);
    assert!(
        buffer.iter().all(|byte| *byte == 0x5a),
        "the heap was replaced"
    );
    buffer[0] = 1;
    let slot = table.allocate().unwrap();
    table
        .point_at(slot, two as *const () as usize, StubForm::Data)
        .unwrap();
    assert_eq!(call(&table, slot), 2);
    let text = table.describe_placement();
    assert!(text.contains(&format!("at {taken:#x}, but")), "{text}");
}
