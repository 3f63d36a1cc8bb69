/* struct err: message building for errors that reach users. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/macro.h"

int err_set(struct err *err, int code, const char *fmt, ...)
{
    va_list ap;
    free(err->msg);
    va_start(ap, fmt);
    err->msg = xvasprintf(fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int err_wrap(struct err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *prefix = xvasprintf(fmt, ap);
    va_end(ap);
    char *msg = xasprintf("%s: %s", prefix, err->msg ? err->msg : strerror(-err->code));
    free(err->msg);
    err->msg = msg;
    return err->code;
}

void err_done(struct err *err)
{
    free(err->msg);
    err->msg = NULL;
    err->code = 0;
}

const char *err_msg(const struct err *err)
{
    if (err->msg)
        return err->msg;
    return err->code ? strerror(-err->code) : "no error";
}
