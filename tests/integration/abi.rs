//! The C ABI's answers to bad input and its limits.

use std::ffi::{CString, c_char};
use std::ptr::null;

scenario! {
    fn every_entry_point_refuses_bad_input_and_carries_on(host) {
        let api = *host.rt.api();
        let bad_utf8 = CString::new(vec![0xff, 0xfe]).unwrap();
        let names: [(&str, *const c_char); 4] = [
            ("NULL", null()),
            ("empty", c"".as_ptr()),
            ("non-UTF-8", bad_utf8.as_ptr()),
            ("a path", c"../etc".as_ptr()),
        ];
        let f = std::ptr::dangling::<std::ffi::c_void>();
        for (what, name) in names {
            // SAFETY: every argument is NULL or a valid string; no function
            // pointer is ever called.
            unsafe {
                assert!((api.hcr_register_proc)(name, c"f".as_ptr(), f).is_null(), "{what}");
                assert!(!host.rt.last_error().is_empty());
                assert!((api.hcr_get_proc)(name, c"f".as_ptr()).is_null(), "{what}");
                assert!((api.hcr_get_global)(name, c"g".as_ptr()).is_null(), "{what}");
                let mut out = std::ptr::null_mut();
                assert_eq!((api.hcr_register_global)(name, c"g".as_ptr(), 4, 4, 1, &mut out), -1, "{what}");
                assert!(!(api.hcr_has_module_changed)(name), "{what}");
                (api.hcr_add_module)(name);
                assert_eq!((api.hcr_init)(name, null(), null()), -1, "{what}");
            }
        }
        // SAFETY: as above.
        unsafe {
            assert!((api.hcr_register_proc)(c"m".as_ptr(), null(), f).is_null());
            assert!((api.hcr_register_proc)(c"m".as_ptr(), c"f".as_ptr(), null()).is_null());
            assert!(host.rt.last_error().contains("fn is NULL"), "{}", host.rt.last_error());
            assert_eq!((api.hcr_register_global)(c"m".as_ptr(), c"g".as_ptr(), 4, 4, 1, std::ptr::null_mut()), -1);
            (api.hcr_add_event_handler)(true, None);
            assert!(host.rt.last_error().contains("handler is NULL"));
            assert_eq!((api.hcr_guarded_call)(None, std::ptr::null_mut()), -1);
            assert!(host.rt.last_error().contains("guarded function is NULL"));
            let imports = [c"".as_ptr(), null()];
            assert_eq!((api.hcr_init)(c"main".as_ptr(), imports.as_ptr(), null()), -1);
            assert_eq!((api.hcr_init)(c"main".as_ptr(), null(), c"/no/such/dir".as_ptr()), -1);
            assert!(host.rt.last_error().contains("/no/such/dir"));
        }
        assert_eq!(host.rt.perform_code_reload().unwrap_err().code, -2, "not initialized yet");
        assert!(!host.rt.reload_needed());
        assert!(host.rt.set_stub_form(5).is_err());

        // After all of that the runtime works normally.
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        assert_eq!(host.call("spin", "value"), 1);
        let again = host.rt.init("main", &["spin"], Some(&host.modules)).unwrap_err();
        assert_eq!(again.code, -3);
        assert!(!host.rt.has_module_changed("nonexistent"));
    }
}

scenario! {
    env("HOT_CODE_RELOADING_JUMP_TABLE_SIZE" = "1")
    fn a_full_jump_table_is_a_clear_error(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let mut registered = 0usize;
        let f = host.rt.get_proc("spin", "value").unwrap().as_ptr();
        let err = loop {
            // SAFETY: `f` is spin's `value` stub, which stays valid; the new
            // procs are called with its signature.
            match unsafe { host.rt.register_proc("main", &format!("p{registered}"), f) } {
                Ok(_) => registered += 1,
                Err(err) => break err,
            }
        };
        // 1 MiB of 32-byte slots, less the header and spin's five procs.
        assert_eq!(registered, (1 << 20) / 32 - 1 - 5);
        assert!(err.message.contains("jump table is full"), "{}", err.message);
        assert!(err.message.contains("HOT_CODE_RELOADING_JUMP_TABLE_SIZE"), "{}", err.message);
        // Everything registered before still works.
        assert_eq!(host.call("spin", "value"), 1);
        assert_eq!(host.call("main", "p0"), 1);
    }
}

scenario! {
    env("HOT_CODE_RELOADING_JUMP_TABLE_SIZE" = "lots")
    fn a_malformed_jump_table_size_is_named(host) {
        let err = host.rt.get_proc("m", "f").unwrap_err();
        assert!(err.message.contains("HOT_CODE_RELOADING_JUMP_TABLE_SIZE"), "{}", err.message);
        assert!(err.message.contains("`lots`"), "{}", err.message);
    }
}

/// Calls what `cell` holds now, as `int (*)(void)`.
fn call_through(cell: std::ptr::NonNull<*const std::ffi::c_void>) -> std::ffi::c_int {
    // SAFETY: the cell belongs to a stub of an `int f(void)` fixture proc
    // and lies in the jump table, which stays mapped; the runtime stores it
    // atomically, and this test makes no reload while it reads.
    let target = unsafe { cell.as_ptr().read_volatile() };
    // SAFETY: a cell holds the proc's code or a veneer with its signature.
    let f: extern "C" fn() -> std::ffi::c_int = unsafe { std::mem::transmute(target) };
    f()
}

scenario! {
    fn a_stub_cell_holds_the_current_code_and_only_stubs_have_one(host) {
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        let stub = host.rt.get_proc("spin", "value").unwrap();
        let cell = host.rt.stub_cell(stub).unwrap();
        assert_eq!(call_through(cell), 1);
        host.install("spin", "spin-2");
        host.rt.perform_code_reload().unwrap();
        assert_eq!(call_through(cell), 2, "the same cell holds the new code");
        assert_eq!(host.rt.stub_cell(stub).unwrap(), cell);

        let inside = std::ptr::NonNull::new(stub.as_ptr().wrapping_byte_add(8)).unwrap();
        let err = host.rt.stub_cell(inside).unwrap_err();
        assert!(err.message.contains("is not a stub of this runtime"), "{}", err.message);
        let elsewhere = std::ptr::NonNull::from(&host.modules).cast();
        assert!(host.rt.stub_cell(elsewhere).is_err());
    }
}

scenario! {
    abort("`state::bump`")
    fn calling_a_removed_proc_through_its_cell_aborts_naming_it(host) {
        host.install("state", "state-1");
        host.init(&["state"]);
        let cell = host.rt.stub_cell(host.rt.get_proc("state", "bump").unwrap()).unwrap();
        host.install("state", "state-2");
        host.rt.perform_code_reload().unwrap();
        // SAFETY: the cell is `state::bump`'s (`long long f(void)`), in the
        // table, which stays mapped.
        let target = unsafe { cell.as_ptr().read_volatile() };
        // SAFETY: the cell now holds the slot's bad-call veneer.
        let bump: extern "C" fn() -> i64 = unsafe { std::mem::transmute(target) };
        bump();
        unreachable!("the call above aborts");
    }
}

scenario! {
    fn a_guarded_call_runs_the_function(host) {
        use std::sync::atomic::{AtomicBool, Ordering};
        static CALLED: AtomicBool = AtomicBool::new(false);
        unsafe extern "C" fn mark(_: *mut std::ffi::c_void) {
            CALLED.store(true, Ordering::Relaxed);
        }
        host.install("spin", "spin-1");
        host.init(&["spin"]);
        // SAFETY: `mark` may be called with any argument.
        let result = unsafe { host.rt.guarded_call(mark, std::ptr::null_mut()) };
        result.unwrap();
        assert!(CALLED.load(Ordering::Relaxed));
        assert_eq!(host.call("spin", "value"), 1, "the runtime carries on");
    }
}
