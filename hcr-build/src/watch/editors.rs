//! The files editors write beside the file they save: temporaries renamed
//! over it, backups, swap, lock and probe files. None is a source: a save
//! that makes them rebuilds once, for the file saved, and compiles it
//! directly, as if it were written in place.

/// Whether a file named `name` is an editor's temporary, backup, swap,
/// lock or probe file:
/// * sed -i: `sedXXXXXX`, renamed over the file;
/// * vim: `4913` (a probe of whether the directory is writable), `name~`
///   (backup), `.name.swp`, `.name.swo`, `.name.swx`;
/// * emacs: `#name#` (auto-save), `.#name` (lock), `name~`;
/// * JetBrains' safe write: `name___jb_tmp___`, `name___jb_old___`;
/// * gedit: `.goutputstream-XXXXXX`; Kate: `.name.kate-swp`,
///   `name.kate-swp`, `name.XXXXXX.new`;
/// * VS Code and others: `name.tmp`, `name.bak`, `name.orig`, and any
///   hidden file.
pub(crate) fn is_editor_file(name: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "~",
        ".swp",
        ".swo",
        ".swx",
        ".tmp",
        ".bak",
        ".orig",
        ".kate-swp",
        "___jb_tmp___",
        "___jb_old___",
    ];
    name.starts_with('.')
        || (name.starts_with('#') && name.ends_with('#'))
        || name == "4913"
        || is_sed_temporary(name)
        || is_qt_save_temporary(name)
        || SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

/// `sed -i`'s temporary: `sed` and six random letters or digits, not all
/// of them lowercase letters (which a word such as `seduction` is; one
/// temporary in two hundred is too, and rebuilds as any file would).
fn is_sed_temporary(name: &str) -> bool {
    name.strip_prefix("sed").is_some_and(|rest| {
        rest.len() == 6
            && rest.bytes().all(|b| b.is_ascii_alphanumeric())
            && !rest.bytes().all(|b| b.is_ascii_lowercase())
    })
}

/// Qt's `QSaveFile` (Kate, KWrite): `name.XXXXXX.new`.
fn is_qt_save_temporary(name: &str) -> bool {
    name.strip_suffix(".new")
        .and_then(|rest| rest.rsplit_once('.'))
        .is_some_and(|(_, random)| {
            random.len() == 6 && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::is_editor_file;

    #[test]
    fn every_editors_side_files_are_known() {
        for name in [
            "sed5Be3rZ",
            "sedAbC123",
            "4913",
            "lib.rs~",
            ".lib.rs.swp",
            ".lib.rs.swo",
            ".lib.rs.swx",
            "#lib.rs#",
            ".#lib.rs",
            "lib.rs___jb_tmp___",
            "lib.rs___jb_old___",
            ".goutputstream-ZB3RQ2",
            ".lib.rs.kate-swp",
            "lib.rs.kate-swp",
            "lib.rs.a1B2c3.new",
            "lib.rs.tmp",
            "lib.rs.bak",
            "lib.rs.orig",
        ] {
            assert!(is_editor_file(name), "{name}");
        }
    }

    #[test]
    fn sources_are_not_taken_for_editor_files() {
        for name in [
            "lib.rs",
            "main.rs",
            "sed.rs",
            "sedan.rs",
            "seduction",
            "4914",
            "news.rs",
            "build.rs",
            "Cargo.toml",
            "shader.wgsl",
            "table.new",
        ] {
            assert!(!is_editor_file(name), "{name}");
        }
    }
}
