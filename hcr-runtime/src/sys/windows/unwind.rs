//! The calling thread's stack, as the code addresses of its frames, from
//! `RtlCaptureStackBackTrace` (which walks with the unwind data of x64
//! images).

use windows_sys::Win32::System::Diagnostics::Debug::RtlCaptureStackBackTrace;

/// Walks at most this many frames: a deeper stack is still checked that far.
const MAX_FRAMES: usize = 512;

/// Frames asked for per call (older Windows refuse more than 62).
const CHUNK: usize = 62;

/// The code addresses of the calling thread's frames, innermost first.
pub(crate) fn frame_addresses() -> Vec<usize> {
    let mut out = Vec::with_capacity(64);
    let mut chunk = [std::ptr::null_mut(); CHUNK];
    while out.len() < MAX_FRAMES {
        // SAFETY: writes at most CHUNK entries into `chunk`; skips the
        // frames already collected (and none of this function's beyond
        // the first call's, which are the same each time).
        let got = unsafe {
            RtlCaptureStackBackTrace(
                out.len() as u32,
                CHUNK as u32,
                chunk.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        } as usize;
        out.extend(chunk[..got].iter().map(|frame| *frame as usize));
        if got < CHUNK {
            break;
        }
    }
    out
}
