//! Module trust on Windows, with real access lists: a DLL another account
//! may write to, or one in a directory another account may write to, is
//! never loaded; one only the user (and SYSTEM and Administrators) may
//! write is; the opt-out loads what others could have written. These are
//! the system's calls on real files; wine (8.0) keeps of an access list
//! only what Unix permission bits hold, so the accounts here are
//! Everyone, and other accounts and owners are shown on descriptors built
//! in memory (hcr-trust's own tests, which run under wine too).

use std::path::PathBuf;

/// HCR_ERR_UNTRUSTED.
const UNTRUSTED: i32 = -18;
/// Everyone.
const EVERYONE: &str = "S-1-1-0";

/// Lays module `spin` out at `<modules>/outer/inner/spin.dll`, lets the
/// accounts of `grants` write to the paths they name (relative to the
/// modules directory), and returns the inner directory.
fn lay_out(host: &hcr_tests::Host, grants: &[(&str, &str)]) -> PathBuf {
    let dir = host.modules.join("outer").join("inner");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join(hcr_tests::library_file("spin")),
        host.fixture("spin-1"),
    )
    .unwrap();
    for (path, sid) in grants {
        hcr_tests::grant_write(&host.modules.join(path), sid);
    }
    dir
}

fn loads(host: &hcr_tests::Host, grants: &[(&str, &str)]) {
    let dir = lay_out(host, grants);
    host.rt
        .init("main", &["spin"], Some(&dir))
        .unwrap_or_else(|err| panic!("{}", err.message));
    assert_eq!(host.call("spin", "value"), 1);
}

/// The refusal of a start with these grants: HCR_ERR_UNTRUSTED, naming
/// `path` (relative to the modules directory), the account and the fix.
fn refused(host: &hcr_tests::Host, grants: &[(&str, &str)], path: &str, account: &str) {
    let dir = lay_out(host, grants);
    let err = host.rt.init("main", &["spin"], Some(&dir)).unwrap_err();
    assert_eq!(err.code, UNTRUSTED, "{}", err.message);
    // The runtime names paths as Windows writes them.
    let path = format!("modules\\{}", path.replace('/', "\\"));
    hcr_tests::assert_says(
        &err.message,
        &[
            "module `spin` was not loaded",
            &format!("{path} "),
            &format!("lets {account} write to it ("),
            &format!("{path}\" /remove:g \"{account}\""),
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
    fn a_dll_only_its_user_can_write_loads(host) {
        loads(host, &[]);
    }
}

scenario! {
    fn a_dll_everyone_can_write_is_refused_naming_it_and_the_account(host) {
        refused(host, &[("outer/inner/spin.dll", EVERYONE)], "outer/inner/spin.dll", "Everyone");
    }
}

scenario! {
    fn a_directory_everyone_can_write_is_refused(host) {
        refused(host, &[("outer", EVERYONE)], "outer", "Everyone");
    }
}

scenario! {
    env("HCR_ALLOW_INSECURE_MODULES" = "1")
    fn the_opt_out_loads_what_others_could_have_written(host) {
        loads(host, &[("outer/inner/spin.dll", EVERYONE), ("outer", EVERYONE)]);
    }
}
