//! Where the jump table's two views go.
//!
//! A stub's jump is cheapest, and the near forms (`jmp rel32`, `B`) can
//! reach, when the table sits close to the code its slots jump to: the
//! modules. So by default ([`Placement::Near`]) the executable view goes
//! where the modules loaded after it will land, and slots are handed out
//! from its edge nearest them ([`Growth`]), so the first slots and the
//! modules loaded next lie a few MiB apart. How that place is found is the
//! operating system's business (`sys::Views::near`): on Linux, beside
//! where the kernel maps next, which is where the loader maps a library.
//!
//! [`Placement::Fixed`] asks for the executable view at one address, as
//! Nim's runtime does (`0x10000000`), for users who want the same
//! addresses run after run. The request never replaces a mapping: when
//! the address is taken, or the system gives another one (emulators and
//! valgrind treat the request as a hint), the table is placed near
//! instead and [`Placed::NotFixed`] says why.

use super::TableError;
use crate::sys;

/// Name of the environment variable that asks for a fixed address.
pub const ADDRESS_ENV: &str = "HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS";

/// Where to reserve the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// Beside the mappings the kernel makes next, where modules land (the
    /// default; see the module docs).
    #[default]
    Near,
    /// The executable view at this address (aligned to where the system
    /// places mappings), or near when it
    /// is not free.
    Fixed(usize),
}

impl Placement {
    /// The placement `$HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS` asks for:
    /// [`Placement::Fixed`] when it is set, else [`Placement::Near`].
    ///
    /// # Errors
    /// [`TableError::BadAddress`] when the variable is not a nonzero
    /// address (`0x10000000` or decimal) aligned to where this system
    /// places mappings, with room for `size` bytes above it.
    pub fn from_env(size: usize) -> Result<Self, TableError> {
        match std::env::var_os(ADDRESS_ENV) {
            None => Ok(Placement::Near),
            Some(value) => parse_address(&value.to_string_lossy(), size).map(Placement::Fixed),
        }
    }
}

/// Which way slots are handed out in the executable view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    /// From the lowest address up: modules land below the view.
    Up,
    /// From the highest address down: modules land above the view.
    Down,
}

/// Where the table went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Placed {
    /// Beside where the kernel maps next, as [`Placement::Near`] asks.
    Near,
    /// At the address [`Placement::Fixed`] asked for.
    Fixed,
    /// Not at the address asked for, for `reason`: placed near instead.
    NotFixed {
        /// The address asked for.
        requested: usize,
        /// Why the table is not there.
        reason: String,
    },
}

/// The views of a mapped table, which way its slots grow, and how it was
/// placed.
#[cfg(hcr_mapped_table)]
#[derive(Debug)]
pub(super) struct Reservation {
    pub(super) views: sys::Views,
    pub(super) growth: Growth,
    pub(super) placed: Placed,
}

/// Reserves `capacity` bytes for each view of a mapped table, placed as
/// `placement` asks.
///
/// # Errors
/// [`TableError::Reserve`] when no address space can be had.
#[cfg(hcr_mapped_table)]
pub(super) fn reserve(placement: Placement, capacity: usize) -> Result<Reservation, TableError> {
    let placed = match placement {
        Placement::Near => Placed::Near,
        Placement::Fixed(requested) => match sys::Views::at(requested, capacity) {
            Ok(views) => {
                return Ok(Reservation {
                    views,
                    growth: Growth::Up,
                    placed: Placed::Fixed,
                });
            }
            Err(reason) => Placed::NotFixed { requested, reason },
        },
    };
    let (views, growth) = sys::Views::near(capacity).map_err(|source| TableError::Reserve {
        what: "views near the modules",
        source,
    })?;
    Ok(Reservation {
        views,
        growth,
        placed,
    })
}

/// Reads an address written as `0x…` (hex) or in decimal.
fn parse_address(text: &str, size: usize) -> Result<usize, TableError> {
    let bad = |why: &'static str| TableError::BadAddress {
        text: text.to_owned(),
        why,
    };
    let trimmed = text.trim().replace('_', "");
    let parsed = match trimmed
        .strip_prefix("0x")
        .or_else(|| trimmed.strip_prefix("0X"))
    {
        Some(hex) => usize::from_str_radix(hex, 16),
        None => trimmed.parse(),
    };
    let address = parsed.map_err(|_| bad("it is not a number"))?;
    if address == 0 {
        return Err(bad("it is zero"));
    }
    if address % sys::allocation_granularity() != 0 {
        return Err(bad(
            "it is not aligned to where this system places mappings (a page on Linux and macOS, 64 \
             KiB on Windows)",
        ));
    }
    if address.checked_add(size).is_none() {
        return Err(bad("the table would run past the end of the address space"));
    }
    Ok(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_in_hex_or_decimal() {
        assert_eq!(parse_address("0x10000000", 1 << 20).unwrap(), 0x1000_0000);
        assert_eq!(
            parse_address(" 0X1000_0000 ", 1 << 20).unwrap(),
            0x1000_0000
        );
        assert_eq!(parse_address("268435456", 1 << 20).unwrap(), 0x1000_0000);
    }

    #[test]
    fn a_malformed_address_says_what_is_wrong() {
        let granularity = sys::allocation_granularity();
        for (text, why) in [
            ("low", "not a number"),
            ("0x", "not a number"),
            ("-4096", "not a number"),
            ("0", "zero"),
            (&format!("{:#x}", granularity + 8), "not aligned"),
            (
                &format!("{:#x}", usize::MAX - granularity + 1),
                "end of the address space",
            ),
        ] {
            let err = parse_address(text, 1 << 20).unwrap_err().to_string();
            assert!(err.contains(ADDRESS_ENV), "{err}");
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.contains(&format!("`{text}`")), "{err}");
        }
    }
}
