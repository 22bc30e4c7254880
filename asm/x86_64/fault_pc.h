/* x86_64: the faulting instruction is in RIP. */
static inline uintptr_t fault_pc(const ucontext_t *context) {
    return (uintptr_t)context->uc_mcontext.gregs[REG_RIP];
}
