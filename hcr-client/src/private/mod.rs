//! What the macros' expansions name. Not part of the public API: it changes
//! with the macros, which are pinned to this exact version of the crate.

#[cfg(not(feature = "static"))]
mod call;
#[cfg(not(feature = "static"))]
mod module;
mod reached;
#[cfg(not(feature = "static"))]
mod word;

#[cfg(not(feature = "static"))]
pub use call::{Panicked, Stub, serve};
pub use linkme;
#[cfg(not(feature = "static"))]
pub use module::{
    GLOBALS, NameList, PROCS, ProcEntry, can_reload, dat_init, init, runtime_loaded, self_module,
    shutdown,
};
#[cfg(not(feature = "static"))]
pub(crate) use module::{runtime as loaded_runtime, toolchain};
pub use reached::{FingerprintProbe, NoFingerprintProbe, Probe, Reached, SizedProbe, UnsizedProbe};
#[cfg(feature = "static")]
mod static_modules;
#[cfg(not(feature = "static"))]
pub use crate::global::RegisterGlobal;
pub use crate::global::{Migration, old_layout};
#[cfg(feature = "static")]
pub use inventory;
#[cfg(feature = "static")]
pub(crate) use static_modules::Started;
#[cfg(feature = "static")]
pub use static_modules::StaticModule;

/// Keeps the `hot` tokens in a hot build and the `static` ones in a static
/// build (the `static` feature of hcr-client).
#[cfg(not(feature = "static"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __hcr_hot_static {
    (hot { $($hot:tt)* } static { $($static:tt)* }) => { $($hot)* };
}

/// Keeps the `hot` tokens in a hot build and the `static` ones in a static
/// build (the `static` feature of hcr-client).
#[cfg(feature = "static")]
#[doc(hidden)]
#[macro_export]
macro_rules! __hcr_hot_static {
    (hot { $($hot:tt)* } static { $($static:tt)* }) => { $($static)* };
}

pub use crate::__hcr_hot_static as hot_static;

/// The fingerprint of a reloadable function's type: the text of its
/// signature, the size and alignment of each parameter and of the
/// result, and the layout of every type they reach behind a reference,
/// pointer or type parameter, as the compiler laid them out for this
/// build.
#[derive(Debug)]
pub struct Signature {
    /// `fn(&str, Vec<u8>) -> String`, as written.
    pub text: &'static str,
    /// (size, align) of each parameter, then of the result.
    pub layout: &'static [(usize, usize)],
    /// The types the parameters and the result reach.
    pub reached: &'static [Reached],
}

/// The version of the way callers and shims pass arguments, results and
/// panics (see `call`): a caller and a callee built by different versions
/// of this crate render different signatures, so the runtime refuses the
/// call instead of letting them disagree.
pub const CALL_CONVENTION: u32 = 2;

impl Signature {
    /// The text the runtime compares: caller and callee render the same
    /// text exactly when they were built from the same declaration with
    /// the same type layouts, for the same calling convention.
    pub fn render(&self) -> std::ffi::CString {
        let layout: Vec<String> = self
            .layout
            .iter()
            .map(|(size, align)| format!("{size}/{align}"))
            .collect();
        let reached: String = self.reached.iter().map(Reached::render).collect();
        let text = format!(
            "{} [layout {}]{reached} [call {CALL_CONVENTION}]",
            self.text,
            layout.join(" ")
        );
        std::ffi::CString::new(text.replace('\0', " ")).unwrap_or_default()
    }
}

/// (size, align) of `T`, for [`Signature::layout`].
pub const fn layout_of<T>() -> (usize, usize) {
    (size_of::<T>(), align_of::<T>())
}

/// The name a reloadable function is registered under: its path inside its
/// crate (`area` at the root, `geometry::area` in module `geometry`).
pub fn proc_name(crate_name: &str, module_path: &str, name: &str) -> String {
    match module_path.strip_prefix(crate_name) {
        Some("") => name.to_owned(),
        Some(rest) => match rest.strip_prefix("::") {
            Some(inner) => format!("{inner}::{name}"),
            None => format!("{module_path}::{name}"),
        },
        None => format!("{module_path}::{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_names_are_paths_inside_the_crate() {
        assert_eq!(proc_name("shapes", "shapes", "area"), "area");
        assert_eq!(
            proc_name("shapes", "shapes::geometry", "area"),
            "geometry::area"
        );
        assert_eq!(
            proc_name("shapes", "shapes_extra::x", "f"),
            "shapes_extra::x::f"
        );
    }

    #[test]
    fn a_signature_renders_its_text_and_layout() {
        const LAYOUT: &[(usize, usize)] = &[layout_of::<u8>(), layout_of::<u64>()];
        let signature = Signature {
            text: "fn(u8) -> u64",
            layout: LAYOUT,
            reached: &[],
        };
        assert_eq!(
            signature.render().to_str().unwrap(),
            format!(
                "fn(u8) -> u64 [layout 1/1 8/{}] [call {CALL_CONVENTION}]",
                align_of::<u64>()
            )
        );
    }
}
