//! Checks a Mach-O dylib's bytes before they reach `dlopen`.
//!
//! dyld maps a dylib's segments as its load commands describe and reads
//! its symbol, export and fixup tables from the `__LINKEDIT` bytes they
//! point at. A dylib cut short by a linker still writing it, or one whose
//! headers were damaged, must be refused (or waited for) before that, with
//! a message, instead of failing inside dyld. This check reads the headers
//! with the `object` crate (bounds-checked) and refuses a file that is not
//! 64-bit little-endian Mach-O for this CPU, that is not a dylib (or has
//! no `LC_ID_DYLIB`), whose load commands, segments or tables (symbols,
//! strings, exports, fixups, code signature) reach past its end, or that
//! has no export table at all. Of a universal ("fat") file it checks the
//! slice for this CPU, or says which slices there are. It compiles and is
//! tested on every host, like the ELF and PE checks.

use object::LittleEndian as LE;
use object::macho;
use object::read::macho::{FatArch, LoadCommandVariant, MachHeader as _, MachOFatFile32};
use object::read::macho::{MachOFatFile64, Segment as _};

pub use crate::library_error::LibraryError as MachOError;

/// The CPU this process runs on, as a Mach-O header names it.
pub const HOST_CPU: u32 = crate::arch::host::MACHO_CPU;

/// A CPU type's everyday name.
fn cpu_name(cpu: u32) -> String {
    match macho::CpuType(cpu) {
        macho::CPU_TYPE_ARM64 => "arm64".into(),
        macho::CPU_TYPE_X86_64 => "x86_64".into(),
        macho::CPU_TYPE_ARM => "arm".into(),
        macho::CPU_TYPE_X86 => "i386".into(),
        macho::CPU_TYPE_ARM64_32 => "arm64_32".into(),
        _ => format!("CPU type {cpu:#x}"),
    }
}

/// Checks that `bytes` is a dylib this process can load; see the module
/// docs.
///
/// # Errors
/// A [`MachOError`] naming the first problem found.
pub fn check_dylib(bytes: &[u8]) -> Result<(), MachOError> {
    check_dylib_for(bytes, HOST_CPU)
}

/// [`check_dylib`] for a process running on `cpu` (a Mach-O CPU type).
///
/// # Errors
/// A [`MachOError`] naming the first problem found.
pub fn check_dylib_for(bytes: &[u8], cpu: u32) -> Result<(), MachOError> {
    let Some(magic) = bytes.first_chunk::<4>() else {
        return Err(MachOError::TooShort {
            len: bytes.len(),
            what: "a Mach-O header",
        });
    };
    match u32::from_be_bytes(*magic) {
        macho::FAT_MAGIC => {
            let fat = MachOFatFile32::parse(bytes).map_err(fat_error(bytes))?;
            check_thin(slice_for(bytes, fat.arches(), cpu)?, cpu)
        }
        macho::FAT_MAGIC_64 => {
            let fat = MachOFatFile64::parse(bytes).map_err(fat_error(bytes))?;
            check_thin(slice_for(bytes, fat.arches(), cpu)?, cpu)
        }
        _ => check_thin(bytes, cpu),
    }
}

/// What a universal file's header that cannot be read says.
fn fat_error(bytes: &[u8]) -> impl Fn(object::Error) -> MachOError + '_ {
    move |_| MachOError::TooShort {
        len: bytes.len(),
        what: "the universal file's header and its list of slices",
    }
}

/// The slice of a universal file for `cpu`.
fn slice_for<'data, Fat: FatArch>(
    bytes: &'data [u8],
    arches: &[Fat],
    cpu: u32,
) -> Result<&'data [u8], MachOError> {
    let Some(arch) = arches.iter().find(|arch| arch.cputype().0 == cpu) else {
        let found: Vec<String> = arches
            .iter()
            .map(|arch| cpu_name(arch.cputype().0))
            .collect();
        return Err(MachOError::WrongTarget {
            found: format!("a universal file of {}", found.join(", ")),
            expected: cpu_name(cpu),
        });
    };
    let (offset, size) = (arch.offset().into(), arch.size().into());
    MachOError::end_within(
        || format!("the {} slice", cpu_name(cpu)),
        offset,
        size,
        bytes.len(),
    )?;
    // end_within just checked that both fit the file's length.
    Ok(&bytes[offset as usize..(offset + size) as usize])
}

/// Checks one (thin) Mach-O file.
fn check_thin(bytes: &[u8], cpu: u32) -> Result<(), MachOError> {
    let len = bytes.len();
    let Some(magic) = bytes.first_chunk::<4>() else {
        return Err(MachOError::TooShort {
            len,
            what: "a Mach-O header",
        });
    };
    let wrong = |found: &str| MachOError::WrongTarget {
        found: found.to_owned(),
        expected: format!("64-bit little-endian {}", cpu_name(cpu)),
    };
    match u32::from_le_bytes(*magic) {
        macho::MH_MAGIC_64 => {}
        macho::MH_CIGAM_64 => return Err(wrong("big-endian Mach-O")),
        macho::MH_MAGIC | macho::MH_CIGAM => return Err(wrong("32-bit Mach-O")),
        _ => return Err(MachOError::NotLibrary("a Mach-O file")),
    }
    let header = macho::MachHeader64::<LE>::parse(bytes, 0).map_err(|_| MachOError::TooShort {
        len,
        what: "the Mach-O header",
    })?;
    let found = header.cputype(LE).0;
    if found != cpu {
        return Err(MachOError::WrongTarget {
            found: cpu_name(found),
            expected: cpu_name(cpu),
        });
    }
    let kind = header.filetype(LE);
    if kind != macho::MH_DYLIB {
        return Err(MachOError::NotShared(match kind {
            macho::MH_EXECUTE => "an executable".into(),
            macho::MH_BUNDLE => "a bundle".into(),
            macho::MH_OBJECT => "an object file".into(),
            macho::MH_CORE => "a core dump".into(),
            other => format!("Mach-O file type {}", other.0),
        }));
    }
    let header_len = size_of::<macho::MachHeader64<LE>>() as u64;
    MachOError::end_within(
        || "the load commands".into(),
        header_len,
        header.sizeofcmds(LE).into(),
        len,
    )?;
    let mut commands = header
        .load_commands(LE, bytes, 0)
        .map_err(|err| MachOError::Malformed(format!("the load commands: {err}")))?;
    let (mut identified, mut exports) = (false, false);
    let mut index = 0;
    while let Some(command) = commands
        .next()
        .map_err(|err| MachOError::Malformed(format!("load command {index}: {err}")))?
    {
        let variant = command
            .variant()
            .map_err(|err| MachOError::Malformed(format!("load command {index}: {err}")))?;
        match variant {
            LoadCommandVariant::Segment64(segment, _) => {
                let name = String::from_utf8_lossy(segment.name()).into_owned();
                let (offset, size) = segment.file_range(LE);
                if size > segment.vmsize(LE) {
                    return Err(MachOError::Malformed(format!(
                        "segment {name} has more file bytes than memory"
                    )));
                }
                MachOError::end_within(|| format!("segment {name}"), offset, size, len)?;
            }
            LoadCommandVariant::Symtab(symtab) => {
                let symbols =
                    u64::from(symtab.nsyms.get(LE)) * size_of::<macho::Nlist64<LE>>() as u64;
                within("the symbol table", symtab.symoff.get(LE), symbols, len)?;
                within(
                    "the string table",
                    symtab.stroff.get(LE),
                    symtab.strsize.get(LE).into(),
                    len,
                )?;
                exports |= symtab.nsyms.get(LE) > 0;
            }
            LoadCommandVariant::DyldInfo(info) => {
                for (what, offset, size) in [
                    ("the rebase information", info.rebase_off, info.rebase_size),
                    ("the binding information", info.bind_off, info.bind_size),
                    (
                        "the weak binding information",
                        info.weak_bind_off,
                        info.weak_bind_size,
                    ),
                    (
                        "the lazy binding information",
                        info.lazy_bind_off,
                        info.lazy_bind_size,
                    ),
                    ("the export information", info.export_off, info.export_size),
                ] {
                    within(what, offset.get(LE), size.get(LE).into(), len)?;
                }
                exports |= info.export_size.get(LE) > 0;
            }
            LoadCommandVariant::LinkeditData(data) => {
                let what = match command.cmd() {
                    macho::LC_CODE_SIGNATURE => "the code signature",
                    macho::LC_DYLD_EXPORTS_TRIE => "the exports trie",
                    macho::LC_DYLD_CHAINED_FIXUPS => "the chained fixups",
                    macho::LC_FUNCTION_STARTS => "the function starts",
                    _ => "a table in __LINKEDIT",
                };
                within(
                    what,
                    data.dataoff.get(LE),
                    data.datasize.get(LE).into(),
                    len,
                )?;
                exports |=
                    command.cmd() == macho::LC_DYLD_EXPORTS_TRIE && data.datasize.get(LE) > 0;
            }
            LoadCommandVariant::IdDylib(_) => identified = true,
            _ => {}
        }
        index += 1;
    }
    if !identified {
        return Err(MachOError::Malformed(
            "no LC_ID_DYLIB: dyld loads only dylibs that name themselves".into(),
        ));
    }
    if !exports {
        return Err(MachOError::Malformed(
            "no export table: dyld would find none of its symbols".into(),
        ));
    }
    Ok(())
}

/// `Ok` when the table of `size` bytes at `offset` lies within the file.
fn within(what: &str, offset: u32, size: u64, len: usize) -> Result<(), MachOError> {
    MachOError::end_within(|| what.to_owned(), offset.into(), size, len)
}

#[cfg(test)]
mod tests;
