//! Integration tests: C fixture modules, compiled with `cc`, loaded through
//! the runtime's C ABI and reloaded for real. Every scenario runs in a
//! process of its own (see `hcr_tests`).

/// Declares a scenario: a `#[test]` whose body runs in its own process.
/// `env` adds environment variables; `abort` expects SIGABRT with a message;
/// `stderr` expects success with a message on stderr (after `env` too); `expect` takes any
/// [`hcr_tests::Expect`].
macro_rules! scenario {
    ($(#[$meta:meta])* fn $name:ident($host:ident) $body:block) => {
        scenario!(@ $(#[$meta])* $name, [], hcr_tests::Expect::Success, $host, $body);
    };
    ($(#[$meta:meta])* env($($k:literal = $v:literal),*) fn $name:ident($host:ident) $body:block) => {
        scenario!(@ $(#[$meta])* $name, [$(($k, $v)),*], hcr_tests::Expect::Success, $host, $body);
    };
    ($(#[$meta:meta])* env($($k:literal = $v:literal),*) stderr($text:literal) fn $name:ident($host:ident) $body:block) => {
        scenario!(@ $(#[$meta])* $name, [$(($k, $v)),*], hcr_tests::Expect::SuccessWithStderr($text), $host, $body);
    };
    ($(#[$meta:meta])* env($($k:literal = $v:literal),*) abort($($text:literal),+) fn $name:ident($host:ident) $body:block) => {
        scenario!(@ $(#[$meta])* $name, [$(($k, $v)),*], hcr_tests::Expect::Abort(&[$($text),+]), $host, $body);
    };
    ($(#[$meta:meta])* abort($($text:literal),+) fn $name:ident($host:ident) $body:block) => {
        scenario!(@ $(#[$meta])* $name, [], hcr_tests::Expect::Abort(&[$($text),+]), $host, $body);
    };
    ($(#[$meta:meta])* expect($expect:expr) fn $name:ident($host:ident) $body:block) => {
        scenario!(@ $(#[$meta])* $name, [], $expect, $host, $body);
    };
    ($(#[$meta:meta])* stderr($text:literal) fn $name:ident($host:ident) $body:block) => {
        scenario!(@ $(#[$meta])* $name, [], hcr_tests::Expect::SuccessWithStderr($text), $host, $body);
    };
    (@ $(#[$meta:meta])* $name:ident, [$($env:expr),*], $expect:expr, $host:ident, $body:block) => {
        $(#[$meta])*
        #[test]
        fn $name() {
            hcr_tests::run_scenario(
                std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
                concat!(module_path!(), "::", stringify!($name)),
                &[$($env),*],
                $expect,
                |$host: &mut hcr_tests::Host| $body,
            );
        }
    };
}

mod abi;
mod cargo_hcr;
mod crash_guard;
mod diagnostics;
mod example;
mod failures;
mod fingerprints;
mod long_sessions;
// The paged jump table runs on x86_64 and AArch64.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
mod paged;
mod placement;
#[cfg(unix)]
mod posix;
mod reload;
mod rust_methods;
mod rust_modules;
mod rust_state;
mod rust_tree;
mod state;
mod threads;
#[cfg(unix)]
mod trust;
#[cfg(windows)]
mod trust_windows;
#[cfg(windows)]
mod windows;
