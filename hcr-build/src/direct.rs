//! Building a module with rustc directly, as cargo last did.
//!
//! Cargo re-reads the workspace and checks every fingerprint before it
//! runs rustc, which costs a good part of an edit's rebuild. So the
//! watcher's first cargo build of a module runs verbosely (`-vv`), and
//! [`Capture`] keeps the rustc command line and environment cargo printed
//! for the module's library, with the source files rustc read (its
//! dep-info). A later change that touches only those files is compiled by
//! running that command again: the same flags, the same incremental
//! directory, the same output. Anything else goes to cargo (the watcher
//! decides; see `watch`).
//!
//! Cargo's own fingerprint of the module is left as it was, older than
//! the sources, so cargo's next build of the module compiles it again:
//! never a stale library.
//!
//! A capture is also recorded in the output directory
//! (`hcr-rustc/<package>`: cargo's line), so that the first change of a
//! session is compiled directly too: cargo shows no command for a module
//! it finds fresh, and then the recorded one is what it would run, as
//! long as the library it reports is the one that command writes.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use crate::BuildError;

/// Cargo's `-vv` line for one rustc run: "Running `ENV=v ... rustc ARGS`".
const RUNNING: &str = "Running `";

/// How cargo ran rustc for a module's library, and what it read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Capture {
    program: String,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    /// Where cargo ran it: the workspace root, which relative paths in
    /// the arguments and the dep-info start from.
    cwd: PathBuf,
    /// The source files the last build read, absolute.
    sources: BTreeSet<PathBuf>,
    /// Cargo's line it was read from.
    line: String,
}

/// Whether `word` is an environment assignment cargo prints before the
/// program (`NAME=value`).
fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    is_name.then(|| (name.to_owned(), value.to_owned()))
}

/// The value of `--flag value` or `--flag=value` in `args`.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    let joined = format!("{name}=");
    args.iter().enumerate().find_map(|(i, arg)| {
        if arg == name {
            args.get(i + 1).map(String::as_str)
        } else {
            arg.strip_prefix(&joined)
        }
    })
}

/// The dependency paths a Makefile-style dep-info file lists.
fn dep_info_sources(text: &str, cwd: &Path) -> BTreeSet<PathBuf> {
    let mut sources = BTreeSet::new();
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let Some((_, deps)) = line.split_once(": ") else {
            continue;
        };
        // Spaces inside a path are escaped as `\ `.
        let deps = deps.replace("\\ ", "\u{0}");
        for dep in deps.split_whitespace() {
            sources.insert(cwd.join(dep.replace('\u{0}', " ")));
        }
    }
    sources
}

impl Capture {
    /// The rustc run for crate `crate_name`'s library of type cdylib, from
    /// cargo's `-vv` output `stderr`, with the sources its dep-info lists;
    /// `cwd` is the workspace root. `None` if cargo did not run it (it
    /// was fresh) or printed it in a form this cannot read.
    pub(crate) fn from_cargo(stderr: &str, crate_name: &str, cwd: &Path) -> Option<Capture> {
        stderr.lines().find_map(|line| {
            let start = line.find(RUNNING)? + RUNNING.len();
            let command = line[start..].strip_suffix('`')?;
            let words = shell_words::split(command).ok()?;
            let program_at = words.iter().position(|word| assignment(word).is_none())?;
            let envs = words[..program_at]
                .iter()
                .filter_map(|w| assignment(w))
                .collect();
            let args = words[program_at + 1..].to_vec();
            let ours = flag(&args, "--crate-name") == Some(crate_name)
                && flag(&args, "--crate-type") == Some("cdylib");
            if !ours {
                return None;
            }
            let out_dir = cwd.join(flag(&args, "--out-dir")?);
            let dep_info = std::fs::read_to_string(out_dir.join(format!("{crate_name}.d"))).ok()?;
            Some(Capture {
                program: words[program_at].clone(),
                sources: dep_info_sources(&dep_info, cwd),
                args,
                envs,
                cwd: cwd.to_path_buf(),
                line: line.to_owned(),
            })
        })
    }

    /// Where the capture of `package` is recorded under `output_dir` (the
    /// directory of the profile's libraries).
    fn record_path(output_dir: &Path, package: &str) -> PathBuf {
        output_dir.join("hcr-rustc").join(package)
    }

    /// Records this capture of `package` for later sessions; best effort
    /// (without it, a session's first change goes to cargo).
    pub(crate) fn record(&self, output_dir: &Path, package: &str) {
        let path = Self::record_path(output_dir, package);
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let _ = std::fs::write(path, &self.line);
    }

    /// The capture recorded for `package` (crate `crate_name`) under
    /// `output_dir`, if `library`, which cargo just reported fresh, is
    /// the file that capture's command writes (cargo links its output
    /// there): then that command is what cargo would run for it.
    pub(crate) fn recorded(
        output_dir: &Path,
        package: &str,
        crate_name: &str,
        cwd: &Path,
        library: &Path,
    ) -> Option<Capture> {
        let line = std::fs::read_to_string(Self::record_path(output_dir, package)).ok()?;
        let capture = Self::from_cargo(&line, crate_name, cwd)?;
        let written = capture.output(crate_name)?;
        let same = |a: &std::fs::Metadata, b: &std::fs::Metadata| {
            a.len() == b.len() && a.modified().ok() == b.modified().ok()
        };
        let (written, reported) = (
            std::fs::metadata(written).ok()?,
            std::fs::metadata(library).ok()?,
        );
        same(&written, &reported).then_some(capture)
    }

    /// The library the command writes: `--out-dir`, and the file name of
    /// the crate with `-C extra-filename`.
    fn output(&self, crate_name: &str) -> Option<PathBuf> {
        let out_dir = self.cwd.join(flag(&self.args, "--out-dir")?);
        let extra = self
            .args
            .iter()
            .find_map(|arg| arg.strip_prefix("extra-filename="))
            .unwrap_or("");
        let target = flag(&self.args, "--target").unwrap_or(crate::build_target());
        Some(out_dir.join(crate::library_file_name(
            target,
            &format!("{crate_name}{extra}"),
        )))
    }

    /// The library the command wrote, if it is newer than `not_before`
    /// and than every source the build read: running it again would
    /// write the same.
    pub(crate) fn fresh_output(
        &self,
        crate_name: &str,
        not_before: std::time::SystemTime,
    ) -> Option<PathBuf> {
        let output = self.output(crate_name)?;
        let written = std::fs::metadata(&output).ok()?.modified().ok()?;
        let newer = |path: &Path| {
            std::fs::metadata(path)
                .and_then(|meta| meta.modified())
                .is_ok_and(|modified| modified <= written)
        };
        (not_before <= written && self.sources.iter().all(|source| newer(source))).then_some(output)
    }

    /// Why `changed` cannot be compiled directly, if it cannot: a path
    /// that is not one of the sources the last build read (a new file, a
    /// manifest, a build script) needs cargo.
    pub(crate) fn refuses(&self, changed: &[PathBuf]) -> Option<String> {
        let outside = changed.iter().find(|path| !self.sources.contains(*path))?;
        Some(format!(
            "{} is not one of the sources of its last build",
            outside.display()
        ))
    }

    /// Starts rustc as cargo ran it.
    ///
    /// # Errors
    /// [`BuildError::Spawn`] when rustc cannot be started.
    pub(crate) fn spawn(&self) -> Result<DirectBuild, BuildError> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.cwd)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| BuildError::Spawn {
                tool: self.program.clone(),
                source,
            })?;
        let stderr = child.stderr.take().expect("piped");
        let messages = std::thread::spawn(move || read_messages(stderr));
        Ok(DirectBuild {
            child,
            messages: Some(messages),
            tool: format!("{} (as cargo ran it)", self.program),
        })
    }
}

/// A module's rustc command, to compile it alone: what a direct build
/// runs, for measuring it against the whole edit-to-effect loop.
#[derive(Debug, Clone)]
pub struct RustcAlone(Capture);

impl RustcAlone {
    /// Has cargo build module `package` of `project` as `options` say,
    /// after marking its sources as changed so that cargo runs rustc, and
    /// keeps the command it ran.
    ///
    /// # Errors
    /// [`BuildError`] when the build fails or cargo did not show the
    /// command.
    pub fn capture(
        project: &crate::Project,
        package: &str,
        options: &crate::BuildOptions,
    ) -> Result<RustcAlone, BuildError> {
        let module = project
            .modules
            .iter()
            .find(|module| module.package == package)
            .ok_or_else(|| BuildError::Project(format!("no module crate `{package}`")))?;
        touch_sources(&module.dir.join("src"));
        let mut build = crate::module_build(project, package, options)
            .show_commands()
            .spawn()?;
        build.finish_in_place()?;
        let root = project.manifest.parent().unwrap_or(Path::new("."));
        Capture::from_cargo(build.log(), &package.replace('-', "_"), root)
            .map(RustcAlone)
            .ok_or_else(|| {
                BuildError::Project(format!(
                    "cargo did not show how it runs rustc for `{package}`"
                ))
            })
    }

    /// Compiles the module's current sources with rustc alone and returns
    /// how long that took.
    ///
    /// # Errors
    /// [`BuildError`] when rustc fails.
    pub fn compile(&self) -> Result<std::time::Duration, BuildError> {
        let started = std::time::Instant::now();
        self.0.spawn()?.finish()?;
        Ok(started.elapsed())
    }
}

/// Marks every file under `dir` as written now.
fn touch_sources(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            touch_sources(&path);
        } else if let Ok(file) = std::fs::File::options().append(true).open(&path) {
            let _ = file.set_modified(std::time::SystemTime::now());
        }
    }
}

/// What rustc said: its rendered diagnostics and the library it wrote.
#[derive(Debug, Default)]
struct Messages {
    rendered: String,
    library: Option<PathBuf>,
}

/// Reads rustc's JSON messages (`--error-format=json`, `--json=artifacts`).
fn read_messages(stderr: impl std::io::Read) -> Messages {
    let mut messages = Messages::default();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(&line) else {
            messages.rendered.push_str(&line);
            messages.rendered.push('\n');
            continue;
        };
        if let Some(rendered) = message["rendered"].as_str() {
            // Cargo asks rustc for colours and takes them out itself where
            // they cannot show; so does this.
            if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
                messages.rendered.push_str(rendered);
            } else {
                messages.rendered.push_str(&without_colours(rendered));
            }
        }
        if message["emit"] == "link" {
            messages.library = message["artifact"].as_str().map(PathBuf::from);
        }
    }
    messages
}

/// `text` without its ANSI escape sequences (`ESC [ … final byte`).
fn without_colours(text: &str) -> String {
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            plain.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            // Parameters and intermediates, up to the final byte.
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
    }
    plain
}

/// A rustc run started by [`Capture::spawn`].
#[derive(Debug)]
pub(crate) struct DirectBuild {
    child: Child,
    messages: Option<JoinHandle<Messages>>,
    tool: String,
}

impl DirectBuild {
    /// The library it wrote, once it ended.
    pub(crate) fn try_finish(&mut self) -> Option<Result<PathBuf, BuildError>> {
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(self.collect(status)),
            Err(source) => Some(Err(self.spawn_error(source))),
        }
    }

    /// Waits for it and returns the library it wrote.
    pub(crate) fn finish(mut self) -> Result<PathBuf, BuildError> {
        match self.child.wait() {
            Ok(status) => self.collect(status),
            Err(source) => Err(self.spawn_error(source)),
        }
    }

    fn spawn_error(&self, source: std::io::Error) -> BuildError {
        BuildError::Spawn {
            tool: self.tool.clone(),
            source,
        }
    }

    /// Its result, once it ended with `status`.
    fn collect(&mut self, status: std::process::ExitStatus) -> Result<PathBuf, BuildError> {
        let messages = self
            .messages
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default();
        match messages.library {
            Some(library) if status.success() => Ok(library),
            _ => Err(BuildError::Failed {
                tool: self.tool.clone(),
                status,
                output: messages.rendered,
            }),
        }
    }

    /// Stops it.
    pub(crate) fn cancel(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_s_running_line_gives_the_command_its_environment_and_sources() {
        let dir = std::env::temp_dir().join(format!("hcr-capture-{}", std::process::id()));
        let deps = dir.join("target/debug/deps");
        std::fs::create_dir_all(&deps).unwrap();
        std::fs::write(
            deps.join("logic.d"),
            "/w/target/debug/deps/logic.d: logic/src/lib.rs logic/src/my\\ part.rs\n\n\
             logic/src/lib.rs:\n# env-dep:CARGO_PKG_NAME=logic\n",
        )
        .unwrap();
        let stderr = format!(
            "   Compiling logic v0.1.0\n     Running `CARGO_CRATE_NAME=logic \
             CARGO_PKG_AUTHORS='' /bin/rustc --crate-name logic --edition=2024 \
             logic/src/lib.rs --error-format=json --crate-type cdylib --cfg 'x=\"1\"' \
             --out-dir {} -C incremental=/w/inc`\n",
            deps.display()
        );
        let capture = Capture::from_cargo(&stderr, "logic", &dir).unwrap();
        assert_eq!(capture.program, "/bin/rustc");
        assert_eq!(
            capture.envs,
            [
                ("CARGO_CRATE_NAME".to_owned(), "logic".to_owned()),
                ("CARGO_PKG_AUTHORS".to_owned(), String::new()),
            ]
        );
        assert!(capture.args.contains(&"x=\"1\"".to_owned()));
        assert_eq!(capture.refuses(&[dir.join("logic/src/my part.rs")]), None);
        let new_file = dir.join("logic/src/new.rs");
        assert!(
            capture
                .refuses(&[new_file])
                .unwrap()
                .contains("new.rs is not one of")
        );
        assert_eq!(Capture::from_cargo(&stderr, "other", &dir), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_recorded_command_serves_while_the_library_cargo_reports_is_the_one_it_writes() {
        let dir = std::env::temp_dir().join(format!("hcr-record-{}", std::process::id()));
        let output_dir = dir.join("target/debug");
        let deps = output_dir.join("deps");
        std::fs::create_dir_all(&deps).unwrap();
        std::fs::write(deps.join("logic.d"), "logic/src/lib.rs:\n").unwrap();
        let library = crate::library_file_name(crate::build_target(), "logic-abc");
        std::fs::write(deps.join(&library), b"built").unwrap();
        let line = format!(
            "     Running `/bin/rustc --crate-name logic logic/src/lib.rs --crate-type cdylib \
             -C extra-filename=-abc --out-dir {}`",
            deps.display()
        );
        let capture = Capture::from_cargo(&line, "logic", &dir).unwrap();
        capture.record(&output_dir, "logic");
        let reported = output_dir.join(crate::library_file_name(crate::build_target(), "logic"));
        std::fs::hard_link(deps.join(&library), &reported).unwrap();
        assert_eq!(
            Capture::recorded(&output_dir, "logic", "logic", &dir, &reported),
            Some(capture),
            "cargo's library is the one the command writes"
        );
        std::fs::remove_file(&reported).unwrap();
        std::fs::write(&reported, b"built by another command").unwrap();
        assert_eq!(
            Capture::recorded(&output_dir, "logic", "logic", &dir, &reported),
            None
        );
        assert_eq!(
            Capture::recorded(&output_dir, "other", "other", &dir, &reported),
            None,
            "nothing recorded"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn colours_are_taken_out_of_rustc_s_rendered_diagnostics() {
        let rendered = "\u{1b}[0m\u{1b}[1m\u{1b}[38;5;9merror[E0369]\u{1b}[0m\u{1b}[0m\u{1b}[1m: cannot add\u{1b}[0m\n";
        assert_eq!(without_colours(rendered), "error[E0369]: cannot add\n");
        assert_eq!(without_colours("plain: text"), "plain: text");
    }
}
