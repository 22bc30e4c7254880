//! The demo host: a game of life that steps and draws one frame at a time
//! through three modules (`demo_view` → `demo_world` → `demo_rules`), and
//! reloads them between frames. Each frame runs under the crash guard, so
//! an edit that crashes is rolled back instead of ending the demo.
//!
//! * `cargo run -p hcr-build -- run -p hcr-demo`: builds everything, runs
//!   the demo and rebuilds a module when you save one of its files
//!   (`examples/demo/{rules,world,view}/src/lib.rs`).
//! * `cargo run -p hcr-demo -- --script`: edits a copy of the demo by
//!   itself, one change at a time (one that does not compile), and reports
//!   what each change did and how long it took to show.
//!
//! On a terminal the board is drawn in place, with a status line; when
//! stdout is not a terminal each frame is one line (`gen G | frame N |
//! ...`), which the script and the tests read.
//!
//! Options: `--frames N` (stop after N frames), `--interval-ms MS`
//! (between frames, default 500).

mod screen;
mod script;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use hcr_client::{GuardError, Host};

use crate::screen::Screen;

struct Options {
    frames: u64,
    interval: Duration,
    script: bool,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        frames: u64::MAX,
        interval: Duration::from_millis(500),
        script: false,
    };
    let mut words = std::env::args().skip(1);
    while let Some(word) = words.next() {
        let mut number = |what: &str| -> Result<u64, String> {
            let value = words.next().ok_or(format!("{what} needs a number"))?;
            value
                .parse()
                .map_err(|_| format!("{what}: `{value}` is not a number"))
        };
        match word.as_str() {
            "--script" => options.script = true,
            "--frames" => options.frames = number("--frames")?,
            "--interval-ms" => options.interval = Duration::from_millis(number("--interval-ms")?),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let result = options().and_then(|options| {
        if options.script {
            script::run()
        } else {
            run(&options)
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("demo: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: &Options) -> Result<(), String> {
    let host = Host::builder().import("demo_view").start().map_err(|err| {
        format!(
            "{err}\n(in a hot build the modules are built beside the host: run the demo with \
             `cargo run -p hcr-build -- run -p hcr-demo`)"
        )
    })?;
    // On a terminal the board is drawn in place; otherwise (a pipe, a
    // test) each frame is one line.
    let screen = std::io::stdout()
        .is_terminal()
        .then(|| Screen::open(demo_world::HEIGHT));
    let mut guarded = true;
    let mut last_reload = None;
    for _ in 0..options.frames {
        // The safe point: between two frames, no module code runs.
        let reloaded = if host.reload_needed() {
            host.reload()
                .map(|report| last_reload = Some(report.elapsed))
        } else {
            Ok(())
        };
        if let Err(err) = reloaded {
            eprintln!("demo: reload refused, the last good code keeps running: {err}");
        }
        let drawn = frame(&host, &mut guarded);
        match (&screen, drawn) {
            (Some(screen), Ok(drawn)) => {
                let reload = last_reload.map_or("none yet".to_owned(), |took| {
                    format!("{:.1} ms", took.as_secs_f64() * 1e3)
                });
                let status = format!(
                    "generation {} | frame {} | {} alive | last reload {reload}",
                    host.generation(),
                    drawn.number,
                    drawn.alive
                );
                screen.draw(&drawn.grid, &status);
            }
            (None, Ok(drawn)) => println!("gen {} | {}", host.generation(), drawn.line),
            (_, Err(fault)) => println!("fault | {fault}"),
        }
        if screen.as_ref().is_some_and(Screen::interrupted) {
            break;
        }
        std::thread::sleep(options.interval);
    }
    Ok(())
}

/// One frame, drawn both ways.
struct Drawn {
    number: u64,
    alive: usize,
    /// The one-line form.
    line: String,
    /// The whole board.
    grid: Vec<String>,
}

/// Steps and draws one frame; under the crash guard while `guarded`, so
/// that if freshly reloaded code crashes, its module goes back to the
/// previous version and the demo goes on. Where the guard does not run
/// (a system it does not support), says so once and draws unguarded from
/// then on.
fn frame(host: &Host, guarded: &mut bool) -> Result<Drawn, GuardError> {
    let draw = || {
        let frame = demo_world::step();
        Drawn {
            number: frame.number,
            alive: frame.cells.iter().filter(|cell| **cell).count(),
            line: demo_view::render(&frame),
            grid: demo_view::grid(&frame),
        }
    };
    if *guarded {
        // SAFETY: the closure owns nothing. A fault while `demo_world`
        // holds its board's lock would leave the lock held (the next frame
        // would wait forever); the demo accepts that, see
        // docs/crash-guard.md.
        match unsafe { host.call_guarded(draw) } {
            Err(err) if err.is_unsupported() => {
                eprintln!("demo: {err}; frames run without the crash guard");
                *guarded = false;
            }
            drawn => return drawn,
        }
    }
    Ok(draw())
}
