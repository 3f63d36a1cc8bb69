/* Unit tests for the pidfd watcher: a child's exit status reaches the callback once and the
 * child is reaped; a forgotten watch still reaps; a signal goes through the pidfd; closing the
 * registry closes every watch, so that the loop closes with no handle left. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reactor/reactor.h"

struct seen {
    int calls;
    struct reactor_pid_exit e;
};

static void on_exit_cb(const struct reactor_pid_exit *e, void *data)
{
    struct seen *s = data;
    s->calls++;
    s->e = *e;
}

static int child(int code, int sig)
{
    int pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (sig)
            raise(sig);
        usleep(100 * 1000);
        _exit(code);
    }
    return pid;
}

/* A child that waits for a signal. */
static int sleeper(void)
{
    int pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        pause();
        _exit(0);
    }
    return pid;
}

static void test_exit_status_and_reaping(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct reactor_pids *pids = reactor_pids_new(&loop);
    struct seen a = {0}, b = {0};
    int pa = child(7, 0), pb = child(0, SIGTERM);
    struct reactor_pid *wa;
    assert_int_equal(reactor_pid_watch(pids, pa, on_exit_cb, &a, &wa), 0);
    assert_true(reactor_pid_fd(wa) >= 0);
    assert_int_equal(reactor_pid_watch(pids, pb, on_exit_cb, &b, NULL), 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a.calls, 1);
    assert_true(a.e.status_known);
    assert_int_equal(a.e.exit_code, 7);
    assert_int_equal(b.calls, 1);
    assert_int_equal(b.e.signal, SIGTERM);
    assert_int_equal(b.e.exit_code, 128 + SIGTERM);
    /* Both were reaped by the watcher: nothing is left to wait for. */
    assert_int_equal(waitpid(pa, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
    reactor_pids_close(pids);
    assert_int_equal(uv_loop_close(&loop), 0);
    reactor_pids_free(pids);
}

static void test_forgotten_watch_still_reaps(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct reactor_pids *pids = reactor_pids_new(&loop);
    struct seen a = {0};
    int pa = child(3, 0);
    struct reactor_pid *wa;
    assert_int_equal(reactor_pid_watch(pids, pa, on_exit_cb, &a, &wa), 0);
    reactor_pid_forget(wa);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a.calls, 0);
    assert_int_equal(waitpid(pa, NULL, WNOHANG), -1);
    reactor_pids_close(pids);
    assert_int_equal(uv_loop_close(&loop), 0);
    reactor_pids_free(pids);
}

static void test_signal_through_the_pidfd(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct reactor_pids *pids = reactor_pids_new(&loop);
    struct seen a = {0};
    int pa = sleeper();
    struct reactor_pid *wa;
    assert_int_equal(reactor_pid_watch(pids, pa, on_exit_cb, &a, &wa), 0);
    assert_int_equal(reactor_pid_signal(wa, 0), 0);
    assert_int_equal(reactor_pid_signal(wa, SIGKILL), 0);
    assert_int_equal(reactor_pid_signal(NULL, SIGKILL), -ESRCH);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(a.calls, 1);
    assert_int_equal(a.e.signal, SIGKILL);
    assert_int_equal(a.e.exit_code, 128 + SIGKILL);
    reactor_pids_close(pids);
    assert_int_equal(uv_loop_close(&loop), 0);
    reactor_pids_free(pids);
}

static void test_close_ends_every_watch(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct reactor_pids *pids = reactor_pids_new(&loop);
    struct seen a = {0};
    int pa = sleeper();
    assert_int_equal(reactor_pid_watch(pids, pa, on_exit_cb, &a, NULL), 0);
    reactor_pids_close(pids);
    assert_int_equal(reactor_pid_watch(pids, pa, on_exit_cb, &a, NULL), -ECANCELED);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    reactor_pids_free(pids);
    assert_int_equal(a.calls, 0);
    kill(pa, SIGKILL);
    assert_int_equal(waitpid(pa, NULL, 0), pa);
    /* A process that is gone cannot be watched. */
    uv_loop_init(&loop);
    pids = reactor_pids_new(&loop);
    assert_true(reactor_pid_watch(pids, pa, on_exit_cb, &a, NULL) < 0);
    reactor_pids_close(pids);
    assert_int_equal(uv_loop_close(&loop), 0);
    reactor_pids_free(pids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_status_and_reaping),
        cmocka_unit_test(test_forgotten_watch_still_reaps),
        cmocka_unit_test(test_signal_through_the_pidfd),
        cmocka_unit_test(test_close_ends_every_watch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
