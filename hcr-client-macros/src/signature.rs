//! What every expansion needs from a function's declaration: its parameter
//! types, the names the wrapper binds them to, and its signature
//! fingerprint.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, Lifetime, ReturnType, Signature, Type};

/// The parameters and result of a function, ready to expand.
pub(crate) struct Parts {
    /// `__hcr_arg0`, `__hcr_arg1`, ...
    pub(crate) idents: Vec<Ident>,
    /// Each parameter's type.
    pub(crate) types: Vec<Type>,
    /// The result type (`()` when none is written).
    pub(crate) result: Type,
}

/// Refuses what cannot cross a stub: generics (lifetimes aside), `async`,
/// `const`, variadics and `impl Trait` in a parameter or the result.
pub(crate) fn check(signature: &Signature) -> syn::Result<()> {
    if let Some(param) = signature
        .generics
        .params
        .iter()
        .find(|param| !matches!(param, syn::GenericParam::Lifetime(_)))
    {
        return Err(syn::Error::new_spanned(
            param,
            "a reloadable function cannot be generic: its code is compiled into each caller, \
             where a reload cannot reach it",
        ));
    }
    if let Some(asyncness) = &signature.asyncness {
        return Err(syn::Error::new_spanned(
            asyncness,
            "a reloadable function cannot be async",
        ));
    }
    if let Some(constness) = &signature.constness {
        return Err(syn::Error::new_spanned(
            constness,
            "a reloadable function cannot be const: its calls are evaluated at compile time",
        ));
    }
    if let Some(variadic) = &signature.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            "a reloadable function cannot be variadic",
        ));
    }
    for input in &signature.inputs {
        if let FnArg::Typed(typed) = input {
            refuse_impl_trait(&typed.ty)?;
        }
    }
    if let ReturnType::Type(_, ty) = &signature.output {
        refuse_impl_trait(ty)?;
    }
    Ok(())
}

/// Reads the parameters of a free function, refusing what cannot cross a
/// stub.
pub(crate) fn parts(signature: &Signature) -> syn::Result<Parts> {
    check(signature)?;
    let mut idents = Vec::new();
    let mut types = Vec::new();
    for (index, input) in signature.inputs.iter().enumerate() {
        match input {
            FnArg::Receiver(receiver) => {
                return Err(syn::Error::new_spanned(
                    receiver,
                    "a method is made reloadable through its impl block: put \
                     `#[hcr_client::reloadable]` on the `impl` (an attribute on a method cannot \
                     see the type it belongs to); inside it, `#[reloadable]` on some methods \
                     makes only those reloadable",
                ));
            }
            FnArg::Typed(typed) => {
                idents.push(format_ident!("__hcr_arg{index}"));
                types.push((*typed.ty).clone());
            }
        }
    }
    Ok(Parts {
        idents,
        types,
        result: result_type(signature),
    })
}

/// The result type, `()` when none is written.
pub(crate) fn result_type(signature: &Signature) -> Type {
    match &signature.output {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    }
}

fn refuse_impl_trait(ty: &Type) -> syn::Result<()> {
    struct Finder(Option<syn::TypeImplTrait>);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_type_impl_trait(&mut self, found: &'ast syn::TypeImplTrait) {
            self.0.get_or_insert_with(|| found.clone());
        }
    }
    let mut finder = Finder(None);
    syn::visit::visit_type(&mut finder, ty);
    match finder.0 {
        Some(found) => Err(syn::Error::new_spanned(
            found,
            "`impl Trait` cannot cross a stub: name the type",
        )),
        None => Ok(()),
    }
}

/// `T` with every lifetime replaced by `'static`, so that its layout can
/// be taken in a `const` outside the function.
fn erase_lifetimes(ty: &Type) -> Type {
    struct Eraser;
    impl VisitMut for Eraser {
        fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
            *lifetime = Lifetime::new("'static", Span::call_site());
        }
        fn visit_type_reference_mut(&mut self, reference: &mut syn::TypeReference) {
            reference
                .lifetime
                .get_or_insert_with(|| Lifetime::new("'static", Span::call_site()));
            syn::visit_mut::visit_type_reference_mut(self, reference);
        }
    }
    let mut ty = ty.clone();
    Eraser.visit_type_mut(&mut ty);
    ty
}

/// A `::hcr_client::__private::Signature` value for this declaration.
pub(crate) fn fingerprint(prefix: &str, parts: &Parts) -> TokenStream {
    let Parts { types, result, .. } = parts;
    let text = format!(
        "{prefix}({}) -> {}",
        types
            .iter()
            .map(|ty| quote!(#ty).to_string())
            .collect::<Vec<_>>()
            .join(", "),
        quote!(#result)
    );
    let erased = types.iter().chain([result]).map(erase_lifetimes);
    let reached = reached_types(types.iter().chain([result])).into_iter().map(|ty| {
        let name = quote!(#ty).to_string();
        let ty = erase_lifetimes(&ty);
        quote! {
            ::hcr_client::__private::Reached {
                name: #name,
                layout: || {
                    use ::hcr_client::__private::{SizedProbe as _, UnsizedProbe as _};
                    (&::hcr_client::__private::Probe::<#ty>::NEW).layout()
                },
                fingerprint: || {
                    use ::hcr_client::__private::{FingerprintProbe as _, NoFingerprintProbe as _};
                    (&::hcr_client::__private::Probe::<#ty>::NEW).fingerprint()
                },
            }
        }
    });
    quote! {
        ::hcr_client::__private::Signature {
            text: #text,
            layout: &[#(::hcr_client::__private::layout_of::<#erased>()),*],
            reached: &[#(#reached),*],
        }
    }
}

/// The types `types` reach: behind a reference or a raw pointer, as the
/// element of a slice, an array or a tuple, and as a type argument of a
/// path (`Box<T>`, `Vec<T>`, `Option<T>`, `HashMap<K, V>`), at any depth;
/// each once, in the order first met.
pub(crate) fn reached_types<'a>(types: impl IntoIterator<Item = &'a Type>) -> Vec<Type> {
    fn inner(ty: &Type) -> Vec<&Type> {
        match ty {
            Type::Reference(reference) => vec![&*reference.elem],
            Type::Ptr(pointer) => vec![&*pointer.elem],
            Type::Slice(slice) => vec![&*slice.elem],
            Type::Array(array) => vec![&*array.elem],
            Type::Tuple(tuple) => tuple.elems.iter().collect(),
            Type::Paren(paren) => inner(&paren.elem),
            Type::Group(group) => inner(&group.elem),
            Type::Path(path) => path
                .path
                .segments
                .iter()
                .filter_map(|segment| match &segment.arguments {
                    syn::PathArguments::AngleBracketed(arguments) => Some(&arguments.args),
                    _ => None,
                })
                .flatten()
                .filter_map(|argument| match argument {
                    syn::GenericArgument::Type(ty) => Some(ty),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }
    let mut reached: Vec<Type> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut pending: Vec<&Type> = types.into_iter().flat_map(inner).collect();
    pending.reverse();
    while let Some(ty) = pending.pop() {
        let name = quote!(#ty).to_string();
        if !names.contains(&name) {
            names.push(name);
            reached.push(ty.clone());
        }
        pending.extend(inner(ty).into_iter().rev());
    }
    reached
}
