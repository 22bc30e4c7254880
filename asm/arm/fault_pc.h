/* 32-bit ARM: the faulting instruction is in the saved PC (in Thumb code
 * too: the kernel stores the address without the Thumb bit). */
static inline uintptr_t fault_pc(const ucontext_t *context) {
    return (uintptr_t)context->uc_mcontext.arm_pc;
}
