/* A reloadable module written in C: `greeter` keeps a visit counter in a
 * runtime global and says hello in a way that depends on the build. The
 * demo builds it twice, with GREETING set differently, to play an edit. */
#include <hcr.h>
#include <stdio.h>

static const char *const imports[] = {NULL};
const char *const *hcr_module_imports(void) { return imports; }
const char *hcr_module_hash(void) { return GREETING; }

static int *visits;

static int greet(const char *name) {
    ++*visits;
    printf("  greeter says: %s, %s! (visit %d)\n", GREETING, name, *visits);
    fflush(stdout);
    return *visits;
}

int hcr_module_dat_init(void) {
    return hcr_register_proc("greeter", "greet", (void *)greet) ? 0 : 1;
}

int hcr_module_init(void) {
    int status = hcr_register_global("greeter", "visits", sizeof(int), _Alignof(int), 1,
                                     (void **)&visits);
    return status < 0;
}
