//! The command line of `cargo hcr`: its commands, cargo's selection
//! flags, and the help that documents them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use hcr_build::BuildOptions;

/// The environment variables that change what a running host does.
const ENVIRONMENT: &str = "\
Environment of the host (read by the runtime and hcr-client):
  HCR_RUNTIME                            the runtime library the host loads
                                         (default: beside the host binary)
  HCR_MANIFEST                           where the runtime writes its manifest
                                         (default: hcr-manifest.json beside the
                                         modules; `off`: nowhere)
  HCR_KEEP_VERSIONS                      versions of each module kept mapped, the
                                         current one included (default: 0, all)
  HCR_LOAD_WAIT_MS                       how long a load waits for a library that
                                         is still being written (default: 1000)
  HCR_ALLOW_INSECURE_MODULES             1: load libraries that other users could
                                         have written (default: refuse them)
  HOT_CODE_RELOADING_JUMP_TABLE_SIZE     the jump table's size in MiB (default: 500
                                         on 64-bit targets, 50 on 32-bit ones)
  HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS  a fixed address for the jump table
                                         (default: beside the modules)
Environment of cargo hcr:
  CARGO_TARGET_<TRIPLE>_RUNNER           what runs a host built with --target
                                         (a Windows host on Linux: wine)
  HCR_SHARED_DEPENDENCIES                0: each module links its own copy of its
                                         dependencies (default: on native Linux
                                         builds, one shared library of them)";

/// Builds an hcr program, runs it, and rebuilds its modules while it runs.
#[derive(Debug, Parser)]
#[command(
    name = "cargo-hcr",
    bin_name = "cargo hcr",
    version,
    after_help = ENVIRONMENT,
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Builds the host, the runtime and every module, laid out beside the
    /// host binary.
    #[command(after_help = ENVIRONMENT)]
    Build(Selection),
    /// Builds, starts the host, and rebuilds a module when one of its
    /// files is saved; the host reloads it at its next safe point.
    #[command(after_help = ENVIRONMENT)]
    Run {
        /// Which project and how to build it.
        #[command(flatten)]
        selection: Selection,
        /// Arguments for the host, after `--`.
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Rebuilds modules as their files change, for a host started some
    /// other way.
    #[command(after_help = ENVIRONMENT)]
    Watch(Selection),
    /// Shows what the host last loaded: its modules, their generations,
    /// hashes and load times (from the manifest the runtime writes).
    #[command(after_help = ENVIRONMENT)]
    Status(Selection),
    /// Creates a project: a workspace with a host and one module, or, with
    /// --module, a module added to the project in the current directory.
    New(New),
}

/// Cargo's flags that say which project and how to build it; each goes to
/// every cargo call it applies to.
#[derive(Debug, Args)]
pub struct Selection {
    /// The host package (default: the one marked
    /// `[package.metadata.hcr] host = true`, or the only one that uses
    /// module crates).
    #[arg(short, long = "package", value_name = "HOST")]
    pub package: Option<String>,
    /// The host's binary target (default: its first).
    #[arg(long, value_name = "NAME")]
    pub bin: Option<String>,
    /// Features to enable, space- or comma-separated: the host's as given,
    /// and `module/feature` for a module's build too.
    #[arg(short = 'F', long, value_name = "FEATURES")]
    pub features: Vec<String>,
    /// Enables every feature of the host.
    #[arg(long)]
    pub all_features: bool,
    /// Disables the host's default features.
    #[arg(long)]
    pub no_default_features: bool,
    /// Builds with the release profile.
    #[arg(short, long, conflicts_with = "profile")]
    pub release: bool,
    /// Builds with this profile (the runtime is always built for release).
    #[arg(long, value_name = "PROFILE-NAME")]
    pub profile: Option<String>,
    /// Builds for this target triple; `run` starts the host through
    /// the runner set for it (CARGO_TARGET_*_RUNNER), or a Windows host
    /// under wine.
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,
    /// Cargo's target directory.
    #[arg(long, value_name = "DIRECTORY")]
    pub target_dir: Option<PathBuf>,
    /// The project's Cargo.toml.
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,
}

impl Selection {
    /// The build options these flags give.
    pub fn options(&self) -> BuildOptions {
        BuildOptions {
            release: self.release,
            profile: self.profile.clone(),
            target: self.target.clone(),
            features: self
                .features
                .iter()
                .flat_map(|list| list.split([' ', ',']))
                .filter(|feature| !feature.is_empty())
                .map(str::to_owned)
                .collect(),
            all_features: self.all_features,
            no_default_features: self.no_default_features,
            target_dir: self.target_dir.clone(),
            // HCR_SHARED_DEPENDENCIES=0: each module links its own copy.
            wrapper: std::env::current_exe()
                .ok()
                .filter(|_| std::env::var_os("HCR_SHARED_DEPENDENCIES").is_none_or(|v| v != "0")),
        }
    }
}

/// `cargo hcr new`.
#[derive(Debug, Args)]
pub struct New {
    /// Where the new project goes (it must not exist); with --module, the
    /// project to add to (default: the current directory).
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// The host's package name (default: the directory's name).
    #[arg(long, value_name = "NAME", conflicts_with = "module")]
    pub name: Option<String>,
    /// Adds a module crate of this name to an existing project and wires
    /// it into the host.
    #[arg(long, value_name = "NAME")]
    pub module: Option<String>,
    /// The hcr sources the project depends on by path (default: those
    /// this cargo hcr was built from).
    #[arg(long, value_name = "DIRECTORY")]
    pub hcr_path: Option<PathBuf>,
    /// What the new project is: `terminal` (a host printing what the
    /// module `logic` makes) or `egui` (a window app, eframe with glow,
    /// whose module `view` draws the window).
    #[arg(long, value_enum, default_value_t = TemplateName::Terminal, conflicts_with = "module")]
    pub template: TemplateName,
}

/// The templates of `cargo hcr new`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TemplateName {
    /// A terminal program.
    Terminal,
    /// A window app drawn with egui.
    Egui,
}

impl TemplateName {
    /// The template it names.
    pub fn template(self) -> hcr_build::Template {
        match self {
            TemplateName::Terminal => hcr_build::Template::Terminal,
            TemplateName::Egui => hcr_build::Template::Egui,
        }
    }
}
