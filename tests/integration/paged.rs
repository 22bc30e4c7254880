//! The paged jump table, macOS's layout, run here: with
//! `HCR_JUMP_TABLE_LAYOUT=paged` every stub is a copy of the runtime's
//! stub page beside a data page, so these scenarios run the code macOS
//! runs: reloads, threads calling through stubs during reloads, a call to
//! a removed proc, a fault rolled back, and `fork` (not on Windows).

/// A stub page's size: a stub's cell lies this far above it.
const STUB_PAGE: usize = hcr_runtime::arch::STUB_PAGE;

scenario! {
    env("HCR_JUMP_TABLE_LAYOUT" = "paged")
    fn reloads_re_point_stubs_in_the_paged_table_whose_cells_lie_a_page_above(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let stub = host.stub("spin", "value");
        let placement = host.rt.jump_table_placement().unwrap();
        assert!(placement.description.contains("stub pages"), "{}", placement.description);
        let within = placement.base..placement.base + placement.size;
        assert!(within.contains(&stub.address()), "{within:x?}");
        let cell = host.rt.stub_cell(host.rt.get_proc("spin", "value").unwrap()).unwrap();
        assert_eq!(cell.as_ptr() as usize, stub.address() + STUB_PAGE);
        assert_eq!(stub.call_int(), 1);

        host.install("spin", "spin-2");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(stub.call_int(), 2, "the old pointer runs the new code");
        assert_eq!(host.stub("spin", "value"), stub, "the stub never moves");
        assert_eq!(hcr_tests::writable_and_executable(), Vec::<String>::new());

        let err = host.rt.set_stub_form(1).unwrap_err().to_string();
        assert!(err.contains("paged jump table") && err.contains("data form"), "{err}");
        assert_eq!(stub.call_int(), 2);
    }
}

scenario! {
    env("HCR_JUMP_TABLE_LAYOUT" = "paged")
    abort("`state::bump`")
    fn calling_a_removed_proc_reaches_the_bad_call_handler_through_the_page_s_entry(host) {
        crate::state::call_a_removed_proc(host);
    }
}

#[cfg(unix)]
scenario! {
    env("HCR_JUMP_TABLE_LAYOUT" = "paged")
    fn after_fork_parent_and_child_each_reload_their_own_versions(host) {
        crate::posix::fork_and_reload_in_both(host);
    }
}

scenario! {
    env("HCR_JUMP_TABLE_LAYOUT" = "paged")
    fn threads_calling_through_paged_stubs_see_old_or_new_code_during_reloads(host) {
        crate::threads::call_through_stubs_during_reloads(host);
    }
}

scenario! {
    env("HCR_JUMP_TABLE_LAYOUT" = "paged")
    fn a_fault_under_the_guard_rolls_back_through_the_paged_table(host) {
        crate::crash_guard::null_read_rolls_back(host);
    }
}
