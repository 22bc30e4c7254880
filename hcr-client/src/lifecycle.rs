//! A module's lifecycle: startup and shutdown once per process, load and
//! unload once per version, and a say in whether it can be reloaded now.
//!
//! ```text
//! first load:   startup, load(Saved::Nothing)
//! each reload:  unload -> bytes (old version), load(Saved::Bytes) (new version)
//! failed reload: the old version gets load(Saved::Bytes) again and carries on
//! shutdown:     unload, shutdown (importers before their imports)
//! ```
//!
//! Declare the type that implements [`Lifecycle`] in `module!`:
//! `hcr_client::module!(lifecycle = Counter);`. Long-lived state belongs in
//! persistent globals (`#[hcr_client::global]`); `unload` and `load` carry
//! what a version keeps in its own memory as bytes, so that the next
//! version can read it even if its types changed, or say it cannot.

/// Hooks a module runs at the points of its life; every one has a default
/// that does nothing.
pub trait Lifecycle {
    /// Once per process, on the module's first load, before the first
    /// `load`: prepares long-lived state.
    ///
    /// # Errors
    /// A message: the load fails (at start, the host cannot start; in a
    /// reload, the reload is refused and the old code keeps running).
    fn startup() -> Result<(), String> {
        Ok(())
    }

    /// On every load of a version: `saved` is what the previous version's
    /// [`Lifecycle::unload`] returned, or [`Saved::Nothing`].
    ///
    /// # Errors
    /// As for [`Lifecycle::startup`].
    fn load(saved: Saved) -> Result<(), String> {
        let _ = saved;
        Ok(())
    }

    /// Before this version goes (it is being reloaded, or the tree shuts
    /// down): the bytes to hand to the next version's `load`.
    fn unload() -> Option<Vec<u8>> {
        None
    }

    /// Once per process, when the host shuts the tree down (or drops its
    /// [`Host`](crate::Host)), after `unload`; importers shut down before
    /// the modules they import.
    fn shutdown() {}

    /// Asked before every reload: `false` refuses the whole reload (the
    /// error names this module) and nothing changes.
    fn can_reload() -> bool {
        true
    }
}

/// No hooks: the default of `module!`.
impl Lifecycle for () {}

/// What the previous version of a module left for this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// Nothing: the first load, or the previous version saved nothing.
    Nothing,
    /// The bytes the previous version's `unload` returned.
    Bytes(Vec<u8>),
}

impl Saved {
    /// The bytes, if any.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Saved::Nothing => None,
            Saved::Bytes(bytes) => Some(bytes),
        }
    }

    /// Decodes the bytes as JSON written by [`encode`]: `Ok(None)` when
    /// nothing was saved, an error value when the bytes are not a `T` (the
    /// previous version saved another shape).
    ///
    /// # Errors
    /// [`DecodeError`] with serde's message.
    #[cfg(feature = "serde")]
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, DecodeError> {
        self.bytes()
            .map(|bytes| serde_json::from_slice(bytes).map_err(|err| DecodeError(err.to_string())))
            .transpose()
    }
}

impl From<Option<Vec<u8>>> for Saved {
    fn from(bytes: Option<Vec<u8>>) -> Self {
        bytes.map_or(Saved::Nothing, Saved::Bytes)
    }
}

/// Bytes that could not be decoded as the expected type.
#[cfg(feature = "serde")]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("saved state cannot be decoded: {0}")]
pub struct DecodeError(pub String);

/// Encodes `value` as JSON for [`Lifecycle::unload`]; `None` if serde
/// refuses it (e.g. a map with non-string keys).
#[cfg(feature = "serde")]
pub fn encode<T: serde::Serialize>(value: &T) -> Option<Vec<u8>> {
    serde_json::to_vec(value).ok()
}
