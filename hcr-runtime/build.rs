//! Gives `libhcr_runtime.so` a SONAME. C modules linked with
//! `-lhcr_runtime` record that name as a dependency; without a SONAME the
//! loader would look the library up by path when a module is opened from
//! its temporary copy, and fail even though the runtime is already loaded.

fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libhcr_runtime.so");
    println!("cargo:rerun-if-changed=build.rs");
}
