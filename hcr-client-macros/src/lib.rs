//! The macros of `hcr-client`. Depend on `hcr-client` and use them from
//! there: their expansions name its hidden `__private` module, and this
//! crate's version is pinned to it.

#![deny(missing_docs)]

use proc_macro::TokenStream;

mod fingerprint_derive;
mod foreign;
mod global;
mod methods;
mod module;
mod reloadable;
mod signature;

/// Makes a function reloadable; see `hcr_client::reloadable`.
#[proc_macro_attribute]
pub fn reloadable(attr: TokenStream, item: TokenStream) -> TokenStream {
    reloadable::expand(attr.into(), item.into()).into()
}

/// Declares the crate to be a module; see `hcr_client::module`.
#[proc_macro]
pub fn module(input: TokenStream) -> TokenStream {
    module::expand(input.into()).into()
}

/// Makes a `static` a persistent global; see `hcr_client::global`.
#[proc_macro_attribute]
pub fn global(attr: TokenStream, item: TokenStream) -> TokenStream {
    global::expand(attr.into(), item.into()).into()
}

/// Derives `hcr_client::Fingerprint` from the type's structure.
#[proc_macro_derive(Fingerprint)]
pub fn derive_fingerprint(input: TokenStream) -> TokenStream {
    fingerprint_derive::expand(input.into()).into()
}

/// Calls the procs of a C module; see `hcr_client::foreign`.
#[proc_macro_attribute]
pub fn foreign(attr: TokenStream, item: TokenStream) -> TokenStream {
    foreign::expand(attr.into(), item.into()).into()
}

#[cfg(test)]
mod tests;
