/* x86 (32-bit): the faulting instruction is in EIP. */
static inline uintptr_t fault_pc(const ucontext_t *context) {
    return (uintptr_t)context->uc_mcontext.gregs[REG_EIP];
}
