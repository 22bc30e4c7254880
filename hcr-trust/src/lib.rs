//! Whether a file may be loaded as code.
//!
//! A program that maps a library runs whatever is in it, so a library that
//! another user could have written is a way for that user into the
//! program. [`check`] refuses a file when the file, or any directory from
//! its own up to the root, could have been changed by someone other than
//! the program's user (the rule ssh applies to keys and configs):
//!
//! * the file or a directory is writable by others (`o+w`); a directory
//!   with the sticky bit, like `/tmp`, is fine, since others cannot
//!   replace what they do not own in it;
//! * the file or a directory is owned by a user other than the process's
//!   (effective) user or root.
//!
//! Group-write is allowed (a common default umask gives it). Both the path
//! as given and the path with its symlinks resolved are checked: whoever
//! can replace a symlink can redirect the path.
//!
//! `HCR_ALLOW_INSECURE_MODULES=1` turns the check off, for a machine whose
//! every user is trusted (a container, a throwaway VM): with it, anyone
//! who can write to a module's file or directory can run code as the
//! program's user.
//!
//! On Windows the same rule reads owners and access lists: a file or
//! directory is refused when it is owned by another account than the
//! process's user, SYSTEM, Administrators or TrustedInstaller, or when an
//! access-allowed entry that applies to it lets another account (Everyone,
//! Users, Authenticated Users, another user) write or append to it (a
//! file), delete its children (a directory), or change its access list or
//! owner. Adding a file or a subdirectory to a directory replaces nothing
//! and is allowed, as a sticky directory is on Unix (every `C:\` lets
//! Authenticated Users add one).

use std::fmt;
use std::path::{Path, PathBuf};

mod sys;

/// The environment variable that turns the check off when set to `1`.
pub const ALLOW_INSECURE_ENV: &str = "HCR_ALLOW_INSECURE_MODULES";

/// Why a path is not trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Others may write to it (`o+w`; for a directory, without the sticky
    /// bit).
    WritableByOthers {
        /// Its permission bits, as `ls -l` and `chmod` read them.
        mode: u32,
    },
    /// It belongs to another user than the process's or root.
    Owner {
        /// The owner's user id.
        owner: u32,
        /// The process's effective user id.
        process: u32,
    },
    /// An entry of its access list lets another account write to it
    /// (Windows).
    WritableBy {
        /// The account (`DOMAIN\name`, or its SID).
        account: Box<str>,
        /// The rights that entry grants that allow writing.
        rights: Box<str>,
    },
    /// It belongs to another account than the process's user, SYSTEM,
    /// Administrators or TrustedInstaller (Windows).
    OwnedBy {
        /// The owner (`DOMAIN\name`, or its SID).
        account: Box<str>,
        /// The SID of the process's user.
        user: Box<str>,
    },
}

/// A path that must not be loaded, and why; its message names the path,
/// the reason and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted {
    /// The checked file.
    pub file: PathBuf,
    /// The path the problem is with: the file or one of its directories.
    pub path: PathBuf,
    /// Whether `path` is a directory.
    pub is_dir: bool,
    /// What is wrong with it.
    pub problem: Problem,
}

impl fmt::Display for Untrusted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        let what = if self.is_dir { "directory" } else { "file" };
        let through = if self.path == self.file {
            String::new()
        } else {
            format!(" (a directory above {})", self.file.display())
        };
        match &self.problem {
            Problem::WritableByOthers { mode } if self.is_dir => write!(
                f,
                "{what} {path}{through} is writable by other users (mode {mode:04o}, o+w \
                 without the sticky bit), so anyone could replace the library in it; fix \
                 with `chmod o-w {path}`"
            )?,
            Problem::WritableByOthers { mode } => write!(
                f,
                "{what} {path} is writable by other users (mode {mode:04o}, o+w), so anyone \
                 could put code into it; fix with `chmod o-w {path}`"
            )?,
            Problem::Owner { owner, process } => write!(
                f,
                "{what} {path}{through} is owned by user {owner}, not by this process's \
                 user ({process}) or root, so that user could put code into it; fix with \
                 `chown {process} {path}`"
            )?,
            Problem::WritableBy { account, rights } => write!(
                f,
                "{what} {path}{through} lets {account} write to it ({rights}), so that \
                 account could put code into it; fix with `icacls \"{path}\" /inheritance:d` \
                 then `icacls \"{path}\" /remove:g \"{account}\"`"
            )?,
            Problem::OwnedBy { account, user } => write!(
                f,
                "{what} {path}{through} is owned by {account}, not by this process's user \
                 ({user}), SYSTEM, Administrators or TrustedInstaller, so that account could \
                 put code into it; fix with `icacls \"{path}\" /setowner *{user}`"
            )?,
        }
        write!(
            f,
            " (or set {ALLOW_INSECURE_ENV}=1 to load it anyway, if every user of this \
             machine is trusted)"
        )
    }
}

impl std::error::Error for Untrusted {}

/// Whether the check is turned off (`HCR_ALLOW_INSECURE_MODULES=1`).
pub fn check_is_off() -> bool {
    std::env::var_os(ALLOW_INSECURE_ENV).is_some_and(|value| value == "1")
}

/// Checks that `file` may be loaded as code: see the crate docs. Passes
/// when the check is turned off. A path that cannot be inspected (it does
/// not exist) passes: reading it then fails with its own error.
///
/// # Errors
/// [`Untrusted`], naming the first path that fails and why.
pub fn check(file: &Path) -> Result<(), Untrusted> {
    if check_is_off() {
        return Ok(());
    }
    check_always(file)
}

/// [`check`], whatever the environment says.
///
/// # Errors
/// As [`check`].
pub fn check_always(file: &Path) -> Result<(), Untrusted> {
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let resolved = file.canonicalize().ok();
    for path in std::iter::once(&file).chain(resolved.as_ref()) {
        for (depth, step) in path.ancestors().enumerate() {
            let is_dir = depth > 0;
            if let Some(problem) = sys::problem(step, is_dir) {
                return Err(Untrusted {
                    file: file.clone(),
                    path: step.to_path_buf(),
                    is_dir,
                    problem,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn untrusted(path: &str, is_dir: bool, problem: Problem) -> Untrusted {
        Untrusted {
            file: PathBuf::from("/srv/app/libgame.so"),
            path: PathBuf::from(path),
            is_dir,
            problem,
        }
    }

    #[test]
    fn each_message_names_the_path_the_reason_and_the_fix() {
        let file = untrusted(
            "/srv/app/libgame.so",
            false,
            Problem::WritableByOthers { mode: 0o666 },
        );
        assert_eq!(
            file.to_string(),
            "file /srv/app/libgame.so is writable by other users (mode 0666, o+w), so anyone \
             could put code into it; fix with `chmod o-w /srv/app/libgame.so` (or set \
             HCR_ALLOW_INSECURE_MODULES=1 to load it anyway, if every user of this machine \
             is trusted)"
        );
        let dir = untrusted("/srv", true, Problem::WritableByOthers { mode: 0o777 });
        assert!(
            dir.to_string().starts_with(
                "directory /srv (a directory above /srv/app/libgame.so) is writable by other \
                 users (mode 0777, o+w without the sticky bit), so anyone could replace the \
                 library in it; fix with `chmod o-w /srv`"
            ),
            "{dir}"
        );
        let owner = untrusted(
            "/srv/app",
            true,
            Problem::Owner {
                owner: 1001,
                process: 1000,
            },
        );
        assert!(
            owner.to_string().starts_with(
                "directory /srv/app (a directory above /srv/app/libgame.so) is owned by user \
                 1001, not by this process's user (1000) or root, so that user could put code \
                 into it; fix with `chown 1000 /srv/app`"
            ),
            "{owner}"
        );
        let writable = untrusted(
            "C:\\game\\logic.dll",
            false,
            Problem::WritableBy {
                account: "BUILTIN\\Users".into(),
                rights: "write, append".into(),
            },
        );
        assert!(
            writable.to_string().contains(
                "lets BUILTIN\\Users write to it (write, append), so \
                 that account could put code into it; fix with `icacls \"C:\\game\\logic.dll\" \
                 /inheritance:d` then `icacls \"C:\\game\\logic.dll\" /remove:g \"BUILTIN\\Users\"`"
            ),
            "{writable}"
        );
        let owned = untrusted(
            "C:\\game\\logic.dll",
            false,
            Problem::OwnedBy {
                account: "OTHER\\mallory".into(),
                user: "S-1-5-21-1-2-3-1000".into(),
            },
        );
        assert!(
            owned.to_string().contains(
                "fix with `icacls \"C:\\game\\logic.dll\" /setowner *S-1-5-21-1-2-3-1000`"
            ),
            "{owned}"
        );
    }

    #[test]
    fn a_path_that_is_not_there_passes_for_the_read_to_report() {
        assert_eq!(check_always(Path::new("/no/such/dir/libx.so")), Ok(()));
    }

    #[cfg(unix)]
    mod unix {
        use std::os::unix::fs::PermissionsExt;
        use std::path::{Path, PathBuf};

        use crate::{Problem, check_always};

        /// A fresh directory under the system's temporary directory
        /// (which is sticky, so allowed).
        fn scratch(name: &str) -> PathBuf {
            let dir = std::env::temp_dir().join(format!("hcr-trust-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir(&dir).unwrap();
            chmod(&dir, 0o755);
            dir
        }

        fn chmod(path: &Path, mode: u32) {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
        }

        /// `dir/sub/lib.so`, with these modes; the outcome of the check.
        fn case(
            name: &str,
            dir_mode: u32,
            sub_mode: u32,
            file_mode: u32,
        ) -> Option<(PathBuf, Problem)> {
            let dir = scratch(name);
            let sub = dir.join("sub");
            std::fs::create_dir(&sub).unwrap();
            let file = sub.join("lib.so");
            std::fs::write(&file, b"code").unwrap();
            chmod(&file, file_mode);
            chmod(&sub, sub_mode);
            chmod(&dir, dir_mode);
            let outcome = check_always(&file).err().map(|err| {
                let relative = err.path.strip_prefix(&dir).unwrap().to_path_buf();
                (relative, err.problem)
            });
            chmod(&dir, 0o755);
            std::fs::remove_dir_all(&dir).unwrap();
            outcome
        }

        #[test]
        fn others_write_is_refused_on_the_file_and_on_directories_without_the_sticky_bit() {
            assert_eq!(case("plain", 0o755, 0o755, 0o644), None);
            assert_eq!(case("group", 0o775, 0o775, 0o664), None);
            assert_eq!(case("sticky", 0o755, 0o1777, 0o644), None);
            assert_eq!(
                case("file", 0o755, 0o755, 0o666),
                Some((
                    "sub/lib.so".into(),
                    Problem::WritableByOthers { mode: 0o666 }
                ))
            );
            assert_eq!(
                case("dir", 0o755, 0o777, 0o644),
                Some(("sub".into(), Problem::WritableByOthers { mode: 0o777 }))
            );
            assert_eq!(
                case("parent", 0o777, 0o755, 0o644),
                Some(("".into(), Problem::WritableByOthers { mode: 0o777 }))
            );
        }

        #[test]
        fn a_symlink_into_a_directory_others_can_write_is_refused() {
            let dir = scratch("link");
            let open = dir.join("open");
            std::fs::create_dir(&open).unwrap();
            std::fs::write(open.join("lib.so"), b"code").unwrap();
            chmod(&open, 0o777);
            let link = dir.join("lib.so");
            std::os::unix::fs::symlink(open.join("lib.so"), &link).unwrap();
            let err = check_always(&link).unwrap_err();
            assert_eq!(err.path, open.canonicalize().unwrap());
            assert_eq!(err.file, link);
            chmod(&open, 0o755);
            std::fs::remove_dir_all(&dir).unwrap();
        }

        #[test]
        fn a_file_of_another_user_is_refused() {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                eprintln!("skipped: only root can give a file to another user");
                return;
            }
            let dir = scratch("owner");
            let file = dir.join("lib.so");
            std::fs::write(&file, b"code").unwrap();
            std::os::unix::fs::chown(&file, Some(65534), None).unwrap();
            let err = check_always(&file).unwrap_err();
            assert_eq!(
                err.problem,
                Problem::Owner {
                    owner: 65534,
                    process: 0
                }
            );
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
