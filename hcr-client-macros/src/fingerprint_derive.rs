//! `#[derive(Fingerprint)]`: a hash of the type's structure (field and
//! variant names in order, each field type's own fingerprint, and the
//! `repr`), computed at compile time.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields};

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match syn::parse2::<DeriveInput>(input) {
        Ok(input) => expand_input(&input),
        Err(err) => err.to_compile_error(),
    }
}

/// Statements that mix `fields` into `state`.
fn mix_fields(fields: &Fields) -> TokenStream {
    let (kind, members): (&str, Vec<(String, &syn::Type)>) = match fields {
        Fields::Named(named) => (
            "named",
            named
                .named
                .iter()
                .map(|field| {
                    let name = field.ident.as_ref().map(ToString::to_string);
                    (name.unwrap_or_default(), &field.ty)
                })
                .collect(),
        ),
        Fields::Unnamed(unnamed) => (
            "unnamed",
            unnamed
                .unnamed
                .iter()
                .enumerate()
                .map(|(index, field)| (index.to_string(), &field.ty))
                .collect(),
        ),
        Fields::Unit => ("unit", Vec::new()),
    };
    let names = members.iter().map(|(name, _)| name);
    let types = members.iter().map(|(_, ty)| ty);
    quote! {
        let state = ::hcr_client::fingerprint::mix_str(state, #kind);
        #(
            let state = ::hcr_client::fingerprint::mix_str(state, #names);
            let state = ::hcr_client::fingerprint::mix_u64(
                state,
                <#types as ::hcr_client::Fingerprint>::FINGERPRINT,
            );
        )*
    }
}

fn expand_input(input: &DeriveInput) -> TokenStream {
    let repr: Vec<String> = input
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("repr"))
        .map(|attr| quote!(#attr).to_string())
        .collect();
    let body = match &input.data {
        Data::Struct(data) => {
            let fields = mix_fields(&data.fields);
            quote! {
                let state = ::hcr_client::fingerprint::start("struct");
                #fields
            }
        }
        Data::Enum(data) => {
            let variants = data.variants.iter().map(|variant| {
                let name = variant.ident.to_string();
                let fields = mix_fields(&variant.fields);
                quote! {
                    let state = ::hcr_client::fingerprint::mix_str(state, #name);
                    #fields
                }
            });
            quote! {
                let state = ::hcr_client::fingerprint::start("enum");
                #(#variants)*
            }
        }
        Data::Union(data) => {
            return syn::Error::new_spanned(
                data.union_token,
                "Fingerprint cannot be derived for a union: which field is valid is not known",
            )
            .to_compile_error();
        }
    };
    let name = &input.ident;
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param
            .bounds
            .push(syn::parse_quote!(::hcr_client::Fingerprint));
    }
    let (impl_generics, type_generics, where_clause) = generics.split_for_impl();
    quote! {
        // SAFETY: the fingerprint hashes every field's name, order and
        // type fingerprint, and the repr; size and alignment are checked
        // beside it.
        unsafe impl #impl_generics ::hcr_client::Fingerprint for #name #type_generics #where_clause {
            const FINGERPRINT: u64 = {
                #body
                #(let state = ::hcr_client::fingerprint::mix_str(state, #repr);)*
                state
            };
        }
    }
}
