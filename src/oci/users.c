/* Users and groups of a container, from the image's /etc/passwd and /etc/group, read beneath
 * the rootfs so that symlinks in the image cannot point outside it. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/macro.h"
#include "oci/oci.h"

#define DB_MAX (4u << 20)

/* The file at path inside rootfs, or an empty buffer if it is missing. */
static int read_in_root(const char *rootfs, const char *path, struct buf *out, struct err *err)
{
    cleanup_close int root = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return err_set(err, -errno, "rootfs %s: %s", rootfs, strerror(errno));
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY,
                           .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
    cleanup_close int fd = (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return err_set(err, -errno, "%s of the image: %s", path, strerror(errno));
    }
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
            return err_set(err, -EFBIG, "%s of the image is too large", path);
        buf_append(out, chunk, (size_t)n);
    }
    buf_append(out, "", 1);
    return 0;
}

static bool parse_id(const char *s, uint32_t *ret)
{
    if (!*s)
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno || s[0] == '-' || v > UINT32_MAX - 1)
        return false;
    *ret = (uint32_t)v;
    return true;
}

/* Split the line's ':' fields in place; returns how many. */
static size_t fields(char *line, char **f, size_t max)
{
    size_t n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (*p == ':') {
            *p = '\0';
            f[n++] = p + 1;
        }
    }
    return n;
}

/* Walk the lines of a passwd or group file; fn returns true to stop. */
static bool each_line(struct buf *db, bool (*fn)(char **f, size_t n, void *data), void *data)
{
    if (!db->len)
        return false;
    char *save = NULL;
    for (char *line = strtok_r((char *)db->data, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#' || line[0] == '+' || line[0] == '-')
            continue;
        char *f[8];
        size_t n = fields(line, f, 8);
        if (fn(f, n, data))
            return true;
    }
    return false;
}

struct pw_query {
    const char *name; /* or */
    uint32_t uid;
    bool by_uid;
    bool found;
    uint32_t out_uid, out_gid;
    char *home, *user_name;
};

static bool match_passwd(char **f, size_t n, void *data)
{
    struct pw_query *q = data;
    uint32_t uid, gid;
    if (n < 4 || !parse_id(f[2], &uid) || !parse_id(f[3], &gid))
        return false;
    if (q->by_uid ? uid != q->uid : strcmp(f[0], q->name) != 0)
        return false;
    q->found = true;
    q->out_uid = uid;
    q->out_gid = gid;
    q->user_name = xstrdup(f[0]);
    q->home = xstrdup(n >= 6 && *f[5] ? f[5] : "/");
    return true;
}

struct gr_query {
    const char *name;
    bool found;
    uint32_t gid;
};

static bool match_group(char **f, size_t n, void *data)
{
    struct gr_query *q = data;
    uint32_t gid;
    if (n < 3 || !parse_id(f[2], &gid) || strcmp(f[0], q->name) != 0)
        return false;
    q->found = true;
    q->gid = gid;
    return true;
}

struct member_query {
    const char *user;
    uint32_t *gids;
    size_t n;
};

static bool match_member(char **f, size_t n, void *data)
{
    struct member_query *q = data;
    uint32_t gid;
    if (n < 4 || !parse_id(f[2], &gid))
        return false;
    char *save = NULL;
    for (char *m = strtok_r(f[3], ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        if (strcmp(m, q->user) == 0) {
            q->gids = xrealloc(q->gids, (q->n + 1) * sizeof(uint32_t));
            q->gids[q->n++] = gid;
            break;
        }
    }
    return false;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int oci_user_resolve(const char *rootfs, const char *spec, const uint32_t *extra_gids,
                     size_t n_extra, struct oci_user *ret, struct err *err)
{
    cleanup_free char *user = xstrdup(spec ? spec : "");
    char *group = strchr(user, ':');
    if (group)
        *group++ = '\0';
    struct buf passwd = {0}, groups = {0};
    struct pw_query pq = {0};
    struct member_query mq = {0};
    *ret = (struct oci_user){0};
    int r = read_in_root(rootfs, "/etc/passwd", &passwd, err);
    if (r == 0)
        r = read_in_root(rootfs, "/etc/group", &groups, err);
    if (r < 0)
        goto out;
    if (!*user) {
        pq.by_uid = true;
        pq.uid = 0;
    } else if (parse_id(user, &pq.uid)) {
        pq.by_uid = true;
    } else {
        pq.name = user;
    }
    struct buf pw_copy = {0};
    buf_append(&pw_copy, passwd.data, passwd.len);
    each_line(&pw_copy, match_passwd, &pq);
    buf_done(&pw_copy);
    if (!pq.found && !pq.by_uid) {
        r = err_set(err, -ENOENT, "user `%s` not found in /etc/passwd of the image", user);
        goto out;
    }
    ret->uid = pq.found ? pq.out_uid : pq.uid;
    ret->gid = pq.found ? pq.out_gid : 0;
    ret->home = pq.home ? TAKE_PTR(pq.home) : xstrdup("/");
    if (group && *group) {
        uint32_t gid;
        if (parse_id(group, &gid)) {
            ret->gid = gid;
        } else {
            struct gr_query gq = {.name = group};
            struct buf gr_copy = {0};
            buf_append(&gr_copy, groups.data, groups.len);
            each_line(&gr_copy, match_group, &gq);
            buf_done(&gr_copy);
            if (!gq.found) {
                r = err_set(err, -ENOENT, "group `%s` not found in /etc/group of the image", group);
                goto out;
            }
            ret->gid = gq.gid;
        }
    } else if (group) {
        r = err_set(err, -EINVAL, "user `%s` has an empty group", spec);
        goto out;
    }
    if (pq.user_name) {
        mq.user = pq.user_name;
        each_line(&groups, match_member, &mq);
    }
    for (size_t i = 0; i < n_extra; i++) {
        mq.gids = xrealloc(mq.gids, (mq.n + 1) * sizeof(uint32_t));
        mq.gids[mq.n++] = extra_gids[i];
    }
    if (mq.n)
        qsort(mq.gids, mq.n, sizeof(uint32_t), cmp_u32);
    size_t k = 0;
    for (size_t i = 0; i < mq.n; i++)
        if (mq.gids[i] != ret->gid && (k == 0 || mq.gids[k - 1] != mq.gids[i]))
            mq.gids[k++] = mq.gids[i];
    ret->additional_gids = TAKE_PTR(mq.gids);
    ret->n_additional_gids = k;
out:
    if (r < 0)
        oci_user_done(ret);
    free(mq.gids);
    free(pq.home);
    free(pq.user_name);
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
