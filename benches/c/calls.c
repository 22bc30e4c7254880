/* Host code written in C, for the stub bench: loops that call `add` the
 * way C code does, through a function pointer or through a stub's cell. */
#include <stdint.h>

typedef uint64_t (*add_fn)(uint64_t, uint64_t);

/* Calls f(i, 1) n times. The empty asm makes f opaque on every round, so
 * the compiler neither inlines nor hoists the call. */
uint64_t hcr_bench_call_pointer(add_fn f, uint64_t n) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        __asm__ volatile("" : "+r"(f));
        sum += f(i, 1);
    }
    return sum;
}

/* Calls what *cell holds n times, reading the cell anew for every call,
 * as code that calls through hcr_stub_cell must. */
uint64_t hcr_bench_call_cell(add_fn const *cell, uint64_t n) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        add_fn f = __atomic_load_n(cell, __ATOMIC_ACQUIRE);
        sum += f(i, 1);
    }
    return sum;
}
