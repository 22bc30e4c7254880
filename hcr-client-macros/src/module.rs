//! `module!(imports = [..])`: the crate's module exports.
//!
//! In a hot build, only the crate's own module build (`--cfg hcr_module`)
//! gets `hcr_module_imports`, `hcr_module_hash`, `hcr_module_dat_init` and
//! `hcr_module_init`; linked into another crate as a library it exports
//! nothing. The module's name is the crate's (`libname.so`).

use proc_macro2::TokenStream;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Token, bracketed};

/// One import: a module crate (checked to be a dependency) or the name of
/// a module written in another language.
enum Import {
    Crate(Ident),
    Named(LitStr),
}

struct Input {
    imports: Vec<Import>,
    lifecycle: Option<syn::Type>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut parsed = Input {
            imports: Vec::new(),
            lifecycle: None,
        };
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            if key == "imports" {
                let content;
                bracketed!(content in input);
                let items = Punctuated::<ImportItem, Token![,]>::parse_terminated(&content)?;
                parsed.imports = items.into_iter().map(|item| item.0).collect();
            } else if key == "lifecycle" {
                parsed.lifecycle = Some(input.parse()?);
            } else {
                return Err(syn::Error::new_spanned(
                    key,
                    "expected `imports = [module, \"c_module\", ..]` or `lifecycle = Type`",
                ));
            }
            input.parse::<Option<Token![,]>>()?;
        }
        Ok(parsed)
    }
}

struct ImportItem(Import);

impl Parse for ImportItem {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let name: LitStr = input.parse()?;
            if name.value().is_empty() || name.value().contains('\0') {
                return Err(syn::Error::new_spanned(
                    name,
                    "a module name is non-empty and has no NUL",
                ));
            }
            Ok(ImportItem(Import::Named(name)))
        } else {
            Ok(ImportItem(Import::Crate(input.parse()?)))
        }
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<Input>(input) {
        Ok(input) => expand_input(&input),
        Err(err) => err.to_compile_error(),
    }
}

fn expand_input(input: &Input) -> TokenStream {
    let crates = input.imports.iter().filter_map(|import| match import {
        Import::Crate(name) => Some(name),
        Import::Named(_) => None,
    });
    let names = input.imports.iter().map(|import| {
        let text = match import {
            Import::Crate(name) => name.to_string(),
            Import::Named(name) => name.value(),
        };
        let bytes = syn::LitByteStr::new(
            format!("{text}\0").as_bytes(),
            proc_macro2::Span::call_site(),
        );
        quote!(#bytes.as_ptr().cast())
    });
    let count = input.imports.len() + 1;
    let lifecycle = input
        .lifecycle
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(()));
    let static_names = input.imports.iter().map(|import| match import {
        Import::Crate(name) => name.to_string(),
        Import::Named(name) => name.value(),
    });
    quote! {
        // Each imported crate must be a dependency of this one.
        #(#[allow(unused_extern_crates)] extern crate #crates as _;)*

        // The lifecycle is used in every build, not only the module's own.
        const _: fn() -> bool = <#lifecycle as ::hcr_client::Lifecycle>::can_reload;

        ::hcr_client::__private::hot_static! {
            hot {
                #[allow(unexpected_cfgs)]
                const _: () = {
                    // Built by `cargo hcr` with shared dependencies: they
                    // come from the library the host links, which this
                    // loads, so that whatever links this crate links it.
                    #[cfg(hcr_shared_deps)]
                    extern crate hcr_shared as _;

                    /// The modules this one imports, NULL-terminated.
                    #[cfg(hcr_module)]
                    #[unsafe(no_mangle)]
                    pub extern "C" fn hcr_module_imports() -> *const *const ::core::ffi::c_char {
                        static IMPORTS: ::hcr_client::__private::NameList<#count> =
                            ::hcr_client::__private::NameList([#(#names,)* ::core::ptr::null()]);
                        IMPORTS.0.as_ptr()
                    }

                    /// The build's identity.
                    #[cfg(hcr_module)]
                    #[unsafe(no_mangle)]
                    pub extern "C" fn hcr_module_hash() -> *const ::core::ffi::c_char {
                        ::core::concat!(
                            ::core::env!("CARGO_PKG_NAME"), " ", ::core::env!("CARGO_PKG_VERSION"), "\0"
                        )
                        .as_ptr()
                        .cast()
                    }

                    /// Checks the compiler and registers the reloadable functions.
                    #[cfg(hcr_module)]
                    #[unsafe(no_mangle)]
                    pub extern "C" fn hcr_module_dat_init() -> ::core::ffi::c_int {
                        ::hcr_client::__private::dat_init(
                            ::core::env!("CARGO_CRATE_NAME"),
                            ::core::cfg!(hcr_shared_deps),
                        )
                    }

                    /// Persistent globals, startup and load.
                    #[cfg(hcr_module)]
                    #[unsafe(no_mangle)]
                    pub extern "C" fn hcr_module_init() -> ::core::ffi::c_int {
                        ::hcr_client::__private::init::<#lifecycle>(::core::env!("CARGO_CRATE_NAME"))
                    }

                    /// Whether the module lets a reload happen now.
                    #[cfg(hcr_module)]
                    #[unsafe(no_mangle)]
                    pub extern "C" fn hcr_module_can_reload() -> bool {
                        ::hcr_client::__private::can_reload::<#lifecycle>()
                    }

                    /// Unload and shutdown, when the host shuts the tree down.
                    #[cfg(hcr_module)]
                    #[unsafe(no_mangle)]
                    pub extern "C" fn hcr_module_shutdown() {
                        ::hcr_client::__private::shutdown::<#lifecycle>()
                    }
                };
            }
            static {
                ::hcr_client::__private::inventory::submit! {
                    ::hcr_client::__private::StaticModule::of::<#lifecycle>(
                        ::core::env!("CARGO_CRATE_NAME"),
                        &[#(#static_names),*],
                    )
                }
            }
        }
    }
}
