//! Checks a DLL's bytes before they reach `LoadLibrary`.
//!
//! The Windows loader maps a DLL's sections from the file and then walks
//! its import, export, relocation and TLS directories. A DLL cut short by a
//! linker that is still writing it, or one whose headers were damaged, must
//! be refused (or waited for) before that, with a message, instead of
//! failing inside the loader. This check reads the headers with the
//! `object` crate (bounds-checked) and refuses any file whose headers,
//! section table or section bytes reach past its end, whose sections do not
//! lie in order inside the image, whose directories point outside the
//! sections' file bytes, whose imports or exports cannot be read through,
//! that is not a DLL, or that was built for another machine. It compiles
//! and is tested on every host, like the ELF check.

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader as _, PeFile};

pub use crate::library_error::LibraryError as PeError;

/// The machine this process runs on, as a PE file header names it.
pub const HOST_MACHINE: u16 = crate::arch::host::PE_MACHINE;

fn machine_name(machine: u16) -> String {
    match pe::Machine(machine) {
        pe::IMAGE_FILE_MACHINE_AMD64 => "x86_64".into(),
        pe::IMAGE_FILE_MACHINE_I386 => "x86".into(),
        pe::IMAGE_FILE_MACHINE_ARM64 => "AArch64".into(),
        pe::IMAGE_FILE_MACHINE_ARMNT => "ARM".into(),
        _ => format!("PE machine {machine:#x}"),
    }
}

/// Checks that `bytes` is a DLL this process can load; see the module docs.
///
/// # Errors
/// A [`PeError`] naming the first problem found.
pub fn check_dll(bytes: &[u8]) -> Result<(), PeError> {
    check_dll_for(bytes, HOST_MACHINE)
}

/// [`check_dll`] for a process running on `machine` (a PE machine number):
/// 64-bit machines need PE32+ files, 32-bit ones PE32.
///
/// # Errors
/// A [`PeError`] naming the first problem found.
pub fn check_dll_for(bytes: &[u8], machine: u16) -> Result<(), PeError> {
    let wide = matches!(
        pe::Machine(machine),
        pe::IMAGE_FILE_MACHINE_AMD64 | pe::IMAGE_FILE_MACHINE_ARM64
    );
    check_headers(bytes, machine)?;
    if wide {
        check_image::<pe::ImageNtHeaders64>(bytes)
    } else {
        check_image::<pe::ImageNtHeaders32>(bytes)
    }
}

/// The DLLs `bytes` imports from, by the names its import directory gives
/// (empty when it cannot be read): what a load failing for a missing
/// dependency can be explained with.
pub fn imported_dlls(bytes: &[u8]) -> Vec<String> {
    fn names<Pe: ImageNtHeaders>(bytes: &[u8]) -> Option<Vec<String>> {
        let file = PeFile::<Pe>::parse(bytes).ok()?;
        let table = file.import_table().ok()??;
        let mut descriptors = table.descriptors().ok()?;
        let mut names = Vec::new();
        while let Ok(Some(descriptor)) = descriptors.next() {
            let name = table.name(descriptor.name.get(LE)).ok()?;
            names.push(String::from_utf8_lossy(name).into_owned());
        }
        Some(names)
    }
    names::<pe::ImageNtHeaders64>(bytes)
        .or_else(|| names::<pe::ImageNtHeaders32>(bytes))
        .unwrap_or_default()
}

/// How many bytes of address space the DLL in `bytes` takes once loaded
/// (`SizeOfImage`), if its headers can be read.
pub fn image_size(bytes: &[u8]) -> Option<usize> {
    fn size<Pe: ImageNtHeaders>(bytes: &[u8]) -> Option<usize> {
        let file = PeFile::<Pe>::parse(bytes).ok()?;
        Some(file.nt_headers().optional_header().size_of_image() as usize)
    }
    size::<pe::ImageNtHeaders64>(bytes).or_else(|| size::<pe::ImageNtHeaders32>(bytes))
}

/// Moves the DLL in `bytes` to load at `base` by preference: applies its
/// base relocations for the move (as the loader would when it maps it
/// there), records `base` as its image base and clears its ASLR flag, so
/// that the loader puts it there when the range is free (and relocates it
/// elsewhere, as it may any DLL with relocations, when it is not). Returns
/// false, changing nothing, for a DLL without relocations.
///
/// # Errors
/// [`PeError::Malformed`] for relocations that cannot be applied (a type
/// other than those of 32- and 64-bit x86 images, or a place outside the
/// file); `bytes` is then unchanged.
pub fn rebase(bytes: &mut [u8], base: u64) -> Result<bool, PeError> {
    fn plan<Pe: ImageNtHeaders>(bytes: &[u8], base: u64) -> Result<Option<Plan>, PeError> {
        let malformed =
            |err: object::read::Error| PeError::Malformed(format!("relocations: {err}"));
        let file = PeFile::<Pe>::parse(bytes).map_err(malformed)?;
        let header = file.nt_headers();
        let stripped =
            header.file_header().characteristics.get(LE).0 & pe::IMAGE_FILE_RELOCS_STRIPPED.0 != 0;
        let table = file.section_table();
        let blocks = file
            .data_directories()
            .relocation_blocks(bytes, &table)
            .map_err(malformed)?;
        let Some(mut blocks) = blocks.filter(|_| !stripped) else {
            return Ok(None);
        };
        let optional = header.optional_header();
        let delta = base.wrapping_sub(optional.image_base());
        let mut fixups = Vec::new();
        while let Some(block) = blocks.next().map_err(malformed)? {
            for relocation in block {
                let width = match relocation.typ {
                    pe::IMAGE_REL_BASED_ABSOLUTE => continue,
                    pe::IMAGE_REL_BASED_DIR64 => 8,
                    pe::IMAGE_REL_BASED_HIGHLOW => 4,
                    other => {
                        return Err(PeError::Malformed(format!(
                            "relocation type {} cannot be applied",
                            other.0
                        )));
                    }
                };
                let at = table
                    .pe_file_range_at(relocation.virtual_address)
                    .filter(|(offset, len)| {
                        *len as usize >= width && *offset as usize + width <= bytes.len()
                    })
                    .map(|(offset, _)| offset as usize)
                    .ok_or_else(|| {
                        PeError::Malformed("a relocation is not in the file's bytes".into())
                    })?;
                fixups.push((at, width));
            }
        }
        let nt = u32_at(bytes, 0x3c).unwrap_or(0) as usize;
        let optional_at = nt + 4 + size_of::<pe::ImageFileHeader>();
        let (base_at, base_width) = if header.is_type_64() {
            (optional_at + 24, 8)
        } else {
            (optional_at + 28, 4)
        };
        Ok(Some(Plan {
            delta,
            fixups,
            base: (base_at, base_width, base),
            dll_characteristics: optional_at + 70,
        }))
    }
    struct Plan {
        delta: u64,
        fixups: Vec<(usize, usize)>,
        base: (usize, usize, u64),
        dll_characteristics: usize,
    }
    fn add(bytes: &mut [u8], at: usize, width: usize, delta: u64) {
        let field = &mut bytes[at..at + width];
        if width == 8 {
            let value = u64::from_le_bytes(field.try_into().expect("8 bytes"));
            field.copy_from_slice(&value.wrapping_add(delta).to_le_bytes());
        } else {
            let value = u32::from_le_bytes(field.try_into().expect("4 bytes"));
            field.copy_from_slice(&value.wrapping_add(delta as u32).to_le_bytes());
        }
    }
    let plan = match plan::<pe::ImageNtHeaders64>(bytes, base) {
        Ok(plan) => plan,
        Err(_) => plan::<pe::ImageNtHeaders32>(bytes, base)?,
    };
    let Some(plan) = plan else {
        return Ok(false);
    };
    for (at, width) in plan.fixups {
        add(bytes, at, width, plan.delta);
    }
    let (at, width, base) = plan.base;
    bytes[at..at + width].copy_from_slice(&base.to_le_bytes()[..width]);
    let flags = u16_at(bytes, plan.dll_characteristics).unwrap_or(0)
        & !pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE.0;
    bytes[plan.dll_characteristics..plan.dll_characteristics + 2]
        .copy_from_slice(&flags.to_le_bytes());
    Ok(true)
}

fn u16_at(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// `Ok` when a file of `len` bytes reaches `end`, else what is cut off.
fn end_within(what: &str, end: u64, len: usize) -> Result<(), PeError> {
    PeError::end_within(|| what.to_owned(), 0, end, len)
}

/// The signatures, the machine, the DLL flag and that the headers and the
/// section table lie within the file: read by offset first, so that a
/// file cut short says how far it had to reach.
fn check_headers(bytes: &[u8], machine: u16) -> Result<(), PeError> {
    const DOS_HEADER: usize = size_of::<pe::ImageDosHeader>();
    if bytes.len() < 2 || bytes[..2] != *b"MZ" {
        return Err(if bytes == b"M" {
            PeError::TooShort {
                len: 1,
                what: "a PE file's headers",
            }
        } else {
            PeError::NotLibrary("a PE file")
        });
    }
    if bytes.len() < DOS_HEADER {
        return Err(PeError::TooShort {
            len: bytes.len(),
            what: "a PE file's headers",
        });
    }
    let len = bytes.len();
    let nt = u32_at(bytes, 0x3c).unwrap_or(0) as usize;
    let file_header = nt + 4;
    let optional_header = file_header + size_of::<pe::ImageFileHeader>();
    end_within("the PE file header", optional_header as u64, len)?;
    if bytes[nt..nt + 4] != *b"PE\0\0" {
        return Err(PeError::NotLibrary("a PE file"));
    }
    let found = u16_at(bytes, file_header).unwrap_or(0);
    if found != machine {
        return Err(PeError::WrongTarget {
            found: machine_name(found),
            expected: machine_name(machine),
        });
    }
    let sections = u16_at(bytes, file_header + 2).unwrap_or(0) as usize;
    let optional_len = u16_at(bytes, file_header + 16).unwrap_or(0) as usize;
    let characteristics = u16_at(bytes, file_header + 18).unwrap_or(0);
    if characteristics & pe::IMAGE_FILE_DLL.0 == 0 {
        return Err(PeError::NotShared(
            "the file header does not have IMAGE_FILE_DLL".into(),
        ));
    }
    let table_end = optional_header + optional_len + sections * size_of::<pe::ImageSectionHeader>();
    end_within("the section table", table_end as u64, len)
}

/// Everything past the headers, read through `object`'s PE reader.
fn check_image<Pe: ImageNtHeaders>(bytes: &[u8]) -> Result<(), PeError> {
    let malformed =
        |what: &str, err: object::read::Error| PeError::Malformed(format!("{what}: {err}"));
    let file = PeFile::<Pe>::parse(bytes).map_err(|err| malformed("headers", err))?;
    let optional = file.nt_headers().optional_header();
    let len = bytes.len();
    end_within("the headers", u64::from(optional.size_of_headers()), len)?;
    let image_size = u64::from(optional.size_of_image());
    let alignment = u64::from(optional.section_alignment()).max(1);
    let table = file.section_table();
    let mut previous_end = u64::from(optional.size_of_headers());
    for (index, section) in table.iter().enumerate() {
        let name = String::from_utf8_lossy(section.raw_name()).into_owned();
        let what = || format!("section {index} ({name})");
        let (raw_start, raw_len) = section.pe_file_range();
        end_within(
            &format!("{} in the file", what()),
            u64::from(raw_start) + u64::from(raw_len),
            len,
        )?;
        let (address, size) = section.pe_address_range();
        let (address, size) = (u64::from(address), u64::from(size.max(raw_len)));
        if address % alignment != 0 || address < previous_end {
            return Err(PeError::Malformed(format!(
                "{} is not aligned, or overlaps what comes before it",
                what()
            )));
        }
        if address + size > image_size {
            return Err(PeError::Malformed(format!(
                "{} ends past the image ({image_size:#x} bytes)",
                what()
            )));
        }
        previous_end = address + size;
    }
    check_directories(&file, bytes)?;
    let imports = file
        .import_table()
        .map_err(|err| malformed("the import directory", err))?;
    if let Some(imports) = imports {
        let mut descriptors = imports
            .descriptors()
            .map_err(|err| malformed("the import directory", err))?;
        while let Some(descriptor) = descriptors
            .next()
            .map_err(|err| malformed("the import directory", err))?
        {
            let dll = imports
                .name(descriptor.name.get(LE))
                .map_err(|err| malformed("an imported DLL's name", err))?;
            let dll = String::from_utf8_lossy(dll);
            let first = match descriptor.original_first_thunk.get(LE) {
                0 => descriptor.first_thunk.get(LE),
                thunk => thunk,
            };
            let mut thunks = imports
                .thunks(first)
                .map_err(|err| malformed(&format!("the imports from {dll}"), err))?;
            while let Some(thunk) = thunks
                .next::<Pe>()
                .map_err(|err| malformed(&format!("the imports from {dll}"), err))?
            {
                imports
                    .import::<Pe>(thunk)
                    .map_err(|err| malformed(&format!("an import from {dll}"), err))?;
            }
        }
    }
    let exports = file
        .export_table()
        .map_err(|err| malformed("the export directory", err))?;
    if let Some(exports) = exports {
        for (name, index) in exports.name_iter() {
            table
                .pe_data_at(bytes, name)
                .ok_or_else(|| PeError::Malformed("an export's name is not in the file".into()))?;
            let address = exports
                .address_by_index(index)
                .map_err(|err| malformed("an export's address", err))?;
            if u64::from(address) >= image_size {
                return Err(PeError::Malformed(format!(
                    "an export points at {address:#x}, past the image"
                )));
            }
        }
    }
    if let Some(mut blocks) = file
        .data_directories()
        .relocation_blocks(bytes, &table)
        .map_err(|err| malformed("the relocation directory", err))?
    {
        while let Some(block) = blocks
            .next()
            .map_err(|err| malformed("the relocation directory", err))?
        {
            if u64::from(block.virtual_address()) >= image_size {
                return Err(PeError::Malformed(
                    "a relocation block lies past the image".into(),
                ));
            }
        }
    }
    Ok(())
}

/// The directories the loader reads while loading (exports, imports,
/// exception data, relocations, TLS, load configuration) must lie in the
/// sections' file bytes.
fn check_directories<Pe: ImageNtHeaders>(
    file: &PeFile<'_, Pe>,
    bytes: &[u8],
) -> Result<(), PeError> {
    let loaded = [
        (pe::IMAGE_DIRECTORY_ENTRY_EXPORT, "export"),
        (pe::IMAGE_DIRECTORY_ENTRY_IMPORT, "import"),
        (pe::IMAGE_DIRECTORY_ENTRY_EXCEPTION, "exception"),
        (pe::IMAGE_DIRECTORY_ENTRY_BASERELOC, "relocation"),
        (pe::IMAGE_DIRECTORY_ENTRY_TLS, "TLS"),
        (pe::IMAGE_DIRECTORY_ENTRY_LOAD_CONFIG, "load configuration"),
    ];
    let directories = file.data_directories();
    let table = file.section_table();
    for (entry, name) in loaded {
        let Some(directory) = directories.get(entry) else {
            continue;
        };
        let (address, size) = directory.address_range();
        if size == 0 {
            continue;
        }
        let in_file = table
            .pe_data_at(bytes, address)
            .is_some_and(|data| data.len() as u64 >= u64::from(size));
        if !in_file {
            return Err(PeError::Malformed(format!(
                "the {name} directory ({size} bytes at {address:#x}) is not in the sections' \
                 file bytes"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
