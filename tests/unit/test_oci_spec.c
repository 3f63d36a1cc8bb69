/* Unit tests for src/oci/spec.c, users.c and caps.c: the kubelet's command/args rules, env
 * merging, users from the image's files (read beneath the rootfs, with and without openat2),
 * capabilities, mounts, devices, resources, the oom_score_adj clamp, namespaces, seccomp,
 * annotations and stop signals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/cgroup.h"
#include "oci/oci.h"
#include "openat2-switch.h"

static char tmpdir[] = "/tmp/test_oci_spec.XXXXXX";
static char rootfs[256];

/* Linked with -Wl,--wrap=syscall and openat2-switch.c. */

static void write_at(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void make_dir(const char *dir, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    assert_int_equal(fs_mkdir_p(path, 0755), 0);
}

static int setup(void **state)
{
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(rootfs, sizeof(rootfs), "%s/rootfs", tmpdir);
    make_dir(rootfs, "etc");
    write_at(rootfs, "etc/passwd",
             "# comment\n"
             "root:x:0:0:root:/root:/bin/sh\n"
             "app:x:1000:1000:App:/home/app:/bin/sh\n"
             "broken:x:notanumber:1::/:/bin/sh\n"
             "\n"
             "nobody:x:65534:65534::/:/bin/false\n"
             "nohome:x:1200:1200:::/bin/false");
    write_at(rootfs, "etc/group",
             "root:x:0:\napp:x:1000:\nwheel:x:10:other,app\naudio:x:29:app\n"
             "appx:x:30:apps,xapp\nnogroup:x:65534:\n");
    return 0;
}

static int teardown(void **state)
{
    fs_remove_tree(tmpdir);
    return 0;
}

/* ---- users ---- */

static void test_users_names_and_ids(void **state)
{
    struct oci_user u;
    struct err err = ERR_INIT;

    assert_int_equal(oci_user_resolve(rootfs, "", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 0);
    assert_int_equal(u.gid, 0);
    assert_int_equal(u.n_additional_gids, 0);
    assert_string_equal(u.home, "/root");
    oci_user_done(&u);

    uint32_t extra[] = {5, 10, 5};
    assert_int_equal(oci_user_resolve(rootfs, "app", extra, 3, &u, &err), 0);
    assert_int_equal(u.uid, 1000);
    assert_int_equal(u.gid, 1000);
    assert_string_equal(u.home, "/home/app");
    /* 5 (extra, once), 10 (wheel and extra, once), 29 (audio); not "appx", whose members are
     * only similar names */
    assert_int_equal(u.n_additional_gids, 3);
    assert_int_equal(u.additional_gids[0], 5);
    assert_int_equal(u.additional_gids[1], 10);
    assert_int_equal(u.additional_gids[2], 29);
    oci_user_done(&u);

    /* A uid with a passwd entry takes its gid, home and memberships. */
    assert_int_equal(oci_user_resolve(rootfs, "1000", NULL, 0, &u, &err), 0);
    assert_int_equal(u.gid, 1000);
    assert_int_equal(u.n_additional_gids, 2);
    oci_user_done(&u);
    /* One without: gid 0, home /, no memberships. */
    assert_int_equal(oci_user_resolve(rootfs, "4242", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 4242);
    assert_int_equal(u.gid, 0);
    assert_string_equal(u.home, "/");
    assert_int_equal(u.n_additional_gids, 0);
    oci_user_done(&u);
    /* uid:group, name:gid, name:group; the primary gid leaves the additional ones */
    assert_int_equal(oci_user_resolve(rootfs, "4242:audio", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 4242);
    assert_int_equal(u.gid, 29);
    oci_user_done(&u);
    assert_int_equal(oci_user_resolve(rootfs, "nobody:7", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 65534);
    assert_int_equal(u.gid, 7);
    oci_user_done(&u);
    assert_int_equal(oci_user_resolve(rootfs, "app:wheel", NULL, 0, &u, &err), 0);
    assert_int_equal(u.gid, 10);
    assert_int_equal(u.n_additional_gids, 1);
    assert_int_equal(u.additional_gids[0], 29);
    oci_user_done(&u);
    /* An empty home field is "/"; a last line without a newline counts. */
    assert_int_equal(oci_user_resolve(rootfs, "nohome", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 1200);
    assert_string_equal(u.home, "/");
    oci_user_done(&u);
    assert_int_equal(oci_user_resolve(rootfs, "4294967294", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 4294967294u);
    oci_user_done(&u);
}

static void test_users_errors(void **state)
{
    struct oci_user u;
    struct err err = ERR_INIT;
    assert_int_equal(oci_user_resolve(rootfs, "ghost", NULL, 0, &u, &err), -ENOENT);
    assert_string_equal(err_msg(&err), "user `ghost` not found in /etc/passwd of the image");
    /* a line with a bad uid is no entry */
    assert_int_equal(oci_user_resolve(rootfs, "broken", NULL, 0, &u, &err), -ENOENT);
    assert_int_equal(oci_user_resolve(rootfs, "app:nogroupx", NULL, 0, &u, &err), -ENOENT);
    assert_string_equal(err_msg(&err), "group `nogroupx` not found in /etc/group of the image");
    assert_int_equal(oci_user_resolve(rootfs, "-1", NULL, 0, &u, &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "`-1`"));
    assert_int_equal(oci_user_resolve(rootfs, "4294967295", NULL, 0, &u, &err), -EINVAL);
    assert_int_equal(oci_user_resolve(rootfs, "99999999999999999999", NULL, 0, &u, &err), -EINVAL);
    assert_int_equal(oci_user_resolve(rootfs, "app:-5", NULL, 0, &u, &err), -EINVAL);
    assert_int_equal(oci_user_resolve(rootfs, "app:", NULL, 0, &u, &err), -EINVAL);
    assert_int_equal(oci_user_resolve("/nonexistent-rootfs", "0", NULL, 0, &u, &err), -ENOENT);
    err_done(&err);
}

/* No /etc at all: numeric ids work, names do not. */
static void test_users_without_files(void **state)
{
    char empty[300];
    snprintf(empty, sizeof(empty), "%s/empty", tmpdir);
    make_dir(empty, "");
    struct oci_user u;
    struct err err = ERR_INIT;
    assert_int_equal(oci_user_resolve(empty, "33:44", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 33);
    assert_int_equal(u.gid, 44);
    oci_user_done(&u);
    assert_int_equal(oci_user_resolve(empty, "www", NULL, 0, &u, &err), -ENOENT);
    assert_int_equal(oci_user_resolve(empty, "0:wheel", NULL, 0, &u, &err), -ENOENT);
    err_done(&err);
}

/* Symlinks in the image resolve inside the rootfs, never on the host. */
static void check_symlinks_stay_inside(void)
{
    char other[300], outside[300], link[600];
    struct oci_user u;
    struct err err = ERR_INIT;

    snprintf(other, sizeof(other), "%s/links", tmpdir);
    fs_remove_tree(other);
    make_dir(other, "etc");
    /* On the host this file exists and has `evil`; in the image the same path does not. */
    snprintf(outside, sizeof(outside), "%s/host-passwd", tmpdir);
    write_at(tmpdir, "host-passwd", "evil:x:0:0::/:/bin/sh\n");
    snprintf(link, sizeof(link), "%s/etc/passwd", other);
    assert_int_equal(symlink(outside, link), 0);
    assert_int_equal(oci_user_resolve(other, "evil", NULL, 0, &u, &err), -ENOENT);
    /* The same absolute path made inside the image is what is read. */
    char mirror[600];
    snprintf(mirror, sizeof(mirror), "%s%s", other, tmpdir);
    assert_int_equal(fs_mkdir_p(mirror, 0755), 0);
    snprintf(mirror, sizeof(mirror), "%s%s", other, outside);
    write_at("/", mirror, "inside:x:5:6::/in:/bin/sh\n");
    assert_int_equal(oci_user_resolve(other, "inside", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 5);
    assert_int_equal(u.gid, 6);
    assert_string_equal(u.home, "/in");
    oci_user_done(&u);

    /* "../../../.." climbs no higher than the rootfs: this names <rootfs>/host-passwd. */
    unlink(link);
    assert_int_equal(symlink("../../../../../../../../../../host-passwd", link), 0);
    assert_int_equal(oci_user_resolve(other, "evil", NULL, 0, &u, &err), -ENOENT);
    write_at(other, "host-passwd", "climber:x:7:8::/:/bin/sh\n");
    assert_int_equal(oci_user_resolve(other, "climber", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 7);
    oci_user_done(&u);

    /* A symlinked directory with an absolute target, and a chain of links. */
    unlink(link);
    make_dir(other, "data/etc");
    write_at(other, "data/etc/passwd", "deep:x:9:9::/:/bin/sh\n");
    char etc[600], data_link[600];
    snprintf(etc, sizeof(etc), "%s/etc", other);
    assert_int_equal(fs_remove_tree(etc), 0);
    snprintf(data_link, sizeof(data_link), "%s/d", other);
    assert_int_equal(symlink("/data", data_link), 0);
    assert_int_equal(symlink("/d/./etc/", etc), 0);
    assert_int_equal(oci_user_resolve(other, "deep", NULL, 0, &u, &err), 0);
    assert_int_equal(u.uid, 9);
    oci_user_done(&u);

    /* A loop is an error, not a hang. */
    unlink(etc);
    make_dir(other, "etc");
    assert_int_equal(symlink("passwd", link), 0);
    assert_int_equal(oci_user_resolve(other, "0", NULL, 0, &u, &err), -ELOOP);
    err_done(&err);
}

static void test_users_symlinks_stay_inside(void **state)
{
    openat2_calls = 0;
    check_symlinks_stay_inside();
    assert_true(openat2_calls > 0);
}

/* The same walk by hand, as on a kernel without openat2. */
static void test_users_symlinks_stay_inside_without_openat2(void **state)
{
    no_openat2 = true;
    check_symlinks_stay_inside();
    no_openat2 = false;
}

/* A FIFO does not hang the resolution, an oversized file is refused. */
static void test_users_odd_files(void **state)
{
    char dir[300], path[400];
    struct oci_user u;
    struct err err = ERR_INIT;
    snprintf(dir, sizeof(dir), "%s/odd", tmpdir);
    make_dir(dir, "etc");
    snprintf(path, sizeof(path), "%s/etc/passwd", dir);
    assert_int_equal(mkfifo(path, 0644), 0);
    assert_int_equal(oci_user_resolve(dir, "0", NULL, 0, &u, &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "not a regular file"));
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (4 << 20) + 1), 0);
    close(fd);
    assert_int_equal(oci_user_resolve(dir, "0", NULL, 0, &u, &err), -EFBIG);
    err_done(&err);
}

/* A device node in the image's place of /etc/passwd is refused without being opened: opening a
 * device can have effects of its own (a tape rewinds, a watchdog arms). inotify sees every real
 * open of the node; an O_PATH look at it is not one. */
static void test_users_device_node_not_opened(void **state)
{
    char dir[300], path[400];
    struct oci_user u;
    struct err err = ERR_INIT;
    snprintf(dir, sizeof(dir), "%s/devnode", tmpdir);
    make_dir(dir, "etc");
    snprintf(path, sizeof(path), "%s/etc/passwd", dir);
    assert_int_equal(mknod(path, S_IFCHR | 0644, makedev(1, 3)), 0);
    int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    assert_true(in >= 0);
    assert_true(inotify_add_watch(in, path, IN_OPEN) >= 0);
    for (int fallback = 0; fallback < 2; fallback++) {
        no_openat2 = fallback;
        assert_int_equal(oci_user_resolve(dir, "0", NULL, 0, &u, &err), -EINVAL);
        assert_non_null(strstr(err_msg(&err), "not a regular file"));
        char ev[4096];
        assert_int_equal(read(in, ev, sizeof(ev)), -1);
        assert_int_equal(errno, EAGAIN);
    }
    no_openat2 = 0;
    /* The watch itself works: a real open is seen. */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    close(fd);
    char ev[4096];
    assert_true(read(in, ev, sizeof(ev)) > 0);
    close(in);
    err_done(&err);
}

/* ---- capabilities ---- */

static bool has(char **v, const char *s)
{
    for (; *v; v++)
        if (strcmp(*v, s) == 0)
            return true;
    return false;
}

static size_t count(char **v)
{
    size_t n = 0;
    while (v[n])
        n++;
    return n;
}

static void assert_sorted_unique(char **v)
{
    for (size_t i = 1; v[0] && v[i]; i++)
        assert_true(strcmp(v[i - 1], v[i]) < 0);
}

static void test_caps_default(void **state)
{
    static const char *const want[] = {
        "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FOWNER",
        "CAP_FSETID", "CAP_KILL",         "CAP_NET_BIND_SERVICE",
        "CAP_SETGID", "CAP_SETPCAP",      "CAP_SETUID",
    };
    char **caps;
    struct err err = ERR_INIT;
    assert_int_equal(oci_caps_resolve(NULL, 0, NULL, 0, false, &caps, &err), 0);
    assert_int_equal(count(caps), ARRAY_SIZE(want));
    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        assert_string_equal(caps[i], want[i]);
    oci_strv_free(caps);
}

static void test_caps_add_drop(void **state)
{
    char **caps;
    struct err err = ERR_INIT;
    char *add[] = {"net_admin", "CAP_SYS_TIME", "Net_Raw", "NET_ADMIN"};
    char *drop[] = {"KILL", "cap_chown"};
    assert_int_equal(oci_caps_resolve(add, 4, drop, 2, false, &caps, &err), 0);
    assert_int_equal(count(caps), 9 - 2 + 3);
    assert_true(has(caps, "CAP_NET_ADMIN"));
    assert_true(has(caps, "CAP_NET_RAW"));
    assert_true(has(caps, "CAP_SYS_TIME"));
    assert_true(has(caps, "CAP_SETUID"));
    assert_false(has(caps, "CAP_KILL"));
    assert_false(has(caps, "CAP_CHOWN"));
    assert_sorted_unique(caps);
    oci_strv_free(caps);

    /* drop ALL, then the named adds */
    char *all[] = {"ALL"};
    char *one[] = {"NET_RAW"};
    assert_int_equal(oci_caps_resolve(one, 1, all, 1, false, &caps, &err), 0);
    assert_int_equal(count(caps), 1);
    assert_string_equal(caps[0], "CAP_NET_RAW");
    oci_strv_free(caps);
    assert_int_equal(oci_caps_resolve(NULL, 0, all, 1, false, &caps, &err), 0);
    assert_null(caps[0]);
    oci_strv_free(caps);

    /* add ALL minus a named drop (kubernetes#51980); ALL is what we can grant */
    char *chown_[] = {"CHOWN"};
    char *all_lower[] = {"all"};
    assert_int_equal(oci_caps_resolve(all_lower, 1, chown_, 1, false, &caps, &err), 0);
    assert_false(has(caps, "CAP_CHOWN"));
    size_t grantable = 0;
    for (int k = 0; k < cap_max_bits(); k++)
        grantable += cap_get_bound(k) == 1;
    assert_int_equal(count(caps), grantable - 1);
    if (cap_get_bound(CAP_SYS_ADMIN) == 1)
        assert_true(has(caps, "CAP_SYS_ADMIN"));
    assert_sorted_unique(caps);
    oci_strv_free(caps);

    /* privileged: every capability we can grant, whatever the lists say */
    assert_int_equal(oci_caps_resolve(NULL, 0, chown_, 1, true, &caps, &err), 0);
    assert_int_equal(count(caps), grantable);
    assert_true(has(caps, "CAP_CHOWN"));
    oci_strv_free(caps);
}

static void test_caps_unknown(void **state)
{
    char **caps = NULL;
    struct err err = ERR_INIT;
    char *bad[] = {"NOT_A_CAP"};
    assert_int_equal(oci_caps_resolve(bad, 1, NULL, 0, false, &caps, &err), -EINVAL);
    assert_string_equal(err_msg(&err), "unknown capability `NOT_A_CAP`");
    assert_null(caps);
    /* names are checked even when privileged ignores them, and numbers are no names */
    char *num[] = {"12"};
    assert_int_equal(oci_caps_resolve(NULL, 0, num, 1, true, &caps, &err), -EINVAL);
    char *empty[] = {""};
    assert_int_equal(oci_caps_resolve(empty, 1, NULL, 0, false, &caps, &err), -EINVAL);
    err_done(&err);
}

/* ---- signals ---- */

static void test_signals(void **state)
{
    assert_int_equal(oci_signal_parse("SIGTERM"), SIGTERM);
    assert_int_equal(oci_signal_parse("SIGKILL"), SIGKILL);
    assert_int_equal(oci_signal_parse("KILL"), SIGKILL);
    assert_int_equal(oci_signal_parse("kill"), SIGKILL);
    assert_int_equal(oci_signal_parse("sigquit"), SIGQUIT);
    assert_int_equal(oci_signal_parse("9"), SIGKILL);
    assert_int_equal(oci_signal_parse("10"), 10);
    assert_int_equal(oci_signal_parse("SIGRTMIN+3"), SIGRTMIN + 3);
    assert_int_equal(oci_signal_parse("rtmin+3"), SIGRTMIN + 3);
    assert_int_equal(oci_signal_parse("SIGRTMIN"), SIGRTMIN);
    assert_int_equal(oci_signal_parse("RTMAX-1"), SIGRTMAX - 1);
    assert_int_equal(oci_signal_parse("SIGRTMAX"), SIGRTMAX);
    assert_int_equal(oci_signal_parse("64"), 64);
    assert_int_equal(oci_signal_parse("SIGNOPE"), -EINVAL);
    assert_int_equal(oci_signal_parse(""), -EINVAL);
    assert_int_equal(oci_signal_parse("0"), -EINVAL);
    assert_int_equal(oci_signal_parse("32"), -EINVAL); /* glibc's own */
    assert_int_equal(oci_signal_parse("65"), -EINVAL);
    assert_int_equal(oci_signal_parse("+9"), -EINVAL);
    assert_int_equal(oci_signal_parse(" 9"), -EINVAL);
    assert_int_equal(oci_signal_parse("RTMIN+99"), -EINVAL);
    assert_int_equal(oci_signal_parse("RTMIN-1"), -EINVAL);
    assert_int_equal(oci_signal_parse("RTMIN+"), -EINVAL);
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
    struct oci_spec_result r;
    struct err err;
};

#define IMAGE_CONFIG                                                                               \
    "{\"architecture\":\"amd64\",\"config\":{\"Entrypoint\":[\"/ep\"],\"Cmd\":[\"a\",\"b\"],"      \
    "\"Env\":[\"PATH=/bin\",\"A=image\",\"B=image\",\"NOEQUALS\"],\"WorkingDir\":\"/w\","          \
    "\"User\":\"app\",\"StopSignal\":\"SIGQUIT\"}}"

static void fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof(*f));
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
    f->pmd.uid = "uid-1";
    f->pod.metadata = &f->pmd;
    f->p = (struct oci_spec_params){
        .id = "c1",
        .pod_id = "p1",
        .config = &f->c,
        .pod_config = &f->pod,
        .image_config = IMAGE_CONFIG,
        .image_name = "docker.io/library/busybox:latest",
        .rootfs = rootfs,
        .netns_path = "/run/ns/net",
        .ipcns_path = "/run/ns/ipc",
        .utsns_path = "/run/ns/uts",
        .pidns_path = NULL,
        .hostname_path = "/run/pod/hostname",
        .hosts_path = "/run/pod/hosts",
        .resolv_path = "/run/pod/resolv.conf",
        .hostname = "pod",
        .cgroups_path = "/kubepods/crib-c1",
        .oom_score_adj_min = -500,
        .seccomp = true,
    };
    f->err = (struct err)ERR_INIT;
}

static void gen_ok(struct fixture *f)
{
    int r = oci_spec_generate(&f->p, &f->r, &f->err);
    if (r != 0)
        fail_msg("oci_spec_generate: %d %s", r, err_msg(&f->err));
    assert_non_null(f->r.spec);
}

/* The error code, with the message kept in f->err. */
static int gen_fail(struct fixture *f)
{
    int r = oci_spec_generate(&f->p, &f->r, &f->err);
    assert_true(r < 0);
    assert_null(f->r.spec);
    assert_null(f->r.stop_signal);
    return r;
}

static void done(struct fixture *f)
{
    oci_spec_result_done(&f->r);
    err_done(&f->err);
}

/* A dotted path of object keys, "[n]" for array items: "linux.namespaces.[0].type". */
static cJSON *at(const cJSON *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = k[0] == '[' ? cJSON_GetArrayItem(j, atoi(k + 1))
                        : cJSON_GetObjectItemCaseSensitive(j, k);
    return (cJSON *)j;
}

static const char *str(const cJSON *j, const char *path)
{
    const char *s = cJSON_GetStringValue(at(j, path));
    if (!s)
        fail_msg("no string at %s", path);
    return s;
}

static double num(const cJSON *j, const char *path)
{
    const cJSON *n = at(j, path);
    if (!cJSON_IsNumber(n))
        fail_msg("no number at %s", path);
    return n->valuedouble;
}

static const char *joined(const cJSON *arr)
{
    static char out[4096];
    const cJSON *x;
    out[0] = '\0';
    cJSON_ArrayForEach(x, arr)
    {
        if (out[0])
            strcat(out, " ");
        strcat(out, cJSON_IsString(x) ? x->valuestring : "?");
    }
    return out;
}

static void test_args_rules(void **state)
{
    struct fixture f;
    fixture_init(&f);
    gen_ok(&f); /* image Entrypoint + Cmd */
    assert_string_equal(joined(at(f.r.spec, "process.args")), "/ep a b");
    assert_string_equal(str(f.r.spec, "ociVersion"), "1.0.2");
    assert_false(cJSON_IsTrue(at(f.r.spec, "process.terminal")));
    done(&f);

    char *args[] = {"x", "y"};
    f.c.args = args;
    f.c.n_args = 2;
    gen_ok(&f); /* args replace the Cmd only */
    assert_string_equal(joined(at(f.r.spec, "process.args")), "/ep x y");
    done(&f);

    char *cmd[] = {"/bin/sh", "-c"};
    f.c.command = cmd;
    f.c.n_command = 2;
    gen_ok(&f); /* command replaces the Entrypoint */
    assert_string_equal(joined(at(f.r.spec, "process.args")), "/bin/sh -c x y");
    done(&f);

    f.c.n_args = 0;
    gen_ok(&f); /* a command alone drops the image's Cmd */
    assert_string_equal(joined(at(f.r.spec, "process.args")), "/bin/sh -c");
    done(&f);

    f.p.image_config = "{\"config\":{\"Cmd\":[\"only-cmd\"]}}";
    f.c.n_command = 0;
    gen_ok(&f);
    assert_string_equal(joined(at(f.r.spec, "process.args")), "only-cmd");
    done(&f);

    f.p.image_config = NULL;
    f.c.n_args = 1;
    gen_ok(&f); /* no image config at all */
    assert_string_equal(joined(at(f.r.spec, "process.args")), "x");
    done(&f);

    f.p.image_config = "{\"config\":{\"Entrypoint\":null,\"Cmd\":[]}}";
    f.c.n_args = 0;
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_string_equal(err_msg(&f.err), "no command specified: the image has no Entrypoint or "
                                         "Cmd and the container config has no command");
    done(&f);

    f.p.image_config = "{not json";
    f.c.n_args = 1;
    assert_int_equal(gen_fail(&f), -EINVAL);
    done(&f);
}

static Runtime__V1__KeyValue kv_of(const char *k, const char *v)
{
    Runtime__V1__KeyValue kv = RUNTIME__V1__KEY_VALUE__INIT;
    kv.key = (char *)k;
    kv.value.data = (uint8_t *)v;
    kv.value.len = strlen(v);
    return kv;
}

static void test_env(void **state)
{
    struct fixture f;
    fixture_init(&f);
    Runtime__V1__KeyValue b = kv_of("B", "cri"), c = kv_of("C", "new"), path = kv_of("PATH", "/x");
    Runtime__V1__KeyValue *envs[] = {&b, &c, &path};
    f.c.envs = envs;
    f.c.n_envs = 2;
    gen_ok(&f); /* same key replaced in place, new keys appended */
    assert_string_equal(joined(at(f.r.spec, "process.env")),
                        "PATH=/bin A=image B=cri HOSTNAME=pod C=new HOME=/home/app");
    done(&f);

    f.c.n_envs = 3;
    f.c.tty = true;
    f.p.image_config = "{\"config\":{\"Cmd\":[\"sh\"],\"Env\":[\"HOME=/h\"]}}";
    gen_ok(&f); /* the default PATH is replaced by the CRI's; TERM for a tty; HOME kept */
    assert_string_equal(joined(at(f.r.spec, "process.env")),
                        "HOME=/h PATH=/x HOSTNAME=pod TERM=xterm B=cri C=new");
    assert_true(cJSON_IsTrue(at(f.r.spec, "process.terminal")));
    done(&f);

    f.c.n_envs = 0;
    f.p.hostname = NULL;
    f.p.image_config = "{\"config\":{\"Cmd\":[\"sh\"],\"Env\":[\"TERM=vt100\"]}}";
    gen_ok(&f);
    assert_string_equal(joined(at(f.r.spec, "process.env")),
                        "TERM=vt100 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:"
                        "/bin HOME=/root");
    done(&f);

    Runtime__V1__KeyValue bad = kv_of("X=Y", "v");
    Runtime__V1__KeyValue *bads[] = {&bad};
    f.c.envs = bads;
    f.c.n_envs = 1;
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_non_null(strstr(err_msg(&f.err), "X=Y"));
    done(&f);
}

/* Merging works on lists of any length with the same rules: image Env, then the CRI's envs;
 * a later key replaces an earlier one in place; first places kept in order. */
static void test_env_large(void **state)
{
    enum { N = 30000 };
    struct fixture f;
    fixture_init(&f);
    char *text = NULL;
    size_t len = 0;
    FILE *img = open_memstream(&text, &len);
    assert_non_null(img);
    fputs("{\"config\":{\"Cmd\":[\"sh\"],\"User\":\"app\",\"Env\":[", img);
    for (int i = 0; i < N; i++)
        fprintf(img, "%s\"K%05d=img%d\"", i ? "," : "", i, i);
    for (int i = 0; i < N; i += 3)
        fprintf(img, ",\"K%05d=dup\"", i);
    fputs("]}}", img);
    assert_int_equal(fclose(img), 0);
    f.p.image_config = text;

    /* Every even image key overridden, N new keys (the first one twice), PATH. */
    size_t n_envs = N / 2 + N + 2, k = 0;
    Runtime__V1__KeyValue *kvs = xcalloc(n_envs, sizeof(*kvs));
    Runtime__V1__KeyValue **envs = xcalloc(n_envs, sizeof(*envs));
    char(*keys)[8] = xcalloc(n_envs, sizeof(*keys));
    for (int i = 0; i < N; i += 2) {
        snprintf(keys[k], sizeof(keys[k]), "K%05d", i);
        kvs[k] = kv_of(keys[k], "cri");
        k++;
    }
    for (int i = 0; i < N; i++) {
        snprintf(keys[k], sizeof(keys[k]), "N%05d", i);
        kvs[k] = kv_of(keys[k], "new");
        k++;
    }
    kvs[k++] = kv_of("N00000", "last");
    kvs[k++] = kv_of("PATH", "/x");
    assert_int_equal(k, n_envs);
    for (size_t i = 0; i < n_envs; i++)
        envs[i] = &kvs[i];
    f.c.envs = envs;
    f.c.n_envs = n_envs;
    gen_ok(&f);

    const cJSON *env = at(f.r.spec, "process.env");
    assert_int_equal(cJSON_GetArraySize(env), N + 2 + N + 1);
    const cJSON *x = env->child;
    char want[64];
    for (int i = 0; i < N; i++, x = x->next) {
        if (i % 2 == 0)
            snprintf(want, sizeof(want), "K%05d=cri", i);
        else if (i % 3 == 0)
            snprintf(want, sizeof(want), "K%05d=dup", i);
        else
            snprintf(want, sizeof(want), "K%05d=img%d", i, i);
        assert_string_equal(x->valuestring, want);
    }
    assert_string_equal(x->valuestring, "PATH=/x"); /* the default's place, the CRI's value */
    x = x->next;
    assert_string_equal(x->valuestring, "HOSTNAME=pod");
    x = x->next;
    for (int i = 0; i < N; i++, x = x->next) {
        snprintf(want, sizeof(want), "N%05d=%s", i, i == 0 ? "last" : "new");
        assert_string_equal(x->valuestring, want);
    }
    assert_string_equal(x->valuestring, "HOME=/home/app");
    assert_null(x->next);
    done(&f);
    free(keys);
    free(envs);
    free(kvs);
    free(text);
}

static void test_cwd_and_readonly(void **state)
{
    struct fixture f;
    fixture_init(&f);
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "process.cwd"), "/w");
    assert_string_equal(str(f.r.spec, "root.path"), rootfs);
    assert_false(cJSON_IsTrue(at(f.r.spec, "root.readonly")));
    done(&f);
    f.c.working_dir = "/cri";
    f.sc.readonly_rootfs = true;
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "process.cwd"), "/cri");
    assert_true(cJSON_IsTrue(at(f.r.spec, "root.readonly")));
    done(&f);
    f.c.working_dir = "";
    f.p.image_config = "{\"config\":{\"Cmd\":[\"sh\"]}}";
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "process.cwd"), "/");
    done(&f);
}

static void test_user(void **state)
{
    struct fixture f;
    fixture_init(&f);
    gen_ok(&f); /* the image's User */
    assert_int_equal(num(f.r.spec, "process.user.uid"), 1000);
    assert_int_equal(num(f.r.spec, "process.user.gid"), 1000);
    assert_int_equal(num(f.r.spec, "process.user.additionalGids.[0]"), 10);
    assert_int_equal(num(f.r.spec, "process.user.additionalGids.[1]"), 29);
    assert_null(at(f.r.spec, "process.user.additionalGids.[2]"));
    done(&f);

    Runtime__V1__Int64Value uid = RUNTIME__V1__INT64_VALUE__INIT,
                            gid = RUNTIME__V1__INT64_VALUE__INIT;
    uid.value = 77;
    gid.value = 88;
    f.sc.run_as_user = &uid;
    f.sc.run_as_group = &gid;
    gen_ok(&f); /* numeric, not in passwd */
    assert_int_equal(num(f.r.spec, "process.user.uid"), 77);
    assert_int_equal(num(f.r.spec, "process.user.gid"), 88);
    assert_null(at(f.r.spec, "process.user.additionalGids"));
    done(&f);

    f.sc.run_as_user = NULL;
    f.sc.run_as_username = "app";
    gid.value = 5;
    int64_t supp[] = {3000, 10, 3000};
    f.sc.supplemental_groups = supp;
    f.sc.n_supplemental_groups = 3;
    gen_ok(&f); /* run_as_username with run_as_group; merged memberships */
    assert_int_equal(num(f.r.spec, "process.user.uid"), 1000);
    assert_int_equal(num(f.r.spec, "process.user.gid"), 5);
    assert_int_equal(cJSON_GetArraySize(at(f.r.spec, "process.user.additionalGids")), 3);
    assert_int_equal(num(f.r.spec, "process.user.additionalGids.[0]"), 10);
    assert_int_equal(num(f.r.spec, "process.user.additionalGids.[1]"), 29);
    assert_int_equal(num(f.r.spec, "process.user.additionalGids.[2]"), 3000);
    done(&f);

    f.sc.supplemental_groups_policy = RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict;
    gen_ok(&f); /* Strict: only the pod's */
    assert_int_equal(cJSON_GetArraySize(at(f.r.spec, "process.user.additionalGids")), 2);
    assert_int_equal(num(f.r.spec, "process.user.additionalGids.[0]"), 10);
    assert_int_equal(num(f.r.spec, "process.user.additionalGids.[1]"), 3000);
    done(&f);
    f.sc.n_supplemental_groups = 0;

    /* run_as_group alone is refused (the kubelet's rule); the image's "user:group" counts */
    f.sc.run_as_username = "";
    f.p.image_config = "{\"config\":{\"Cmd\":[\"sh\"],\"User\":\"nobody:audio\"}}";
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_string_equal(err_msg(&f.err), "run_as_group needs run_as_user or run_as_username");
    done(&f);
    f.sc.run_as_group = NULL;
    gen_ok(&f);
    assert_int_equal(num(f.r.spec, "process.user.gid"), 29);
    done(&f);

    f.sc.run_as_username = "ghost";
    assert_int_equal(gen_fail(&f), -ENOENT);
    assert_string_equal(err_msg(&f.err), "user `ghost` not found in /etc/passwd of the image");
    done(&f);
    f.sc.run_as_username = "";
    uid.value = -1;
    f.sc.run_as_user = &uid;
    assert_int_equal(gen_fail(&f), -EINVAL);
    done(&f);
}

static cJSON *mount_at(const cJSON *spec, const char *dst)
{
    cJSON *m;
    cJSON_ArrayForEach(m, at(spec, "mounts"))
    {
        if (strcmp(str(m, "destination"), dst) == 0)
            return m;
    }
    return NULL;
}

static const char *destinations(const cJSON *spec)
{
    static char out[2048];
    const cJSON *m;
    out[0] = '\0';
    cJSON_ArrayForEach(m, at(spec, "mounts"))
    {
        if (out[0])
            strcat(out, " ");
        strcat(out, str(m, "destination"));
    }
    return out;
}

static void test_default_mounts(void **state)
{
    struct fixture f;
    fixture_init(&f);
    gen_ok(&f);
    assert_string_equal(destinations(f.r.spec), "/proc /dev /dev/pts /dev/shm /dev/mqueue /sys "
                                                "/sys/fs/cgroup /etc/hostname /etc/hosts "
                                                "/etc/resolv.conf");
    cJSON *m = mount_at(f.r.spec, "/proc");
    assert_string_equal(str(m, "type"), "proc");
    m = mount_at(f.r.spec, "/dev");
    assert_string_equal(str(m, "type"), "tmpfs");
    assert_string_equal(joined(at(m, "options")), "nosuid strictatime mode=755 size=65536k");
    m = mount_at(f.r.spec, "/dev/pts");
    assert_string_equal(joined(at(m, "options")),
                        "nosuid noexec newinstance ptmxmode=0666 mode=0620 gid=5");
    m = mount_at(f.r.spec, "/dev/shm");
    assert_string_equal(str(m, "type"), "tmpfs");
    assert_string_equal(joined(at(m, "options")), "nosuid noexec nodev mode=1777 size=65536k");
    m = mount_at(f.r.spec, "/dev/mqueue");
    assert_string_equal(str(m, "type"), "mqueue");
    m = mount_at(f.r.spec, "/sys");
    assert_string_equal(joined(at(m, "options")), "nosuid noexec nodev ro");
    m = mount_at(f.r.spec, "/sys/fs/cgroup");
    assert_string_equal(joined(at(m, "options")), "nosuid noexec nodev relatime ro");
    m = mount_at(f.r.spec, "/etc/resolv.conf");
    assert_string_equal(str(m, "type"), "bind");
    assert_string_equal(str(m, "source"), "/run/pod/resolv.conf");
    assert_string_equal(joined(at(m, "options")), "rbind rw");
    assert_null(at(f.r.spec, "linux.rootfsPropagation"));
    done(&f);

    f.p.shm_path = "/run/pod/shm";
    f.p.hostname_path = NULL;
    f.sc.privileged = true;
    gen_ok(&f);
    m = mount_at(f.r.spec, "/dev/shm");
    assert_string_equal(str(m, "type"), "bind");
    assert_string_equal(str(m, "source"), "/run/pod/shm");
    assert_string_equal(joined(at(m, "options")), "rbind rw");
    assert_null(mount_at(f.r.spec, "/etc/hostname"));
    assert_string_equal(joined(at(mount_at(f.r.spec, "/sys"), "options")),
                        "nosuid noexec nodev rw");
    assert_string_equal(joined(at(mount_at(f.r.spec, "/sys/fs/cgroup"), "options")),
                        "nosuid noexec nodev relatime rw");
    done(&f);
}

static void test_cri_mounts(void **state)
{
    struct fixture f;
    fixture_init(&f);
    char made[300], deeper[300];
    snprintf(made, sizeof(made), "%s/made/by/spec", tmpdir);
    snprintf(deeper, sizeof(deeper), "%s/deeper", tmpdir);
    Runtime__V1__Mount m1 = RUNTIME__V1__MOUNT__INIT, m2 = RUNTIME__V1__MOUNT__INIT,
                       m3 = RUNTIME__V1__MOUNT__INIT, m4 = RUNTIME__V1__MOUNT__INIT,
                       m5 = RUNTIME__V1__MOUNT__INIT;
    m1.container_path = "/data/sub/x";
    m1.host_path = deeper;
    m1.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL;
    m2.container_path = "/data//";
    m2.host_path = made;
    m2.readonly = true;
    m2.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER;
    m3.container_path = "/etc/hosts";
    m3.host_path = "/etc/hosts";
    m4.container_path = "/b";
    m4.host_path = "/tmp";
    m5.container_path = "/a";
    m5.host_path = "/tmp";
    Runtime__V1__Mount *mounts[] = {&m1, &m2, &m3, &m4, &m5};
    f.c.mounts = mounts;
    f.c.n_mounts = 5;
    gen_ok(&f);
    struct stat st;
    assert_int_equal(stat(made, &st), 0); /* missing host paths are made directories */
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(stat(deeper, &st), 0);
    /* parents first, otherwise in the CRI's order; the CRI's /etc/hosts replaces the pod's */
    assert_string_equal(destinations(f.r.spec), "/proc /dev /dev/pts /dev/shm /dev/mqueue /sys "
                                                "/sys/fs/cgroup /etc/hostname /etc/resolv.conf "
                                                "/data /b /a /etc/hosts /data/sub/x");
    cJSON *m = mount_at(f.r.spec, "/data");
    assert_string_equal(str(m, "type"), "bind");
    assert_string_equal(str(m, "source"), made);
    assert_string_equal(joined(at(m, "options")), "rbind ro rslave");
    assert_string_equal(joined(at(mount_at(f.r.spec, "/data/sub/x"), "options")),
                        "rbind rw rshared");
    assert_string_equal(joined(at(mount_at(f.r.spec, "/a"), "options")), "rbind rw rprivate");
    assert_string_equal(str(mount_at(f.r.spec, "/etc/hosts"), "source"), "/etc/hosts");
    assert_string_equal(str(f.r.spec, "linux.rootfsPropagation"), "rshared");
    done(&f);

    /* rslave alone */
    f.c.n_mounts = 2;
    m1.propagation = RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE;
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "linux.rootfsPropagation"), "rslave");
    done(&f);

    /* a mount on /dev replaces the runtime's /dev and what is beneath it */
    Runtime__V1__Mount dev = RUNTIME__V1__MOUNT__INIT;
    dev.container_path = "/dev";
    dev.host_path = "/dev";
    Runtime__V1__Mount *devm[] = {&dev};
    f.c.mounts = devm;
    f.c.n_mounts = 1;
    gen_ok(&f);
    assert_string_equal(destinations(f.r.spec), "/proc /sys /sys/fs/cgroup /etc/hostname "
                                                "/etc/hosts /etc/resolv.conf /dev");
    done(&f);

    f.c.mounts = mounts;
    f.c.n_mounts = 5;
    m5.container_path = "relative";
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_string_equal(err_msg(&f.err), "mount destination `relative` is not an absolute path");
    done(&f);
    m5.container_path = "/a";
    m5.host_path = "tmp";
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_string_equal(err_msg(&f.err), "mount /a: source `tmp` is not an absolute path");
    done(&f);
    m5.host_path = "/tmp";
    m5.recursive_read_only = true;
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_string_equal(err_msg(&f.err),
                        "mount /a: recursive read-only mounts are not supported by the runtime");
    done(&f);
}

static void test_devices(void **state)
{
    struct fixture f;
    fixture_init(&f);
    Runtime__V1__Device d1 = RUNTIME__V1__DEVICE__INIT, d2 = RUNTIME__V1__DEVICE__INIT;
    d1.host_path = "/dev/null";
    d1.container_path = "/dev/xnull";
    d1.permissions = "rw";
    Runtime__V1__Device *devs[] = {&d1, &d2};
    f.c.devices = devs;
    f.c.n_devices = 1;
    gen_ok(&f);
    struct stat st;
    assert_int_equal(stat("/dev/null", &st), 0);
    cJSON *d = at(f.r.spec, "linux.devices.[0]");
    assert_string_equal(str(d, "path"), "/dev/xnull");
    assert_string_equal(str(d, "type"), "c");
    assert_int_equal(num(d, "major"), 1);
    assert_int_equal(num(d, "minor"), 3);
    assert_int_equal(num(d, "fileMode"), st.st_mode & 07777);
    assert_int_equal(num(d, "uid"), st.st_uid);
    assert_int_equal(num(d, "gid"), st.st_gid);
    assert_int_equal(cJSON_GetArraySize(at(f.r.spec, "linux.devices")), 1);
    cJSON *rules = at(f.r.spec, "linux.resources.devices");
    assert_int_equal(cJSON_GetArraySize(rules), 2);
    assert_true(cJSON_IsFalse(at(rules, "[0].allow")));
    assert_string_equal(str(rules, "[0].access"), "rwm");
    assert_null(at(rules, "[0].type"));
    assert_true(cJSON_IsTrue(at(rules, "[1].allow")));
    assert_string_equal(str(rules, "[1].type"), "c");
    assert_int_equal(num(rules, "[1].major"), 1);
    assert_int_equal(num(rules, "[1].minor"), 3);
    assert_string_equal(str(rules, "[1].access"), "rw");
    done(&f);

    /* a directory: every device beneath it, under the container path */
    char dir[300], node[400];
    snprintf(dir, sizeof(dir), "%s/devdir", tmpdir);
    make_dir(dir, "sub");
    snprintf(node, sizeof(node), "%s/sub/zero", dir);
    if (mknod(node, S_IFCHR | 0640, makedev(1, 5)) == 0) {
        write_at(dir, "not-a-device", "x");
        d2.host_path = dir;
        d2.container_path = "/dev/mine/";
        d2.permissions = "";
        f.c.n_devices = 2;
        gen_ok(&f);
        assert_int_equal(cJSON_GetArraySize(at(f.r.spec, "linux.devices")), 2);
        assert_string_equal(str(f.r.spec, "linux.devices.[1].path"), "/dev/mine/sub/zero");
        assert_int_equal(num(f.r.spec, "linux.devices.[1].minor"), 5);
        assert_int_equal(num(f.r.spec, "linux.devices.[1].fileMode"), 0640);
        assert_string_equal(str(f.r.spec, "linux.resources.devices.[2].access"), "rwm");
        done(&f);
    } else {
        print_message("mknod: %s; directory devices not tested\n", strerror(errno));
    }

    f.c.n_devices = 1;
    d1.permissions = "rwx";
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_non_null(strstr(err_msg(&f.err), "rwx"));
    done(&f);
    d1.permissions = "r";
    d1.host_path = "/etc/hostname-does-not-exist";
    assert_int_equal(gen_fail(&f), -ENOENT);
    assert_non_null(strstr(err_msg(&f.err), "/etc/hostname-does-not-exist"));
    done(&f);
    d1.host_path = "/etc/passwd";
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_string_equal(err_msg(&f.err), "device /etc/passwd is not a character or block device");
    done(&f);
    d1.host_path = "dev/null";
    assert_int_equal(gen_fail(&f), -EINVAL);
    done(&f);

    /* privileged: allow all, and the host's devices (at least /dev/null) */
    f.c.n_devices = 0;
    f.sc.privileged = true;
    gen_ok(&f);
    rules = at(f.r.spec, "linux.resources.devices");
    assert_int_equal(cJSON_GetArraySize(rules), 2);
    assert_true(cJSON_IsTrue(at(rules, "[1].allow")));
    assert_null(at(rules, "[1].type"));
    bool null_found = false;
    cJSON_ArrayForEach(d, at(f.r.spec, "linux.devices"))
    {
        null_found |= strcmp(str(d, "path"), "/dev/null") == 0;
        assert_null(strstr(str(d, "path"), "/dev/pts"));
        assert_string_not_equal(str(d, "path"), "/dev/console");
        assert_string_not_equal(str(d, "path"), "/dev/ptmx");
    }
    assert_true(null_found);
    done(&f);
}

static void test_resources(void **state)
{
    Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
    cJSON *o = oci_spec_resources(&r, 0, 0);
    assert_null(o->child); /* nothing set: an empty object */
    cJSON_Delete(o);
    o = oci_spec_resources(NULL, 0, 0);
    assert_true(cJSON_IsObject(o));
    assert_null(o->child);
    cJSON_Delete(o);

    Runtime__V1__HugepageLimit h = RUNTIME__V1__HUGEPAGE_LIMIT__INIT;
    h.page_size = "2MB";
    h.limit = 1 << 22;
    Runtime__V1__HugepageLimit *hs[] = {&h};
    Runtime__V1__LinuxContainerResources__UnifiedEntry u =
        RUNTIME__V1__LINUX_CONTAINER_RESOURCES__UNIFIED_ENTRY__INIT;
    u.key = "memory.high";
    u.value = "1000000";
    Runtime__V1__LinuxContainerResources__UnifiedEntry *us[] = {&u};
    r.cpu_shares = 512;
    r.cpu_quota = 50000;
    r.cpu_period = 100000;
    r.cpuset_cpus = "0-1";
    r.cpuset_mems = "0";
    r.memory_limit_in_bytes = 5368709120; /* > 2^32 */
    r.memory_swap_limit_in_bytes = 6442450944;
    r.oom_score_adj = 100;
    r.hugepage_limits = hs;
    r.n_hugepage_limits = 1;
    r.unified = us;
    r.n_unified = 1;
    o = oci_spec_resources(&r, -999, 1024);
    assert_int_equal(num(o, "cpu.shares"), 512);
    assert_int_equal(num(o, "cpu.quota"), 50000);
    assert_int_equal(num(o, "cpu.period"), 100000);
    assert_string_equal(str(o, "cpu.cpus"), "0-1");
    assert_string_equal(str(o, "cpu.mems"), "0");
    assert_true(num(o, "memory.limit") == 5368709120.0);
    assert_true(num(o, "memory.swap") == 6442450944.0);
    assert_string_equal(str(o, "hugepageLimits.[0].pageSize"), "2MB");
    assert_int_equal(num(o, "hugepageLimits.[0].limit"), 1 << 22);
    assert_string_equal(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(at(o, "unified"), "memory.high")),
        "1000000");
    assert_int_equal(num(o, "pids.limit"), 1024);
    assert_null(at(o, "oomScoreAdj"));
    assert_int_equal(cJSON_GetArraySize(o), 5);
    cJSON_Delete(o);

    /* only what is set */
    r = (Runtime__V1__LinuxContainerResources)RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
    r.cpu_quota = 20000;
    r.memory_limit_in_bytes = 1 << 26;
    o = oci_spec_resources(&r, 0, 0);
    assert_int_equal(cJSON_GetArraySize(at(o, "cpu")), 1);
    assert_int_equal(num(o, "cpu.quota"), 20000);
    assert_int_equal(cJSON_GetArraySize(at(o, "memory")), 1);
    assert_null(at(o, "pids"));
    assert_null(at(o, "unified"));
    cJSON_Delete(o);
}

static void test_spec_resources_oom_rlimits(void **state)
{
    struct fixture f;
    fixture_init(&f);
    f.res.memory_limit_in_bytes = 1 << 26;
    f.res.cpu_shares = 2;
    f.res.oom_score_adj = -999;
    f.p.pids_limit = 4096;
    gen_ok(&f);
    assert_int_equal(num(f.r.spec, "linux.resources.memory.limit"), 1 << 26);
    assert_int_equal(num(f.r.spec, "linux.resources.cpu.shares"), 2);
    assert_int_equal(num(f.r.spec, "linux.resources.pids.limit"), 4096);
    assert_string_equal(str(f.r.spec, "linux.cgroupsPath"), "/kubepods/crib-c1");
    assert_int_equal(num(f.r.spec, "process.oomScoreAdj"), -500); /* raised to the minimum */
    assert_true(f.r.oom_score_clamped);
    assert_string_equal(str(f.r.spec, "process.rlimits.[0].type"), "RLIMIT_NOFILE");
    double hard = num(f.r.spec, "process.rlimits.[0].hard");
    assert_true(hard > 0 && hard <= 1048576);
    if (cap_get_bound(CAP_SYS_RESOURCE) == 1)
        assert_true(hard == 1048576);
    assert_true(num(f.r.spec, "process.rlimits.[0].soft") == hard);
    done(&f);

    f.res.oom_score_adj = 999;
    gen_ok(&f);
    assert_int_equal(num(f.r.spec, "process.oomScoreAdj"), 999);
    assert_false(f.r.oom_score_clamped);
    done(&f);
    f.res.oom_score_adj = 1001;
    assert_int_equal(gen_fail(&f), -EINVAL);
    done(&f);

    f.res.oom_score_adj = 0;
    f.p.oom_score_adj_min = -1000;
    f.p.cgroups_path = NULL;
    f.c.linux = NULL; /* no linux config at all */
    gen_ok(&f);
    assert_int_equal(num(f.r.spec, "process.oomScoreAdj"), 0);
    assert_null(at(f.r.spec, "linux.cgroupsPath"));
    assert_null(at(f.r.spec, "linux.seccomp"));
    assert_int_equal(cJSON_GetArraySize(at(f.r.spec, "linux.maskedPaths")), 11);
    done(&f);
}

static void test_masked_paths(void **state)
{
    struct fixture f;
    fixture_init(&f);
    gen_ok(&f);
    assert_string_equal(joined(at(f.r.spec, "linux.maskedPaths")),
                        "/proc/acpi /proc/asound /proc/kcore /proc/keys /proc/latency_stats "
                        "/proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi "
                        "/sys/firmware /sys/devices/virtual/powercap");
    assert_string_equal(joined(at(f.r.spec, "linux.readonlyPaths")),
                        "/proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger");
    assert_string_equal(joined(at(f.r.spec, "process.capabilities.bounding")),
                        "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL "
                        "CAP_NET_BIND_SERVICE CAP_SETGID CAP_SETPCAP CAP_SETUID");
    assert_string_equal(joined(at(f.r.spec, "process.capabilities.effective")),
                        joined(at(f.r.spec, "process.capabilities.bounding")));
    assert_null(at(f.r.spec, "process.capabilities.ambient"));
    assert_false(cJSON_IsTrue(at(f.r.spec, "process.noNewPrivileges")));
    done(&f);

    char *masked[] = {"/proc/x"};
    char *ro[] = {"/proc/y", "/proc/z"};
    f.sc.masked_paths = masked;
    f.sc.n_masked_paths = 1;
    f.sc.readonly_paths = ro;
    f.sc.n_readonly_paths = 2;
    f.sc.no_new_privs = true;
    Runtime__V1__Capability caps = RUNTIME__V1__CAPABILITY__INIT;
    char *add[] = {"SYS_PTRACE"};
    caps.add_capabilities = add;
    caps.n_add_capabilities = 1;
    f.sc.capabilities = &caps;
    gen_ok(&f);
    assert_string_equal(joined(at(f.r.spec, "linux.maskedPaths")), "/proc/x");
    assert_string_equal(joined(at(f.r.spec, "linux.readonlyPaths")), "/proc/y /proc/z");
    assert_true(cJSON_IsTrue(at(f.r.spec, "process.noNewPrivileges")));
    assert_non_null(
        strstr(joined(at(f.r.spec, "process.capabilities.permitted")), "CAP_SYS_PTRACE"));
    done(&f);

    f.sc.privileged = true;
    gen_ok(&f);
    assert_null(at(f.r.spec, "linux.maskedPaths"));
    assert_null(at(f.r.spec, "linux.readonlyPaths"));
    assert_true(cJSON_GetArraySize(at(f.r.spec, "process.capabilities.bounding")) > 30);
    done(&f);

    char *bad[] = {"CAP_BOGUS"};
    caps.add_capabilities = bad;
    f.sc.privileged = false;
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_string_equal(err_msg(&f.err), "unknown capability `CAP_BOGUS`");
    done(&f);
}

static const char *ns_path(const cJSON *spec, const char *type, bool *present)
{
    const cJSON *n;
    cJSON_ArrayForEach(n, at(spec, "linux.namespaces"))
    {
        if (strcmp(str(n, "type"), type) == 0) {
            *present = true;
            return cJSON_GetStringValue(at(n, "path"));
        }
    }
    *present = false;
    return NULL;
}

static void test_namespaces_and_sysctls(void **state)
{
    struct fixture f;
    bool present;
    fixture_init(&f);
    Runtime__V1__LinuxPodSandboxConfig pl = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
    Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry s1 =
        RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__SYSCTLS_ENTRY__INIT;
    s1.key = "net.ipv4.ip_unprivileged_port_start";
    s1.value = "0";
    Runtime__V1__LinuxPodSandboxConfig__SysctlsEntry *ss[] = {&s1};
    pl.sysctls = ss;
    pl.n_sysctls = 1;
    f.pod.linux = &pl;
    gen_ok(&f);
    assert_null(ns_path(f.r.spec, "pid", &present)); /* a new pid namespace */
    assert_true(present);
    assert_string_equal(ns_path(f.r.spec, "network", &present), "/run/ns/net");
    assert_string_equal(ns_path(f.r.spec, "ipc", &present), "/run/ns/ipc");
    assert_string_equal(ns_path(f.r.spec, "uts", &present), "/run/ns/uts");
    assert_null(ns_path(f.r.spec, "mount", &present));
    assert_true(present);
    ns_path(f.r.spec, "cgroup", &present);
    assert_int_equal(present, oci_cgroup_is_v2());
    ns_path(f.r.spec, "user", &present);
    assert_false(present);
    assert_null(at(f.r.spec, "hostname")); /* the uts namespace is joined */
    cJSON *sysctl = at(f.r.spec, "linux.sysctl");
    assert_int_equal(cJSON_GetArraySize(sysctl), 1);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                            sysctl, "net.ipv4.ip_unprivileged_port_start")),
                        "0");
    done(&f);
}

static void test_namespaces_host_and_joined(void **state)
{
    struct fixture f;
    bool present;
    fixture_init(&f);
    f.p.pidns_path = "/proc/42/ns/pid";
    f.p.netns_path = f.p.ipcns_path = f.p.utsns_path = NULL;
    gen_ok(&f);
    assert_string_equal(ns_path(f.r.spec, "pid", &present), "/proc/42/ns/pid");
    ns_path(f.r.spec, "network", &present);
    assert_false(present);
    ns_path(f.r.spec, "ipc", &present);
    assert_false(present);
    ns_path(f.r.spec, "uts", &present);
    assert_false(present);
    assert_null(at(f.r.spec, "hostname"));
    done(&f);
    f.p.host_pid = true;
    gen_ok(&f);
    ns_path(f.r.spec, "pid", &present);
    assert_false(present);
    done(&f);
}

static void test_seccomp(void **state)
{
    struct fixture f;
    fixture_init(&f);
    Runtime__V1__SecurityProfile prof = RUNTIME__V1__SECURITY_PROFILE__INIT;
    prof.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
    f.sc.seccomp = &prof;
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "linux.seccomp.defaultAction"), "SCMP_ACT_ERRNO");
    assert_true(cJSON_GetArraySize(at(f.r.spec, "linux.seccomp.syscalls")) > 0);
    done(&f);

    f.p.seccomp = false; /* the host has none */
    gen_ok(&f);
    assert_null(at(f.r.spec, "linux.seccomp"));
    done(&f);
    f.p.seccomp = true;

    f.sc.privileged = true;
    gen_ok(&f);
    assert_null(at(f.r.spec, "linux.seccomp"));
    done(&f);
    f.sc.privileged = false;

    prof.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined;
    gen_ok(&f);
    assert_null(at(f.r.spec, "linux.seccomp"));
    done(&f);

    f.sc.seccomp = NULL; /* unset */
    gen_ok(&f);
    assert_null(at(f.r.spec, "linux.seccomp"));
    done(&f);

    /* Localhost, relative to the profile root */
    char root[300];
    snprintf(root, sizeof(root), "%s/seccomp", tmpdir);
    make_dir(root, "profiles");
    write_at(root, "profiles/p.json",
             "{\"defaultAction\":\"SCMP_ACT_LOG\",\"syscalls\":[{\"names\":[\"mkdir\"],"
             "\"action\":\"SCMP_ACT_ERRNO\"}]}");
    f.sc.seccomp = &prof;
    prof.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
    prof.localhost_ref = "profiles/p.json";
    assert_int_equal(gen_fail(&f), -EINVAL); /* no root set */
    done(&f);
    f.p.seccomp_profile_root = root;
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "linux.seccomp.defaultAction"), "SCMP_ACT_LOG");
    assert_string_equal(str(f.r.spec, "linux.seccomp.syscalls.[0].names.[0]"), "mkdir");
    done(&f);
    prof.localhost_ref = "profiles/missing.json";
    assert_int_equal(gen_fail(&f), -ENOENT);
    done(&f);
}

/* The deprecated string field, when no SecurityProfile is given. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static void set_seccomp_path(Runtime__V1__LinuxContainerSecurityContext *sc, const char *s)
{
    sc->seccomp_profile_path = (char *)s;
}
static void set_apparmor_string(Runtime__V1__LinuxContainerSecurityContext *sc, const char *s)
{
    sc->apparmor_profile = (char *)s;
}
#pragma GCC diagnostic pop

static void test_seccomp_deprecated(void **state)
{
    struct fixture f;
    fixture_init(&f);
    set_seccomp_path(&f.sc, "runtime/default");
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "linux.seccomp.defaultAction"), "SCMP_ACT_ERRNO");
    done(&f);
    set_seccomp_path(&f.sc, "docker/default");
    gen_ok(&f);
    assert_non_null(at(f.r.spec, "linux.seccomp"));
    done(&f);
    set_seccomp_path(&f.sc, "unconfined");
    gen_ok(&f);
    assert_null(at(f.r.spec, "linux.seccomp"));
    done(&f);
    char path[400];
    snprintf(path, sizeof(path), "localhost/%s/seccomp/profiles/p.json", tmpdir);
    set_seccomp_path(&f.sc, path);
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "linux.seccomp.defaultAction"), "SCMP_ACT_LOG");
    done(&f);
    set_seccomp_path(&f.sc, "whatever");
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_string_equal(err_msg(&f.err), "unknown seccomp profile `whatever`");
    done(&f);
}

static void test_apparmor(void **state)
{
    struct fixture f;
    fixture_init(&f);
    Runtime__V1__SecurityProfile prof = RUNTIME__V1__SECURITY_PROFILE__INIT;
    prof.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
    prof.localhost_ref = "k8s-deny-write";
    f.sc.apparmor = &prof;
    /* A host without AppArmor refuses a profile rather than run the container unconfined. */
    assert_int_equal(gen_fail(&f), -EOPNOTSUPP);
    assert_string_equal(err_msg(&f.err), "AppArmor profile `k8s-deny-write` asked for, but "
                                         "AppArmor is not enabled on this host");
    done(&f);
    prof.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
    gen_ok(&f);
    assert_null(at(f.r.spec, "process.apparmorProfile"));
    done(&f);
    prof.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Unconfined;
    gen_ok(&f);
    done(&f);
    prof.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost;
    f.p.lsm.apparmor = true;
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "process.apparmorProfile"), "k8s-deny-write");
    done(&f);
    prof.localhost_ref = "localhost/other";
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "process.apparmorProfile"), "other");
    done(&f);
    prof.profile_type = RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault;
    gen_ok(&f);
    assert_null(at(f.r.spec, "process.apparmorProfile"));
    done(&f);
    f.sc.apparmor = NULL;
    set_apparmor_string(&f.sc, "localhost/old-style");
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "process.apparmorProfile"), "old-style");
    done(&f);
}

static void test_selinux(void **state)
{
    struct fixture f;
    fixture_init(&f);
    Runtime__V1__SELinuxOption o = RUNTIME__V1__SELINUX_OPTION__INIT;
    o.level = "s0:c1,c2";
    f.sc.selinux_options = &o;
    gen_ok(&f); /* no SELinux on the host: nothing to label with */
    assert_null(at(f.r.spec, "process.selinuxLabel"));
    assert_null(at(f.r.spec, "linux.mountLabel"));
    done(&f);
    f.p.lsm.selinux = true;
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "process.selinuxLabel"),
                        "system_u:system_r:container_t:s0:c1,c2");
    assert_string_equal(str(f.r.spec, "linux.mountLabel"),
                        "system_u:object_r:container_file_t:s0:c1,c2");
    done(&f);
    o.user = "user_u";
    o.role = "user_r";
    o.type = "spc_t";
    o.level = "";
    gen_ok(&f);
    assert_string_equal(str(f.r.spec, "process.selinuxLabel"), "user_u:user_r:spc_t:s0");
    done(&f);
    o.type = "a:b";
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_string_equal(err_msg(&f.err), "SELinux type `a:b` is not a valid label field");
    done(&f);
    f.p.lsm.selinux = false; /* checked even where it would not apply */
    assert_int_equal(gen_fail(&f), -EINVAL);
    done(&f);
}

static void test_annotations(void **state)
{
    struct fixture f;
    fixture_init(&f);
    Runtime__V1__ContainerConfig__AnnotationsEntry a1 =
        RUNTIME__V1__CONTAINER_CONFIG__ANNOTATIONS_ENTRY__INIT;
    Runtime__V1__ContainerConfig__AnnotationsEntry a2 =
        RUNTIME__V1__CONTAINER_CONFIG__ANNOTATIONS_ENTRY__INIT;
    a1.key = "io.kubernetes.container.hash";
    a1.value = "abc";
    a2.key = "io.kubernetes.cri.sandbox-id"; /* ours win */
    a2.value = "spoofed";
    Runtime__V1__ContainerConfig__AnnotationsEntry *as[] = {&a1, &a2};
    f.c.annotations = as;
    f.c.n_annotations = 2;
    gen_ok(&f);
    cJSON *a = at(f.r.spec, "annotations");
    const struct {
        const char *k, *v;
    } want[] = {
        {"io.kubernetes.container.hash", "abc"},
        {"io.kubernetes.cri.container-type", "container"},
        {"io.kubernetes.cri.sandbox-id", "p1"},
        {"io.kubernetes.cri.container-name", "ctr"},
        {"io.kubernetes.cri.image-name", "docker.io/library/busybox:latest"},
        {"io.kubernetes.cri.sandbox-name", "pod"},
        {"io.kubernetes.cri.sandbox-namespace", "ns"},
        {"io.kubernetes.cri.sandbox-uid", "uid-1"},
    };
    assert_int_equal(cJSON_GetArraySize(a), ARRAY_SIZE(want));
    for (size_t i = 0; i < ARRAY_SIZE(want); i++)
        assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, want[i].k)),
                            want[i].v);
    done(&f);
}

static void test_stop_signal(void **state)
{
    struct fixture f;
    fixture_init(&f);
    gen_ok(&f);
    assert_string_equal(f.r.stop_signal, "SIGQUIT");
    assert_int_equal(f.r.stop_signo, SIGQUIT);
    done(&f);
    const struct {
        const char *image, *name;
        int num;
    } cases[] = {
        {"{\"config\":{\"Cmd\":[\"sh\"]}}", "SIGTERM", SIGTERM},
        {"{\"config\":{\"Cmd\":[\"sh\"],\"StopSignal\":\"\"}}", "SIGTERM", SIGTERM},
        {"{\"config\":{\"Cmd\":[\"sh\"],\"StopSignal\":\"9\"}}", "SIGKILL", SIGKILL},
        {"{\"config\":{\"Cmd\":[\"sh\"],\"StopSignal\":\"usr1\"}}", "SIGUSR1", SIGUSR1},
        {"{\"config\":{\"Cmd\":[\"sh\"],\"StopSignal\":\"SIGRTMIN+3\"}}", "SIGRTMIN+3", 0},
        {"{\"config\":{\"Cmd\":[\"sh\"],\"StopSignal\":\"RTMAX-1\"}}", NULL, 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        f.p.image_config = cases[i].image;
        gen_ok(&f);
        if (cases[i].name)
            assert_string_equal(f.r.stop_signal, cases[i].name);
        if (cases[i].num)
            assert_int_equal(f.r.stop_signo, cases[i].num);
        /* the name reads back as the same number (the daemon stores the name) */
        assert_int_equal(oci_signal_parse(f.r.stop_signal), f.r.stop_signo);
        done(&f);
    }
    /* the CRI's own stop signal wins over the image's */
    const struct {
        Runtime__V1__Signal cri;
        const char *name;
        int num;
    } cri[] = {
        {RUNTIME__V1__SIGNAL__SIGNAL_SIGUSR2, "SIGUSR2", SIGUSR2},
        {RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMIN, "SIGRTMIN", 0},
        {RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMINPLUS3, "SIGRTMIN+3", 0},
        {RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMAXMINUS1, NULL, 0},
        {RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMAX, NULL, 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cri); i++) {
        f.c.stop_signal = cri[i].cri;
        gen_ok(&f);
        if (cri[i].name)
            assert_string_equal(f.r.stop_signal, cri[i].name);
        if (cri[i].num)
            assert_int_equal(f.r.stop_signo, cri[i].num);
        done(&f);
    }
    f.c.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMINPLUS3;
    gen_ok(&f);
    assert_int_equal(f.r.stop_signo, SIGRTMIN + 3);
    done(&f);
    f.c.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_SIGRTMAXMINUS1;
    gen_ok(&f);
    assert_int_equal(f.r.stop_signo, SIGRTMAX - 1);
    assert_int_equal(oci_signal_parse(f.r.stop_signal), SIGRTMAX - 1);
    done(&f);
    f.c.stop_signal = (Runtime__V1__Signal)999;
    assert_int_equal(gen_fail(&f), -EINVAL);
    done(&f);
    f.c.stop_signal = RUNTIME__V1__SIGNAL__SIGNAL_RUNTIME_DEFAULT;

    f.p.image_config = "{\"config\":{\"Cmd\":[\"sh\"],\"StopSignal\":\"SIGFOO\"}}";
    assert_int_equal(gen_fail(&f), -EINVAL);
    assert_string_equal(err_msg(&f.err), "the image's stop signal `SIGFOO` is not a signal");
    done(&f);
}

/* A container's cgroup below a hierarchy's root, for either driver. */
static void test_cgroup_fs_path(void **state)
{
    (void)state;
    char *p = oci_cgroup_fs_path("/kubepods/pod1/crib-c1");
    assert_string_equal(p, "/kubepods/pod1/crib-c1");
    free(p);
    p = oci_cgroup_fs_path("kubepods-besteffort-pod1.slice:crib:c1");
    assert_string_equal(p, "/kubepods.slice/kubepods-besteffort.slice/"
                           "kubepods-besteffort-pod1.slice/crib-c1.scope");
    free(p);
    p = oci_cgroup_fs_path("system.slice:crib:c1");
    assert_string_equal(p, "/system.slice/crib-c1.scope");
    free(p);
    assert_null(oci_cgroup_fs_path("system.slice:crib"));
    assert_null(oci_cgroup_fs_path("system.slice::c1"));
    assert_null(oci_cgroup_fs_path("system.slice:crib:"));
    assert_null(oci_cgroup_fs_path("system.slice:crib:a/b"));
    assert_null(oci_cgroup_fs_path("system.slice:crib:a:b"));
    assert_null(oci_cgroup_fs_path("not-a-slice:crib:c1"));
}

/* Resources no cgroup takes are refused, each with a message naming what was wrong. */
static void check_refused(const Runtime__V1__LinuxContainerResources *r, bool v2, const char *want)
{
    struct err err = ERR_INIT;
    assert_int_equal(oci_resources_check(r, v2, &err), -EINVAL);
    if (!strstr(err_msg(&err), want))
        fail_msg("`%s` does not say `%s`", err_msg(&err), want);
    err_done(&err);
}

static void test_resources_check(void **state)
{
    (void)state;
    struct err err = ERR_INIT;
    Runtime__V1__LinuxContainerResources r = RUNTIME__V1__LINUX_CONTAINER_RESOURCES__INIT;
    Runtime__V1__LinuxContainerResources__UnifiedEntry u =
        RUNTIME__V1__LINUX_CONTAINER_RESOURCES__UNIFIED_ENTRY__INIT;
    Runtime__V1__LinuxContainerResources__UnifiedEntry *us[] = {&u};
    assert_int_equal(oci_resources_check(NULL, false, &err), 0);
    r.cpu_shares = 512, r.cpu_quota = 50000, r.cpu_period = 100000;
    r.memory_limit_in_bytes = 64 << 20, r.memory_swap_limit_in_bytes = 128 << 20;
    assert_int_equal(oci_resources_check(&r, false, &err), 0);
    r.cpu_quota = -1; /* no limit */
    assert_int_equal(oci_resources_check(&r, false, &err), 0);
    r.cpu_quota = -2;
    check_refused(&r, true, "negative resources");
    r.cpu_quota = 999;
    check_refused(&r, true, "cpu_quota 999");
    r.cpu_quota = 50000, r.cpu_period = 999;
    check_refused(&r, true, "cpu_period 999");
    r.cpu_period = 100000, r.memory_swap_limit_in_bytes = 32 << 20;
    check_refused(&r, true, "below memory_limit_in_bytes");
    r.memory_swap_limit_in_bytes = -1; /* no limit */
    assert_int_equal(oci_resources_check(&r, true, &err), 0);

    r.unified = us, r.n_unified = 1;
    u.key = "memory.high", u.value = "50331648";
    assert_int_equal(oci_resources_check(&r, true, &err), 0);
    check_refused(&r, false, "need cgroup v2");
    u.key = "cgroup.procs";
    check_refused(&r, false, "cgroup.* files"); /* what is wrong with it anyway, first */
    static const char *const bad[] = {"../cgroup.procs", "memory",      ".high",        "memory.",
                                      "a/b.c",           "Memory.high", "memory..high", ""};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        u.key = (char *)bad[i];
        check_refused(&r, true, "not a controller's file name");
    }
    u.key = "cgroup.procs";
    check_refused(&r, true, "cgroup.* files");
    u.key = "memory.high", u.value = "1\n2";
    check_refused(&r, true, "one line");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resources_check),
        cmocka_unit_test(test_users_names_and_ids),
        cmocka_unit_test(test_users_errors),
        cmocka_unit_test(test_users_without_files),
        cmocka_unit_test(test_users_symlinks_stay_inside),
        cmocka_unit_test(test_users_symlinks_stay_inside_without_openat2),
        cmocka_unit_test(test_users_odd_files),
        cmocka_unit_test(test_users_device_node_not_opened),
        cmocka_unit_test(test_caps_default),
        cmocka_unit_test(test_caps_add_drop),
        cmocka_unit_test(test_caps_unknown),
        cmocka_unit_test(test_signals),
        cmocka_unit_test(test_args_rules),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_env_large),
        cmocka_unit_test(test_cwd_and_readonly),
        cmocka_unit_test(test_user),
        cmocka_unit_test(test_default_mounts),
        cmocka_unit_test(test_cri_mounts),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_spec_resources_oom_rlimits),
        cmocka_unit_test(test_masked_paths),
        cmocka_unit_test(test_namespaces_and_sysctls),
        cmocka_unit_test(test_namespaces_host_and_joined),
        cmocka_unit_test(test_seccomp),
        cmocka_unit_test(test_seccomp_deprecated),
        cmocka_unit_test(test_apparmor),
        cmocka_unit_test(test_selinux),
        cmocka_unit_test(test_annotations),
        cmocka_unit_test(test_stop_signal),
        cmocka_unit_test(test_cgroup_fs_path),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
