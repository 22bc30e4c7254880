//! The rebuild loop against a fake builder and a mocked clock.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Builder, Event, QUIET, Rebuilder, write_of};
use crate::{BuildError, ModuleCrate, Project};

/// Builds that end when the test says so.
#[derive(Debug, Default)]
struct Fake {
    started: Vec<String>,
    cancelled: Vec<String>,
    /// Results to hand out, by module, when polled.
    results: BTreeMap<String, Result<(), String>>,
    /// The files each module was last started with.
    changed: BTreeMap<String, Vec<PathBuf>>,
    /// The sets laid out, in order; whether a set is open.
    laid_out: Vec<Vec<String>>,
    in_set: bool,
    /// Files that are gone (renamed away or deleted).
    gone: BTreeSet<PathBuf>,
}

impl Builder for Fake {
    type Build = String;
    type Output = String;

    fn begin_set(&mut self, _modules: &[String]) {
        self.in_set = true;
    }

    fn lay_out(&mut self, built: Vec<String>) -> Result<(), BuildError> {
        assert!(self.in_set, "a set is laid out once it began");
        self.in_set = false;
        self.laid_out.push(built);
        Ok(())
    }

    fn abandon_set(&mut self) {
        self.in_set = false;
    }

    fn start(
        &mut self,
        module: &ModuleCrate,
        changed: &[PathBuf],
    ) -> Result<(String, Option<String>), BuildError> {
        self.started.push(module.name.clone());
        self.changed.insert(module.name.clone(), changed.to_vec());
        Ok((module.name.clone(), None))
    }

    fn poll(&mut self, build: &mut String) -> Option<Result<String, BuildError>> {
        let result = self.results.remove(build)?;
        Some(
            result
                .map(|()| build.clone())
                .map_err(|output| BuildError::Failed {
                    tool: "cargo".into(),
                    status: std::process::ExitStatus::default(),
                    output,
                }),
        )
    }

    fn cancel(&mut self, build: String) {
        self.cancelled.push(build);
    }

    fn still_there(&self, path: &Path) -> bool {
        !self.gone.contains(path)
    }
}

fn module(name: &str, depends_on: &[&str]) -> ModuleCrate {
    ModuleCrate {
        package: name.to_owned(),
        name: name.to_owned(),
        dir: PathBuf::from(format!("/p/{name}")),
        depends_on: depends_on
            .iter()
            .map(|d| (*d).to_owned())
            .collect::<BTreeSet<_>>(),
    }
}

/// Host `/p/host` with modules base <- mid <- top, and `other`.
fn project() -> Project {
    Project {
        modules: vec![
            module("base", &[]),
            module("other", &[]),
            module("mid", &["base"]),
            module("top", &["base", "mid"]),
        ],
        ..crate::project::tests::project_in("/p/target")
    }
}

struct Clock(Instant);

impl Clock {
    fn after(&mut self, by: Duration) -> Instant {
        self.0 += by;
        self.0
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn one_save_of_several_writes_is_one_rebuild_of_the_module_and_its_dependents() {
    let mut clock = Clock(Instant::now());
    let mut loop_ = Rebuilder::new(project(), Fake::default());
    for file in [
        "/p/mid/src/lib.rs",
        "/p/mid/src/lib.rs",
        "/p/mid/src/.lib.rs.swp",
    ] {
        loop_.file_changed(Path::new(file), clock.after(Duration::from_millis(5)));
    }
    assert_eq!(loop_.tick(clock.after(QUIET / 2)), []);
    assert_eq!(
        loop_.tick(clock.after(QUIET)),
        [Event::Building(names(&["mid", "top"]))]
    );
    assert_eq!(loop_.builder().started, ["mid"]);
    loop_.builder.results.insert("mid".into(), Ok(()));
    // The edited module goes out at once; its dependent follows.
    assert_eq!(
        loop_.tick(clock.after(Duration::from_millis(300))),
        [Event::Rebuilt {
            modules: names(&["mid"]),
            elapsed: Duration::from_millis(300),
        }]
    );
    assert_eq!(loop_.builder().laid_out, [names(&["mid"])]);
    assert_eq!(loop_.builder().started, ["mid", "top"]);
    loop_.builder.results.insert("top".into(), Ok(()));
    let events = loop_.tick(clock.after(Duration::from_millis(200)));
    assert_eq!(
        events,
        [Event::Rebuilt {
            modules: names(&["top"]),
            elapsed: Duration::from_millis(500),
        }]
    );
    assert_eq!(loop_.builder().laid_out, [names(&["mid"]), names(&["top"])]);
    assert!(!loop_.is_building());
    assert_eq!(loop_.tick(clock.after(QUIET * 10)), []);
}

#[test]
fn a_second_save_during_a_build_cancels_it_and_one_build_covers_both() {
    let mut clock = Clock(Instant::now());
    let mut loop_ = Rebuilder::new(project(), Fake::default());
    loop_.file_changed(Path::new("/p/base/src/lib.rs"), clock.0);
    loop_.tick(clock.after(QUIET));
    assert_eq!(loop_.builder().started, ["base"]);
    loop_.file_changed(
        Path::new("/p/other/src/lib.rs"),
        clock.after(Duration::from_millis(10)),
    );
    assert_eq!(
        loop_.tick(clock.after(Duration::from_millis(10))),
        [],
        "not quiet yet"
    );
    let events = loop_.tick(clock.after(QUIET));
    assert_eq!(
        events,
        [
            Event::Cancelled(names(&["base", "mid", "top"])),
            Event::Building(names(&["base", "other", "mid", "top"])),
        ]
    );
    assert_eq!(loop_.builder().cancelled, ["base"]);
    for name in ["base", "other", "mid", "top"] {
        loop_.builder.results.insert(name.into(), Ok(()));
        loop_.tick(clock.after(Duration::from_millis(1)));
    }
    assert_eq!(
        loop_.builder().started,
        ["base", "base", "other", "mid", "top"]
    );
    assert!(!loop_.is_building());
}

#[test]
fn unrelated_files_do_not_rebuild_and_the_host_crate_asks_for_a_restart() {
    let mut clock = Clock(Instant::now());
    let mut loop_ = Rebuilder::new(project(), Fake::default());
    for file in [
        "/elsewhere/notes.txt",
        "/p/target/debug/libbase.so",
        "/p/.git/index",
    ] {
        loop_.file_changed(Path::new(file), clock.0);
    }
    assert_eq!(loop_.tick(clock.after(QUIET * 2)), []);
    loop_.file_changed(Path::new("/p/src/main.rs"), clock.0);
    assert_eq!(
        loop_.tick(clock.after(QUIET)),
        [Event::HostChanged(PathBuf::from("/p/src/main.rs"))]
    );
    assert!(loop_.builder().started.is_empty());
}

#[test]
fn a_failed_build_is_reported_in_full_and_the_next_save_builds_again() {
    let mut clock = Clock(Instant::now());
    let mut loop_ = Rebuilder::new(project(), Fake::default());
    loop_.file_changed(Path::new("/p/mid/src/lib.rs"), clock.0);
    loop_.tick(clock.after(QUIET));
    let diagnostics = "error[E0308]: mismatched types\n --> mid/src/lib.rs:3:5";
    loop_
        .builder
        .results
        .insert("mid".into(), Err(diagnostics.into()));
    assert_eq!(
        loop_.tick(clock.after(Duration::from_millis(1))),
        [Event::Failed {
            module: "mid".into(),
            message: diagnostics.into(),
        }]
    );
    assert_eq!(
        loop_.builder().started,
        ["mid"],
        "top is not built on a broken mid"
    );
    loop_.file_changed(Path::new("/p/mid/src/lib.rs"), clock.0);
    loop_.tick(clock.after(QUIET));
    loop_.builder.results.insert("mid".into(), Ok(()));
    loop_.tick(clock.after(Duration::from_millis(1)));
    loop_.builder.results.insert("top".into(), Ok(()));
    let events = loop_.tick(clock.after(Duration::from_millis(1)));
    assert!(
        matches!(events.as_slice(), [Event::Rebuilt { .. }]),
        "{events:?}"
    );
}

#[test]
fn modules_edited_in_one_save_are_laid_out_together_then_their_dependents() {
    let mut clock = Clock(Instant::now());
    let mut loop_ = Rebuilder::new(project(), Fake::default());
    // One save: base's signature and its caller top.
    loop_.file_changed(Path::new("/p/base/src/lib.rs"), clock.0);
    loop_.file_changed(Path::new("/p/top/src/lib.rs"), clock.0);
    assert_eq!(
        loop_.tick(clock.after(QUIET)),
        [Event::Building(names(&["base", "top", "mid"]))]
    );
    loop_.builder.results.insert("base".into(), Ok(()));
    assert_eq!(loop_.tick(clock.after(Duration::from_millis(1))), []);
    assert!(loop_.builder().laid_out.is_empty(), "base waits for top");
    loop_.builder.results.insert("top".into(), Ok(()));
    let events = loop_.tick(clock.after(Duration::from_millis(1)));
    assert!(
        matches!(events.as_slice(), [Event::Rebuilt { modules, .. }] if *modules == names(&["base", "top"])),
        "{events:?}"
    );
    loop_.builder.results.insert("mid".into(), Ok(()));
    loop_.tick(clock.after(Duration::from_millis(1)));
    assert_eq!(
        loop_.builder().laid_out,
        [names(&["base", "top"]), names(&["mid"])]
    );
    assert_eq!(loop_.builder().started, ["base", "top", "mid"]);
    assert!(!loop_.is_building());
    // base may be compiled on its own; top is rebuilt with base, a module
    // it depends on, and mid only for base's sake: neither on its own.
    let changed = &loop_.builder().changed;
    assert_eq!(changed["base"], [PathBuf::from("/p/base/src/lib.rs")]);
    assert!(changed["top"].is_empty() && changed["mid"].is_empty());
}

#[test]
fn a_failed_build_in_a_set_lays_none_of_it_out() {
    let mut clock = Clock(Instant::now());
    let mut loop_ = Rebuilder::new(project(), Fake::default());
    loop_.file_changed(Path::new("/p/base/src/lib.rs"), clock.0);
    loop_.file_changed(Path::new("/p/top/src/lib.rs"), clock.0);
    loop_.tick(clock.after(QUIET));
    loop_.builder.results.insert("base".into(), Ok(()));
    loop_.tick(clock.after(Duration::from_millis(1)));
    loop_
        .builder
        .results
        .insert("top".into(), Err("error[E0061]".into()));
    let events = loop_.tick(clock.after(Duration::from_millis(1)));
    assert!(
        matches!(events.as_slice(), [Event::Failed { .. }]),
        "{events:?}"
    );
    assert!(loop_.builder().laid_out.is_empty());
    assert!(!loop_.builder().in_set, "the set was abandoned");
    assert!(!loop_.is_building());
}

#[test]
fn a_finished_write_starts_the_rebuild_at_once_and_a_later_one_restarts_it() {
    let mut clock = Clock(Instant::now());
    let mut loop_ = Rebuilder::new(project(), Fake::default());
    loop_.file_written(Path::new("/p/other/src/lib.rs"), clock.0);
    assert_eq!(
        loop_.tick(clock.0),
        [Event::Building(names(&["other"]))],
        "no quiet period once the file is complete"
    );
    // The second file of a "save all", a few milliseconds later.
    loop_.file_written(
        Path::new("/p/base/src/lib.rs"),
        clock.after(Duration::from_millis(3)),
    );
    assert_eq!(
        loop_.tick(clock.0),
        [
            Event::Cancelled(names(&["other"])),
            Event::Building(names(&["base", "other", "mid", "top"])),
        ]
    );
    // A write still in progress waits for the quiet period.
    loop_.file_changed(
        Path::new("/p/base/src/lib.rs"),
        clock.after(Duration::from_millis(3)),
    );
    assert_eq!(loop_.tick(clock.after(QUIET / 2)), []);
    assert!(matches!(
        loop_.tick(clock.after(QUIET)).as_slice(),
        [Event::Cancelled(_), Event::Building(_)]
    ));
}

#[test]
fn modules_that_do_not_depend_on_each_other_build_side_by_side() {
    let mut clock = Clock(Instant::now());
    let mut loop_ = Rebuilder::new(project(), Fake::default()).parallel(2);
    loop_.file_written(Path::new("/p/base/src/lib.rs"), clock.0);
    loop_.file_written(Path::new("/p/other/src/lib.rs"), clock.0);
    loop_.tick(clock.0);
    assert_eq!(loop_.builder().started, ["base", "other"], "both at once");
    loop_.builder.results.insert("other".into(), Ok(()));
    loop_.tick(clock.after(Duration::from_millis(1)));
    assert!(
        loop_.builder().laid_out.is_empty(),
        "base is still building"
    );
    loop_.builder.results.insert("base".into(), Ok(()));
    loop_.tick(clock.after(Duration::from_millis(1)));
    assert_eq!(loop_.builder().laid_out, [names(&["other", "base"])]);
    // The dependents: top depends on mid, so it waits for it.
    assert_eq!(loop_.builder().started, ["base", "other", "mid"]);
    loop_.builder.results.insert("mid".into(), Ok(()));
    loop_.tick(clock.after(Duration::from_millis(1)));
    assert_eq!(loop_.builder().started, ["base", "other", "mid", "top"]);
    loop_.builder.results.insert("top".into(), Ok(()));
    loop_.tick(clock.after(Duration::from_millis(1)));
    assert!(!loop_.is_building());
}

#[test]
fn a_failed_build_stops_the_others_of_its_batch() {
    let mut clock = Clock(Instant::now());
    let mut loop_ = Rebuilder::new(project(), Fake::default()).parallel(2);
    loop_.file_written(Path::new("/p/base/src/lib.rs"), clock.0);
    loop_.file_written(Path::new("/p/other/src/lib.rs"), clock.0);
    loop_.tick(clock.0);
    loop_
        .builder
        .results
        .insert("other".into(), Err("error".into()));
    let events = loop_.tick(clock.after(Duration::from_millis(1)));
    assert!(
        matches!(events.as_slice(), [Event::Failed { module, .. }] if module == "other"),
        "{events:?}"
    );
    assert_eq!(loop_.builder().cancelled, ["base"]);
    assert!(!loop_.is_building());
}

/// The files one save by each editor touches in `other/src` (written, or
/// renamed over), and those of them that are gone once it is done.
fn editor_saves() -> Vec<(&'static str, Vec<&'static str>, Vec<&'static str>)> {
    vec![
        ("sed -i", vec!["sed5Be3rZ", "lib.rs"], vec!["sed5Be3rZ"]),
        (
            "vim",
            vec!["4913", "lib.rs~", "lib.rs", ".lib.rs.swp"],
            vec!["4913", "lib.rs~"],
        ),
        (
            "emacs",
            vec![".#lib.rs", "#lib.rs#", "lib.rs~", "lib.rs"],
            vec!["#lib.rs#"],
        ),
        (
            "JetBrains",
            vec!["lib.rs___jb_tmp___", "lib.rs___jb_old___", "lib.rs"],
            vec!["lib.rs___jb_tmp___", "lib.rs___jb_old___"],
        ),
        (
            "gedit",
            vec![".goutputstream-ZB3RQ2", "lib.rs"],
            vec![".goutputstream-ZB3RQ2"],
        ),
        (
            "Kate",
            vec!["lib.rs.a1B2c3.new", "lib.rs"],
            vec!["lib.rs.a1B2c3.new"],
        ),
        ("VS Code", vec!["lib.rs"], vec![]),
    ]
}

#[test]
fn each_editors_save_rebuilds_the_saved_file_alone_and_its_side_files_restart_nothing() {
    for (editor, touched, gone) in editor_saves() {
        let mut clock = Clock(Instant::now());
        let mut loop_ = Rebuilder::new(project(), Fake::default());
        let dir = Path::new("/p/other/src");
        loop_.builder.gone = gone.iter().map(|name| dir.join(name)).collect();
        for name in &touched {
            loop_.file_written(&dir.join(name), clock.after(Duration::from_millis(1)));
        }
        assert_eq!(
            loop_.tick(clock.0),
            [Event::Building(names(&["other"]))],
            "{editor}"
        );
        assert_eq!(
            loop_.builder().changed["other"],
            [dir.join("lib.rs")],
            "{editor}"
        );
        // The same save again while that build runs restarts it once, for
        // the file saved.
        for name in &touched {
            loop_.file_written(&dir.join(name), clock.after(Duration::from_millis(1)));
        }
        assert_eq!(
            loop_.tick(clock.0),
            [
                Event::Cancelled(names(&["other"])),
                Event::Building(names(&["other"]))
            ],
            "{editor}"
        );
        // Its side files alone, during a build, restart nothing.
        for name in touched.iter().filter(|name| **name != "lib.rs") {
            loop_.file_written(&dir.join(name), clock.after(Duration::from_millis(1)));
        }
        assert_eq!(loop_.tick(clock.after(QUIET * 2)), [], "{editor}");
        assert_eq!(loop_.builder().started, ["other", "other"], "{editor}");
    }
}

#[test]
fn a_file_that_is_gone_when_the_rebuild_would_start_starts_none() {
    let mut clock = Clock(Instant::now());
    let mut loop_ = Rebuilder::new(project(), Fake::default());
    let scratch = PathBuf::from("/p/other/src/scratch.rs");
    loop_.builder.gone.insert(scratch.clone());
    loop_.file_changed(&scratch, clock.0);
    assert_eq!(loop_.tick(clock.after(QUIET * 2)), []);
    assert!(loop_.builder().started.is_empty());
}

#[test]
fn a_rename_counts_once_for_its_new_name_and_not_for_the_name_it_left() {
    use notify::event::{
        AccessKind, AccessMode, CreateKind, DataChange, EventKind, ModifyKind, RemoveKind,
        RenameMode,
    };
    let renamed = |mode| EventKind::Modify(ModifyKind::Name(mode));
    let cases = [
        (renamed(RenameMode::To), Some(true)),
        (renamed(RenameMode::Any), Some(true)),
        (renamed(RenameMode::From), None),
        (renamed(RenameMode::Both), None),
        (
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            Some(true),
        ),
        (EventKind::Access(AccessKind::Open(AccessMode::Any)), None),
        (
            EventKind::Modify(ModifyKind::Data(DataChange::Content)),
            Some(false),
        ),
        (EventKind::Create(CreateKind::File), Some(false)),
        (EventKind::Remove(RemoveKind::File), Some(false)),
    ];
    for (kind, says) in cases {
        assert_eq!(write_of(&kind), says, "{kind:?}");
    }
}
