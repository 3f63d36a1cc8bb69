/* The syscall(2) wrapper behind openat2-switch.h. */
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

#include "openat2-switch.h"

bool no_openat2;
unsigned openat2_calls;

long __real_syscall(long n, ...);
long __wrap_syscall(long n, ...);

long __wrap_syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long), d = va_arg(ap, long),
         e = va_arg(ap, long), f = va_arg(ap, long);
    va_end(ap);
    if (n == SYS_openat2) {
        openat2_calls++;
        if (no_openat2) {
            errno = ENOSYS;
            return -1;
        }
    }
    return __real_syscall(n, a, b, c, d, e, f);
}
