//! x86 (32-bit) stubs.
//!
//! * data form: `jmp dword ptr [slot + 8]` (absolute), two `int3`, then the
//!   4-byte target at +8. Re-pointing is one aligned 4-byte store.
//! * near form: `jmp rel32`. The 32-bit instruction pointer wraps, so every
//!   32-bit target is in reach; only addresses wider than 32 bits fail.
//! * veneer: `sub esp, 8; push slot; push eax; jmp dword ptr [cell]`. The
//!   handler then sees `slot` as its first stack argument below a dummy
//!   return address, with the stack moved by 16 bytes so the i386 System V
//!   16-byte alignment at a call target still holds.

use super::{EncodeError, JUMP_LEN, TARGET_OFFSET, VENEER_LEN, check_slot_alignment};
use super::{address32, jump_area};

/// Width of the data form's target word.
pub const TARGET_WIDTH: usize = 4;

/// No stub page: the paged table is for 64-bit targets (macOS's).
pub const PAGE_PIECES: Option<([u8; 16], [u8; 16])> = None;

/// This architecture as an ELF header's `e_machine` names it.
pub const ELF_MACHINE: u16 = object::elf::EM_386.0;

/// This architecture as a Mach-O header's `cputype` names it.
pub const MACHO_CPU: u32 = object::macho::CPU_TYPE_X86.0;

/// This architecture as a PE file header's `Machine` names it.
pub const PE_MACHINE: u16 = object::pe::IMAGE_FILE_MACHINE_I386.0;
/// Length of the near jump.
pub const NEAR_JUMP_LEN: usize = 5;
/// The veneer reaches the handler cell from anywhere in the table.
pub const HANDLER_CELL_SPACING: Option<usize> = None;
/// How far a near jump reaches either way.
pub const NEAR_REACH: u64 = 1 << 32;

const INT3: u8 = 0xcc;

/// The data form's jump instructions for the slot at `slot`.
///
/// # Errors
/// [`EncodeError::AddressTooWide`] when the slot is above 4 GiB.
pub fn data_jump(slot: u64) -> Result<[u8; JUMP_LEN], EncodeError> {
    check_slot_alignment(slot)?;
    let word = address32("jmp [abs32]", slot + TARGET_OFFSET as u64)?;
    let [a, b, c, d] = word.to_le_bytes();
    Ok([
        0xff, 0x25, a, b, c, d, // jmp dword ptr [abs32]
        INT3, INT3,
    ])
}

/// The near form: `jmp rel32` from `slot` to `target`, modulo 2^32.
///
/// # Errors
/// [`EncodeError::AddressTooWide`] when either address is above 4 GiB.
pub fn near_jump(slot: u64, target: u64) -> Result<[u8; NEAR_JUMP_LEN], EncodeError> {
    let slot = address32("jmp rel32 source", slot)?;
    let target = address32("jmp rel32 target", target)?;
    let rel = target.wrapping_sub(slot.wrapping_add(NEAR_JUMP_LEN as u32));
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

/// The bad-call veneer at `slot + 16`.
///
/// # Errors
/// [`EncodeError::AddressTooWide`] when an address is above 4 GiB.
pub fn bad_call_veneer(slot: u64, handler_cell: u64) -> Result<[u8; VENEER_LEN], EncodeError> {
    check_slot_alignment(slot)?;
    let [s0, s1, s2, s3] = address32("push imm32", slot)?.to_le_bytes();
    let [c0, c1, c2, c3] = address32("jmp [abs32]", handler_cell)?.to_le_bytes();
    Ok([
        0x83, 0xec, 0x08, // sub esp, 8
        0x68, s0, s1, s2, s3,   // push imm32 (the slot: the handler's argument)
        0x50, // push eax (stands in for a return address)
        0xff, 0x25, c0, c1, c2, c3, // jmp dword ptr [abs32]
        INT3,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::VENEER_OFFSET;
    use crate::arch::golden;
    use crate::test_support::{Rng, cases};

    const GOLDEN: &str = include_str!("../../../asm/x86/golden.txt");
    const SLOT: u64 = 0x1000_0000;

    /// Near cases of `asm/x86/stubs.S`: name, slot and target.
    const NEAR_CASES: &[(&str, u64, u64)] = &[
        ("near_zero", SLOT, SLOT + 5),
        ("near_backward", SLOT, SLOT - 0x100),
        ("near_max", SLOT, SLOT + 5 + 0x7fff_ffff),
        ("near_wraps_below_zero", SLOT, 0xf000_0000),
    ];

    #[test]
    fn data_jump_matches_the_assembler() {
        golden::assert_case(GOLDEN, "data_jump", &data_jump(SLOT).unwrap());
    }

    #[test]
    fn near_jumps_match_the_assembler_including_wraparound() {
        for &(name, slot, target) in NEAR_CASES {
            let bytes = near_jump(slot, target).unwrap();
            golden::assert_case(GOLDEN, name, &bytes);
        }
    }

    #[test]
    fn veneer_matches_the_assembler() {
        let bytes = bad_call_veneer(SLOT, 0x0fff_f000).unwrap();
        golden::assert_case(GOLDEN, "veneer", &bytes);
    }

    #[test]
    fn every_golden_case_is_checked() {
        let near = NEAR_CASES.iter().map(|c| c.0);
        golden::assert_all_checked(GOLDEN, ["data_jump", "veneer"].into_iter().chain(near));
    }

    #[test]
    fn addresses_above_4_gib_are_errors_not_truncations() {
        assert!(data_jump(0x1_0000_0000).is_err());
        assert!(near_jump(SLOT, 0x1_0000_0000).is_err());
        assert!(bad_call_veneer(SLOT, 0x1_0000_0000).is_err());
    }

    #[test]
    fn random_stubs_decode_to_jumps_to_exactly_their_targets() {
        use iced_x86::{Decoder, DecoderOptions, Mnemonic, OpKind, Register};
        let mut rng = Rng(0x5eed_0006);
        for _ in 0..cases(3000) {
            let slot = rng.next() & 0xffff_ffe0;
            let target = rng.next() & 0xffff_ffff;
            let cell = rng.next() & 0xffff_fffc;
            let decode = |bytes: &[u8], ip: u64| {
                let mut decoder = Decoder::with_ip(32, bytes, ip, DecoderOptions::NONE);
                std::iter::from_fn(move || decoder.can_decode().then(|| decoder.decode()))
                    .collect::<Vec<_>>()
            };

            let jump = decode(&data_jump(slot).unwrap(), slot)[0];
            assert_eq!(jump.mnemonic(), Mnemonic::Jmp, "data form at {slot:#x}");
            assert_eq!(jump.op0_kind(), OpKind::Memory);
            assert_eq!(
                u64::from(jump.memory_displacement32()),
                slot + TARGET_OFFSET as u64
            );

            let jump = decode(&near_jump_area(slot, target).unwrap(), slot)[0];
            assert_eq!(jump.op0_kind(), OpKind::NearBranch32);
            assert_eq!(
                u64::from(jump.near_branch32()),
                target,
                "near form {slot:#x} -> {target:#x}"
            );

            let veneer = slot + VENEER_OFFSET as u64;
            let code = decode(&bad_call_veneer(slot, cell).unwrap(), veneer);
            let mnemonics: Vec<_> = code.iter().take(4).map(|i| i.mnemonic()).collect();
            assert_eq!(
                mnemonics,
                [Mnemonic::Sub, Mnemonic::Push, Mnemonic::Push, Mnemonic::Jmp]
            );
            assert_eq!(code[0].op0_register(), Register::ESP);
            assert_eq!(code[1].immediate32() as u64, slot, "the handler's argument");
            assert_eq!(
                u64::from(code[3].memory_displacement32()),
                cell,
                "through the handler cell"
            );
        }
    }

    #[test]
    fn addresses_above_4_gib_are_refused_by_every_encoder() {
        let mut rng = Rng(0x5eed_0007);
        for _ in 0..cases(300) {
            let high = (rng.next() | (1 << 32)) & !31;
            assert!(data_jump(high).is_err());
            assert!(near_jump(high, 0x1000).is_err());
            assert!(near_jump(0x1000, high).is_err());
            assert!(bad_call_veneer(high, 0x1000).is_err());
            assert!(bad_call_veneer(0x1000, high).is_err());
        }
    }
}
