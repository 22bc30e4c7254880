//! The manifest: a JSON file that says which module versions the process
//! runs and what last happened (a start, a reload and what it loaded, a
//! rollback by the crash guard, or a refused reload and why), written
//! after each of these, for tools such as `cargo hcr status` and the
//! status lines of `cargo hcr run`.
//!
//! It goes to `$HCR_MANIFEST` if set, else `hcr-manifest.json` in the
//! module directory (`HCR_MANIFEST=off` writes none, saving the file
//! system's time, about 0.2 ms a reload), written to a temporary name and
//! renamed, so a reader never sees half of it; the temporary file is
//! created new, never written through a symlink placed at its name.
//! Writing is best effort: a failure never fails a reload.

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

/// What the manifest reports as the last thing that happened.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Event<'a> {
    /// `hcr_init` loaded the tree.
    Started,
    /// A reload loaded these modules, leaves first, in this time.
    Reloaded {
        modules: &'a [String],
        took: Duration,
    },
    /// The crash guard put back the version of `module` loaded in
    /// generation `loaded_in`.
    RolledBack { module: &'a str, loaded_in: i64 },
    /// A reload was refused; nothing changed.
    Refused { message: &'a str },
}

impl Event<'_> {
    fn render(&self) -> String {
        match self {
            Event::Started => "{\"kind\":\"start\"}".to_owned(),
            Event::Reloaded { modules, took } => format!(
                "{{\"kind\":\"reload\",\"modules\":[{}],\"ms\":{:.3}}}",
                modules
                    .iter()
                    .map(|m| quoted(m))
                    .collect::<Vec<_>>()
                    .join(","),
                took.as_secs_f64() * 1e3
            ),
            Event::RolledBack { module, loaded_in } => format!(
                "{{\"kind\":\"rollback\",\"module\":{},\"loaded_in\":{loaded_in}}}",
                quoted(module)
            ),
            Event::Refused { message } => {
                format!("{{\"kind\":\"refused\",\"message\":{}}}", quoted(message))
            }
        }
    }

    fn last_reload(&self) -> Option<Duration> {
        match self {
            Event::Reloaded { took, .. } => Some(*took),
            _ => None,
        }
    }
}

/// The manifest of `state` after its `number`th event, `event`, as JSON.
pub(crate) fn render(state: &State, event: Event<'_>, number: u64) -> Option<String> {
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
    let last = event.last_reload().map_or("null".to_owned(), |d| {
        format!("{:.3}", d.as_secs_f64() * 1e3)
    });
    Some(format!(
        "{{\"pid\":{},\"main\":{},\"generation\":{},\"last_reload_ms\":{last},\
         \"event_number\":{number},\"last_event\":{},\"modules\":[{}]}}\n",
        std::process::id(),
        quoted(&tree.root),
        state.generation,
        event.render(),
        modules.join(",")
    ))
}

/// Writes the manifest of `state` after `event`; see the module docs.
pub(crate) fn write(state: &mut State, event: Event<'_>) {
    state.manifest_events += 1;
    if std::env::var_os(MANIFEST_ENV).is_some_and(|value| value == "off") {
        return;
    }
    let Some(text) = render(state, event, state.manifest_events) else {
        return;
    };
    let Some(tree) = &state.tree else {
        return;
    };
    let path = std::env::var_os(MANIFEST_ENV)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| tree.dir.join(hcr_files::MANIFEST));
    let staging = staging_path(&path);
    if write_new(&staging, &text).is_ok() {
        let _ = std::fs::rename(&staging, &path);
    }
}

/// The temporary name the manifest at `path` is written under.
fn staging_path(path: &std::path::Path) -> std::path::PathBuf {
    path.with_extension(format!("json.{}.tmp", std::process::id()))
}

/// Writes `text` to a file created at `path`, never through a symlink
/// someone placed there: whatever is at the name is removed (a symlink
/// itself, not its target), and the file is created only if the name is
/// free (`create_new`, O_CREAT | O_EXCL, which never follows a symlink), so
/// one placed again in between fails the write instead.
fn write_new(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    std::io::Write::write_all(&mut file, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::{Event, quoted};

    #[test]
    fn strings_are_escaped_for_json() {
        assert_eq!(quoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }

    #[test]
    fn each_event_renders_what_it_says() {
        let modules = ["a".to_owned(), "b".to_owned()];
        let took = std::time::Duration::from_micros(1500);
        assert_eq!(
            Event::Reloaded {
                modules: &modules,
                took
            }
            .render(),
            "{\"kind\":\"reload\",\"modules\":[\"a\",\"b\"],\"ms\":1.500}"
        );
        assert_eq!(
            Event::RolledBack {
                module: "a",
                loaded_in: 2
            }
            .render(),
            "{\"kind\":\"rollback\",\"module\":\"a\",\"loaded_in\":2}"
        );
        assert_eq!(
            Event::Refused {
                message: "no \"x\""
            }
            .render(),
            "{\"kind\":\"refused\",\"message\":\"no \\\"x\\\"\"}"
        );
        assert_eq!(Event::Started.render(), "{\"kind\":\"start\"}");
    }
}
