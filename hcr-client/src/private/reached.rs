//! The types a reloadable function's parameters and result reach behind a
//! reference, a pointer, a slice, an array or a type parameter (`&mut
//! State`, `Box<State>`, `Vec<State>`, `Option<&State>`): the caller and
//! the callee each lay those out as their own build says, and a field
//! added on one side only is memory read wrongly on the other. Each is
//! recorded with its size and alignment (where it has a size) and its
//! [`Fingerprint`] (where it has one) for [`Signature`](super::Signature).
//!
//! Whether a type has a size or a fingerprint is decided where the macro
//! expands, for the concrete type: [`Probe`] has the method that answers
//! yes where the type allows it, and a reference to it the one that
//! answers no, so method lookup takes the first that applies.

use std::marker::PhantomData;

use crate::Fingerprint;

/// A type reached through a parameter or the result, as the macro records
/// it: its name as written, and what this build lays out for it.
#[derive(Debug)]
pub struct Reached {
    /// The type as written (`State`, `Vec < u8 >`).
    pub name: &'static str,
    /// (size, align), unless the type is unsized (`str`, `[T]`, `dyn Trait`).
    pub layout: fn() -> Option<(usize, usize)>,
    /// Its structural fingerprint, when it implements [`Fingerprint`].
    pub fingerprint: fn() -> Option<u64>,
}

impl Reached {
    /// ` [reached State 24/8 fp 0x…]`, or nothing for a type with neither
    /// a size nor a fingerprint.
    pub(crate) fn render(&self) -> String {
        let layout = (self.layout)().map(|(size, align)| format!(" {size}/{align}"));
        let fingerprint = (self.fingerprint)().map(|hash| format!(" fp {hash:#018x}"));
        if layout.is_none() && fingerprint.is_none() {
            return String::new();
        }
        format!(
            " [reached {}{}{}]",
            self.name,
            layout.unwrap_or_default(),
            fingerprint.unwrap_or_default()
        )
    }
}

/// Stands for type `T` in method lookups that ask what `T` allows.
pub struct Probe<T: ?Sized>(PhantomData<T>);

impl<T: ?Sized> Probe<T> {
    /// The probe.
    pub const NEW: Self = Probe(PhantomData);
}

/// The layout of a sized type.
pub trait SizedProbe {
    /// (size, align).
    fn layout(&self) -> Option<(usize, usize)>;
}

impl<T> SizedProbe for Probe<T> {
    fn layout(&self) -> Option<(usize, usize)> {
        Some((size_of::<T>(), align_of::<T>()))
    }
}

/// No layout: the type is unsized.
pub trait UnsizedProbe {
    /// None.
    fn layout(&self) -> Option<(usize, usize)> {
        None
    }
}

impl<T: ?Sized> UnsizedProbe for &Probe<T> {}

/// The fingerprint of a type that has one.
pub trait FingerprintProbe {
    /// Its fingerprint.
    fn fingerprint(&self) -> Option<u64>;
}

impl<T: ?Sized + Fingerprint> FingerprintProbe for Probe<T> {
    fn fingerprint(&self) -> Option<u64> {
        Some(T::FINGERPRINT)
    }
}

/// No fingerprint: the type does not implement [`Fingerprint`].
pub trait NoFingerprintProbe {
    /// None.
    fn fingerprint(&self) -> Option<u64> {
        None
    }
}

impl<T: ?Sized> NoFingerprintProbe for &Probe<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain {
        _a: u64,
        _b: u8,
    }

    #[test]
    #[allow(
        clippy::needless_borrow,
        reason = "the borrow is what lets an unsized type answer no"
    )]
    fn a_reached_type_shows_its_size_where_it_has_one_and_its_fingerprint_where_it_has_one() {
        let reached = [
            Reached {
                name: "Plain",
                layout: || (&Probe::<Plain>::NEW).layout(),
                fingerprint: || (&Probe::<Plain>::NEW).fingerprint(),
            },
            Reached {
                name: "u32",
                layout: || (&Probe::<u32>::NEW).layout(),
                fingerprint: || (&Probe::<u32>::NEW).fingerprint(),
            },
            Reached {
                name: "str",
                layout: || (&Probe::<str>::NEW).layout(),
                fingerprint: || (&Probe::<str>::NEW).fingerprint(),
            },
        ];
        let rendered: Vec<String> = reached.iter().map(Reached::render).collect();
        let plain = (size_of::<Plain>(), align_of::<Plain>());
        assert_eq!(
            rendered[0],
            format!(" [reached Plain {}/{}]", plain.0, plain.1)
        );
        assert_eq!(
            rendered[1],
            format!(" [reached u32 4/4 fp {:#018x}]", u32::FINGERPRINT)
        );
        assert_eq!(rendered[2], "", "str has neither");
    }
}
