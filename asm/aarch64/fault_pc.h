/* aarch64: the faulting instruction is in the saved PC. */
static inline uintptr_t fault_pc(const ucontext_t *context) {
    return (uintptr_t)context->uc_mcontext.pc;
}
