/* Unit tests for src/network/netdev.c: /proc/PID/net/dev as the kernel writes it, and lines a pod
 * could make odd. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "common/macro.h"
#include "network/network.h"

#define HEAD                                                                                       \
    "Inter-|   Receive                                                |  Transmit\n"               \
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "     \
    "drop fifo colls carrier compressed\n"

static void test_kernel_format(void **state)
{
    (void)state;
    const char *t = HEAD
        "    lo:     840      12    0    0    0     0          0         0      840      12    0 "
        "   0    0     0       0          0\n"
        "  eth0: 1234567    1000    3    4    0     0          0         0   765432     900    5 "
        "   6    0     0       0          0\n";
    struct network_if_usage u[4];
    assert_int_equal(network_netdev_parse(t, strlen(t), u, 4), 2);
    assert_string_equal(u[0].name, "lo");
    assert_string_equal(u[1].name, "eth0");
    assert_int_equal(u[1].rx_bytes, 1234567);
    assert_int_equal(u[1].rx_errors, 3);
    assert_int_equal(u[1].tx_bytes, 765432);
    assert_int_equal(u[1].tx_errors, 5);
    assert_int_equal(u[1].rx_packets, 1000);
    assert_int_equal(u[1].rx_dropped, 4);
    assert_int_equal(u[1].tx_packets, 900);
    assert_int_equal(u[1].tx_dropped, 6);
    assert_int_equal(network_netdev_parse(t, strlen(t), u, 1), 1); /* at most max */
}

static void test_odd_lines_are_skipped(void **state)
{
    (void)state;
    const char *t = HEAD "eth0: 1 2 3\n"                                 /* too few numbers */
                         "  ab: 1 2 3 4 5 6 7 8 9 10 x 12 13 14 15 16\n" /* not a number */
                         "  cd: 99999999999999999999999 2 3 4 5 6 7 8 9 10 11 12\n" /* too large */
                         "   : 1 2 3 4 5 6 7 8 9 10 11 12\n"                        /* no name */
                         "  averyveryveryveryveryverylongname0: 1 2 3 4 5 6 7 8 9 10 11 12\n"
                         "no colon 1 2 3\n"
                         "  ok: 1 2 3 4 5 6 7 8 9 10 11 12"; /* no newline at the end */
    struct network_if_usage u[8];
    assert_int_equal(network_netdev_parse(t, strlen(t), u, 8), 1);
    assert_string_equal(u[0].name, "ok");
    assert_int_equal(u[0].tx_errors, 11);
    assert_int_equal(u[0].tx_dropped, 12);
    /* A NUL or a space inside a name (the fuzzer's find: a NUL made the name look empty) */
    static const char nul[] =
        HEAD "  a\0b: 1 2 3 4 5 6 7 8 9 10 11 12\n  a b: 1 2 3 4 5 6 7 8 9 10 11 12\n";
    assert_int_equal(network_netdev_parse(nul, sizeof(nul) - 1, u, 8), 0);
    assert_int_equal(network_netdev_parse("", 0, u, 8), 0);
    assert_int_equal(network_netdev_parse(HEAD, strlen(HEAD), u, 8), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_format),
        cmocka_unit_test(test_odd_lines_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
