//! `#[reloadable]` on an `impl` block: methods and associated functions
//! that every caller reaches through their stubs.
//!
//! Hot build, for `impl World { pub fn step(&mut self, dt: f64) -> u32 { .. } }`:
//! * `step` keeps its signature; its body calls the shim the cell of the
//!   stub of `World::step` holds, as a free function's wrapper does, with
//!   the receiver as the first argument.
//! * The original body becomes a hidden associated function, run by a
//!   hidden shim (receiver, arguments, `Panicked`); only the module's own
//!   build registers the shim.
//! * For `impl Trait for Type`, the wrapper is the trait's method, so a
//!   `dyn Trait` made by any version and generic code compiled into any
//!   crate reach the newest code. The hidden functions go into an inherent
//!   `impl Type` beside it (a trait impl holds only the trait's items).
//!
//! An attribute on a method cannot see the type of its impl, which the
//! registration names, so methods are made reloadable through their block:
//! every eligible method, or, when some carry `#[reloadable]`, only those.
//! Generic, `async`, `const`, `extern` and `impl Trait` methods are left as
//! they are, or refused with the reason when marked. Trait methods the
//! impl does not write (defaults) are not in the block and stay ordinary.
//!
//! Static build: the block as written, without the markers.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, Type};

use crate::reloadable::{
    call_through_stub, entry, inline_unless_asked, lint_attrs, shim_fn, shim_type, stub_static,
};
use crate::signature::{Parts, check, fingerprint, result_type};

/// Whether `attr` is `#[reloadable]` (or a path ending in it).
fn is_marker(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "reloadable")
}

fn without_markers(method: &ImplItemFn) -> ImplItemFn {
    let mut method = method.clone();
    method.attrs.retain(|attr| !is_marker(attr));
    method
}

/// Token text without spaces, for names.
fn text_of(tokens: &impl quote::ToTokens) -> String {
    tokens.to_token_stream().to_string().replace(' ', "")
}

/// `text` as part of an identifier.
fn ident_part(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The impl block being expanded: its type and, for a trait impl, the
/// trait.
struct Block<'a> {
    self_ty: &'a Type,
    trait_path: Option<&'a syn::Path>,
}

impl Block<'_> {
    /// What hidden names of this block's methods carry, so that two trait
    /// impls for one type do not collide.
    fn tag(&self) -> String {
        match self.trait_path {
            Some(path) => format!("{}_", ident_part(&text_of(path))),
            None => String::new(),
        }
    }

    /// The name a method is registered under (before its module path).
    fn registered_name(&self, method: &syn::Ident) -> String {
        let ty = text_of(self.self_ty);
        match self.trait_path {
            Some(path) => format!("<{ty} as {}>::{method}", text_of(path)),
            None => format!("{ty}::{method}"),
        }
    }

    /// `ty` with `Self` written out as the block's type, for what is
    /// compiled outside the block (the signature fingerprint).
    fn outside(&self, ty: &Type) -> Type {
        let mut ty = ty.clone();
        SelfRewrite {
            self_ty: Some(self.self_ty),
            trait_path: self.trait_path,
        }
        .visit_type_mut(&mut ty);
        ty
    }

    /// `ty` as the hidden functions see it: in a trait impl's inherent
    /// twin, `Self::Assoc` names the trait's associated type.
    fn inside(&self, ty: &Type) -> Type {
        let mut ty = ty.clone();
        if self.trait_path.is_some() {
            SelfRewrite {
                self_ty: None,
                trait_path: self.trait_path,
            }
            .visit_type_mut(&mut ty);
        }
        ty
    }
}

/// Rewrites `Self` in types: to the block's type (`self_ty`), and
/// `Self::Assoc` to `<Self as Trait>::Assoc` in a trait impl.
struct SelfRewrite<'a> {
    self_ty: Option<&'a Type>,
    trait_path: Option<&'a syn::Path>,
}

impl VisitMut for SelfRewrite<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::Path(path) = ty {
            let starts_with_self = path.qself.is_none()
                && path
                    .path
                    .segments
                    .first()
                    .is_some_and(|segment| segment.ident == "Self");
            if starts_with_self {
                let me: Type = match self.self_ty {
                    Some(self_ty) => self_ty.clone(),
                    None => syn::parse_quote!(Self),
                };
                let rest: Vec<_> = path.path.segments.iter().skip(1).collect();
                *ty = match (rest.is_empty(), self.trait_path) {
                    (true, _) => me,
                    (false, Some(trait_path)) => {
                        syn::parse_quote!(<#me as #trait_path>::#(#rest)::*)
                    }
                    (false, None) => syn::parse_quote!(<#me>::#(#rest)::*),
                };
                return;
            }
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

pub(crate) fn expand_impl(block: &ItemImpl) -> syn::Result<TokenStream> {
    if let Some(param) = block.generics.params.first() {
        return Err(syn::Error::new_spanned(
            param,
            "a reloadable impl block cannot be generic: its methods are compiled into each \
             caller for each type, where a reload cannot reach them",
        ));
    }
    if let Some((Some(bang), _, _)) = &block.trait_ {
        return Err(syn::Error::new_spanned(
            bang,
            "a negative impl has no methods to reload",
        ));
    }
    let this = Block {
        self_ty: &block.self_ty,
        trait_path: block.trait_.as_ref().map(|(_, path, _)| path),
    };
    let any_marked = block.items.iter().any(|item| match item {
        ImplItem::Fn(method) => method.attrs.iter().any(is_marker),
        _ => false,
    });
    let mut items = Vec::new();
    let mut hidden = Vec::new();
    let mut outside = Vec::new();
    let mut plain = block.clone();
    for item in &mut plain.items {
        if let ImplItem::Fn(method) = item {
            *method = without_markers(method);
        }
    }
    for item in &block.items {
        let ImplItem::Fn(method) = item else {
            items.push(quote!(#item));
            continue;
        };
        let marked = method.attrs.iter().any(is_marker);
        let method = without_markers(method);
        let eligible = check(&method.sig).and_then(|()| match &method.sig.abi {
            None => Ok(()),
            Some(abi) => Err(syn::Error::new_spanned(
                abi,
                "a reloadable method has the Rust ABI",
            )),
        });
        match (any_marked && !marked, eligible) {
            (true, _) => items.push(quote!(#method)),
            (false, Err(err)) if marked => return Err(err),
            (false, Err(_)) => items.push(quote!(#method)),
            (false, Ok(())) => {
                let expanded = expand_method(&this, &method);
                items.push(expanded.wrapper);
                hidden.push(expanded.hidden);
                outside.push(expanded.outside);
            }
        }
    }
    let ItemImpl {
        attrs,
        defaultness,
        unsafety,
        impl_token,
        trait_,
        self_ty,
        ..
    } = block;
    let trait_part = trait_
        .as_ref()
        .map(|(_, path, for_token)| quote!(#path #for_token));
    let hot = match trait_ {
        None => quote! {
            #(#attrs)*
            #defaultness #unsafety #impl_token #self_ty {
                #(#items)*
                #(#hidden)*
            }
            #(#outside)*
        },
        Some(_) => quote! {
            #(#attrs)*
            #defaultness #unsafety #impl_token #trait_part #self_ty {
                #(#items)*
            }
            #[doc(hidden)]
            impl #self_ty {
                #(#hidden)*
            }
            #(#outside)*
        },
    };
    Ok(quote! {
        ::hcr_client::__private::hot_static! {
            hot { #hot }
            static { #plain }
        }
    })
}

/// One method, expanded.
struct Expanded {
    /// In place of the method: the wrapper.
    wrapper: TokenStream,
    /// In the block (or its inherent twin): the body and the shim.
    hidden: TokenStream,
    /// After the block: the signature fingerprint and the entry.
    outside: TokenStream,
}

fn expand_method(this: &Block<'_>, method: &ImplItemFn) -> Expanded {
    let sig = &method.sig;
    let name = &sig.ident;
    let tag = this.tag();
    let body_name = format_ident!("__hcr_body_{}{}", tag, name);
    let shim_name = format_ident!("__hcr_shim_{}{}", tag, name);
    let signature_const = format_ident!(
        "__HCR_SIGNATURE_{}_{}{}",
        ident_part(&text_of(this.self_ty)),
        tag,
        name
    );
    let registered = this.registered_name(name);
    let cfgs: Vec<_> = method
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"))
        .collect();

    // The parameters: the receiver (as `self` in the wrapper, `__hcr_self`
    // in the shim), then the others.
    let mut wrapper_inputs = Vec::new();
    let mut args = Vec::new();
    let mut params = Vec::new();
    for (index, input) in sig.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                let mut receiver = receiver.clone();
                if receiver.reference.is_none() {
                    // `mut self`: the wrapper only hands it on.
                    receiver.mutability = None;
                }
                wrapper_inputs.push(quote!(#receiver));
                args.push(quote!(self));
                params.push((format_ident!("__hcr_self"), this.inside(&receiver.ty)));
            }
            FnArg::Typed(typed) => {
                let ident = format_ident!("__hcr_arg{index}");
                let ty = &typed.ty;
                wrapper_inputs.push(quote!(#ident: #ty));
                args.push(quote!(#ident));
                params.push((ident, this.inside(ty)));
            }
        }
    }
    let result = this.inside(&result_type(sig));
    let types: Vec<Type> = params.iter().map(|(_, ty)| ty.clone()).collect();
    let unsafety = &sig.unsafety;
    let call = |args: &[TokenStream]| match unsafety {
        Some(_) => quote!(unsafe { Self::#body_name(#(#args),*) }),
        None => quote!(Self::#body_name(#(#args),*)),
    };
    let fallback = call(&args);
    let shim_args: Vec<TokenStream> = params.iter().map(|(ident, _)| quote!(#ident)).collect();
    let shim_call = call(&shim_args);

    let stub = stub_static(&registered, &quote!(#signature_const));
    let through = call_through_stub(&stub, &shim_type(&types, &result), &args, &fallback);
    let ImplItemFn {
        attrs,
        vis,
        defaultness,
        ..
    } = method;
    let (generics, output, constness, asyncness, abi) = (
        &sig.generics,
        &sig.output,
        &sig.constness,
        &sig.asyncness,
        &sig.abi,
    );
    let inline = inline_unless_asked(attrs);
    let wrapper = quote! {
        #(#attrs)*
        #inline
        #vis #defaultness #constness #asyncness #unsafety #abi fn #name #generics(
            #(#wrapper_inputs),*
        ) #output {
            #through
        }
    };

    // The body, under its hidden name; in a trait impl's inherent twin the
    // trait must be in scope for its own methods and items.
    let mut body_sig = sig.clone();
    body_sig.ident = body_name.clone();
    for input in &mut body_sig.inputs {
        if let FnArg::Typed(typed) = input {
            *typed.ty = this.inside(&typed.ty);
        }
    }
    if let syn::ReturnType::Type(_, ty) = &mut body_sig.output {
        **ty = this.inside(ty);
    }
    let block = &method.block;
    let body = match this.trait_path {
        Some(trait_path) => {
            let mut usable = trait_path.clone();
            if let Some(last) = usable.segments.last_mut() {
                last.arguments = syn::PathArguments::None;
            }
            quote! {{
                #[allow(unused_imports)]
                use #usable as _;
                #block
            }}
        }
        None => quote!(#block),
    };
    let shim = shim_fn(&shim_name, generics, &params, &result, &shim_call);
    let lints = lint_attrs(&method.attrs);
    let hidden = quote! {
        #(#lints)*
        #[doc(hidden)]
        #[allow(non_snake_case, clippy::too_many_arguments, reason = "as the user wrote it")]
        #body_sig #body

        #(#cfgs)*
        #shim
    };

    let outside_parts = Parts {
        idents: Vec::new(),
        types: types.iter().map(|ty| this.outside(ty)).collect(),
        result: this.outside(&result),
    };
    let prefix = if unsafety.is_some() {
        "unsafe fn"
    } else {
        "fn"
    };
    let fingerprint = fingerprint(prefix, &outside_parts);
    let self_ty = this.self_ty;
    let entry = entry(
        &registered,
        &quote!(#signature_const),
        &quote!(<#self_ty>::#shim_name),
    );
    let outside = quote! {
        #(#cfgs)*
        #[doc(hidden)]
        #[allow(non_upper_case_globals, non_snake_case)]
        const #signature_const: ::hcr_client::__private::Signature = #fingerprint;

        #(#cfgs)*
        #[allow(unexpected_cfgs)]
        const _: () = {
            #entry
        };
    };
    Expanded {
        wrapper,
        hidden,
        outside,
    }
}
