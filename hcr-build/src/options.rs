//! What a build of a project is for: its profile and its target.

use std::path::PathBuf;

use crate::{Project, build_target, target_subdir};

/// How a project is built: the profile and the target, passed to every
/// cargo call a build makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// Builds with the release profile.
    pub release: bool,
    /// The target triple (cargo's `--target`); `None`: the target this
    /// crate was built for.
    pub target: Option<String>,
}

impl BuildOptions {
    /// The target triple the build is for.
    pub fn target(&self) -> &str {
        self.target.as_deref().unwrap_or(build_target())
    }

    /// Where cargo puts `project`'s host binary, and where its runtime and
    /// modules are laid out: `<target dir>/[<triple>/]<profile>`.
    pub fn output_dir(&self, project: &Project) -> PathBuf {
        let mut dir = project.target_dir.clone();
        if let Some(triple) = target_subdir(self.target()) {
            dir.push(triple);
        }
        dir.join(if self.release { "release" } else { "debug" })
    }
}
