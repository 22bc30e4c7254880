//! Reading a pointer-sized word that other threads store atomically, in
//! a form that is inlined even at opt-level 0.
//!
//! A typed call reads two such words: the cached address of its stub's
//! cell, and the cell itself (the current target). An atomic load from
//! std is a function call, two deep, in an unoptimized build, which costs
//! more than the call it prepares; dev builds are where hot reloading is
//! used. One aligned load instruction, written as inline assembly inside
//! an `#[inline(always)]` function, is what LLVM's always-inliner keeps
//! even at opt-level 0. On every architecture below an aligned
//! pointer-sized load is single-copy atomic, and a load whose address
//! depends on an earlier load is ordered after it, which is all a caller
//! needs: the word holds an address, and what it reaches was written
//! before the runtime stored the address with release ordering (the stub
//! itself makes the same single load). Elsewhere it is std's atomic load.

/// The instruction that loads the word at `{word}` into `{value}`.
#[cfg(target_arch = "x86_64")]
macro_rules! load_instruction {
    () => {
        "mov {value}, qword ptr [{word}]"
    };
}
#[cfg(target_arch = "x86")]
macro_rules! load_instruction {
    () => {
        "mov {value}, dword ptr [{word}]"
    };
}
#[cfg(any(target_arch = "aarch64", target_arch = "arm"))]
macro_rules! load_instruction {
    () => {
        "ldr {value}, [{word}]"
    };
}

/// The word at `word`, read with one atomic load (relaxed, ordered after
/// the load that produced `word`).
///
/// # Safety
/// `word` is aligned, points to a live pointer-sized word, and every
/// concurrent write of it is atomic.
#[inline(always)]
pub(crate) unsafe fn load(word: *const *const ()) -> *const () {
    #[cfg(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm"
    ))]
    {
        let value: *const ();
        // SAFETY: the caller passes an aligned, live word; reading it is
        // all the instruction does (no stack, no flags, no write).
        unsafe {
            std::arch::asm!(
                load_instruction!(),
                word = in(reg) word,
                value = lateout(reg) value,
                options(nostack, readonly, preserves_flags),
            );
        }
        value
    }
    #[cfg(not(any(
        target_arch = "x86_64",
        target_arch = "x86",
        target_arch = "aarch64",
        target_arch = "arm"
    )))]
    {
        // SAFETY: forwarded from the caller; an AtomicPtr has the layout
        // of a pointer.
        let atomic =
            unsafe { std::sync::atomic::AtomicPtr::from_ptr(word.cast_mut().cast::<*mut ()>()) };
        atomic
            .load(std::sync::atomic::Ordering::Acquire)
            .cast_const()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicPtr, Ordering};

    #[test]
    fn a_load_reads_what_an_atomic_store_wrote() {
        let word = AtomicPtr::new(std::ptr::null_mut::<()>());
        for value in [0x1000usize, usize::MAX & !7, 8] {
            word.store(value as *mut (), Ordering::Release);
            // SAFETY: an aligned AtomicPtr, laid out as a pointer, alive.
            let read = unsafe { super::load((&raw const word).cast()) };
            assert_eq!(read as usize, value);
        }
    }
}
