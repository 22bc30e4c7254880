//! How a host built for a target is started on this machine: directly,
//! through the runner cargo would use for that target
//! (`CARGO_TARGET_<TRIPLE>_RUNNER`), or under wine for a Windows host on
//! another system.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::BuildError;

/// What starts a host built for one target; see [`Runner::for_target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    /// The program and its first arguments; the host follows them. Empty:
    /// the host runs by itself.
    words: Vec<OsString>,
    /// What it runs the host through, for a status line.
    through: Option<String>,
}

/// The environment variable cargo reads a target's runner from.
pub fn runner_variable(target: &str) -> String {
    let triple: String = target
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CARGO_TARGET_{triple}_RUNNER")
}

/// The first `name` in the directories of `path` (as `PATH` lists them).
fn on_path(name: &str, path: Option<&OsString>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .map(|dir| dir.join(name))
        .find(|file| file.is_file())
}

impl Runner {
    /// How a host built for `target` runs here: through the runner set
    /// for the target in the environment (words split at spaces, as cargo
    /// does), else a Windows host on another system under `wine` from
    /// `PATH`, else by itself.
    ///
    /// # Errors
    /// [`BuildError::Project`] when a Windows host cannot run here (no
    /// wine), saying what to install or set, and for a macOS host on
    /// another system.
    pub fn for_target(target: &str) -> Result<Runner, BuildError> {
        let variable = runner_variable(target);
        Runner::find(
            target,
            env!("HCR_BUILD_HOST"),
            std::env::var(&variable).ok(),
            std::env::var_os("PATH"),
        )
    }

    /// [`Runner::for_target`] on machine `machine` (a triple), given the
    /// target's runner variable and `PATH`.
    fn find(
        target: &str,
        machine: &str,
        runner: Option<String>,
        path: Option<OsString>,
    ) -> Result<Runner, BuildError> {
        let variable = runner_variable(target);
        if let Some(runner) = runner.filter(|runner| !runner.trim().is_empty()) {
            return Ok(Runner {
                words: runner.split_whitespace().map(OsString::from).collect(),
                through: Some(format!("{} (from {variable})", runner.trim())),
            });
        }
        if target.contains("apple") && !machine.contains("apple") {
            return Err(BuildError::Project(format!(
                "the host is built for {target}, which cannot run on this machine (nothing here \
                 runs macOS programs): `cargo hcr build --target {target}` builds it, to run on \
                 a Mac; or set {variable} to a program that runs it"
            )));
        }
        if target.contains("windows") && !machine.contains("windows") {
            let wine = on_path("wine", path.as_ref()).ok_or_else(|| {
                BuildError::Project(format!(
                    "the host is built for {target}, which cannot run on this machine: \
                     install wine, or set {variable} to a program that runs it"
                ))
            })?;
            return Ok(Runner {
                words: vec![wine.into_os_string()],
                through: Some("wine".to_owned()),
            });
        }
        Ok(Runner {
            words: Vec::new(),
            through: None,
        })
    }

    /// What the host runs through, when it does not run by itself.
    pub fn through(&self) -> Option<&str> {
        self.through.as_deref()
    }

    /// The command that starts `host`; add its arguments and spawn it.
    pub fn command(&self, host: &Path) -> Command {
        match self.words.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(host);
                command
            }
            None => Command::new(host),
        }
    }
}

/// How a host process ended, said as `cargo hcr run` says it, with the
/// exit code `cargo hcr run` passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostEnding {
    /// What ended it: "the host exited with code 3", "the host was killed
    /// by signal 11 (SIGSEGV)".
    pub said: String,
    /// Whether it exited with code 0.
    pub success: bool,
    /// The host's exit code where it fits in one, else 1; for a signal,
    /// 128 and its number, as a shell gives.
    pub code: u8,
}

impl HostEnding {
    /// The ending `status` reports.
    pub fn of(status: ExitStatus) -> HostEnding {
        if let Some((signal, name)) = crate::sys::ending_signal(status) {
            let name = name.map_or(String::new(), |name| format!(" ({name})"));
            return HostEnding {
                said: format!("the host was killed by signal {signal}{name}"),
                success: false,
                code: u8::try_from(128 + signal).unwrap_or(1),
            };
        }
        let Some(code) = status.code() else {
            return HostEnding {
                said: "the host ended without an exit code".to_owned(),
                success: false,
                code: 1,
            };
        };
        let said = match crate::sys::exit_code_name(code) {
            Some(name) => format!("the host exited with code {:#x} ({name})", code as u32),
            None => format!("the host exited with code {code}"),
        };
        HostEnding {
            said,
            success: code == 0,
            code: u8::try_from(code).unwrap_or(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINUX: &str = "x86_64-unknown-linux-gnu";
    const WINDOWS: &str = "x86_64-pc-windows-gnu";

    /// A directory on a `PATH` of its own, holding empty files `names`.
    fn path_with(names: &[&str]) -> (PathBuf, OsString) {
        let dir = std::env::temp_dir().join(format!(
            "hcr-runner-{}-{}",
            std::process::id(),
            names.join("-")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for name in names {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let path = std::env::join_paths([Path::new("/nonexistent"), &dir]).unwrap();
        (dir, path)
    }

    fn words(command: &Command) -> Vec<String> {
        std::iter::once(command.get_program())
            .chain(command.get_args())
            .map(|word| word.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_runner_variable_is_named_as_cargo_names_it() {
        assert_eq!(
            runner_variable(WINDOWS),
            "CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER"
        );
        assert_eq!(
            runner_variable("armv7-unknown-linux-gnueabihf"),
            "CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER"
        );
    }

    #[test]
    fn a_host_for_this_machine_runs_by_itself() {
        let runner = Runner::find(LINUX, LINUX, None, None).unwrap();
        assert_eq!(runner.through(), None);
        assert_eq!(words(&runner.command(Path::new("/t/host"))), ["/t/host"]);
    }

    #[test]
    fn a_windows_host_elsewhere_runs_under_wine_from_path() {
        let (dir, path) = path_with(&["wine"]);
        let runner = Runner::find(WINDOWS, LINUX, None, Some(path)).unwrap();
        assert_eq!(runner.through(), Some("wine"));
        let wine = dir.join("wine").display().to_string();
        assert_eq!(
            words(&runner.command(Path::new("/t/host.exe"))),
            [wine.as_str(), "/t/host.exe"]
        );
        // On Windows it runs by itself.
        let runner = Runner::find(WINDOWS, WINDOWS, None, None).unwrap();
        assert_eq!(runner.through(), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn without_wine_a_windows_host_is_refused_saying_what_to_do() {
        let (dir, path) = path_with(&["qemu-nothing"]);
        let err = Runner::find(WINDOWS, LINUX, None, Some(path))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("built for x86_64-pc-windows-gnu, which cannot run on this machine")
                && err.contains("install wine")
                && err.contains("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER"),
            "{err}"
        );
        assert!(Runner::find(WINDOWS, LINUX, None, None).is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_macos_host_elsewhere_is_refused_saying_where_it_runs() {
        for target in ["aarch64-apple-darwin", "x86_64-apple-darwin"] {
            let err = Runner::find(target, LINUX, None, None)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!(
                    "built for {target}, which cannot run on this machine"
                )) && err.contains(&format!("cargo hcr build --target {target}"))
                    && err.contains("to run on a Mac"),
                "{err}"
            );
        }
        let on_a_mac = Runner::find("aarch64-apple-darwin", "aarch64-apple-darwin", None, None);
        assert_eq!(on_a_mac.unwrap().through(), None);
    }

    #[test]
    fn a_runner_set_for_the_target_wins_with_its_arguments() {
        let runner = Runner::find(
            "aarch64-unknown-linux-gnu",
            LINUX,
            Some(" qemu-aarch64 -L /usr/aarch64-linux-gnu ".to_owned()),
            None,
        )
        .unwrap();
        assert_eq!(
            runner.through(),
            Some(
                "qemu-aarch64 -L /usr/aarch64-linux-gnu (from CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER)"
            )
        );
        assert_eq!(
            words(&runner.command(Path::new("/t/host"))),
            ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu", "/t/host"]
        );
        // Even for Windows, with no wine about.
        let runner = Runner::find(WINDOWS, LINUX, Some("my-wine".to_owned()), None).unwrap();
        assert_eq!(
            words(&runner.command(Path::new("h.exe"))),
            ["my-wine", "h.exe"]
        );
        // A blank one is no runner.
        let runner = Runner::find(LINUX, LINUX, Some("  ".to_owned()), None).unwrap();
        assert_eq!(runner.through(), None);
    }
}
