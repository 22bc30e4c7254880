//! What `cargo hcr` says: status lines on stderr while it builds, watches
//! and runs, and the table of `cargo hcr status` on stdout.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use hcr_build::watch::Event;
use hcr_build::{LastEvent, Manifest};

/// One status line.
pub fn status(line: &str) {
    eprintln!("hcr: {line}");
}

/// The status line of a watcher event.
pub fn watch_event(event: &Event) {
    match event {
        Event::Watching(count) => status(&format!("watching {count} source paths")),
        Event::Building(modules) => status(&format!("building {}…", modules.join(", "))),
        Event::Cancelled(modules) => status(&format!(
            "newer change: stopped building {}",
            modules.join(", ")
        )),
        Event::Rebuilt { modules, elapsed } => status(&format!(
            "rebuilt {} in {} ms; the host picks it up at its next safe point",
            modules.join(", "),
            elapsed.as_millis()
        )),
        Event::Failed { module, message } => {
            eprintln!("{message}");
            status(&format!(
                "`{module}` does not build; the program keeps running its last good code"
            ));
        }
        Event::Compiling { module, how } => status(&format!("compiling {module} {how}")),
        Event::HostChanged(path) => status(&format!(
            "{} belongs to the host, which is not rebuilt while it runs: restart to use it",
            path.display()
        )),
    }
}

/// The status line of what the runtime reported, or `None` for a start.
pub fn runtime_event(manifest: &Manifest) -> Option<String> {
    let generation = manifest.generation;
    Some(match manifest.last_event.as_ref()? {
        LastEvent::Started => return None,
        LastEvent::Reloaded { modules, took } => format!(
            "reloaded {} (generation {generation}) in {:.1} ms",
            modules.join(", "),
            took.as_secs_f64() * 1e3
        ),
        LastEvent::RolledBack { module, loaded_in } => format!(
            "the new code of `{module}` crashed: the crash guard put back the version loaded \
             in generation {loaded_in} (generation {generation}); save a fix to load it"
        ),
        LastEvent::Refused { message } => {
            format!("reload refused, the old code keeps running: {message}")
        }
    })
}

/// When the last event of the host writing the manifest in `dir` is a
/// reload that came after `started`: how long after it the host ended,
/// and what it loaded ("1.2 s after it reloaded view (generation 2)").
pub fn last_reload_since(dir: &Path, started: SystemTime) -> Option<String> {
    let manifest = Manifest::read(dir).ok()?;
    reload_before_end(&manifest, started)
}

/// [`last_reload_since`] of a manifest read.
fn reload_before_end(manifest: &Manifest, started: SystemTime) -> Option<String> {
    let Some(LastEvent::Reloaded { modules, .. }) = &manifest.last_event else {
        return None;
    };
    let loaded_at = manifest
        .modules
        .iter()
        .filter(|module| modules.contains(&module.name))
        .map(|module| module.loaded_at)
        .max()
        .filter(|loaded_at| *loaded_at >= started)?;
    let ago = loaded_at.elapsed().unwrap_or(Duration::ZERO);
    Some(format!(
        "{:.1} s after it reloaded {} (generation {})",
        ago.as_secs_f64(),
        modules.join(", "),
        manifest.generation
    ))
}

/// Reports each new event the host's manifest shows.
pub struct RuntimeEvents {
    dir: PathBuf,
    /// The process and event number last seen.
    seen: Option<(u64, u64)>,
}

impl RuntimeEvents {
    /// Follows the manifest in module directory `dir`.
    pub fn new(dir: PathBuf) -> Self {
        RuntimeEvents { dir, seen: None }
    }

    /// Reads the manifest and says what is new in it.
    pub fn poll(&mut self) {
        let manifest = Manifest::read(&self.dir).ok();
        if let Some(line) = manifest.and_then(|manifest| self.news(&manifest)) {
            status(&line);
        }
    }

    /// The line to say for `manifest`, if it reports an event of this
    /// process not said yet. (The runtime reports a refusal once, not at
    /// every safe point that meets it again.)
    fn news(&mut self, manifest: &Manifest) -> Option<String> {
        let now = (manifest.pid, manifest.event_number);
        let before = self.seen.replace(now);
        let new = before.is_some_and(|(pid, number)| pid == now.0 && number < now.1);
        runtime_event(manifest).filter(|_| new)
    }
}

/// Prints the manifest of a host built for `target`.
pub fn print_status(manifest: &Manifest, target: &str) {
    let pid = manifest.pid;
    // A Windows host under wine has a process id of its own system, which
    // this one cannot look up; so has a host of another system (a Mac's,
    // its manifest copied here).
    let system = |triple: &str| {
        ["windows", "apple", "linux"]
            .into_iter()
            .find(|system| triple.contains(system))
    };
    let foreign_pid = system(target) != system(env!("HCR_BUILD_HOST"));
    let running = match hcr_build::process_is_running(pid) {
        _ if foreign_pid => format!("a process for {target}"),
        Some(true) => "running".to_owned(),
        Some(false) => "not running".to_owned(),
        None => "whether it runs is not known here".to_owned(),
    };
    println!(
        "host `{}` (pid {pid}, {running}), generation {}, last reload {}",
        manifest.main,
        manifest.generation,
        manifest
            .last_reload
            .map_or("none".to_owned(), |took| format!(
                "{:.1} ms",
                took.as_secs_f64() * 1e3
            ))
    );
    if let Some(line) = runtime_event(manifest) {
        println!("last: {line}");
    }
    println!(
        "{:<20} {:>10} {:<18} {:<24} loaded",
        "module", "generation", "content hash", "build"
    );
    for module in &manifest.modules {
        let ago = module.loaded_at.elapsed().unwrap_or(Duration::ZERO);
        println!(
            "{:<20} {:>10} {:<18} {:<24} {}s ago",
            module.name,
            module.generation,
            module.content_hash,
            module.build,
            ago.as_secs()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(generation: i64, event: LastEvent) -> Manifest {
        Manifest {
            pid: 1,
            main: "main".into(),
            generation,
            last_reload: None,
            event_number: 1,
            last_event: Some(event),
            modules: Vec::new(),
        }
    }

    #[test]
    fn each_runtime_event_has_a_status_line_that_says_what_happened() {
        let reload = LastEvent::Reloaded {
            modules: vec!["rules".into(), "world".into()],
            took: Duration::from_micros(1250),
        };
        assert_eq!(
            runtime_event(&manifest(3, reload)).unwrap(),
            "reloaded rules, world (generation 3) in 1.2 ms"
        );
        let rollback = LastEvent::RolledBack {
            module: "view".into(),
            loaded_in: 1,
        };
        assert_eq!(
            runtime_event(&manifest(5, rollback)).unwrap(),
            "the new code of `view` crashed: the crash guard put back the version loaded in \
             generation 1 (generation 5); save a fix to load it"
        );
        let refused = LastEvent::Refused {
            message: "module `world` cannot be reloaded now".into(),
        };
        assert_eq!(
            runtime_event(&manifest(2, refused)).unwrap(),
            "reload refused, the old code keeps running: module `world` cannot be reloaded now"
        );
        assert_eq!(runtime_event(&manifest(0, LastEvent::Started)), None);
    }

    #[test]
    fn each_new_event_of_the_process_is_said_once() {
        let mut events = RuntimeEvents::new(PathBuf::new());
        let refused = |number: u64| {
            let mut manifest = manifest(
                1,
                LastEvent::Refused {
                    message: "no".into(),
                },
            );
            manifest.event_number = number;
            manifest
        };
        // What the manifest held before cargo hcr looked is not news.
        assert_eq!(events.news(&refused(4)), None);
        assert!(events.news(&refused(5)).is_some());
        assert_eq!(events.news(&refused(5)), None, "the same event");
        assert!(events.news(&refused(6)).is_some(), "a refusal of new files");
        // Another process starts its events again.
        let mut other = refused(1);
        other.pid = 2;
        assert_eq!(events.news(&other), None);
    }

    #[test]
    fn a_host_that_dies_after_a_reload_is_said_to_have_died_after_it() {
        let now = SystemTime::now();
        let loaded = |name: &str, ago: u64| hcr_build::LoadedModule {
            name: name.into(),
            build: String::new(),
            content_hash: String::new(),
            loaded_at: now - Duration::from_secs(ago),
            generation: 0,
        };
        let reloaded = LastEvent::Reloaded {
            modules: vec!["view".into()],
            took: Duration::from_millis(3),
        };
        let mut died = manifest(2, reloaded);
        died.modules = vec![loaded("rules", 60), loaded("view", 2)];
        let started = now - Duration::from_secs(30);
        let said = reload_before_end(&died, started).unwrap();
        assert!(said.starts_with("2."), "two seconds after: {said}");
        assert!(
            said.ends_with(" s after it reloaded view (generation 2)"),
            "{said}"
        );
        // A reload of an earlier run of the host, or no reload last, is
        // not what this run died after.
        assert_eq!(reload_before_end(&died, now - Duration::from_secs(1)), None);
        let mut started_only = died.clone();
        started_only.last_event = Some(LastEvent::Started);
        assert_eq!(reload_before_end(&started_only, started), None);
    }
}
