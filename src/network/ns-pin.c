/* `cribd ns-pin`: the short-lived subcommand that creates a pod's namespaces and pins them with
 * bind mounts, so that no infra process has to keep them alive; and their removal. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/macro.h"
#include "network/network.h"
#include "reactor/reactor.h"

static const struct {
    unsigned flag;
    const char *name;
    int clone;
} nss[] = {
    {NETWORK_NS_NET, "net", CLONE_NEWNET},
    {NETWORK_NS_IPC, "ipc", CLONE_NEWIPC},
    {NETWORK_NS_UTS, "uts", CLONE_NEWUTS},
};

/* ---- the subcommand (its own process) ---- */

static int fail(const char *what, const char *arg)
{
    fprintf(stderr, "%s%s%s: %s\n", what, arg ? " " : "", arg ? arg : "", strerror(errno));
    return 1;
}

static int write_sysctl(const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq) {
        fprintf(stderr, "sysctl `%s`: expected key=value\n", kv);
        return 1;
    }
    cleanup_free char *path = xasprintf("/proc/sys/%.*s", (int)(eq - kv), kv);
    for (char *p = path + 10; *p; p++)
        if (*p == '.')
            *p = '/';
    cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
    size_t n = strlen(eq + 1);
    if (fd < 0 || write(fd, eq + 1, n) != (ssize_t)n)
        return fail("set sysctl", kv);
    return 0;
}

static int loopback_up(void)
{
    cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return fail("loopback", NULL);
    ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
    return ioctl(fd, SIOCSIFFLAGS, &ifr) < 0 ? fail("loopback up", NULL) : 0;
}

/* cribd ns-pin DIR HOSTNAME NS[,NS...] [SYSCTL=VALUE...] */
int network_ns_pin_main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: cribd ns-pin DIR HOSTNAME net,ipc,uts [key=value...]\n");
        return 2;
    }
    const char *dir = argv[1], *hostname = argv[2];
    int flags = 0;
    unsigned which = 0;
    for (size_t i = 0; i < ARRAY_SIZE(nss); i++) {
        if (strstr(argv[3], nss[i].name)) {
            flags |= nss[i].clone;
            which |= nss[i].flag;
        }
    }
    if (unshare(flags) < 0)
        return fail("unshare", NULL);
    if ((which & NETWORK_NS_UTS) && *hostname && sethostname(hostname, strlen(hostname)) < 0)
        return fail("sethostname", hostname);
    if ((which & NETWORK_NS_NET) && loopback_up() != 0)
        return 1;
    for (int i = 4; i < argc; i++)
        if (write_sysctl(argv[i]) != 0)
            return 1;
    for (size_t i = 0; i < ARRAY_SIZE(nss); i++) {
        if (!(which & nss[i].flag))
            continue;
        cleanup_free char *target = xasprintf("%s/%s", dir, nss[i].name);
        cleanup_free char *source = xasprintf("/proc/self/ns/%s", nss[i].name);
        cleanup_close int fd = open(target, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
        if (fd < 0)
            return fail("create", target);
        if (mount(source, target, NULL, MS_BIND, NULL) < 0)
            return fail("bind mount", target);
    }
    return 0;
}

/* ---- the daemon's side ---- */

struct pin {
    network_done_cb cb;
    void *data;
    char *dir;
};

static void on_pinned(int status, const struct reactor_child_result *res, void *data);

int network_ns_unpin(const char *dir, struct err *err)
{
    int r = 0;
    for (size_t i = 0; i < ARRAY_SIZE(nss); i++) {
        cleanup_free char *p = xasprintf("%s/%s", dir, nss[i].name);
        if (umount2(p, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT && r == 0)
            r = err_set(err, -errno, "unmount %s: %s", p, strerror(errno));
        if (unlink(p) < 0 && errno != ENOENT && r == 0)
            r = err_set(err, -errno, "remove %s: %s", p, strerror(errno));
    }
    return r;
}

static void on_pinned(int status, const struct reactor_child_result *res, void *data)
{
    struct pin *p = data;
    struct err err = ERR_INIT;
    int r = 0;
    if (status < 0) {
        r = err_set(&err, status, "pin namespaces: %s", strerror(-status));
    } else if (res->timed_out || res->exit_status != 0) {
        r = err_set(&err, -EIO, "pin namespaces: %.*s", (int)strcspn(res->err_out, "\n"),
                    res->err_len ? res->err_out
                                 : (res->timed_out ? "timed out" : "the helper failed"));
        /* Take down whatever the helper pinned before it failed. */
        struct err e2 = ERR_INIT;
        network_ns_unpin(p->dir, &e2);
        err_done(&e2);
    }
    p->cb(r, &err, p->data);
    err_done(&err);
    free(p->dir);
    free(p);
}

int network_ns_pin(uv_loop_t *loop, const struct network_pin_opts *o, network_done_cb cb,
                   void *data)
{
    struct buf which = {0};
    for (size_t i = 0; i < ARRAY_SIZE(nss); i++)
        if (o->namespaces & nss[i].flag)
            buf_printf(&which, "%s%s", which.len ? "," : "", nss[i].name);
    cleanup_free char *ns_list = buf_steal(&which);
    cleanup_free char **argv = xcalloc(6 + o->n_sysctls, sizeof(char *));
    size_t n = 0;
    argv[n++] = (char *)o->self_exe;
    argv[n++] = "ns-pin";
    argv[n++] = (char *)o->dir;
    argv[n++] = (char *)(o->hostname ? o->hostname : "");
    argv[n++] = ns_list;
    for (size_t i = 0; i < o->n_sysctls; i++)
        argv[n++] = o->sysctls[i];
    struct pin *p = xcalloc(1, sizeof(*p));
    p->cb = cb;
    p->data = data;
    p->dir = xstrdup(o->dir);
    int r = reactor_child_spawn(loop, argv, 10000, on_pinned, p, NULL);
    if (r < 0) {
        free(p->dir);
        free(p);
    }
    return r;
}

int network_sysctl_check(const char *key, bool host_network, bool host_ipc, struct err *err)
{
    static const char *const ipc[] = {"kernel.shmall",          "kernel.shmmax", "kernel.shmmni",
                                      "kernel.shm_rmid_forced", "kernel.msgmax", "kernel.msgmnb",
                                      "kernel.msgmni",          "kernel.sem"};
    size_t n = strlen(key);
    if (n == 0 || n > 256 || strspn(key, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != n ||
        strstr(key, "..") || key[0] == '.')
        return err_set(err, -EINVAL, "invalid sysctl name `%s`", key);
    bool is_ipc = strncmp(key, "fs.mqueue.", 10) == 0;
    for (size_t i = 0; i < ARRAY_SIZE(ipc); i++)
        is_ipc |= strcmp(key, ipc[i]) == 0;
    if (is_ipc)
        return host_ipc ? err_set(err, -EINVAL,
                                  "sysctl `%s` needs the pod's own IPC namespace, and the pod "
                                  "uses the node's",
                                  key)
                        : 0;
    if (strncmp(key, "net.", 4) == 0 || strcmp(key, "kernel.domainname") == 0)
        return host_network ? err_set(err, -EINVAL,
                                      "sysctl `%s` needs the pod's own network namespace, and the "
                                      "pod uses the node's",
                                      key)
                            : 0;
    return err_set(err, -EINVAL, "sysctl `%s` is not namespaced: a pod may not set it", key);
}
