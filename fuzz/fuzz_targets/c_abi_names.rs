//! The C ABI with arbitrary byte strings as module, proc and global names
//! (any bytes but NUL, which ends a C string): every call answers without
//! crashing, and the answers agree with each other.

#![no_main]

use std::ffi::{CString, c_char, c_void};

use hcr_runtime::ffi;

extern "C" fn seven() -> i32 {
    7
}

/// The input's first three NUL-separated pieces as C strings.
fn names(bytes: &[u8]) -> [CString; 3] {
    let mut pieces = bytes.split(|byte| *byte == 0);
    std::array::from_fn(|_| CString::new(pieces.next().unwrap_or_default()).expect("no NUL inside"))
}

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| {
    let [module, proc_name, global] = names(bytes);
    let (module, proc_name, global): (*const c_char, *const c_char, *const c_char) =
        (module.as_ptr(), proc_name.as_ptr(), global.as_ptr());
    // SAFETY: every pointer is a NUL-terminated string alive for the calls;
    // `seven` has the signature the stub is called with below.
    unsafe {
        ffi::hcr_add_module(module);
        let stub = ffi::hcr_register_proc(module, proc_name, seven as *const () as *mut c_void);
        if !stub.is_null() {
            let call: extern "C" fn() -> i32 = std::mem::transmute(stub);
            assert_eq!(call(), 7, "the stub jumps to the registered function");
            assert_eq!(
                ffi::hcr_get_proc(module, proc_name),
                stub,
                "lookup finds the same stub"
            );
        } else {
            assert!(
                ffi::hcr_get_proc(module, proc_name).is_null(),
                "a refused name is not found"
            );
        }
        let size = bytes.len() % 64 + 1;
        let mut block = std::ptr::null_mut();
        let status = ffi::hcr_register_global(module, global, size, 8, 1, &mut block);
        if status >= 0 {
            assert!(!block.is_null());
            assert_eq!(
                ffi::hcr_get_global(module, global),
                block,
                "lookup finds the same block"
            );
        }
        assert!(!ffi::hcr_has_module_changed(module), "nothing is loaded");
    }
});
