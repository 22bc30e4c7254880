//! x86_64 stubs.
//!
//! * data form: `jmp qword ptr [rip + 2]`, two `int3` of padding, then the
//!   8-byte target at +8. Re-pointing is one aligned 8-byte store.
//! * near form: `jmp rel32`, reaching ±2 GiB from the end of the instruction.
//! * veneer: `lea rdi, [slot]` then `jmp qword ptr [rip + cell]`, where the
//!   cell holds the bad-call handler's address. The handler is entered as if
//!   called by the stub's caller: the return address is still on the stack,
//!   so the stack is aligned as the System V ABI expects at a call target.

use super::{EncodeError, JUMP_LEN, VENEER_LEN, VENEER_OFFSET, check_slot_alignment};
use super::{TARGET_OFFSET, jump_area, signed_displacement};

/// Width of the data form's target word.
pub const TARGET_WIDTH: usize = 8;

/// The stub page's stub and bad-call entry (see [`super::STUB_PAGE`]).
pub const PAGE_PIECES: Option<([u8; 16], [u8; 16])> = Some((PAGE_STUB, PAGE_BAD_CALL));

/// This architecture as an ELF header's `e_machine` names it.
pub const ELF_MACHINE: u16 = object::elf::EM_X86_64.0;

/// This architecture as a Mach-O header's `cputype` names it.
pub const MACHO_CPU: u32 = object::macho::CPU_TYPE_X86_64.0;

/// This architecture as a PE file header's `Machine` names it.
pub const PE_MACHINE: u16 = object::pe::IMAGE_FILE_MACHINE_AMD64.0;
/// Length of the near jump.
pub const NEAR_JUMP_LEN: usize = 5;
/// The veneer reaches the handler cell from anywhere in the table.
pub const HANDLER_CELL_SPACING: Option<usize> = None;
/// How far a near jump reaches either way.
pub const NEAR_REACH: u64 = 1 << 31;

const INT3: u8 = 0xcc;

/// The stub page's stub: `lea r11, [rip + STUB_PAGE - 7]` (its cell) and
/// `jmp [r11]`, then `int3`. r11 keeps the cell's address for the bad-call
/// entry; the System V ABI leaves it to whoever a call passes through.
pub const PAGE_STUB: [u8; 16] = [
    0x4c, 0x8d, 0x1d, 0xf9, 0x3f, 0x00, 0x00, 0x41, 0xff, 0x23, INT3, INT3, INT3, INT3, INT3, INT3,
];

/// The stub page's bad-call entry: `lea rdi, [r11 - STUB_PAGE]` (the slot,
/// from the cell's address), `mov rcx, rdi` (the first argument under
/// Windows' convention too) and `jmp [rip + STUB_PAGE - 16]` (through the
/// handler cell above this entry).
pub const PAGE_BAD_CALL: [u8; 16] = [
    0x49, 0x8d, 0xbb, 0x00, 0xc0, 0xff, 0xff, 0x48, 0x89, 0xf9, 0xff, 0x25, 0xf0, 0x3f, 0x00, 0x00,
];

/// The data form's jump instructions, independent of the slot's address.
pub fn data_jump(slot: u64) -> Result<[u8; JUMP_LEN], EncodeError> {
    check_slot_alignment(slot)?;
    let rip_to_target = (TARGET_OFFSET - 6) as u8;
    Ok([
        0xff,
        0x25,
        rip_to_target,
        0,
        0,
        0, // jmp qword ptr [rip + 2]
        INT3,
        INT3, // never executed; keeps the target word aligned
    ])
}

/// The near form: `jmp rel32` from `slot` to `target`.
///
/// # Errors
/// [`EncodeError::OutOfRange`] when `target` is more than 2 GiB away.
pub fn near_jump(slot: u64, target: u64) -> Result<[u8; NEAR_JUMP_LEN], EncodeError> {
    let end = slot.wrapping_add(NEAR_JUMP_LEN as u64);
    let rel = signed_displacement("jmp rel32", end, target, 32)? as i32;
    let [a, b, c, d] = rel.to_le_bytes();
    Ok([0xe9, a, b, c, d]) // jmp rel32
}

/// The whole jump area of a near-form slot: the jump, then `int3`s.
///
/// # Errors
/// As for [`near_jump`].
pub fn near_jump_area(slot: u64, target: u64) -> Result<[u8; JUMP_LEN], EncodeError> {
    Ok(jump_area(&near_jump(slot, target)?, &[INT3]))
}

/// The bad-call veneer at `slot + 16`: loads the slot's address into the
/// first argument register and jumps through the handler cell.
///
/// # Errors
/// [`EncodeError::OutOfRange`] when the cell is more than 2 GiB away.
pub fn bad_call_veneer(slot: u64, handler_cell: u64) -> Result<[u8; VENEER_LEN], EncodeError> {
    check_slot_alignment(slot)?;
    let lea_end = slot + VENEER_OFFSET as u64 + 7;
    let to_slot = signed_displacement("lea rdi, [rip + rel32]", lea_end, slot, 32)? as i32;
    let jmp_end = lea_end + 6;
    let to_cell = signed_displacement("jmp [rip + rel32]", jmp_end, handler_cell, 32)? as i32;
    let [s0, s1, s2, s3] = to_slot.to_le_bytes();
    let [c0, c1, c2, c3] = to_cell.to_le_bytes();
    Ok([
        0x48, 0x8d, 0x3d, s0, s1, s2, s3, // lea rdi, [rip + rel32]
        0xff, 0x25, c0, c1, c2, c3, // jmp qword ptr [rip + rel32]
        INT3, INT3, INT3,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::golden;
    use crate::test_support::{Rng, cases};

    const GOLDEN: &str = include_str!("../../../asm/x86_64/golden.txt");
    /// High enough that every case's target is a valid address; the bytes
    /// depend only on distances.
    const SLOT: u64 = 0x7f00_0000_0000;

    /// The near-jump cases of `asm/x86_64/stubs.S`: name and distance from
    /// the end of the instruction.
    const NEAR_CASES: &[(&str, i64)] = &[
        ("near_zero", 0),
        ("near_small_forward", 0x10),
        ("near_small_backward", -0x20),
        ("near_page", 0x1000),
        ("near_max", 0x7fff_ffff),
        ("near_min", -0x8000_0000),
    ];

    /// The veneer cases: name and the cell's distance from the slot.
    const VENEER_CASES: &[(&str, i64)] = &[
        ("veneer_cell_is_first_slot", -0x20),
        ("veneer_cell_far_below", -0x7fff_0000),
        ("veneer_cell_above", 0x40),
    ];

    #[test]
    fn data_jump_matches_the_assembler() {
        golden::assert_case(GOLDEN, "data_jump", &data_jump(SLOT).unwrap());
    }

    #[test]
    fn near_jumps_match_the_assembler_up_to_both_limits() {
        for &(name, distance) in NEAR_CASES {
            let target = (SLOT + NEAR_JUMP_LEN as u64).wrapping_add_signed(distance);
            let bytes = near_jump(SLOT, target).unwrap();
            golden::assert_case(GOLDEN, name, &bytes);
        }
    }

    #[test]
    fn near_jump_one_past_either_limit_is_an_error() {
        let slot = SLOT;
        let end = slot + NEAR_JUMP_LEN as u64;
        assert!(near_jump(slot, end + 0x7fff_ffff).is_ok());
        assert!(near_jump(slot, end - 0x8000_0000).is_ok());
        assert!(near_jump(slot, end + 0x8000_0000).is_err());
        assert!(near_jump(slot, end - 0x8000_0001).is_err());
        let err = near_jump(SLOT, 0x1000).unwrap_err();
        assert!(
            err.to_string().contains("does not fit in 32 signed bits"),
            "{err}"
        );
    }

    #[test]
    fn veneers_match_the_assembler() {
        for &(name, distance) in VENEER_CASES {
            let cell = SLOT.wrapping_add_signed(distance);
            let bytes = bad_call_veneer(SLOT, cell).unwrap();
            golden::assert_case(GOLDEN, name, &bytes);
        }
    }

    #[test]
    fn every_golden_case_is_checked() {
        let near = NEAR_CASES.iter().map(|c| c.0);
        let veneers = VENEER_CASES.iter().map(|c| c.0);
        golden::assert_all_checked(
            GOLDEN,
            ["data_jump", "page_stub", "page_bad_call"]
                .into_iter()
                .chain(near)
                .chain(veneers),
        );
    }

    #[test]
    fn the_stub_page_s_pieces_match_the_assembler() {
        golden::assert_case(GOLDEN, "page_stub", &PAGE_STUB);
        golden::assert_case(GOLDEN, "page_bad_call", &PAGE_BAD_CALL);
    }

    /// Decodes every x86_64 stub of the page: a `lea r11` of the address one
    /// stub page above itself, then `jmp [r11]`; the entry: `lea rdi, [r11 -
    /// page]`, `mov rcx, rdi`, then a jump through the word one stub page
    /// above itself.
    #[test]
    fn every_stub_of_the_page_decodes_to_a_jump_through_its_cell() {
        use crate::arch::{PAGE_BAD_CALL_OFFSET, PAGE_STUB_LEN, STUB_PAGE};
        use iced_x86::{Code, Decoder, DecoderOptions, Register};
        let page = crate::arch::stub_page((PAGE_STUB, PAGE_BAD_CALL));
        let base = 0x7f00_0000_0000u64;
        for at in (0..STUB_PAGE).step_by(PAGE_STUB_LEN) {
            let ip = base + at as u64;
            let mut decoder =
                Decoder::with_ip(64, &page[at..at + PAGE_STUB_LEN], ip, DecoderOptions::NONE);
            let (first, second) = (decoder.decode(), decoder.decode());
            let cell = ip + STUB_PAGE as u64;
            if at == PAGE_BAD_CALL_OFFSET {
                assert_eq!(first.code(), Code::Lea_r64_m);
                assert_eq!(first.op0_register(), Register::RDI);
                assert_eq!(first.memory_base(), Register::R11);
                assert_eq!(
                    first.memory_displacement64(),
                    (STUB_PAGE as u64).wrapping_neg()
                );
                assert_eq!(second.code(), Code::Mov_rm64_r64);
                assert_eq!(second.op0_register(), Register::RCX);
                assert_eq!(second.op1_register(), Register::RDI);
                let third = decoder.decode();
                assert_eq!(third.code(), Code::Jmp_rm64);
                assert!(third.is_ip_rel_memory_operand());
                assert_eq!(third.ip_rel_memory_address(), cell);
            } else {
                assert_eq!(first.code(), Code::Lea_r64_m, "stub at {at:#x}");
                assert_eq!(first.op0_register(), Register::R11);
                assert!(first.is_ip_rel_memory_operand());
                assert_eq!(first.ip_rel_memory_address(), cell);
                assert_eq!(second.code(), Code::Jmp_rm64);
                assert_eq!(second.memory_base(), Register::R11);
                assert_eq!(second.memory_displacement64(), 0);
            }
        }
    }

    #[test]
    fn misaligned_slots_are_refused() {
        assert!(data_jump(SLOT + 8).is_err());
        assert!(bad_call_veneer(SLOT + 4, SLOT).is_err());
    }

    /// A random address in the lower half, aligned to `align`.
    fn address(rng: &mut Rng, align: u64) -> u64 {
        rng.next() & 0x0000_7fff_ffff_ffff & !(align - 1)
    }

    /// `address` moved by up to ±2^33, so that about a quarter of the
    /// cases fall within a rel32's reach.
    fn nearby(rng: &mut Rng, address: u64, align: u64) -> u64 {
        let offset = (rng.next() % (1 << 34)) as i64 - (1 << 33);
        address.wrapping_add_signed(offset) & 0x0000_7fff_ffff_ffff & !(align - 1)
    }

    fn within_rel32(end: u64, target: u64) -> bool {
        i32::try_from(target.wrapping_sub(end) as i64).is_ok()
    }

    #[test]
    fn random_stubs_decode_to_jumps_to_exactly_their_targets() {
        use iced_x86::{Decoder, DecoderOptions, Mnemonic, OpKind, Register};
        let mut rng = Rng(0x5eed_0005);
        for _ in 0..cases(3000) {
            let slot = address(&mut rng, 32);
            let decode = |bytes: &[u8], ip: u64| {
                let mut decoder = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
                (decoder.decode(), decoder.decode())
            };

            let (jump, _) = decode(&data_jump(slot).unwrap(), slot);
            assert_eq!(jump.mnemonic(), Mnemonic::Jmp, "data form at {slot:#x}");
            assert!(jump.is_ip_rel_memory_operand());
            assert_eq!(jump.ip_rel_memory_address(), slot + TARGET_OFFSET as u64);

            let target = nearby(&mut rng, slot, 1);
            match near_jump_area(slot, target) {
                Ok(bytes) => {
                    let (jump, _) = decode(&bytes, slot);
                    assert_eq!(jump.mnemonic(), Mnemonic::Jmp);
                    assert_eq!(jump.op0_kind(), OpKind::NearBranch64);
                    assert_eq!(
                        jump.near_branch_target(),
                        target,
                        "near form {slot:#x} -> {target:#x}"
                    );
                }
                Err(_) => assert!(!within_rel32(slot + NEAR_JUMP_LEN as u64, target)),
            }

            let cell = nearby(&mut rng, slot, 8);
            let veneer = slot + VENEER_OFFSET as u64;
            match bad_call_veneer(slot, cell) {
                Ok(bytes) => {
                    let (lea, jump) = decode(&bytes, veneer);
                    assert_eq!(lea.mnemonic(), Mnemonic::Lea);
                    assert_eq!(lea.op0_register(), Register::RDI);
                    assert_eq!(lea.ip_rel_memory_address(), slot, "the handler's argument");
                    assert_eq!(jump.mnemonic(), Mnemonic::Jmp);
                    assert_eq!(
                        jump.ip_rel_memory_address(),
                        cell,
                        "through the handler cell"
                    );
                }
                Err(_) => {
                    assert!(!within_rel32(veneer + 7, slot) || !within_rel32(veneer + 13, cell))
                }
            }
        }
    }
}
