//! `--script`: the edit-rebuild-reload loop, run by itself on a copy of
//! the demo. Each edit is a real change to a module's source; the watcher
//! of `cargo hcr` rebuilds, the running demo reloads at its next frame,
//! and the script reports the build time, the reload time and the frame
//! that shows the change. One edit does not compile: the demo keeps
//! running its last good code, and the next edit recovers. One edit
//! crashes: the crash guard rolls the module back, and the demo goes on.
//! Each edit is saved as `sed -i` saves: a new file beside the source,
//! renamed over it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use hcr_build::watch::{Event, watch};
use hcr_build::{BuildOptions, Project, build_project};

/// One change to a file of the copy.
struct Edit {
    file: &'static str,
    from: &'static str,
    to: &'static str,
    what: &'static str,
    outcome: Outcome,
}

/// What an edit does to the running demo.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// It builds, and the next frame shows it.
    Shows,
    /// It does not build: the demo keeps its last good code.
    DoesNotBuild,
    /// It builds and crashes: the crash guard rolls its module back.
    Crashes,
}

const EDITS: &[Edit] = &[
    Edit {
        file: "view/src/lib.rs",
        from: "const ALIVE: char = '#';",
        to: "const ALIVE: char = 'o';",
        what: "view: draw live cells as 'o'",
        outcome: Outcome::Shows,
    },
    Edit {
        file: "world/src/lib.rs",
        from: "FRAME.fetch_add(1, Ordering::Relaxed) + 1,",
        to: "FRAME.fetch_add(1, Ordering::Relaxed) + \"1\",",
        what: "world: a change that does not compile",
        outcome: Outcome::DoesNotBuild,
    },
    Edit {
        file: "world/src/lib.rs",
        from: "FRAME.fetch_add(1, Ordering::Relaxed) + \"1\",",
        to: "FRAME.fetch_add(10, Ordering::Relaxed) + 10,",
        what: "world: fixed, and frames now count by ten",
        outcome: Outcome::Shows,
    },
    Edit {
        file: "view/src/lib.rs",
        from: "let alive = frame.cells.iter().filter(|cell| **cell).count();",
        to: "let alive = usize::from(unsafe { *frame.cells.as_ptr().add(1 << 40) });",
        what: "view: an unsafe read far out of bounds",
        outcome: Outcome::Crashes,
    },
    Edit {
        file: "view/src/lib.rs",
        from: "let alive = usize::from(unsafe { *frame.cells.as_ptr().add(1 << 40) });",
        to: "let alive = frame.cells.len() - frame.cells.iter().filter(|cell| !**cell).count();",
        what: "view: fixed, counting the dead cells",
        outcome: Outcome::Shows,
    },
    Edit {
        file: "rules/src/lib.rs",
        from: "neighbours == 2 || neighbours == 3",
        to: "neighbours >= 1",
        what: "rules: a live cell survives with any neighbour",
        outcome: Outcome::Shows,
    },
];

/// How the demo starts a line that reports a crash.
const FAULT_PREFIX: &str = "fault | ";

/// How long one edit may take to show, build included.
const PATIENCE: Duration = Duration::from_secs(300);

const CRATES: [&str; 4] = ["rules", "world", "view", "host"];

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A fresh copy of the demo's sources in a workspace of its own, whose
/// target directory persists between runs.
fn copy_demo(repo: &Path, work: &Path) -> Result<PathBuf, String> {
    let io = |what: &str, err: std::io::Error| format!("{what}: {err}");
    for name in CRATES {
        let to = work.join(name);
        let _ = std::fs::remove_dir_all(&to);
        copy_tree(&repo.join("examples/demo").join(name), &to)
            .map_err(|err| io(&format!("copying {name}"), err))?;
    }
    let path = |crate_dir: &str| repo.join(crate_dir).display().to_string();
    let manifest = format!(
        "[workspace]\nresolver = \"3\"\nmembers = {CRATES:?}\n\n\
         [workspace.package]\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
         [workspace.dependencies]\nhcr-client = {{ path = {:?} }}\nhcr-build = {{ path = {:?} }}\n",
        path("hcr-client"),
        path("hcr-build"),
    );
    std::fs::write(work.join("Cargo.toml"), manifest).map_err(|err| io("Cargo.toml", err))?;
    // The same versions of every dependency as the repository.
    std::fs::copy(repo.join("Cargo.lock"), work.join("Cargo.lock"))
        .map_err(|err| io("Cargo.lock", err))?;
    Ok(work.join("Cargo.toml"))
}

fn apply(work: &Path, edit: &Edit) -> Result<(), String> {
    let path = work.join(edit.file);
    let text = std::fs::read_to_string(&path).map_err(|err| format!("{}: {err}", edit.file))?;
    if !text.contains(edit.from) {
        return Err(format!("{} does not contain `{}`", edit.file, edit.from));
    }
    save_as_sed_does(&path, &text.replacen(edit.from, edit.to, 1))
        .map_err(|err| format!("{}: {err}", edit.file))
}

/// Writes `text` to a new file `sedXXXXXX` beside `path` and renames it
/// over `path`, as `sed -i` does.
fn save_as_sed_does(path: &Path, text: &str) -> std::io::Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .subsec_nanos();
    let temporary = path.with_file_name(format!("sed{:06x}", nanos & 0xff_ffff));
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, path)
}

/// The generation a line of the demo's output shows (`gen G | ...`).
fn generation_of(line: &str) -> Option<i64> {
    line.strip_prefix("gen ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

struct Demo {
    child: Child,
    /// Each line of the demo's output, with when it came.
    lines: Receiver<(Instant, String)>,
}

impl Demo {
    fn start(host: &Path) -> Result<Demo, String> {
        let mut child = Command::new(host)
            .args(["--interval-ms", "10"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot start {}: {err}", host.display()))?;
        let stdout = child.stdout.take().expect("piped");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in
                std::io::BufRead::lines(std::io::BufReader::new(stdout)).map_while(Result::ok)
            {
                if sender.send((Instant::now(), line)).is_err() {
                    break;
                }
            }
        });
        Ok(Demo { child, lines })
    }

    /// The next line of the demo's output that `wanted` accepts, and when
    /// it came.
    fn next_line(
        &self,
        what: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<(Instant, String), String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (at, line) = self
                .lines
                .recv_timeout(left)
                .map_err(|_| format!("no {what} came"))?;
            if wanted(&line) {
                return Ok((at, line));
            }
        }
    }

    /// The next frame at least at generation `at_least`, and when it came.
    fn frame_at(&self, at_least: i64) -> Result<(Instant, String), String> {
        self.next_line(&format!("frame of generation {at_least}"), |line| {
            generation_of(line).is_some_and(|generation| generation >= at_least)
        })
    }

    /// The next frame at least at generation `at_least`.
    fn frame(&self, at_least: i64) -> Result<String, String> {
        Ok(self.frame_at(at_least)?.1)
    }

    /// The next crash the demo reports (`fault | ...`), without the prefix.
    fn fault(&self) -> Result<String, String> {
        let (_, line) = self.next_line("crash report", |line| line.starts_with(FAULT_PREFIX))?;
        Ok(line[FAULT_PREFIX.len()..].to_owned())
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the script; see the module docs.
pub fn run() -> Result<(), String> {
    let repo = hcr_build::workspace_dir();
    let work = repo.join("target").join("hcr-demo-script");
    let manifest = copy_demo(&repo, &work)?;
    println!("script: a copy of the demo in {}", work.display());
    eprintln!("script: building it (the first time also builds hcr-client and the runtime)…");
    let project =
        Project::load(Some(&manifest), Some("hcr-demo")).map_err(|err| err.to_string())?;
    let options = BuildOptions::default();
    let layout = build_project(&project, &options, &mut |line| eprintln!("script: {line}"))
        .map_err(|err| err.to_string())?;

    let (events, received) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (project, dir, stop, options) = (
            project.clone(),
            layout.dir.clone(),
            stop.clone(),
            options.clone(),
        );
        std::thread::spawn(move || {
            watch(
                &project,
                &dir,
                &options,
                &mut |event| {
                    let _ = events.send(event.clone());
                },
                &mut || !stop.load(Ordering::Relaxed),
            )
        })
    };
    match received.recv_timeout(PATIENCE) {
        Ok(Event::Watching(_)) => {}
        other => return Err(format!("the watcher did not start: {other:?}")),
    }
    let demo = Demo::start(&layout.host)?;
    let mut generation = 0;
    println!("generation 0: {}", demo.frame(0)?);

    let (mut builds, mut shows, mut shown_edits) = (Vec::new(), Vec::new(), Vec::new());
    let mut last_good = std::collections::HashMap::new();
    for (number, edit) in EDITS.iter().enumerate() {
        let number = number + 1;
        let path = work.join(edit.file);
        let read = || std::fs::read_to_string(&path).map_err(|err| err.to_string());
        // The file as it last built (an edit that does not build is not
        // a starting point for rustc_alone).
        if !last_good.contains_key(edit.file) {
            last_good.insert(edit.file, read()?);
        }
        let before = last_good[edit.file].clone();
        apply(&work, edit)?;
        if edit.outcome != Outcome::DoesNotBuild {
            last_good.insert(edit.file, read()?);
        }
        let edited = Instant::now();
        // The edited module's set, then its dependents' (see hcr_build::watch).
        let (mut building, mut rebuilt, mut compiled) = (Vec::new(), Vec::new(), Vec::new());
        let outcome = loop {
            match received.recv_timeout(PATIENCE) {
                Ok(Event::Building(modules)) => building = modules,
                Ok(Event::Compiling { module, how }) => compiled.push(format!("{module} {how}")),
                Ok(Event::Rebuilt { modules, .. }) => {
                    rebuilt.extend(modules);
                    if building.iter().all(|module| rebuilt.contains(module)) {
                        break Ok(rebuilt);
                    }
                }
                Ok(Event::Failed { module, message }) => break Err((module, message)),
                Ok(_) => continue,
                Err(_) => return Err(format!("edit {number}: the watcher reported nothing")),
            }
        };
        let built = edited.elapsed();
        match (outcome, edit.outcome) {
            (Ok(modules), Outcome::Shows) => {
                generation += 1;
                let (at, line) = demo.frame_at(generation)?;
                // The edited module reloads as soon as it is built, maybe
                // before the modules rebuilt for its sake are.
                let shown = at.saturating_duration_since(edited);
                let reload = hcr_build::Manifest::read(&layout.dir)
                    .ok()
                    .and_then(|manifest| manifest.last_reload)
                    .map_or(0.0, |took| took.as_secs_f64() * 1e3);
                println!(
                    "edit {number}, {}: rebuilt {} in {} ms; on screen {} ms after the save (reload {reload:.1} ms)",
                    edit.what,
                    modules.join(", "),
                    built.as_millis(),
                    shown.as_millis()
                );
                println!("  compiled {}", compiled.join("; "));
                println!("generation {generation}: {line}");
                builds.push(built.as_millis());
                shows.push(shown.as_millis());
                shown_edits.push(ShownEdit {
                    number,
                    edit,
                    before,
                    save_to_screen: shown,
                });
            }
            (Ok(modules), Outcome::Crashes) => {
                let fault = demo.fault()?;
                // The reload, then the rollback.
                generation += 2;
                println!(
                    "edit {number}, {}: rebuilt {}; the new code crashed: {fault}",
                    edit.what,
                    modules.join(", ")
                );
                println!(
                    "the demo goes on with the previous version: {}",
                    demo.frame(generation)?
                );
            }
            (Err((module, message)), Outcome::DoesNotBuild) => {
                let first_error = message
                    .lines()
                    .find(|line| line.starts_with("error"))
                    .unwrap_or("error");
                println!(
                    "edit {number}, {}: `{module}` does not build: {first_error}",
                    edit.what
                );
                println!(
                    "the demo keeps running its last good code: {}",
                    demo.frame(generation)?
                );
            }
            (Ok(modules), Outcome::DoesNotBuild) => {
                return Err(format!(
                    "edit {number} should not build, but {modules:?} did"
                ));
            }
            (Err((module, message)), _) => {
                return Err(format!(
                    "edit {number}: `{module}` failed to build:\n{message}"
                ));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    drop(demo);
    let _ = watcher.join();
    println!(
        "done at generation {generation}: a failed build and a crash recovered; \
         edit to rebuilt: {builds:?} ms, save to screen: {shows:?} ms"
    );
    rustc_alone(&work, &project, &options, &shown_edits)
}

/// An edit that showed, for [`rustc_alone`].
struct ShownEdit {
    number: usize,
    edit: &'static Edit,
    /// Its file before the edit.
    before: String,
    save_to_screen: Duration,
}

/// Compiles each edit that showed again with rustc alone (the module's
/// own compile, as cargo runs it, from the source before the edit to the
/// source after it), and prints that time beside the time from the save
/// to the frame that showed it.
fn rustc_alone(
    work: &Path,
    project: &Project,
    options: &BuildOptions,
    shown: &[ShownEdit],
) -> Result<(), String> {
    let mut commands = std::collections::HashMap::new();
    for shown in shown {
        let path = work.join(shown.edit.file);
        let after = std::fs::read_to_string(&path).map_err(|err| err.to_string())?;
        let crate_dir = shown.edit.file.split('/').next().unwrap_or_default();
        let package = project
            .modules
            .iter()
            .find(|module| module.dir.ends_with(crate_dir))
            .map(|module| module.package.clone())
            .ok_or_else(|| format!("no module in {crate_dir}"))?;
        let write = |text: &str| std::fs::write(&path, text).map_err(|err| err.to_string());
        write(&shown.before)?;
        if !commands.contains_key(&package) {
            let command = hcr_build::RustcAlone::capture(project, &package, options)
                .map_err(|err| err.to_string())?;
            commands.insert(package.clone(), command);
        }
        let rustc = &commands[&package];
        rustc.compile().map_err(|err| err.to_string())?;
        write(&after)?;
        let took = rustc.compile().map_err(|err| err.to_string())?;
        let ratio = shown.save_to_screen.as_secs_f64() / took.as_secs_f64();
        println!(
            "edit {}: rustc alone compiles it in {} ms; save to screen took {} ms ({ratio:.1}x)",
            shown.number,
            took.as_millis(),
            shown.save_to_screen.as_millis()
        );
    }
    Ok(())
}
