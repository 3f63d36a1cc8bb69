/* Unit tests for the OCI runtime's command lines: the argv each verb builds for runc and for
 * crun (global options first, then the verb, its flags and the id), and the combinations the
 * runtimes refuse, checked before anything is spawned. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oci/oci.h"

/* The argv joined with single spaces, for one readable comparison. */
static void assert_argv(const struct oci_runtime *rt, const struct oci_verb *v, const char *log,
                        const char *want)
{
    struct oci_runtime_argv a;
    struct err err = ERR_INIT;
    int r = oci_runtime_argv_build(rt, v, log, &a, &err);
    if (r < 0)
        fail_msg("build: %s", err_msg(&err));
    char got[1024] = "";
    for (size_t i = 0; i < a.n; i++) {
        assert_non_null(a.v[i]);
        if (i)
            strcat(got, " ");
        strcat(got, a.v[i]);
    }
    assert_null(a.v[a.n]);
    assert_string_equal(got, want);
    oci_runtime_argv_done(&a);
    err_done(&err);
}

static void assert_refused(const struct oci_runtime *rt, const struct oci_verb *v,
                           const char *want_msg)
{
    struct oci_runtime_argv a;
    struct err err = ERR_INIT;
    assert_int_equal(oci_runtime_argv_build(rt, v, NULL, &a, &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), want_msg));
    oci_runtime_argv_done(&a);
    err_done(&err);
}

static void test_kind_from_binary_name(void **state)
{
    struct oci_runtime rt;
    oci_runtime_init(&rt, "runc", NULL, 1);
    assert_int_equal(rt.kind, OCI_RUNTIME_RUNC);
    oci_runtime_init(&rt, "/usr/local/bin/crun", "/run/crun", 2);
    assert_int_equal(rt.kind, OCI_RUNTIME_CRUN);
    assert_string_equal(rt.path, "/usr/local/bin/crun");
    assert_string_equal(rt.root, "/run/crun");
    assert_int_equal(rt.timeout_ms, 2);
    oci_runtime_init(&rt, "/opt/crun/runc", NULL, 0); /* the name counts, not the folder */
    assert_int_equal(rt.kind, OCI_RUNTIME_RUNC);
    oci_runtime_init(&rt, "runsc", NULL, 0);
    assert_int_equal(rt.kind, OCI_RUNTIME_RUNC);
}

/* The systemd cgroup driver: a global flag, before the verb. */
static void test_systemd_cgroup(void **state)
{
    struct oci_runtime rt;
    oci_runtime_init(&rt, "runc", "/run/crib/runc", 0);
    rt.systemd_cgroup = true;
    assert_argv(&rt, &(struct oci_verb){.type = OCI_VERB_START, .id = "c1"}, NULL,
                "runc --root /run/crib/runc --systemd-cgroup start c1");
    assert_argv(&rt,
                &(struct oci_verb){.type = OCI_VERB_DELETE, .id = "c1", .del = {.force = true}},
                NULL, "runc --root /run/crib/runc --systemd-cgroup delete --force c1");
}

/* What cri/ runs today, for both runtimes: the same command line, runc's. */
static void test_verbs_in_use(void **state)
{
    struct oci_runtime rts[2];
    oci_runtime_init(&rts[0], "/usr/sbin/runc", "/run/crib/runc", 0);
    oci_runtime_init(&rts[1], "crun", "/run/crib/crun", 0);
    const char *names[2] = {"/usr/sbin/runc --root /run/crib/runc", "crun --root /run/crib/crun"};
    for (int i = 0; i < 2; i++) {
        const struct oci_runtime *rt = &rts[i];
        char want[512];

        struct oci_verb create = {
            .type = OCI_VERB_CREATE,
            .id = "c1",
            .create = {.bundle = "/run/c1", .pid_file = "/run/c1/pid"},
        };
        snprintf(want, sizeof(want),
                 "%s --log /run/c1/runtime.log --log-format json create --bundle /run/c1 "
                 "--pid-file /run/c1/pid c1",
                 names[i]);
        assert_argv(rt, &create, "/run/c1/runtime.log", want);
        create.create.console_socket = "/run/c1/console.sock";
        snprintf(want, sizeof(want),
                 "%s --log /run/c1/runtime.log --log-format json create --bundle /run/c1 "
                 "--pid-file /run/c1/pid --console-socket /run/c1/console.sock c1",
                 names[i]);
        assert_argv(rt, &create, "/run/c1/runtime.log", want);

        snprintf(want, sizeof(want), "%s start c1", names[i]);
        assert_argv(rt, &(struct oci_verb){.type = OCI_VERB_START, .id = "c1"}, NULL, want);

        snprintf(want, sizeof(want), "%s kill --all c1 KILL", names[i]);
        assert_argv(rt,
                    &(struct oci_verb){
                        .type = OCI_VERB_KILL, .id = "c1", .kill = {.signo = SIGKILL, .all = true}},
                    NULL, want);
        snprintf(want, sizeof(want), "%s kill c1 TERM", names[i]);
        assert_argv(
            rt, &(struct oci_verb){.type = OCI_VERB_KILL, .id = "c1", .kill = {.signo = SIGTERM}},
            NULL, want);

        snprintf(want, sizeof(want), "%s delete --force c1", names[i]);
        assert_argv(rt,
                    &(struct oci_verb){.type = OCI_VERB_DELETE, .id = "c1", .del = {.force = true}},
                    NULL, want);
        snprintf(want, sizeof(want), "%s delete c1", names[i]);
        assert_argv(rt, &(struct oci_verb){.type = OCI_VERB_DELETE, .id = "c1"}, NULL, want);

        struct oci_verb exec = {
            .type = OCI_VERB_EXEC,
            .id = "c1",
            .exec = {.process_path = "/run/c1/x.json",
                     .pid_file = "/run/c1/x.json.pid",
                     .detach = true},
        };
        snprintf(want, sizeof(want),
                 "%s exec --detach --pid-file /run/c1/x.json.pid --process /run/c1/x.json c1",
                 names[i]);
        assert_argv(rt, &exec, NULL, want);
        exec.exec.console_socket = "/run/c1/exec.sock";
        snprintf(want, sizeof(want),
                 "%s --log /run/c1/x.json.log --log-format json exec --detach --pid-file "
                 "/run/c1/x.json.pid --process /run/c1/x.json --console-socket "
                 "/run/c1/exec.sock c1",
                 names[i]);
        assert_argv(rt, &exec, "/run/c1/x.json.log", want);
        exec.exec.console_socket = NULL;
        exec.exec.detach = false;
        exec.exec.pid_file = NULL;
        snprintf(want, sizeof(want), "%s exec --process /run/c1/x.json c1", names[i]);
        assert_argv(rt, &exec, NULL, want);

        snprintf(want, sizeof(want), "%s update --resources - c1", names[i]);
        assert_argv(
            rt,
            &(struct oci_verb){.type = OCI_VERB_UPDATE, .id = "c1", .update = {.resources = "{}"}},
            NULL, want);
    }
}

static void test_verbs_without_callers(void **state)
{
    struct oci_runtime rts[2];
    oci_runtime_init(&rts[0], "runc", NULL, 0);
    oci_runtime_init(&rts[1], "/usr/bin/crun", "", 0); /* an empty root is the default one */
    const char *names[2] = {"runc", "/usr/bin/crun"};
    for (int i = 0; i < 2; i++) {
        const struct oci_runtime *rt = &rts[i];
        char want[512];
        snprintf(want, sizeof(want), "%s state c1", names[i]);
        assert_argv(rt, &(struct oci_verb){.type = OCI_VERB_STATE, .id = "c1"}, NULL, want);
        snprintf(want, sizeof(want), "%s pause c1", names[i]);
        assert_argv(rt, &(struct oci_verb){.type = OCI_VERB_PAUSE, .id = "c1"}, NULL, want);
        snprintf(want, sizeof(want), "%s resume c1", names[i]);
        assert_argv(rt, &(struct oci_verb){.type = OCI_VERB_RESUME, .id = "c1"}, NULL, want);

        struct oci_verb cp = {
            .type = OCI_VERB_CHECKPOINT,
            .id = "c1",
            .checkpoint = {.image_path = "/var/cp/c1"},
        };
        snprintf(want, sizeof(want), "%s checkpoint --image-path /var/cp/c1 c1", names[i]);
        assert_argv(rt, &cp, NULL, want);
        cp.checkpoint.work_path = "/var/cp/work";
        cp.checkpoint.leave_running = true;
        snprintf(want, sizeof(want),
                 "%s checkpoint --image-path /var/cp/c1 --work-path /var/cp/work "
                 "--leave-running c1",
                 names[i]);
        assert_argv(rt, &cp, NULL, want);

        struct oci_verb rs = {
            .type = OCI_VERB_RESTORE,
            .id = "c1",
            .restore = {.bundle = "/run/c1", .image_path = "/var/cp/c1"},
        };
        snprintf(want, sizeof(want), "%s restore --bundle /run/c1 --image-path /var/cp/c1 c1",
                 names[i]);
        assert_argv(rt, &rs, NULL, want);
        rs.restore.work_path = "/var/cp/work";
        rs.restore.pid_file = "/run/c1/pid";
        rs.restore.console_socket = "/run/c1/console.sock";
        rs.restore.detach = true;
        snprintf(want, sizeof(want),
                 "%s --log /run/c1/restore.log --log-format json restore --bundle /run/c1 "
                 "--image-path /var/cp/c1 --work-path /var/cp/work --pid-file /run/c1/pid "
                 "--console-socket /run/c1/console.sock --detach c1",
                 names[i]);
        assert_argv(rt, &rs, "/run/c1/restore.log", want);
    }
}

/* crun reads a --log value holding a colon as TYPE:ARG; runc takes any path as it is. */
static void test_log_path_with_colon(void **state)
{
    struct oci_runtime rt;
    struct oci_verb v = {.type = OCI_VERB_START, .id = "c1"};
    oci_runtime_init(&rt, "runc", NULL, 0);
    assert_argv(&rt, &v, "/run/a:b/runtime.log",
                "runc --log /run/a:b/runtime.log --log-format json start c1");
    oci_runtime_init(&rt, "crun", NULL, 0);
    assert_argv(&rt, &v, "/run/a:b/runtime.log",
                "crun --log file:/run/a:b/runtime.log --log-format json start c1");
    assert_argv(&rt, &v, "/run/ab/runtime.log",
                "crun --log /run/ab/runtime.log --log-format json start c1");
}

static void test_signals(void **state)
{
    struct oci_runtime rt;
    oci_runtime_init(&rt, "runc", NULL, 0);
    struct oci_verb v = {.type = OCI_VERB_KILL, .id = "c1", .kill = {.signo = SIGUSR1}};
    assert_argv(&rt, &v, NULL, "runc kill c1 USR1");
    v.kill.signo = SIGRTMIN + 3; /* no abbreviation: runc takes the number */
    char want[64];
    snprintf(want, sizeof(want), "runc kill c1 %d", SIGRTMIN + 3);
    assert_argv(&rt, &v, NULL, want);
    v.kill.signo = 0;
    assert_refused(&rt, &v, "needs a signal");
}

static void test_refused(void **state)
{
    struct oci_runtime rt;
    oci_runtime_init(&rt, "runc", NULL, 0);
    /* runc: "cannot use console socket if runc will not detach or allocate tty" */
    assert_refused(
        &rt,
        &(struct oci_verb){.type = OCI_VERB_EXEC,
                           .id = "c1",
                           .exec = {.process_path = "/p.json", .console_socket = "/s.sock"}},
        "a console socket needs detach");
    assert_refused(
        &rt,
        &(struct oci_verb){
            .type = OCI_VERB_RESTORE,
            .id = "c1",
            .restore = {.bundle = "/b", .image_path = "/i", .console_socket = "/s.sock"}},
        "a console socket needs detach");
    assert_refused(&rt, &(struct oci_verb){.type = OCI_VERB_START, .id = ""}, "bad container id");
    assert_refused(&rt, &(struct oci_verb){.type = OCI_VERB_START}, "bad container id");
    assert_refused(&rt, &(struct oci_verb){.type = OCI_VERB_DELETE, .id = "--force"},
                   "bad container id");
    assert_refused(&rt, &(struct oci_verb){.type = OCI_VERB_CREATE, .id = "c1"}, "needs a bundle");
    assert_refused(&rt, &(struct oci_verb){.type = OCI_VERB_EXEC, .id = "c1"},
                   "needs a process file");
    assert_refused(&rt, &(struct oci_verb){.type = OCI_VERB_UPDATE, .id = "c1"}, "needs resources");
    assert_refused(&rt, &(struct oci_verb){.type = OCI_VERB_CHECKPOINT, .id = "c1"},
                   "needs an image path");
    assert_refused(
        &rt, &(struct oci_verb){.type = OCI_VERB_RESTORE, .id = "c1", .restore = {.bundle = "/b"}},
        "needs an image path");
    assert_refused(&rt, &(struct oci_verb){.type = (enum oci_verb_type)99, .id = "c1"},
                   "unknown runtime verb");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_from_binary_name),
        cmocka_unit_test(test_verbs_in_use),
        cmocka_unit_test(test_systemd_cgroup),
        cmocka_unit_test(test_verbs_without_callers),
        cmocka_unit_test(test_log_path_with_colon),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
