/* Prometheus text exposition: see metrics.h. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "common/metrics.h"

static const double latency_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                    0.5,   1,      2.5,   5,    10,    30,   60,  120};
const struct metrics_buckets metrics_latency_buckets = {latency_le, ARRAY_SIZE(latency_le)};

void metrics_hist_observe(struct metrics_hist *h, const struct metrics_buckets *b, double v)
{
    size_t i = 0;
    while (i < b->n && i < METRICS_MAX_BUCKETS && v > b->le[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

/* HELP text escapes backslash and newline; label values also the double quote. */
static void put_escaped(struct buf *out, const char *s, bool quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_puts(out, "\\\\");
        else if (*s == '\n')
            buf_puts(out, "\\n");
        else if (*s == '"' && quote)
            buf_puts(out, "\\\"");
        else
            buf_append(out, s, 1);
    }
}

void metrics_family(struct buf *out, const char *name, const char *help, const char *type)
{
    buf_printf(out, "# HELP %s ", name);
    put_escaped(out, help, false);
    buf_printf(out, "\n# TYPE %s %s\n", name, type);
}

static void put_value(struct buf *out, double v)
{
    if (isnan(v))
        buf_puts(out, "NaN");
    else if (isinf(v))
        buf_puts(out, v > 0 ? "+Inf" : "-Inf");
    else if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v)
        buf_printf(out, "%lld", (long long)v);
    else
        buf_printf(out, "%.17g", v);
}

static void put_labels(struct buf *out, const char *const *keys, const char *const *values,
                       size_t n, const char *le)
{
    if (n == 0 && !le)
        return;
    buf_puts(out, "{");
    for (size_t i = 0; i < n; i++) {
        buf_printf(out, "%s%s=\"", i ? "," : "", keys[i]);
        put_escaped(out, values[i] ? values[i] : "", true);
        buf_puts(out, "\"");
    }
    if (le)
        buf_printf(out, "%sle=\"%s\"", n ? "," : "", le);
    buf_puts(out, "}");
}

void metrics_sample(struct buf *out, const char *name, const char *const *keys,
                    const char *const *values, size_t n, double value)
{
    buf_puts(out, name);
    put_labels(out, keys, values, n, NULL);
    buf_puts(out, " ");
    put_value(out, value);
    buf_puts(out, "\n");
}

void metrics_hist_write(struct buf *out, const char *name, const char *const *keys,
                        const char *const *values, size_t n, const struct metrics_hist *h,
                        const struct metrics_buckets *b)
{
    uint64_t cum = 0;
    size_t nb = b->n < METRICS_MAX_BUCKETS ? b->n : METRICS_MAX_BUCKETS;
    for (size_t i = 0; i <= nb; i++) {
        cum += h->counts[i];
        char le[32];
        if (i < nb)
            snprintf(le, sizeof(le), "%g", b->le[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        buf_printf(out, "%s_bucket", name);
        put_labels(out, keys, values, n, le);
        buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    buf_printf(out, "%s_sum", name);
    put_labels(out, keys, values, n, NULL);
    buf_puts(out, " ");
    put_value(out, h->sum);
    buf_printf(out, "\n%s_count", name);
    put_labels(out, keys, values, n, NULL);
    buf_printf(out, " %llu\n", (unsigned long long)h->count);
}
