//! Records the target and host triples: `cc` needs the target to pick a C
//! compiler outside a build script, and cargo builds are passed `--target`
//! when this crate was itself built for another machine than the one
//! building it (a cross-compiled test suite builds its fixtures alike).

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    let host = std::env::var("HOST").unwrap_or_default();
    println!("cargo:rustc-env=HCR_BUILD_TARGET={target}");
    println!("cargo:rustc-env=HCR_BUILD_HOST={host}");
    println!("cargo:rerun-if-changed=build.rs");
}
