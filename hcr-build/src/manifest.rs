//! The manifest the runtime writes after start-up and every reload
//! (`hcr-manifest.json` beside the modules; see hcr-runtime's `manifest`
//! module), read back for `cargo hcr status` and other tools.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The manifest's file in a module directory.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join("hcr-manifest.json")
}

/// One loaded module version.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedModule {
    /// The module's name.
    pub name: String,
    /// Its `hcr_module_hash`.
    pub build: String,
    /// A hash of the library's bytes, in hex.
    pub content_hash: String,
    /// When this version was loaded.
    pub loaded_at: SystemTime,
    /// The generation that loaded it.
    pub generation: i64,
}

/// What a host's runtime last wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The host's process id.
    pub pid: u64,
    /// The host's main module name.
    pub main: String,
    /// Successful reloads so far.
    pub generation: i64,
    /// How long the last reload took, if one ran.
    pub last_reload: Option<Duration>,
    /// The loaded modules, leaves first.
    pub modules: Vec<LoadedModule>,
}

impl Manifest {
    /// Reads the manifest in module directory `dir`; `None` if there is
    /// none (the host has not started) or it is not one.
    pub fn read(dir: &Path) -> Option<Manifest> {
        let text = std::fs::read_to_string(manifest_path(dir)).ok()?;
        let value: serde_json::Value = serde_json::from_str(&text).ok()?;
        let text_of = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let modules = value["modules"]
            .as_array()?
            .iter()
            .map(|module| LoadedModule {
                name: text_of(&module["name"]),
                build: text_of(&module["build"]),
                content_hash: text_of(&module["content_hash"]),
                loaded_at: SystemTime::UNIX_EPOCH
                    + Duration::from_millis(module["loaded_at_unix_ms"].as_u64().unwrap_or(0)),
                generation: module["generation"].as_i64().unwrap_or(0),
            })
            .collect();
        Some(Manifest {
            pid: value["pid"].as_u64()?,
            main: text_of(&value["main"]),
            generation: value["generation"].as_i64()?,
            last_reload: value["last_reload_ms"]
                .as_f64()
                .map(|ms| Duration::from_secs_f64(ms / 1e3)),
            modules,
        })
    }
}
