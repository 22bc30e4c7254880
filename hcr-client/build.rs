//! Records which compiler builds this crate, as cargo sees it (through its
//! rustc wrapper, if any), so that modules and hosts built by different
//! compilers can be told apart at load time.

use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut command = match std::env::var("RUSTC_WRAPPER") {
        Ok(wrapper) if !wrapper.is_empty() => {
            let mut command = Command::new(wrapper);
            command.arg(&rustc);
            command
        }
        _ => Command::new(&rustc),
    };
    let version = command
        .arg("-V")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|| "an unknown rustc".to_owned());
    let target = std::env::var("TARGET").unwrap_or_default();
    println!(
        "cargo:rustc-env=HCR_TOOLCHAIN={version} for {target}, hcr-client {}",
        std::env::var("CARGO_PKG_VERSION").unwrap_or_default()
    );
    println!("cargo:rerun-if-env-changed=RUSTC");
    println!("cargo:rerun-if-env-changed=RUSTC_WRAPPER");
}
