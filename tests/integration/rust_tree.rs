//! A tree of Rust modules shaped like Nim's HCR integration test
//! (`fx_nim_top` -> `fx_nim_mid` -> `fx_nim_leaf`, and `fx_nim_extra` in
//! some versions), through the typed API only: reload handlers in every
//! module and the host, globals read across modules, modules added and
//! dropped. Every event goes into `fx_nim_leaf::EVENTS`, a persistent
//! global that the modules and this host reach through the runtime.

use std::panic::catch_unwind;

use fx_nim_leaf::{note, take_events};
use hcr_tests::panic_text;

fn host_before() {
    note("host:before");
}

fn host_after() {
    note("host:after");
}

/// Starts version 1 of the tree, with the host's handlers.
fn start(host: &hcr_tests::Host) -> hcr_client::Host {
    for (module, variant) in [
        ("fx_nim_leaf", "fx_nim_leaf-1"),
        ("fx_nim_mid", "fx_nim_mid-1"),
        ("fx_nim_extra", "fx_nim_extra-1"),
        ("fx_nim_top", "fx_nim_top-1"),
    ] {
        host.install(module, variant);
    }
    let hcr = host.start(&["fx_nim_top"]);
    hcr_client::before_reload(host_before);
    hcr_client::after_reload(host_after);
    hcr
}

/// Installs `variant` as `module`, reloads, and returns what the reload
/// logged.
fn rebuild(
    host: &hcr_tests::Host,
    hcr: &hcr_client::Host,
    module: &str,
    variant: &str,
) -> Vec<String> {
    take_events();
    host.install(module, variant);
    assert!(hcr.module_changed(module));
    let report = hcr.reload().unwrap_or_else(|err| panic!("{err}"));
    assert!(
        report.modules.iter().any(|loaded| loaded == module),
        "{report:?}"
    );
    take_events()
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

scenario! {
    stderr("hcr: after-reload handler `fx_nim_leaf::leaf_failing` of module `fx_nim_leaf` panicked; the other handlers still run")
    fn nims_integration_scenario_runs_through_six_rebuilds_with_the_typed_api(host) {
        let hcr = start(host);
        assert_eq!(take_events(), words(
            "leaf:startup leaf:load:v1 mid:startup mid:load:v1 top:startup top:load:v1"
        ));
        assert_eq!(fx_nim_top::top_value(), "top v1: mid v1 sees G_LEAF 100");

        // 1. mid changes: the old code's before-handlers, the new code's
        //    after-handlers, leaves first, the host last; startup once.
        assert_eq!(rebuild(host, &hcr, "fx_nim_mid", "fx_nim_mid-2"), words(
            "leaf:before:v1 mid:before:v1 top:before:v1 host:before mid:load:v2 \
             leaf:after:v1 mid:after:v2 top:after:v1 host:after"
        ));
        assert_eq!(fx_nim_leaf::leaf_value(), "leaf v1 100");
        assert_eq!(fx_nim_top::top_value(), "top v1: mid v2 sees G_LEAF 101");
        // mid's global, changed by mid, seen by the top module and the host.
        assert_eq!((fx_nim_mid::bump_mid(), fx_nim_mid::bump_mid()), (2, 3));
        assert_eq!(fx_nim_top::read_mid(), 3);
        assert_eq!(fx_nim_mid::G_MID.load(std::sync::atomic::Ordering::Relaxed), 3);

        // 2. top imports a new module, which starts.
        assert_eq!(rebuild(host, &hcr, "fx_nim_top", "fx_nim_top-3"), words(
            "leaf:before:v1 mid:before:v2 top:before:v1 host:before \
             extra:startup extra:load:v1 top:load:v3 \
             leaf:after:v1 mid:after:v2 extra:after:v1 top:after:v3 host:after"
        ));
        assert_eq!(fx_nim_top::top_value(), "top v3: mid v2 sees G_LEAF 101, extra v1");

        // 3. mid drops its global: reading it panics, here and in top.
        assert_eq!(rebuild(host, &hcr, "fx_nim_mid", "fx_nim_mid-3"), words(
            "leaf:before:v1 mid:before:v2 extra:before:v1 top:before:v3 host:before \
             mid:load:v3 \
             leaf:after:v1 mid:after:v3 extra:after:v1 top:after:v3 host:after"
        ));
        let gone = "global fx_nim_mid::G_MID is not there: the loaded version of module \
                    `fx_nim_mid` does not register it";
        let here = catch_unwind(|| fx_nim_mid::G_MID.load(std::sync::atomic::Ordering::Relaxed));
        assert!(panic_text(&*here.unwrap_err()).starts_with(gone));
        let there = panic_text(&*catch_unwind(fx_nim_top::read_mid).unwrap_err());
        assert!(there.starts_with(&format!("fx_nim_top::read_mid panicked: {gone}")), "{there}");

        // 4. mid has it again: it starts from its initializer.
        assert_eq!(rebuild(host, &hcr, "fx_nim_mid", "fx_nim_mid-4"), words(
            "leaf:before:v1 mid:before:v3 extra:before:v1 top:before:v3 host:before \
             mid:load:v4 \
             leaf:after:v1 mid:after:v4 extra:after:v1 top:after:v3 host:after"
        ));
        assert_eq!(fx_nim_top::read_mid(), 1);
        assert_eq!(fx_nim_mid::bump_mid(), 2);

        // 5. top drops the extra module: its before-handlers run (it is
        //    still loaded), its after-handlers do not.
        assert_eq!(rebuild(host, &hcr, "fx_nim_top", "fx_nim_top-5"), words(
            "leaf:before:v1 mid:before:v4 extra:before:v1 top:before:v3 host:before \
             top:load:v5 \
             leaf:after:v1 mid:after:v4 top:after:v5 host:after"
        ));
        assert_eq!(fx_nim_top::top_value(), "top v5: mid v4 sees G_LEAF 101");

        // 6. the leaf changes; one of its new after-handlers panics, is
        //    named on stderr, and the others still run. Its globals stay.
        assert_eq!(rebuild(host, &hcr, "fx_nim_leaf", "fx_nim_leaf-6"), words(
            "leaf:before:v1 mid:before:v4 top:before:v5 host:before \
             leaf:load:v6 \
             leaf:after:v6 leaf:after-the-failing-one:v6 mid:after:v4 top:after:v5 host:after"
        ));
        assert_eq!(fx_nim_leaf::leaf_value(), "leaf v6 101");
        assert_eq!(fx_nim_top::top_value(), "top v5: mid v4 sees G_LEAF 102");
        assert_eq!(hcr.generation(), 6);

        // A reload with nothing changed runs no handler.
        assert!(!hcr.reload_needed());
        hcr.reload().unwrap();
        assert!(take_events().is_empty());
    }
}

fn host_failing() {
    panic!("the host's handler fails");
}

scenario! {
    stderr("hcr: before-reload handler `integration::rust_tree::host_failing` of the host panicked; the other handlers still run")
    fn a_panicking_host_handler_is_named_and_the_other_handlers_still_run(host) {
        let hcr = start(host);
        hcr_client::before_reload(host_failing);
        hcr_client::before_reload(|| note("host:closure"));
        let events = rebuild(host, &hcr, "fx_nim_mid", "fx_nim_mid-2");
        assert_eq!(events[..6], words(
            "leaf:before:v1 mid:before:v1 top:before:v1 host:before host:closure mid:load:v2"
        ));
        assert_eq!(events.last().map(String::as_str), Some("host:after"));
    }
}

scenario! {
    stderr("hcr: warning: global fx_nim_mid::G_MID changed its type or layout and it has no migration")
    fn a_global_read_with_another_type_than_the_owners_panics_naming_both(host) {
        let hcr = start(host);
        assert_eq!(fx_nim_mid::bump_mid(), 2);
        assert_eq!(fx_nim_top::read_mid(), 2);
        rebuild(host, &hcr, "fx_nim_mid", "fx_nim_mid-retyped");
        // mid's own code uses its new type.
        assert_eq!(fx_nim_mid::bump_mid(), 8);
        for text in [
            panic_text(&*catch_unwind(|| fx_nim_mid::G_MID.load(std::sync::atomic::Ordering::Relaxed)).unwrap_err()),
            panic_text(&*catch_unwind(fx_nim_top::read_mid).unwrap_err()),
        ] {
            // Names as this compiler spells them (`Atomic<u32>` on some).
            let (new, old) = (
                std::any::type_name::<std::sync::atomic::AtomicU32>(),
                std::any::type_name::<std::sync::atomic::AtomicU64>(),
            );
            assert!(
                text.contains(&format!("global fx_nim_mid::G_MID has another type in the loaded version of module `fx_nim_mid` (`{new}`) than this code was built with (`{old}`)")),
                "{text}"
            );
        }
    }
}

scenario! {
    fn module_changed_names_the_module_whose_library_changed(host) {
        let hcr = start(host);
        assert!(!hcr.module_changed("fx_nim_mid"));
        host.install("fx_nim_mid", "fx_nim_mid-2");
        assert!(hcr.module_changed("fx_nim_mid") && hcr.reload_needed());
        assert!(!hcr.module_changed("fx_nim_top") && !hcr.module_changed("no_such_module"));
        hcr.reload().unwrap();
        assert!(!hcr.module_changed("fx_nim_mid"));
    }
}
