//! Builds what an hcr program loads, and `cargo hcr`, the tool that builds,
//! runs and rebuilds it while it runs.
//!
//! * [`Project`] reads a project with `cargo metadata`: the host, the
//!   module crates it uses (marked `[package.metadata.hcr] module = true`)
//!   and where the runtime's sources are.
//! * [`build_project`] builds the host, the runtime (always optimized) and
//!   every module, and lays them out beside the host binary, for the
//!   profile and target [`BuildOptions`] say.
//! * On native Linux builds by `cargo hcr` ([`BuildOptions::wrapper`]), the
//!   host and its modules link one shared library of their dependencies,
//!   built once with the host's features (see [`run_as_rustc_wrapper`] and
//!   the `shared` module's docs): one build of every framework, one std.
//! * [`watch::watch`] rebuilds modules as their sources change
//!   (debounced, cancelling a build a newer change makes useless).
//! * [`runtime_library`] builds `libhcr_runtime.so` with cargo and returns
//!   its path, read from cargo's JSON messages.
//! * [`RustModule`] builds a module crate as `lib<crate>.so`, with the
//!   `hcr_module` cfg set for that crate alone.
//! * [`CModule`] compiles a module written in C into `lib<name>.so` with the
//!   C compiler the `cc` crate finds, linked against the runtime.
//! * [`Runner`] starts a host built for another target through cargo's
//!   runner for it, or wine for a Windows host.
//! * [`new_project`] and [`add_module`] start a project, and add a module
//!   to one (`cargo hcr new`).
//!
//! Every build can be for another target (a triple, as cargo's
//! `--target`): libraries are then named as there (`<name>.dll` on
//! Windows, see [`library_file_name`]) and C is compiled with the
//! target's compiler.
//!
//! The `cargo-hcr` binary (`cargo install --path hcr-build`, or `cargo run
//! -p hcr-build -- <command>`) offers `new`, `build`, `run`, `watch` and
//! `status`; see its `--help`.

#![deny(missing_docs)]

use std::path::{Path, PathBuf};

mod c_module;
mod cargo;
mod direct;
mod layout;
mod manifest;
mod options;
mod project;
mod runner;
mod scaffold;
mod shared;
mod sys;
pub mod watch;

pub use c_module::CModule;
pub use cargo::{
    HostBinary, Running, RustModule, build_target, cross_target, executable_file_name,
    library_file_name, runtime_library, runtime_library_for, runtime_library_from, target_subdir,
};
pub use direct::RustcAlone;
pub use layout::{BUILDING_MARKER, Layout, build_project, install_file, module_build, place};
pub use manifest::{LastEvent, LoadedModule, Manifest, ManifestError, manifest_path};
pub use options::BuildOptions;
pub use project::{ModuleCrate, Project};
pub use runner::{HostEnding, Runner, runner_variable};
pub use scaffold::{Template, add_module, new_project};
pub use shared::run_as_rustc_wrapper;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A tool could not be started.
    #[error("cannot run {tool}")]
    Spawn {
        /// The command.
        tool: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A tool ran and failed.
    #[error("{tool} failed ({status}):\n{output}")]
    Failed {
        /// The command.
        tool: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed.
        output: String,
    },
    /// No C compiler was found.
    #[error("no C compiler: {0}")]
    Compiler(String),
    /// Cargo built, but its messages named no such artifact.
    #[error("cargo reported no artifact named {0}")]
    NoArtifact(String),
    /// The project is not one `cargo hcr` can build.
    #[error("{0}")]
    Project(String),
    /// A file could not be laid out beside the host.
    #[error("cannot put {path} in place")]
    Layout {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Whether process `pid` of this system is running; `None` where this
/// system does not tell.
pub fn process_is_running(pid: u64) -> Option<bool> {
    sys::process_is_running(pid)
}

/// The workspace this crate was built in.
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The directory holding `hcr.h`.
pub fn include_dir() -> PathBuf {
    workspace_dir().join("hcr-runtime").join("include")
}

/// Turns a finished command into an error unless it succeeded; the error
/// carries what the command printed on stderr.
pub(crate) fn finished(
    tool: String,
    output: std::io::Result<std::process::Output>,
) -> Result<(), BuildError> {
    let output = output.map_err(|source| BuildError::Spawn {
        tool: tool.clone(),
        source,
    })?;
    if !output.status.success() {
        return Err(BuildError::Failed {
            tool,
            status: output.status,
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(())
}
