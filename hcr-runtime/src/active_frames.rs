//! The reload legality check: does the reloading thread run code that the
//! reload would replace? Its stack is walked with the platform unwinder and
//! each frame's address mapped to the loaded object holding it; the current
//! versions' in-memory copies name their modules.

use hashbrown::HashSet;

use crate::runtime::Runtime;
use crate::sys::{objects, unwind};

/// The first module in `changed` whose current code has a frame on the
/// calling thread's stack: returning into it after the reload would run a
/// version that is no longer current (still mapped, but with its procs,
/// globals and handlers now the new version's).
pub(crate) fn module_on_stack(rt: &Runtime, changed: &HashSet<String>) -> Option<String> {
    let copies: Vec<(String, String)> = {
        let state = rt.lock();
        let tree = state.tree.as_ref()?;
        let current: HashSet<u64> = changed
            .iter()
            .filter_map(|name| Some(tree.modules.get(name)?.version.as_ref()?.id))
            .collect();
        state
            .retained()
            .iter()
            .filter(|version| current.contains(&version.id))
            .map(|version| {
                let path = version.copy.path().to_string_lossy().into_owned();
                (path, version.module.clone())
            })
            .collect()
    };
    // A return address may be one past its call, at the start of the next
    // function or object: look the byte before it up.
    unwind::frame_addresses()
        .into_iter()
        .filter_map(|address| objects::object_name(address.saturating_sub(1)))
        .find_map(|object| {
            copies
                .iter()
                .find(|(path, _)| *path == object)
                .map(|(_, module)| module.clone())
        })
}
