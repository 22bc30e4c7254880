//! Records the target triple, which `cc` needs to pick a C compiler outside
//! a build script.

fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rustc-env=HCR_BUILD_TARGET={target}");
    println!("cargo:rerun-if-changed=build.rs");
}
