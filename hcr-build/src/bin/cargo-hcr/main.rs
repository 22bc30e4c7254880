//! `cargo hcr`: start an hcr project, build it, run it, and rebuild its
//! modules as their sources change. `cargo hcr --help` lists the commands
//! and `cargo hcr help <command>` their options and the environment
//! variables that matter.
//!
//! Installed with `cargo install --path hcr-build`, or run from this
//! repository with `cargo run -p hcr-build -- <command> ...`. It works
//! both as `cargo hcr ...` and as `cargo-hcr ...`.

mod cli;
mod report;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use hcr_build::watch::watch;
use hcr_build::{
    BuildError, BuildOptions, HostEnding, Manifest, Project, Runner, add_module, build_project,
    new_project,
};

use crate::cli::{Cli, Command, New, Selection};
use crate::report::{RuntimeEvents, last_reload_since, print_status, status, watch_event};

/// `path`, absolute against the current directory.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The project the selection names, and how to build it.
fn load(selection: &Selection) -> Result<(Project, BuildOptions), BuildError> {
    let mut project = Project::load(
        selection.manifest_path.as_deref(),
        selection.package.as_deref(),
    )?;
    if let Some(bin) = &selection.bin {
        project = project.with_bin(bin)?;
    }
    let mut options = selection.options();
    if let Some(dir) = &options.target_dir {
        // Everything under it is build output, never a source to watch.
        let dir = absolute(dir);
        project.target_dir = dir.clone();
        options.target_dir = Some(dir);
    }
    Ok((project, options))
}

fn run(command: Command) -> Result<ExitCode, BuildError> {
    match command {
        Command::Build(selection) => {
            let (project, options) = load(&selection)?;
            build_project(&project, &options, &mut status)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { selection, args } => {
            let (project, options) = load(&selection)?;
            // Before the build: a host that cannot run here is said at once.
            let runner = Runner::for_target(options.target())?;
            let layout = build_project(&project, &options, &mut status)?;
            let through = runner
                .through()
                .map_or(String::new(), |through| format!(" under {through}"));
            status(&format!(
                "running {}{through} (editing a module rebuilds it; Ctrl-C stops)",
                layout.host.display()
            ));
            let mut child = runner
                .command(&layout.host)
                .args(&args)
                .spawn()
                .map_err(|source| BuildError::Spawn {
                    tool: layout.host.display().to_string(),
                    source,
                })?;
            let started = std::time::SystemTime::now();
            let mut events = RuntimeEvents::new(layout.dir.clone());
            let mut exit = None;
            watch(
                &project,
                &layout.dir,
                &options,
                &mut watch_event,
                &mut || {
                    events.poll();
                    exit = child.try_wait().ok().flatten();
                    exit.is_none()
                },
            )?;
            let Some(exit) = exit else {
                return Ok(ExitCode::FAILURE);
            };
            // What the host did last, if it did not say yet.
            events.poll();
            let ending = HostEnding::of(exit);
            let after = (!ending.success)
                .then(|| last_reload_since(&layout.dir, started))
                .flatten()
                .map_or(String::new(), |reload| format!(", {reload}"));
            status(&format!("{}{after}", ending.said));
            Ok(ExitCode::from(ending.code))
        }
        Command::Watch(selection) => {
            let (project, options) = load(&selection)?;
            let dir = options.output_dir(&project);
            status(&format!(
                "watching {} module(s) of `{}`; libraries go to {}",
                project.modules.len(),
                project.host,
                dir.display()
            ));
            let mut events = RuntimeEvents::new(dir.clone());
            watch(&project, &dir, &options, &mut watch_event, &mut || {
                events.poll();
                true
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status(selection) => {
            let (project, options) = load(&selection)?;
            let dir = options.output_dir(&project);
            let manifest =
                Manifest::read(&dir).map_err(|err| BuildError::Project(err.to_string()))?;
            print_status(&manifest, options.target());
            Ok(ExitCode::SUCCESS)
        }
        Command::New(new) => create(&new),
    }
}

/// `cargo hcr new`.
fn create(new: &New) -> Result<ExitCode, BuildError> {
    if let Some(module) = &new.module {
        let root = absolute(new.path.as_deref().unwrap_or(Path::new(".")));
        let project = Project::load(Some(&root.join("Cargo.toml")), None)?;
        let left = add_module(&root, &project.host_dir, module)?;
        status(&format!(
            "added module `{module}` to {} and to host `{}`",
            root.display(),
            project.host
        ));
        if let Some(todo) = left {
            status(&format!("one thing is left to do by hand: {todo}"));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(path) = &new.path else {
        return Err(BuildError::Project(
            "cargo hcr new needs a path for the new project (or --module NAME)".into(),
        ));
    };
    let hcr = new
        .hcr_path
        .clone()
        .unwrap_or_else(hcr_build::workspace_dir);
    let template = new.template.template();
    let name = new_project(path, new.name.as_deref(), &hcr, template)?;
    let module = template.module();
    status(&format!(
        "created `{name}` in {}: a host and the module `{module}`; run it with \
         `cd {} && cargo hcr run`",
        path.display(),
        path.display()
    ));
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    // Cargo runs this program in rustc's place for a shared build.
    if let Some(code) = hcr_build::run_as_rustc_wrapper() {
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let started = Instant::now();
    let mut args: Vec<OsString> = std::env::args_os().collect();
    // As a cargo subcommand, the first argument is the subcommand's name.
    if args.get(1).is_some_and(|arg| arg == "hcr") {
        args.remove(1);
    }
    let cli = Cli::parse_from(args);
    match run(cli.command) {
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
