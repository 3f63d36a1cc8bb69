/* Unit tests for src/oci/cgroup-stats.c: v2 and v1 cgroups as fixture trees (the files as the
 * kernel writes them), the key-value and PSI parsers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/cgroup-stats.h"

static char root[] = "/tmp/test_oci_cgroup_stats.XXXXXX";

static void put(const char *dir, const char *name, const char *text)
{
    cleanup_free char *d = xasprintf("%s%s", root, dir);
    assert_int_equal(fs_mkdir_p(d, 0755), 0);
    cleanup_free char *p = xasprintf("%s/%s", d, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#define PSI_CPU                                                                                    \
    "some avg10=12.50 avg60=3.25 avg300=0.75 total=123456\nfull avg10=0.00 avg60=0.00 "            \
    "avg300=0.00 total=0\n"

static void test_v2(void **state)
{
    (void)state;
    const char *cg = "/kubepods.slice/crib-1.scope";
    put(cg, "cpu.stat",
        "usage_usec 2500001\nuser_usec 2000000\nsystem_usec 500001\nnr_periods 40\nnr_throttled "
        "7\nthrottled_usec 350000\n");
    put(cg, "memory.current", "73400320\n");
    put(cg, "memory.stat",
        "anon 52428800\nfile 20971520\nkernel 1048576\nfile_mapped 3145728\nactive_file "
        "4194304\ninactive_file 16777216\npgfault 9876\npgmajfault 12\n");
    put(cg, "memory.events", "low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\noom_group_kill 0\n");
    put(cg, "pids.max", "max\n");
    put(cg, "memory.max", "268435456\n");
    put(cg, "memory.swap.current", "4096\n");
    put(cg, "memory.swap.max", "max\n");
    put(cg, "pids.current", "7\n");
    put(cg, "cpu.pressure", PSI_CPU);
    put(cg, "memory.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n");
    struct oci_cgroup_stats s;
    assert_int_equal(oci_cgroup_stats_read(root, cg, true, &s), 0);
    assert_true(s.have_cpu && s.have_memory && s.have_swap && s.have_pids);
    assert_int_equal(s.cpu_usage_ns, 2500001000ULL);
    assert_true(s.have_cpu_split && s.have_throttling && s.have_oom);
    assert_int_equal(s.cpu_user_ns, 2000000000ULL);
    assert_int_equal(s.cpu_system_ns, 500001000ULL);
    assert_int_equal(s.cpu_periods, 40);
    assert_int_equal(s.cpu_throttled_periods, 7);
    assert_int_equal(s.cpu_throttled_ns, 350000000ULL);
    assert_int_equal(s.mem_cache, 20971520);
    assert_int_equal(s.mem_mapped_file, 3145728);
    assert_int_equal(s.oom_kills, 2);
    assert_int_equal(s.pids_limit, 0); /* max */
    assert_int_equal(s.mem_usage, 73400320);
    assert_int_equal(s.mem_working_set, 73400320 - 16777216);
    assert_int_equal(s.mem_rss, 52428800);
    assert_int_equal(s.mem_pgfault, 9876);
    assert_int_equal(s.mem_pgmajfault, 12);
    assert_int_equal(s.mem_limit, 268435456);
    assert_int_equal(s.swap_usage, 4096);
    assert_int_equal(s.swap_limit, 0); /* max */
    assert_int_equal(s.pids, 7);
    assert_true(s.cpu_psi.have && s.cpu_psi.have_full);
    assert_int_equal(s.cpu_psi.some.total_us, 123456);
    assert_true(s.cpu_psi.some.avg10 > 12.49 && s.cpu_psi.some.avg10 < 12.51);
    assert_true(s.memory_psi.have && !s.memory_psi.have_full);
    assert_false(s.io_psi.have); /* no io.pressure here */
    /* Without a limit; more inactive file pages than usage (a racing read): never below 0. */
    put(cg, "memory.max", "max\n");
    put(cg, "memory.current", "1000\n");
    assert_int_equal(oci_cgroup_stats_read(root, cg, true, &s), 0);
    assert_int_equal(s.mem_limit, 0);
    assert_int_equal(s.mem_working_set, 0);
    /* A cgroup that is gone */
    assert_int_equal(oci_cgroup_stats_read(root, "/kubepods.slice/gone.scope", true, &s), -ENOENT);
}

static void test_v1(void **state)
{
    (void)state;
    const char *cg = "/crib/crib-2";
    put("/cpuacct/crib/crib-2", "cpuacct.usage", "987654321\n");
    put("/cpuacct/crib/crib-2", "cpuacct.stat", "user 70\nsystem 20\n");
    put("/cpu/crib/crib-2", "cpu.stat",
        "nr_periods 10\nnr_throttled 3\nthrottled_time 123456789\n");
    put("/memory/crib/crib-2", "memory.oom_control",
        "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
    put("/pids/crib/crib-2", "pids.max", "64\n");
    put("/memory/crib/crib-2", "memory.usage_in_bytes", "10485760\n");
    put("/memory/crib/crib-2", "memory.stat",
        "cache 4096\nrss 8192\ntotal_cache 2097152\ntotal_rss 6291456\ntotal_mapped_file "
        "65536\ntotal_inactive_file 1048576\ntotal_pgfault 100\ntotal_pgmajfault 2\n");
    put("/memory/crib/crib-2", "memory.limit_in_bytes", "9223372036854771712\n");
    put("/memory/crib/crib-2", "memory.memsw.usage_in_bytes", "11534336\n");
    put("/memory/crib/crib-2", "memory.memsw.limit_in_bytes", "9223372036854771712\n");
    put("/pids/crib/crib-2", "pids.current", "3\n");
    struct oci_cgroup_stats s;
    assert_int_equal(oci_cgroup_stats_read(root, cg, false, &s), 0);
    assert_int_equal(s.cpu_usage_ns, 987654321);
    long hz = sysconf(_SC_CLK_TCK);
    assert_true(s.have_cpu_split && s.have_throttling && s.have_oom);
    assert_int_equal(s.cpu_user_ns, 70 * (1000000000ULL / (uint64_t)hz));
    assert_int_equal(s.cpu_system_ns, 20 * (1000000000ULL / (uint64_t)hz));
    assert_int_equal(s.cpu_throttled_periods, 3);
    assert_int_equal(s.cpu_throttled_ns, 123456789);
    assert_int_equal(s.mem_cache, 2097152);
    assert_int_equal(s.mem_mapped_file, 65536);
    assert_int_equal(s.oom_kills, 1);
    assert_int_equal(s.pids_limit, 64);
    assert_int_equal(s.mem_usage, 10485760);
    assert_int_equal(s.mem_working_set, 10485760 - 1048576);
    assert_int_equal(s.mem_rss, 6291456); /* total_: the hierarchy's, not the cgroup's alone */
    assert_int_equal(s.mem_pgfault, 100);
    assert_int_equal(s.mem_limit, 0); /* v1's "no limit" */
    assert_true(s.have_swap);
    assert_int_equal(s.swap_usage, 11534336 - 10485760);
    assert_int_equal(s.swap_limit, 0);
    assert_int_equal(s.pids, 3);
    assert_false(s.cpu_psi.have); /* v1 has no per-cgroup pressure */
    /* A limit */
    put("/memory/crib/crib-2", "memory.limit_in_bytes", "67108864\n");
    assert_int_equal(oci_cgroup_stats_read(root, cg, false, &s), 0);
    assert_int_equal(s.mem_limit, 67108864);
}

static void test_parsers(void **state)
{
    (void)state;
    uint64_t v = 1;
    assert_true(oci_cgroup_stat_value("a 1\nab 2\nb 3", "ab", &v));
    assert_int_equal(v, 2);
    assert_true(oci_cgroup_stat_value("a 1\nab 2\nb 3", "b", &v));
    assert_int_equal(v, 3);
    assert_false(oci_cgroup_stat_value("a 1\n", "b", &v));
    assert_false(oci_cgroup_stat_value("a -1\n", "a", &v));
    assert_false(oci_cgroup_stat_value("a x\n", "a", &v));
    assert_false(oci_cgroup_stat_value("a 1x\n", "a", &v));
    assert_false(oci_cgroup_stat_value("a 99999999999999999999999\n", "a", &v));
    assert_false(oci_cgroup_stat_value("", "a", &v));
    struct oci_psi p;
    assert_true(oci_cgroup_parse_psi(PSI_CPU, &p));
    assert_false(oci_cgroup_parse_psi("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n", &p));
    assert_false(oci_cgroup_parse_psi("some avg10=0.00 total=0\n", &p));
    assert_false(oci_cgroup_parse_psi("some avg10=1 avg60=1 avg300=1 total=-4\n", &p));
    assert_false(oci_cgroup_parse_psi("", &p));
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return fs_remove_tree(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v2),
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_parsers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
