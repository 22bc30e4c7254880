//! The dynamic section and the relocations it lists: everything the
//! loader reads through it must lie in the loaded segments, with the
//! access the loader needs there.

use super::segments::{Segment, file_offset, holder, loaded_with};
use super::{ElfError, PF_R, PF_W, PF_X, Reader};

// Dynamic tags whose value is an address the loader reads or runs, with
// the access the segment there must give; and those paired with the size
// of what they point to.
const DT_NULL: u64 = 0;
const POINTERS: [(u64, u32); 9] = [
    (4, PF_R),           // DT_HASH
    (6, PF_R),           // DT_SYMTAB
    (12, PF_X),          // DT_INIT
    (13, PF_X),          // DT_FINI
    (0x6fff_fef5, PF_R), // DT_GNU_HASH
    (0x6fff_fff0, PF_R), // DT_VERSYM
    (0x6fff_fffc, PF_R), // DT_VERDEF
    (0x6fff_fffe, PF_R), // DT_VERNEED
    (3, PF_R),           // DT_PLTGOT
];
/// (address tag, size tag).
const TABLES: [(u64, u64); 6] = [
    (5, 10),  // DT_STRTAB, DT_STRSZ
    (7, 8),   // DT_RELA, DT_RELASZ
    (17, 18), // DT_REL, DT_RELSZ
    (23, 2),  // DT_JMPREL, DT_PLTRELSZ
    (25, 27), // DT_INIT_ARRAY, DT_INIT_ARRAYSZ
    (26, 28), // DT_FINI_ARRAY, DT_FINI_ARRAYSZ
];

/// The dynamic section must be loaded from where the file has it, end
/// with `DT_NULL`, and point only into the loadable segments.
pub(super) fn check_dynamic(
    r: &Reader<'_>,
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
    let word = if r.wide { 8 } else { 4 };
    let mut entries = Vec::new();
    let mut at = dynamic.offset;
    loop {
        if at + 2 * word > dynamic.offset + dynamic.filesz {
            return bad("the dynamic section does not end with DT_NULL".into());
        }
        let malformed = || ElfError::Malformed("dynamic entry out of range".into());
        let tag = r.word(at).ok_or_else(malformed)?;
        let value = r.word(at + word).ok_or_else(malformed)?;
        if tag == DT_NULL {
            break;
        }
        entries.push((tag, value));
        at += 2 * word;
    }
    let value_of = |wanted: u64| entries.iter().find(|(tag, _)| *tag == wanted).map(|e| e.1);
    for (tag, value) in &entries {
        let Some(&(_, access)) = POINTERS.iter().find(|(pointer, _)| pointer == tag) else {
            continue;
        };
        // Code runs from the file's bytes, not the zero-filled rest.
        let from_file = |load: &Segment| access != PF_X || *value - load.vaddr < load.filesz;
        if !holder(loads, *value, 1).is_some_and(|load| load.flags & access != 0 && from_file(load))
        {
            return bad(format!(
                "dynamic entry {tag:#x} points outside the loadable segments, or where they \
                 cannot be read or run"
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
                "dynamic entry {address_tag:#x} ({size} bytes) lies outside the loadable segments"
            ));
        }
    }
    check_relocations(r, loads, &value_of)
}

/// Every place a relocation writes must be in a writable segment (unless
/// the library asks for text relocations, which the loader then makes
/// writable for the time): a damaged flag would otherwise have the loader
/// write to read-only memory.
pub(super) fn check_relocations(
    r: &Reader<'_>,
    loads: &[Segment],
    value_of: &dyn Fn(u64) -> Option<u64>,
) -> Result<(), ElfError> {
    const DT_PLTREL: u64 = 20;
    const DT_TEXTREL: u64 = 22;
    const DT_FLAGS: u64 = 30;
    const DF_TEXTREL: u64 = 4;
    const DT_RELR: u64 = 36;
    const DT_RELRSZ: u64 = 35;
    const RELA: u64 = 7;
    const REL: u64 = 17;
    if value_of(DT_TEXTREL).is_some() || value_of(DT_FLAGS).is_some_and(|f| f & DF_TEXTREL != 0) {
        return Ok(());
    }
    let word = if r.wide { 8 } else { 4 };
    let entry_size = |kind: u64| if kind == RELA { 3 * word } else { 2 * word };
    let plt_kind = value_of(DT_PLTREL).unwrap_or(if r.wide { RELA } else { REL });
    // (table, size, bytes per entry; 0: RELR, whose odd entries are bitmaps)
    let tables = [
        (RELA, 8, entry_size(RELA)),
        (REL, 18, entry_size(REL)),
        (23, 2, entry_size(plt_kind)),
        (DT_RELR, DT_RELRSZ, 0),
    ];
    for (table_tag, size_tag, entry) in tables {
        let (Some(address), Some(size)) = (value_of(table_tag), value_of(size_tag)) else {
            continue;
        };
        let Some(start) = file_offset(loads, address, size) else {
            return Err(ElfError::Malformed(format!(
                "relocation table {table_tag:#x} is not in the file's loaded bytes"
            )));
        };
        let step = if entry == 0 { word } else { entry };
        let mut at = start;
        while at + step <= start + size {
            let target = r.word(at).unwrap_or(1);
            at += step;
            if entry == 0 && target & 1 == 1 {
                continue; // a RELR bitmap: the words after the last address
            }
            if !loaded_with(loads, target, word, PF_W) {
                return Err(ElfError::Malformed(format!(
                    "a relocation writes to {target:#x}, which no writable segment holds"
                )));
            }
        }
    }
    Ok(())
}
