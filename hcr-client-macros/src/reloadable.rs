//! `#[reloadable]`: a function that other modules and the host call
//! through its stub.
//!
//! Hot build, for `pub fn area(s: &Shape) -> f64 { .. }`:
//! * `area` keeps its signature, but its body calls what the cell of the
//!   stub of `crate::area` holds (the cell looked up once) through the
//!   panic-safe convention of `__private::Panicked`. This is the code
//!   every other crate compiles in, `#[inline(always)]`.
//! * The original body becomes a hidden function, reached through a shim
//!   (`__private::serve`) that takes the same arguments and a
//!   `Panicked`; only the crate's own module build (`--cfg hcr_module`)
//!   registers the shim, so a crate that links this one as a library
//!   neither exports nor runs its code.
//!
//! An `extern "C"` function is called through the cell with the C ABI
//! (so C modules can call it too, through the stub), and its body is
//! registered as it is: a panic that reaches the end of an `extern "C"`
//! function aborts the process there (Rust guarantees it since 1.81),
//! so it never unwinds into the caller's copy of std, and a body needs
//! no catch (at opt-level 0 a catch costs several calls per call).
//!
//! Static build: the function, unchanged.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{ItemFn, LitStr};

use crate::signature::{Parts, fingerprint, parts};

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let result = if attr.is_empty() {
        match syn::parse2::<syn::Item>(item.clone()) {
            Ok(syn::Item::Impl(block)) => crate::methods::expand_impl(&block),
            _ => syn::parse2::<ItemFn>(item.clone()).and_then(|function| expand_fn(&function)),
        }
    } else {
        Err(syn::Error::new_spanned(
            attr,
            "#[reloadable] takes no arguments",
        ))
    };
    result.unwrap_or_else(|err| {
        // The function as written still compiles, so one mistake does not
        // cascade into errors at every call.
        let error = err.to_compile_error();
        quote!(#error #item)
    })
}

enum Abi {
    Rust,
    C,
}

fn abi_of(function: &ItemFn) -> syn::Result<Abi> {
    match &function.sig.abi {
        None => Ok(Abi::Rust),
        Some(abi) => match abi.name.as_ref().map(LitStr::value).as_deref() {
            Some("C") | None => Ok(Abi::C),
            Some(_) => Err(syn::Error::new_spanned(
                abi,
                "a reloadable function has the Rust ABI or `extern \"C\"`",
            )),
        },
    }
}

fn expand_fn(function: &ItemFn) -> syn::Result<TokenStream> {
    let abi = abi_of(function)?;
    let parts = parts(&function.sig)?;
    let name = &function.sig.ident;
    let name_text = name.to_string();
    let signature_const = format_ident!("__HCR_SIGNATURE_{}", name);
    let cfgs: Vec<_> = function
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .collect();
    let prefix = match abi {
        Abi::Rust => "fn",
        Abi::C => "extern \"C\" fn",
    };
    let unsafe_prefix = if function.sig.unsafety.is_some() {
        format!("unsafe {prefix}")
    } else {
        prefix.to_owned()
    };
    let fingerprint = fingerprint(&unsafe_prefix, &parts);
    let (wrapper, registered) = match abi {
        Abi::Rust => rust_abi(function, &parts),
        Abi::C => c_abi(function, &parts),
    };
    let entry = entry(
        &name_text,
        &quote!(#signature_const),
        &quote!(__hcr_registered),
    );
    let hot = quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_upper_case_globals)]
        const #signature_const: ::hcr_client::__private::Signature = #fingerprint;

        #wrapper

        #(#cfgs)*
        #[allow(unexpected_cfgs)]
        const _: () = {
            #registered

            #entry
        };
    };
    Ok(quote! {
        ::hcr_client::__private::hot_static! {
            hot { #hot }
            static { #function }
        }
    })
}

/// The module build's record of one reloadable function (for its
/// `dat_init` to register): registered name `name_text`, signature
/// constant `signature`, code `address`.
pub(crate) fn entry(
    name_text: &str,
    signature: &TokenStream,
    address: &TokenStream,
) -> TokenStream {
    quote! {
        #[cfg(hcr_module)]
        #[::hcr_client::__private::linkme::distributed_slice(::hcr_client::__private::PROCS)]
        #[linkme(crate = ::hcr_client::__private::linkme)]
        static ENTRY: ::hcr_client::__private::ProcEntry = ::hcr_client::__private::ProcEntry {
            module_path: ::core::module_path!(),
            name: #name_text,
            signature: &#signature,
            address: #address as *const (),
        };
    }
}

/// The stub's handle, as a `static` inside the wrapper: function
/// `name_text` (registered name, before its module path) with the
/// signature constant `signature`.
pub(crate) fn stub_static(name_text: &str, signature: &TokenStream) -> TokenStream {
    quote! {
        static STUB: ::hcr_client::__private::Stub = ::hcr_client::__private::Stub::new(
            ::core::env!("CARGO_CRATE_NAME"),
            ::core::module_path!(),
            #name_text,
            &#signature,
        );
    }
}

/// The type of a Rust-ABI shim taking `types` and returning `result`.
pub(crate) fn shim_type(types: &[syn::Type], result: &syn::Type) -> TokenStream {
    quote! {
        unsafe fn(#(#types,)* *mut ::hcr_client::__private::Panicked)
            -> ::core::mem::MaybeUninit<#result>
    }
}

/// The body of a Rust-ABI wrapper: calls the shim whose stub `stub`
/// declares (as `STUB`), of type `shim_type`, with `args`; without a
/// runtime, runs `fallback`.
pub(crate) fn call_through_stub(
    stub: &TokenStream,
    shim_type: &TokenStream,
    args: &[TokenStream],
    fallback: &TokenStream,
) -> TokenStream {
    quote! {
        #stub
        match STUB.current() {
            ::core::option::Option::Some(target) => {
                // SAFETY: the stub was looked up with this declaration's
                // signature fingerprint, so its cell holds the shim
                // generated from this same declaration, which has exactly
                // this type.
                let shim = unsafe { ::core::mem::transmute::<*const (), #shim_type>(target) };
                let mut panicked = ::hcr_client::__private::Panicked::new();
                // SAFETY: the shim takes the arguments as this function
                // does and writes `panicked` only if the body panics.
                let result = unsafe { shim(#(#args,)* &mut panicked) };
                if panicked.raised() {
                    panicked.reraise(&STUB)
                }
                // SAFETY: the body returned, so the shim returned its result.
                unsafe { result.assume_init() }
            }
            // No runtime in this process: the code linked in here.
            ::core::option::Option::None => #fallback,
        }
    }
}

/// A shim `name` that takes `params` and a `Panicked` and runs `call`
/// (the body) under `serve`.
pub(crate) fn shim_fn(
    name: &syn::Ident,
    generics: &syn::Generics,
    params: &[(syn::Ident, syn::Type)],
    result: &syn::Type,
    call: &TokenStream,
) -> TokenStream {
    let (idents, types): (Vec<_>, Vec<_>) = params.iter().cloned().unzip();
    quote! {
        #[allow(dead_code, reason = "registered only by the module's own build")]
        #[allow(non_snake_case, reason = "named after the function")]
        #[doc(hidden)]
        unsafe fn #name #generics(
            #(#idents: #types,)*
            panicked: *mut ::hcr_client::__private::Panicked,
        ) -> ::core::mem::MaybeUninit<#result> {
            // SAFETY: only the wrappers generated from this declaration
            // call this shim, through the stub's cell, with their live
            // `Panicked`.
            unsafe { ::hcr_client::__private::serve(panicked, move || #call) }
        }
    }
}

/// The wrapper every crate calls, and the shim this crate registers.
fn rust_abi(function: &ItemFn, parts: &Parts) -> (TokenStream, TokenStream) {
    let ItemFn {
        attrs, vis, sig, ..
    } = function;
    let Parts {
        idents,
        types,
        result,
    } = parts;
    let (name, generics, output, unsafety) =
        (&sig.ident, &sig.generics, &sig.output, &sig.unsafety);
    let signature_const = format_ident!("__HCR_SIGNATURE_{}", name);
    let stub = stub_static(&name.to_string(), &quote!(#signature_const));
    let body_name = body_name(function);
    let call_body = match unsafety {
        Some(_) => quote!(unsafe { #body_name(#(#idents),*) }),
        None => quote!(#body_name(#(#idents),*)),
    };
    let body_fn = body_fn(function);
    let inline = inline_unless_asked(attrs);
    let args: Vec<TokenStream> = idents.iter().map(|ident| quote!(#ident)).collect();
    let call = call_through_stub(&stub, &shim_type(types, result), &args, &call_body);
    let wrapper = quote! {
        #(#attrs)*
        #inline
        #vis #unsafety fn #name #generics(#(#idents: #types),*) #output {
            #call
        }

        #body_fn
    };
    let params: Vec<_> = idents.iter().cloned().zip(types.iter().cloned()).collect();
    let registered = shim_fn(
        &format_ident!("__hcr_registered"),
        generics,
        &params,
        result,
        &call_body,
    );
    (wrapper, registered)
}

/// `#[inline(always)]` for a wrapper, unless the user's attributes already
/// say how to inline it: a wrapper is two loads, a test and a call, which
/// every caller should inline, at opt-level 0 too (where only
/// `#[inline(always)]` is honoured), so that a typed call costs what a call
/// through a function pointer costs.
pub(crate) fn inline_unless_asked(attrs: &[syn::Attribute]) -> TokenStream {
    if attrs.iter().any(|attr| attr.path().is_ident("inline")) {
        TokenStream::new()
    } else {
        quote!(#[inline(always)])
    }
}

/// The hidden name of a function's original body.
fn body_name(function: &ItemFn) -> syn::Ident {
    format_ident!("__hcr_body_{}", function.sig.ident)
}

/// The original body, under a hidden name beside the function, keeping
/// its ABI (so an `extern "C"` one can be registered as it is).
fn body_fn(function: &ItemFn) -> TokenStream {
    let ItemFn { sig, block, .. } = function;
    let mut sig = sig.clone();
    sig.ident = body_name(function);
    let lints = lint_attrs(&function.attrs);
    quote! {
        #(#lints)*
        #[doc(hidden)]
        #[allow(non_snake_case, clippy::too_many_arguments, reason = "as the user wrote it")]
        #sig #block
    }
}

/// The attributes of a function that say how its code is linted (and
/// where it is compiled): they go on its hidden body too, where that code
/// now is.
pub(crate) fn lint_attrs(attrs: &[syn::Attribute]) -> Vec<&syn::Attribute> {
    attrs
        .iter()
        .filter(|attr| {
            ["cfg", "allow", "warn", "deny", "forbid", "expect"]
                .iter()
                .any(|name| attr.path().is_ident(name))
        })
        .collect()
}

/// An `extern "C"` reloadable function: the wrapper calls the stub with the
/// C ABI; the registered code is the body, which must not unwind.
fn c_abi(function: &ItemFn, parts: &Parts) -> (TokenStream, TokenStream) {
    let ItemFn {
        attrs, vis, sig, ..
    } = function;
    let Parts { idents, types, .. } = parts;
    let (name, generics, output, unsafety) =
        (&sig.ident, &sig.generics, &sig.output, &sig.unsafety);
    let signature_const = format_ident!("__HCR_SIGNATURE_{}", name);
    let stub = stub_static(&name.to_string(), &quote!(#signature_const));
    let body_name = body_name(function);
    let body_fn = body_fn(function);
    let call = |target: TokenStream| match unsafety {
        Some(_) => quote!(unsafe { #target(#(#idents),*) }),
        None => quote!(#target(#(#idents),*)),
    };
    let (through_stub, direct) = (call(quote!(target)), call(quote!(#body_name)));
    let inline = inline_unless_asked(attrs);
    let wrapper = quote! {
        #(#attrs)*
        #inline
        #vis #unsafety extern "C" fn #name #generics(#(#idents: #types),*) #output {
            #stub
            match STUB.current() {
                ::core::option::Option::Some(target) => {
                    // SAFETY: the stub was looked up with this declaration's
                    // signature fingerprint, so its cell holds a function
                    // with exactly this C signature.
                    let target: #unsafety extern "C" fn(#(#types),*) #output =
                        unsafe { ::core::mem::transmute::<*const (), _>(target) };
                    #through_stub
                }
                // No runtime in this process: the code linked in here.
                ::core::option::Option::None => #direct,
            }
        }

        #body_fn
    };
    let registered = quote! {
        const __hcr_registered: #unsafety extern "C" fn(#(#types),*) #output = #body_name;
    };
    (wrapper, registered)
}
