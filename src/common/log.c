/* Leveled logging: one line per event, RFC 3339 UTC time, level, message. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"

enum log_level log_max_level = LOG_LEVEL_INFO;

static const char *const names[] = {"error", "warn", "info", "debug", "trace"};

int log_level_parse(const char *s, enum log_level *ret_level)
{
    static const struct {
        const char *name;
        enum log_level level;
    } table[] = {
        {"fatal", LOG_LEVEL_ERROR}, {"panic", LOG_LEVEL_ERROR},  {"error", LOG_LEVEL_ERROR},
        {"warn", LOG_LEVEL_WARN},   {"warning", LOG_LEVEL_WARN}, {"info", LOG_LEVEL_INFO},
        {"debug", LOG_LEVEL_DEBUG}, {"trace", LOG_LEVEL_TRACE},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcmp(s, table[i].name) == 0) {
            *ret_level = table[i].level;
            return 0;
        }
    }
    return -EINVAL;
}

const char *log_level_name(enum log_level level)
{
    return names[level];
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    int r = snprintf(line + n, sizeof(line) - n, ".%06ldZ %-5s ", ts.tv_nsec / 1000, names[level]);
    if (r > 0)
        n += (size_t)r;
    va_list ap;
    va_start(ap, fmt);
    r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (r > 0)
        n += (size_t)r < sizeof(line) - n - 1 ? (size_t)r : sizeof(line) - n - 2;
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}
