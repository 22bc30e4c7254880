//! Builds the runtime, the fixture modules (C and Rust, and `fx_shapes` by
//! a stand-in for another compiler) and the binaries the tests run, for
//! another target, on this machine, for test binaries that cannot run the
//! build tools where they run (Windows under wine):
//!
//! `cargo run -p hcr-tests --bin hcr-test-fixtures -- <target> <dir>
//! [--no-other-compiler]`
//!
//! then run the tests with `HCR_TEST_PREBUILT=<dir>`. Without the stand-in
//! for another compiler (which rebuilds everything) where no test runs
//! them (macOS, built here and never run).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(target), Some(out)) = (args.next(), args.next()) else {
        eprintln!(
            "usage: hcr-test-fixtures <target triple> <output directory> [--no-other-compiler]"
        );
        return ExitCode::from(2);
    };
    let other_compiler = match args.next().as_deref() {
        None => true,
        Some("--no-other-compiler") => false,
        Some(other) => {
            eprintln!("hcr-test-fixtures: unknown argument {other}");
            return ExitCode::from(2);
        }
    };
    let out = PathBuf::from(out);
    if let Err(err) = std::fs::create_dir_all(&out) {
        eprintln!("hcr-test-fixtures: cannot create {}: {err}", out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("hcr-test-fixtures: building the runtime and the fixtures for {target}");
    let built = hcr_tests::build_fixtures(&target, &out);
    if other_compiler {
        eprintln!(
            "hcr-test-fixtures: building fx_shapes with another compiler (rebuilds everything)"
        );
        let other =
            hcr_tests::build_fx_shapes_by_another_compiler(&target, &out.join("other-compiler"));
        let stored = built.fixtures.join(other.file_name().expect("a file"));
        if let Err(err) = std::fs::copy(&other, &stored) {
            eprintln!("hcr-test-fixtures: cannot copy {}: {err}", other.display());
            return ExitCode::FAILURE;
        }
    }
    for (package, bin, features, name) in hcr_tests::PREBUILT_BINARIES {
        eprintln!("hcr-test-fixtures: building {package} ({name})");
        let dir = out.join("binaries").join(package);
        hcr_tests::build_binary_for(&target, &dir, package, bin, features, name);
    }
    println!(
        "runtime {}\nfixtures {}",
        built.runtime.display(),
        built.fixtures.display()
    );
    ExitCode::SUCCESS
}
