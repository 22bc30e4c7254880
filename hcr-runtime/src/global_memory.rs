//! Heap blocks that back registered globals: zeroed, aligned, at an address
//! that never moves while the block lives.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// One global's memory, freed when dropped.
#[derive(Debug)]
pub(crate) struct GlobalBlock {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the block is plain memory owned by this value; the runtime hands
// out its address to C code, which synchronizes access itself, and the
// block's bookkeeping is only touched under the registry's lock.
unsafe impl Send for GlobalBlock {}

impl GlobalBlock {
    /// Allocates `size` zeroed bytes aligned to `align` (a power of two).
    /// A zero size still gets a distinct one-byte block so that every global
    /// has its own address. Returns `None` when the layout is invalid or
    /// memory is exhausted.
    pub(crate) fn zeroed(size: usize, align: usize) -> Option<Self> {
        let layout = Layout::from_size_align(size.max(1), align).ok()?;
        // SAFETY: the layout has a non-zero size.
        let ptr = NonNull::new(unsafe { alloc::alloc_zeroed(layout) })?;
        Some(GlobalBlock { ptr, layout })
    }

    /// The block's address.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for GlobalBlock {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed` with exactly this layout and
        // is freed only here, once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::GlobalBlock;

    #[test]
    fn blocks_are_zeroed_and_aligned() {
        for align in [1, 8, 64, 4096] {
            let block = GlobalBlock::zeroed(100, align).unwrap();
            assert_eq!(block.as_ptr() as usize % align, 0);
            // SAFETY: the block holds 100 initialized (zeroed) bytes.
            let bytes = unsafe { std::slice::from_raw_parts(block.as_ptr(), 100) };
            assert!(bytes.iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn invalid_alignment_is_refused() {
        assert!(GlobalBlock::zeroed(8, 3).is_none());
    }
}
