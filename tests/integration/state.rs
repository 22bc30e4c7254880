//! Globals across reloads.

scenario! {
    fn globals_are_kept_and_a_changed_initializer_does_not_run(host) {
        host.install("state", "state-1");
        host.init(&["state"]);
        let score = host.stub("state", "score");
        assert_eq!(score.call_long(), 10);
        assert_eq!(host.global_int("state", "last_status"), Some(1));
        host.set_global_int("state", "score", 55);
        let address = host.rt.get_global("state", "score").unwrap();

        host.install("state", "state-2");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(score.call_long(), 55, "the value survived, 20 was not assigned");
        assert_eq!(host.global_int("state", "last_status"), Some(0));
        assert_eq!(host.rt.get_global("state", "score").unwrap(), address, "same address");
    }
}

scenario! {
    fn a_global_removed_then_added_again_is_initialized_again(host) {
        host.install("state", "state-1");
        host.init(&["state"]);
        host.set_global_int("state", "score", 55);

        host.install("state", "state-3");
        host.rt.perform_code_reload().unwrap();
        assert!(host.rt.get_global("state", "score").is_none());
        let score = host.stub("state", "score");
        assert_eq!(score.call_long(), -1);

        host.install("state", "state-4");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.global_int("state", "last_status"), Some(1));
        assert_eq!(score.call_long(), 40);
    }
}

scenario! {
    fn a_layout_change_reports_2_and_the_old_value_is_readable_for_migration(host) {
        host.install("state", "state-1");
        host.init(&["state"]);
        host.set_global_int("state", "score", 7);

        host.install("state", "state-5");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.global_int("state", "last_status"), Some(2));
        let score = host.stub("state", "score");
        assert_eq!(score.call_long(), 7000, "migrated from the old int");
        // The old block is gone once the reload is over.
        let previous = hcr_client_previous_global(host, "state", "score");
        assert!(previous.is_null());
    }
}

fn hcr_client_previous_global(
    host: &hcr_tests::Host,
    module: &str,
    name: &str,
) -> *mut std::ffi::c_void {
    let module = std::ffi::CString::new(module).unwrap();
    let name = std::ffi::CString::new(name).unwrap();
    // SAFETY: valid NUL-terminated strings.
    unsafe { (host.rt.api().hcr_get_previous_global)(module.as_ptr(), name.as_ptr()) }
}

scenario! {
    abort("`state::bump`")
    fn calling_a_removed_proc_aborts_naming_it(host) {
        call_a_removed_proc(host);
    }
}

/// Calls `state::bump` after a reload removed it: the bad-call handler
/// aborts naming it (shared with the paged table's scenarios).
pub(crate) fn call_a_removed_proc(host: &mut hcr_tests::Host) {
    host.install("state", "state-1");
    host.init(&["state"]);
    let bump = host.stub("state", "bump");
    assert_eq!(bump.call_long(), 11);
    host.install("state", "state-2");
    host.rt.perform_code_reload().unwrap();
    bump.call_long();
    unreachable!("the call above aborts");
}

scenario! {
    abort("`nobody::anything`")
    fn calling_a_proc_nobody_registered_aborts_naming_it(host) {
        let stub = host.stub("nobody", "anything");
        stub.call_long();
    }
}

scenario! {
    fn register_global_results_alignment_and_zeroing(host) {
        let (a, status) = host.rt.register_global("main", "g", 64, 4096, 9).unwrap();
        assert_eq!(status, hcr_client::GlobalStatus::New);
        assert_eq!(a.as_ptr() as usize % 4096, 0);
        // SAFETY: the block holds 64 bytes.
        assert!(unsafe { std::slice::from_raw_parts(a.as_ptr(), 64) }.iter().all(|&b| b == 0));
        let (b, status) = host.rt.register_global("main", "g", 64, 4096, 9).unwrap();
        assert_eq!((b, status), (a, hcr_client::GlobalStatus::Existing));
        let (_, status) = host.rt.register_global("main", "g", 64, 4096, 10).unwrap();
        assert_eq!(status, hcr_client::GlobalStatus::LayoutChanged);
        let err = host.rt.register_global("main", "h", 8, 3, 1).unwrap_err();
        assert_eq!(err.code, -1);
        assert!(err.message.contains("not a power of two"), "{}", err.message);
    }
}
