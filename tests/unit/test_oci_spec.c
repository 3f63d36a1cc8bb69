/* Unit tests for src/oci/spec.c, users.c and caps.c: the kubelet's command/args rules, env
 * merging, users from the image's files (read beneath the rootfs), capabilities, mounts,
 * resources, the oom_score_adj clamp and stop signals. */
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
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/oci.h"

static char tmpdir[] = "/tmp/test_oci_spec.XXXXXX";
static char rootfs[256];

static void write_file(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", rootfs, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmpdir);
    char etc[4200];
    snprintf(etc, sizeof(etc), "%s/etc", rootfs);
    fs_mkdir_p(etc, 0755);
    write_file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"
                             "app:x:1000:1000:App:/home/app:/bin/sh\n"
                             "nobody:x:65534:65534::/:/bin/false\n");
    write_file("etc/group", "root:x:0:\napp:x:1000:\nwheel:x:10:app,other\naudio:x:29:app\n"
                            "nogroup:x:65534:\n");
    return 0;
}

static int teardown(void **state)
{
    fs_remove_tree(tmpdir);
    return 0;
}

static void test_users(void **state)
{
    struct oci_user u;
    struct err err = ERR_INIT;
    assert_int_equal(oci_user_resolve(rootfs, "", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 0);
    assert_string_equal(u.home, "/root");
    oci_user_done(&u);
    uint32_t extra[] = {5, 10};
    assert_int_equal(oci_user_resolve(rootfs, "app", extra, 2, &u, &err), 0);
    assert_int_equal(u.uid, 1000);
    assert_int_equal(u.gid, 1000);
    assert_int_equal(u.n_additional_gids, 3); /* 5, 10 (wheel and extra, once), 29 */
    assert_int_equal(u.additional_gids[0], 5);
    assert_int_equal(u.additional_gids[1], 10);
    assert_int_equal(u.additional_gids[2], 29);
    oci_user_done(&u);
    assert_int_equal(oci_user_resolve(rootfs, "4242:audio", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 4242);
    assert_int_equal(u.gid, 29);
    oci_user_done(&u);
    assert_int_equal(oci_user_resolve(rootfs, "nobody:7", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 65534);
    assert_int_equal(u.gid, 7);
    oci_user_done(&u);
    assert_int_equal(oci_user_resolve(rootfs, "ghost", NULL, 0, &u, &err), -ENOENT);
    assert_non_null(strstr(err_msg(&err), "ghost"));
    err_done(&err);
    assert_int_equal(oci_user_resolve(rootfs, "app:nogroupx", NULL, 0, &u, &err), -ENOENT);
    err_done(&err);
    assert_int_equal(oci_user_resolve(rootfs, "-1", NULL, 0, &u, &err), -ENOENT);
    err_done(&err);
}

/* An absolute symlink in the image resolves inside the rootfs, never on the host. */
static void test_users_symlink_stays_inside(void **state)
{
    char other[256], link[512], data[512];
    snprintf(other, sizeof(other), "%s/other", tmpdir);
    snprintf(data, sizeof(data), "%s/data/etc", other);
    fs_mkdir_p(data, 0755);
    snprintf(data, sizeof(data), "%s/data/etc/passwd", other);
    FILE *f = fopen(data, "w");
    assert_non_null(f);
    fputs("inside:x:5:6::/in:/bin/sh\n", f);
    fclose(f);
    /* An absolute link: on the host it would name the host's /data/etc. */
    snprintf(link, sizeof(link), "%s/etc", other);
    assert_int_equal(symlink("/data/etc", link), 0);
    struct oci_user u;
    struct err err = ERR_INIT;
    assert_int_equal(oci_user_resolve(other, "inside", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 5);
    assert_string_equal(u.home, "/in");
    oci_user_done(&u);
    /* A link to .. climbs no higher than the rootfs. */
    unlink(link);
    assert_int_equal(symlink("../../../../../../../../data/etc", link), 0);
    assert_int_equal(oci_user_resolve(other, "inside", NULL, 0, &u, &err), 0);
    assert_int_equal(u.gid, 6);
    oci_user_done(&u);
    /* The host's passwd has root; this image's has not. */
    assert_int_equal(oci_user_resolve(other, "root", NULL, 0, &u, &err), -ENOENT);
    err_done(&err);
}

static bool has(char **v, const char *s)
{
    for (; *v; v++)
        if (strcmp(*v, s) == 0)
            return true;
    return false;
}

static void test_caps(void **state)
{
    char **caps;
    struct err err = ERR_INIT;
    char *add[] = {"net_admin", "CAP_SYS_TIME"};
    char *drop[] = {"KILL", "cap_chown"};
    assert_int_equal(oci_caps_resolve(add, 2, drop, 2, false, &caps, &err), 0);
    assert_true(has(caps, "CAP_NET_ADMIN"));
    assert_true(has(caps, "CAP_SYS_TIME"));
    assert_true(has(caps, "CAP_SETUID"));
    assert_false(has(caps, "CAP_KILL"));
    assert_false(has(caps, "CAP_CHOWN"));
    assert_false(has(caps, "CAP_SYS_ADMIN"));
    for (size_t i = 1; caps[i]; i++)
        assert_true(strcmp(caps[i - 1], caps[i]) < 0);
    oci_strv_free(caps);
    char *all[] = {"ALL"};
    char *one[] = {"NET_RAW"};
    assert_int_equal(oci_caps_resolve(one, 1, all, 1, false, &caps, &err), 0);
    assert_string_equal(caps[0], "CAP_NET_RAW");
    assert_null(caps[1]);
    oci_strv_free(caps);
    assert_int_equal(oci_caps_resolve(NULL, 0, NULL, 0, true, &caps, &err), 0);
    assert_true(has(caps, "CAP_SYS_ADMIN"));
    oci_strv_free(caps);
    char *bad[] = {"NOT_A_CAP"};
    assert_int_equal(oci_caps_resolve(bad, 1, NULL, 0, false, &caps, &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "NOT_A_CAP"));
    err_done(&err);
}

static void test_signals(void **state)
{
    assert_int_equal(oci_signal_parse("SIGTERM"), SIGTERM);
    assert_int_equal(oci_signal_parse("kill"), SIGKILL);
    assert_int_equal(oci_signal_parse("10"), 10);
    assert_int_equal(oci_signal_parse("SIGRTMIN+3"), SIGRTMIN + 3);
    assert_int_equal(oci_signal_parse("RTMAX-1"), SIGRTMAX - 1);
    assert_int_equal(oci_signal_parse("SIGNOPE"), -EINVAL);
    assert_int_equal(oci_signal_parse("0"), -EINVAL);
    assert_int_equal(oci_signal_parse("RTMIN+99"), -EINVAL);
}

/* ---- whole specs ---- */

struct fixture {
    Runtime__V1__ContainerConfig c;
    Runtime__V1__ContainerMetadata md;
    Runtime__V1__ImageSpec image;
    Runtime__V1__LinuxContainerConfig linux_;
    Runtime__V1__LinuxContainerSecurityContext sc;
    Runtime__V1__LinuxContainerResources res;
    Runtime__V1__PodSandboxConfig pod;
    Runtime__V1__PodSandboxMetadata pmd;
    struct oci_spec_params p;
};

static void fixture_init(struct fixture *f)
{
    f->c = (Runtime__V1__ContainerConfig)RUNTIME__V1__CONTAINER_CONFIG__INIT;
    f->md = (Runtime__V1__ContainerMetadata)RUNTIME__V1__CONTAINER_METADATA__INIT;
    f->image = (Runtime__V1__ImageSpec)RUNTIME__V1__IMAGE_SPEC__INIT;
    f->linux_ = (Runtime__V1__LinuxContainerConfig)RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
    runtime__v1__linux_container_security_context__init(&f->sc);
    f->res = (Runtime__V1__LinuxContainerResources)RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
    f->pod = (Runtime__V1__PodSandboxConfig)RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    f->pmd = (Runtime__V1__PodSandboxMetadata)RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
    f->md.name = "ctr";
    f->c.metadata = &f->md;
    f->c.image = &f->image;
    f->c.linux = &f->linux_;
    f->linux_.security_context = &f->sc;
    f->linux_.resources = &f->res;
    f->pmd.name = "pod";
    f->pmd.namespace_ = "ns";
    f->pmd.uid = "uid";
    f->pod.metadata = &f->pmd;
    f->p = (struct oci_spec_params){
        .id = "c1",
        .pod_id = "p1",
        .config = &f->c,
        .pod_config = &f->pod,
        .image_config = "{\"config\":{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\",\"b\"],"
                        "\"Env\":[\"PATH=/bin\",\"A=image\",\"B=image\"],\"WorkingDir\":\"/w\","
                        "\"User\":\"app\",\"StopSignal\":\"SIGQUIT\"}}",
        .rootfs = rootfs,
        .netns_path = "/run/ns/net",
        .hosts_path = "/run/pod/hosts",
        .hostname = "pod",
        .cgroups_path = "/kubepods/crib-c1",
        .oom_score_adj_min = -500,
        .seccomp = true,
    };
}

static cJSON *at(cJSON *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = cJSON_GetObjectItem(j, k);
    return j;
}

static char *joined(cJSON *arr)
{
    static char out[1024];
    out[0] = '\0';
    cJSON *x;
    cJSON_ArrayForEach(x, arr)
    {
        if (out[0])
            strcat(out, " ");
        strcat(out, x->valuestring);
    }
    return out;
}

static void test_args_rules(void **state)
{
    struct fixture f;
    fixture_init(&f);
    struct oci_spec_result r;
    struct err err = ERR_INIT;
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), 0);
    assert_string_equal(joined(at(r.spec, "process.args")), "/ep a b");
    oci_spec_result_done(&r);
    char *args[] = {"x"};
    f.c.args = args;
    f.c.n_args = 1;
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), 0);
    assert_string_equal(joined(at(r.spec, "process.args")), "/ep x");
    oci_spec_result_done(&r);
    char *cmd[] = {"/bin/sh", "-c"};
    f.c.command = cmd;
    f.c.n_command = 2;
    f.c.n_args = 0;
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), 0);
    assert_string_equal(joined(at(r.spec, "process.args")), "/bin/sh -c"); /* no image Cmd */
    oci_spec_result_done(&r);
    f.p.image_config = "{\"config\":{}}";
    f.c.n_command = 0;
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "no command"));
    err_done(&err);
}

static void test_env_user_cwd_and_signal(void **state)
{
    struct fixture f;
    fixture_init(&f);
    Runtime__V1__KeyValue kv = RUNTIME__V1__KEY_VALUE__INIT;
    kv.key = "B";
    kv.value.data = (uint8_t *)"cri";
    kv.value.len = 3;
    Runtime__V1__KeyValue *envs[] = {&kv};
    f.c.envs = envs;
    f.c.n_envs = 1;
    struct oci_spec_result r;
    struct err err = ERR_INIT;
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), 0);
    assert_string_equal(joined(at(r.spec, "process.env")),
                        "PATH=/bin A=image B=cri HOSTNAME=pod HOME=/home/app");
    assert_string_equal(at(r.spec, "process.cwd")->valuestring, "/w");
    assert_int_equal(at(r.spec, "process.user.uid")->valueint, 1000);
    assert_int_equal(at(r.spec, "process.user.gid")->valueint, 1000);
    assert_string_equal(r.stop_signal, "SIGQUIT");
    assert_int_equal(r.stop_signo, SIGQUIT);
    oci_spec_result_done(&r);
    Runtime__V1__Int64Value uid = RUNTIME__V1__INT64_VALUE__INIT,
                            gid = RUNTIME__V1__INT64_VALUE__INIT;
    uid.value = 77;
    gid.value = 88;
    f.sc.run_as_user = &uid;
    f.sc.run_as_group = &gid;
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), 0);
    assert_int_equal(at(r.spec, "process.user.uid")->valueint, 77);
    assert_int_equal(at(r.spec, "process.user.gid")->valueint, 88);
    oci_spec_result_done(&r);
    f.sc.run_as_user = NULL;
    f.sc.run_as_group = NULL;
    f.sc.run_as_username = "ghost";
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), -ENOENT);
    err_done(&err);
}

static cJSON *mount_at(cJSON *spec, const char *dst)
{
    cJSON *m;
    cJSON_ArrayForEach(m, at(spec, "mounts"))
    {
        if (strcmp(at(m, "destination")->valuestring, dst) == 0)
            return m;
    }
    return NULL;
}

static void test_mounts_resources_security(void **state)
{
    struct fixture f;
    fixture_init(&f);
    char host_dir[4200];
    snprintf(host_dir, sizeof(host_dir), "%s/made/by/spec", tmpdir);
    Runtime__V1__Mount m1 = RUNTIME__V1__MOUNT__INIT, m2 = RUNTIME__V1__MOUNT__INIT;
    m1.container_path = "/data/sub";
    m1.host_path = host_dir;
    m1.readonly = true;
    m1.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
    m2.container_path = "/etc/hosts";
    m2.host_path = "/etc/hosts";
    Runtime__V1__Mount *mounts[] = {&m1, &m2};
    f.c.mounts = mounts;
    f.c.n_mounts = 2;
    Runtime__V1__Device dev = RUNTIME__V1__DEVICE__INIT;
    dev.host_path = "/dev/null";
    dev.container_path = "/dev/xnull";
    dev.permissions = "rw";
    Runtime__V1__Device *devs[] = {&dev};
    f.c.devices = devs;
    f.c.n_devices = 1;
    f.res.memory_limit_in_bytes = 1 << 26;
    f.res.cpu_shares = 512;
    f.res.oom_score_adj = -999;
    f.sc.readonly_rootfs = true;
    Runtime__V1__SecurityProfile prof = RUNTIME__V1__SECURITY_PROFILE__INIT;
    prof.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
    f.sc.seccomp = &prof;
    struct oci_spec_result r;
    struct err err = ERR_INIT;
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), 0);
    struct stat st;
    assert_int_equal(stat(host_dir, &st), 0); /* a missing host path is made */
    cJSON *m = mount_at(r.spec, "/data/sub");
    assert_non_null(m);
    assert_string_equal(joined(at(m, "options")), "rbind ro rslave");
    assert_string_equal(at(r.spec, "linux.rootfsPropagation")->valuestring, "rslave");
    /* The CRI's /etc/hosts replaces the pod's. */
    assert_string_equal(at(mount_at(r.spec, "/etc/hosts"), "source")->valuestring, "/etc/hosts");
    assert_true(cJSON_IsTrue(at(r.spec, "root.readonly")));
    assert_int_equal((int64_t)at(r.spec, "linux.resources.memory.limit")->valuedouble, 1 << 26);
    assert_int_equal(at(r.spec, "linux.resources.cpu.shares")->valueint, 512);
    assert_int_equal(at(r.spec, "process.oomScoreAdj")->valueint, -500);
    assert_true(r.oom_score_clamped);
    cJSON *d = cJSON_GetArrayItem(at(r.spec, "linux.devices"), 0);
    assert_string_equal(at(d, "path")->valuestring, "/dev/xnull");
    assert_int_equal(at(d, "major")->valueint, 1);
    assert_int_equal(at(d, "minor")->valueint, 3);
    cJSON *rules = at(r.spec, "linux.resources.devices");
    assert_false(cJSON_IsTrue(at(cJSON_GetArrayItem(rules, 0), "allow")));
    assert_string_equal(at(cJSON_GetArrayItem(rules, 1), "access")->valuestring, "rw");
    assert_non_null(at(r.spec, "linux.seccomp.defaultAction"));
    assert_int_equal(cJSON_GetArraySize(at(r.spec, "linux.maskedPaths")), 11);
    cJSON *ns = at(r.spec, "linux.namespaces");
    assert_string_equal(at(cJSON_GetArrayItem(ns, 0), "type")->valuestring, "pid");
    assert_string_equal(at(cJSON_GetArrayItem(ns, 1), "path")->valuestring, "/run/ns/net");
    assert_string_equal(at(r.spec, "linux.cgroupsPath")->valuestring, "/kubepods/crib-c1");
    assert_string_equal(
        cJSON_GetObjectItem(at(r.spec, "annotations"), "io.kubernetes.cri.sandbox-id")->valuestring,
        "p1");
    oci_spec_result_done(&r);
    /* Privileged: no masks, no filter, every capability. */
    f.sc.privileged = true;
    f.c.n_devices = 0;
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), 0);
    assert_null(at(r.spec, "linux.seccomp"));
    assert_null(at(r.spec, "linux.maskedPaths"));
    assert_true(cJSON_GetArraySize(at(r.spec, "process.capabilities.bounding")) > 30);
    oci_spec_result_done(&r);
    f.sc.privileged = false;
    m1.container_path = "relative";
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "relative"));
    err_done(&err);
    m1.container_path = "/data/sub";
    dev.permissions = "rwx";
    f.c.n_devices = 1;
    assert_int_equal(oci_spec_generate(&f.p, &r, &err), -EINVAL);
    err_done(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_users_symlink_stays_inside),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_args_rules),
        cmocka_unit_test(test_env_user_cwd_and_signal),
        cmocka_unit_test(test_mounts_resources_security),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
