//! An hcr host: a main loop that calls two Rust modules every frame and
//! reloads them at the top of the frame when their libraries change.
//!
//! * `cargo run -p hcr-examples --bin orbit -- --demo`: three frames, a
//!   stand-in for an edit (the physics module rebuilt with another speed),
//!   a reload, three more frames with the new code.
//! * `cargo run -p hcr-examples --bin orbit -- --frames 0`: runs until
//!   stopped, one frame a second; edit `examples/orbit_physics/src/lib.rs`
//!   and rebuild it with
//!   `cargo rustc -p orbit_physics --lib --crate-type cdylib -- --cfg hcr_module`.
//! * `--features static`: the same program with the modules linked in.
//!
//! Frames go to stdout; build and reload messages go to stderr.

use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hcr_build::RustModule;
use hcr_client::Host;
use orbit_physics::Body;

const MODULES: [&str; 2] = ["orbit_physics", "orbit_view"];

struct Args {
    frames: u32,
    demo: bool,
    interval: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        frames: 6,
        demo: false,
        interval: Duration::ZERO,
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        match word.as_str() {
            "--demo" => args.demo = true,
            "--frames" => {
                let value = words.next().ok_or("--frames needs a number")?;
                args.frames = value
                    .parse()
                    .map_err(|_| format!("--frames: `{value}` is not a number"))?;
                if args.frames == 0 {
                    args.frames = u32::MAX;
                    args.interval = Duration::from_secs(1);
                }
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}` (try --demo or --frames N)"
                ));
            }
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match parse_args().map_err(Into::into).and_then(run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("orbit: {err}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_manifest() -> PathBuf {
    hcr_build::workspace_dir().join("Cargo.toml")
}

/// Builds a module crate as a library the host can load.
fn build_module(name: &str, edited: bool) -> Result<PathBuf, hcr_build::BuildError> {
    let module = RustModule::new(name)
        .manifest_path(workspace_manifest())
        .release(!cfg!(debug_assertions));
    let module = if edited {
        module.cfg("orbit_edited")
    } else {
        module
    };
    module.build()
}

/// Starts the modules: in a hot build, builds the runtime and the module
/// libraries first (`cargo hcr` will do this for you).
fn start() -> Result<Host, Box<dyn Error>> {
    let builder = Host::builder().import("orbit_view");
    if !Host::is_hot() {
        return Ok(builder.start()?);
    }
    eprintln!(
        "orbit: building the runtime and {} (hot build)...",
        MODULES.join(", ")
    );
    let runtime = hcr_build::runtime_library(!cfg!(debug_assertions))?;
    let mut dir = None;
    for module in MODULES {
        let library = build_module(module, false)?;
        dir = library.parent().map(PathBuf::from);
    }
    let dir = dir.ok_or("no module was built")?;
    Ok(builder.runtime_library(runtime).module_dir(dir).start()?)
}

/// Runs after every reload (a typed reload handler of the host): the
/// module's step count, a persistent global, went through it.
fn after_reload() {
    eprintln!(
        "orbit: after the reload, orbit_physics has taken {} steps",
        orbit_physics::steps()
    );
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let host = start()?;
    hcr_client::after_reload(after_reload);
    let mut bodies = vec![
        Body {
            name: "moon".into(),
            angle: 0,
            radius: 1.0,
        },
        Body {
            name: "probe".into(),
            angle: 90,
            radius: 2.0,
        },
    ];
    for frame in 0..args.frames {
        if args.demo && frame == args.frames / 2 {
            if Host::is_hot() {
                eprintln!(
                    "orbit: editing orbit_physics (rebuilding it with --cfg orbit_edited)..."
                );
                build_module("orbit_physics", true)?;
            } else {
                eprintln!("orbit: static build: the modules are linked in, nothing to reload");
            }
        }
        if host.reload_needed() {
            match host.reload() {
                Ok(report) => eprintln!(
                    "orbit: reloaded {} in {:.1?} (generation {})",
                    report.modules.join(", "),
                    report.elapsed,
                    report.generation
                ),
                Err(err) => eprintln!("orbit: reload refused, the old code keeps running: {err}"),
            }
        }
        bodies = orbit_physics::step(bodies);
        println!("{}", orbit_view::render(frame, &bodies));
        std::thread::sleep(args.interval);
    }
    Ok(())
}
