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

// Header words are u64 in 64-bit files and u32 in 32-bit ones: the
// conversions to u64 are only useless on 64-bit targets.
#![allow(
    clippy::useless_conversion,
    reason = "needed where the file's words are 32-bit"
)]

pub use crate::library_error::LibraryError as ElfError;

mod dynamic;
mod segments;
#[cfg(test)]
mod tests;

use object::read::elf::FileHeader as _;
use object::{Endianness, elf};

use dynamic::check_dynamic;
use segments::{Segment, check_loads, check_sections, holder};

/// The header types of this process's class, read with either byte order
/// (a file of the other order is refused before they are used).
#[cfg(target_pointer_width = "64")]
type Elf = elf::FileHeader64<Endianness>;
#[cfg(target_pointer_width = "32")]
type Elf = elf::FileHeader32<Endianness>;

/// Bytes in an address-sized field of this process's class.
const WORD: u64 = size_of::<usize>() as u64;

const PF_X: u32 = elf::PF_X.0;
const PF_W: u32 = elf::PF_W.0;
const PF_R: u32 = elf::PF_R.0;

const HOST_MACHINE: u16 = crate::arch::host::ELF_MACHINE;

const HOST_CLASS: u8 = if cfg!(target_pointer_width = "64") {
    elf::ELFCLASS64.0
} else {
    elf::ELFCLASS32.0
};
const HOST_DATA: u8 = if cfg!(target_endian = "little") {
    elf::ELFDATA2LSB.0
} else {
    elf::ELFDATA2MSB.0
};

/// The pointer-sized word at `offset` of the file (the file's byte order
/// and class are this process's: checked first).
fn word_at(bytes: &[u8], offset: u64) -> Option<u64> {
    let start = usize::try_from(offset).ok()?;
    let field = bytes.get(start..start.checked_add(WORD as usize)?)?;
    let mut word = [0u8; size_of::<usize>()];
    word.copy_from_slice(field);
    Some(usize::from_ne_bytes(word) as u64)
}

fn machine_name(machine: u16) -> String {
    match elf::Machine(machine) {
        elf::EM_386 => "x86".into(),
        elf::EM_ARM => "ARM".into(),
        elf::EM_X86_64 => "x86_64".into(),
        elf::EM_AARCH64 => "AArch64".into(),
        _ => format!("ELF machine {machine}"),
    }
}

/// Checks that the identification bytes describe a file of this process's
/// class, byte order, ELF version and machine, and a shared library.
fn check_identity(bytes: &[u8]) -> Result<(), ElfError> {
    if bytes.len() < 4 || bytes[..4] != elf::ELFMAG {
        return Err(
            if bytes.len() < 4 && elf::ELFMAG.starts_with(bytes) && !bytes.is_empty() {
                ElfError::TooShort {
                    len: bytes.len(),
                    what: "an ELF header",
                }
            } else {
                ElfError::NotLibrary("an ELF file")
            },
        );
    }
    if bytes.len() < size_of::<Elf>() {
        return Err(ElfError::TooShort {
            len: bytes.len(),
            what: "an ELF header",
        });
    }
    let expected = machine_name(HOST_MACHINE);
    if bytes[4] != HOST_CLASS || bytes[5] != HOST_DATA || bytes[6] != elf::EV_CURRENT.0 {
        let bits = match elf::FileClass(bytes[4]) {
            elf::ELFCLASS32 => "32-bit",
            elf::ELFCLASS64 => "64-bit",
            _ => "unknown class",
        };
        let order = match elf::DataEncoding(bytes[5]) {
            elf::ELFDATA2LSB => "little-endian",
            elf::ELFDATA2MSB => "big-endian",
            _ => "unknown byte order",
        };
        return Err(ElfError::WrongTarget {
            found: format!("{bits} {order} ELF version {}", bytes[6]),
            expected: format!(
                "{} {expected}",
                if HOST_CLASS == elf::ELFCLASS64.0 {
                    "64-bit"
                } else {
                    "32-bit"
                }
            ),
        });
    }
    Ok(())
}

/// Checks that `bytes` is a shared library this process can `dlopen`
/// without the loader faulting: headers and segments within the file;
/// loadable segments in address order, consistent with their alignment,
/// and holding every allocated section where the file has it with the
/// access it needs; notes and TLS inside them; a dynamic section loaded
/// from where the file holds it, ending with `DT_NULL` and pointing only
/// into the loadable segments. (A property test loads, in a child process,
/// every truncated or header-damaged library this lets through.) The
/// headers are read with the `object` crate; the rules are the loader's.
///
/// # Errors
/// An [`ElfError`] naming the first problem found.
pub fn check_shared_library(bytes: &[u8]) -> Result<(), ElfError> {
    check_identity(bytes)?;
    let malformed = |err: object::read::Error| ElfError::Malformed(err.to_string());
    let header = Elf::parse(bytes).map_err(malformed)?;
    let endian = header.endian().map_err(malformed)?;
    let machine = header.e_machine(endian).0;
    if machine != HOST_MACHINE {
        return Err(ElfError::WrongTarget {
            found: machine_name(machine),
            expected: machine_name(HOST_MACHINE),
        });
    }
    let kind = header.e_type(endian);
    if kind != elf::ET_DYN {
        return Err(ElfError::NotShared(format!("ELF type {}", kind.0)));
    }
    let phoff: u64 = header.e_phoff(endian).into();
    let shoff: u64 = header.e_shoff(endian).into();
    let phentsize = u64::from(header.e_phentsize(endian));
    let phnum = u64::from(header.e_phnum(endian));
    let shentsize = u64::from(header.e_shentsize(endian));
    let shnum = u64::from(header.e_shnum(endian));
    let expected_phentsize =
        size_of::<<Elf as object::read::elf::FileHeader>::ProgramHeader>() as u64;
    if phentsize != expected_phentsize {
        return Err(ElfError::Malformed(format!(
            "program header entries are {phentsize} bytes, not {expected_phentsize}"
        )));
    }
    if phoff == 0 || phnum == 0 {
        return Err(ElfError::Malformed("no program headers".into()));
    }
    let len = bytes.len();
    ElfError::end_within(
        || "the program header table".into(),
        phoff,
        phnum * phentsize,
        len,
    )?;
    if shoff != 0 {
        let expected_shentsize =
            size_of::<<Elf as object::read::elf::FileHeader>::SectionHeader>() as u64;
        if shnum > 0 && shentsize != expected_shentsize {
            return Err(ElfError::Malformed(format!(
                "section header entries are {shentsize} bytes, not {expected_shentsize}"
            )));
        }
        ElfError::end_within(
            || "the section header table".into(),
            shoff,
            shnum * shentsize,
            len,
        )?;
    }
    let mut loads = Vec::new();
    let mut dynamic = None;
    let mut in_memory = Vec::new();
    let program_headers = header.program_headers(endian, bytes).map_err(malformed)?;
    for (index, program_header) in (0..).zip(program_headers) {
        let segment = Segment::new(index, program_header, endian);
        let name = match elf::ProgramType(segment.kind) {
            elf::PT_LOAD => {
                if segment.filesz > segment.memsz {
                    return Err(ElfError::Malformed(format!(
                        "segment {index} has more bytes in the file ({}) than in memory ({})",
                        segment.filesz, segment.memsz
                    )));
                }
                loads.push(segment);
                "loadable segment"
            }
            elf::PT_DYNAMIC => {
                dynamic = Some(segment);
                "dynamic section"
            }
            // Read (or, for RELRO, made read-only) by the loader in memory,
            // where a loadable segment must hold them.
            elf::PT_NOTE
            | elf::PT_PHDR
            | elf::PT_TLS
            | elf::PT_GNU_RELRO
            | elf::PT_GNU_PROPERTY => {
                in_memory.push(segment);
                continue;
            }
            _ => continue,
        };
        ElfError::end_within(
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
        // Of the thread-local template the loader reads only the file's
        // bytes (`.tdata`); the rest (`.tbss`) is zeroed per thread, and
        // lies in no loadable segment when it is all there is.
        let read = match elf::ProgramType(segment.kind) {
            elf::PT_TLS => segment.filesz,
            _ => segment.memsz,
        };
        if read > 0 && holder(&loads, segment.vaddr, read).is_none() {
            return Err(ElfError::Malformed(format!(
                "segment {} lies outside the loadable segments",
                segment.index
            )));
        }
    }
    check_sections(bytes, header, endian, &loads)?;
    check_dynamic(bytes, endian, &loads, &dynamic)
}

/// The byte ranges of a library file that `dlopen` and
/// [`check_shared_library`] read, as far as its headers say: the file
/// header, the program header table, the loadable segments' file bytes
/// and the section header table. The rest (debug information, the symbol
/// table) is read only by debuggers and backtraces. `None` when the
/// headers cannot be read, and then all of the file counts.
pub fn read_by_loader(bytes: &[u8]) -> Option<Vec<std::ops::Range<u64>>> {
    let header = Elf::parse(bytes).ok()?;
    let endian = header.endian().ok()?;
    let span = |start: u64, len: u64| Some(start..start.checked_add(len)?);
    let table = |offset: u64, count: u16, entry: u16| {
        span(offset, u64::from(count).checked_mul(entry.into())?)
    };
    let mut ranges = Vec::from_iter(std::iter::once(0..size_of::<Elf>() as u64));
    ranges.push(table(
        header.e_phoff(endian).into(),
        header.e_phnum(endian),
        header.e_phentsize(endian),
    )?);
    ranges.push(table(
        header.e_shoff(endian).into(),
        header.e_shnum(endian),
        header.e_shentsize(endian),
    )?);
    for program_header in header.program_headers(endian, bytes).ok()? {
        let segment = Segment::new(0, program_header, endian);
        if elf::ProgramType(segment.kind) == elf::PT_LOAD {
            ranges.push(span(segment.offset, segment.filesz)?);
        }
    }
    Some(ranges)
}
