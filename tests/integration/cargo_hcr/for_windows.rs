//! `cargo hcr --target x86_64-pc-windows-gnu` from Linux: the demo and a
//! project outside the repository are built here with mingw-w64, run under
//! wine, and reload edits built here; the demo's crash is rolled back. They need mingw-w64 and wine, so they
//! are ignored by default; `.ci/cross-test x86_64-pc-windows-gnu` runs
//! them (`cargo test -p hcr-tests --test integration -- --ignored
//! cargo_hcr::for_windows::`).

use std::path::PathBuf;
use std::process::Command;

use super::running::Running;
use super::{
    cargo_hcr, cargo_hcr_in, edit, frame_of, outside_project, shared_target, shared_target_turn,
};

const WINDOWS: &str = "x86_64-pc-windows-gnu";

/// A copy of the demo in a workspace of its own, under this repository's
/// target directory.
fn copy_demo() -> PathBuf {
    let repo = hcr_build::workspace_dir();
    let work = repo.join("target").join("hcr-demo-windows");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let crates = ["rules", "world", "view", "host"];
    for name in crates {
        let copied = Command::new("cp")
            .arg("-r")
            .arg(repo.join("examples/demo").join(name))
            .arg(&work)
            .status()
            .unwrap();
        assert!(copied.success(), "copying the demo's {name}");
    }
    let path = |dir: &str| repo.join(dir).display().to_string();
    std::fs::write(
        work.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = {crates:?}\n\n\
             [workspace.package]\nversion = \"0.1.0\"\nedition = \"2024\"\n\n\
             [workspace.dependencies]\nhcr-client = {{ path = {:?} }}\n\
             hcr-build = {{ path = {:?} }}\n",
            path("hcr-client"),
            path("hcr-build"),
        ),
    )
    .unwrap();
    std::fs::copy(repo.join("Cargo.lock"), work.join("Cargo.lock")).unwrap();
    work
}

/// A frame the demo printed: `gen G | frame N | A alive | ROW ROW ROW ROW`.
#[derive(Debug, Clone)]
struct Frame {
    line: String,
    generation: i64,
    number: u64,
    /// The first rows of the board, live cells `true`.
    rows: Vec<Vec<bool>>,
}

impl Frame {
    fn parse(line: String) -> Frame {
        let generation = line
            .strip_prefix("gen ")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|g| g.parse().ok())
            .unwrap_or_else(|| panic!("not a frame: {line:?}"));
        let rows = line
            .rsplit('|')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .map(|row| row.chars().map(|cell| cell != '.').collect())
            .collect();
        Frame {
            number: frame_of(&line),
            generation,
            rows,
            line,
        }
    }

    /// Whether this frame's rows 1 and 2, which the four rows shown fully
    /// decide, are the game of life's next step from `before`'s.
    fn follows(&self, before: &Frame) -> bool {
        let width = before.rows[0].len();
        (1..=2).all(|y| {
            (0..width).all(|x| {
                let mut neighbours = 0;
                for row in &before.rows[y - 1..=y + 1] {
                    for dx in [width - 1, 0, 1] {
                        neighbours += u8::from(row[(x + dx) % width]);
                    }
                }
                let alive = before.rows[y][x];
                neighbours -= u8::from(alive);
                let next = if alive {
                    neighbours == 2 || neighbours == 3
                } else {
                    neighbours == 3
                };
                self.rows[y][x] == next
            })
        })
    }
}

#[test]
#[ignore = "needs mingw-w64 and wine; .ci/cross-test x86_64-pc-windows-gnu runs it"]
fn the_demo_runs_under_wine_and_reloads_edits_built_on_linux_keeping_its_board_and_counter() {
    let _turn = shared_target_turn();
    let work = copy_demo();
    let mut command = Command::new(cargo_hcr());
    command
        .args(["hcr", "run", "-p", "hcr-demo", "--target", WINDOWS])
        .arg("--manifest-path")
        .arg(work.join("Cargo.toml"))
        .args(["--", "--interval-ms", "50"])
        .env("CARGO_TARGET_DIR", shared_target())
        // Wine is found on PATH, not handed over as cargo's runner.
        .env_remove("CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER");
    let demo = Running::start(command);
    let mut frames: Vec<Frame> = Vec::new();
    let mut next_frame = |waiting_for: &str| -> Frame {
        let line = demo.next_line(waiting_for);
        assert!(!line.starts_with("fault"), "{line}");
        let frame = Frame::parse(line);
        frames.push(frame.clone());
        frame
    };

    let first = next_frame("the first frame");
    assert_eq!(first.generation, 0, "{}", first.line);
    assert!(first.line.contains('#'), "{}", first.line);
    let stderr = demo.stderr();
    assert!(
        stderr.contains("demo.exe under wine"),
        "cargo hcr did not say it runs the host under wine:\n{stderr}"
    );

    // The view draws live cells as 'o' instead of '#'.
    edit(
        &work.join("view/src/lib.rs"),
        "const ALIVE: char = '#';",
        "const ALIVE: char = 'o';",
    );
    let drawn = loop {
        let frame = next_frame("the view's reload");
        if frame.generation >= 1 {
            break frame;
        }
    };
    assert!(
        drawn.line.contains('o') && !drawn.line.contains('#'),
        "{}",
        drawn.line
    );

    // The world counts frames by ten; its counter and board are kept.
    while next_frame("frame 12").number < 12 {}
    edit(
        &work.join("world/src/lib.rs"),
        "FRAME.fetch_add(1, Ordering::Relaxed) + 1,",
        "FRAME.fetch_add(10, Ordering::Relaxed) + 10,",
    );
    while next_frame("the world's reload").generation < 2 {}
    next_frame("one frame after the world's reload");

    let reloaded = frames.iter().position(|f| f.generation == 2).unwrap();
    let (before, after) = (&frames[reloaded - 1], &frames[reloaded]);
    assert_eq!(
        after.number,
        before.number + 10,
        "the frame counter did not go on through the reload:\n{}\n{}",
        before.line,
        after.line
    );
    assert_eq!(frames[reloaded + 1].number, after.number + 10);
    for pair in frames.windows(2) {
        assert!(
            pair[1].follows(&pair[0]),
            "the board did not go on from one frame to the next:\n{}\n{}",
            pair[0].line,
            pair[1].line
        );
    }

    // The view reads far out of bounds: the crash guard catches the
    // access violation, rolls the view back, and the demo draws on with
    // the view it had.
    edit(
        &work.join("view/src/lib.rs"),
        "let alive = frame.cells.iter().filter(|cell| **cell).count();",
        "let alive = usize::from(unsafe { *frame.cells.as_ptr().add(1 << 40) });",
    );
    let fault = loop {
        let line = demo.next_line("the crash report");
        if let Some(fault) = line.strip_prefix("fault | ") {
            break fault.to_owned();
        }
    };
    hcr_tests::assert_says(
        &fault,
        &[
            "module `demo_view` faulted: EXCEPTION_ACCESS_VIOLATION (access violation) reading",
            "demo_view.dll+0x",
            "rolled back to the version loaded in generation 1",
        ],
    );
    let after = Frame::parse(demo.next_line("a frame after the rollback"));
    assert!(
        after.line.contains('o') && !after.line.contains('#'),
        "{}",
        after.line
    );
    assert!(
        !demo.stderr().contains("without the crash guard"),
        "{}",
        demo.stderr()
    );
    drop(demo);
    let _ = std::fs::remove_dir_all(&work);
}

/// The number a greeting line starts with (`hello #N, ...`).
fn said(line: &str) -> u64 {
    line.split_once('#')
        .and_then(|(_, rest)| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"))
}

#[test]
#[ignore = "needs mingw-w64 and wine; .ci/cross-test x86_64-pc-windows-gnu runs it"]
fn a_project_outside_the_repository_is_built_for_windows_and_reloads_an_edit_under_wine() {
    let _turn = shared_target_turn();
    let project = outside_project("outside-windows");
    let build = || {
        let (ok, _, stderr) = cargo_hcr_in(&project, &["build", "--target", WINDOWS]);
        assert!(ok, "{stderr}");
        stderr
    };
    let stderr = build();
    assert!(
        stderr.contains("built `host`, the runtime and 2 module(s) for x86_64-pc-windows-gnu"),
        "{stderr}"
    );
    let dir = shared_target().join(WINDOWS).join("debug");
    for file in ["host.exe", "hcr_runtime.dll", "greet.dll", "words.dll"] {
        assert!(
            dir.join(file).is_file(),
            "{file} is not in {}",
            dir.display()
        );
    }

    let mut command = Command::new("wine");
    command.arg(dir.join("host.exe")).arg("3000");
    let host = Running::start(command);
    let first = host.next_line("the first greeting");
    assert!(
        first.starts_with("hello #1, outside, from a module (generation 0)"),
        "{first}"
    );

    // An edit to the leaf module rebuilds it and the module importing it.
    edit(
        &project.join("words/src/lib.rs"),
        "\"hello #{}\"",
        "\"hi #{}\"",
    );
    build();
    let mut last_hello = first;
    let reloaded = loop {
        let line = host.next_line("the greeting after the reload");
        if line.starts_with("hi #") {
            break line;
        }
        last_hello = line;
    };
    assert!(reloaded.ends_with("(generation 1)"), "{reloaded}");
    // The counter, a global of `words`, went on through the reload.
    assert_eq!(
        said(&reloaded),
        said(&last_hello) + 1,
        "{last_hello}\n{reloaded}"
    );

    let (ok, stdout, stderr) = cargo_hcr_in(&project, &["status", "--target", WINDOWS]);
    assert!(ok, "{stderr}");
    // One build, one reload: the host took both libraries together.
    assert!(
        stdout.contains("a process for x86_64-pc-windows-gnu") && stdout.contains("generation 1,"),
        "{stdout}"
    );
    for module in ["greet ", "words "] {
        assert!(
            stdout.lines().any(|line| line.starts_with(module)),
            "{stdout}"
        );
    }
    drop(host);
    let _ = std::fs::remove_dir_all(&project);
}
