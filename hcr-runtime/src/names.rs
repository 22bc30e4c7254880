//! Validation of the names that cross the C ABI.

use std::ffi::CStr;

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

/// A module name: a symbol name that can also be part of a file name
/// (`lib<name>.so`), so it holds no `/` and is not `.` or `..`.
pub(crate) fn module_name(name: &CStr) -> Result<&str, String> {
    let text = symbol_name(name)?;
    if text.contains('/') || text == "." || text == ".." {
        return Err(format!(
            "`{text}` cannot be a module name (it must not contain `/`)"
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
        assert!(symbol_name(c"a/b").is_ok());
        let bad = c"\xff\xfe";
        assert!(symbol_name(bad).unwrap_err().contains("UTF-8"));
    }
}
