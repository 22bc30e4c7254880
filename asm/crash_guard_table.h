/* The part of the crash guard's shims that every system shares: the
 * structures hcr-runtime hands them (crash_guard/shim.rs mirrors them),
 * the published table of module code and the lookup a handler makes in
 * it. Included by crash_guard.c and crash_guard_windows.c, each of which
 * defines GUARD_YIELD() (let another thread run) first. */
#ifndef HCR_CRASH_GUARD_TABLE_H
#define HCR_CRASH_GUARD_TABLE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* A range of code, [start, end). */
struct hcr_guard_range {
    uintptr_t start;
    uintptr_t end;
};

/* The code of every module version loaded and still mapped. */
struct hcr_guard_table {
    const struct hcr_guard_range *ranges;
    size_t count;
};

/* The published table, replaced as versions are loaded and unmapped, and
 * how many handlers are reading one right now: a replaced table is handed
 * back for freeing only once none is. Lock-free atomics are safe in a
 * signal handler and in an exception handler alike. */
static _Atomic(const struct hcr_guard_table *) published;
static atomic_uint readers;

/* Whether pc lies in the code of a module version. */
static int in_module_code(uintptr_t pc) {
    atomic_fetch_add(&readers, 1);
    const struct hcr_guard_table *table = atomic_load(&published);
    int inside = 0;
    for (size_t i = 0; table && i < table->count; i++) {
        if (pc >= table->ranges[i].start && pc < table->ranges[i].end) {
            inside = 1;
            break;
        }
    }
    atomic_fetch_sub(&readers, 1);
    return inside;
}

/* Publishes the code ranges of the module versions now mapped and returns
 * the table it replaces, which no handler reads any more: the caller frees
 * it. The caller publishes a new table before any code it names can run,
 * and before unmapping code it no longer names. */
const struct hcr_guard_table *hcr_guard_publish(const struct hcr_guard_table *table) {
    const struct hcr_guard_table *old = atomic_exchange(&published, table);
    /* A handler scans for a few instructions and never blocks. */
    while (atomic_load(&readers) != 0)
        GUARD_YIELD();
    return old;
}

#endif
