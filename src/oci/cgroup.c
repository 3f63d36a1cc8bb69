/* cgroup directories for pods: where the hierarchies are mounted, creating a parent in each of
 * them, removing what was created. Mostly mkdir/rmdir in cgroupfs: fast syscalls, inline. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <linux/magic.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "oci/cgroup.h"

bool oci_cgroup_is_v2(void)
{
    struct statfs fs;
    return statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC;
}

static bool path_ok(const char *p)
{
    if (p[0] != '/' || strlen(p) > 1024)
        return false;
    for (const char *s = p; *s; s++) {
        if (*s == '/' &&
            (s[1] == '/' || (s[1] == '.' && (s[2] == '/' || s[2] == '\0' ||
                                             (s[2] == '.' && (s[3] == '/' || s[3] == '\0'))))))
            return false;
    }
    return true;
}

int oci_cgroup_parent_path(const char *driver, const char *parent, char **ret, struct err *err)
{
    size_t n = strlen(parent);
    if (strcmp(driver, "systemd") == 0 || (n > 6 && strcmp(parent + n - 6, ".slice") == 0)) {
        if (n <= 6 || strcmp(parent + n - 6, ".slice") != 0 || strchr(parent, '/'))
            return err_set(err, -EINVAL, "cgroup parent `%s` is not a systemd slice name", parent);
        /* a-b-c.slice lives in /a.slice/a-b.slice/a-b-c.slice */
        struct buf b = {0};
        for (const char *dash = parent; (dash = strchr(dash, '-')) && dash < parent + n - 6; dash++)
            buf_printf(&b, "/%.*s.slice", (int)(dash - parent), parent);
        buf_printf(&b, "/%s", parent);
        *ret = buf_steal(&b);
        return 0;
    }
    if (!path_ok(parent))
        return err_set(err, -EINVAL,
                       "cgroup parent `%s` must be an absolute path without `.` "
                       "or `..` components",
                       parent);
    *ret = xstrdup(parent);
    return 0;
}

char *oci_cgroup_fs_path(const char *cgroups_path)
{
    if (cgroups_path[0] == '/')
        return xstrdup(cgroups_path);
    const char *c1 = strchr(cgroups_path, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || strchr(c2 + 1, ':') || strchr(c2 + 1, '/') || !c2[1] || c2 == c1 + 1)
        return NULL;
    cleanup_free char *slice = xstrndup(cgroups_path, (size_t)(c1 - cgroups_path));
    cleanup_free char *slice_path = NULL;
    struct err e = ERR_INIT;
    int r = oci_cgroup_parent_path("systemd", slice, &slice_path, &e);
    err_done(&e);
    if (r < 0)
        return NULL;
    return xasprintf("%s/%.*s-%s.scope", slice_path, (int)(c2 - c1 - 1), c1 + 1, c2 + 1);
}

/* Mount points of the v1 hierarchies, from mountinfo, and of a hybrid setup's cgroup2 (no
 * controllers there, but runc makes the container's cgroup in it too, below the parent). */
static size_t v1_roots(char ***ret)
{
    struct buf text = {0};
    char **roots = NULL;
    size_t n = 0;
    if (fs_read_file("/proc/self/mountinfo", 1u << 20, &text) == 0) {
        char *save = NULL;
        for (char *line = strtok_r((char *)text.data, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            char *sep = strstr(line, " - ");
            char mnt[1024];
            if (!sep || (strncmp(sep + 3, "cgroup ", 7) != 0 && strncmp(sep + 3, "cgroup2 ", 8)) ||
                sscanf(line, "%*s %*s %*s %*s %1023s", mnt) != 1)
                continue;
            roots = xrealloc(roots, (n + 1) * sizeof(char *));
            roots[n++] = xstrdup(mnt);
        }
    }
    buf_done(&text);
    *ret = roots;
    return n;
}

static void enable_controllers(const char *dir)
{
    /* v2: a child can use only the controllers its parent delegates. */
    cleanup_free char *ctl = xasprintf("%s/cgroup.controllers", dir);
    cleanup_free char *sub = xasprintf("%s/cgroup.subtree_control", dir);
    struct buf have = {0};
    if (fs_read_file(ctl, 4096, &have) == 0) {
        cleanup_close int fd = open(sub, O_WRONLY | O_CLOEXEC);
        char *save = NULL;
        for (char *c = strtok_r((char *)have.data, " \n", &save); c && fd >= 0;
             c = strtok_r(NULL, " \n", &save)) {
            cleanup_free char *plus = xasprintf("+%s", c);
            if (write(fd, plus, strlen(plus)) < 0)
                log_debug("cgroup: enable %s in %s: %s", c, dir, strerror(errno));
        }
    }
    buf_done(&have);
}

/* Each directory is named in the journal (fd, or none at -1) before it is made: a crash in
 * between leaves nothing made that the journal does not name. */
static int mkdirs(const char *root, const char *path, bool v2, int journal, char ***created,
                  size_t *n, struct err *err)
{
    cleanup_free char *full = xasprintf("%s%s", root, path);
    for (char *s = full + strlen(root) + 1;; s++) {
        char c = *s;
        if (c != '/' && c != '\0')
            continue;
        *s = '\0';
        if (v2) {
            cleanup_free char *parent = xstrdup(full);
            *strrchr(parent, '/') = '\0';
            enable_controllers(parent);
        }
        if (journal >= 0 && access(full, F_OK) < 0) {
            cleanup_free char *line = xasprintf("%s\n", full);
            int r = fs_write_all(journal, line, strlen(line));
            if (r < 0) {
                *s = c;
                return err_set(err, r, "note cgroup %s: %s", full, strerror(-r));
            }
        }
        if (mkdir(full, 0755) == 0) {
            *created = xrealloc(*created, (*n + 1) * sizeof(char *));
            (*created)[(*n)++] = xstrdup(full);
        } else if (errno != EEXIST) {
            int e = errno;
            *s = c;
            return err_set(err, -e, "create cgroup %s: %s", full, strerror(e));
        }
        *s = c;
        if (c == '\0')
            break;
    }
    return 0;
}

int oci_cgroup_ensure(const char *path, const char *journal_path, char ***ret_created,
                      size_t *ret_n, struct err *err)
{
    char **created = NULL;
    size_t n = 0;
    cleanup_close int journal = -1;
    if (journal_path) {
        journal = open(journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (journal < 0)
            return err_set(err, -errno, "create %s: %s", journal_path, strerror(errno));
    }
    int r = 0;
    if (oci_cgroup_is_v2()) {
        r = mkdirs("/sys/fs/cgroup", path, true, journal, &created, &n, err);
    } else {
        char **roots;
        size_t nr = v1_roots(&roots);
        for (size_t i = 0; i < nr; i++) {
            if (r == 0)
                r = mkdirs(roots[i], path, false, journal, &created, &n, err);
            free(roots[i]);
        }
        free(roots);
    }
    if (r < 0) {
        oci_cgroup_remove(created, n);
        return r;
    }
    *ret_created = created;
    *ret_n = n;
    return 0;
}

void oci_cgroup_remove_journaled(const char *journal_path)
{
    struct buf text = {0};
    if (fs_read_file(journal_path, 1 << 20, &text) < 0)
        return;
    char **dirs = NULL;
    size_t n = 0;
    char *save = NULL;
    for (char *l = strtok_r((char *)text.data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        struct statfs st;
        if (statfs(l, &st) < 0 ||
            (st.f_type != CGROUP_SUPER_MAGIC && st.f_type != CGROUP2_SUPER_MAGIC))
            continue; /* gone, or not a cgroup */
        dirs = xrealloc(dirs, (n + 1) * sizeof(char *));
        dirs[n++] = xstrdup(l);
    }
    buf_done(&text);
    oci_cgroup_remove(dirs, n);
}

void oci_cgroup_remove(char **dirs, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        if (rmdir(dirs[i]) < 0 && errno != ENOENT)
            log_warn("cgroup %s: %s: left in place", dirs[i], strerror(errno));
        free(dirs[i]);
    }
    free(dirs);
}
