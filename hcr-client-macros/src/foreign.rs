//! `#[foreign(module = "name")]` on an `extern "C"` block: functions of a
//! module written in C (or any language with the C ABI), called through
//! their stubs in a hot build and linked directly in a static build.

use proc_macro2::{TokenStream, TokenTree};
use quote::quote;
use syn::{ForeignItem, ForeignItemFn, ItemForeignMod, LitStr, Token};

use crate::signature::{Parts, parts};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let result = module_name(attr).and_then(|module| {
        let block = syn::parse2::<ItemForeignMod>(item.clone())?;
        expand_block(&module, &block)
    });
    result.unwrap_or_else(|err| err.to_compile_error())
}

fn module_name(attr: TokenStream) -> syn::Result<LitStr> {
    let parser = |input: syn::parse::ParseStream<'_>| {
        let key: syn::Ident = input.parse()?;
        if key != "module" {
            return Err(syn::Error::new_spanned(key, "expected `module = \"name\"`"));
        }
        input.parse::<Token![=]>()?;
        input.parse::<LitStr>()
    };
    syn::parse::Parser::parse2(parser, attr)
}

fn expand_block(module: &LitStr, block: &ItemForeignMod) -> syn::Result<TokenStream> {
    if block
        .abi
        .name
        .as_ref()
        .is_some_and(|name| name.value() != "C")
    {
        return Err(syn::Error::new_spanned(
            &block.abi,
            "a foreign module is called with the C ABI: write `extern \"C\"`",
        ));
    }
    let mut wrappers = Vec::new();
    for item in &block.items {
        let (function, is_safe) = foreign_fn(item)?;
        let Parts { idents, types, .. } = parts(&function.sig)?;
        let (attrs, vis, name, output) = (
            &function.attrs,
            &function.vis,
            &function.sig.ident,
            &function.sig.output,
        );
        let name_text = name.to_string();
        let unsafety = (!is_safe).then(|| quote!(unsafe));
        let inline = crate::reloadable::inline_unless_asked(attrs);
        wrappers.push(quote! {
            #(#attrs)*
            #inline
            #vis #unsafety fn #name(#(#idents: #types),*) #output {
                static STUB: ::hcr_client::__private::Stub =
                    ::hcr_client::__private::Stub::foreign(#module, #name_text);
                // SAFETY: the declaration in the `extern` block is the
                // author's promise of the proc's C signature, as for any
                // foreign function.
                unsafe {
                    let target: unsafe extern "C" fn(#(#types),*) #output =
                        ::core::mem::transmute::<*const (), _>(STUB.foreign_current());
                    target(#(#idents),*)
                }
            }
        });
    }
    Ok(quote! {
        ::hcr_client::__private::hot_static! {
            hot { #(#wrappers)* }
            static { #block }
        }
    })
}

/// A function of the block, and whether it was declared `safe fn` (which
/// may be called without `unsafe`; the others stay `unsafe fn`). syn keeps
/// `safe fn` items as raw tokens, so the keyword is taken out here.
fn foreign_fn(item: &ForeignItem) -> syn::Result<(ForeignItemFn, bool)> {
    match item {
        ForeignItem::Fn(function) => Ok((function.clone(), false)),
        ForeignItem::Verbatim(tokens) => {
            let mut seen_safe = false;
            let without_safe: TokenStream = tokens
                .clone()
                .into_iter()
                .filter(|token| {
                    let is_safe =
                        !seen_safe && matches!(token, TokenTree::Ident(ident) if ident == "safe");
                    seen_safe |= is_safe;
                    !is_safe
                })
                .collect();
            let function = syn::parse2::<ForeignItemFn>(without_safe)?;
            Ok((function, seen_safe))
        }
        _ => Err(syn::Error::new_spanned(
            item,
            "only functions can be imported from a foreign module",
        )),
    }
}
