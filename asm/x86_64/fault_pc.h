/* x86_64: the faulting instruction is in RIP. */
#if defined(__APPLE__)
static inline uintptr_t fault_pc(const ucontext_t *context) {
    return (uintptr_t)context->uc_mcontext->__ss.__rip;
}
#else
static inline uintptr_t fault_pc(const ucontext_t *context) {
    return (uintptr_t)context->uc_mcontext.gregs[REG_RIP];
}
#endif
