//! Structural fingerprints: what changes them and what does not.

#![expect(dead_code, reason = "the types are only fingerprinted, never built")]

use hcr_client::Fingerprint;

mod before {
    #[derive(hcr_client::Fingerprint)]
    pub struct Settings {
        pub width: u32,
        pub height: u32,
    }
}

mod renamed {
    #[derive(hcr_client::Fingerprint)]
    pub struct Config {
        pub width: u32,
        pub height: u32,
    }
}

mod reordered {
    #[derive(hcr_client::Fingerprint)]
    pub struct Settings {
        pub height: u32,
        pub width: u32,
    }
}

mod retyped {
    #[derive(hcr_client::Fingerprint)]
    pub struct Settings {
        pub width: i32,
        pub height: u32,
    }
}

mod field_renamed {
    #[derive(hcr_client::Fingerprint)]
    pub struct Settings {
        pub w: u32,
        pub height: u32,
    }
}

mod nested {
    #[derive(hcr_client::Fingerprint)]
    pub struct Inner(pub u8);

    #[derive(hcr_client::Fingerprint)]
    pub struct Outer {
        pub inner: Vec<Inner>,
    }
}

mod nested_changed {
    #[derive(hcr_client::Fingerprint)]
    pub struct Inner(pub i8);

    #[derive(hcr_client::Fingerprint)]
    pub struct Outer {
        pub inner: Vec<Inner>,
    }
}

#[derive(hcr_client::Fingerprint)]
enum Shape {
    Circle { radius: f64 },
    Square(f64),
    Empty,
}

#[derive(hcr_client::Fingerprint)]
enum ShapeSwapped {
    Square(f64),
    Circle { radius: f64 },
    Empty,
}

#[derive(hcr_client::Fingerprint)]
struct Pair<T> {
    first: T,
    second: T,
}

#[test]
fn the_type_name_does_not_count_but_field_order_types_and_names_do() {
    let base = before::Settings::FINGERPRINT;
    assert_eq!(base, renamed::Config::FINGERPRINT);
    assert_ne!(base, reordered::Settings::FINGERPRINT);
    assert_ne!(base, retyped::Settings::FINGERPRINT);
    assert_ne!(base, field_renamed::Settings::FINGERPRINT);
}

#[test]
fn changes_are_seen_through_nesting_enums_and_generics() {
    assert_ne!(
        nested::Outer::FINGERPRINT,
        nested_changed::Outer::FINGERPRINT
    );
    assert_ne!(Shape::FINGERPRINT, ShapeSwapped::FINGERPRINT);
    assert_ne!(Pair::<u16>::FINGERPRINT, Pair::<i16>::FINGERPRINT);
    assert_ne!(
        std::sync::Mutex::<before::Settings>::FINGERPRINT,
        std::sync::Mutex::<reordered::Settings>::FINGERPRINT
    );
}
