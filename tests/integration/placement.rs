//! Where the jump table goes: beside the modules by default, at a fixed
//! address on request, and never over a mapping that is already there.

use hcr_client::PlacementKind;
use hcr_runtime::arch::host;

/// The address the fixed-address scenarios ask for (Nim's).
const FIXED: usize = 0x1000_0000;

/// Whether this process runs under an emulator or valgrind, which may
/// treat a fixed address as a hint.
fn hints_only() -> bool {
    hcr_tests::under_valgrind()
        || !std::env::var("HCR_TEST_RUNNER")
            .unwrap_or_default()
            .is_empty()
}

/// Checks that the stub of `module::name` lies within near-jump reach of
/// the code it jumps to, and that the near form took; prints the distance.
fn assert_within_reach(host: &hcr_tests::Host, module: &str, name: &str) {
    let stub = host.rt.get_proc(module, name).unwrap();
    let cell = host.rt.stub_cell(stub).unwrap();
    // SAFETY: the cell is the stub's target word in the table, which stays
    // mapped; it is only written by this thread's runtime calls.
    let target = unsafe { cell.as_ptr().read() } as usize;
    let stub = stub.as_ptr() as usize;
    let distance = stub.abs_diff(target);
    println!(
        "{module}::{name}: stub {stub:#x}, code {target:#x}, {} KiB apart",
        distance >> 10
    );
    if hcr_tests::under_asan() {
        // AddressSanitizer's allocator reserves terabytes right below the
        // libraries, leaving no free range near them: the table goes below
        // that, and only the data form (any distance) is in use.
        println!("under AddressSanitizer: the distance is not checked");
        return;
    }
    assert!(
        (distance as u64) < host::NEAR_REACH,
        "{module}::{name}: the stub is {distance:#x} bytes from its code, beyond the near \
         jump's reach ({:#x})",
        host::NEAR_REACH
    );
    // SAFETY: the stub's first bytes lie in the table's executable view,
    // which is readable.
    let jump = unsafe { std::ptr::read(stub as *const [u8; 8]) };
    // Within reach, only a Thumb target (odd address, ARMv7) keeps the
    // data form: `B` cannot switch state.
    let expected = host::near_jump_area(stub as u64, target as u64)
        .or_else(|_| host::data_jump(stub as u64))
        .unwrap();
    assert_eq!(jump, expected, "{module}::{name}: the near form");
}

scenario! {
    fn modules_loaded_after_the_table_lie_within_reach_of_their_stubs(host) {
        // The near form is written wherever the target is in reach.
        host.rt.set_stub_form(1).unwrap();
        // Two C modules, and a Rust one (a larger library) where the Rust
        // fixtures were built.
        host.install("spin", "spin-1");
        host.install("leaf", "leaf-1");
        let rust = host.has_fixture("fx_shapes-1");
        let mut imports = vec!["spin", "leaf"];
        if rust {
            host.install("fx_shapes", "fx_shapes-1");
            imports.push("fx_shapes");
        }
        host.init(&imports);
        let placement = host.rt.jump_table_placement().unwrap();
        println!("{}", placement.description);
        assert_eq!(placement.kind, PlacementKind::Near, "{}", placement.description);
        assert_within_reach(host, "spin", "value");
        assert_within_reach(host, "leaf", "value");
        if rust {
            assert_within_reach(host, "fx_shapes", "scale");
        }

        // A version loaded by a reload lands within reach too. (The stub
        // runs only after it: qemu-user never sees an instruction rewritten
        // after it ran, which only real ARM hardware would show.)
        host.install("spin", "spin-2");
        host.rt.perform_code_reload().unwrap();
        assert_within_reach(host, "spin", "value");
        assert_eq!(host.call("spin", "value"), 2);
    }
}

scenario! {
    env("HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS" = "0x10000000")
    fn a_fixed_address_puts_the_table_there(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let placement = host.rt.jump_table_placement().unwrap();
        println!("{}", placement.description);
        let stub = host.rt.get_proc("spin", "value").unwrap().as_ptr() as usize;
        if placement.kind == PlacementKind::NotFixed && hints_only() {
            // An emulator or valgrind placed it elsewhere, and says so.
            assert!(placement.description.contains("0x10000000, but"), "{}", placement.description);
        } else {
            assert_eq!(placement.kind, PlacementKind::Fixed, "{}", placement.description);
            assert_eq!(placement.base, FIXED);
            assert!((FIXED..FIXED + placement.size).contains(&stub), "stub {stub:#x}");
        }
        assert_eq!(host.call("spin", "value"), 1);
    }
}

/// The address the collision scenario maps before the table is reserved.
const TAKEN: usize = 0x2000_0000;

scenario! {
    env("HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS" = "0x20000000")
    stderr("HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS asks for the jump table at 0x20000000, but")
    fn a_fixed_address_that_is_taken_is_left_alone_and_the_start_goes_on(host) {
        let len = 64 * 1024;
        let mine = hcr_tests::occupy(TAKEN, len)
            .unwrap_or_else(|| panic!("the scenario needs {TAKEN:#x} free"));
        // SAFETY: the memory was just mapped readable and writable.
        unsafe { std::ptr::write_bytes(mine, 0x5a, len) };

        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let placement = host.rt.jump_table_placement().unwrap();
        println!("{}", placement.description);
        assert_eq!(placement.kind, PlacementKind::NotFixed);
        assert_ne!(placement.base, TAKEN);
        // SAFETY: the memory is still this test's (the table went
        // elsewhere): readable.
        let bytes = unsafe { std::slice::from_raw_parts(mine, len) };
        assert!(bytes.iter().all(|byte| *byte == 0x5a), "the page was replaced");
        assert_eq!(host.call("spin", "value"), 1);
    }
}

scenario! {
    env("HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS" = "0x10000001")
    fn a_malformed_jump_table_address_is_named(host) {
        host.install("spin", "spin-1");
        let err = host.rt.init("main", &["spin"], Some(&host.modules)).unwrap_err();
        assert!(err.message.contains("HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS"), "{}", err.message);
        assert!(err.message.contains("`0x10000001`"), "{}", err.message);
        assert!(err.message.contains("not aligned"), "{}", err.message);
        assert_eq!(err.code, -9);
    }
}
