/* The mounts and devices of a container's runtime spec: the runtime's own mounts, the pod's
 * files and the CRI's mounts; the device nodes and the device cgroup's rules. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/spec-internal.h"

#define DEVICES_MAX 4096
#define DEVICE_DEPTH_MAX 16

/* ---- mounts ---- */

/* path without repeated or trailing slashes */
static char *clean_path(const char *path)
{
    char *out = xstrdup(path), *o = out;
    for (const char *s = path; *s; s++)
        if (*s != '/' || (s[1] != '/' && (s[1] || o == out)))
            *o++ = *s;
    *o = '\0';
    return out;
}

/* Whether path is dir or beneath it (both clean). */
static bool path_within(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    if (strcmp(dir, "/") == 0)
        return true;
    return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Append a mount, after removing any earlier one on the same destination (or, with covers,
 * on it or beneath it: those would be hidden anyway). */
static void add_mount(cJSON *mounts, const char *dst, const char *type, const char *src,
                      const char *opts, bool covers)
{
    cJSON *x = mounts->child;
    while (x) {
        cJSON *next = x->next;
        const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "destination"));
        if (covers ? path_within(d, dst) : strcmp(d, dst) == 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(mounts, x));
        x = next;
    }
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "destination", dst);
    cJSON_AddStringToObject(m, "type", type);
    cJSON_AddStringToObject(m, "source", src);
    cJSON *o = cJSON_AddArrayToObject(m, "options");
    cleanup_free char *s = xstrdup(opts);
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save))
        cJSON_AddItemToArray(o, cJSON_CreateString(t));
    cJSON_AddItemToArray(mounts, m);
}

static void add_default_mounts(const struct oci_spec_params *p, bool privileged, cJSON *m)
{
    add_mount(m, "/proc", "proc", "proc", "nosuid,noexec,nodev", false);
    add_mount(m, "/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k", false);
    add_mount(m, "/dev/pts", "devpts", "devpts",
              "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5", false);
    if (p->shm_path)
        add_mount(m, "/dev/shm", "bind", p->shm_path, "rbind,rw", false);
    else
        add_mount(m, "/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k",
                  false);
    add_mount(m, "/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev", false);
    add_mount(m, "/sys", "sysfs", "sysfs",
              privileged ? "nosuid,noexec,nodev,rw" : "nosuid,noexec,nodev,ro", false);
    add_mount(m, "/sys/fs/cgroup", "cgroup", "cgroup",
              privileged ? "nosuid,noexec,nodev,relatime,rw" : "nosuid,noexec,nodev,relatime,ro",
              false);
}

static bool cri_mounts_cover(const Runtime__V1__ContainerConfig *c, const char *dst)
{
    for (size_t i = 0; i < c->n_mounts; i++) {
        cleanup_free char *d = clean_path(c->mounts[i]->container_path);
        if (strcmp(d, dst) == 0)
            return true;
    }
    return false;
}

static size_t depth(const char *path)
{
    size_t n = 0;
    for (const char *p = path; *p; p++)
        n += *p == '/' && p[1] && p[1] != '/';
    return n;
}

struct sorted_mount {
    const Runtime__V1__Mount *m;
    size_t depth, index;
};

/* By depth, parents first; the index keeps it stable. */
static int by_depth(const void *a, const void *b)
{
    const struct sorted_mount *x = a, *y = b;
    if (x->depth != y->depth)
        return x->depth < y->depth ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int check_cri_mount(const Runtime__V1__Mount *cm, struct err *err)
{
    if (!nonempty(cm->host_path) && cm->image && nonempty(cm->image->image))
        return err_set(err, -EINVAL, "mount %s: image volumes are not supported by the runtime",
                       cm->container_path);
    if (!nonempty(cm->container_path) || cm->container_path[0] != '/')
        return err_set(err, -EINVAL, "mount destination `%s` is not an absolute path",
                       cm->container_path ? cm->container_path : "");
    if (!nonempty(cm->host_path) || cm->host_path[0] != '/')
        return err_set(err, -EINVAL, "mount %s: source `%s` is not an absolute path",
                       cm->container_path, cm->host_path ? cm->host_path : "");
    if (cm->recursive_read_only)
        return err_set(err, -EINVAL,
                       "mount %s: recursive read-only mounts are not supported by the runtime",
                       cm->container_path);
    struct stat st;
    if (stat(cm->host_path, &st) < 0) {
        /* a missing source is made a directory, as containerd and CRI-O do */
        int r = errno == ENOENT ? fs_mkdir_p(cm->host_path, 0755) : -errno;
        if (r < 0)
            return err_set(err, r, "mount %s: source %s: %s", cm->container_path, cm->host_path,
                           strerror(-r));
    }
    return 0;
}

static int add_cri_mounts(const Runtime__V1__ContainerConfig *c, cJSON *m, cJSON *linux_,
                          struct err *err)
{
    cleanup_free struct sorted_mount *sorted = xcalloc(c->n_mounts + 1, sizeof(*sorted));
    for (size_t i = 0; i < c->n_mounts; i++)
        sorted[i] = (struct sorted_mount){c->mounts[i], depth(c->mounts[i]->container_path), i};
    qsort(sorted, c->n_mounts, sizeof(*sorted), by_depth);
    const char *rootfs_prop = NULL;
    for (size_t i = 0; i < c->n_mounts; i++) {
        const Runtime__V1__Mount *cm = sorted[i].m;
        int r = check_cri_mount(cm, err);
        if (r < 0)
            return r;
        const char *prop = "rprivate";
        if (cm->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER) {
            prop = "rslave";
            if (!rootfs_prop)
                rootfs_prop = "rslave";
        } else if (cm->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL) {
            prop = "rshared";
            rootfs_prop = "rshared";
        }
        cleanup_free char *dst = clean_path(cm->container_path);
        cleanup_free char *opts = xasprintf("rbind,%s,%s", cm->readonly ? "ro" : "rw", prop);
        add_mount(m, dst, "bind", cm->host_path, opts, true);
    }
    /* a slave or shared mount needs the rootfs' own propagation to let events through */
    if (rootfs_prop)
        cJSON_AddStringToObject(linux_, "rootfsPropagation", rootfs_prop);
    return 0;
}

/* The runtime's own mounts, the pod's files, then the CRI's mounts (parents first); a later
 * mount on a destination replaces an earlier one. */
int oci_spec_mounts_make(const struct oci_spec_params *p, bool privileged, cJSON *spec,
                         cJSON *linux_, struct err *err)
{
    const Runtime__V1__ContainerConfig *c = p->config;
    cJSON *m = cJSON_AddArrayToObject(spec, "mounts");
    add_default_mounts(p, privileged, m);
    const struct {
        const char *dst, *src;
    } files[] = {{"/etc/hostname", p->hostname_path},
                 {"/etc/hosts", p->hosts_path},
                 {"/etc/resolv.conf", p->resolv_path}};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        if (files[i].src && !cri_mounts_cover(c, files[i].dst))
            add_mount(m, files[i].dst, "bind", files[i].src, "rbind,rw", false);
    return add_cri_mounts(c, m, linux_, err);
}

/* ---- devices ---- */

struct devices {
    cJSON *list;  /* linux.devices */
    cJSON *rules; /* linux.resources.devices */
    size_t n;
    struct err *err;
};

/* One device node; a rule with perms unless perms is NULL (privileged: all are allowed). */
static int add_node(struct devices *d, const struct stat *st, const char *ctr, const char *perms)
{
    if (++d->n > DEVICES_MAX)
        return err_set(d->err, -E2BIG, "more than %d devices", DEVICES_MAX);
    cJSON *x = d->list->child;
    while (x) {
        cJSON *next = x->next;
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "path")), ctr) == 0)
            cJSON_Delete(cJSON_DetachItemViaPointer(d->list, x));
        x = next;
    }
    const char *type = S_ISCHR(st->st_mode) ? "c" : "b";
    cJSON *dev = cJSON_CreateObject();
    cJSON_AddStringToObject(dev, "path", ctr);
    cJSON_AddStringToObject(dev, "type", type);
    cJSON_AddNumberToObject(dev, "major", major(st->st_rdev));
    cJSON_AddNumberToObject(dev, "minor", minor(st->st_rdev));
    cJSON_AddNumberToObject(dev, "fileMode", st->st_mode & 07777);
    cJSON_AddNumberToObject(dev, "uid", st->st_uid);
    cJSON_AddNumberToObject(dev, "gid", st->st_gid);
    cJSON_AddItemToArray(d->list, dev);
    if (!perms)
        return 0;
    cJSON *rule = cJSON_CreateObject();
    cJSON_AddBoolToObject(rule, "allow", true);
    cJSON_AddStringToObject(rule, "type", type);
    cJSON_AddNumberToObject(rule, "major", major(st->st_rdev));
    cJSON_AddNumberToObject(rule, "minor", minor(st->st_rdev));
    cJSON_AddStringToObject(rule, "access", perms);
    cJSON_AddItemToArray(d->rules, rule);
    return 0;
}

/* The host's /dev without what the runtime sets up itself or what is not a device to pass. */
static bool skipped_in_host_dev(const char *name)
{
    static const char *const skip[] = {"pts", "shm", "mqueue", "fd", "console", "ptmx", "core"};
    for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
        if (strcmp(name, skip[i]) == 0)
            return true;
    return false;
}

/* Every device beneath host (symlinks not followed) as ctr/<relative path>. host_dev: the
 * privileged walk of /dev, which skips what it cannot read instead of failing. */
static int walk_devices(struct devices *d, const char *host, const char *ctr, const char *perms,
                        bool host_dev, unsigned level)
{
    DIR *dir = opendir(host);
    if (!dir)
        return host_dev ? 0 : err_set(d->err, -errno, "device %s: %s", host, strerror(errno));
    struct dirent *e;
    int r = 0;
    while (r == 0 && (e = readdir(dir))) {
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
            (host_dev && level == 0 && skipped_in_host_dev(e->d_name)) ||
            fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        cleanup_free char *h = xasprintf("%s/%s", host, e->d_name);
        cleanup_free char *c = xasprintf("%s/%s", ctr, e->d_name);
        if (S_ISDIR(st.st_mode) && level + 1 < DEVICE_DEPTH_MAX)
            r = walk_devices(d, h, c, perms, host_dev, level + 1);
        else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
            r = add_node(d, &st, c, perms);
    }
    closedir(dir);
    return r;
}

static int add_cri_device(struct devices *d, const Runtime__V1__Device *dev)
{
    const char *perms = nonempty(dev->permissions) ? dev->permissions : "rwm";
    if (strspn(perms, "rwm") != strlen(perms))
        return err_set(d->err, -EINVAL, "device %s: permissions `%s` are not a subset of rwm",
                       dev->host_path, perms);
    if (!nonempty(dev->host_path) || dev->host_path[0] != '/' || !nonempty(dev->container_path) ||
        dev->container_path[0] != '/')
        return err_set(d->err, -EINVAL, "device paths must be absolute: `%s` -> `%s`",
                       dev->host_path ? dev->host_path : "",
                       dev->container_path ? dev->container_path : "");
    struct stat st;
    if (stat(dev->host_path, &st) < 0)
        return err_set(d->err, -errno, "device %s: %s", dev->host_path, strerror(errno));
    cleanup_free char *ctr = clean_path(dev->container_path);
    if (S_ISDIR(st.st_mode))
        return walk_devices(d, dev->host_path, ctr, perms, false, 0);
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return err_set(d->err, -EINVAL, "device %s is not a character or block device",
                       dev->host_path);
    return add_node(d, &st, ctr, perms);
}

static cJSON *device_rule(bool allow)
{
    cJSON *rule = cJSON_CreateObject();
    cJSON_AddBoolToObject(rule, "allow", allow);
    cJSON_AddStringToObject(rule, "access", "rwm");
    return rule;
}

/* Deny everything, then allow the CRI's devices (privileged: every device, and the host's). */
int oci_spec_devices_make(const struct oci_spec_params *p, bool privileged, cJSON *linux_,
                          cJSON *resources, struct err *err)
{
    struct devices d = {
        .list = cJSON_AddArrayToObject(linux_, "devices"),
        .rules = cJSON_AddArrayToObject(resources, "devices"),
        .err = err,
    };
    cJSON_AddItemToArray(d.rules, device_rule(false));
    if (privileged) {
        cJSON_AddItemToArray(d.rules, device_rule(true));
        int r = walk_devices(&d, "/dev", "/dev", NULL, true, 0);
        if (r < 0)
            return r;
    }
    for (size_t i = 0; i < p->config->n_devices; i++) {
        int r = add_cri_device(&d, p->config->devices[i]);
        if (r < 0)
            return r;
    }
    return 0;
}
