//! The manifest the runtime writes after start-up and every reload
//! (`hcr-manifest.json` beside the modules; see hcr-runtime's `manifest`
//! module), read back for `cargo hcr status` and other tools.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The manifest's file in a module directory.
pub fn manifest_path(dir: &Path) -> PathBuf {
    dir.join(hcr_files::MANIFEST)
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

/// The last thing a host's runtime reported.
#[derive(Debug, Clone, PartialEq)]
pub enum LastEvent {
    /// The module tree started.
    Started,
    /// A reload loaded these modules (leaves first) in this time.
    Reloaded {
        /// The modules loaded.
        modules: Vec<String>,
        /// How long the reload took.
        took: Duration,
    },
    /// The crash guard put back the version of `module` that generation
    /// `loaded_in` had loaded, after its newer code crashed.
    RolledBack {
        /// The module.
        module: String,
        /// The generation that had loaded the version put back.
        loaded_in: i64,
    },
    /// A reload was refused, for this reason; nothing changed.
    Refused {
        /// The runtime's message.
        message: String,
    },
}

/// What a host's runtime last wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// The host's process id.
    pub pid: u64,
    /// The host's main module name.
    pub main: String,
    /// Successful reloads (and rollbacks) so far.
    pub generation: i64,
    /// How long the last reload took, if one ran.
    pub last_reload: Option<Duration>,
    /// How many events the runtime reported so far: a new number means a
    /// new event, even when the generation did not change.
    pub event_number: u64,
    /// The last event, if the runtime said.
    pub last_event: Option<LastEvent>,
    /// The loaded modules, leaves first.
    pub modules: Vec<LoadedModule>,
}

impl LastEvent {
    fn read(value: &serde_json::Value) -> Option<LastEvent> {
        let text = |key: &str| value[key].as_str().map(str::to_owned);
        Some(match value["kind"].as_str()? {
            "start" => LastEvent::Started,
            "reload" => LastEvent::Reloaded {
                modules: value["modules"]
                    .as_array()?
                    .iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect(),
                took: Duration::from_secs_f64(value["ms"].as_f64()? / 1e3),
            },
            "rollback" => LastEvent::RolledBack {
                module: text("module")?,
                loaded_in: value["loaded_in"].as_i64()?,
            },
            "refused" => LastEvent::Refused {
                message: text("message")?,
            },
            _ => return None,
        })
    }
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// There is none: the host has not started (or writes none).
    #[error("no manifest at {0}: has the host run yet?")]
    Missing(PathBuf),
    /// Another user could have written it or a directory above it, so
    /// what it says is not believed (the same rule as for module
    /// libraries, `hcr_trust`).
    #[error("the manifest is not read: {0}")]
    Untrusted(#[from] hcr_trust::Untrusted),
    /// It is not a manifest (or not one this version reads).
    #[error("{0} is not an hcr manifest")]
    Invalid(PathBuf),
}

impl Manifest {
    /// Reads the manifest in module directory `dir`, if it and the
    /// directories above it pass the trust check.
    ///
    /// # Errors
    /// [`ManifestError`]: there is none, it is untrusted, or it is not one.
    pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = manifest_path(dir);
        hcr_trust::check(&path)?;
        let text =
            std::fs::read_to_string(&path).map_err(|_| ManifestError::Missing(path.clone()))?;
        Manifest::parse(&text).ok_or(ManifestError::Invalid(path))
    }

    /// A manifest from its JSON text.
    fn parse(text: &str) -> Option<Manifest> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
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
            event_number: value["event_number"].as_u64().unwrap_or(0),
            last_event: LastEvent::read(&value["last_event"]),
            modules,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"{"pid":7,"main":"main","generation":2,"last_reload_ms":1.5,
        "event_number":3,"last_event":{"kind":"start"},
        "modules":[{"name":"logic","build":"logic 0.1.0","content_hash":"ab",
        "loaded_at_unix_ms":1000,"generation":2}]}"#;

    #[test]
    fn a_manifest_is_read_missing_invalid_and_untrusted_ones_are_told_apart() {
        let dir = std::env::temp_dir().join(format!("hcr-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(
            Manifest::read(&dir),
            Err(ManifestError::Missing(_))
        ));
        std::fs::write(manifest_path(&dir), "not json").unwrap();
        assert!(matches!(
            Manifest::read(&dir),
            Err(ManifestError::Invalid(_))
        ));
        std::fs::write(manifest_path(&dir), ONE).unwrap();
        let manifest = Manifest::read(&dir).unwrap();
        assert_eq!((manifest.pid, manifest.generation), (7, 2));
        assert_eq!(manifest.last_event, Some(LastEvent::Started));
        assert_eq!(manifest.modules[0].name, "logic");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let others_write = std::fs::Permissions::from_mode(0o666);
            std::fs::set_permissions(manifest_path(&dir), others_write).unwrap();
            let err = Manifest::read(&dir).unwrap_err();
            assert!(matches!(err, ManifestError::Untrusted(_)), "{err}");
            assert!(err.to_string().contains("chmod o-w"), "{err}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
