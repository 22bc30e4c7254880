//! Reloadable methods and trait impls (fixture `fx_shapes`, versions 1
//! and 2): every kind of receiver, a trait object made before a reload,
//! and generic code compiled into this host.

use std::panic::catch_unwind;

use fx_shapes::{Describe, Shape};

fn start(host: &hcr_tests::Host) -> hcr_client::Host {
    host.install("fx_shapes", "fx_shapes-1");
    host.start(&["fx_shapes"])
}

fn to_version_2(host: &hcr_tests::Host, hcr: &hcr_client::Host) {
    host.install("fx_shapes", "fx_shapes-2");
    let report = hcr.reload().unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(report.modules, ["fx_shapes"]);
}

fn rectangle() -> Shape {
    Shape {
        width: 2.0,
        height: 3.0,
    }
}

/// Compiled into this crate for `T`: reaches the impl through its stub.
fn describe_generically<T: Describe>(value: &T) -> String {
    value.describe()
}

scenario! {
    fn methods_with_every_kind_of_receiver_run_the_new_code_after_a_reload(host) {
        let hcr = start(host);
        let calls = || {
            let mut grown = rectangle();
            grown.grow(1.0);
            (
                Shape::square(2.0).height,
                rectangle().widened().width,
                rectangle().perimeter(),
                grown.width,
                Box::new(rectangle()).into_area(),
            )
        };
        assert_eq!(calls(), (2.0, 2.0, 10.0, 3.0, 6.0));
        // A pointer to a method is a pointer to its wrapper, which reads
        // the stub's cell at every call.
        let perimeter: fn(&Shape) -> f64 = Shape::perimeter;
        to_version_2(host, &hcr);
        assert_eq!(calls(), (4.0, 4.0, 20.0, 4.0, 12.0));
        assert_eq!(perimeter(&rectangle()), 20.0);
    }
}

scenario! {
    fn a_trait_object_made_before_a_reload_runs_the_new_code_after_it(host) {
        let hcr = start(host);
        // Made by version 1's code: its vtable is in version 1's library.
        let made_by_module = fx_shapes::boxed(1.0, 2.0);
        let made_here: Box<dyn Describe> = Box::new(rectangle());
        assert_eq!(made_by_module.describe(), "v1 1x2 shape");
        assert_eq!(made_here.describe(), "v1 2x3 shape");
        assert_eq!(describe_generically(&rectangle()), "v1 2x3 shape");

        to_version_2(host, &hcr);
        assert_eq!(made_by_module.describe(), "v2 1x2 shape");
        assert_eq!(made_here.describe(), "v2 2x3 shape");
        assert_eq!(describe_generically(&rectangle()), "v2 2x3 shape");
        // The default method the impl does not write is the trait's own.
        assert_eq!(made_by_module.kind(), "shape");
    }
}

scenario! {
    fn a_panicking_method_is_reraised_naming_it(host) {
        let _hcr = start(host);
        let negative = Shape { width: -1.0, height: 1.0 };
        let payload = catch_unwind(|| negative.describe_checked()).unwrap_err();
        let text = payload.downcast_ref::<String>().cloned().unwrap_or_default();
        assert_eq!(text, "fx_shapes::Shape::describe_checked panicked: a negative width");
    }
}
