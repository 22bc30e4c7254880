//! x86 and x86_64: instruction fetch sees data writes, so there is
//! nothing to do; the jump table rewrites instructions only where no other
//! thread runs them (see `StubForm::Near`).

pub(super) fn sync(_written: *const u8, _executed: *const u8, _len: usize) {}

pub(super) fn register_core_sync() -> bool {
    true
}

pub(super) fn sync_other_cores() {}
