//! Code reloads: stable stubs, new code through old pointers, the module
//! tree, handlers and change detection.

use std::sync::atomic::{AtomicPtr, Ordering};

scenario! {
    fn stub_address_is_stable_and_old_pointers_run_new_code(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let stub = host.stub("spin", "value");
        assert_eq!(stub.call_int(), 1);
        assert_eq!(host.rt.generation(), 0);

        host.install("spin", "spin-2");
        assert!(host.rt.reload_needed());
        assert!(host.rt.has_module_changed("spin"));
        host.rt.perform_code_reload().unwrap();
        assert_eq!(stub.call_int(), 2, "the old pointer runs the new code");
        assert_eq!(host.stub("spin", "value"), stub, "the stub never moves");
        assert_eq!(host.rt.generation(), 1);
        assert!(!host.rt.reload_needed(), "nothing is pending right after a reload");
        assert!(!host.rt.has_module_changed("spin"));
    }
}

scenario! {
    fn handlers_run_leaves_first_old_before_new_after_main_last(host) {
        static LOG: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
        fn log(word: &str) {
            let log = LOG.load(Ordering::Relaxed);
            // SAFETY: LOG points at main::log, a zeroed 4096-byte block that
            // every writer keeps NUL-terminated.
            let buf = unsafe { std::slice::from_raw_parts_mut(log, 4096) };
            let len = buf.iter().position(|&b| b == 0).unwrap();
            let text = format!("{word} ");
            buf[len..len + text.len()].copy_from_slice(text.as_bytes());
            buf[len + text.len()] = 0;
        }
        extern "C" fn main_before() {
            log("main:b");
        }
        extern "C" fn main_after() {
            log("main:a");
        }
        LOG.store(host.rt.get_global("main", "log").unwrap().as_ptr(), Ordering::Relaxed);
        host.install("leaf", "leaf-1");
        host.install("mid", "mid-1");
        host.install("top", "top-1");
        host.rt.add_event_handler(true, main_before);
        host.rt.add_event_handler(false, main_after);
        host.init(&["top"]);
        assert_eq!(host.log(), "leaf1:init mid1:init top1:init");
        assert_eq!(host.call("top", "chain"), 111);
        assert_eq!(host.global_int("mid", "dat_inits"), Some(1));

        host.clear_log();
        host.install("leaf", "leaf-2");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(
            host.log(),
            "leaf1:b mid1:b top1:b main:b leaf2:init leaf2:a mid1:a top1:a main:a"
        );
        // mid and top were not reloaded but ran dat_init again, leaves first,
        // and still reach leaf's new code.
        assert_eq!(host.global_int("mid", "dat_inits"), Some(2));
        assert_eq!(host.global_int("top", "dat_inits"), Some(2));
        assert_eq!(host.call("top", "chain"), 1 + 10 * (1 + 10 * 2));

        // A reload with nothing changed runs nothing.
        host.clear_log();
        assert!(!host.rt.reload_needed());
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.log(), "");
        assert_eq!(host.rt.generation(), 1);
        assert_eq!(host.global_int("mid", "dat_inits"), Some(2));
    }
}

scenario! {
    fn a_newly_imported_module_is_loaded_and_a_dropped_one_goes(host) {
        host.install("grower", "grower-1");
        host.install("extra", "extra");
        host.init(&["grower"]);
        assert!(host.rt.get_global("extra", "g").is_none(), "extra is not imported yet");

        host.install("grower", "grower-2");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("grower", "value"), 2);
        assert_eq!(host.call("extra", "value"), 7);
        assert_eq!(host.global_int("extra", "g"), Some(7));
        let extra = hcr_tests::copy_prefix("extra");
        assert!(host.copy_names().iter().any(|n| n.starts_with(&extra)), "{:?}", host.copy_names());

        host.install("grower", "grower-3");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("grower", "value"), 3);
        assert!(host.rt.get_global("extra", "g").is_none(), "dropped module's globals are gone");
        assert_eq!(host.rt.retained_version_count(), 4, "old versions stay mapped");
        assert_eq!(host.rt.collect().unwrap(), 3, "grower-1, grower-2 and extra go");
        let copies = host.copy_names();
        assert!(!copies.iter().any(|n| n.starts_with(&extra)), "copy left behind: {copies:?}");
        assert_eq!(copies.len(), 1, "only grower's current copy remains: {copies:?}");
        assert_eq!(host.rt.retained_version_count(), 1);
        assert_eq!(host.call("grower", "value"), 3);
    }
}

scenario! {
    fn two_same_size_builds_within_one_second_are_both_seen(host) {
        let (one, two) = (host.fixture("spin-1"), host.fixture("spin-2"));
        assert_eq!(one.len(), two.len(), "the fixtures must have the same size for this test");
        let path = host.library("spin");
        std::fs::write(&path, &one).unwrap();
        host.init(&["spin"]);
        // Rewrite in place: same inode, same size, within the same second.
        std::fs::write(&path, &two).unwrap();
        assert!(host.rt.reload_needed());
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("spin", "value"), 2);
        std::fs::write(&path, &one).unwrap();
        assert!(host.rt.reload_needed());
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("spin", "value"), 1);
    }
}

scenario! {
    fn no_mapping_is_ever_writable_and_executable(host) {
        // /proc/self/maps on Linux, a VirtualQuery walk of the whole
        // address space on Windows.
        fn assert_no_rwx() {
            let rwx = hcr_tests::writable_and_executable();
            assert!(rwx.is_empty(), "writable and executable memory: {rwx:#?}");
        }
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        assert_no_rwx();
        for variant in ["spin-2", "spin-1", "spin-2"] {
            host.install("spin", variant);
            host.rt.perform_code_reload().unwrap();
            assert_no_rwx();
        }
        assert_eq!(host.call("spin", "value"), 2);
    }
}

scenario! {
    fn a_module_reloading_its_own_changed_code_is_refused_and_carries_on(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        host.install("spin", "spin-2");
        assert_eq!(host.call("spin", "reload_inside"), -15, "HCR_ERR_ACTIVE_FRAME");
        let message = host.rt.last_error();
        assert!(message.contains("module `spin`"), "{message}");
        assert!(message.contains("on its stack"), "{message}");
        assert_eq!(host.call("spin", "value"), 1, "nothing was reloaded");
        assert_eq!(host.rt.generation(), 0);

        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("spin", "value"), 2, "the host, outside the module, may reload");

        host.install("spin", "spin-1");
        assert_eq!(host.call("spin", "reload_inside_allowed"), 0, "the opt-out reloads");
        assert_eq!(host.call("spin", "value"), 1);
        assert_eq!(host.call("spin", "reload_inside"), 0, "nothing changed: nothing to refuse");
    }
}

scenario! {
    fn no_module_counts_as_changed_while_a_set_of_libraries_is_being_written(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let marker = host.modules.join(hcr_build::BUILDING_MARKER);
        std::fs::write(&marker, "").unwrap();
        host.install("spin", "spin-2");
        assert!(!host.rt.reload_needed(), "the set is not complete");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("spin", "value"), 1, "nothing was taken");
        // A marker left by a tool that stopped long ago is ignored.
        let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&marker)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
        assert!(host.rt.reload_needed());
        // A marker names the modules of its set: the others are free.
        std::fs::write(&marker, "other\n").unwrap();
        assert!(host.rt.reload_needed());
        std::fs::write(&marker, "other\nspin\n").unwrap();
        assert!(!host.rt.reload_needed());
        std::fs::remove_file(&marker).unwrap();
        assert!(host.rt.reload_needed());
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("spin", "value"), 2);
    }
}
