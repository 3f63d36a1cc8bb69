/* Users and groups of a container, from the image's /etc/passwd and /etc/group, read beneath
 * the rootfs so that symlinks in the image cannot point outside it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/oci.h"

#define DB_MAX (4u << 20) /* a passwd or group file larger than this is refused */

/* The file at path inside rootfs into out (NUL-terminated); out stays empty if it is missing. */
static int read_in_root(const char *rootfs, const char *path, struct buf *out, struct err *err)
{
    cleanup_close int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return err_set(err, -errno, "rootfs %s: %s", rootfs, strerror(errno));
    /* Looked at through O_PATH first: opening a device node or FIFO the image planted there
     * can have effects (or hang) before any check on what was opened. */
    cleanup_close int at =
        fs_open_beneath(root, path, O_PATH, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    if (at == -ENOENT || at == -ENOTDIR)
        return 0;
    if (at < 0)
        return err_set(err, at, "%s of the image: %s", path, strerror(-at));
    struct stat st;
    if (fstat(at, &st) < 0)
        return err_set(err, -errno, "%s of the image: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return err_set(err, -EINVAL, "%s of the image is not a regular file", path);
    /* Reopened through our own fd, so the file read is the one checked. */
    char self[64];
    snprintf(self, sizeof(self), "/proc/self/fd/%d", at);
    cleanup_close int fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return err_set(err, -errno, "%s of the image: %s", path, strerror(errno));
    char chunk[16384];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set(err, -errno, "%s of the image: %s", path, strerror(errno));
        if (n == 0)
            break;
        if (out->len + (size_t)n > DB_MAX)
            return err_set(err, -EFBIG, "%s of the image is larger than %u bytes", path, DB_MAX);
        buf_append(out, chunk, (size_t)n);
    }
    buf_append(out, "", 1);
    out->len--;
    return 0;
}

/* ---- ids and the colon-separated databases ---- */

/* A uid or gid: decimal, at most UINT32_MAX - 1 ((uint32_t)-1 means "no change" to setresuid).
 * 1 for an id, 0 for a name, -ERANGE for something numeric that is not an id ("-1", "1e99"). */
static int parse_id(const char *s, size_t len, uint32_t *ret)
{
    size_t i = s[0] == '-' ? 1 : 0;
    if (len == 0 || i == len)
        return 0;
    for (size_t k = i; k < len; k++)
        if (s[k] < '0' || s[k] > '9')
            return 0;
    if (i)
        return -ERANGE;
    uint64_t v = 0;
    for (size_t k = 0; k < len; k++) {
        v = v * 10 + (uint64_t)(s[k] - '0');
        if (v > UINT32_MAX - 1)
            return -ERANGE;
    }
    *ret = (uint32_t)v;
    return 1;
}

/* One line of passwd or group, split at ':' without copying. */
struct entry {
    const char *f[7];
    size_t len[7];
    size_t n;
};

static bool field_is(const struct entry *e, size_t i, const char *s)
{
    return i < e->n && e->len[i] == strlen(s) && memcmp(e->f[i], s, e->len[i]) == 0;
}

static bool field_id(const struct entry *e, size_t i, uint32_t *ret)
{
    return i < e->n && parse_id(e->f[i], e->len[i], ret) == 1;
}

/* The next entry from *pos in db; false at the end. Comments and NIS "+"/"-" lines are skipped. */
static bool next_entry(const struct buf *db, size_t *pos, struct entry *e)
{
    const char *data = (const char *)db->data;
    while (*pos < db->len) {
        const char *line = data + *pos;
        const char *nl = memchr(line, '\n', db->len - *pos);
        size_t len = nl ? (size_t)(nl - line) : db->len - *pos;
        *pos += len + (nl ? 1 : 0);
        if (len == 0 || line[0] == '#' || line[0] == '+' || line[0] == '-')
            continue;
        e->n = 0;
        for (const char *p = line, *end = line + len; e->n < ARRAY_SIZE(e->f);) {
            const char *colon = memchr(p, ':', (size_t)(end - p));
            e->f[e->n] = p;
            e->len[e->n++] = colon ? (size_t)(colon - p) : (size_t)(end - p);
            if (!colon)
                break;
            p = colon + 1;
        }
        return true;
    }
    return false;
}

struct passwd_match {
    bool found;
    uint32_t uid, gid;
    char *name, *home;
};

/* By name, or by uid when name is NULL. */
static void find_user(const struct buf *db, const char *name, uint32_t uid, struct passwd_match *m)
{
    struct entry e;
    size_t pos = 0;
    uint32_t u, g;
    while (next_entry(db, &pos, &e)) {
        if (!field_id(&e, 2, &u) || !field_id(&e, 3, &g))
            continue;
        if (name ? !field_is(&e, 0, name) : u != uid)
            continue;
        m->found = true;
        m->uid = u;
        m->gid = g;
        m->name = xstrndup(e.f[0], e.len[0]);
        m->home = e.n > 5 && e.len[5] ? xstrndup(e.f[5], e.len[5]) : xstrdup("/");
        return;
    }
}

static bool find_group(const struct buf *db, const char *name, uint32_t *ret)
{
    struct entry e;
    size_t pos = 0;
    while (next_entry(db, &pos, &e))
        if (field_is(&e, 0, name) && field_id(&e, 2, ret))
            return true;
    return false;
}

static bool member_of(const struct entry *e, const char *user)
{
    size_t ulen = strlen(user);
    const char *p = e->f[3], *end = p + e->len[3];
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t len = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (len == ulen && memcmp(p, user, len) == 0)
            return true;
        p += len + 1;
    }
    return false;
}

/* The gids of the groups listing user as a member, appended to *gids. */
static void add_memberships(const struct buf *db, const char *user, uint32_t **gids, size_t *n)
{
    struct entry e;
    size_t pos = 0;
    uint32_t gid;
    while (next_entry(db, &pos, &e)) {
        if (e.n < 4 || !field_id(&e, 2, &gid) || !member_of(&e, user))
            continue;
        *gids = xrealloc(*gids, (*n + 1) * sizeof(uint32_t));
        (*gids)[(*n)++] = gid;
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sort, drop duplicates and the primary gid; returns the new count. */
static size_t normalise_gids(uint32_t *gids, size_t n, uint32_t primary)
{
    if (n)
        qsort(gids, n, sizeof(uint32_t), cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (gids[i] != primary && (k == 0 || gids[k - 1] != gids[i]))
            gids[k++] = gids[i];
    return k;
}

/* ---- resolving ---- */

static int resolve_group(const struct buf *groups, const char *group, const char *spec,
                         uint32_t *gid, struct err *err)
{
    int r = parse_id(group, strlen(group), gid);
    if (r < 0)
        return err_set(err, -EINVAL, "group `%s` of user `%s` is not a valid gid", group, spec);
    if (r == 1)
        return 0;
    if (!*group)
        return err_set(err, -EINVAL, "user `%s` has an empty group", spec);
    if (!find_group(groups, group, gid))
        return err_set(err, -ENOENT, "group `%s` not found in /etc/group of the image", group);
    return 0;
}

/* The user part: a uid (a passwd entry is optional) or a name (which needs one). */
static int resolve_user(const struct buf *passwd, const char *user, struct passwd_match *m,
                        struct err *err)
{
    uint32_t uid = 0;
    int r = *user ? parse_id(user, strlen(user), &uid) : 1;
    if (r < 0)
        return err_set(err, -EINVAL, "user `%s` is not a valid uid", user);
    find_user(passwd, r == 1 ? NULL : user, uid, m);
    if (m->found)
        return 0;
    if (r == 0)
        return err_set(err, -ENOENT, "user `%s` not found in /etc/passwd of the image", user);
    m->uid = uid;
    m->gid = 0;
    m->home = xstrdup("/");
    return 0;
}

int oci_user_resolve(const char *rootfs, const char *spec, const uint32_t *extra_gids,
                     size_t n_extra, struct oci_user *ret, struct err *err)
{
    spec = spec ? spec : "";
    cleanup_free char *user = xstrdup(spec);
    char *group = strchr(user, ':');
    struct buf passwd = {0}, groups = {0};
    struct passwd_match m = {0};
    uint32_t *gids = NULL;
    size_t n = 0;
    int r;

    *ret = (struct oci_user){0};
    if (group)
        *group++ = '\0';
    if ((r = read_in_root(rootfs, "/etc/passwd", &passwd, err)) < 0 ||
        (r = read_in_root(rootfs, "/etc/group", &groups, err)) < 0 ||
        (r = resolve_user(&passwd, user, &m, err)) < 0)
        goto out;
    if (group && (r = resolve_group(&groups, group, spec, &m.gid, err)) < 0)
        goto out;
    /* Memberships are merged even with an explicit group: Kubernetes' "Merge" supplemental
     * groups policy, the historical behaviour of containerd and CRI-O (KEP-3619). */
    if (m.name)
        add_memberships(&groups, m.name, &gids, &n);
    if (n_extra) {
        gids = xrealloc(gids, (n + n_extra) * sizeof(uint32_t));
        memcpy(gids + n, extra_gids, n_extra * sizeof(uint32_t));
        n += n_extra;
    }
    ret->uid = m.uid;
    ret->gid = m.gid;
    ret->n_additional_gids = normalise_gids(gids, n, m.gid);
    ret->additional_gids = TAKE_PTR(gids);
    ret->home = TAKE_PTR(m.home);
out:
    free(gids);
    free(m.name);
    free(m.home);
    buf_done(&passwd);
    buf_done(&groups);
    return r;
}

void oci_user_done(struct oci_user *u)
{
    free(u->additional_gids);
    free(u->home);
    *u = (struct oci_user){0};
}
