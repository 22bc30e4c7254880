//! Signature fingerprints of procs and of what their callers expect.
//!
//! A stub carries no type: a caller built against one signature that calls
//! code with another is undefined behaviour. Procs registered with
//! `hcr_register_proc_checked` record a signature text; callers that look
//! them up with `hcr_get_proc_checked` record the text they were built
//! against. A new version that changes a signature while a caller outside
//! the reload still expects the old one is refused, and a caller that
//! expects another signature than the registered one gets no stub.
//!
//! Changes are journaled like the registry's, so a failed reload puts the
//! expectations back.

use std::sync::Arc;

use hashbrown::HashMap;

/// A refused registration or lookup, with a message for the user.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct SignatureError(String);

type Key = (Arc<str>, Arc<str>);

#[derive(Debug, Default)]
struct Contract {
    /// The signature of the registered code.
    registered: Option<Arc<str>>,
    /// Caller module → the signature it was built against.
    callers: HashMap<Arc<str>, Arc<str>>,
}

#[derive(Debug)]
enum Undo {
    Registered {
        key: Key,
        before: Option<Arc<str>>,
    },
    Caller {
        key: Key,
        caller: Arc<str>,
        before: Option<Arc<str>>,
    },
}

/// Every proc's contract; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Signatures {
    contracts: HashMap<Key, Contract>,
    journal: Option<Vec<Undo>>,
}

/// What two signature texts (as hcr-client renders them: the declaration,
/// then `[layout …]`, a `[reached …]` per type behind a reference,
/// pointer or type parameter, and `[call …]`) differ in: "`[reached
/// State 24/8]` became `[reached State 32/8]`".
fn difference(old: &str, new: &str) -> String {
    fn parts(text: &str) -> Vec<String> {
        let Some(at) = text.find(" [layout ") else {
            return vec![text.to_owned()];
        };
        let groups = text[at + 1..].split("] [").map(|group| {
            let group = group.trim_start_matches('[').trim_end_matches(']');
            format!("[{group}]")
        });
        std::iter::once(text[..at].to_owned())
            .chain(groups)
            .collect()
    }
    let (old, new) = (parts(old), parts(new));
    let only = |these: &[String], those: &[String]| -> String {
        let only: Vec<String> = these
            .iter()
            .filter(|part| !those.contains(part))
            .map(|part| format!("`{part}`"))
            .collect();
        if only.is_empty() {
            "nothing".to_owned()
        } else {
            only.join(", ")
        }
    };
    format!("{} became {}", only(&old, &new), only(&new, &old))
}

fn key(module: &str, name: &str) -> Key {
    (Arc::from(module), Arc::from(name))
}

impl Signatures {
    fn record(&mut self, undo: Undo) {
        if let Some(journal) = &mut self.journal {
            journal.push(undo);
        }
    }

    /// Checks that `module::name` may now have `signature`: every caller
    /// that expects another one must be in `reloading` (it is being
    /// replaced by code built against the new one). Records the signature.
    /// `host` names the main module, which is never reloaded.
    pub(crate) fn register(
        &mut self,
        module: &str,
        name: &str,
        signature: &str,
        host: &str,
        reloading: impl Fn(&str) -> bool,
    ) -> Result<(), SignatureError> {
        let key = key(module, name);
        let contract = self.contracts.entry(key.clone()).or_default();
        let mut stuck: Vec<(&Arc<str>, &Arc<str>)> = contract
            .callers
            .iter()
            .filter(|(caller, expected)| &***expected != signature && !reloading(caller))
            .collect();
        stuck.sort();
        if let Some((caller, expected)) = stuck.first() {
            let (who, fix) = if &***caller == host {
                (
                    format!("the host (module `{caller}`)"),
                    "restart the host, which is never reloaded".to_owned(),
                )
            } else {
                (
                    format!("module `{caller}`"),
                    format!("rebuild `{caller}` against the new code"),
                )
            };
            return Err(SignatureError(format!(
                "proc `{module}::{name}` changed its signature from `{expected}` to \
                 `{signature}` ({}), but {who} calls it with the old signature and is not being \
                 reloaded; {fix} (or keep the old signature)",
                difference(expected, signature)
            )));
        }
        let before = contract.registered.replace(Arc::from(signature));
        if before.as_deref() != Some(signature) {
            self.record(Undo::Registered { key, before });
        }
        Ok(())
    }

    /// Checks that `caller` may call `module::name` with `signature` and
    /// records its expectation.
    pub(crate) fn expect(
        &mut self,
        caller: &str,
        module: &str,
        name: &str,
        signature: &str,
    ) -> Result<(), SignatureError> {
        let key = key(module, name);
        let contract = self.contracts.entry(key.clone()).or_default();
        if let Some(registered) = &contract.registered {
            if &**registered != signature {
                return Err(SignatureError(format!(
                    "module `{caller}` calls `{module}::{name}` as `{signature}`, but the loaded \
                     code is `{registered}`; rebuild `{caller}` against the current `{module}`"
                )));
            }
        }
        let caller: Arc<str> = Arc::from(caller);
        let before = contract
            .callers
            .insert(caller.clone(), Arc::from(signature));
        if before.as_deref() != Some(signature) {
            self.record(Undo::Caller {
                key,
                caller,
                before,
            });
        }
        Ok(())
    }

    /// Drops every expectation of `caller`: its code is being replaced, and
    /// the new version records its own as it looks procs up.
    pub(crate) fn forget_caller(&mut self, caller: &str) {
        let mut undo = Vec::new();
        for (key, contract) in &mut self.contracts {
            if let Some((caller, before)) = contract.callers.remove_entry(caller) {
                undo.push(Undo::Caller {
                    key: key.clone(),
                    caller,
                    before: Some(before),
                });
            }
        }
        for entry in undo {
            self.record(entry);
        }
    }

    /// Starts journaling.
    pub(crate) fn begin(&mut self) {
        self.journal = Some(Vec::new());
    }

    /// Keeps every change.
    pub(crate) fn commit(&mut self) {
        self.journal = None;
    }

    /// Undoes every change since [`Signatures::begin`], newest first.
    pub(crate) fn rollback(&mut self) {
        for undo in self.journal.take().unwrap_or_default().into_iter().rev() {
            match undo {
                Undo::Registered { key, before } => {
                    self.contracts.entry(key).or_default().registered = before;
                }
                Undo::Caller {
                    key,
                    caller,
                    before,
                } => {
                    let callers = &mut self.contracts.entry(key).or_default().callers;
                    match before {
                        Some(signature) => callers.insert(caller, signature),
                        None => callers.remove(&caller),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_signature_is_refused_while_an_unreloaded_caller_expects_the_old() {
        let mut signatures = Signatures::default();
        signatures
            .register("m", "f", "fn(i32)", "main", |_| false)
            .unwrap();
        signatures.expect("main", "m", "f", "fn(i32)").unwrap();
        let err = signatures
            .register("m", "f", "fn(i64)", "main", |_| false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("`m::f`") && err.contains("`fn(i32)`") && err.contains("`main`"));
        // A caller being reloaded does not hold the change back.
        signatures
            .register("m", "f", "fn(i64)", "main", |caller| caller == "main")
            .unwrap();
    }

    #[test]
    fn a_caller_expecting_another_signature_is_refused() {
        let mut signatures = Signatures::default();
        signatures
            .register("m", "f", "fn(i32)", "main", |_| false)
            .unwrap();
        let err = signatures.expect("app", "m", "f", "fn(u8)").unwrap_err();
        assert!(err.to_string().contains("rebuild `app`"));
    }

    #[test]
    fn rollback_restores_expectations_and_registrations() {
        let mut signatures = Signatures::default();
        signatures
            .register("m", "f", "fn(i32)", "main", |_| false)
            .unwrap();
        signatures.expect("app", "m", "f", "fn(i32)").unwrap();
        signatures.begin();
        signatures.forget_caller("app");
        signatures
            .register("m", "f", "fn(i64)", "main", |_| false)
            .unwrap();
        signatures.rollback();
        assert!(
            signatures
                .register("m", "f", "fn(i64)", "main", |_| false)
                .is_err()
        );
        signatures.forget_caller("app");
        signatures
            .register("m", "f", "fn(i64)", "main", |_| false)
            .unwrap();
    }

    #[test]
    fn a_type_behind_a_reference_that_changed_is_named_with_both_layouts_and_the_fix() {
        let old = "fn(& mut State) -> () [layout 8/8 0/1] [reached State 24/8] [call 2]";
        let new = "fn(& mut State) -> () [layout 8/8 0/1] [reached State 32/8] [call 2]";
        let mut signatures = Signatures::default();
        signatures
            .register("logic", "frame", old, "host", |_| false)
            .unwrap();
        signatures.expect("host", "logic", "frame", old).unwrap();
        signatures.expect("panel", "logic", "frame", old).unwrap();
        let err = signatures
            .register("logic", "frame", new, "host", |caller| caller == "panel")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("`logic::frame`")
                && err.contains("(`[reached State 24/8]` became `[reached State 32/8]`)")
                && err.contains("the host (module `host`)")
                && err.contains("restart the host"),
            "{err}"
        );
        let err = signatures
            .register("logic", "frame", new, "host", |caller| caller == "host")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("module `panel`") && err.contains("rebuild `panel` against the new code"),
            "{err}"
        );
    }
}
