/* Unit tests for src/common/metrics.c: the exposition text as Prometheus reads it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/buf.h"
#include "common/macro.h"
#include "common/metrics.h"

static char *text(struct buf *b)
{
    return buf_steal(b);
}

static void test_family_and_samples(void **state)
{
    (void)state;
    struct buf b = {0};
    metrics_family(&b, "crib_x_total", "Things.\nA \\ second line.", "counter");
    metrics_sample(&b, "crib_x_total", NULL, NULL, 0, 3);
    const char *keys[] = {"name", "code"};
    const char *vals[] = {"a \"quoted\" \\ name\nwith a newline", "OK"};
    metrics_sample(&b, "crib_x_total", keys, vals, 2, 12345678901.0);
    metrics_sample(&b, "crib_x_total", keys, vals, 1, 0.25);
    cleanup_free char *t = text(&b);
    assert_string_equal(t, "# HELP crib_x_total Things.\\nA \\\\ second line.\n"
                           "# TYPE crib_x_total counter\n"
                           "crib_x_total 3\n"
                           "crib_x_total{name=\"a \\\"quoted\\\" \\\\ name\\nwith a newline\","
                           "code=\"OK\"} 12345678901\n"
                           "crib_x_total{name=\"a \\\"quoted\\\" \\\\ name\\nwith a newline\"} "
                           "0.25\n");
}

static void test_histogram(void **state)
{
    (void)state;
    static const double le[] = {0.1, 1, 10};
    const struct metrics_buckets bk = {le, 3};
    struct metrics_hist h = {0};
    metrics_hist_observe(&h, &bk, 0.05);
    metrics_hist_observe(&h, &bk, 0.1); /* on a bound: in that bucket (le is <=) */
    metrics_hist_observe(&h, &bk, 5);
    metrics_hist_observe(&h, &bk, 100);
    struct buf b = {0};
    const char *keys[] = {"operation"};
    const char *vals[] = {"RunPodSandbox"};
    metrics_hist_write(&b, "crib_op_seconds", keys, vals, 1, &h, &bk);
    cleanup_free char *t = text(&b);
    assert_string_equal(t, "crib_op_seconds_bucket{operation=\"RunPodSandbox\",le=\"0.1\"} 2\n"
                           "crib_op_seconds_bucket{operation=\"RunPodSandbox\",le=\"1\"} 2\n"
                           "crib_op_seconds_bucket{operation=\"RunPodSandbox\",le=\"10\"} 3\n"
                           "crib_op_seconds_bucket{operation=\"RunPodSandbox\",le=\"+Inf\"} 4\n"
                           "crib_op_seconds_sum{operation=\"RunPodSandbox\"} 105.15000000000001\n"
                           "crib_op_seconds_count{operation=\"RunPodSandbox\"} 4\n");
    /* Without labels, the le label stands alone */
    struct buf b2 = {0};
    struct metrics_hist empty = {0};
    metrics_hist_write(&b2, "crib_lag_seconds", NULL, NULL, 0, &empty, &metrics_latency_buckets);
    cleanup_free char *t2 = text(&b2);
    assert_non_null(strstr(t2, "crib_lag_seconds_bucket{le=\"0.001\"} 0\n"));
    assert_non_null(strstr(t2, "crib_lag_seconds_bucket{le=\"+Inf\"} 0\n"));
    assert_non_null(strstr(t2, "crib_lag_seconds_sum 0\ncrib_lag_seconds_count 0\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_histogram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
