/* The crash guard's shim on Windows: calls a function with its context
 * captured, and a vectored exception handler that, when a synchronous
 * fault (access violation, illegal or privileged instruction, integer
 * division by zero or overflow, in-page error, misaligned data, array
 * bounds) during that call hits an instruction inside the code of a module
 * version (the ranges hcr-runtime publishes here), resumes the call at the
 * captured context with the fault recorded. Every other exception goes on
 * to the handlers after this one, the frame-based handlers and the
 * unhandled-exception filter, as if there were no guard; a debugger sees
 * every exception first, as Windows gives it first.
 *
 * A stack overflow is not caught: the guard page it used up is not back
 * until the stack is unwound through it, so a second overflow would end
 * the process with no handler at all. It goes on as any other fault.
 *
 * This is C, not Rust, because resuming at a captured context returns a
 * second time from the capture (like setjmp), which only a compiler told
 * so (`returns_twice`) compiles correctly; and no frame between the fault
 * and the guard runs anything. hcr-runtime's crash_guard code is the only
 * caller; the functions and structures are those of crash_guard.c. */
#include <windows.h>

#include <stdint.h>

#define GUARD_YIELD() SwitchToThread()
#include "crash_guard_table.h"

/* Returns twice: once when called, once more when the handler resumes at
 * the context it captured. */
NTSYSAPI __attribute__((returns_twice)) VOID NTAPI RtlCaptureContext(PCONTEXT context);

/* What the handler saw when it caught a fault. */
struct hcr_guard_fault {
    uint32_t code;     /* the exception code (EXCEPTION_ACCESS_VIOLATION, ...) */
    uint32_t access;   /* for an access violation or in-page error: 0 read, 1 write, 8 execute */
    uintptr_t pc;      /* the faulting instruction */
    uintptr_t address; /* for an access violation or in-page error: the address accessed */
};

/* One guarded call in progress on a thread. */
struct guard_frame {
    CONTEXT context; /* where the call goes on after a fault */
    volatile LONG caught;
    struct hcr_guard_fault *fault;
    struct guard_frame *outer;
};

/* The thread-local slot of each thread's innermost guarded call. A TLS
 * index, not __thread: mingw's emulated thread-locals may allocate on
 * first use, which a handler running on a fault inside the allocator must
 * not do. */
static DWORD innermost = TLS_OUT_OF_INDEXES;

static int guarded(DWORD code) {
    switch (code) {
    case EXCEPTION_ACCESS_VIOLATION:
    case EXCEPTION_IN_PAGE_ERROR:
    case EXCEPTION_ILLEGAL_INSTRUCTION:
    case EXCEPTION_PRIV_INSTRUCTION:
    case EXCEPTION_INT_DIVIDE_BY_ZERO:
    case EXCEPTION_INT_OVERFLOW:
    case EXCEPTION_DATATYPE_MISALIGNMENT:
    case EXCEPTION_ARRAY_BOUNDS_EXCEEDED:
        return 1;
    default:
        return 0;
    }
}

static LONG CALLBACK on_exception(EXCEPTION_POINTERS *info) {
    const EXCEPTION_RECORD *record = info->ExceptionRecord;
    if (!guarded(record->ExceptionCode))
        return EXCEPTION_CONTINUE_SEARCH;
    /* TlsGetValue clears the thread's last error: what the faulting code
     * or a later handler reads of it stays as it was. */
    DWORD last_error = GetLastError();
    struct guard_frame *frame = TlsGetValue(innermost);
    SetLastError(last_error);
    uintptr_t pc = (uintptr_t)record->ExceptionAddress;
    if (!frame || !in_module_code(pc))
        return EXCEPTION_CONTINUE_SEARCH;
    frame->fault->code = record->ExceptionCode;
    frame->fault->pc = pc;
    frame->fault->access = 0;
    frame->fault->address = 0;
    if ((record->ExceptionCode == EXCEPTION_ACCESS_VIOLATION ||
         record->ExceptionCode == EXCEPTION_IN_PAGE_ERROR) &&
        record->NumberParameters >= 2) {
        frame->fault->access = (uint32_t)record->ExceptionInformation[0];
        frame->fault->address = (uintptr_t)record->ExceptionInformation[1];
    }
    frame->caught = 1;
    *info->ContextRecord = frame->context;
    return EXCEPTION_CONTINUE_EXECUTION;
}

/* Adds the handler, first in the list. Called once, before the first
 * guarded call. Returns 0, or 1 when it could not be added (then
 * GetLastError says why). */
int hcr_guard_install(void) {
    innermost = TlsAlloc();
    if (innermost == TLS_OUT_OF_INDEXES)
        return 1;
    return AddVectoredExceptionHandler(1, on_exception) ? 0 : 1;
}

/* Calls fn(arg). Returns 0 when it returned, 1 when a fault in module
 * code ended it; then *fault says what happened. */
int hcr_guard_call(void (*fn)(void *), void *arg, struct hcr_guard_fault *fault) {
    struct guard_frame frame;
    frame.caught = 0;
    frame.fault = fault;
    frame.outer = TlsGetValue(innermost);
    RtlCaptureContext(&frame.context);
    if (frame.caught) {
        TlsSetValue(innermost, frame.outer);
        return 1;
    }
    TlsSetValue(innermost, &frame);
    fn(arg);
    TlsSetValue(innermost, frame.outer);
    return 0;
}
