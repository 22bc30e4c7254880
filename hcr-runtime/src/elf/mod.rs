//! Checks a shared library's bytes before they reach `dlopen`.
//!
//! glibc's loader trusts the ELF headers: it maps segments straight from the
//! file, so a library cut short by a linker that is still writing it kills
//! the process with SIGBUS instead of returning an error, and a damaged
//! header can make it map the wrong bytes as code or read through garbage
//! pointers. This check reads what the loader relies on and refuses any
//! file whose program headers, loadable segments or dynamic section reach
//! past its end, whose segments, sections and dynamic entries do not agree,
//! or that was built for another machine.

/// Why a file is not a loadable shared library for this process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ElfError {
    /// The file does not start with the ELF magic.
    #[error("not an ELF file")]
    NotElf,
    /// The file ends inside the ELF header.
    #[error("truncated: {len} bytes is too short for an ELF header")]
    TooShort {
        /// The file's length.
        len: usize,
    },
    /// Class, byte order, version or machine differ from this process.
    #[error("built for {found}, but this process is {expected}")]
    WrongTarget {
        /// What the file declares.
        found: String,
        /// What this process needs.
        expected: String,
    },
    /// The file is an executable, object file or core dump.
    #[error("not a shared library (ELF type {0})")]
    NotShared(u16),
    /// A table or segment the loader reads lies past the end of the file.
    #[error("truncated: {what} ends at byte {end}, but the file has {len} bytes")]
    Truncated {
        /// Which part.
        what: String,
        /// Where it ends.
        end: u64,
        /// The file's length.
        len: usize,
    },
    /// A header field holds a value no loader accepts.
    #[error("malformed: {0}")]
    Malformed(String),
}

mod dynamic;
mod segments;
#[cfg(test)]
mod tests;

use dynamic::check_dynamic;
use segments::{Segment, check_loads, check_sections, holder};

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_NOTE: u32 = 4;
const PT_PHDR: u32 = 6;
const PT_TLS: u32 = 7;
const PT_GNU_RELRO: u32 = 0x6474_e552;
const PT_GNU_PROPERTY: u32 = 0x6474_e553;

const ET_DYN: u16 = 3;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

#[cfg(target_arch = "x86_64")]
const HOST_MACHINE: u16 = 62;
#[cfg(target_arch = "x86")]
const HOST_MACHINE: u16 = 3;
#[cfg(target_arch = "aarch64")]
const HOST_MACHINE: u16 = 183;
#[cfg(target_arch = "arm")]
const HOST_MACHINE: u16 = 40;

const HOST_CLASS: u8 = if cfg!(target_pointer_width = "64") {
    2
} else {
    1
};
const HOST_DATA: u8 = if cfg!(target_endian = "little") { 1 } else { 2 };

/// Little helper that reads header fields of either ELF class.
struct Reader<'a> {
    bytes: &'a [u8],
    wide: bool,
}

impl Reader<'_> {
    fn uint(&self, offset: u64, size: usize) -> Option<u64> {
        let start = usize::try_from(offset).ok()?;
        let field = self.bytes.get(start..start.checked_add(size)?)?;
        let mut buf = [0u8; 8];
        if HOST_DATA == 1 {
            buf[..size].copy_from_slice(field);
            Some(u64::from_le_bytes(buf))
        } else {
            buf[8 - size..].copy_from_slice(field);
            Some(u64::from_be_bytes(buf))
        }
    }
    fn u16(&self, offset: u64) -> Option<u16> {
        self.uint(offset, 2).map(|v| v as u16)
    }
    fn u32(&self, offset: u64) -> Option<u32> {
        self.uint(offset, 4).map(|v| v as u32)
    }
    /// An address-sized field (`Elf32_Off`/`Elf64_Off` and friends).
    fn word(&self, offset: u64) -> Option<u64> {
        self.uint(offset, if self.wide { 8 } else { 4 })
    }
}

fn machine_name(machine: u16) -> String {
    match machine {
        3 => "x86".into(),
        40 => "ARM".into(),
        62 => "x86_64".into(),
        183 => "AArch64".into(),
        other => format!("ELF machine {other}"),
    }
}

fn end_within(
    what: impl FnOnce() -> String,
    start: u64,
    size: u64,
    len: usize,
) -> Result<(), ElfError> {
    match start.checked_add(size) {
        Some(end) if end <= len as u64 => Ok(()),
        end => Err(ElfError::Truncated {
            what: what(),
            end: end.unwrap_or(u64::MAX),
            len,
        }),
    }
}

/// Checks that `bytes` is a shared library this process can `dlopen`
/// without the loader faulting: headers and segments within the file;
/// loadable segments in address order, consistent with their alignment,
/// and holding every allocated section where the file has it with the
/// access it needs; notes and TLS inside them; a dynamic section loaded
/// from where the file holds it, ending with `DT_NULL` and pointing only
/// into the loadable segments. (A property test loads, in a child process,
/// every truncated or header-damaged library this lets through.)
///
/// # Errors
/// An [`ElfError`] naming the first problem found.
pub fn check_shared_library(bytes: &[u8]) -> Result<(), ElfError> {
    if bytes.len() < 4 || bytes[..4] != *b"\x7fELF" {
        return Err(
            if bytes.len() < 4 && b"\x7fELF".starts_with(bytes) && !bytes.is_empty() {
                ElfError::TooShort { len: bytes.len() }
            } else {
                ElfError::NotElf
            },
        );
    }
    let class = bytes.get(4).copied();
    let wide = class == Some(2);
    let header_len = if wide { 64 } else { 52 };
    if bytes.len() < header_len {
        return Err(ElfError::TooShort { len: bytes.len() });
    }
    let expected = machine_name(HOST_MACHINE);
    if bytes[4] != HOST_CLASS || bytes[5] != HOST_DATA || bytes[6] != 1 {
        let bits = match bytes[4] {
            1 => "32-bit",
            2 => "64-bit",
            _ => "unknown class",
        };
        let order = match bytes[5] {
            1 => "little-endian",
            2 => "big-endian",
            _ => "unknown byte order",
        };
        return Err(ElfError::WrongTarget {
            found: format!("{bits} {order} ELF version {}", bytes[6]),
            expected: format!(
                "{} {expected}",
                if HOST_CLASS == 2 { "64-bit" } else { "32-bit" }
            ),
        });
    }
    let r = Reader { bytes, wide };
    let malformed = || ElfError::Malformed("header field out of range".into());
    let kind = r.u16(16).ok_or_else(malformed)?;
    let machine = r.u16(18).ok_or_else(malformed)?;
    if machine != HOST_MACHINE {
        return Err(ElfError::WrongTarget {
            found: machine_name(machine),
            expected,
        });
    }
    if kind != ET_DYN {
        return Err(ElfError::NotShared(kind));
    }
    let (phoff_at, shoff_at, sizes_at) = if wide { (32, 40, 54) } else { (28, 32, 42) };
    let phoff = r.word(phoff_at).ok_or_else(malformed)?;
    let shoff = r.word(shoff_at).ok_or_else(malformed)?;
    let phentsize = u64::from(r.u16(sizes_at).ok_or_else(malformed)?);
    let phnum = u64::from(r.u16(sizes_at + 2).ok_or_else(malformed)?);
    let shentsize = u64::from(r.u16(sizes_at + 4).ok_or_else(malformed)?);
    let shnum = u64::from(r.u16(sizes_at + 6).ok_or_else(malformed)?);
    let expected_phentsize = if wide { 56 } else { 32 };
    if phentsize != expected_phentsize {
        return Err(ElfError::Malformed(format!(
            "program header entries are {phentsize} bytes, not {expected_phentsize}"
        )));
    }
    if phnum == 0 {
        return Err(ElfError::Malformed("no program headers".into()));
    }
    let len = bytes.len();
    end_within(
        || "the program header table".into(),
        phoff,
        phnum * phentsize,
        len,
    )?;
    if shoff != 0 {
        let expected_shentsize = if wide { 64 } else { 40 };
        if shnum > 0 && shentsize != expected_shentsize {
            return Err(ElfError::Malformed(format!(
                "section header entries are {shentsize} bytes, not {expected_shentsize}"
            )));
        }
        end_within(
            || "the section header table".into(),
            shoff,
            shnum * shentsize,
            len,
        )?;
    }
    let mut loads = Vec::new();
    let mut dynamic = None;
    let mut in_memory = Vec::new();
    for index in 0..phnum {
        let segment = Segment::read(&r, phoff + index * phentsize, index).ok_or_else(malformed)?;
        let name = match segment.kind {
            PT_LOAD => {
                if segment.filesz > segment.memsz {
                    return Err(ElfError::Malformed(format!(
                        "segment {index} has more bytes in the file ({}) than in memory ({})",
                        segment.filesz, segment.memsz
                    )));
                }
                loads.push(segment);
                "loadable segment"
            }
            PT_DYNAMIC => {
                dynamic = Some(segment);
                "dynamic section"
            }
            // Read (or, for RELRO, made read-only) by the loader in memory,
            // where a loadable segment must hold them.
            PT_NOTE | PT_PHDR | PT_TLS | PT_GNU_RELRO | PT_GNU_PROPERTY => {
                in_memory.push(segment);
                continue;
            }
            _ => continue,
        };
        end_within(
            || format!("{name} {index}"),
            segment.offset,
            segment.filesz,
            len,
        )?;
    }
    if loads.is_empty() {
        return Err(ElfError::Malformed("no loadable segment".into()));
    }
    let Some(dynamic) = dynamic else {
        return Err(ElfError::Malformed("no dynamic section".into()));
    };
    check_loads(&loads)?;
    for segment in &in_memory {
        if holder(&loads, segment.vaddr, segment.memsz).is_none() {
            return Err(ElfError::Malformed(format!(
                "segment {} lies outside the loadable segments",
                segment.index
            )));
        }
    }
    check_sections(&r, &loads, shoff, shnum, shentsize)?;
    check_dynamic(&r, &loads, &dynamic)
}
