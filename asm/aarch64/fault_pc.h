/* aarch64: the faulting instruction is in the saved PC. */
#if defined(__APPLE__)
static inline uintptr_t fault_pc(const ucontext_t *context) {
    /* The accessor reads the PC whether or not the thread state is
     * opaque (signed with pointer authentication). */
    return (uintptr_t)__darwin_arm_thread_state64_get_pc(context->uc_mcontext->__ss);
}
#else
static inline uintptr_t fault_pc(const ucontext_t *context) {
    return (uintptr_t)context->uc_mcontext.pc;
}
#endif
