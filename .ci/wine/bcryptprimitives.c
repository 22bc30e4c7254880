/* bcryptprimitives.dll for wine versions that lack it (Debian 12's wine
 * 8.0): Rust's std for Windows draws its random keys from
 * ProcessPrng in this DLL, so without it no Rust program starts under
 * wine. This one answers from RtlGenRandom (advapi32's SystemFunction036),
 * which wine has. Installed into the wine prefix by .ci/cross-setup; only
 * for running the tests under wine. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
