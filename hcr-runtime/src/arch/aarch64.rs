//! AArch64 stubs.
//!
//! * data form: `ldr x16, #8; br x16`, then the 8-byte target at +8.
//!   Re-pointing is one aligned 8-byte store of data; the instructions are
//!   written once, before the slot is handed out.
//! * near form: `B imm26`, reaching ±128 MiB from the slot; `brk #0` after
//!   it is never executed.
//! * veneer: `adr x0, slot; ldr x17, cell; br x17; brk #0`. `LDR (literal)`
//!   reaches only ±1 MiB, so the jump table keeps a copy of the handler cell
//!   at the start of every MiB ([`HANDLER_CELL_SPACING`]); x16 and x17 are
//!   the intra-procedure-call scratch registers the AAPCS64 leaves to
//!   veneers. The handler is entered with the caller's return address still
//!   in x30, as if the caller had called it.

use super::{EncodeError, JUMP_LEN, VENEER_LEN, VENEER_OFFSET, check_slot_alignment};
use super::{TARGET_OFFSET, check_word_aligned, jump_area, pack_words, signed_displacement};

/// Width of the data form's target word.
pub const TARGET_WIDTH: usize = 8;

/// The stub page's stub and bad-call entry (see [`super::STUB_PAGE`]).
pub const PAGE_PIECES: Option<([u8; 16], [u8; 16])> = Some((PAGE_STUB, PAGE_BAD_CALL));

/// This architecture as an ELF header's `e_machine` names it.
pub const ELF_MACHINE: u16 = object::elf::EM_AARCH64.0;

/// This architecture as a Mach-O header's `cputype` names it.
pub const MACHO_CPU: u32 = object::macho::CPU_TYPE_ARM64.0;

/// This architecture as a PE file header's `Machine` names it.
pub const PE_MACHINE: u16 = object::pe::IMAGE_FILE_MACHINE_ARM64.0;
/// Length of the near jump.
pub const NEAR_JUMP_LEN: usize = 4;
/// The veneer's handler cell must lie within `LDR (literal)` reach: the
/// table repeats the cell every this many bytes.
pub const HANDLER_CELL_SPACING: Option<usize> = Some(1 << 20);
/// How far a near jump reaches either way.
pub const NEAR_REACH: u64 = 1 << 27;

/// The stub page's stub: `adr x16, . + STUB_PAGE; ldr x17, [x16]; br
/// x17; brk #0`. x16 keeps the cell's address for the bad-call entry.
pub const PAGE_STUB: [u8; 16] = super::words_le([0x1002_0010, 0xf940_0211, BR_X17, BRK_0]);

/// The stub page's bad-call entry: `sub x0, x16, #STUB_PAGE` (the slot,
/// from the cell's address), `adr x17, . + STUB_PAGE - 4` (the handler
/// cell above this entry), `ldr x17, [x17]; br x17`.
pub const PAGE_BAD_CALL: [u8; 16] =
    super::words_le([0xd140_1200, 0x1001_fff1, 0xf940_0231, BR_X17]);

const BRK_0: u32 = 0xd420_0000; // brk #0
const BR_X16: u32 = 0xd61f_0200; // br x16
const BR_X17: u32 = 0xd61f_0220; // br x17

/// `ldr xN, <pc + offset>` (literal); `offset` is a multiple of 4 within ±1 MiB.
fn ldr_literal(rt: u32, from: u64, to: u64) -> Result<u32, EncodeError> {
    check_word_aligned("ldr (literal) target", to)?;
    let offset = signed_displacement("ldr (literal)", from, to, 21)?;
    let imm19 = ((offset >> 2) as u32) & 0x7_ffff;
    Ok(0x5800_0000 | (imm19 << 5) | rt) // ldr xRt, #offset
}

/// The data form's jump instructions, independent of the slot's address.
///
/// # Errors
/// [`EncodeError::Misaligned`] for a slot not aligned to a slot's size.
pub fn data_jump(slot: u64) -> Result<[u8; JUMP_LEN], EncodeError> {
    check_slot_alignment(slot)?;
    let load = ldr_literal(16, slot, slot + TARGET_OFFSET as u64)?;
    Ok(pack_words([load, BR_X16]))
}

/// The near form: `B imm26` from `slot` to `target`.
///
/// # Errors
/// [`EncodeError::OutOfRange`] beyond ±128 MiB, [`EncodeError::Misaligned`]
/// for a target that is not 4-byte aligned.
pub fn near_jump(slot: u64, target: u64) -> Result<[u8; NEAR_JUMP_LEN], EncodeError> {
    check_word_aligned("b target", target)?;
    let offset = signed_displacement("b imm26", slot, target, 28)?;
    let imm26 = ((offset >> 2) as u32) & 0x3ff_ffff;
    Ok((0x1400_0000 | imm26).to_le_bytes()) // b imm26
}

/// The whole jump area of a near-form slot: the branch, then a trap.
///
/// # Errors
/// As for [`near_jump`].
pub fn near_jump_area(slot: u64, target: u64) -> Result<[u8; JUMP_LEN], EncodeError> {
    Ok(jump_area(&near_jump(slot, target)?, &BRK_0.to_le_bytes()))
}

/// The bad-call veneer at `slot + 16`, reading the handler from `cell`.
///
/// # Errors
/// [`EncodeError::OutOfRange`] when the cell is more than 1 MiB away.
pub fn bad_call_veneer(slot: u64, cell: u64) -> Result<[u8; VENEER_LEN], EncodeError> {
    check_slot_alignment(slot)?;
    let veneer = slot + VENEER_OFFSET as u64;
    let back = signed_displacement("adr", veneer, slot, 21)?;
    let (immlo, immhi) = ((back as u32) & 0x3, ((back >> 2) as u32) & 0x7_ffff);
    let adr = 0x1000_0000 | (immlo << 29) | (immhi << 5); // adr x0, slot
    let load = ldr_literal(17, veneer + 4, cell)?; // ldr x17, cell
    Ok(pack_words([adr, load, BR_X17, BRK_0]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::golden;
    use crate::test_support::{Rng, cases};

    const GOLDEN: &str = include_str!("../../../asm/aarch64/golden.txt");
    const SLOT: u64 = 0x1000_0020;

    /// Near cases of `asm/aarch64/stubs.S`: name and distance from the slot.
    const NEAR_CASES: &[(&str, i64)] = &[
        ("near_zero", 0),
        ("near_forward", 0x1000),
        ("near_backward", -0x40),
        ("near_max", 0x7ff_fffc),
        ("near_min", -0x800_0000),
    ];

    /// Veneer cases: name and the cell's distance from the slot.
    const VENEER_CASES: &[(&str, i64)] = &[
        ("veneer_cell_below", -0x20),
        ("veneer_cell_far_below", -0xf_ffec),
        ("veneer_cell_above", 0x40),
    ];

    #[test]
    fn data_jump_matches_the_assembler() {
        golden::assert_case(GOLDEN, "data_jump", &data_jump(SLOT).unwrap());
    }

    #[test]
    fn the_stub_page_s_pieces_match_the_assembler() {
        golden::assert_case(GOLDEN, "page_stub", &PAGE_STUB);
        golden::assert_case(GOLDEN, "page_bad_call", &PAGE_BAD_CALL);
    }

    #[test]
    fn near_jumps_match_the_assembler_up_to_both_limits() {
        for &(name, distance) in NEAR_CASES {
            let bytes = near_jump(SLOT, SLOT.wrapping_add_signed(distance)).unwrap();
            golden::assert_case(GOLDEN, name, &bytes);
        }
        let area = near_jump_area(SLOT, SLOT + 0x1000).unwrap();
        golden::assert_case(GOLDEN, "near_forward", &area[..4]);
        golden::assert_case(GOLDEN, "trap", &area[4..]);
    }

    #[test]
    fn near_jumps_out_of_reach_or_to_unaligned_code_are_errors() {
        assert!(near_jump(SLOT, SLOT + 0x800_0000).is_err());
        assert!(near_jump(SLOT, SLOT - 0x800_0004).is_err());
        let err = near_jump(SLOT, SLOT + 2).unwrap_err();
        assert!(err.to_string().contains("not aligned to 4 bytes"), "{err}");
    }

    #[test]
    fn veneers_match_the_assembler() {
        for &(name, distance) in VENEER_CASES {
            let cell = SLOT.wrapping_add_signed(distance);
            let bytes = bad_call_veneer(SLOT, cell).unwrap();
            golden::assert_case(GOLDEN, name, &bytes);
        }
        assert!(bad_call_veneer(SLOT, SLOT + (2 << 20)).is_err());
    }

    #[test]
    fn every_golden_case_is_checked() {
        let near = NEAR_CASES.iter().map(|c| c.0);
        let veneers = VENEER_CASES.iter().map(|c| c.0);
        golden::assert_all_checked(
            GOLDEN,
            ["data_jump", "trap", "page_stub", "page_bad_call"]
                .into_iter()
                .chain(near)
                .chain(veneers),
        );
    }

    #[test]
    fn random_stubs_disassemble_to_jumps_to_exactly_their_targets() {
        use crate::arch::VENEER_OFFSET;
        use crate::arch::disassembler::{Encoders, address_in, random_slots};
        let encoders = Encoders {
            data_jump,
            bad_call_veneer,
            near_jump_area,
        };
        let mut rng = Rng(0x5eed_0008);
        let base = (rng.next() & 0x0000_7fff_ffff_ffff & !0xffff) + (1 << 30);
        let tool = ("aarch64-linux-gnu-objdump", "aarch64");
        // A cell within LDR's reach of the veneer, a target often within
        // B's ±128 MiB.
        let Some(code) = random_slots(tool, &encoders, base, cases(400), |slot| {
            let ldr = slot + VENEER_OFFSET as u64 + 4;
            let cell = ldr.wrapping_add_signed((rng.next() % (1 << 20)) as i64 - (1 << 19)) & !7;
            let target = slot.wrapping_add_signed((rng.next() % (1 << 29)) as i64 - (1 << 28)) & !3;
            (cell, target)
        }) else {
            return;
        };
        for s in &code.slots {
            let (ldr, br) = (code.data_at(s.slot), code.data_at(s.slot + 4));
            assert_eq!(
                (ldr.mnemonic.as_str(), address_in(&ldr.operands)),
                ("ldr", Some(s.slot + 8))
            );
            assert!(ldr.operands.starts_with("x16"), "{ldr:?}");
            assert_eq!((br.mnemonic.as_str(), br.operands.as_str()), ("br", "x16"));
            let veneer = s.slot + VENEER_OFFSET as u64;
            let (adr, load, jump) = (
                code.data_at(veneer),
                code.data_at(veneer + 4),
                code.data_at(veneer + 8),
            );
            assert_eq!(
                (adr.mnemonic.as_str(), address_in(&adr.operands)),
                ("adr", Some(s.slot))
            );
            assert!(adr.operands.starts_with("x0"), "{adr:?}");
            assert_eq!(
                (load.mnemonic.as_str(), address_in(&load.operands)),
                ("ldr", Some(s.cell))
            );
            assert_eq!(
                (jump.mnemonic.as_str(), jump.operands.as_str()),
                ("br", "x17")
            );
            if s.near_encoded {
                let b = code.near_at(s.slot);
                assert_eq!(
                    (b.mnemonic.as_str(), address_in(&b.operands)),
                    ("b", Some(s.target))
                );
            } else {
                let distance = s.target.wrapping_sub(s.slot) as i64;
                assert!(
                    !(-(1 << 27)..(1 << 27)).contains(&distance),
                    "in reach, refused: {distance:#x}"
                );
            }
        }
    }
}
