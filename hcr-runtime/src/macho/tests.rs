//! The Mach-O check against dylibs and executables built by zig for both
//! Apple CPUs, universal files made of them, damaged and foreign files, and
//! random bytes. Without zig (`.ci/cross-setup` installs it: the PyPI
//! package `ziglang`) the tests that need a real dylib say they were
//! skipped.

use super::*;
use crate::test_support::{Rng, cases};

const ARM64: u32 = macho::CPU_TYPE_ARM64.0;
const X86_64: u32 = macho::CPU_TYPE_X86_64.0;

/// How zig is run here: `zig`, or the PyPI package's `python3 -m ziglang`.
fn zig() -> Option<std::process::Command> {
    let works = |mut command: std::process::Command| {
        let ran = command
            .arg("version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        ran.is_ok_and(|status| status.success())
    };
    if works(std::process::Command::new("zig")) {
        return Some(std::process::Command::new("zig"));
    }
    let python = || {
        let mut command = std::process::Command::new("python3");
        command.args(["-m", "ziglang"]);
        command
    };
    works(python()).then(python)
}

/// A dylib (or with `exe`, an executable) for `target` (`aarch64-macos`,
/// `x86_64-macos`) built from a small C file, or `None` with a message
/// when zig is missing.
fn built(target: &str, exe: bool) -> Option<Vec<u8>> {
    static BUILDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let Some(mut command) = zig() else {
        eprintln!("skipped: zig is not installed (.ci/cross-setup installs it)");
        return None;
    };
    let build = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("hcr-macho-test-{}-{build}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("m.c");
    std::fs::write(
        &source,
        "#include <stdio.h>\n\
         int hcr_module_init(void) { return puts(\"hi\") > 0 ? 0 : 1; }\n\
         int counter = 3;\n\
         int main(void) { return hcr_module_init(); }\n",
    )
    .unwrap();
    let output = dir.join(if exe { "m" } else { "libm.dylib" });
    command.args(["cc", "-target", target, "-O1"]);
    if !exe {
        command.arg("-shared");
    }
    let status = command
        .arg(&source)
        .arg("-o")
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success(), "zig cc -target {target} failed");
    let bytes = std::fs::read(&output).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    Some(bytes)
}

/// A universal file of `slices` (CPU type and bytes), each at a 16 KiB
/// boundary, as `lipo` lays them out.
fn universal(slices: &[(u32, &[u8])]) -> Vec<u8> {
    let mut file = Vec::new();
    file.extend(macho::FAT_MAGIC.to_be_bytes());
    file.extend((slices.len() as u32).to_be_bytes());
    let mut offset = 0x4000u32;
    let mut placed = Vec::new();
    for (cpu, bytes) in slices {
        for word in [*cpu, 0, offset, bytes.len() as u32, 14] {
            file.extend(word.to_be_bytes());
        }
        placed.push((offset, *bytes));
        offset = (offset + bytes.len() as u32).next_multiple_of(0x4000);
    }
    for (at, bytes) in placed {
        file.resize(at as usize, 0);
        file.extend_from_slice(bytes);
    }
    file
}

#[test]
fn a_real_dylib_passes_for_its_cpu_and_is_refused_for_the_other() {
    for (target, cpu, other, name) in [
        ("aarch64-macos", ARM64, X86_64, "arm64"),
        ("x86_64-macos", X86_64, ARM64, "x86_64"),
    ] {
        let Some(dylib) = built(target, false) else {
            return;
        };
        check_dylib_for(&dylib, cpu).unwrap();
        let err = check_dylib_for(&dylib, other).unwrap_err().to_string();
        assert!(err.contains(&format!("built for {name}")), "{err}");
    }
}

#[test]
fn an_executable_is_not_a_library() {
    let Some(exe) = built("aarch64-macos", true) else {
        return;
    };
    assert_eq!(
        check_dylib_for(&exe, ARM64),
        Err(MachOError::NotShared("an executable".into()))
    );
}

#[test]
fn a_dylib_cut_short_anywhere_is_unfinished_never_accepted() {
    let Some(dylib) = built("aarch64-macos", false) else {
        return;
    };
    let mut cuts: Vec<usize> = vec![0, 3, 4, 31, 32, 100, dylib.len() / 2, dylib.len() - 1];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    cuts.extend((0..cases(200)).map(|_| (rng.next() as usize) % dylib.len()));
    for cut in cuts {
        let err = check_dylib_for(&dylib[..cut], ARM64).unwrap_err();
        assert!(err.is_unfinished(), "cut at {cut}: {err}");
    }
}

#[test]
fn of_a_universal_file_the_slice_for_this_cpu_is_checked() {
    let (Some(arm), Some(intel)) = (built("aarch64-macos", false), built("x86_64-macos", false))
    else {
        return;
    };
    let both = universal(&[(X86_64, &intel), (ARM64, &arm)]);
    check_dylib_for(&both, ARM64).unwrap();
    check_dylib_for(&both, X86_64).unwrap();

    let intel_only = universal(&[(X86_64, &intel)]);
    let err = check_dylib_for(&intel_only, ARM64).unwrap_err().to_string();
    assert!(
        err.contains("a universal file of x86_64") && err.contains("arm64"),
        "{err}"
    );

    // A slice listed but cut off with the file.
    let cut = &both[..both.len() - 100];
    let err = check_dylib_for(cut, ARM64).unwrap_err();
    assert!(err.to_string().contains("the arm64 slice"), "{err}");
    assert!(err.is_unfinished());
}

#[test]
fn damaged_headers_are_refused_with_what_is_wrong() {
    let Some(dylib) = built("aarch64-macos", false) else {
        return;
    };
    let mut as_bundle = dylib.clone();
    as_bundle[12..16].copy_from_slice(&macho::MH_BUNDLE.0.to_le_bytes());
    assert_eq!(
        check_dylib_for(&as_bundle, ARM64),
        Err(MachOError::NotShared("a bundle".into()))
    );
    // sizeofcmds past the end of the file.
    let mut long_commands = dylib.clone();
    long_commands[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = check_dylib_for(&long_commands, ARM64).unwrap_err();
    assert!(err.to_string().contains("the load commands"), "{err}");
}

#[test]
fn foreign_files_are_refused() {
    let elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0";
    assert_eq!(
        check_dylib_for(elf, ARM64),
        Err(MachOError::NotLibrary("a Mach-O file"))
    );
    let mut thirty_two = vec![0u8; 64];
    thirty_two[..4].copy_from_slice(&macho::MH_MAGIC.to_le_bytes());
    let err = check_dylib_for(&thirty_two, ARM64).unwrap_err().to_string();
    assert!(err.contains("32-bit Mach-O"), "{err}");
    let mut big = vec![0u8; 64];
    big[..4].copy_from_slice(&macho::MH_MAGIC_64.to_be_bytes());
    let err = check_dylib_for(&big, ARM64).unwrap_err().to_string();
    assert!(err.contains("big-endian"), "{err}");
    assert!(check_dylib_for(b"", ARM64).unwrap_err().is_unfinished());
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let base = built("aarch64-macos", false).unwrap_or_else(|| {
        let mut header = vec![0u8; 4096];
        header[..4].copy_from_slice(&macho::MH_MAGIC_64.to_le_bytes());
        header
    });
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for _ in 0..cases(2000) {
        let mut bytes = base.clone();
        for _ in 0..1 + rng.next() % 8 {
            let at = (rng.next() as usize) % bytes.len().min(8192);
            bytes[at] = rng.next() as u8;
        }
        let cut = (rng.next() as usize) % (bytes.len() + 1);
        let _ = check_dylib_for(&bytes[..cut], ARM64);
    }
}
