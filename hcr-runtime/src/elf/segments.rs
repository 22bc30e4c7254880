//! The program headers' segments and the section headers: where the
//! loader maps what, and whether every section is mapped from where the
//! file holds it, with the access it needs.

use object::Endianness;
use object::elf::{SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS};
use object::read::elf::{FileHeader as _, ProgramHeader, SectionHeader as _};

use super::{Elf, ElfError, PF_R, PF_W, PF_X};

/// One program header's fields.
#[derive(Debug, Clone, Copy)]
pub(super) struct Segment {
    pub(super) index: u64,
    pub(super) kind: u32,
    /// [`PF_X`], [`PF_W`], [`PF_R`].
    pub(super) flags: u32,
    pub(super) offset: u64,
    pub(super) vaddr: u64,
    pub(super) filesz: u64,
    pub(super) memsz: u64,
    pub(super) align: u64,
}

impl Segment {
    /// The `index`th program header's fields.
    pub(super) fn new(
        index: u64,
        header: &impl ProgramHeader<Endian = Endianness>,
        endian: Endianness,
    ) -> Segment {
        Segment {
            index,
            kind: header.p_type(endian).0,
            flags: header.p_flags(endian).0,
            offset: header.p_offset(endian).into(),
            vaddr: header.p_vaddr(endian).into(),
            filesz: header.p_filesz(endian).into(),
            memsz: header.p_memsz(endian).into(),
            align: header.p_align(endian).into(),
        }
    }

    pub(super) fn end(&self) -> Option<u64> {
        self.vaddr.checked_add(self.memsz)
    }
}

/// The loader maps the loadable segments as one block from the first's
/// address to the last's end: they must come in address order without
/// overlapping, each placing its file bytes at its address modulo its
/// alignment.
pub(super) fn check_loads(loads: &[Segment]) -> Result<(), ElfError> {
    let mut previous_end = None;
    for segment in loads {
        let index = segment.index;
        let align = segment.align;
        if align > 1
            && (!align.is_power_of_two() || segment.vaddr % align != segment.offset % align)
        {
            return Err(ElfError::Malformed(format!(
                "loadable segment {index}: address and file offset disagree modulo its alignment {align}"
            )));
        }
        let end = segment.end().ok_or_else(|| {
            ElfError::Malformed(format!(
                "loadable segment {index} ends past the address space"
            ))
        })?;
        if previous_end.is_some_and(|previous| segment.vaddr < previous) {
            return Err(ElfError::Malformed(format!(
                "loadable segment {index} overlaps or precedes the one before it"
            )));
        }
        previous_end = Some(end);
    }
    let span = previous_end.unwrap_or(0) - loads.first().map_or(0, |first| first.vaddr);
    if span > MAX_SPAN {
        return Err(ElfError::Malformed(format!(
            "the loadable segments span {span:#x} bytes, more than any module needs"
        )));
    }
    Ok(())
}

/// The most address space a module's segments may span (16 GiB): a larger
/// size is a damaged header, and reserving it can get a process killed
/// where memory is overcommitted or emulated.
const MAX_SPAN: u64 = 1 << 34;

/// Whether a loadable segment holds `size` bytes at `address` and gives
/// `access` (one of the `PF_*` flags).
pub(super) fn loaded_with(loads: &[Segment], address: u64, size: u64, access: u32) -> bool {
    holder(loads, address, size).is_some_and(|load| load.flags & access != 0)
}

/// The loadable segment whose memory holds `size` bytes at `address`.
pub(super) fn holder(loads: &[Segment], address: u64, size: u64) -> Option<&Segment> {
    let end = address.checked_add(size)?;
    loads
        .iter()
        .find(|load| load.vaddr <= address && load.end().is_some_and(|load_end| end <= load_end))
}

/// Where the file holds the `size` bytes loaded at `address`, if a
/// segment loads all of them from the file.
pub(super) fn file_offset(loads: &[Segment], address: u64, size: u64) -> Option<u64> {
    let load = holder(loads, address, size)?;
    let from_start = address - load.vaddr;
    (from_start + size <= load.filesz).then(|| load.offset + from_start)
}

/// Every section the library occupies memory with must be loaded from
/// where the file holds it, into a segment that allows what the section
/// needs (reading, writing, executing): a segment whose file offset, address, size
/// or flags were damaged would otherwise map other bytes (say, the ELF
/// header) where the constructors are, or leave the relocated data read
/// only, and `dlopen` would fault. Files without section headers skip
/// this.
pub(super) fn check_sections(
    bytes: &[u8],
    header: &Elf,
    endian: Endianness,
    loads: &[Segment],
) -> Result<(), ElfError> {
    let shoff: u64 = header.e_shoff(endian).into();
    let shnum = u64::from(header.e_shnum(endian));
    if shoff == 0 || shnum == 0 {
        return Ok(());
    }
    // A damaged e_shoff would have the check read other bytes as sections:
    // the table lies outside what is loaded, and starts with the null
    // section, as linkers write it.
    let table_end = shoff + shnum * u64::from(header.e_shentsize(endian));
    if loads
        .iter()
        .any(|load| shoff < load.offset + load.filesz && load.offset < table_end)
    {
        return Err(ElfError::Malformed(
            "the section header table overlaps a loadable segment".into(),
        ));
    }
    let sections = header
        .section_headers(endian, bytes)
        .map_err(|err| ElfError::Malformed(err.to_string()))?;
    let null = sections
        .first()
        .is_some_and(|first| object::pod::bytes_of(first).iter().all(|byte| *byte == 0));
    if !null {
        return Err(ElfError::Malformed(
            "the section header table does not start with the null section".into(),
        ));
    }
    for (index, section) in sections.iter().enumerate() {
        let section_flags = section.sh_flags(endian).0;
        let addr: u64 = section.sh_addr(endian).into();
        let offset: u64 = section.sh_offset(endian).into();
        let size: u64 = section.sh_size(endian).into();
        if section_flags & SHF_ALLOC.0 == 0 || section.sh_type(endian) == SHT_NOBITS || size == 0 {
            continue;
        }
        let loaded_from_file = holder(loads, addr, size).is_some_and(|load| {
            let from_start = addr - load.vaddr;
            let allows = |section_flag: u64, segment_flag: u32| {
                section_flags & section_flag == 0 || load.flags & segment_flag != 0
            };
            load.offset.checked_add(from_start) == Some(offset)
                && from_start + size <= load.filesz
                && allows(SHF_WRITE.0, PF_W)
                && allows(SHF_EXECINSTR.0, PF_X)
                // Data the loader or the code reads (all but code) must
                // be readable.
                && (section_flags & SHF_EXECINSTR.0 != 0 || load.flags & PF_R != 0)
        });
        if !loaded_from_file {
            return Err(ElfError::Malformed(format!(
                "section {index} is not loaded from where the file holds it"
            )));
        }
    }
    Ok(())
}
