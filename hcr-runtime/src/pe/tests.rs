//! The PE check against DLLs built by mingw-w64, damaged ones and random
//! bytes. Without `x86_64-w64-mingw32-gcc` (`.ci/cross-setup` installs it)
//! the tests that need a real DLL say they were skipped.

use super::*;
use crate::test_support::{Rng, cases};

const AMD64: u16 = pe::IMAGE_FILE_MACHINE_AMD64.0;
const COMPILER: &str = "x86_64-w64-mingw32-gcc";

/// A DLL (or with `exe`, an executable) built from a small C file, or
/// `None` with a message when the compiler is missing.
fn built(exe: bool) -> Option<Vec<u8>> {
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let build = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("hcr-pe-test-{}-{build}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("m.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\n\
         __declspec(dllexport) int hcr_module_init(void) { return puts(\"hi\") > 0 ? 0 : 1; }\n\
         __declspec(dllexport) int counter = 3;\n\
         int main(void) { return hcr_module_init(); }\n",
    )
    .unwrap();
    let output = dir.join(if exe { "m.exe" } else { "m.dll" });
    let mut command = std::process::Command::new(COMPILER);
    if !exe {
        command.arg("-shared");
    }
    let status = command
        .arg("-O1")
        .arg(&source)
        .arg("-o")
        .arg(&output)
        .status();
    let Ok(status) = status else {
        eprintln!("skipped: {COMPILER} is not installed (.ci/cross-setup installs it)");
        return None;
    };
    assert!(status.success(), "{COMPILER} failed");
    let bytes = std::fs::read(&output).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Some(bytes)
}

#[test]
fn a_real_dll_passes_and_names_what_it_imports() {
    let Some(dll) = built(false) else { return };
    check_dll_for(&dll, AMD64).unwrap();
    let imports: Vec<String> = imported_dlls(&dll)
        .into_iter()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    assert!(
        imports.iter().any(|name| name == "kernel32.dll"),
        "{imports:?}"
    );
}

/// Where the last byte the loader maps lies: the end of the headers or of
/// the last section's bytes in the file (what follows, such as the COFF
/// symbol table, is never loaded).
fn loaded_end(dll: &[u8]) -> usize {
    let file = PeFile::<pe::ImageNtHeaders64>::parse(dll).unwrap();
    let headers = file.nt_headers().optional_header().size_of_headers() as usize;
    file.section_table()
        .iter()
        .map(|section| {
            let (start, len) = section.pe_file_range();
            (start + len) as usize
        })
        .fold(headers, usize::max)
}

#[test]
fn every_truncation_of_a_real_dll_is_refused() {
    let Some(dll) = built(false) else { return };
    let end = loaded_end(&dll);
    let mut cut = 0;
    while cut < end {
        let err = check_dll_for(&dll[..cut], AMD64).expect_err("a cut DLL passed");
        // Past the first bytes, a cut file says how far it had to reach,
        // so that a load waits for a linker still writing it.
        if cut >= 2 {
            assert!(
                matches!(err, PeError::Truncated { .. } | PeError::TooShort { .. }),
                "cut at {cut}: {err}"
            );
        }
        cut += 1 + cut / 7;
    }
    // What lies past the loaded bytes (symbols, debug data) may still be
    // on its way: the DLL loads without it.
    check_dll_for(&dll[..end], AMD64).unwrap();
}

#[test]
fn an_executable_is_not_a_dll_and_garbage_is_not_pe() {
    if let Some(exe) = built(true) {
        assert_eq!(
            check_dll_for(&exe, AMD64),
            Err(PeError::NotShared(
                "the file header does not have IMAGE_FILE_DLL".into()
            ))
        );
    }
    assert_eq!(
        check_dll_for(b"hello, world", AMD64),
        Err(PeError::NotLibrary("a PE file"))
    );
    assert_eq!(
        check_dll_for(b"\x7fELF\x02\x01\x01", AMD64),
        Err(PeError::NotLibrary("a PE file"))
    );
}

#[test]
fn another_machine_is_named() {
    let Some(dll) = built(false) else { return };
    let err = check_dll_for(&dll, pe::IMAGE_FILE_MACHINE_ARM64.0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "built for x86_64, but this process is AArch64"
    );
}

#[test]
fn arbitrary_bytes_are_refused_without_panicking() {
    let mut rng = Rng(0x5eed_0003);
    for _ in 0..cases(2000) {
        let mut bytes: Vec<u8> = (0..rng.below(1024)).map(|_| rng.next() as u8).collect();
        // Most cases start like a PE file, so the headers' fields are what
        // is random.
        if rng.next() % 4 != 0 && bytes.len() >= 0x100 {
            bytes[..2].copy_from_slice(b"MZ");
            let nt = 0x40 + rng.below(0x80);
            bytes[0x3c..0x40].copy_from_slice(&(nt as u32).to_le_bytes());
            bytes[nt..nt + 4].copy_from_slice(b"PE\0\0");
            bytes[nt + 4..nt + 6].copy_from_slice(&AMD64.to_le_bytes());
            bytes[nt + 22] |= 0x20; // IMAGE_FILE_DLL
        }
        let _ = check_dll_for(&bytes, AMD64);
        let _ = imported_dlls(&bytes);
        let _ = rebase(&mut bytes, 0x5_0000_0000);
    }
}

#[test]
fn mutated_headers_never_panic() {
    let Some(dll) = built(false) else { return };
    let nt = u32_at(&dll, 0x3c).unwrap() as usize;
    let headers_end = u32_at(&dll, nt + 24 + 60).unwrap() as usize; // SizeOfHeaders
    let mut rng = Rng(0x5eed_0004);
    let mut refused = 0;
    for _ in 0..cases(2000) {
        let mut bytes = dll.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(headers_end.min(bytes.len()));
            bytes[at] ^= 1 << rng.below(8);
        }
        refused += usize::from(check_dll_for(&bytes, AMD64).is_err());
        let _ = imported_dlls(&bytes);
        let _ = rebase(&mut bytes, 0x5_0000_0000);
    }
    assert!(refused > 0, "no damaged header was refused");
}

#[test]
fn a_rebased_dll_records_its_new_base_and_rebasing_back_restores_it() {
    let Some(dll) = built(false) else { return };
    let file = PeFile::<pe::ImageNtHeaders64>::parse(&dll[..]).unwrap();
    let original = file.nt_headers().optional_header().image_base();
    let mut moved = dll.clone();
    assert!(rebase(&mut moved, 0x5_0000_0000).unwrap());
    check_dll_for(&moved, AMD64).unwrap();
    let file = PeFile::<pe::ImageNtHeaders64>::parse(&moved[..]).unwrap();
    let optional = file.nt_headers().optional_header();
    assert_eq!(optional.image_base(), 0x5_0000_0000);
    assert_eq!(
        optional.dll_characteristics().0 & pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE.0,
        0,
        "the loader is to honour the base"
    );
    let changed = dll.iter().zip(&moved).filter(|(a, b)| a != b).count();
    assert!(changed > 8, "only the header changed: {changed} bytes");
    // Back where it was: every relocated word is as before; only the ASLR
    // flag stays cleared.
    assert!(rebase(&mut moved, original).unwrap());
    let differing: Vec<usize> = (0..dll.len()).filter(|i| dll[*i] != moved[*i]).collect();
    let nt = u32_at(&dll, 0x3c).unwrap() as usize;
    let flags = nt + 4 + 20 + 70;
    assert!(
        differing.iter().all(|at| (flags..flags + 2).contains(at)),
        "bytes differ at {differing:?}"
    );
}

#[test]
fn a_dll_without_relocations_is_left_as_it_is() {
    let Some(dll) = built(false) else { return };
    let mut stripped = dll.clone();
    let nt = u32_at(&dll, 0x3c).unwrap() as usize;
    let characteristics = nt + 4 + 18;
    let flags = u16_at(&dll, characteristics).unwrap() | pe::IMAGE_FILE_RELOCS_STRIPPED.0;
    stripped[characteristics..characteristics + 2].copy_from_slice(&flags.to_le_bytes());
    let before = stripped.clone();
    assert!(!rebase(&mut stripped, 0x5_0000_0000).unwrap());
    assert_eq!(stripped, before);
}
