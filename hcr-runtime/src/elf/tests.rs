//! The ELF check against real libraries, damaged ones and random bytes.

use super::*;
use crate::test_support::{Rng, cases};

/// This test binary's own runtime libraries are real shared objects.
fn a_real_library() -> Vec<u8> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let path = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .find(|path| path.contains("libc.so") || path.contains("libc-"))
        .expect("libc is mapped");
    std::fs::read(path).unwrap()
}

#[test]
fn a_real_library_passes() {
    check_shared_library(&a_real_library()).unwrap();
}

#[test]
fn every_truncation_of_a_real_library_is_refused() {
    let library = a_real_library();
    // The loadable segments end near the end of the file; any cut
    // before their end must be caught.
    for cut in [
        0,
        3,
        16,
        63,
        64,
        200,
        3000,
        library.len() / 2,
        library.len() - 5000,
    ] {
        assert!(
            check_shared_library(&library[..cut]).is_err(),
            "cut at {cut} passed"
        );
    }
}

#[test]
fn garbage_is_not_elf() {
    assert_eq!(
        check_shared_library(b"hello, world"),
        Err(ElfError::NotLibrary("an ELF file"))
    );
}

#[test]
fn another_machine_is_named() {
    let mut library = a_real_library();
    // ARM, or x86_64 when this test runs on ARM.
    let (machine, name) = if HOST_MACHINE == 40 {
        (62, "x86_64")
    } else {
        (40, "ARM")
    };
    library[18..20].copy_from_slice(&u16::to_le_bytes(machine));
    let err = check_shared_library(&library).unwrap_err();
    assert!(
        err.to_string().contains(&format!("built for {name}")),
        "{err}"
    );
}

#[test]
fn an_executable_is_not_a_shared_library() {
    let mut library = a_real_library();
    library[16] = 2;
    library[17] = 0;
    assert_eq!(
        check_shared_library(&library),
        Err(ElfError::NotShared("ELF type 2".into()))
    );
}

#[test]
fn arbitrary_bytes_are_refused_without_panicking() {
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..cases(2000) {
        let mut bytes: Vec<u8> = (0..rng.below(256)).map(|_| rng.next() as u8).collect();
        // Half the cases start like an ELF file of this machine, so the
        // header's fields are what is random.
        if rng.next() % 2 == 0 && bytes.len() >= 20 {
            bytes[..4].copy_from_slice(b"\x7fELF");
            bytes[4..7].copy_from_slice(&[HOST_CLASS, HOST_DATA, 1]);
            bytes[16..18].copy_from_slice(&elf::ET_DYN.0.to_le_bytes());
            bytes[18..20].copy_from_slice(&HOST_MACHINE.to_le_bytes());
        }
        let _ = check_shared_library(&bytes);
    }
}

#[test]
fn mutated_headers_and_truncations_never_panic_and_truncations_are_refused() {
    let library = a_real_library();
    let header_len = size_of::<Elf>();
    let header = Elf::parse(&library[..]).unwrap();
    let endian = header.endian().unwrap();
    let phoff = u64::from(header.e_phoff(endian)) as usize;
    let headers_end =
        phoff + size_of::<<Elf as object::read::elf::FileHeader>::ProgramHeader>() * 8;
    let mut rng = Rng(0x5eed_0002);
    for case in 0..cases(2000) {
        let mut bytes = library.clone();
        if case % 2 == 0 {
            // A cut in the first half, inside the loadable segments:
            // always refused.
            let cut = rng.below(library.len() / 2);
            assert!(
                check_shared_library(&bytes[..cut]).is_err(),
                "cut at {cut} passed"
            );
            continue;
        }
        // Flip a few bytes of the ELF header or the program headers.
        for _ in 0..1 + rng.below(4) {
            let at = if rng.next() % 2 == 0 {
                rng.below(header_len)
            } else {
                phoff + rng.below(headers_end - phoff)
            };
            bytes[at] ^= 1 << rng.below(8);
        }
        let _ = check_shared_library(&bytes);
    }
}

#[test]
fn what_the_loader_reads_is_the_headers_the_segments_and_the_section_table() {
    let library = a_real_library();
    let ranges = read_by_loader(&library).unwrap();
    let header = Elf::parse(&*library).unwrap();
    let endian = header.endian().unwrap();
    let covered = |start: u64, end: u64| {
        ranges
            .iter()
            .any(|range| range.start <= start && end <= range.end)
    };
    assert!(covered(0, 64), "the file header: {ranges:?}");
    for program_header in header.program_headers(endian, &*library).unwrap() {
        let segment = segments::Segment::new(0, program_header, endian);
        if elf::ProgramType(segment.kind) == elf::PT_LOAD {
            let end = segment.offset + segment.filesz;
            assert!(covered(segment.offset, end), "{segment:?}: {ranges:?}");
        }
    }
    let shoff: u64 = header.e_shoff(endian).into();
    let table = u64::from(header.e_shnum(endian)) * u64::from(header.e_shentsize(endian));
    assert!(covered(shoff, shoff + table), "{ranges:?}");
    // Only those: a library whose other bytes are zeros passes the check
    // all the same.
    let mut only_those = vec![0u8; library.len()];
    for range in &ranges {
        let (start, end) = (range.start as usize, range.end as usize);
        only_those[start..end].copy_from_slice(&library[start..end]);
    }
    check_shared_library(&only_those).unwrap();
    let read: u64 = ranges.iter().map(|range| range.end - range.start).sum();
    assert!(read < library.len() as u64, "{read} of {}", library.len());
}

#[test]
fn headers_that_cannot_be_read_leave_nothing_out() {
    assert_eq!(read_by_loader(b"not a library"), None);
    let library = a_real_library();
    assert_eq!(read_by_loader(&library[..40]), None);
}

#[test]
fn a_thread_local_template_of_zeros_alone_may_lie_outside_the_loadable_segments() {
    let library = a_real_library();
    let header = Elf::parse(&*library).unwrap();
    let endian = header.endian().unwrap();
    let phoff = u64::from(header.e_phoff(endian)) as usize;
    let entry = size_of::<<Elf as object::read::elf::FileHeader>::ProgramHeader>();
    let tls = header
        .program_headers(endian, &*library)
        .unwrap()
        .iter()
        .position(|ph| object::read::elf::ProgramHeader::p_type(ph, endian) == elf::PT_TLS)
        .expect("libc has thread-locals");
    let at = phoff + tls * entry;
    // Where p_vaddr and p_filesz are in this class's program header.
    let (vaddr, filesz) = if WORD == 8 { (16, 32) } else { (8, 16) };
    let set = |bytes: &mut Vec<u8>, field: usize, value: u64| {
        let value = value.to_le_bytes();
        bytes[at + field..at + field + WORD as usize].copy_from_slice(&value[..WORD as usize]);
    };
    // As a linker lays out a library whose only thread-locals are zeros
    // (`.tbss`): the template's address is past the code, in no segment.
    let mut zeros_only = library.clone();
    set(&mut zeros_only, vaddr, 0x7fff_0000);
    set(&mut zeros_only, filesz, 0);
    check_shared_library(&zeros_only).unwrap();
    // Bytes the loader would copy from there are refused.
    let mut with_bytes = zeros_only;
    set(&mut with_bytes, filesz, 8);
    let err = check_shared_library(&with_bytes).unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("segment {tls} lies outside")),
        "{err}"
    );
}
