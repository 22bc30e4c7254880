//! ARMv7 (A32) stubs.
//!
//! * data form: `ldr pc, [pc, #0]` (the pc reads 8 bytes ahead, so it loads
//!   the word at +8, where every architecture keeps its target), a trap,
//!   then the 4-byte target at +8. Loading the pc interworks: a Thumb
//!   target (odd address) runs in Thumb state. Re-pointing is one aligned
//!   4-byte store of data.
//! * near form: `B imm24`, reaching ±32 MiB from the slot + 8. `B` cannot
//!   switch to Thumb state, so a Thumb target keeps the data form.
//! * veneer: `sub r0, pc, #24` (the slot), `movw`/`movt ip` with the handler
//!   cell's absolute address, `ldr pc, [ip]`. The handler is entered with
//!   the caller's return address still in lr.

use super::{EncodeError, JUMP_LEN, VENEER_LEN, check_slot_alignment};
use super::{address32, check_word_aligned, jump_area, pack_words, signed_displacement};

/// Width of the data form's target word.
pub const TARGET_WIDTH: usize = 4;

/// No stub page: the paged table is for 64-bit targets (macOS's).
pub const PAGE_PIECES: Option<([u8; 16], [u8; 16])> = None;

/// This architecture as an ELF header's `e_machine` names it.
pub const ELF_MACHINE: u16 = object::elf::EM_ARM.0;

/// This architecture as a Mach-O header's `cputype` names it.
pub const MACHO_CPU: u32 = object::macho::CPU_TYPE_ARM.0;

/// This architecture as a PE file header's `Machine` names it.
pub const PE_MACHINE: u16 = object::pe::IMAGE_FILE_MACHINE_ARMNT.0;
/// Length of the near jump.
pub const NEAR_JUMP_LEN: usize = 4;
/// The veneer reaches the cell by its absolute address: one cell is enough.
pub const HANDLER_CELL_SPACING: Option<usize> = None;
/// How far a near jump reaches either way.
pub const NEAR_REACH: u64 = 1 << 25;

const UDF_0: u32 = 0xe7f0_00f0; // udf #0
const LDR_PC_PC: u32 = 0xe59f_f000; // ldr pc, [pc, #0]
const SUB_R0_PC_24: u32 = 0xe24f_0018; // sub r0, pc, #24
const LDR_PC_IP: u32 = 0xe59c_f000; // ldr pc, [ip]

/// The data form's jump instructions, independent of the slot's address.
///
/// # Errors
/// [`EncodeError::Misaligned`] for a slot not aligned to a slot's size.
pub fn data_jump(slot: u64) -> Result<[u8; JUMP_LEN], EncodeError> {
    check_slot_alignment(slot)?;
    Ok(pack_words([LDR_PC_PC, UDF_0]))
}

/// The near form: `B imm24` from `slot` to `target`.
///
/// # Errors
/// [`EncodeError::OutOfRange`] beyond ±32 MiB, [`EncodeError::Misaligned`]
/// for a Thumb or unaligned target.
pub fn near_jump(slot: u64, target: u64) -> Result<[u8; NEAR_JUMP_LEN], EncodeError> {
    check_word_aligned("b target (ARM state)", target)?;
    let offset = signed_displacement("b imm24", slot + 8, target, 26)?;
    let imm24 = ((offset >> 2) as u32) & 0xff_ffff;
    Ok((0xea00_0000 | imm24).to_le_bytes()) // b imm24
}

/// The whole jump area of a near-form slot: the branch, then a trap.
///
/// # Errors
/// As for [`near_jump`].
pub fn near_jump_area(slot: u64, target: u64) -> Result<[u8; JUMP_LEN], EncodeError> {
    Ok(jump_area(&near_jump(slot, target)?, &UDF_0.to_le_bytes()))
}

/// `movw`/`movt ip, #imm16` (A1 encodings).
fn mov_ip(top: bool, imm16: u32) -> u32 {
    let base = if top { 0xe340_c000 } else { 0xe300_c000 };
    base | ((imm16 >> 12) << 16) | (imm16 & 0xfff)
}

/// The bad-call veneer at `slot + 16`, reading the handler from `cell`.
///
/// # Errors
/// [`EncodeError::AddressTooWide`] when the cell is above 4 GiB.
pub fn bad_call_veneer(slot: u64, cell: u64) -> Result<[u8; VENEER_LEN], EncodeError> {
    check_slot_alignment(slot)?;
    let cell = address32("movw/movt cell", cell)?;
    Ok(pack_words([
        SUB_R0_PC_24,
        mov_ip(false, cell & 0xffff),
        mov_ip(true, cell >> 16),
        LDR_PC_IP,
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::golden;
    use crate::test_support::{Rng, cases};

    const GOLDEN: &str = include_str!("../../../asm/arm/golden.txt");
    const SLOT: u64 = 0x1000_0020;

    /// Near cases of `asm/arm/stubs.S`: name and distance from the slot.
    const NEAR_CASES: &[(&str, i64)] = &[
        ("near_to_self", 0),
        ("near_forward", 0x1000),
        ("near_backward", -0x40),
        ("near_max", 8 + 0x1ff_fffc),
        ("near_min", 8 - 0x200_0000),
    ];

    /// Veneer cases: name and the cell's absolute address.
    const VENEER_CASES: &[(&str, u64)] = &[
        ("veneer_cell_low", 0x1000_0000),
        ("veneer_cell_high", 0xbeef_1234),
    ];

    #[test]
    fn data_jump_matches_the_assembler() {
        golden::assert_case(GOLDEN, "data_jump", &data_jump(SLOT).unwrap());
    }

    #[test]
    fn near_jumps_match_the_assembler_up_to_both_limits() {
        for &(name, distance) in NEAR_CASES {
            let bytes = near_jump(SLOT, SLOT.wrapping_add_signed(distance)).unwrap();
            golden::assert_case(GOLDEN, name, &bytes);
        }
        let area = near_jump_area(SLOT, SLOT + 0x1000).unwrap();
        golden::assert_case(GOLDEN, "trap", &area[4..]);
    }

    #[test]
    fn near_jumps_out_of_reach_or_to_thumb_code_are_errors() {
        assert!(near_jump(SLOT, SLOT + 8 + 0x200_0000).is_err());
        assert!(near_jump(SLOT, SLOT + 8 - 0x200_0004).is_err());
        let err = near_jump(SLOT, SLOT + 0x101).unwrap_err();
        assert!(err.to_string().contains("ARM state"), "{err}");
    }

    #[test]
    fn veneers_match_the_assembler() {
        for &(name, cell) in VENEER_CASES {
            let bytes = bad_call_veneer(SLOT, cell).unwrap();
            golden::assert_case(GOLDEN, name, &bytes);
        }
        assert!(bad_call_veneer(SLOT, 0x1_0000_0000).is_err());
    }

    #[test]
    fn every_golden_case_is_checked() {
        let near = NEAR_CASES.iter().map(|c| c.0);
        let veneers = VENEER_CASES.iter().map(|c| c.0);
        golden::assert_all_checked(
            GOLDEN,
            ["data_jump", "trap"].into_iter().chain(near).chain(veneers),
        );
    }

    #[test]
    fn random_stubs_disassemble_to_jumps_to_exactly_their_targets() {
        use crate::arch::disassembler::{Encoders, Line, address_in, random_slots};
        use crate::arch::{TARGET_OFFSET, VENEER_OFFSET};
        let encoders = Encoders {
            data_jump,
            bad_call_veneer,
            near_jump_area,
        };
        let mut rng = Rng(0x5eed_0009);
        let base = (rng.next() & 0x7fff_0000) + 0x1000_0000;
        let tool = ("arm-linux-gnueabihf-objdump", "arm");
        // Any cell; a target often within B's ±32 MiB of the slot + 8.
        let Some(code) = random_slots(tool, &encoders, base, cases(400), |slot| {
            let cell = rng.next() & 0xffff_fffc;
            let target =
                (slot + 8).wrapping_add_signed((rng.next() % (1 << 27)) as i64 - (1 << 26));
            (cell, target & 0xffff_fffc)
        }) else {
            return;
        };
        // movw/movt print their immediate in decimal, with the hex in a comment.
        let half = |line: &Line| {
            address_in(&line.comment).or_else(|| line.operands.rsplit('#').next()?.parse().ok())
        };
        for s in &code.slots {
            let load = code.data_at(s.slot);
            assert_eq!(
                (load.mnemonic.as_str(), load.operands.as_str()),
                ("ldr", "pc, [pc]"),
                "{load:?}"
            );
            assert_eq!(
                address_in(&load.comment),
                Some(s.slot + TARGET_OFFSET as u64),
                "{load:?}"
            );

            let veneer = s.slot + VENEER_OFFSET as u64;
            let sub = code.data_at(veneer);
            assert_eq!(
                (sub.mnemonic.as_str(), sub.operands.as_str()),
                ("sub", "r0, pc, #24")
            );
            assert_eq!(
                veneer + 8 - 24,
                s.slot,
                "r0 holds the slot (pc reads 8 ahead)"
            );
            let (low, high) = (code.data_at(veneer + 4), code.data_at(veneer + 8));
            assert_eq!(
                (low.mnemonic.as_str(), high.mnemonic.as_str()),
                ("movw", "movt")
            );
            assert_eq!(
                half(high).unwrap() << 16 | half(low).unwrap(),
                s.cell,
                "{low:?} {high:?}"
            );
            let jump = code.data_at(veneer + 12);
            assert_eq!(
                (jump.mnemonic.as_str(), jump.operands.as_str()),
                ("ldr", "pc, [ip]")
            );
            if s.near_encoded {
                let b = code.near_at(s.slot);
                assert_eq!(
                    (b.mnemonic.as_str(), address_in(&b.operands)),
                    ("b", Some(s.target))
                );
            } else {
                let distance = s.target.wrapping_sub(s.slot + 8) as i64;
                assert!(
                    !(-(1 << 25)..(1 << 25)).contains(&distance),
                    "in reach, refused: {distance:#x}"
                );
            }
        }
    }
}
