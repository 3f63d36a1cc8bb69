/* Leveled logging to stderr. Only cri/ and main log failures above debug (STYLE.md). */
#ifndef CRIB_COMMON_LOG_H
#define CRIB_COMMON_LOG_H

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_TRACE
};

extern enum log_level log_max_level;

/* Parse "error", "warn"/"warning", "info", "debug", "trace"/"fatal"/"panic" (crio names); -EINVAL.
 */
int log_level_parse(const char *s, enum log_level *ret_level);
const char *log_level_name(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_at(level, ...)                                                                         \
    do {                                                                                           \
        if ((level) <= log_max_level)                                                              \
            log_msg((level), __VA_ARGS__);                                                         \
    } while (0)
#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_trace(...) log_at(LOG_LEVEL_TRACE, __VA_ARGS__)

#endif
