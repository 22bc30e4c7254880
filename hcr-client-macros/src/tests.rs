//! Expansions checked as token text: what is refused, with which message,
//! and the shape of what is generated.

use proc_macro2::TokenStream;
use quote::quote;

fn reloadable(attr: TokenStream, item: TokenStream) -> String {
    crate::reloadable::expand(attr, item).to_string()
}

fn error_of(expanded: &str) -> Option<&str> {
    let start = expanded.find("compile_error !")?;
    Some(&expanded[start..])
}

#[test]
fn generic_async_const_methods_and_impl_trait_are_refused_with_reasons() {
    let cases = [
        (
            quote!(
                pub fn f<T>(x: T) {}
            ),
            "cannot be generic",
        ),
        (
            quote!(
                pub async fn f() {}
            ),
            "cannot be async",
        ),
        (
            quote!(
                pub const fn f() {}
            ),
            "cannot be const",
        ),
        (
            quote!(
                pub fn f(&self) {}
            ),
            "a method is made reloadable through its impl block",
        ),
        (
            quote!(
                pub fn f(x: impl Copy) {}
            ),
            "`impl Trait` cannot cross a stub",
        ),
        (
            quote!(
                pub fn f() -> impl Copy {
                    1
                }
            ),
            "`impl Trait` cannot cross a stub",
        ),
        (
            quote!(
                pub extern "system" fn f() {}
            ),
            "Rust ABI or `extern \\\"C\\\"`",
        ),
    ];
    for (item, reason) in cases {
        let expanded = reloadable(TokenStream::new(), item.clone());
        let error = error_of(&expanded).unwrap_or_else(|| panic!("no error for {item}"));
        assert!(error.contains(reason), "{item}: {error}");
        // The function as written is kept, so its callers still compile.
        assert!(expanded.contains(&item.to_string()), "{expanded}");
    }
}

#[test]
fn arguments_to_the_attribute_are_refused() {
    let expanded = reloadable(
        quote!(fast),
        quote!(
            fn f() {}
        ),
    );
    assert!(error_of(&expanded).is_some_and(|e| e.contains("takes no arguments")));
}

#[test]
fn lifetimes_are_allowed_and_erased_only_for_the_layout() {
    let expanded = reloadable(
        TokenStream::new(),
        quote!(
            pub fn first<'a>(items: &'a [String]) -> &'a str {
                &items[0]
            }
        ),
    );
    assert!(error_of(&expanded).is_none(), "{expanded}");
    assert!(
        expanded.contains("text : \"fn(& 'a [String]) -> & 'a str\""),
        "{expanded}"
    );
    assert!(
        expanded.contains("layout_of :: < & 'static [String] > ()"),
        "{expanded}"
    );
}

#[test]
fn a_rust_abi_function_gets_a_wrapper_a_shim_and_a_module_only_entry() {
    let expanded = reloadable(
        TokenStream::new(),
        quote!(
            pub fn area(w: f64) -> f64 {
                w
            }
        ),
    );
    for needle in [
        "hot_static !",
        "# [inline (always)] pub fn area (__hcr_arg0 : f64) -> f64",
        "match STUB . current ()",
        "unsafe fn (f64 , * mut :: hcr_client :: __private :: Panicked) -> :: core :: mem :: MaybeUninit < f64 >",
        "shim (__hcr_arg0 , & mut panicked)",
        "if panicked . raised () { panicked . reraise (& STUB) }",
        ":: core :: option :: Option :: None => __hcr_body_area (__hcr_arg0)",
        "unsafe fn __hcr_registered (__hcr_arg0 : f64 , panicked : * mut :: hcr_client :: __private :: Panicked ,) -> :: core :: mem :: MaybeUninit < f64 >",
        "serve (panicked , move || __hcr_body_area (__hcr_arg0))",
        "# [cfg (hcr_module)] # [:: hcr_client :: __private :: linkme :: distributed_slice",
        "static { pub fn area (w : f64) -> f64 { w } }",
    ] {
        assert!(expanded.contains(needle), "{needle:?} not in {expanded}");
    }
}

#[test]
fn an_extern_c_function_is_registered_as_itself_with_its_body_unwrapped() {
    let expanded = reloadable(
        TokenStream::new(),
        quote!(
            pub extern "C" fn twice(x: i32) -> i32 {
                x * 2
            }
        ),
    );
    assert!(expanded.contains("pub extern \"C\" fn twice (__hcr_arg0 : i32) -> i32"));
    assert!(
        expanded.contains("extern \"C\" fn __hcr_body_twice (x : i32) -> i32"),
        "{expanded}"
    );
    assert!(
        expanded
            .contains("const __hcr_registered : extern \"C\" fn (i32) -> i32 = __hcr_body_twice"),
        "{expanded}"
    );
    // Rust aborts a panic at the end of an `extern "C"` function: no catch.
    assert!(
        expanded.contains("extern \"C\" fn __hcr_body_twice (x : i32) -> i32 { x * 2 }"),
        "{expanded}"
    );
    assert!(!expanded.contains("catch"), "{expanded}");
}

#[test]
fn module_lists_imports_and_checks_crate_imports_are_dependencies() {
    let expanded = crate::module::expand(quote!(imports = [geometry, "c_part"])).to_string();
    assert!(
        expanded.contains("extern crate geometry as _"),
        "{expanded}"
    );
    assert!(expanded.contains("b\"geometry\\0\""), "{expanded}");
    assert!(expanded.contains("b\"c_part\\0\""), "{expanded}");
    assert!(expanded.contains("NameList < 3usize >"), "{expanded}");
    let bad = crate::module::expand(quote!(exports = [x])).to_string();
    assert!(bad.contains("expected `imports = [module"), "{bad}");
    let empty = crate::module::expand(quote!(imports = [""])).to_string();
    assert!(empty.contains("non-empty"), "{empty}");
}

#[test]
fn foreign_blocks_need_a_module_name_and_the_c_abi_and_keep_safe_fns_safe() {
    let expanded = crate::foreign::expand(
        quote!(module = "cm"),
        quote!(
            unsafe extern "C" {
                safe fn add(a: i32) -> i32;
                fn raw(p: *mut u8);
            }
        ),
    )
    .to_string();
    assert!(
        expanded.contains("fn add (__hcr_arg0 : i32) -> i32"),
        "{expanded}"
    );
    assert!(
        expanded.contains("unsafe fn raw (__hcr_arg0 : * mut u8)"),
        "{expanded}"
    );
    assert!(
        expanded.contains("Stub :: foreign (\"cm\" , \"add\")"),
        "{expanded}"
    );
    let no_module = crate::foreign::expand(
        quote!(),
        quote!(
            extern "C" {
                fn f();
            }
        ),
    )
    .to_string();
    assert!(no_module.contains("compile_error"), "{no_module}");
    let wrong_abi = crate::foreign::expand(
        quote!(module = "cm"),
        quote!(
            extern "system" {
                fn f();
            }
        ),
    )
    .to_string();
    assert!(
        wrong_abi.contains("write `extern \\\"C\\\"`"),
        "{wrong_abi}"
    );
    let statics = crate::foreign::expand(
        quote!(module = "cm"),
        quote!(
            extern "C" {
                static X: u8;
            }
        ),
    )
    .to_string();
    assert!(statics.contains("only functions"), "{statics}");
}

#[test]
fn globals_refuse_static_mut_and_unknown_options() {
    let expanded = crate::global::expand(
        TokenStream::new(),
        quote!(
            static mut X: u8 = 0;
        ),
    )
    .to_string();
    assert!(expanded.contains("cannot be `static mut`"), "{expanded}");
    let expanded = crate::global::expand(
        quote!(reset = f),
        quote!(
            static X: u8 = 0;
        ),
    )
    .to_string();
    assert!(
        expanded.contains("expected `migrate = function`"),
        "{expanded}"
    );
}

#[test]
fn a_global_keeps_its_name_and_registers_only_in_the_module_build() {
    let expanded = crate::global::expand(
        quote!(migrate = upgrade),
        quote!(
            pub static COUNT: AtomicU64 = AtomicU64::new(0);
        ),
    )
    .to_string();
    for needle in [
        "pub static COUNT : :: hcr_client :: Global < AtomicU64 >",
        "fn __hcr_init () -> AtomicU64 { AtomicU64 :: new (0) }",
        "old_layout (upgrade)",
        "< AtomicU64 as :: hcr_client :: Fingerprint > :: FINGERPRINT",
        "# [cfg (hcr_module)] # [:: hcr_client :: __private :: linkme :: distributed_slice (:: hcr_client :: __private :: GLOBALS)]",
    ] {
        assert!(expanded.contains(needle), "{needle:?} not in {expanded}");
    }
}

#[test]
fn a_lifecycle_drives_init_veto_and_shutdown_and_the_static_module_list() {
    let expanded = crate::module::expand(quote!(lifecycle = Hooks, imports = [base])).to_string();
    for needle in [
        "init :: < Hooks >",
        "fn hcr_module_can_reload () -> bool",
        "can_reload :: < Hooks > ()",
        "fn hcr_module_shutdown ()",
        "StaticModule :: of :: < Hooks > (:: core :: env ! (\"CARGO_CRATE_NAME\") , & [\"base\"] ,)",
    ] {
        assert!(expanded.contains(needle), "{needle:?} not in {expanded}");
    }
    let default = crate::module::expand(TokenStream::new()).to_string();
    assert!(default.contains("init :: < () >"), "{default}");
}

#[test]
fn a_wrapper_is_always_inlined_unless_its_author_says_otherwise() {
    let plain = reloadable(
        TokenStream::new(),
        quote!(
            pub fn f() {}
        ),
    );
    assert!(plain.contains("# [inline (always)] pub fn f ()"), "{plain}");
    let asked = reloadable(
        TokenStream::new(),
        quote!(
            #[inline(never)]
            pub fn f() {}
        ),
    );
    assert!(asked.contains("# [inline (never)] pub fn f ()"), "{asked}");
    assert!(!asked.contains("inline (always)"), "{asked}");
    let foreign = crate::foreign::expand(
        quote!(module = "cm"),
        quote!(
            unsafe extern "C" {
                fn g();
            }
        ),
    )
    .to_string();
    assert!(
        foreign.contains("# [inline (always)] pub unsafe fn g ()")
            || foreign.contains("# [inline (always)] unsafe fn g ()"),
        "{foreign}"
    );
}

#[test]
fn an_impl_block_makes_its_methods_reloadable_and_registers_them_by_type() {
    let expanded = reloadable(
        quote!(),
        quote!(
            impl World {
                pub fn step(&mut self, dt: f64) -> u32 {
                    0
                }
                fn new() -> Self {
                    World
                }
            }
        ),
    );
    for needle in [
        "\"World::step\"",
        "\"World::new\"",
        // The wrapper keeps the receiver and hands it to the shim first.
        "pub fn step (& mut self , __hcr_arg1 : f64) -> u32",
        "let result = unsafe { shim (self , __hcr_arg1 , & mut panicked) }",
        // Without a runtime: the body, under its hidden name.
        "Self :: __hcr_body_step (self , __hcr_arg1)",
        "fn __hcr_body_step (& mut self , dt : f64) -> u32 { 0 }",
        "unsafe fn __hcr_shim_step (__hcr_self : & mut Self , __hcr_arg1 : f64 , panicked",
        // Outside the block, the signature names the type, not `Self`.
        "text : \"fn(& mut World, f64) -> u32\"",
        "address : < World > :: __hcr_shim_step as * const ()",
        "text : \"fn() -> World\"",
    ] {
        assert!(expanded.contains(needle), "{needle:?} not in {expanded}");
    }
    assert!(error_of(&expanded).is_none(), "{expanded}");
}

#[test]
fn a_trait_impl_keeps_the_trait_methods_and_puts_the_bodies_in_an_inherent_twin() {
    let expanded = reloadable(
        quote!(),
        quote!(
            impl Iterator for Counter {
                type Item = u32;
                fn next(&mut self) -> Option<Self::Item> {
                    None
                }
            }
        ),
    );
    for needle in [
        "impl Iterator for Counter { type Item = u32 ;",
        "fn next (& mut self) -> Option < Self :: Item >",
        "# [doc (hidden)] impl Counter {",
        // Associated types are the trait's, in the twin and in the text.
        "fn __hcr_body_Iterator_next (& mut self) -> Option < < Self as Iterator > :: Item >",
        "use Iterator as _ ;",
        "\"<Counter as Iterator>::next\"",
        "text : \"fn(& mut Counter) -> Option < < Counter as Iterator > :: Item >\"",
    ] {
        assert!(expanded.contains(needle), "{needle:?} not in {expanded}");
    }
}

#[test]
fn marked_methods_alone_are_reloadable_and_a_marked_generic_one_is_refused() {
    let only_marked = reloadable(
        quote!(),
        quote!(
            impl World {
                #[reloadable]
                fn hot(&self) {}
                fn cold(&self) {}
                fn generic<T>(&self, t: T) {}
            }
        ),
    );
    assert!(only_marked.contains("\"World::hot\""), "{only_marked}");
    assert!(!only_marked.contains("\"World::cold\""), "{only_marked}");
    assert!(!only_marked.contains("# [reloadable]"), "{only_marked}");
    assert!(error_of(&only_marked).is_none(), "{only_marked}");

    // Unmarked in a block that makes all reloadable: left as it is.
    let all = reloadable(
        quote!(),
        quote!(
            impl World {
                fn plain(&self) {}
                fn generic<T>(&self, t: T) {}
            }
        ),
    );
    assert!(
        all.contains("\"World::plain\"") && !all.contains("\"World::generic\""),
        "{all}"
    );
    assert!(error_of(&all).is_none(), "{all}");

    for (method, reason) in [
        (
            quote!(
                fn generic<T>(&self, t: T) {}
            ),
            "cannot be generic",
        ),
        (
            quote!(
                async fn later(&self) {}
            ),
            "cannot be async",
        ),
        (
            quote!(
                const fn fixed() -> u8 {
                    1
                }
            ),
            "cannot be const",
        ),
        (
            quote!(
                fn opaque(&self) -> impl Copy {
                    1
                }
            ),
            "`impl Trait` cannot cross a stub",
        ),
        (
            quote!(
                extern "C" fn c(&self) {}
            ),
            "a reloadable method has the Rust ABI",
        ),
    ] {
        let expanded = reloadable(quote!(), quote!(impl World { #[reloadable] #method }));
        let error = error_of(&expanded).unwrap_or_else(|| panic!("accepted: {expanded}"));
        assert!(error.contains(reason), "{reason:?} not in {error}");
    }
}

#[test]
fn generic_and_negative_impl_blocks_are_refused() {
    let generic = reloadable(
        quote!(),
        quote!(
            impl<T> Wrapper<T> {
                fn get(&self) {}
            }
        ),
    );
    assert!(
        error_of(&generic).is_some_and(|e| e.contains("cannot be generic")),
        "{generic}"
    );
    let negative = reloadable(quote!(), quote!(impl !Send for World {}));
    assert!(
        error_of(&negative).is_some_and(|e| e.contains("negative impl")),
        "{negative}"
    );
}

#[test]
fn the_types_behind_references_pointers_and_type_arguments_are_reached() {
    let types: Vec<syn::Type> = vec![
        syn::parse_quote!(&mut State),
        syn::parse_quote!(*const Raw),
        syn::parse_quote!(Box<Boxed>),
        syn::parse_quote!(Vec<Listed>),
        syn::parse_quote!(Option<&'a Maybe>),
        syn::parse_quote!(&[Element]),
        syn::parse_quote!([Item; 4]),
        syn::parse_quote!((u8, &Pair)),
        syn::parse_quote!(std::collections::HashMap<Key, Value>),
        syn::parse_quote!(u64),
        syn::parse_quote!(&dyn Fn(Hidden)),
    ];
    let reached: Vec<String> = crate::signature::reached_types(&types)
        .iter()
        .map(|ty| quote!(#ty).to_string())
        .collect();
    assert_eq!(
        reached,
        [
            "State",
            "Raw",
            "Boxed",
            "Listed",
            "& 'a Maybe",
            "Maybe",
            "[Element]",
            "Element",
            "Item",
            "u8",
            "& Pair",
            "Pair",
            "Key",
            "Value",
            "dyn Fn (Hidden)",
        ]
    );
    // The signature records each with its layout and fingerprint probes.
    let expanded = reloadable(
        quote!(),
        quote!(
            pub fn f(state: &mut State) {}
        ),
    );
    assert!(
        expanded.contains("reached : & [:: hcr_client :: __private :: Reached { name : \"State\""),
        "{expanded}"
    );
}
