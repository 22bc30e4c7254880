/* The function every stub bench calls: a module's code, in a library of
 * its own loaded after the jump table it is measured from. */
#include <stdint.h>

uint64_t add(uint64_t a, uint64_t b) { return a + b; }
