//! The runtime end to end: builds a C module, loads it, calls it through
//! its stub, rebuilds it with a change, reloads, and calls the same pointer
//! again: the new code runs and the module's state survived.
//!
//! Run it with `cargo run -p hcr-examples --bin runtime-demo`.

use std::ffi::{CString, c_char, c_int};
use std::path::Path;
use std::process::ExitCode;

use hcr_build::CModule;
use hcr_client::RuntimeLibrary;

type Greet = extern "C" fn(*const c_char) -> c_int;

fn build_greeter(
    runtime_dir: &Path,
    greeting: &str,
    dir: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("modules/greeter.c");
    let staging = dir.join("libgreeter.so.new");
    CModule::new(source)
        .define("GREETING", format!("\"{greeting}\""))
        .link_runtime(runtime_dir)
        .build(&staging)?;
    // Replace the library the way a linker does, so the running program
    // never sees a half-written file.
    std::fs::rename(&staging, dir.join("libgreeter.so"))?;
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("runtime-demo: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    println!("building libhcr_runtime.so and the greeter module...");
    let runtime_path = hcr_build::runtime_library(false)?;
    let runtime_dir = runtime_path.parent().ok_or("runtime has no directory")?;
    let dir = std::env::temp_dir().join(format!("hcr-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    build_greeter(runtime_dir, "Hello", &dir)?;

    let rt = RuntimeLibrary::open(&runtime_path)?;
    rt.init("main", &["greeter"], Some(&dir))?;
    let stub = rt.get_proc("greeter", "greet")?;
    // SAFETY: greeter registers `greet` as `int greet(const char *)`.
    let greet: Greet = unsafe { std::mem::transmute(stub.as_ptr()) };
    let name = CString::new("world")?;
    println!(
        "generation {}: calling greeter::greet through its stub at {stub:p}",
        rt.generation()
    );
    greet(name.as_ptr());
    greet(name.as_ptr());

    println!("editing greeter.c (Hello -> Bonjour) and rebuilding...");
    build_greeter(runtime_dir, "Bonjour", &dir)?;
    println!("reload needed: {}", rt.reload_needed());
    rt.perform_code_reload()?;
    println!(
        "generation {}: the same pointer now runs the new code, and the counter survived",
        rt.generation()
    );
    let visits = greet(name.as_ptr());

    println!("a broken build is refused and the program carries on:");
    std::fs::write(dir.join("libgreeter.so"), b"not a library")?;
    if let Err(err) = rt.perform_code_reload() {
        println!("  reload refused: {}", err.message);
    }
    greet(name.as_ptr());
    std::fs::remove_dir_all(&dir)?;
    if visits != 3 {
        return Err(format!("expected the third visit after the reload, got {visits}").into());
    }
    println!("done");
    Ok(())
}
