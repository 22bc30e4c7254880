//! The orbit example, built hot and static from the same sources: same
//! output, and the static build has no trace of the runtime.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds orbit with `features` and keeps a copy under `name`.
fn build_orbit(name: &str, features: &[&str]) -> PathBuf {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"));
    hcr_tests::build_binary(work, "hcr-examples", "orbit", features, name)
}

fn output(program: &Path, args: &[&str]) -> (String, String) {
    let output = Command::new(program).args(args).output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert!(
        output.status.success(),
        "{} failed: {}\n{}",
        program.display(),
        output.status,
        text(&output.stderr)
    );
    (text(&output.stdout), text(&output.stderr))
}

#[test]
fn the_example_prints_the_same_hot_and_static_has_no_runtime_and_demo_reloads() {
    // Built one after the other: both builds write target/debug/orbit.
    let hot = build_orbit("orbit-hot", &[]);
    let fixed = build_orbit("orbit-static", &["static"]);

    let (hot_out, hot_err) = output(&hot, &["--frames", "6"]);
    let (static_out, static_err) = output(&fixed, &["--frames", "6"]);
    assert!(hot_err.contains("hot build"), "{hot_err}");
    assert!(!static_err.contains("hot build"), "{static_err}");
    assert_eq!(hot_out.lines().count(), 6, "{hot_out}");
    assert_eq!(hot_out, static_out);

    let symbols = |binary: &Path, dynamic: bool| {
        let mut nm = Command::new("nm");
        if dynamic {
            nm.arg("-D");
        }
        let out = nm.arg(binary).output().expect("nm runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let runtime_symbols = |listing: &str| {
        listing
            .lines()
            .filter_map(|line| line.split_whitespace().last())
            .filter(|name| name.starts_with("hcr_") || name.starts_with("dlopen"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // The hot build loads the runtime with dlopen: the check can see it.
    assert!(!runtime_symbols(&symbols(&hot, true)).is_empty());
    assert_eq!(
        runtime_symbols(&symbols(&fixed, true)),
        Vec::<String>::new()
    );
    assert_eq!(
        runtime_symbols(&symbols(&fixed, false)),
        Vec::<String>::new()
    );
    let ldd = Command::new("ldd").arg(&fixed).output().expect("ldd runs");
    let libraries = String::from_utf8_lossy(&ldd.stdout);
    assert!(!libraries.contains("hcr"), "{libraries}");

    // A static build accepts the reload handler and never runs it.
    let (_, static_demo_err) = output(&fixed, &["--demo"]);
    assert!(
        static_demo_err.contains("nothing to reload")
            && !static_demo_err.contains("after the reload"),
        "{static_demo_err}"
    );

    // Last, as it rebuilds the module library the hot runs above load.
    let (out, err) = output(&hot, &["--demo"]);
    assert!(err.contains("reloaded orbit_physics"), "{err}");
    // The host's reload handler ran, after the new code was in.
    assert!(
        err.contains("orbit: after the reload, orbit_physics has taken 3 steps"),
        "{err}"
    );
    let lines: Vec<&str> = out.lines().collect();
    // Before the edit the moon turns 60° a frame, after it 180°; the step
    // count, a persistent global, goes on through the reload.
    assert!(lines[1].starts_with("frame 1 (step 2): moon@120°"), "{out}");
    assert!(lines[4].starts_with("frame 4 (step 5): moon@180°"), "{out}");
}
