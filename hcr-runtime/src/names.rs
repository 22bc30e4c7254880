//! Validation of the names that cross the C ABI.

use std::ffi::{CStr, c_char};

/// Longest accepted module or symbol name, in bytes.
pub(crate) const MAX_NAME_LEN: usize = 1024;

/// A symbol (proc or global) name: non-empty UTF-8 of bounded length.
pub(crate) fn symbol_name(name: &CStr) -> Result<&str, String> {
    let text = name
        .to_str()
        .map_err(|_| format!("{:?} is not valid UTF-8", name.to_string_lossy()))?;
    if text.is_empty() {
        return Err("the name is empty".into());
    }
    if text.len() > MAX_NAME_LEN {
        return Err(format!("the name is longer than {MAX_NAME_LEN} bytes"));
    }
    Ok(text)
}

/// Most names a NULL-terminated module list may hold.
pub(crate) const MAX_MODULES_IN_LIST: usize = 4096;

/// Reads a NULL-terminated array of module names (a NULL list is empty).
///
/// # Safety
/// `list` is NULL or points to an array of NUL-terminated strings ended by
/// a NULL entry, all valid for the duration of the call.
pub(crate) unsafe fn module_list(list: *const *const c_char) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    if list.is_null() {
        return Ok(names);
    }
    for index in 0..=MAX_MODULES_IN_LIST {
        if index == MAX_MODULES_IN_LIST {
            return Err(format!(
                "more than {MAX_MODULES_IN_LIST} names (is the list NULL-terminated?)"
            ));
        }
        // SAFETY: the list is NULL-terminated (caller's promise) and we stop
        // at the terminator, never reading past it.
        let entry = unsafe { *list.add(index) };
        if entry.is_null() {
            break;
        }
        // SAFETY: every entry before the terminator is a valid string.
        let name = unsafe { CStr::from_ptr(entry) };
        names.push(
            module_name(name)
                .map_err(|err| format!("a bad module name: {err}"))?
                .to_owned(),
        );
    }
    Ok(names)
}

/// A module name: a symbol name that can also be part of a file name
/// (`lib<name>.so`, `<name>.dll`) on every system, so it holds no path
/// separator (`/`, `\`) or drive or stream mark (`:`), and is not `.` or
/// `..`.
pub(crate) fn module_name(name: &CStr) -> Result<&str, String> {
    let text = symbol_name(name)?;
    if text.contains(['/', '\\', ':']) || text == "." || text == ".." {
        return Err(format!(
            "`{text}` cannot be a module name (it must not contain `/`, `\\` or `:`)"
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(module_name(c"physics"), Ok("physics"));
        assert!(module_name(c"").is_err());
        assert!(module_name(c"../etc").is_err());
        for bad in [c"a\\b", c"c:physics", c".."] {
            let err = module_name(bad).unwrap_err();
            assert!(err.contains("cannot be a module name"), "{err}");
        }
        assert!(symbol_name(c"a/b").is_ok());
        let bad = c"\xff\xfe";
        assert!(symbol_name(bad).unwrap_err().contains("UTF-8"));
    }
}
