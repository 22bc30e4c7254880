//! `cargo hcr`: build an hcr program, run it, and rebuild its modules as
//! their sources change.
//!
//! ```text
//! cargo hcr build  [-p HOST] [--release] [--manifest-path PATH]
//! cargo hcr run    [-p HOST] [--release] [--manifest-path PATH] [-- ARGS...]
//! cargo hcr watch  [-p HOST] [--release] [--manifest-path PATH]
//! cargo hcr status [-p HOST] [--release] [--manifest-path PATH]
//! ```
//!
//! Installed with `cargo install --path hcr-build`, or run from this
//! repository with `cargo run -p hcr-build -- <command> ...`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use hcr_build::watch::{Event, watch};
use hcr_build::{BuildError, Manifest, Project, build_project, manifest_path};

const USAGE: &str = "usage: cargo hcr <build|run|watch|status> [-p HOST] [--release] \
                     [--manifest-path PATH] [-- ARGS...]";

struct Args {
    command: String,
    host: Option<String>,
    release: bool,
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
        release: false,
        manifest: None,
        rest: Vec::new(),
    };
    while let Some(word) = words.next() {
        match word.as_str() {
            "-p" | "--package" => args.host = Some(words.next().ok_or("-p needs a package")?),
            "--release" => args.release = true,
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

/// The host binary's directory for a profile, where modules are laid out.
fn host_dir(project: &Project, release: bool) -> PathBuf {
    project
        .target_dir
        .join(if release { "release" } else { "debug" })
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
            build_project(&project, args.release, &mut status)?;
            Ok(ExitCode::SUCCESS)
        }
        "run" => {
            let layout = build_project(&project, args.release, &mut status)?;
            status(&format!(
                "running {} (editing a module rebuilds it; Ctrl-C stops)",
                layout.host.display()
            ));
            let mut child = Command::new(&layout.host)
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
                args.release,
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
            let dir = host_dir(&project, args.release);
            status(&format!(
                "watching {} module(s) of `{}`; libraries go to {}",
                project.modules.len(),
                project.host,
                dir.display()
            ));
            let mut reloads = Reloads::new(dir.clone());
            watch(&project, &dir, args.release, &mut report, &mut || {
                reloads.poll();
                true
            })?;
            Ok(ExitCode::SUCCESS)
        }
        "status" => {
            let dir = host_dir(&project, args.release);
            let manifest = Manifest::read(&dir).ok_or_else(|| {
                BuildError::Project(format!(
                    "no manifest at {}: has the host run yet?",
                    manifest_path(&dir).display()
                ))
            })?;
            print_status(&manifest);
            Ok(ExitCode::SUCCESS)
        }
        other => Err(BuildError::Project(format!(
            "unknown command `{other}`\n{USAGE}"
        ))),
    }
}

fn print_status(manifest: &Manifest) {
    let pid = manifest.pid;
    let running = Path::new(&format!("/proc/{pid}")).exists();
    println!(
        "host `{}` (pid {pid}, {}), generation {}, last reload {}",
        manifest.main,
        if running { "running" } else { "not running" },
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
