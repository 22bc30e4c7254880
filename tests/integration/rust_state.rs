//! State across reloads in Rust modules: persistent globals, layout
//! changes and migrations, the lifecycle, and vetoes (fixture `fx_state`,
//! built in several versions).

use std::path::Path;
use std::process::Command;

fn start(host: &hcr_tests::Host) -> hcr_client::Host {
    host.install("fx_state", "fx_state-1");
    host.start(&["fx_state"])
}

/// Installs `variant` as fx_state and reloads, which must succeed.
fn reload_to(host: &hcr_tests::Host, hcr: &hcr_client::Host, variant: &str) {
    host.install("fx_state", variant);
    let report = hcr.reload().unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(report.modules, ["fx_state"]);
}

scenario! {
    fn a_counter_and_a_vec_of_strings_keep_their_values_across_reloads(host) {
        let hcr = start(host);
        assert_eq!((fx_state::bump(), fx_state::bump(), fx_state::bump()), (1, 2, 3));
        fx_state::add_name("ada");
        fx_state::add_name("grace");
        for (round, variant) in ["fx_state-2", "fx_state-1", "fx_state-2"].iter().enumerate() {
            reload_to(host, &hcr, variant);
            assert_eq!(fx_state::bump(), 4 + round as u64);
            assert_eq!(fx_state::names(), ["ada", "grace"]);
        }
        assert_eq!(fx_state::version(), 2);
        assert_eq!(hcr.generation(), 3);
    }
}

scenario! {
    fn a_changed_initializer_does_not_run_again(host) {
        let hcr = start(host);
        fx_state::bump();
        fx_state::bump();
        reload_to(host, &hcr, "fx_state-initializer");
        assert_eq!(fx_state::bump(), 3, "not 101: the value was kept");
        assert!(fx_state::names().is_empty());
    }
}

scenario! {
    stderr("hcr: warning: global fx_state::SETTINGS changed its type or layout and it has no migration")
    fn an_added_field_is_detected_and_the_global_starts_again(host) {
        let hcr = start(host);
        fx_state::set_settings(3, 4);
        fx_state::bump();
        reload_to(host, &hcr, "fx_state-field-added");
        assert_eq!(fx_state::settings(), "width=1 height=1 depth=1");
        assert_eq!(fx_state::bump(), 2, "other globals are kept");
    }
}

scenario! {
    stderr("hcr: warning: global fx_state::SETTINGS changed its type or layout and it has no migration")
    fn two_reordered_fields_of_one_type_are_detected(host) {
        let hcr = start(host);
        fx_state::set_settings(3, 4);
        reload_to(host, &hcr, "fx_state-fields-reordered");
        // Same size, same alignment: only the fingerprint tells.
        assert_eq!(fx_state::settings(), "width=1 height=1");
    }
}

scenario! {
    stderr("hcr: warning: global fx_state::SETTINGS changed its type or layout and it has no migration")
    fn a_field_retyped_to_one_of_the_same_size_is_detected(host) {
        let hcr = start(host);
        fx_state::set_settings(3, 4);
        reload_to(host, &hcr, "fx_state-field-retyped");
        assert_eq!(fx_state::settings(), "width=1 height=1");
    }
}

scenario! {
    fn a_migration_converts_the_old_value_into_the_new_type(host) {
        let hcr = start(host);
        fx_state::set_settings(3, 4);
        reload_to(host, &hcr, "fx_state-migrated");
        assert_eq!(fx_state::settings(), "width=3 height=4 area=12");
        // Back to the old type: the migration does not apply, so it starts again.
        reload_to(host, &hcr, "fx_state-1");
        assert_eq!(fx_state::settings(), "width=1 height=1");
    }
}

scenario! {
    fn state_goes_through_unload_and_load_and_undecodable_bytes_arrive_as_an_error(host) {
        let hcr = start(host);
        assert_eq!(fx_state::events(), ["startup v1", "load v1: nothing"]);
        fx_state::remember("kept");
        reload_to(host, &hcr, "fx_state-2");
        assert_eq!(fx_state::recall(), "kept", "carried by unload -> bytes -> load");
        reload_to(host, &hcr, "fx_state-codec");
        let events = fx_state::events();
        assert_eq!(events[..5], [
            "startup v1",
            "load v1: nothing",
            "unload v1",
            "load v2: kept",
            "unload v2",
        ]);
        assert!(events[5].starts_with("load v2: undecodable (saved state cannot be decoded:"), "{events:?}");
        assert_eq!(events.len(), 6, "startup ran once");
        assert_eq!(fx_state::recall(), "", "the plain static started empty");
    }
}

scenario! {
    fn a_failed_reload_gives_the_old_version_its_state_back(host) {
        let hcr = start(host);
        fx_state::remember("precious");
        host.install("fx_state", "fx_state-load-fails");
        let err = hcr.reload().unwrap_err();
        assert!(err.message.contains("load failed: this version refuses to load"), "{err}");
        assert_eq!(err.module.as_deref(), Some("fx_state"));
        assert_eq!(fx_state::recall(), "precious");
        let events = fx_state::events();
        assert_eq!(events[2..], ["unload v1", "load v1: precious"]);
    }
}

scenario! {
    fn a_module_that_is_busy_vetoes_the_reload_and_nothing_changes(host) {
        let hcr = start(host);
        fx_state::bump();
        fx_state::set_busy(true);
        host.install("fx_state", "fx_state-2");
        let err = hcr.reload().unwrap_err();
        assert_eq!(err.module.as_deref(), Some("fx_state"));
        assert!(err.message.contains("module `fx_state` cannot be reloaded now"), "{err}");
        assert_eq!(fx_state::version(), 1);
        assert_eq!(fx_state::events().len(), 2, "nothing unloaded");
        assert_eq!(hcr.generation(), 0);
        // The manifest says the reload was refused, and why.
        let refused = hcr_build::Manifest::read(&host.modules).unwrap();
        match refused.last_event {
            Some(hcr_build::LastEvent::Refused { message }) => {
                assert!(message.contains("module `fx_state` cannot be reloaded now"), "{message}");
            }
            other => panic!("not a refusal: {other:?}"),
        }
        fx_state::set_busy(false);
        hcr.reload().unwrap();
        assert_eq!((fx_state::version(), fx_state::bump()), (2, 2));
        let reloaded = hcr_build::Manifest::read(&host.modules).unwrap();
        assert!(reloaded.event_number > refused.event_number);
        assert!(matches!(
            reloaded.last_event,
            Some(hcr_build::LastEvent::Reloaded { modules, .. }) if modules == ["fx_state"]
        ));
    }
}

scenario! {
    fn after_shutdown_nothing_reloads_and_calls_still_work(host) {
        let mut hcr = start(host);
        fx_state::bump();
        hcr.shutdown().unwrap();
        hcr.shutdown().unwrap();
        host.install("fx_state", "fx_state-2");
        assert!(!hcr.reload_needed());
        let err = hcr.reload().unwrap_err();
        assert!(err.message.contains("shut down"), "{err}");
        assert_eq!(fx_state::bump(), 2);
        let events = fx_state::events();
        assert_eq!(events.iter().filter(|event| *event == "unload v1").count(), 1, "{events:?}");
        drop(hcr);
        assert_eq!(fx_state::events(), events, "dropping the host does not shut down again");
    }
}

/// Builds fx_state_host with `features` and keeps a copy under `name`.
fn build_host(name: &str, features: &[&str]) -> std::path::PathBuf {
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"));
    hcr_tests::build_binary(work, "fx_state_host", "fx_state_host", features, name)
}

#[test]
fn the_state_fixture_prints_the_same_hot_and_static_and_shuts_down_importers_first() {
    // The fixture host runs in its own process, hot from the built
    // fixtures, or static with everything linked in.
    let work = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let fixtures = hcr_tests::built_fixtures(work);
    let modules = work.join("fx_state_host").join("modules");
    std::fs::create_dir_all(&modules).unwrap();
    for (module, variant) in [
        ("fx_state", "fx_state-1"),
        ("fx_state_user", "fx_state_user-1"),
    ] {
        std::fs::copy(
            fixtures.fixtures.join(hcr_tests::library_file(variant)),
            modules.join(hcr_tests::library_file(module)),
        )
        .unwrap();
    }
    let hot = build_host("hot", &[]);
    let fixed = build_host("static", &["static"]);
    let run = |binary: &Path| {
        let output = Command::new(binary)
            .env("HCR_RUNTIME", &fixtures.runtime)
            .env("FX_MODULE_DIR", &modules)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{} failed\n{stdout}\n{}",
            binary.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let (hot_out, static_out) = (run(&hot), run(&fixed));
    assert_eq!(hot_out, static_out);
    assert_eq!(
        hot_out,
        "startup fx_state_user\n\
         bump_twice: 2\n\
         bump: 3\n\
         names: [\"ada\"]\n\
         settings: width=3 height=4\n\
         events: [\"startup v1\", \"load v1: nothing\"]\n\
         shutdown fx_state_user\n\
         shutdown fx_state\n\
         done\n"
    );
}

#[test]
fn without_a_runtime_globals_are_plain_statics() {
    // As in fx_state's own `cargo test`: no runtime in this process.
    let before = fx_state::bump();
    assert_eq!(fx_state::bump(), before + 1);
    fx_state::add_name("local");
    assert!(fx_state::names().contains(&"local".to_owned()));
}
