/* Unit tests for src/monitor/kmsg.c: the OOM killer's summary line parsed out of /dev/kmsg
 * records, and (as root) read back from the real kernel log. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "monitor/kmsg.h"

/* As 6.1 writes it, with its dictionary lines. */
#define SUMMARY                                                                                    \
    "6,1052,48211331,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=crib-1.scope,"  \
    "mems_allowed=0,oom_memcg=/kubepods.slice/crib-1.scope,task_memcg=/kubepods.slice/"            \
    "crib-1.scope,task=sh,pid=412,uid=0\n SUBSYSTEM=x\n"

static const char *memcg_of(const char *rec)
{
    static char out[256];
    const char *p;
    size_t n;
    if (!monitor_kmsg_oom_memcg(rec, strlen(rec), &p, &n))
        return NULL;
    snprintf(out, sizeof(out), "%.*s", (int)n, p);
    return out;
}

static void test_summary_names_the_victims_cgroup(void **state)
{
    (void)state;
    assert_string_equal(memcg_of(SUMMARY), "/kubepods.slice/crib-1.scope");
    /* The comm (the victim's choice) cannot pose as the field: the first one counts. */
    assert_string_equal(memcg_of("4,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,oom_memcg=/a,"
                                 "task_memcg=/a/b,task=,task_memcg=/x,pid=5,uid=0\n"),
                        "/a/b");
}

static void test_other_records_are_not_oom_kills(void **state)
{
    (void)state;
    assert_null(memcg_of("6,1,1,-;Memory cgroup out of memory: Killed process 412 (sh)\n"));
    assert_null(memcg_of("6,1,1,-;eth0: task_memcg=/a,task=b\n"));
    assert_null(memcg_of("oom-kill:task_memcg=/a,task=b\n")); /* no header */
    assert_null(memcg_of("6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=,task=x\n"));
    assert_null(memcg_of("6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=a,task=x\n"));
    /* Cut short before its end; the field only in the dictionary. */
    assert_null(memcg_of("6,1,1,-;oom-kill:constraint=CONSTRAINT_MEMCG,task_memcg=/a/b"));
    assert_null(memcg_of("6,1,1,-;oom-kill:constraint=X\n task_memcg=/a,task=b\n"));
    assert_null(memcg_of(""));
}

/* Root writes a summary line into the kernel's log (as a user-space record, which reads back
 * the same; with its newline, or the record stays open for a continuation and unread): it is
 * found by its cgroup on a read that started before it. */
static void test_real_log_read_back(void **state)
{
    (void)state;
    int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        skip();
    char path[64], line[256];
    snprintf(path, sizeof(path), "/crib-unit-%d.scope", (int)getpid());
    struct monitor_kmsg k = {.fd = -1};
    assert_false(monitor_kmsg_oom_in(&k, path));
    int n = snprintf(line, sizeof(line),
                     "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),oom_memcg=%s,"
                     "task_memcg=%s,task=sh,pid=1,uid=0\n",
                     path, path);
    assert_int_equal(write(fd, line, (size_t)n), n);
    close(fd);
    assert_true(monitor_kmsg_oom_in(&k, path));
    assert_false(monitor_kmsg_oom_in(&k, "/crib-unit-0.scope"));
    monitor_kmsg_done(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary_names_the_victims_cgroup),
        cmocka_unit_test(test_other_records_are_not_oom_kills),
        cmocka_unit_test(test_real_log_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
