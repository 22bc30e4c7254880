//! Modules written in Rust with hcr-client, hosted by this test binary
//! (which links the fixture crates as libraries and so calls them through
//! their stubs), beside a C module in the same tree.

use std::panic::catch_unwind;

use fx_shapes::Shape;
use hcr_tests::panic_text;

/// Installs version 1 of the Rust fixtures and the C module, and starts
/// the tree `main -> fx_app -> {fx_shapes, cfx -> fx_shapes}`.
fn start(host: &hcr_tests::Host) -> hcr_client::Host {
    host.install("fx_shapes", "fx_shapes-1");
    host.install("fx_app", "fx_app-1");
    host.install("cfx", "cfx");
    host.start(&["fx_app"])
}

fn square() -> Shape {
    Shape {
        width: 2.0,
        height: 3.0,
    }
}

scenario! {
    fn a_function_pointer_taken_before_a_reload_runs_the_new_code(host) {
        let hcr = start(host);
        let area: fn(&Shape) -> f64 = fx_shapes::area;
        let scale: extern "C" fn(i32) -> i32 = fx_shapes::scale;
        let raw_stub = hcr.runtime().get_proc("fx_shapes", "scale").unwrap();
        // SAFETY: `scale` is registered as `extern "C" fn(i32) -> i32`.
        let raw: extern "C" fn(i32) -> i32 = unsafe { std::mem::transmute(raw_stub.as_ptr()) };
        assert_eq!((area(&square()), scale(5), raw(5)), (6.0, 10, 10));
        assert!(!hcr.reload_needed());

        host.install("fx_shapes", "fx_shapes-2");
        assert!(hcr.reload_needed());
        let report = hcr.reload().unwrap();
        assert_eq!(report.modules, ["fx_shapes"]);
        assert_eq!(report.generation, 1);
        let phases = report.phases.expect("a reload reports where its time went");
        let parts = phases.check + phases.before_handlers + phases.copy + phases.dlopen
            + phases.init + phases.commit + phases.after_handlers + phases.cleanup;
        assert!(phases.copy > std::time::Duration::ZERO && phases.dlopen > std::time::Duration::ZERO);
        assert!(parts <= phases.total && phases.total <= report.elapsed, "{phases:?}");
        assert_eq!((area(&square()), scale(5), raw(5)), (12.0, 15, 15));
    }
}

/// The symbols a library exports (its dynamic symbols, or a DLL's export
/// table), but for the linker's bounds of its list of reloadable functions
/// (`__start_*`/`__stop_*`, which the linker makes protected: they always
/// resolve inside the library).
fn exports(library: &std::path::Path) -> Vec<String> {
    use object::Object as _;
    let bytes = std::fs::read(library).unwrap();
    let file = object::File::parse(&*bytes).unwrap();
    let mut names: Vec<String> = file
        .exports()
        .unwrap()
        .filter_map(|export| export.unwrap().into_name().into_name())
        .map(|name| String::from_utf8_lossy(&name).into_owned())
        .filter(|name| !name.starts_with("__start_") && !name.starts_with("__stop_"))
        .collect();
    names.sort();
    names
}

scenario! {
    fn a_module_sees_an_imported_module_change_when_only_that_one_is_reloaded(host) {
        let hcr = start(host);
        // fx_app links fx_shapes as a library, yet exports only its own
        // module functions: fx_shapes's code is reached through stubs.
        assert_eq!(
            exports(&host.library("fx_app")),
            [
                "hcr_module_can_reload",
                "hcr_module_dat_init",
                "hcr_module_hash",
                "hcr_module_imports",
                "hcr_module_init",
                "hcr_module_shutdown",
            ]
        );
        let shapes = || vec![square(), Shape { width: 1.0, height: 1.0 }];
        assert_eq!(fx_app::total_area(shapes()), 7.0);
        assert_eq!(fx_app::describe_all(&["box", "red", "big"]), "v1 box: red,big");

        host.install("fx_shapes", "fx_shapes-2");
        let report = hcr.reload().unwrap();
        assert_eq!(report.modules, ["fx_shapes"], "fx_app itself was not reloaded");
        assert_eq!(fx_app::total_area(shapes()), 14.0);
        assert_eq!(fx_app::describe_all(&["box", "red", "big"]), "v2 box: red,big");
    }
}

scenario! {
    fn rust_and_c_modules_call_each_other_in_one_tree(host) {
        let hcr = start(host);
        // fx_app (Rust) -> cfx (C) -> fx_shapes::scale (Rust, extern "C").
        assert_eq!(fx_app::via_c(5), 11);
        host.install("fx_shapes", "fx_shapes-2");
        hcr.reload().unwrap();
        assert_eq!(fx_app::via_c(5), 16);
    }
}

scenario! {
    fn a_panic_in_a_module_is_reraised_in_the_caller_with_the_function_name(host) {
        let hcr = start(host);
        let direct = catch_unwind(|| fx_shapes::explode("boom")).unwrap_err();
        assert_eq!(panic_text(&*direct), "fx_shapes::explode panicked: boom");
        // Through another module: named once, by the function that panicked.
        let relayed = catch_unwind(|| fx_app::relay_explode("deep")).unwrap_err();
        assert_eq!(panic_text(&*relayed), "fx_shapes::explode panicked: deep");
        // The host carries on, and so do the modules.
        assert_eq!(fx_shapes::explode(""), 1);
        assert_eq!(fx_app::relay_explode(""), 101);

        host.install("fx_shapes", "fx_shapes-2");
        hcr.reload().unwrap();
        let after = catch_unwind(|| fx_app::relay_explode("again")).unwrap_err();
        assert_eq!(panic_text(&*after), "fx_shapes::explode panicked: again");
        assert_eq!(fx_app::relay_explode(""), 102);
    }
}

scenario! {
    fn a_changed_signature_is_refused_and_the_old_code_keeps_running(host) {
        let hcr = start(host);
        assert_eq!(fx_shapes::area(&square()), 6.0);
        assert_eq!(fx_app::total_area(vec![square()]), 6.0);

        host.install("fx_shapes", "fx_shapes-signature");
        let err = hcr.reload().unwrap_err();
        assert_eq!(err.module.as_deref(), Some("fx_shapes"));
        hcr_tests::assert_says(
            &err.message,
            &[
            "fx_shapes::area",
            "changed its signature",
            "fn(& Shape) -> f64",
            "fn(& Shape, f64) -> f64",
            "is not being reloaded",
            "hcr_module_dat_init",
            ],
        );
        assert_eq!(hcr.generation(), 0);
        assert_eq!(fx_shapes::area(&square()), 6.0);
        assert_eq!(fx_app::total_area(vec![square()]), 6.0);
    }
}

scenario! {
    fn a_type_passed_by_reference_that_gained_a_field_is_refused_and_the_old_code_keeps_running(host) {
        let hcr = start(host);
        let mut frame = fx_shapes::Frame::default();
        assert_eq!(fx_shapes::tick(&mut frame), 1);

        // `tick` keeps its declaration; `Frame` behind the reference grows.
        host.install("fx_shapes", "fx_shapes-frame-grown");
        let err = hcr.reload().unwrap_err();
        assert_eq!(err.module.as_deref(), Some("fx_shapes"));
        hcr_tests::assert_says(
            &err.message,
            &[
            "fx_shapes::tick",
            "fn(& mut Frame) -> u64",
            "`[reached Frame ",
            "]` became `[reached Frame ",
            "the host (module `main`)",
            "restart the host",
            ],
        );
        assert_eq!(hcr.generation(), 0);
        assert_eq!(fx_shapes::tick(&mut frame), 2, "the old code runs on");
    }
}

scenario! {
    fn a_module_built_by_another_compiler_is_refused(host) {
        let hcr = start(host);
        assert_eq!(fx_shapes::area(&square()), 6.0);
        let other = hcr_tests::fx_shapes_by_another_compiler(std::path::Path::new(env!(
            "CARGO_TARGET_TMPDIR"
        )));
        host.install_bytes("fx_shapes", &std::fs::read(other).unwrap());
        let err = hcr.reload().unwrap_err();
        assert_eq!(err.module.as_deref(), Some("fx_shapes"));
        assert!(err.message.contains("-dev"), "{err}");
        assert!(err.message.contains("same compiler"), "{err}");
        assert_eq!(fx_shapes::area(&square()), 6.0);
        assert_eq!(fx_app::total_area(vec![square()]), 6.0);
    }
}

scenario! {
    fn a_host_that_cannot_start_says_what_is_missing_and_can_start_later(host) {
        let missing = hcr_client::Host::builder()
            .runtime_library("/nonexistent/libhcr_runtime.so")
            .start()
            .unwrap_err();
        assert!(matches!(missing, hcr_client::StartError::Runtime(_)));
        assert!(missing.to_string().contains("/nonexistent/libhcr_runtime.so"), "{missing}");

        let runtime = std::env::var("HCR_TEST_RUNTIME").unwrap();
        let builder = hcr_client::Host::builder()
            .runtime_library(&runtime)
            .module_dir(&host.modules)
            .import("fx_app");
        let no_module = builder.clone().start().unwrap_err();
        let text = no_module.to_string();
        assert!(text.contains("`fx_app` failed to load"), "{text}");

        // Nothing stayed loaded: the same tree starts once it is there.
        host.install("fx_shapes", "fx_shapes-1");
        host.install("fx_app", "fx_app-1");
        host.install("cfx", "cfx");
        let hcr = builder.start().unwrap();
        assert_eq!(fx_app::via_c(1), 3);
        assert_eq!(hcr.generation(), 0);
    }
}

scenario! {
    env("HCR_RUNTIME" = "/elsewhere/libhcr_runtime.so")
    fn the_runtime_is_found_beside_the_executable_unless_told_otherwise(host) {
        let _ = host;
        let builder = hcr_client::Host::builder();
        assert_eq!(
            builder.runtime_path().unwrap(),
            std::path::Path::new("/elsewhere/libhcr_runtime.so")
        );
        let explicit = builder.runtime_library("/mine/libhcr_runtime.so");
        assert_eq!(
            explicit.runtime_path().unwrap(),
            std::path::Path::new("/mine/libhcr_runtime.so")
        );
    }
}

#[test]
fn without_hcr_runtime_set_the_runtime_is_looked_for_beside_the_executable() {
    if std::env::var_os("HCR_RUNTIME").is_some() {
        return; // the variable decides; the scenario above covers it
    }
    let exe = std::env::current_exe().unwrap();
    assert_eq!(
        hcr_client::Host::builder().runtime_path().unwrap(),
        exe.with_file_name(hcr_tests::library_file("hcr_runtime"))
    );
}

scenario! {
    fn a_caller_built_against_an_old_signature_gets_a_panic_not_a_bad_call(host) {
        let hcr = start(host);
        // Nobody has called `area` yet, so its new signature is accepted.
        host.install("fx_shapes", "fx_shapes-signature");
        hcr.reload().unwrap();
        // This binary was built against the old one: the lookup refuses.
        let err = catch_unwind(|| fx_shapes::area(&square())).unwrap_err();
        let text = panic_text(&*err);
        assert!(text.starts_with("cannot call fx_shapes::area: module `main` calls"), "{text}");
        assert!(text.contains("fn(& Shape, f64) -> f64"), "{text}");
        assert_eq!(fx_shapes::describe("still", vec![]), "v1 still: ");
    }
}

#[test]
fn without_a_runtime_calls_run_the_code_linked_into_the_caller() {
    // This process never loads the runtime (scenarios run in children), as
    // in a module crate's own tests: calls and panics are ordinary.
    assert_eq!(fx_shapes::area(&square()), 6.0);
    assert_eq!(fx_app::total_area(vec![square(), square()]), 12.0);
    assert_eq!(fx_shapes::scale(4), 8);
    let err = catch_unwind(|| fx_shapes::explode("plain")).unwrap_err();
    assert_eq!(panic_text(&*err), "plain");
    // A C module's proc has no Rust code to fall back on.
    let err = catch_unwind(|| fx_app::via_c(1)).unwrap_err();
    assert!(
        panic_text(&*err).contains("cannot call cfx::cfx_scaled: the hcr runtime is not loaded")
    );
}

scenario! {
    abort("fx_shapes/src/lib.rs", "negative input -3", "panic in a function that cannot unwind")
    fn a_panic_in_an_extern_c_reloadable_function_aborts_where_it_leaves_the_function(host) {
        let _hcr = start(host);
        assert_eq!(fx_shapes::checked(3), 3);
        fx_shapes::checked(-3);
    }
}
