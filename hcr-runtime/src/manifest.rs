//! The manifest: a JSON file that says which module versions the process
//! runs, written after `hcr_init` and after every successful reload, for
//! tools such as `cargo hcr status`.
//!
//! It goes to `$HCR_MANIFEST` if set, else `hcr-manifest.json` in the
//! module directory (`HCR_MANIFEST=off` writes none, saving the file
//! system's time, about 0.2 ms a reload), written to a temporary name and renamed, so a reader
//! never sees half of it. Writing is best effort: a failure never fails a
//! reload.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use crate::runtime::State;

/// The variable that names the manifest's path.
pub const MANIFEST_ENV: &str = "HCR_MANIFEST";

/// `text` as a JSON string.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The manifest of `state`, as JSON.
pub(crate) fn render(state: &State, last_reload: Option<Duration>) -> Option<String> {
    let tree = state.tree.as_ref()?;
    let mut modules: Vec<String> = Vec::new();
    for name in tree.order() {
        let Some(version) = tree.modules.get(&name).and_then(|r| r.version.as_ref()) else {
            continue;
        };
        let loaded_ms = version
            .loaded_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        let library = crate::loader::library_path(&tree.dir, &name);
        modules.push(format!(
            "{{\"name\":{},\"library\":{},\"build\":{},\"content_hash\":\"{:016x}\",\
             \"loaded_at_unix_ms\":{loaded_ms},\"generation\":{}}}",
            quoted(&name),
            quoted(&library.to_string_lossy()),
            quoted(&version.build_hash),
            version.content_hash,
            version.generation
        ));
    }
    let last = last_reload.map_or("null".to_owned(), |d| {
        format!("{:.3}", d.as_secs_f64() * 1e3)
    });
    Some(format!(
        "{{\"pid\":{},\"main\":{},\"generation\":{},\"last_reload_ms\":{last},\"modules\":[{}]}}\n",
        std::process::id(),
        quoted(&tree.root),
        state.generation,
        modules.join(",")
    ))
}

/// Writes the manifest of `state`; see the module docs.
pub(crate) fn write(state: &State, last_reload: Option<Duration>) {
    if std::env::var_os(MANIFEST_ENV).is_some_and(|value| value == "off") {
        return;
    }
    let Some(text) = render(state, last_reload) else {
        return;
    };
    let Some(tree) = &state.tree else {
        return;
    };
    let path = std::env::var_os(MANIFEST_ENV)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tree.dir.join("hcr-manifest.json"));
    let staging = path.with_extension(format!("json.{}.tmp", std::process::id()));
    if std::fs::write(&staging, text).is_ok() {
        let _ = std::fs::rename(&staging, &path);
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn strings_are_escaped_for_json() {
        assert_eq!(quoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
