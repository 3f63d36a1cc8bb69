/* Prometheus text exposition (format 0.0.4): families, samples with labels, and histograms with
 * fixed buckets. Pure: the modules keep their own counters, and whoever serves /metrics writes
 * them out through these. */
#ifndef CRIB_COMMON_METRICS_H
#define CRIB_COMMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Upper bounds of a histogram's buckets, ascending; +Inf is implied. */
struct metrics_buckets {
    const double *le;
    size_t n;
};
/* Seconds, from 1 ms to 2 min: the latency of a call, a CNI plugin, a pull. */
extern const struct metrics_buckets metrics_latency_buckets;
#define METRICS_MAX_BUCKETS 16

struct metrics_hist {
    uint64_t counts[METRICS_MAX_BUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
    uint64_t count;
    double sum;
};

void metrics_hist_observe(struct metrics_hist *h, const struct metrics_buckets *b, double v);

/* "# HELP" and "# TYPE" lines; type is counter, gauge or histogram. */
void metrics_family(struct buf *out, const char *name, const char *help, const char *type);
/* One sample: name{k1="v1",...} value. Label values are escaped as the format wants; n may be 0
 * (keys and values NULL). */
void metrics_sample(struct buf *out, const char *name, const char *const *keys,
                    const char *const *values, size_t n, double value);
/* A histogram's samples: name_bucket (cumulative, le last), name_sum, name_count. */
void metrics_hist_write(struct buf *out, const char *name, const char *const *keys,
                        const char *const *values, size_t n, const struct metrics_hist *h,
                        const struct metrics_buckets *b);

#endif
