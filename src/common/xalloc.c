/* Allocation wrappers: out of memory aborts, as in crun and redis. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"

static void *check(void *p)
{
    if (p == NULL)
        abort();
    return p;
}

void *xmalloc(size_t n)
{
    return check(malloc(n ? n : 1));
}

void *xcalloc(size_t n, size_t m)
{
    return check(calloc(n ? n : 1, m ? m : 1));
}

void *xmalloc_flex(size_t head, size_t tail)
{
    if (tail > SIZE_MAX - head)
        abort();
    return xmalloc(head + tail);
}

void *xrealloc(void *p, size_t n)
{
    return check(realloc(p, n ? n : 1));
}

char *xstrdup(const char *s)
{
    return check(strdup(s));
}

char *xstrndup(const char *s, size_t n)
{
    return check(strndup(s, n));
}

char *xvasprintf(const char *fmt, va_list ap)
{
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    return s;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int r = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (r < 0)
        abort();
    return s;
}
