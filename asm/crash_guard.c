/* The crash guard's shim: calls a function with a jump point set, and a
 * signal handler that jumps back to it when a synchronous fault (SIGSEGV,
 * SIGBUS, SIGILL, SIGFPE) during that call hits an instruction inside the
 * code of a module version (the ranges hcr-runtime publishes here). Every
 * other fault goes on to the handler that was installed before (Rust's
 * stack-overflow handler, a sanitizer's, the host's) or, when there was
 * none, to the default action.
 *
 * This is C, not Rust, because the jump leaves the faulting frames without
 * running anything in them: only frames of the guarded function, of what
 * it called and of this file lie between the jump and its target.
 * hcr-runtime's crash_guard.rs is the only caller. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#if defined(__APPLE__)
/* <ucontext.h> there insists on _XOPEN_SOURCE for the deprecated
 * functions; the type alone is here. */
#include <sys/ucontext.h>
#else
#include <ucontext.h>
#endif

#include "fault_pc.h" /* per architecture: fault_pc(const ucontext_t *) */

#define GUARD_YIELD() sched_yield()
#include "crash_guard_table.h"

/* What the handler saw when it caught a fault. */
struct hcr_guard_fault {
    int signal;
    int code;          /* si_code */
    uintptr_t pc;      /* the faulting instruction */
    uintptr_t address; /* si_addr: the address accessed, for SIGSEGV/SIGBUS */
};

/* One guarded call in progress on this thread. */
struct guard_frame {
    sigjmp_buf jump;
    struct hcr_guard_fault *fault;
    struct guard_frame *outer;
};

/* The innermost guarded call of this thread, read by the signal handler,
 * so never through anything that may allocate. */
#if defined(__APPLE__)
/* Darwin allocates a thread's __thread block on its first access, with
 * malloc; a pthread key's value is a plain read of the thread's own
 * table. The key is made by hcr_guard_install, before any guarded call. */
static pthread_key_t innermost_key;
static struct guard_frame *get_innermost(void) {
    return pthread_getspecific(innermost_key);
}
static void set_innermost(struct guard_frame *frame) {
    pthread_setspecific(innermost_key, frame);
}
static int make_innermost(void) {
    return pthread_key_create(&innermost_key, NULL);
}
#else
/* Initial-exec TLS: a plain load, never through __tls_get_addr, which may
 * allocate and is not async-signal-safe. */
static __thread struct guard_frame *volatile innermost
    __attribute__((tls_model("initial-exec")));
static struct guard_frame *get_innermost(void) { return innermost; }
static void set_innermost(struct guard_frame *frame) { innermost = frame; }
static int make_innermost(void) { return 0; }
#endif

static const int guarded_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
#define GUARDED_COUNT (sizeof guarded_signals / sizeof guarded_signals[0])

/* The handlers found when the guard was installed. */
static struct sigaction previous[GUARDED_COUNT];

static size_t slot_of(int signal) {
    for (size_t i = 0; i < GUARDED_COUNT; i++)
        if (guarded_signals[i] == signal)
            return i;
    return 0; /* unreachable: only guarded signals reach the handler */
}

/* Hands a fault that is not ours to the handler installed before. */
static void pass_on(int signal, siginfo_t *info, void *context) {
    const struct sigaction *before = &previous[slot_of(signal)];
    if (before->sa_flags & SA_SIGINFO) {
        before->sa_sigaction(signal, info, context);
        return;
    }
    if (before->sa_handler == SIG_IGN && info->si_code <= 0)
        return; /* sent by kill or raise, and ignored before the guard */
    if (before->sa_handler == SIG_DFL || before->sa_handler == SIG_IGN) {
        /* The default action: the faulting instruction runs again on return
         * and the fault kills the process. A signal that was sent rather
         * than caused is sent again (it stays pending until we return). */
        struct sigaction fallback = {0};
        fallback.sa_handler = SIG_DFL;
        sigemptyset(&fallback.sa_mask);
        sigaction(signal, &fallback, NULL);
        if (info->si_code <= 0)
            raise(signal);
        return;
    }
    before->sa_handler(signal);
}

static void on_fault(int signal, siginfo_t *info, void *context) {
    struct guard_frame *frame = get_innermost();
    /* si_code > 0: raised by the kernel for an instruction, not sent. */
    if (frame && info->si_code > 0) {
        uintptr_t pc = fault_pc((const ucontext_t *)context);
        if (in_module_code(pc)) {
            frame->fault->signal = signal;
            frame->fault->code = info->si_code;
            frame->fault->pc = pc;
            frame->fault->address = (uintptr_t)info->si_addr;
            siglongjmp(frame->jump, 1);
        }
    }
    pass_on(signal, info, context);
}

/* Installs the handler for the guarded signals, remembering the ones it
 * replaces. Called once, before the first guarded call. Returns 0, the
 * signal whose handler could not be read or set, or -1 when the
 * thread-specific slot could not be made (Darwin). */
int hcr_guard_install(void) {
    if (make_innermost() != 0)
        return -1;
    for (size_t i = 0; i < GUARDED_COUNT; i++) {
        struct sigaction handler = {0};
        handler.sa_sigaction = on_fault;
        /* SA_ONSTACK: a stack overflow is handled on the thread's
         * alternate stack, as Rust's own handler expects. */
        handler.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&handler.sa_mask);
        if (sigaction(guarded_signals[i], NULL, &previous[i]) != 0 ||
            sigaction(guarded_signals[i], &handler, NULL) != 0)
            return guarded_signals[i];
    }
    return 0;
}

/* Calls fn(arg). Returns 0 when it returned, 1 when a fault in module
 * code ended it; then *fault says what happened. */
int hcr_guard_call(void (*fn)(void *), void *arg, struct hcr_guard_fault *fault) {
    struct guard_frame frame;
    frame.fault = fault;
    frame.outer = get_innermost();
    /* The mask is not saved (that would be a system call on every guarded
     * call). After the jump, only the signal the handler ran for is
     * blocked beyond what was blocked here, since the handler's own mask
     * is empty; and it was not blocked here, or the kernel would have
     * killed the process instead of running the handler. So unblocking it
     * restores this mask. */
    if (sigsetjmp(frame.jump, 0) != 0) {
        set_innermost(frame.outer);
        sigset_t caught;
        sigemptyset(&caught);
        sigaddset(&caught, fault->signal);
        pthread_sigmask(SIG_UNBLOCK, &caught, NULL);
        return 1;
    }
    set_innermost(&frame);
    fn(arg);
    set_innermost(frame.outer);
    return 0;
}
