//! Fingerprints of a type's structure, to tell whether a persistent global
//! written by one version of a module can be read by the next.
//!
//! Size and alignment alone miss two fields swapped or a field retyped to
//! one of the same size; the type's name alone misses every change. A
//! fingerprint hashes the structure: for a struct, its fields' names, in
//! order, with each field type's own fingerprint; for an enum, its
//! variants the same way; for std types, their name and their
//! parameters'. The type's own name is left out, so renaming a type keeps
//! its values.
//!
//! `#[derive(Fingerprint)]` writes the implementation for your types.

/// A hash of a type's structure (see the module docs).
///
/// # Safety
/// Two types with the same fingerprint, size and alignment must have the
/// same layout and meaning: a value of one is read as the other after a
/// reload. Derive it rather than writing it.
pub unsafe trait Fingerprint {
    /// The hash.
    const FINGERPRINT: u64;
}

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0100_0000_01b3;

/// The start of a fingerprint: a hash of `kind` (`"struct"`, `"Vec"`, ...).
pub const fn start(kind: &str) -> u64 {
    mix_bytes(OFFSET, kind.as_bytes())
}

/// Adds text (a field or variant name) to a fingerprint.
pub const fn mix_str(state: u64, text: &str) -> u64 {
    // The length first, so that ("ab", "c") and ("a", "bc") differ.
    mix_bytes(mix_u64(state, text.len() as u64), text.as_bytes())
}

/// Adds a number (a child type's fingerprint, a length) to a fingerprint.
pub const fn mix_u64(state: u64, value: u64) -> u64 {
    mix_bytes(state, &value.to_le_bytes())
}

const fn mix_bytes(mut state: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        state ^= bytes[i] as u64;
        state = state.wrapping_mul(PRIME);
        i += 1;
    }
    state
}

macro_rules! leaf {
    ($($ty:ty),* $(,)?) => {
        $(
            // SAFETY: a type with no parameters, named by its path.
            unsafe impl Fingerprint for $ty {
                const FINGERPRINT: u64 = start(stringify!($ty));
            }
        )*
    };
}

leaf!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    String,
    std::path::PathBuf,
    std::time::Duration,
    std::collections::hash_map::RandomState,
    std::sync::atomic::AtomicBool,
    std::sync::atomic::AtomicU8,
    std::sync::atomic::AtomicU16,
    std::sync::atomic::AtomicU32,
    std::sync::atomic::AtomicU64,
    std::sync::atomic::AtomicUsize,
    std::sync::atomic::AtomicI8,
    std::sync::atomic::AtomicI16,
    std::sync::atomic::AtomicI32,
    std::sync::atomic::AtomicI64,
    std::sync::atomic::AtomicIsize,
);

// SAFETY: string literals live for the whole program (old module versions
// stay mapped), and `&'static str` has one layout.
unsafe impl Fingerprint for &'static str {
    const FINGERPRINT: u64 = start("&'static str");
}

macro_rules! wrapper {
    ($($name:literal => $ty:ident<$($param:ident),+>),* $(,)?) => {
        $(
            // SAFETY: the wrapper's name and each parameter's fingerprint.
            unsafe impl<$($param: Fingerprint),+> Fingerprint for $ty<$($param),+> {
                const FINGERPRINT: u64 = {
                    let state = start($name);
                    $(let state = mix_u64(state, $param::FINGERPRINT);)+
                    state
                };
            }
        )*
    };
}

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

wrapper!(
    "Vec" => Vec<T>,
    "VecDeque" => VecDeque<T>,
    "Option" => Option<T>,
    "Box" => Box<T>,
    "Arc" => Arc<T>,
    "Mutex" => Mutex<T>,
    "RwLock" => RwLock<T>,
    "BTreeSet" => BTreeSet<T>,
    "BTreeMap" => BTreeMap<K, V>,
    "HashSet" => HashSet<T, S>,
    "HashMap" => HashMap<K, V, S>,
    "Result" => Result<T, E>,
);

// SAFETY: the element's fingerprint and the length.
unsafe impl<T: Fingerprint, const N: usize> Fingerprint for [T; N] {
    const FINGERPRINT: u64 = mix_u64(mix_u64(start("array"), T::FINGERPRINT), N as u64);
}

macro_rules! tuple {
    ($($param:ident),+) => {
        // SAFETY: each element's fingerprint, in order.
        unsafe impl<$($param: Fingerprint),+> Fingerprint for ($($param,)+) {
            const FINGERPRINT: u64 = {
                let state = start("tuple");
                $(let state = mix_u64(state, $param::FINGERPRINT);)+
                state
            };
        }
    };
}

tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
tuple!(A, B, C, D, E);
tuple!(A, B, C, D, E, F);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_lengths_change_the_fingerprint() {
        assert_ne!(Vec::<u32>::FINGERPRINT, Vec::<i32>::FINGERPRINT);
        assert_ne!(<[u8; 2]>::FINGERPRINT, <[u8; 3]>::FINGERPRINT);
        assert_ne!(<(u8, u16)>::FINGERPRINT, <(u16, u8)>::FINGERPRINT);
        assert_ne!(Option::<u8>::FINGERPRINT, Box::<u8>::FINGERPRINT);
        assert_eq!(mix_str(start("x"), "ab"), mix_str(start("x"), "ab"));
        assert_ne!(
            mix_str(mix_str(start("x"), "ab"), "c"),
            mix_str(mix_str(start("x"), "a"), "bc")
        );
    }
}
