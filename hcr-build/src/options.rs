//! What a build of a project is for: cargo's selection flags, and where
//! each of them applies.

use std::path::PathBuf;

use crate::{Project, build_target, target_subdir};

/// How a project is built: the flags `cargo hcr` takes from cargo, passed
/// to every cargo call they apply to.
///
/// * The profile, the target and the target directory apply to the host,
///   every module and the runtime (which is always built with the release
///   profile, for speed, into the same target directory).
/// * Features apply to the host's build as given (`foo`, `dep/foo`); a
///   module's build gets those written `module/feature` for it, so that a
///   module is built with the features the host asks of it.
///   `--all-features` and `--no-default-features` apply to the host only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Builds with the release profile (cargo's `--release`).
    pub release: bool,
    /// A named profile (cargo's `--profile`); wins over `release`.
    pub profile: Option<String>,
    /// The target triple (cargo's `--target`); `None`: the target this
    /// crate was built for.
    pub target: Option<String>,
    /// Features (cargo's `--features`), one per entry.
    pub features: Vec<String>,
    /// Cargo's `--all-features`, for the host.
    pub all_features: bool,
    /// Cargo's `--no-default-features`, for the host.
    pub no_default_features: bool,
    /// Cargo's `--target-dir`; `None`: the project's.
    pub target_dir: Option<PathBuf>,
    /// The `cargo-hcr` program, which cargo then runs in rustc's place for
    /// the project's own crates, so that the host and its modules link one
    /// shared library of their dependencies where that is supported (see
    /// [`shares_dependencies`](Self::shares_dependencies)); `None`: each
    /// module links its own copy of every dependency.
    pub wrapper: Option<PathBuf>,
}

impl BuildOptions {
    /// The target triple the build is for.
    pub fn target(&self) -> &str {
        self.target.as_deref().unwrap_or(build_target())
    }

    /// Whether the host and its modules link one shared library of their
    /// dependencies: with a [`wrapper`](Self::wrapper), for a target that
    /// supports it (native Linux builds).
    pub fn shares_dependencies(&self) -> bool {
        self.wrapper.is_some() && crate::shared::supported(self.target())
    }

    /// The profile's name, as cargo's `--profile` takes it.
    pub fn profile(&self) -> &str {
        match &self.profile {
            Some(profile) => profile,
            None if self.release => "release",
            None => "dev",
        }
    }

    /// The features a module's build gets: those written `package/feature`
    /// for it.
    pub(crate) fn module_features(&self, package: &str) -> Vec<String> {
        let prefix = format!("{package}/");
        self.features
            .iter()
            .filter_map(|feature| feature.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect()
    }

    /// Cargo's target directory for `project`.
    pub fn target_dir(&self, project: &Project) -> PathBuf {
        self.target_dir
            .clone()
            .unwrap_or_else(|| project.target_dir.clone())
    }

    /// Where cargo puts `project`'s host binary, and where its runtime and
    /// modules are laid out: `<target dir>/[<triple>/]<profile dir>`.
    pub fn output_dir(&self, project: &Project) -> PathBuf {
        let mut dir = self.target_dir(project);
        if let Some(triple) = target_subdir(self.target()) {
            dir.push(triple);
        }
        // Cargo's directory names for its built-in profiles.
        let profile_dir = match self.profile() {
            "dev" | "test" => "debug",
            "bench" => "release",
            other => other,
        };
        dir.join(profile_dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_select_cargo_flags_and_directories() {
        let project_dir = |options: &BuildOptions| {
            let mut dir = PathBuf::from("/t");
            if let Some(triple) = target_subdir(options.target()) {
                dir.push(triple);
            }
            dir
        };
        let project = crate::project::tests::project_in("/t");
        let dev = BuildOptions::default();
        assert_eq!(dev.profile(), "dev");
        assert_eq!(dev.output_dir(&project), project_dir(&dev).join("debug"));
        let release = BuildOptions {
            release: true,
            ..BuildOptions::default()
        };
        assert_eq!(release.profile(), "release");
        assert_eq!(
            release.output_dir(&project),
            project_dir(&release).join("release")
        );
        let custom = BuildOptions {
            release: true,
            profile: Some("fast".into()),
            target_dir: Some("/elsewhere".into()),
            ..BuildOptions::default()
        };
        assert_eq!(custom.profile(), "fast");
        assert!(custom.output_dir(&project).starts_with("/elsewhere"));
        assert!(custom.output_dir(&project).ends_with("fast"));
    }

    #[test]
    fn a_module_gets_the_features_written_for_it() {
        let options = BuildOptions {
            features: vec!["fast".into(), "physics/simd".into(), "view/color".into()],
            ..BuildOptions::default()
        };
        assert_eq!(options.module_features("physics"), ["simd"]);
        assert_eq!(options.module_features("audio"), Vec::<String>::new());
    }
}
