//! Module trust: a library that another user could have written, or one in
//! a directory they could write to, is never loaded; the opt-out loads it;
//! the manifest is never written through a symlink. Each case starts a
//! tree of its own, so each is a scenario (a process) of its own.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use hcr_client::RuntimeError;

/// HCR_ERR_UNTRUSTED.
const UNTRUSTED: i32 = -18;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Lays module `spin` out at `<modules>/outer/inner/libspin.so` with these
/// modes, and returns the inner directory.
fn lay_out(host: &hcr_tests::Host, outer: u32, inner: u32, file: u32) -> PathBuf {
    let dir = host.modules.join("outer").join("inner");
    std::fs::create_dir_all(&dir).unwrap();
    let library = dir.join(hcr_tests::library_file("spin"));
    std::fs::write(&library, host.fixture("spin-1")).unwrap();
    chmod(&library, file);
    chmod(&dir, inner);
    chmod(dir.parent().unwrap(), outer);
    dir
}

/// Starts a tree importing `spin` from the modules laid out with these
/// modes.
fn start(host: &hcr_tests::Host, outer: u32, inner: u32, file: u32) -> Result<(), RuntimeError> {
    let dir = lay_out(host, outer, inner, file);
    host.rt.init("main", &["spin"], Some(&dir))
}

/// A start with these modes loads the module and its code runs.
fn loads(host: &hcr_tests::Host, outer: u32, inner: u32, file: u32) {
    start(host, outer, inner, file).unwrap_or_else(|err| panic!("{}", err.message));
    assert_eq!(host.call("spin", "value"), 1);
}

/// The refusal of a start with these modes: HCR_ERR_UNTRUSTED, naming
/// `path` (relative to the modules directory) and `what`.
fn refused(host: &hcr_tests::Host, modes: (u32, u32, u32), path: &str, what: &str) {
    let err = start(host, modes.0, modes.1, modes.2).unwrap_err();
    assert_eq!(err.code, UNTRUSTED, "{}", err.message);
    let path = host.modules.join(path);
    hcr_tests::assert_says(
        &err.message,
        &[
            "module `spin` was not loaded",
            &path.display().to_string(),
            what,
            &format!("chmod o-w {}", path.display()),
            "HCR_ALLOW_INSECURE_MODULES=1",
        ],
    );
    assert_eq!(
        host.copy_names(),
        Vec::<String>::new(),
        "nothing was loaded"
    );
}

scenario! {
    fn a_library_0644_in_directories_0755_loads(host) {
        loads(host, 0o755, 0o755, 0o644);
    }
}

scenario! {
    fn group_write_0664_in_directories_0775_loads(host) {
        loads(host, 0o775, 0o775, 0o664);
    }
}

scenario! {
    fn a_library_others_can_write_is_refused_naming_it_and_the_bit(host) {
        refused(host, (0o755, 0o755, 0o666), "outer/inner/libspin.so", "mode 0666, o+w");
    }
}

scenario! {
    fn a_directory_others_can_write_is_refused(host) {
        refused(host, (0o755, 0o777, 0o644), "outer/inner", "mode 0777, o+w without the sticky bit");
    }
}

scenario! {
    fn a_sticky_directory_others_can_write_loads(host) {
        loads(host, 0o755, 0o1777, 0o644);
    }
}

scenario! {
    fn a_parent_directory_others_can_write_is_refused(host) {
        refused(host, (0o777, 0o755, 0o644), "outer", "a directory above");
    }
}

scenario! {
    env("HCR_ALLOW_INSECURE_MODULES" = "1")
    fn the_opt_out_loads_what_others_could_have_written(host) {
        loads(host, 0o777, 0o777, 0o666);
    }
}

scenario! {
    fn a_library_of_another_user_is_refused(host) {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: only root can give a file to another user");
            return;
        }
        let dir = lay_out(host, 0o755, 0o755, 0o644);
        let library = dir.join(hcr_tests::library_file("spin"));
        std::os::unix::fs::chown(&library, Some(65534), None).unwrap();
        let err = host.rt.init("main", &["spin"], Some(&dir)).unwrap_err();
        assert_eq!(err.code, UNTRUSTED, "{}", err.message);
        assert!(
            err.message.contains(&format!(
                "{} is owned by user 65534, not by this process's user (0) or root",
                library.display()
            )),
            "{}",
            err.message
        );
    }
}

scenario! {
    fn a_reload_whose_new_library_others_can_write_is_refused_and_the_old_code_runs(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        assert_eq!(host.call("spin", "value"), 1);
        host.install("spin", "spin-2");
        chmod(&host.library("spin"), 0o666);
        assert!(host.rt.reload_needed());
        let err = host.rt.perform_code_reload().unwrap_err();
        assert_eq!(err.code, UNTRUSTED, "{}", err.message);
        assert!(err.message.contains("the previous code keeps running"), "{}", err.message);
        assert_eq!(host.call("spin", "value"), 1, "the old code runs");
        assert_eq!(host.rt.generation(), 0);
        // Once fixed, the same file loads.
        chmod(&host.library("spin"), 0o644);
        host.rt.perform_code_reload().unwrap();
        assert_eq!(host.call("spin", "value"), 2);
    }
}

scenario! {
    fn the_manifest_is_not_written_through_a_symlink_at_its_temporary_name(host) {
        let manifest = host.modules.join("hcr-manifest.json");
        let staging = host
            .modules
            .join(format!("hcr-manifest.json.{}.tmp", std::process::id()));
        let victim = host.modules.join("victim");
        std::fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, &staging).unwrap();
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let written = hcr_build::Manifest::read(&host.modules).unwrap();
        assert_eq!(written.modules[0].name, "spin");
        assert!(!staging.exists(), "renamed into place");
        assert!(std::fs::symlink_metadata(&manifest).unwrap().is_file());
    }
}

/// A copy of the runtime library in `<modules>/open` (mode 0777).
fn runtime_in_an_open_directory(host: &hcr_tests::Host) -> PathBuf {
    let runtime = PathBuf::from(std::env::var_os("HCR_TEST_RUNTIME").unwrap());
    let dir = host.modules.join("open");
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join(runtime.file_name().unwrap());
    std::fs::copy(&runtime, &copy).unwrap();
    chmod(&dir, 0o777);
    copy
}

fn assert_runtime_refused(err: hcr_client::StartError, dir: &Path) {
    let message = err.to_string();
    hcr_tests::assert_says(
        &message,
        &[
            "refused to open the hcr runtime",
            &format!("directory {} (a directory above", dir.display()),
            "chmod o-w",
        ],
    );
}

scenario! {
    fn a_host_refuses_a_runtime_library_others_could_have_written(host) {
        let copy = runtime_in_an_open_directory(host);
        let err = hcr_client::Host::builder()
            .runtime_library(&copy)
            .module_dir(&host.modules)
            .start()
            .unwrap_err();
        assert_runtime_refused(err, copy.parent().unwrap());
    }
}

scenario! {
    fn a_host_refuses_an_hcr_runtime_others_could_have_written(host) {
        let copy = runtime_in_an_open_directory(host);
        // SAFETY: this scenario's process runs this test alone, and no
        // other thread reads the environment meanwhile.
        unsafe { std::env::set_var("HCR_RUNTIME", &copy) };
        let err = hcr_client::Host::builder()
            .module_dir(&host.modules)
            .start()
            .unwrap_err();
        assert_runtime_refused(err, copy.parent().unwrap());
    }
}
