//! Stub encoders, one file per instruction set.
//!
//! Every architecture lays a slot out the same way, so the jump table never
//! needs to know which instruction set it writes:
//!
//! | offset | bytes | content |
//! | --- | --- | --- |
//! | 0 | 8 | the jump: data form (indirect through the word at +8) or near form |
//! | 8 | 8 | the target word of the data form (native pointer width) |
//! | 16 | 16 | the bad-call veneer: passes the slot's own address to the bad-call handler |
//!
//! A slot whose proc is missing points its target word at its own veneer, so
//! the handler learns which slot was called and can name the proc.
//!
//! | architecture | data form | near form | veneer reaches the handler cell by |
//! | --- | --- | --- | --- |
//! | x86_64 | `jmp [rip+2]` | `jmp rel32` (±2 GiB) | `jmp [rip+rel32]` |
//! | x86 | `jmp [abs32]` | `jmp rel32` (wraps) | `jmp [abs32]` |
//! | AArch64 | `ldr x16, #8; br x16` | `B` (±128 MiB) | `ldr x17, cell` (±1 MiB: a cell every MiB) |
//! | ARMv7 | `ldr pc, [pc, #0]` | `B` (±32 MiB, ARM-state targets) | `movw`/`movt ip; ldr pc, [ip]` |
//!
//! The paged table (macOS) uses no encoder: its stubs are one page of
//! fixed, position-independent code in the runtime, copied wherever stubs
//! are needed ([`STUB_PAGE`]):
//!
//! | architecture | stub | bad-call entry |
//! | --- | --- | --- |
//! | x86_64 | `lea r11, [rip+cell]; jmp [r11]` | `lea rdi, [r11-page]; mov rcx, rdi; jmp [rip+handler cell]` |
//! | AArch64 | `adr x16, cell; ldr x17, [x16]; br x17` | `sub x0, x16, #page; adr x17, handler cell; ldr x17, [x17]; br x17` |
//!
//! The encoders are pure functions over addresses, compile on every host and
//! return [`EncodeError`] instead of truncating a displacement. Only the
//! `host` alias is chosen by `cfg`, so the golden-byte tests of every
//! architecture run everywhere.

pub mod aarch64;
pub mod arm;
pub mod x86;
pub mod x86_64;

#[cfg(target_arch = "aarch64")]
pub use aarch64 as host;
#[cfg(target_arch = "arm")]
pub use arm as host;
#[cfg(target_arch = "x86")]
pub use x86 as host;
#[cfg(target_arch = "x86_64")]
pub use x86_64 as host;

/// Size of one slot in bytes; slots are aligned to it.
pub const SLOT_SIZE: usize = 32;
/// Offset of the data form's target word inside a slot.
pub const TARGET_OFFSET: usize = 8;
/// Offset of the bad-call veneer inside a slot.
pub const VENEER_OFFSET: usize = 16;
/// Bytes of the jump instruction area at the start of a slot.
pub const JUMP_LEN: usize = 8;
/// Bytes of the veneer area.
pub const VENEER_LEN: usize = 16;

/// Bytes of the stub page of the paged table (`jump_table::paged`, the
/// layout used on macOS), and the distance from each of its stubs to the
/// stub's cell: every copy of the page has a data page this far above it.
pub const STUB_PAGE: usize = 0x4000;
/// Bytes of one stub of the stub page; its cell is the first word of the
/// same stretch of the data page.
pub const PAGE_STUB_LEN: usize = 16;
/// Offset of the stub page's bad-call entry: its last stub-sized stretch.
/// The word above it in the data page is the page's handler cell.
pub const PAGE_BAD_CALL_OFFSET: usize = STUB_PAGE - PAGE_STUB_LEN;

/// The stub page made of an architecture's two pieces (stub, bad-call
/// entry): stubs up to [`PAGE_BAD_CALL_OFFSET`], then the entry.
pub(crate) const fn stub_page((stub, bad_call): ([u8; 16], [u8; 16])) -> [u8; STUB_PAGE] {
    let mut page = [0; STUB_PAGE];
    let mut at = 0;
    while at < STUB_PAGE {
        let piece = if at == PAGE_BAD_CALL_OFFSET {
            bad_call
        } else {
            stub
        };
        let mut i = 0;
        while i < PAGE_STUB_LEN {
            page[at + i] = piece[i];
            i += 1;
        }
        at += PAGE_STUB_LEN;
    }
    page
}

/// Four instruction words as little-endian bytes, at compile time.
pub(crate) const fn words_le(words: [u32; 4]) -> [u8; 16] {
    let mut bytes = [0; 16];
    let mut i = 0;
    while i < 16 {
        bytes[i] = words[i / 4].to_le_bytes()[i % 4];
        i += 1;
    }
    bytes
}

/// Why an encoder could not produce a stub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A pc-relative displacement does not fit its field.
    #[error("{what}: distance {distance:#x} from {from:#x} does not fit in {bits} signed bits")]
    OutOfRange {
        /// Which instruction needed the displacement.
        what: &'static str,
        /// Address the displacement is measured from.
        from: u64,
        /// The displacement that was needed.
        distance: i128,
        /// Width of the displacement field.
        bits: u32,
    },
    /// An absolute address does not fit the architecture's address width.
    #[error("{what}: address {address:#x} does not fit in {bits} bits")]
    AddressTooWide {
        /// Which field needed the address.
        what: &'static str,
        /// The address.
        address: u64,
        /// Width of the field.
        bits: u32,
    },
    /// An address is not aligned as the stub layout needs.
    #[error("{what}: address {address:#x} is not aligned to {align} bytes")]
    Misaligned {
        /// Which address.
        what: &'static str,
        /// The address.
        address: u64,
        /// The alignment it needs.
        align: u64,
    },
}

/// The signed displacement `to - from`, if it fits in `bits` signed bits.
pub(crate) fn signed_displacement(
    what: &'static str,
    from: u64,
    to: u64,
    bits: u32,
) -> Result<i64, EncodeError> {
    let distance = i128::from(to) - i128::from(from);
    let limit = 1i128 << (bits - 1);
    if distance < -limit || distance >= limit {
        return Err(EncodeError::OutOfRange {
            what,
            from,
            distance,
            bits,
        });
    }
    // The range check above makes this lossless for every `bits <= 64`.
    Ok(distance as i64)
}

/// Checks that an instruction address is aligned to 4 bytes (ARM code).
pub(crate) fn check_word_aligned(what: &'static str, address: u64) -> Result<(), EncodeError> {
    if address % 4 != 0 {
        return Err(EncodeError::Misaligned {
            what,
            address,
            align: 4,
        });
    }
    Ok(())
}

/// A near-form jump area: the jump, then `trap` (an instruction that is
/// never executed) repeated over the rest of the area.
pub(crate) fn jump_area(jump: &[u8], trap: &[u8]) -> [u8; JUMP_LEN] {
    let mut area = [0; JUMP_LEN];
    area[..jump.len()].copy_from_slice(jump);
    for (byte, fill) in area[jump.len()..].iter_mut().zip(trap.iter().cycle()) {
        *byte = *fill;
    }
    area
}

/// `address` as a 32-bit field, for architectures with 32-bit addresses.
pub(crate) fn address32(what: &'static str, address: u64) -> Result<u32, EncodeError> {
    u32::try_from(address).map_err(|_| EncodeError::AddressTooWide {
        what,
        address,
        bits: 32,
    })
}

/// Instruction words in memory order, little-endian.
///
/// # Panics
/// When `N` is not four times the number of words (a bug in an encoder).
pub(crate) fn pack_words<const W: usize, const N: usize>(words: [u32; W]) -> [u8; N] {
    assert_eq!(N, 4 * W, "{W} words do not fill {N} bytes");
    let mut bytes = [0; N];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// Checks that a slot address is aligned to [`SLOT_SIZE`].
pub(crate) fn check_slot_alignment(slot: u64) -> Result<(), EncodeError> {
    if slot % SLOT_SIZE as u64 != 0 {
        return Err(EncodeError::Misaligned {
            what: "slot",
            address: slot,
            align: SLOT_SIZE as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod golden {
    //! Reads the golden files that `asm/generate.sh` writes from the GNU
    //! assembler's output.

    /// The bytes of case `name` in a golden file (`name hexbytes` per line).
    pub(crate) fn case(file: &str, name: &str) -> Vec<u8> {
        let line = file
            .lines()
            .find(|line| line.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("golden case `{name}` missing: run asm/generate.sh"));
        let hex = line.split_whitespace().nth(1).unwrap_or("");
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("golden files hold hex"))
            .collect()
    }

    /// Checks an encoder's bytes against case `name`.
    pub(crate) fn assert_case(file: &str, name: &str, bytes: &[u8]) {
        assert_eq!(bytes, case(file, name).as_slice(), "case {name}");
    }

    /// Checks that every case of the golden file is among `checked`, so a
    /// case added to a `.S` file cannot go untested.
    pub(crate) fn assert_all_checked<'a>(file: &str, checked: impl IntoIterator<Item = &'a str>) {
        let checked: Vec<&str> = checked.into_iter().collect();
        for name in file
            .lines()
            .filter_map(|line| line.split_whitespace().next())
        {
            assert!(checked.contains(&name), "golden case {name} has no test");
        }
    }
}

#[cfg(test)]
pub(crate) mod disassembler {
    //! Disassembles stubs with the GNU `objdump` of another architecture,
    //! for the ARM property tests (the x86 ones decode with `iced-x86`).

    use std::collections::BTreeMap;
    use std::process::Command;

    /// One decoded instruction: its mnemonic, its operands, and objdump's
    /// comment (`@ 0x...` on ARM), each as objdump prints it.
    #[derive(Debug, Clone)]
    pub(crate) struct Line {
        pub(crate) mnemonic: String,
        pub(crate) operands: String,
        pub(crate) comment: String,
    }

    /// `bytes` decoded as code placed at `base`, by address; `None` when
    /// `tool` is not installed (`.ci/cross-setup` installs it for CI).
    pub(crate) fn objdump(
        tool: &str,
        machine: &str,
        base: u64,
        bytes: &[u8],
    ) -> Option<BTreeMap<u64, Line>> {
        let file =
            std::env::temp_dir().join(format!("hcr-stubs-{machine}-{}.bin", std::process::id()));
        std::fs::write(&file, bytes).expect("a scratch file");
        let output = Command::new(tool)
            .args(["-D", "-b", "binary", "-m", machine])
            .arg(format!("--adjust-vma={base:#x}"))
            .arg(&file)
            .output();
        let _ = std::fs::remove_file(&file);
        let output = output.ok()?;
        assert!(
            output.status.success(),
            "{tool}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut lines = BTreeMap::new();
        for line in text.lines() {
            // "   10000:\t58000050 \tldr\tx16, 0x10008", maybe "\t@ comment"
            let mut fields = line.trim_start().split('\t');
            let Some(address) = fields.next().and_then(|a| a.strip_suffix(':')) else {
                continue;
            };
            let Ok(address) = u64::from_str_radix(address, 16) else {
                continue;
            };
            let _word = fields.next();
            let mnemonic = fields.next().unwrap_or("").trim().to_owned();
            let operands = fields.next().unwrap_or("").trim().to_owned();
            let comment = fields.next().unwrap_or("").trim().to_owned();
            lines.insert(
                address,
                Line {
                    mnemonic,
                    operands,
                    comment,
                },
            );
        }
        Some(lines)
    }

    /// An architecture's stub encoders.
    pub(crate) struct Encoders {
        pub(crate) data_jump: fn(u64) -> Result<[u8; super::JUMP_LEN], super::EncodeError>,
        pub(crate) bad_call_veneer:
            fn(u64, u64) -> Result<[u8; super::VENEER_LEN], super::EncodeError>,
        pub(crate) near_jump_area:
            fn(u64, u64) -> Result<[u8; super::JUMP_LEN], super::EncodeError>,
    }

    /// One random slot: its address, the handler cell and near target
    /// chosen for it, and whether the near form was encodable.
    pub(crate) struct RandomSlot {
        pub(crate) slot: u64,
        pub(crate) cell: u64,
        pub(crate) target: u64,
        pub(crate) near_encoded: bool,
    }

    /// Random slots and their code as the disassembler reads it: one image
    /// with each slot's data form and veneer, one with its near form.
    pub(crate) struct Disassembled {
        pub(crate) slots: Vec<RandomSlot>,
        data: BTreeMap<u64, Line>,
        near: BTreeMap<u64, Line>,
    }

    impl Disassembled {
        /// The instruction at `address` in the data-form-and-veneer image.
        pub(crate) fn data_at(&self, address: u64) -> &Line {
            at(&self.data, address)
        }

        /// The instruction at `address` in the near-form image.
        pub(crate) fn near_at(&self, address: u64) -> &Line {
            at(&self.near, address)
        }
    }

    fn at(code: &BTreeMap<u64, Line>, address: u64) -> &Line {
        code.get(&address)
            .unwrap_or_else(|| panic!("no instruction at {address:#x}"))
    }

    /// Encodes `count` consecutive slots from `base`, each with the cell
    /// and near target `choose` picks for it, and disassembles them with
    /// `tool`. `None`, after saying the test is skipped, when `tool` is not
    /// installed (`.ci/cross-setup` installs it for CI).
    pub(crate) fn random_slots(
        (tool, machine): (&str, &str),
        encoders: &Encoders,
        base: u64,
        count: usize,
        mut choose: impl FnMut(u64) -> (u64, u64),
    ) -> Option<Disassembled> {
        use super::{JUMP_LEN, SLOT_SIZE, VENEER_OFFSET};
        let (mut slots, mut data, mut near) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..count {
            let slot = base + (i * SLOT_SIZE) as u64;
            let (cell, target) = choose(slot);
            let near_jump = (encoders.near_jump_area)(slot, target).ok();
            data.extend((encoders.data_jump)(slot).expect("an aligned slot"));
            data.extend([0; VENEER_OFFSET - JUMP_LEN]);
            data.extend((encoders.bad_call_veneer)(slot, cell).expect("a cell in reach"));
            near.extend(near_jump.unwrap_or([0; JUMP_LEN]));
            near.extend([0; SLOT_SIZE - JUMP_LEN]);
            let near_encoded = near_jump.is_some();
            slots.push(RandomSlot {
                slot,
                cell,
                target,
                near_encoded,
            });
        }
        let disassembled = objdump(tool, machine, base, &data)
            .zip(objdump(tool, machine, base, &near))
            .map(|(data, near)| Disassembled { slots, data, near });
        if disassembled.is_none() {
            eprintln!("skipped: {tool} is not installed (.ci/cross-setup installs it)");
        }
        disassembled
    }

    /// The first hexadecimal number (`0x...`) in `text`.
    pub(crate) fn address_in(text: &str) -> Option<u64> {
        let start = text.find("0x")? + 2;
        let digits: String = text[start..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        u64::from_str_radix(&digits, 16).ok()
    }
}
