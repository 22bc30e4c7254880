//! Reloads that must fail while every module keeps running as it was.

use hcr_tests::Host;

/// The first 3000 bytes of a real module: the shape of a library the linker
/// is still writing, which glibc's loader would die on with SIGBUS.
fn truncated(host: &Host) -> Vec<u8> {
    host.fixture("spin-2")[..3000].to_vec()
}

scenario! {
    fn bad_libraries_are_refused_and_the_old_version_keeps_running(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let cases: [(&str, Vec<u8>, &str); 4] = [
            ("no module exports", host.fixture("plain"), "lacks the module export"),
            ("garbage", b"this is not a library".to_vec(), hcr_tests::NOT_A_LIBRARY),
            ("truncated", truncated(host), "truncated"),
            ("empty", Vec::new(), hcr_tests::NOT_A_LIBRARY),
        ];
        for (what, bytes, expected) in cases {
            host.install_bytes("spin", &bytes);
            assert!(host.rt.reload_needed(), "{what}");
            let err = host.rt.perform_code_reload().unwrap_err();
            assert_eq!(err.code, -5, "{what}: {}", err.message);
            assert!(err.message.contains("module `spin`"), "{what}: {}", err.message);
            assert!(err.message.contains(expected), "{what}: {}", err.message);
            assert_eq!(host.call("spin", "value"), 1, "{what}: the old code still runs");
            assert_eq!(host.rt.generation(), 0);
        }
        host.install("spin", "spin-2");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("spin", "value"), 2);
        let copies = host.copy_names();
        assert_eq!(copies.len(), 2, "the old and the current version, no refused one: {copies:?}");
    }
}

fn start_tree(host: &Host) {
    host.install("leaf", "leaf-1");
    host.install("mid", "mid-1");
    host.install("top", "top-1");
    host.init(&["top"]);
    host.clear_log();
}

scenario! {
    fn a_failing_init_puts_every_module_back(host) {
        start_tree(host);
        let leaf_value = host.stub("leaf", "value");
        host.install("leaf", "leaf-2");
        host.install("mid", "mid-2-failing");
        let err = host.rt.perform_code_reload().unwrap_err();
        assert_eq!(err.code, -6, "{}", err.message);
        assert!(err.message.contains("module `mid`"), "{}", err.message);
        assert!(err.message.contains("hcr_module_init (returned 3)"), "{}", err.message);

        // leaf's new version had loaded and run, and was put back.
        assert_eq!(leaf_value.call_int(), 1);
        assert_eq!(host.call("top", "chain"), 111);
        assert!(host.rt.get_global("leaf", "fresh").is_none(), "leaf 2's new global is gone");
        assert_eq!(host.global_int("leaf", "counter"), Some(1000));
        assert_eq!(host.rt.generation(), 0);
        // Old before-handlers, the attempt, then the old after-handlers.
        assert_eq!(
            host.log(),
            "leaf1:b mid1:b top1:b leaf2:init mid2:init leaf1:a mid1:a top1:a"
        );

        // The next good build reloads normally.
        host.clear_log();
        host.install("mid", "mid-2");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("top", "chain"), 1 + 10 * (2 + 10 * 2));
        assert_eq!(host.rt.generation(), 1);
        assert_eq!(
            host.log(),
            "leaf1:b mid1:b top1:b leaf2:init mid2:init leaf2:a mid2:a top1:a"
        );
    }
}

scenario! {
    fn a_veto_refuses_the_reload_and_runs_nothing(host) {
        start_tree(host);
        host.set_global_int("main", "veto", 1);
        host.install("leaf", "leaf-2");
        let err = host.rt.perform_code_reload().unwrap_err();
        assert_eq!(err.code, -7, "{}", err.message);
        assert!(err.message.contains("module `mid` cannot be reloaded now"), "{}", err.message);
        assert_eq!(host.log(), "", "no handler ran");
        assert_eq!(host.call("leaf", "value"), 1);
        assert_eq!(host.rt.generation(), 0);

        host.set_global_int("main", "veto", 0);
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("leaf", "value"), 2);
    }
}

scenario! {
    fn a_cyclic_import_is_refused_and_init_can_be_retried(host) {
        host.install("cyc_a", "cyc_a");
        host.install("cyc_b", "cyc_b");
        let err = host.rt.init("main", &["cyc_a"], Some(&host.modules)).unwrap_err();
        assert_eq!(err.code, -8, "{}", err.message);
        assert!(err.message.contains("cyc_a -> cyc_b -> cyc_a"), "{}", err.message);

        host.install("spin", "spin-1");
        host.init(&["spin"]);
        assert_eq!(host.call("spin", "value"), 1);
    }
}

scenario! {
    fn a_missing_module_fails_init_with_its_path(host) {
        let err = host.rt.init("main", &["ghost"], Some(&host.modules)).unwrap_err();
        assert_eq!(err.code, -5, "{}", err.message);
        assert!(err.message.contains(&hcr_tests::library_file("ghost")), "{}", err.message);
        // Nothing stayed loaded: once the file exists, init succeeds.
        host.install("ghost", "spin-1");
        host.init(&["ghost"]);
        assert_eq!(host.call("spin", "value"), 1);
    }
}

scenario! {
    fn a_module_whose_own_dependency_is_missing_is_refused_naming_it(host) {
        host.install("needy", "needy");
        let err = host.rt.init("main", &["needy"], Some(&host.modules)).unwrap_err();
        assert_eq!(err.code, -5, "{}", err.message);
        assert!(err.message.contains("module `needy`"), "{}", err.message);
        assert!(err.message.contains("missingdep"), "the missing library is named: {}", err.message);
        // Nothing stays loaded: the tree can start without it.
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        assert_eq!(host.call("spin", "value"), 1);
    }
}

scenario! {
    fn a_library_built_for_another_machine_is_refused_naming_it(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let (foreign, machine) = hcr_tests::for_another_machine(&host.fixture("spin-2"));
        host.install_bytes("spin", &foreign);
        let err = host.rt.perform_code_reload().unwrap_err();
        assert_eq!(err.code, -5, "{}", err.message);
        assert!(err.message.contains(&format!("built for {machine}")), "{}", err.message);
        assert_eq!(host.call("spin", "value"), 1, "the old code still runs");
    }
}

scenario! {
    fn a_refused_reload_is_not_tried_again_until_a_module_file_changes(host) {
        start_tree(host);
        host.install("mid", "mid-2-failing");
        assert!(host.rt.reload_needed());
        let first = host.rt.perform_code_reload().unwrap_err();
        assert_eq!(first.code, -6, "HCR_ERR_INIT_FAILED: {}", first.message);
        assert_eq!(host.log(), "leaf1:b mid1:b top1:b mid2:init leaf1:a mid1:a top1:a");
        // The same files would fail the same way: nothing is pending, and
        // a reload does not run the failing init again.
        host.clear_log();
        assert!(!host.rt.reload_needed());
        assert!(!host.rt.has_module_changed("mid"));
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.log(), "", "nothing ran");
        assert_eq!(host.rt.generation(), 0);
        // The refusal stays where tools read it.
        let manifest = hcr_build::Manifest::read(&host.modules).unwrap();
        assert!(
            matches!(&manifest.last_event, Some(hcr_build::LastEvent::Refused { message }) if message.contains("module `mid` failed in")),
            "{:?}",
            manifest.last_event
        );
        // Another module's file changing makes the set new: tried again.
        host.install("leaf", "leaf-2");
        assert!(host.rt.reload_needed());
        assert_eq!(host.rt.perform_code_reload().unwrap_err().code, -6);
        assert!(!host.rt.reload_needed());
        // A new build of the refused module too.
        host.install("mid", "mid-2");
        assert!(host.rt.reload_needed());
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.rt.generation(), 1);
    }
}

scenario! {
    fn a_vetoed_reload_is_tried_again_with_the_same_files(host) {
        start_tree(host);
        host.set_global_int("main", "veto", 1);
        host.install("mid", "mid-2");
        let events = || hcr_build::Manifest::read(&host.modules).unwrap().event_number;
        assert_eq!(host.rt.perform_code_reload().unwrap_err().code, -7, "HCR_ERR_VETOED");
        let vetoed = events();
        assert!(host.rt.reload_needed(), "a veto can pass by itself");
        assert_eq!(host.rt.perform_code_reload().unwrap_err().code, -7);
        assert_eq!(events(), vetoed, "the same refusal again is not a new event");
        host.set_global_int("main", "veto", 0);
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.rt.generation(), 1);
        assert_eq!(events(), vetoed + 1);
    }
}
