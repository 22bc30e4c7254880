//! Long sessions and other processes: unmapping old versions, no files
//! left behind, libraries still being written, several processes on one
//! module directory.

use std::io::Write as _;
use std::time::{Duration, Instant};

use hcr_tests::{mapped_copies, resident_kib};

scenario! {
    fn collect_unmaps_old_versions_and_stubs_keep_working(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let stub = host.stub("spin", "value");
        let one_version = mapped_copies();
        for variant in ["spin-2", "spin-1", "spin-2"] {
            host.install("spin", variant);
            host.rt.perform_code_reload().unwrap();
        }
        assert_eq!(host.rt.retained_version_count(), 4);
        assert_eq!(mapped_copies(), 4 * one_version, "old versions stay mapped by default");

        assert_eq!(host.rt.collect().unwrap(), 3);
        assert_eq!(host.rt.retained_version_count(), 1);
        assert_eq!(mapped_copies(), one_version, "only the current version is mapped");
        assert_eq!(host.copy_names().len(), 1);
        assert_eq!(stub.call_int(), 2, "the stub runs the current code");
        assert_eq!(host.rt.collect().unwrap(), 0, "nothing left to unmap");

        host.install("spin", "spin-1");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(stub.call_int(), 1, "reloads go on after a collect");
    }
}

scenario! {
    fn a_removed_proc_keeps_its_slot_and_the_table_grows_only_with_new_names(host) {
        host.install("grower", "grower-1");
        host.install("extra", "extra");
        host.init(&["grower"]);
        host.install("grower", "grower-2");
        host.rt.perform_code_reload().unwrap();
        let extra = host.stub("extra", "value");
        assert_eq!(extra.call_int(), 7);

        host.install("grower", "grower-3");
        host.rt.perform_code_reload().unwrap();
        host.rt.collect().unwrap();
        // SAFETY: `target` is a plain C function of this signature.
        let fresh = unsafe { host.rt.register_proc("main", "fresh", target as *const _) }.unwrap();
        assert_ne!(fresh.as_ptr() as usize, extra.address(), "a removed proc's slot is not reused");

        host.install("grower", "grower-2");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.stub("extra", "value"), extra, "the name gets its own slot back");
        assert_eq!(extra.call_int(), 7);
    }
}

extern "C" fn target() -> i32 {
    42
}

scenario! {
    fn a_cap_keeps_the_newest_versions_of_each_module(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        assert_eq!(host.rt.set_kept_versions(2).unwrap(), 0, "no cap by default");
        for variant in ["spin-2", "spin-1", "spin-2", "spin-1"] {
            host.install("spin", variant);
            host.rt.perform_code_reload().unwrap();
            assert!(host.rt.retained_version_count() <= 2);
        }
        assert_eq!(host.rt.retained_version_count(), 2, "the current and the one before");
        assert_eq!(host.call("spin", "value"), 1);
    }
}

scenario! {
    env("HCR_KEEP_VERSIONS" = "1")
    fn the_cap_can_come_from_the_environment(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        for variant in ["spin-2", "spin-1"] {
            host.install("spin", variant);
            host.rt.perform_code_reload().unwrap();
            assert_eq!(host.rt.retained_version_count(), 1);
        }
        assert_eq!(host.copy_names().len(), 1);
    }
}

scenario! {
    /// A soak: reload over and over, collecting at each safe point. The
    /// normal suite runs 200 reloads; `HCR_SOAK_RELOADS=10000` runs more.
    fn reloading_thousands_of_times_with_collect_stays_flat(host) {
        let reloads: usize = std::env::var("HCR_SOAK_RELOADS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(200);
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let stub = host.stub("spin", "value");
        let variants = [host.fixture("spin-1"), host.fixture("spin-2")];
        let mut baseline = None;
        let started = Instant::now();
        for i in 1..=reloads {
            host.install_bytes("spin", &variants[i % 2]);
            host.rt.perform_code_reload().unwrap();
            assert_eq!(stub.call_int(), (i % 2 + 1) as i32);
            host.rt.collect().unwrap();
            let figures = (resident_kib(), mapped_copies(), host.copy_names().len());
            if i == reloads / 10 {
                baseline = Some(figures);
            }
            if let Some((rss, maps, copies)) = baseline {
                assert!(figures.1 <= maps, "mapped copies grew: {figures:?} vs {baseline:?}");
                assert!(figures.2 <= copies, "copies grew: {figures:?} vs {baseline:?}");
                // Valgrind's own memory grows with every library it
                // translates, and AddressSanitizer holds freed memory in
                // its quarantine: their RSS says nothing about the runtime's.
                let checker = hcr_tests::under_valgrind() || hcr_tests::under_asan();
                assert!(
                    figures.0 <= rss + 8 * 1024 || checker,
                    "RSS grew by 8 MiB: {figures:?} vs {baseline:?}"
                );
            }
        }
        let (rss, maps, copies) = (resident_kib(), mapped_copies(), host.copy_names().len());
        println!(
            "soak: {reloads} reloads in {:.1} s; RSS {rss} KiB (at 10%: {} KiB), \
             mapped copy segments {maps}, open copies {copies}, retained versions {}",
            started.elapsed().as_secs_f64(),
            baseline.map_or(0, |b| b.0),
            host.rt.retained_version_count()
        );
        assert_eq!(host.rt.retained_version_count(), 1);
    }
}

scenario! {
    env("HCR_MANIFEST" = "off")
    fn no_manifest_is_written_when_it_is_turned_off(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        host.install("spin", "spin-2");
        host.rt.perform_code_reload().unwrap();
        assert!(!host.modules.join("hcr-manifest.json").exists());
        assert!(!host.modules.join("off").exists(), "`off` is not a path");
    }
}

scenario! {
    env("HCR_LOAD_WAIT_MS" = "5000")
    fn a_library_still_being_written_is_loaded_only_when_complete(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let bytes = host.fixture("spin-2");
        let path = host.library("spin");
        // A slow writer: truncates the file, then writes it in pieces.
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut file = std::fs::File::create(&path).unwrap();
                for piece in bytes.chunks(bytes.len() / 20 + 1) {
                    file.write_all(piece).unwrap();
                    file.flush().unwrap();
                    std::thread::sleep(Duration::from_millis(25));
                }
            })
        };
        std::thread::sleep(Duration::from_millis(30));
        assert!(host.rt.reload_needed(), "the file changed");
        host.rt.perform_code_reload().unwrap();
        writer.join().unwrap();
        assert_eq!(host.call("spin", "value"), 2, "the complete library was loaded");
    }
}

scenario! {
    env("HCR_LOAD_WAIT_MS" = "200")
    fn a_library_left_incomplete_is_refused_with_a_clear_error(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let bytes = host.fixture("spin-2");
        host.install_bytes("spin", &bytes[..bytes.len() * 2 / 3]);
        let err = host.rt.perform_code_reload().unwrap_err();
        assert_eq!(err.code, -5, "{}", err.message);
        assert!(err.message.contains("still being written"), "{}", err.message);
        assert!(err.message.contains("after waiting"), "{}", err.message);
        assert_eq!(host.call("spin", "value"), 1, "the old code still runs");
        host.install("spin", "spin-2");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("spin", "value"), 2);
    }
}

/// Reloads module `spin` from `$HCR_TEST_SHARED_DIR` until the writer says
/// it is done (`done` appears), checking that every call runs a complete
/// version; then loads the final one.
fn reload_from_the_shared_directory(host: &mut hcr_tests::Host) {
    let dir = std::path::PathBuf::from(std::env::var("HCR_TEST_SHARED_DIR").unwrap());
    let (mut reloads, mut refusals) = (0, 0);
    // A slow start (valgrind) can meet the writer already at work: the
    // start is refused as a reload is, and tried again.
    while let Err(err) = host.rt.init("main", &["spin"], Some(&dir)) {
        assert_eq!(err.code, -5, "{}", err.message);
        refusals += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    while !dir.join("done").exists() {
        if host.rt.reload_needed() {
            match host.rt.perform_code_reload() {
                Ok(()) => reloads += 1,
                Err(err) => {
                    assert_eq!(err.code, -5, "{}", err.message);
                    refusals += 1;
                }
            }
        }
        let value = host.call("spin", "value");
        assert!(value == 1 || value == 2, "a call returned {value}");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The last build, whatever reload_needed() has learnt of it yet.
    host.rt.perform_code_reload().unwrap();
    println!("{reloads} reloads, {refusals} refused while the library was written");
    assert_eq!(
        host.call("spin", "value"),
        2,
        "the last version written runs"
    );
}

/// Two processes reload from one module directory while a third party
/// rewrites the library a few bytes at a time: neither crashes, neither
/// runs a partial library, both end on the last version.
#[test]
fn two_processes_share_a_module_directory_while_it_is_rewritten() {
    use hcr_tests::Expect;
    let test = concat!(
        module_path!(),
        "::two_processes_share_a_module_directory_while_it_is_rewritten"
    );
    let work = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    if hcr_tests::in_scenario_process(work, test, reload_from_the_shared_directory) {
        return;
    }
    let built = hcr_tests::built_fixtures(work);
    let dir = work.join("shared-modules");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = |variant: &str| {
        std::fs::read(built.fixtures.join(hcr_tests::library_file(variant))).unwrap()
    };
    let library = dir.join(hcr_tests::library_file("spin"));
    std::fs::write(&library, fixture("spin-1")).unwrap();
    let env = [
        ("HCR_TEST_SHARED_DIR", dir.to_str().unwrap()),
        ("HCR_LOAD_WAIT_MS", "50"),
    ];
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(move || {
                let body = reload_from_the_shared_directory;
                hcr_tests::run_scenario(work, test, &env, Expect::Success, body)
            });
            // The two parents set up one scenario directory: not at once.
            std::thread::sleep(Duration::from_millis(100));
        }
        std::thread::sleep(Duration::from_millis(300));
        for variant in ["spin-2", "spin-1", "spin-2"] {
            let bytes = fixture(variant);
            let mut file = std::fs::File::create(&library).unwrap();
            for piece in bytes.chunks(64) {
                file.write_all(piece).unwrap();
                file.flush().unwrap();
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(file);
            std::thread::sleep(Duration::from_millis(100));
        }
        std::fs::write(dir.join("done"), "").unwrap();
    });
}
