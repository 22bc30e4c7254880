//! The dynamic section and the relocations it lists: everything the
//! loader reads through it must lie in the loaded segments, with the
//! access the loader needs there.

use object::elf::{self, DynamicTag};
use object::read::elf::Dyn as _;
use object::{Endianness, ReadRef as _};

use super::segments::{Segment, file_offset, holder, loaded_with};
use super::{Elf, ElfError, PF_R, PF_W, PF_X, WORD, word_at};

/// One dynamic entry of the file's class.
type DynEntry = <Elf as object::read::elf::FileHeader>::Dyn;

// Dynamic tags whose value is an address the loader reads or runs, with
// the access the segment there must give; and those paired with the size
// of what they point to.
const POINTERS: [(DynamicTag, u32); 9] = [
    (elf::DT_HASH, PF_R),
    (elf::DT_SYMTAB, PF_R),
    (elf::DT_INIT, PF_X),
    (elf::DT_FINI, PF_X),
    (elf::DT_GNU_HASH, PF_R),
    (elf::DT_VERSYM, PF_R),
    (elf::DT_VERDEF, PF_R),
    (elf::DT_VERNEED, PF_R),
    (elf::DT_PLTGOT, PF_R),
];
/// (address tag, size tag).
const TABLES: [(DynamicTag, DynamicTag); 6] = [
    (elf::DT_STRTAB, elf::DT_STRSZ),
    (elf::DT_RELA, elf::DT_RELASZ),
    (elf::DT_REL, elf::DT_RELSZ),
    (elf::DT_JMPREL, elf::DT_PLTRELSZ),
    (elf::DT_INIT_ARRAY, elf::DT_INIT_ARRAYSZ),
    (elf::DT_FINI_ARRAY, elf::DT_FINI_ARRAYSZ),
];

/// The dynamic section must be loaded from where the file has it, end
/// with `DT_NULL`, and point only into the loadable segments.
pub(super) fn check_dynamic(
    bytes: &[u8],
    endian: Endianness,
    loads: &[Segment],
    dynamic: &Segment,
) -> Result<(), ElfError> {
    let bad = |what: String| Err(ElfError::Malformed(what));
    let Some(load) = holder(loads, dynamic.vaddr, dynamic.filesz) else {
        return bad("the dynamic section lies outside the loadable segments".into());
    };
    if load.flags & PF_R == 0 {
        return bad("the dynamic section is loaded where it cannot be read".into());
    }
    let in_file = load.offset.checked_add(dynamic.vaddr - load.vaddr);
    if in_file != Some(dynamic.offset) || dynamic.vaddr - load.vaddr + dynamic.filesz > load.filesz
    {
        return bad("the dynamic section is not loaded from where the file holds it".into());
    }
    let count = dynamic.filesz / size_of::<DynEntry>() as u64;
    let table: &[DynEntry] = bytes
        .read_slice_at(dynamic.offset, count as usize)
        .map_err(|()| ElfError::Malformed("dynamic entry out of range".into()))?;
    let entries: Vec<(DynamicTag, u64)> = table
        .iter()
        .map(|entry| (entry.d_tag(endian), entry.d_val(endian).into()))
        .take_while(|(tag, _)| *tag != elf::DT_NULL)
        .collect();
    if entries.len() == table.len() {
        return bad("the dynamic section does not end with DT_NULL".into());
    }
    let value_of = |wanted: DynamicTag| entries.iter().find(|(tag, _)| *tag == wanted).map(|e| e.1);
    for (tag, value) in &entries {
        let Some(&(_, access)) = POINTERS.iter().find(|(pointer, _)| pointer == tag) else {
            continue;
        };
        // Code runs from the file's bytes, not the zero-filled rest.
        let from_file = |load: &Segment| access != PF_X || *value - load.vaddr < load.filesz;
        if !holder(loads, *value, 1).is_some_and(|load| load.flags & access != 0 && from_file(load))
        {
            return bad(format!(
                "dynamic entry {:#x} points outside the loadable segments, or where they \
                 cannot be read or run",
                tag.0
            ));
        }
    }
    for (address_tag, size_tag) in TABLES {
        let Some(address) = value_of(address_tag) else {
            continue;
        };
        let size = value_of(size_tag).unwrap_or(0);
        if !loaded_with(loads, address, size, PF_R) {
            return bad(format!(
                "dynamic entry {:#x} ({size} bytes) lies outside the loadable segments",
                address_tag.0
            ));
        }
    }
    check_relocations(bytes, loads, &value_of)
}

/// Every place a relocation writes must be in a writable segment (unless
/// the library asks for text relocations, which the loader then makes
/// writable for the time): a damaged flag would otherwise have the loader
/// write to read-only memory.
pub(super) fn check_relocations(
    bytes: &[u8],
    loads: &[Segment],
    value_of: &dyn Fn(DynamicTag) -> Option<u64>,
) -> Result<(), ElfError> {
    let text_relocations = value_of(elf::DT_TEXTREL).is_some()
        || value_of(elf::DT_FLAGS).is_some_and(|flags| flags & u64::from(elf::DF_TEXTREL.0) != 0);
    if text_relocations {
        return Ok(());
    }
    let entry_size = |kind: DynamicTag| {
        if kind == elf::DT_RELA {
            size_of::<<Elf as object::read::elf::FileHeader>::Rela>() as u64
        } else {
            size_of::<<Elf as object::read::elf::FileHeader>::Rel>() as u64
        }
    };
    let default_plt = if WORD == 8 { elf::DT_RELA } else { elf::DT_REL };
    let plt_kind = value_of(elf::DT_PLTREL).map_or(default_plt, |kind| DynamicTag(kind as i64));
    // (table, size, bytes per entry; 0: RELR, whose odd entries are bitmaps)
    let tables = [
        (elf::DT_RELA, elf::DT_RELASZ, entry_size(elf::DT_RELA)),
        (elf::DT_REL, elf::DT_RELSZ, entry_size(elf::DT_REL)),
        (elf::DT_JMPREL, elf::DT_PLTRELSZ, entry_size(plt_kind)),
        (elf::DT_RELR, elf::DT_RELRSZ, 0),
    ];
    for (table_tag, size_tag, entry) in tables {
        let (Some(address), Some(size)) = (value_of(table_tag), value_of(size_tag)) else {
            continue;
        };
        let Some(start) = file_offset(loads, address, size) else {
            return Err(ElfError::Malformed(format!(
                "relocation table {:#x} is not in the file's loaded bytes",
                table_tag.0
            )));
        };
        let step = if entry == 0 { WORD } else { entry };
        let mut at = start;
        while at + step <= start + size {
            let target = word_at(bytes, at).unwrap_or(1);
            at += step;
            if entry == 0 && target & 1 == 1 {
                continue; // a RELR bitmap: the words after the last address
            }
            if !loaded_with(loads, target, WORD, PF_W) {
                return Err(ElfError::Malformed(format!(
                    "a relocation writes to {target:#x}, which no writable segment holds"
                )));
            }
        }
    }
    Ok(())
}
