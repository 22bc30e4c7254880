/* hcr.h: the C ABI of libhcr_runtime.so (hcr_runtime.dll on Windows), the
 * permanent hot-code-reloading runtime. Hosts and modules written in C
 * include this and link with -lhcr_runtime (on Windows, with mingw-w64,
 * against the import library libhcr_runtime.dll.a); Rust code uses the
 * hcr-client crate instead.
 *
 * Every entry point validates its arguments. On failure it returns an error
 * value (a negative code, NULL or false, as documented) and sets a message
 * for hcr_last_error() on the calling thread; the process and everything
 * loaded carry on. */
#ifndef HCR_H
#define HCR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Negative results. */
#define HCR_ERR_INVALID_ARGUMENT    (-1)  /* NULL, empty, non-UTF-8 or malformed input */
#define HCR_ERR_NOT_INITIALIZED     (-2)  /* hcr_init has not succeeded */
#define HCR_ERR_ALREADY_INITIALIZED (-3)
#define HCR_ERR_BUSY                (-4)  /* another init or reload is running */
#define HCR_ERR_LOAD_FAILED         (-5)  /* a library could not be read, checked or opened */
#define HCR_ERR_INIT_FAILED         (-6)  /* a module's dat_init or init returned non-zero */
#define HCR_ERR_VETOED              (-7)  /* a module's hcr_module_can_reload returned false */
#define HCR_ERR_CYCLIC_IMPORT       (-8)
#define HCR_ERR_JUMP_TABLE          (-9)  /* the jump table is full or cannot be reserved */
#define HCR_ERR_OUT_OF_MEMORY       (-10)
#define HCR_ERR_INTERNAL            (-11) /* a bug in the runtime, caught; it carries on */
#define HCR_ERR_SIGNATURE           (-12) /* a proc's signature differs from a caller's */
#define HCR_ERR_TOOLCHAIN           (-13) /* a module was built by another compiler */
#define HCR_ERR_SHUT_DOWN           (-14) /* hcr_shutdown ran: no more reloads */
#define HCR_ERR_ACTIVE_FRAME        (-15) /* this thread runs code the reload would replace */
#define HCR_ERR_FAULTED             (-16) /* a guarded call faulted in a module's code */
#define HCR_ERR_UNSUPPORTED         (-17) /* not supported on this platform */
#define HCR_ERR_UNTRUSTED           (-18) /* a module file, or a directory above it, could have been
                                           * written by another user; see "Module trust" below */

/* Results of hcr_register_global. */
#define HCR_GLOBAL_EXISTING       0  /* kept as it was: do not initialize again */
#define HCR_GLOBAL_NEW            1  /* fresh zeroed memory: initialize it */
#define HCR_GLOBAL_LAYOUT_CHANGED 2  /* fresh zeroed memory; the old block is readable
                                        through hcr_get_previous_global during this reload */

/* Stub forms for hcr_set_stub_form. */
#define HCR_STUB_DATA 0  /* default: indirect jump, re-pointed by one atomic store */
#define HCR_STUB_NEAR 1  /* jmp rel32 where in reach; see hcr_set_stub_form */

/* Where the jump table went (hcr_jump_table_placement). */
#define HCR_TABLE_NEAR      0  /* beside where libraries are mapped next (the default) */
#define HCR_TABLE_FIXED     1  /* at $HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS */
#define HCR_TABLE_NOT_FIXED 2  /* that address was not free: placed near instead */

/* Environment, read when the jump table is reserved (the first hcr_init,
 * hcr_register_proc or hcr_get_proc of the process):
 *
 * HOT_CODE_RELOADING_JUMP_TABLE_SIZE     address space for the table, in MiB
 *     (1 to 2047; 500 on 64-bit targets, 50 on 32-bit ones). A full table is
 *     an error (HCR_ERR_JUMP_TABLE), never memory corruption.
 * HOT_CODE_RELOADING_JUMP_TABLE_ADDRESS  the table's executable view at this
 *     address (0x10000000, as Nim's runtime, or decimal; a multiple of the page
 *     size on Linux, of 64 KiB on Windows), for
 *     the same stub addresses run after run. Unset (the default), the table
 *     goes beside where the loader maps libraries next, so that the modules
 *     loaded after it lie within reach of the slots they are given first:
 *     +-2 GiB on x86_64 (what `jmp rel32` reaches), +-128 MiB on AArch64 and
 *     +-32 MiB on ARMv7 (what `B` reaches), anywhere on x86. A stub's jump
 *     costs least there, and the near form (HCR_STUB_NEAR) can reach. A fixed
 *     address never replaces a mapping: when it is taken, the table is placed
 *     near instead and a warning on stderr says why. A malformed value is an
 *     error (HCR_ERR_JUMP_TABLE) naming the variable.
 * Either way no page is ever writable and executable: the table is one
 * memory file mapped twice, executable where callers jump and writable
 * elsewhere. */

/* ---- Procs ------------------------------------------------------------ */

/* Registers fn as module::name and returns its stub, whose address never
 * changes for the life of the process. Registering again re-points the same
 * stub. NULL on error. */
void *hcr_register_proc(const char *module, const char *name, void *fn);

/* The stub for module::name. A name not registered yet gets its slot now;
 * calling it before registration aborts with a message naming the proc.
 * NULL only for malformed input or a full jump table. */
void *hcr_get_proc(const char *module, const char *name);

/* The word the stub `stub` jumps through. It always holds the stub's current
 * target (the proc's code, or a veneer that reports a call of a missing
 * proc), re-pointed with one atomic store, so `(*cell)(args)` calls what the
 * stub would, one jump shorter: as cheap as a dlsym'd pointer kept in a
 * variable. Read it anew for every call (a reload changes it); keep the cell,
 * never its value. NULL when `stub` is not a stub this runtime handed out. */
void *const *hcr_stub_cell(const void *stub);

/* Checked forms, used by Rust modules (hcr-client): `signature` is any text
 * that fingerprints the proc's type (NULL: unchecked). Registering with
 * another signature than before is refused (NULL) while a caller outside
 * the running reload expects the old one; looking a proc up as `caller`
 * (NULL: the main module) with another signature than the registered one
 * returns NULL. Both errors name the proc, both signatures and the caller. */
void *hcr_register_proc_checked(const char *module, const char *name, void *fn,
                                const char *signature);
void *hcr_get_proc_checked(const char *caller, const char *module,
                           const char *name, const char *signature);

/* ---- Globals ---------------------------------------------------------- */

/* Zeroed memory of `size` bytes aligned to `align` (a power of two) at a
 * stable address, in *out. Returns HCR_GLOBAL_NEW, HCR_GLOBAL_EXISTING,
 * HCR_GLOBAL_LAYOUT_CHANGED (size, align or layout_hash differ from the
 * registration before: never old bytes read as the new type), or < 0. */
int hcr_register_global(const char *module, const char *name, size_t size,
                        size_t align, uint64_t layout_hash, void **out);

/* The memory of module::name, or NULL if it is not registered. */
void *hcr_get_global(const char *module, const char *name);

/* During the reload in which module::name changed its layout, its old block
 * (with the old value) so a migration can convert it; NULL otherwise. */
void *hcr_get_previous_global(const char *module, const char *name);

/* During that reload, the size, alignment and layout hash the old block was
 * registered with, so a migration can check it reads the right type: 0, or
 * < 0 when module::name did not change its layout in a running reload. */
int hcr_get_previous_global_layout(const char *module, const char *name,
                                   size_t *size, size_t *align,
                                   uint64_t *layout_hash);

/* ---- The module tree ---------------------------------------------------- */

/* Loads the tree of the host `main_module`: every module in `imports`
 * (NULL-terminated; NULL for none) and, recursively, theirs, from
 * module_dir (NULL: the executable's directory), where module m is
 * libm.so (m.dll on Windows). Each module gets dat_init then init, leaves
 * first. 0 or < 0; on failure nothing stays loaded and hcr_init may be
 * called again. */
int hcr_init(const char *main_module, const char *const *imports,
             const char *module_dir);

/* Module trust. Before a module's library is read (by hcr_init and by every
 * reload), the file and every directory from its own up to the root are
 * checked: if any is writable by others (o+w; a directory with the sticky
 * bit, like /tmp, is fine) or owned by another user than the process's or
 * root, nothing is loaded, the call returns HCR_ERR_UNTRUSTED, a reload
 * leaves the old code running, and hcr_last_error() names the path, the bit
 * or owner and the fix (`chmod o-w <path>`). Group-write is allowed.
 * HCR_ALLOW_INSECURE_MODULES=1 turns the check off: then anyone who can
 * write there can run code in this process. On Windows the rule reads
 * owners and access lists: refused is a path owned by another account than
 * the user, SYSTEM, Administrators or TrustedInstaller, or one whose access
 * list lets another account write or append to a file, delete a
 * directory's children, or change its access list or owner (the fix given
 * is an `icacls` command). */

/* Whether any loaded module's library changed on disk (contents, not just
 * timestamps: a touch is no change, and two same-size builds within one
 * clock tick are both seen). Costs a stat call per module however
 * recently a library was written; contents are read only on a thread of
 * the runtime's, at most once for each stamp a file shows (size,
 * timestamps, inode). So a library rewritten with its size unchanged and
 * new timestamps counts as changed until that thread has compared it, a
 * few milliseconds later (then not, if it was only touched); a reload
 * meanwhile compares it at once and loads nothing for a touch. A version
 * loaded less than 2 s after its file was written is compared once more
 * after those 2 s (a same-size rewrite within the clock tick of the write
 * that was loaded is seen then). On Windows, where a file open for
 * reading cannot be replaced, the calling thread reads instead, once per
 * stamp.
 * Nothing counts as changed
 * - for the modules named (one per line) in a file hcr-building in the
 *   module directory, written less than 10 minutes ago (an empty file
 *   names every module): a tool that writes a set of libraries which only
 *   work together (cargo hcr) creates it first and removes it once all of
 *   them are in place, so that no reload takes part of a set;
 * - while the changed files are exactly those of the last reload, and it
 *   was refused for a reason that stays while they do (a library that does
 *   not load, a failing init, a signature or toolchain mismatch, an import
 *   cycle): it would fail again. Any module file that changes ends this;
 *   the refusal stays in the manifest (last_event). */
bool hcr_reload_needed(void);

/* Whether the library of the named module changed on disk. */
bool hcr_has_module_changed(const char *module);

/* Reloads every changed module; call it where no frame of a module is on
 * this thread's stack. Returns 0 (also when nothing changed, in which case
 * nothing runs) or < 0 with every module, stub and global as before, the old
 * after-handlers run and the generation unchanged. Order: stack check, veto
 * check, before handlers, load changed and newly imported modules, dat_init
 * + init of new versions and dat_init of the others leaves first,
 * generation + 1, after handlers, modules no longer imported dropped.
 * The stack check walks this thread's frames (as far as the unwinder can:
 * code without unwind tables ends the walk; build C modules with
 * -funwind-tables on 32-bit ARM, where gcc leaves them out) and refuses
 * with HCR_ERR_ACTIVE_FRAME, naming the module, when one of them runs the
 * current code of a module the reload would replace. */
int hcr_perform_code_reload(void);

/* hcr_perform_code_reload with flags (0 or the HCR_RELOAD_* below);
 * unknown flags are HCR_ERR_INVALID_ARGUMENT. */
#define HCR_RELOAD_ALLOW_ACTIVE_FRAMES 1u /* skip the stack check: the caller
                                             knows returning into old code is fine */
int hcr_perform_code_reload_with(unsigned flags);

/* This thread's last error message, "" if none. Valid until the next failing
 * call on this thread. */
const char *hcr_last_error(void);

/* Adds a handler run before (is_before) or after every reload. Added during
 * a module's init it belongs to that module and is dropped when the module
 * is reloaded; added anywhere else it belongs to the main module, whose
 * handlers run last. */
void hcr_add_event_handler(bool is_before, void (*cb)(void));

/* Declares a module by name; loads nothing. Kept for Nim's ABI: procs and
 * globals can be registered into any module name without it, so this only
 * validates the name (an invalid one sets hcr_last_error). */
void hcr_add_module(const char *module);

/* Runs every module's optional hcr_module_shutdown once, importers before
 * their imports (the reverse of the init order), when the host shuts the
 * tree down. Afterwards hcr_reload_needed is false and reloads return
 * HCR_ERR_SHUT_DOWN; code stays mapped and stubs keep working. 0 or < 0. */
int hcr_shutdown(void);

/* Number of successful reloads and crash-guard rollbacks: 0 after hcr_init. */
int64_t hcr_generation(void);

/* ---- Crash guard (best effort, opt in per call) -------------------------- */

/* Calls fn(arg). If that call faults (SIGSEGV, SIGBUS, SIGILL or SIGFPE
 * raised by an instruction) inside the code of a module version the
 * runtime loaded, the call ends there and returns HCR_ERR_FAULTED instead
 * of the process dying; hcr_last_error names the module, the signal and the
 * place, and says whether the module's previous version was put back (only
 * when the faulting version is the current one): made current again
 * as a reload would (its dat_init and init run as when it was first
 * loaded, then every other module's dat_init; no before-handler runs; the
 * after-handlers do; generation + 1). The faulting version is not loaded
 * again while the module's file holds the same bytes. There is no rollback
 * when no earlier version is mapped (the first version, or hcr_collect /
 * the kept-versions cap unmapped it), while an init or reload runs, when
 * the call was made from inside the faulting module, or when putting it
 * back fails (nothing changes; the next caught fault tries again); the
 * call still returns HCR_ERR_FAULTED. Returns 0 when fn returned.
 *
 * Not caught, and handled as without the guard (by the handler installed
 * before the first guarded call: Rust's stack-overflow handler, a
 * sanitizer's, the host's own; else the default action): faults in the
 * host, in the runtime, in system libraries a module called (memcpy given
 * NULL), on other threads, after fn returned, and signals sent by kill or
 * raise. A handler installed after the first guarded call replaces the
 * guard's for the process.
 *
 * What it cannot promise: nothing in the frames between the fault and this
 * call runs again (no cleanup, no destructor, no unlock). A lock held, or
 * the allocator or stdio state left mid-operation, by the faulting code
 * stays that way, and the process may deadlock or misbehave later. It is a
 * way to keep a session alive while developing, not a safety net.
 *
 * On Windows the faults caught are access violations, illegal or
 * privileged instructions, integer division by zero or overflow, in-page
 * errors, misaligned data and array bounds (a vectored exception handler
 * resumes at the guarded call); a stack overflow is not caught there. */
int hcr_guarded_call(void (*fn)(void *arg), void *arg);

/* ---- Tuning and diagnostics ----------------------------------------------- */

/* Chooses the form of stubs written from now on. HCR_STUB_NEAR writes a
 * direct jump (`jmp rel32`, `B`) where the target is in reach of the slot
 * (else the data form); with the table placed near the modules (the
 * default) that is where they land. Re-pointing it rewrites instructions,
 * so it is the host's promise that no other thread calls through any stub
 * while procs are registered or a reload runs. 0, HCR_ERR_INVALID_ARGUMENT,
 * or HCR_ERR_UNSUPPORTED for HCR_STUB_NEAR with the paged jump table (the
 * layout on macOS, where no instruction is ever written; on Linux when
 * HCR_JUMP_TABLE_LAYOUT=paged asks for it). */
int hcr_set_stub_form(int form);

/* Where the jump table is, reserving it if nothing did yet: the first byte
 * and size of its executable view in *base and *size, and in *description
 * a sentence saying where and why (valid for the life of the process). Each
 * pointer may be NULL. Returns HCR_TABLE_NEAR, HCR_TABLE_FIXED or
 * HCR_TABLE_NOT_FIXED, or < 0 (a malformed environment variable, no
 * address space). */
int hcr_jump_table_placement(uintptr_t *base, size_t *size, const char **description);

/* Module versions still mapped: every version loaded so far, unless the
 * host collected them. */
int64_t hcr_retained_version_count(void);

/* Unmaps every module version that is not current (old versions, versions
 * a failed reload loaded, modules that left the tree) and returns how many
 * went, or < 0 (HCR_ERR_BUSY while an init or reload runs).
 * Calling it is the host's promise: no thread runs code of those versions
 * and nothing keeps a pointer into them (a string literal, a vtable or a
 * plain function pointer of old code kept in a global). Stubs are safe:
 * they point at current code or at the bad-call handler. A library that
 * dlclose leaves loaded (it registered a thread-local destructor) stays
 * mapped and counted in hcr_retained_version_count. */
int hcr_collect(void);

/* After every successful reload, keep at most `count` versions of each
 * module mapped, the current one included, and unmap older ones as
 * hcr_collect does, with the same promise at every reload. 0 keeps all
 * (the default; hcr_init reads $HCR_KEEP_VERSIONS when no cap was set).
 * Returns the previous cap, or HCR_ERR_INVALID_ARGUMENT for count < 0. */
int hcr_set_kept_versions(int count);

/* ---- What each module exports -------------------------------------------- */
/*
 * const char *const *hcr_module_imports(void);  NULL-terminated module names
 * const char *hcr_module_hash(void);            build identity
 * int  hcr_module_dat_init(void);   register own procs, look up other modules'
 *                                   procs and globals; 0 ok
 * int  hcr_module_init(void);       register own globals, one-time code (guarded
 *                                   by a global's HCR_GLOBAL_NEW), add handlers;
 *                                   0 ok
 * bool hcr_module_can_reload(void); optional: false vetoes the whole reload
 * void hcr_module_shutdown(void);   optional: run once by hcr_shutdown
 */

#ifdef __cplusplus
}
#endif

#endif /* HCR_H */
