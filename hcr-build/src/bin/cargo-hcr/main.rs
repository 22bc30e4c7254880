//! `cargo hcr`: build an hcr program, run it, and rebuild its modules as
//! their sources change.
//!
//! ```text
//! cargo hcr build  [-p HOST] [--release] [--target TRIPLE] [--manifest-path PATH]
//! cargo hcr run    [-p HOST] [--release] [--target TRIPLE] [--manifest-path PATH] [-- ARGS...]
//! cargo hcr watch  [-p HOST] [--release] [--target TRIPLE] [--manifest-path PATH]
//! cargo hcr status [-p HOST] [--release] [--target TRIPLE] [--manifest-path PATH]
//! ```
//!
//! With `--target`, everything is built for that target and laid out in
//! `target/<triple>/<profile>/`; `run` starts the host through
//! `CARGO_TARGET_<TRIPLE>_RUNNER` when it is set, and a Windows host on
//! another system under `wine`.
//!
//! Installed with `cargo install --path hcr-build`, or run from this
//! repository with `cargo run -p hcr-build -- <command> ...`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hcr_build::watch::{Event, watch};
use hcr_build::{
    BuildError, BuildOptions, Manifest, Project, Runner, build_project, manifest_path,
};

const USAGE: &str = "usage: cargo hcr <build|run|watch|status> [-p HOST] [--release] \
                     [--target TRIPLE] [--manifest-path PATH] [-- ARGS...]";

struct Args {
    command: String,
    host: Option<String>,
    options: BuildOptions,
    manifest: Option<PathBuf>,
    rest: Vec<String>,
}

fn parse(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut command = words.next().ok_or(USAGE)?;
    // As a cargo subcommand, the first word is the subcommand's own name.
    if command == "hcr" {
        command = words.next().ok_or(USAGE)?;
    }
    let mut args = Args {
        command,
        host: None,
        options: BuildOptions::default(),
        manifest: None,
        rest: Vec::new(),
    };
    while let Some(word) = words.next() {
        match word.as_str() {
            "-p" | "--package" => args.host = Some(words.next().ok_or("-p needs a package")?),
            "--release" => args.options.release = true,
            "--target" => {
                args.options.target = Some(words.next().ok_or("--target needs a target triple")?);
            }
            "--manifest-path" => {
                args.manifest = Some(words.next().ok_or("--manifest-path needs a path")?.into());
            }
            "--" => args.rest.extend(words.by_ref()),
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(args)
}

fn status(line: &str) {
    eprintln!("hcr: {line}");
}

fn report(event: &Event) {
    match event {
        Event::Watching(count) => status(&format!("watching {count} source paths")),
        Event::Building(modules) => status(&format!("building {}…", modules.join(", "))),
        Event::Cancelled(modules) => status(&format!(
            "newer change: stopped building {}",
            modules.join(", ")
        )),
        Event::Rebuilt { modules, elapsed } => status(&format!(
            "rebuilt {} in {} ms; the host picks it up at its next safe point",
            modules.join(", "),
            elapsed.as_millis()
        )),
        Event::Failed { module, message } => {
            eprintln!("{message}");
            status(&format!(
                "`{module}` does not build; the program keeps running its last good code"
            ));
        }
        Event::HostChanged(path) => status(&format!(
            "{} belongs to the host, which is not rebuilt while it runs: restart to use it",
            path.display()
        )),
    }
}

/// Reports each new generation the host's manifest shows.
struct Reloads {
    dir: PathBuf,
    /// The process and generation last seen.
    seen: Option<(u64, i64)>,
}

impl Reloads {
    fn new(dir: PathBuf) -> Self {
        Reloads { dir, seen: None }
    }

    fn poll(&mut self) {
        let Some(manifest) = Manifest::read(&self.dir) else {
            return;
        };
        let (pid, generation) = (manifest.pid, manifest.generation);
        if let Some((seen_pid, seen_generation)) = self.seen {
            if pid == seen_pid && generation > seen_generation {
                let took = manifest.last_reload.unwrap_or_default();
                status(&format!(
                    "reloaded generation {generation} in {:.1} ms",
                    took.as_secs_f64() * 1e3
                ));
            }
        }
        self.seen = Some((pid, generation));
    }
}

fn run(args: Args) -> Result<ExitCode, BuildError> {
    let project = Project::load(args.manifest.as_deref(), args.host.as_deref())?;
    match args.command.as_str() {
        "build" => {
            build_project(&project, &args.options, &mut status)?;
            Ok(ExitCode::SUCCESS)
        }
        "run" => {
            // Before the build: a host that cannot run here is said at once.
            let runner = Runner::for_target(args.options.target())?;
            let layout = build_project(&project, &args.options, &mut status)?;
            let through = runner
                .through()
                .map_or(String::new(), |through| format!(" under {through}"));
            status(&format!(
                "running {}{through} (editing a module rebuilds it; Ctrl-C stops)",
                layout.host.display()
            ));
            let mut child = runner
                .command(&layout.host)
                .args(&args.rest)
                .spawn()
                .map_err(|source| BuildError::Spawn {
                    tool: layout.host.display().to_string(),
                    source,
                })?;
            let mut reloads = Reloads::new(layout.dir.clone());
            let mut exit = None;
            watch(
                &project,
                &layout.dir,
                &args.options,
                &mut report,
                &mut || {
                    reloads.poll();
                    exit = child.try_wait().ok().flatten();
                    exit.is_none()
                },
            )?;
            let code = exit.and_then(|status| status.code()).unwrap_or(1);
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
        "watch" => {
            let dir = args.options.output_dir(&project);
            status(&format!(
                "watching {} module(s) of `{}`; libraries go to {}",
                project.modules.len(),
                project.host,
                dir.display()
            ));
            let mut reloads = Reloads::new(dir.clone());
            watch(&project, &dir, &args.options, &mut report, &mut || {
                reloads.poll();
                true
            })?;
            Ok(ExitCode::SUCCESS)
        }
        "status" => {
            let dir = args.options.output_dir(&project);
            let manifest = Manifest::read(&dir).ok_or_else(|| {
                BuildError::Project(format!(
                    "no manifest at {}: has the host run yet?",
                    manifest_path(&dir).display()
                ))
            })?;
            print_status(&manifest, args.options.target());
            Ok(ExitCode::SUCCESS)
        }
        other => Err(BuildError::Project(format!(
            "unknown command `{other}`\n{USAGE}"
        ))),
    }
}

/// Prints the manifest of a host built for `target`.
fn print_status(manifest: &Manifest, target: &str) {
    let pid = manifest.pid;
    // A Windows host under wine has a process id of its own system, which
    // this one cannot look up.
    let foreign_pid = target.contains("windows") != env!("HCR_BUILD_HOST").contains("windows");
    let running = if foreign_pid {
        format!("a process for {target}")
    } else if Path::new(&format!("/proc/{pid}")).exists() {
        "running".to_owned()
    } else {
        "not running".to_owned()
    };
    println!(
        "host `{}` (pid {pid}, {running}), generation {}, last reload {}",
        manifest.main,
        manifest.generation,
        manifest
            .last_reload
            .map_or("none".to_owned(), |took| format!(
                "{:.1} ms",
                took.as_secs_f64() * 1e3
            ))
    );
    println!(
        "{:<20} {:>10} {:<18} {:<24} loaded",
        "module", "generation", "content hash", "build"
    );
    for module in &manifest.modules {
        let ago = module.loaded_at.elapsed().unwrap_or(Duration::ZERO);
        println!(
            "{:<20} {:>10} {:<18} {:<24} {}s ago",
            module.name,
            module.generation,
            module.content_hash,
            module.build,
            ago.as_secs()
        );
    }
}

fn main() -> ExitCode {
    let started = Instant::now();
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(code) => code,
        Err(err) => {
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            eprintln!("hcr: error after {:.1?}: {message}", started.elapsed());
            ExitCode::FAILURE
        }
    }
}
