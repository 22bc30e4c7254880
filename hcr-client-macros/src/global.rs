//! `#[global]` on a `static`: a persistent global (`hcr_client::Global`).
//!
//! The static keeps its name and visibility; its type becomes `Global<T>`
//! and its initializer a function run on the module's first load. In a hot
//! build the module's own build (`--cfg hcr_module`) lists it for the
//! module's init to register. `migrate = hook` names a `fn(&Old) -> T`
//! that converts a value of an older layout.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{ItemStatic, Path, Token};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let result = hook(attr).and_then(|hook| {
        let item = syn::parse2::<ItemStatic>(item.clone())?;
        expand_static(&item, hook.as_ref())
    });
    result.unwrap_or_else(|err| err.to_compile_error())
}

/// `migrate = path`, or nothing.
fn hook(attr: TokenStream) -> syn::Result<Option<Path>> {
    if attr.is_empty() {
        return Ok(None);
    }
    let parser = |input: syn::parse::ParseStream<'_>| {
        let key: syn::Ident = input.parse()?;
        if key != "migrate" {
            return Err(syn::Error::new_spanned(
                key,
                "expected `migrate = function` (a `fn(&Old) -> T`)",
            ));
        }
        input.parse::<Token![=]>()?;
        input.parse::<Path>()
    };
    syn::parse::Parser::parse2(parser, attr).map(Some)
}

fn expand_static(item: &ItemStatic, hook: Option<&Path>) -> syn::Result<TokenStream> {
    if let syn::StaticMutability::Mut(token) = &item.mutability {
        return Err(syn::Error::new_spanned(
            token,
            "a persistent global cannot be `static mut`: use a type with interior \
             mutability (an atomic, a Mutex, ...)",
        ));
    }
    let ItemStatic {
        attrs,
        vis,
        ident,
        ty,
        expr,
        ..
    } = item;
    let name = ident.to_string();
    let migration = match hook {
        None => quote!(::core::option::Option::None),
        Some(hook) => quote! {
            ::core::option::Option::Some(::hcr_client::__private::Migration {
                old: ::hcr_client::__private::old_layout(#hook),
                run: {
                    /// # Safety
                    /// `old` points to a live value of the hook's input type.
                    unsafe fn __hcr_migrate(old: *const u8) -> #ty {
                        // SAFETY: as this function's contract says.
                        #hook(unsafe { &*old.cast() })
                    }
                    __hcr_migrate
                },
            })
        },
    };
    Ok(quote! {
        #(#attrs)*
        #vis static #ident: ::hcr_client::Global<#ty> = ::hcr_client::Global::__new(
            ::core::env!("CARGO_CRATE_NAME"),
            ::core::module_path!(),
            #name,
            {
                #[allow(unexpected_cfgs)]
                let owner = ::core::cfg!(hcr_module);
                owner
            },
            {
                fn __hcr_init() -> #ty {
                    #expr
                }
                __hcr_init
            },
            #migration,
        );

        // The type must have a fingerprint in every build.
        const _: u64 = <#ty as ::hcr_client::Fingerprint>::FINGERPRINT;

        ::hcr_client::__private::hot_static! {
            hot {
                #[allow(unexpected_cfgs)]
                const _: () = {
                    #[cfg(hcr_module)]
                    #[::hcr_client::__private::linkme::distributed_slice(::hcr_client::__private::GLOBALS)]
                    #[linkme(crate = ::hcr_client::__private::linkme)]
                    static ENTRY: &'static dyn ::hcr_client::__private::RegisterGlobal = &#ident;
                };
            }
            static {}
        }
    })
}
