/* Layer extraction: libarchive reads the tar stream; every file is created with *at() calls
 * relative to a parent resolved beneath dest (fs_open_beneath: openat2's RESOLVE_BENEATH), so no
 * entry writes outside dest. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"
#include "storage/extract.h"

#define DEFAULT_MAX_ENTRIES 1000000u
#define DEFAULT_MAX_BYTES (UINT64_C(64) << 30)
#define MAX_NAME 4096                      /* entry names and link targets, in bytes */
#define MAX_FILTERS 2                      /* the raw bytes plus one decompressor */
#define LABEL_MAX 256                      /* bytes of a name quoted in a message */
#define DIR_TIMES_MAX (UINT64_C(64) << 20) /* bytes of names kept for deferred directory times */
#define FREE_CHECK_BYTES (8u << 20)        /* content written between two looks at free space */
#define READ_BLOCK (128 * 1024)

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OPAQUE_XATTR "trusted.overlay.opaque"

/* Resolution of every path below the layer root: no "..", no absolute symlink, no /proc magic
 * link and no mount crossing may lead out of it. */
#define RESOLVE_LAYER (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)

/* A directory whose times are applied at the end, since later entries change them. */
struct dir_time {
    char *path; /* relative to the layer root, "." for the root */
    dev_t dev;
    ino_t ino;
    struct timespec times[2];
};

struct extract {
    struct archive *a;
    int dest;
    bool allow_devices;
    uint64_t max_entries;
    uint64_t max_bytes;
    uint64_t min_free;
    uint64_t unchecked; /* bytes written since free space was last looked at */
    struct storage_extract_stats stats;
    char *label; /* the current entry's name, printable, for messages */
    struct dir_time *dirs;
    size_t n_dirs;
    size_t cap_dirs;
    uint64_t dirs_bytes;
    struct err *err;
};

/* What the archive says about one entry, checked before anything is created. */
struct meta {
    uid_t uid;
    gid_t gid;
    mode_t perm;
    struct timespec times[2]; /* atime, mtime */
};

static void archive_freep(struct archive **a)
{
    if (*a)
        archive_read_free(*a);
}
#define cleanup_archive __attribute__((cleanup(archive_freep)))

static void closedirp(DIR **d)
{
    if (*d)
        closedir(*d);
}
#define cleanup_closedir __attribute__((cleanup(closedirp)))

/* A copy of s fit for a message: control bytes escaped, long names cut. */
static char *printable(const char *s)
{
    size_t len = strnlen(s, LABEL_MAX + 1);
    char *out = xmalloc(LABEL_MAX * 4 + 4);
    size_t o = 0;
    for (size_t i = 0; i < len && i < LABEL_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c == '\\') {
            snprintf(out + o, 5, "\\x%02x", c);
            o += 4;
        } else {
            out[o++] = (char)c;
        }
    }
    if (len > LABEL_MAX) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* Every failure of an entry names it: "layer entry `x`: <what>". */
__attribute__((format(printf, 3, 4))) static int fail(struct extract *x, int code, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *what = xvasprintf(fmt, ap);
    va_end(ap);
    err_set(x->err, code, "layer entry `%s`: %s", x->label ? x->label : "", what);
    free(what);
    return code;
}

/* A failed syscall, errno still set. */
static int fail_errno(struct extract *x, const char *what)
{
    int e = errno;
    return fail(x, -e, "%s: %s", what, strerror(e));
}

/* libarchive's own codes (format errors, misc) are not errnos a caller can act on. */
static int archive_code(struct archive *a)
{
    int e = archive_errno(a);
    return e > 0 && e != EILSEQ && e != EINVAL ? -e : -EINVAL;
}

static const char *archive_msg(struct archive *a)
{
    const char *msg = archive_error_string(a);
    return msg ? msg : "unknown error";
}

/* A failure between entries names the last one read. */
static int fail_archive(struct extract *x, const char *what)
{
    int code = archive_code(x->a);
    const char *msg = archive_msg(x->a);
    if (!x->label)
        return err_set(x->err, code, "%s: %s", what, msg);
    return err_set(x->err, code, "%s after entry `%s`: %s", what, x->label, msg);
}

/* Layer names are relative to its root: leading "/" and "./" go (Docker takes absolute names
 * relative to the root), so do trailing "/" and "." components; ".." and empty components are
 * refused. An empty result is the root itself. Returns 0, -ENAMETOOLONG, -EXDEV (escape) or
 * -EINVAL (empty component). */
static int normalise(const char *raw, char **ret)
{
    size_t len = strlen(raw);
    if (len > MAX_NAME)
        return -ENAMETOOLONG;
    const char *p = raw, *end = raw + len;
    for (;;) {
        if (p[0] == '/')
            p++;
        else if (p[0] == '.' && p[1] == '/')
            p += 2;
        else
            break;
    }
    while (end > p && end[-1] == '/')
        end--;
    cleanup_free char *out = xmalloc(len + 1);
    size_t o = 0;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
        if (n == 0)
            return -EINVAL;
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return -EXDEV;
        if (!(n == 1 && p[0] == '.')) {
            if (o > 0)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        p += n + (slash ? 1 : 0);
    }
    out[o] = '\0';
    *ret = TAKE_PTR(out);
    return 0;
}

static const char *name_problem(int r)
{
    switch (r) {
    case -ENAMETOOLONG:
        return "name longer than 4096 bytes";
    case -EXDEV:
        return "path escapes the layer";
    default:
        return "path has an empty component";
    }
}

/* Split "a/b/c" into "a/b" and "c"; the parent of a top-level name is ".". */
static char *split_parent(const char *path, const char **ret_base)
{
    const char *slash = strrchr(path, '/');
    *ret_base = slash ? slash + 1 : path;
    return slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
}

/* A failure to resolve a directory below the root: an escape says so, in the same words
 * whichever way it was tried (absolute symlink, "..", symlink loop). */
static int fail_resolve(struct extract *x, int r, const char *prefix)
{
    if (r == -EXDEV || r == -ELOOP)
        return fail(x, -EINVAL, "%spath escapes the layer", prefix);
    if (r == -ENOTDIR)
        return fail(x, r, "%sa parent is not a directory", prefix);
    return fail(x, r, "%sopen parent directory: %s", prefix, strerror(-r));
}

/* Create the missing directories of dir one by one (0755, root, as tar does), each resolved
 * again beneath the root; returns an O_PATH fd of dir or -errno. */
static int make_parents(struct extract *x, const char *dir)
{
    cleanup_free char *prefix = xstrdup(dir);
    cleanup_close int pfd = fs_open_beneath(x->dest, ".", O_PATH | O_DIRECTORY, 0, RESOLVE_LAYER);
    if (pfd < 0)
        return pfd;
    for (char *comp = prefix;;) {
        char *slash = strchr(comp, '/');
        if (slash)
            *slash = '\0';
        int fd = fs_open_beneath(x->dest, prefix, O_PATH | O_DIRECTORY, 0, RESOLVE_LAYER);
        if (fd == -ENOENT) {
            if (mkdirat(pfd, comp, 0755) == 0) {
                /* exactly 0755 whatever the umask */
                if (fchmodat(pfd, comp, 0755, 0) < 0)
                    return -errno;
            } else if (errno != EEXIST) {
                return -errno;
            }
            fd = fs_open_beneath(x->dest, prefix, O_PATH | O_DIRECTORY, 0, RESOLVE_LAYER);
        }
        if (fd < 0)
            return fd;
        closep(&pfd);
        pfd = fd;
        if (!slash)
            return TAKE_FD(pfd);
        *slash = '/';
        comp = slash + 1;
    }
}

/* An O_PATH fd of the directory dir below the root, created if missing. */
static int open_parent(struct extract *x, const char *dir)
{
    int fd = fs_open_beneath(x->dest, dir, O_PATH | O_DIRECTORY, 0, RESOLVE_LAYER);
    if (fd == -ENOENT)
        fd = make_parents(x, dir);
    if (fd < 0)
        return fail_resolve(x, fd, "");
    return fd;
}

struct names {
    char **v;
    size_t n;
    size_t cap;
};

static void names_done(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}
#define cleanup_names __attribute__((cleanup(names_done)))

static void names_add(struct names *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = xstrdup(s);
}

/* A directory below top (which it cannot leave: no symlink is followed at all). */
static int open_in_tree(int top, const char *sub, int flags)
{
    return fs_open_beneath(top, sub, flags | O_NOFOLLOW, 0, RESOLVE_LAYER | RESOLVE_NO_SYMLINKS);
}

/* Unlink everything but subdirectories of top/sub and list those. */
static int scan_dir(int top, const char *sub, struct names *ret_dirs)
{
    int fd = open_in_tree(top, sub, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return fd;
    cleanup_closedir DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de)
            return errno ? -errno : 0;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return -errno;
        if (S_ISDIR(st.st_mode))
            names_add(ret_dirs, de->d_name);
        else if (unlinkat(dirfd(d), de->d_name, 0) < 0)
            return -errno;
    }
}

/* Empty top/sub depth-first. No fd stays open across the recursion, so a deep tree does not
 * run into RLIMIT_NOFILE; the depth is bounded by PATH_MAX (fs_open_beneath refuses longer
 * paths). */
static int empty_dir(int top, const char *sub)
{
    cleanup_names struct names dirs = {0};
    int r = scan_dir(top, sub, &dirs);
    for (size_t i = 0; r >= 0 && i < dirs.n; i++) {
        cleanup_free char *child = xasprintf("%s/%s", sub, dirs.v[i]);
        r = empty_dir(top, child);
    }
    if (r < 0 || dirs.n == 0)
        return r;
    cleanup_close int fd = open_in_tree(top, sub, O_PATH | O_DIRECTORY);
    if (fd < 0)
        return fd;
    for (size_t i = 0; i < dirs.n; i++)
        if (unlinkat(fd, dirs.v[i], AT_REMOVEDIR) < 0)
            return -errno;
    return 0;
}

static int remove_tree(int pfd, const char *base)
{
    cleanup_close int top = openat(pfd, base, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (top < 0)
        return -errno;
    int r = empty_dir(top, ".");
    if (r < 0)
        return r;
    return unlinkat(pfd, base, AT_REMOVEDIR) < 0 ? -errno : 0;
}

/* Make room for an entry at pfd/base: a later entry wins, as in tar. Returns 1 when a
 * directory is there and keep_dir (it stays, with its children), else 0 once the name is free. */
static int clear_slot(struct extract *x, int pfd, const char *base, bool keep_dir)
{
    struct stat st;
    if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return fail_errno(x, "stat the old entry");
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(pfd, base, 0) < 0)
            return fail_errno(x, "remove the old entry");
        return 0;
    }
    if (keep_dir)
        return 1;
    int r = remove_tree(pfd, base);
    if (r < 0)
        return fail(x, r, "remove the old directory: %s", strerror(-r));
    return 0;
}

static int set_owner_fd(struct extract *x, int fd, const struct meta *m)
{
    if (fchown(fd, m->uid, m->gid) < 0)
        return fail_errno(x, "chown");
    /* after chown, which clears setuid and setgid */
    if (fchmod(fd, m->perm) < 0)
        return fail_errno(x, "chmod");
    return 0;
}

/* Extended attributes of a regular file or directory, after chown (which drops
 * security.capability). user.overlay.* is overlay metadata too, but only for overlays mounted
 * with userxattr (rootless ones, not ours): dropped rather than refused, as some rootless-built
 * layers carry it. */
static int set_xattrs(struct extract *x, struct archive_entry *e, int fd)
{
    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (strncmp(name, "user.overlay.", 13) == 0)
            continue;
        if (fsetxattr(fd, name, value ? value : "", size, 0) < 0) {
            int saved = errno;
            cleanup_free char *n = printable(name);
            return fail(x, -saved, "set xattr `%s`: %s", n, strerror(saved));
        }
    }
    return 0;
}

/* A layer must not forge overlay metadata: whiteouts and opaque directories come only from
 * the .wh. names. */
static int check_xattrs(struct extract *x, struct archive_entry *e)
{
    const char *name;
    const void *value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
        if (!name || !*name)
            return fail(x, -EINVAL, "xattr without a name");
        if (strncmp(name, "trusted.overlay.", 16) == 0) {
            cleanup_free char *n = printable(name);
            return fail(x, -EPERM, "xattr `%s` not allowed in a layer", n);
        }
    }
    return 0;
}

static struct timespec entry_time(time_t sec, long nsec)
{
    struct timespec ts = {.tv_sec = sec, .tv_nsec = nsec};
    if (nsec < 0 || nsec >= 1000000000L)
        ts.tv_nsec = 0;
    return ts;
}

static int read_meta(struct extract *x, struct archive_entry *e, struct meta *m)
{
    int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
    /* (uid_t)-1 would mean "leave unchanged" to chown */
    if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
        return fail(x, -EINVAL, "invalid owner %" PRId64 ":%" PRId64, uid, gid);
    m->uid = (uid_t)uid;
    m->gid = (gid_t)gid;
    m->perm = archive_entry_perm(e) & 07777;
    m->times[1] = (struct timespec){.tv_nsec = UTIME_OMIT};
    if (archive_entry_mtime_is_set(e))
        m->times[1] = entry_time(archive_entry_mtime(e), archive_entry_mtime_nsec(e));
    m->times[0] = m->times[1];
    if (archive_entry_atime_is_set(e))
        m->times[0] = entry_time(archive_entry_atime(e), archive_entry_atime_nsec(e));
    return 0;
}

/* A link target as stored; in the C locale libarchive may only have it as UTF-8. */
static const char *entry_link(struct archive_entry *e, bool hard)
{
    const char *s = hard ? archive_entry_hardlink(e) : archive_entry_symlink(e);
    if (!s)
        s = hard ? archive_entry_hardlink_utf8(e) : archive_entry_symlink_utf8(e);
    return s;
}

static bool times_set(const struct meta *m)
{
    return m->times[0].tv_nsec != UTIME_OMIT || m->times[1].tv_nsec != UTIME_OMIT;
}

static void dir_times_clear(struct extract *x)
{
    for (size_t i = 0; i < x->n_dirs; i++)
        free(x->dirs[i].path);
    x->n_dirs = 0;
    x->dirs_bytes = 0;
}

/* Apply the recorded directory times, each directory resolved again beneath the root and
 * skipped if a later entry replaced it. */
static int apply_dir_times(struct extract *x)
{
    int r = 0;
    for (size_t i = 0; r == 0 && i < x->n_dirs; i++) {
        const struct dir_time *d = &x->dirs[i];
        struct stat st;
        cleanup_close int fd = fs_open_beneath(
            x->dest, d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0, RESOLVE_LAYER);
        if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != d->dev || st.st_ino != d->ino)
            continue;
        if (futimens(fd, d->times) < 0) {
            int e = errno;
            cleanup_free char *p = printable(d->path);
            r = err_set(x->err, -e, "layer directory `%s`: set times: %s", p, strerror(e));
        }
    }
    dir_times_clear(x);
    return r;
}

static int defer_dir_times(struct extract *x, int fd, const char *path, const struct meta *m)
{
    struct stat st;
    if (!times_set(m))
        return 0;
    if (fstat(fd, &st) < 0)
        return fail_errno(x, "stat directory");
    /* bound the memory a hostile layer can make us hold: apply early (times may then be
     * touched again by later entries, nothing worse) */
    if (x->dirs_bytes + strlen(path) > DIR_TIMES_MAX) {
        int r = apply_dir_times(x);
        if (r < 0)
            return r;
    }
    if (x->n_dirs == x->cap_dirs) {
        x->cap_dirs = x->cap_dirs ? 2 * x->cap_dirs : 64;
        x->dirs = xrealloc(x->dirs, x->cap_dirs * sizeof(*x->dirs));
    }
    x->dirs[x->n_dirs++] = (struct dir_time){
        .path = xstrdup(path),
        .dev = st.st_dev,
        .ino = st.st_ino,
        .times = {m->times[0], m->times[1]},
    };
    x->dirs_bytes += strlen(path) + sizeof(struct dir_time);
    return 0;
}

/* Owner, mode and xattrs of a directory already at fd; its times wait for the end. */
static int finish_dir(struct extract *x, struct archive_entry *e, int fd, const char *path,
                      const struct meta *m)
{
    int r = set_owner_fd(x, fd, m);
    if (r >= 0)
        r = set_xattrs(x, e, fd);
    if (r >= 0)
        r = defer_dir_times(x, fd, path, m);
    return r;
}

static int extract_dir(struct extract *x, struct archive_entry *e, int pfd, const char *base,
                       const char *path, const struct meta *m)
{
    int r = clear_slot(x, pfd, base, true);
    if (r < 0)
        return r;
    if (r == 0 && mkdirat(pfd, base, 0700) < 0)
        return fail_errno(x, "create directory");
    cleanup_close int fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(x, "open directory");
    return finish_dir(x, e, fd, path, m);
}

/* "./" and friends: the layer root's own metadata. */
static int extract_root(struct extract *x, struct archive_entry *e, const struct meta *m)
{
    if (entry_link(e, true) || archive_entry_filetype(e) != AE_IFDIR)
        return fail(x, -EINVAL, "the layer root must be a directory");
    cleanup_close int fd = openat(x->dest, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return fail_errno(x, "open the layer root");
    return finish_dir(x, e, fd, ".", m);
}

static int write_all(int fd, const void *data, size_t len, off_t off)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = pwrite(fd, p, len, off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/* A layer that would fill the filesystem stops while min_free bytes are still free: looked at
 * every FREE_CHECK_BYTES written. */
static int check_free(struct extract *x, size_t written)
{
    x->unchecked += written;
    if (!x->min_free || x->unchecked < FREE_CHECK_BYTES)
        return 0;
    x->unchecked = 0;
    struct statvfs st;
    if (fstatvfs(x->dest, &st) < 0)
        return fail_errno(x, "statvfs");
    uint64_t avail = (uint64_t)st.f_bavail * (uint64_t)st.f_frsize;
    if (avail < x->min_free)
        return fail(x, -ENOSPC,
                    "the image filesystem has %" PRIu64 " bytes free, less than the %" PRIu64
                    " bytes min_free_space keeps",
                    avail, x->min_free);
    return 0;
}

/* Content at the offsets libarchive gives, so sparse files keep their holes. */
static int write_data(struct extract *x, int fd, uint64_t size)
{
    uint64_t end = 0;
    for (;;) {
        const void *data;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block(x->a, &data, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK)
            return fail(x, archive_code(x->a), "read: %s", archive_msg(x->a));
        if (off < 0 || (uint64_t)off > size || len > size - (uint64_t)off)
            return fail(x, -EINVAL, "data beyond the declared size");
        if (len == 0)
            continue;
        r = write_all(fd, data, len, (off_t)off);
        if (r < 0)
            return fail(x, r, "write: %s", strerror(-r));
        r = check_free(x, len);
        if (r < 0)
            return r;
        if ((uint64_t)off + len > end)
            end = (uint64_t)off + len;
    }
    if (end < size && ftruncate(fd, (off_t)size) < 0)
        return fail_errno(x, "truncate");
    return 0;
}

static int extract_file(struct extract *x, struct archive_entry *e, int pfd, const char *base,
                        const struct meta *m)
{
    int64_t size = archive_entry_size(e);
    if (size < 0)
        return fail(x, -EINVAL, "negative size");
    if ((uint64_t)size > x->max_bytes - x->stats.bytes)
        return fail(x, -EFBIG, "layer content larger than %" PRIu64 " bytes", x->max_bytes);
    x->stats.bytes += (uint64_t)size;
    int r = clear_slot(x, pfd, base, false);
    if (r < 0)
        return r;
    cleanup_close int fd =
        openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return fail_errno(x, "create file");
    r = write_data(x, fd, (uint64_t)size);
    if (r < 0)
        return r;
    /* after the content: a write drops setuid and file capabilities */
    r = set_owner_fd(x, fd, m);
    if (r < 0)
        return r;
    r = set_xattrs(x, e, fd);
    if (r < 0)
        return r;
    if (times_set(m) && futimens(fd, m->times) < 0)
        return fail_errno(x, "set times");
    return 0;
}

/* Owner and times of something without an fd of its own (symlink, device node, fifo). */
static int finish_at(struct extract *x, int pfd, const char *base, const struct meta *m)
{
    if (fchownat(pfd, base, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno(x, "chown");
    if (times_set(m) && utimensat(pfd, base, m->times, AT_SYMLINK_NOFOLLOW) < 0)
        return fail_errno(x, "set times");
    return 0;
}

/* Kept as it is: a symlink pointing anywhere may exist; entries below it are what must not
 * escape. */
static int extract_symlink(struct extract *x, struct archive_entry *e, int pfd, const char *base,
                           const struct meta *m)
{
    const char *target = entry_link(e, false);
    if (!target || !*target)
        return fail(x, -EINVAL, "symlink without a target");
    if (strlen(target) > MAX_NAME)
        return fail(x, -ENAMETOOLONG, "symlink target longer than %d bytes", MAX_NAME);
    int r = clear_slot(x, pfd, base, false);
    if (r < 0)
        return r;
    if (symlinkat(target, pfd, base) < 0)
        return fail_errno(x, "create symlink");
    return finish_at(x, pfd, base, m);
}

static bool same_inode(int dfd, const char *name, const struct stat *st)
{
    struct stat cur;
    return fstatat(dfd, name, &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_dev == st->st_dev &&
           cur.st_ino == st->st_ino;
}

/* The target is resolved beneath the root like any name and linked without following: a link to
 * a symlink links the symlink itself. The inode keeps the metadata of its own entry. */
static int extract_hardlink(struct extract *x, int pfd, const char *base, const char *path,
                            const char *raw)
{
    cleanup_free char *t = printable(raw);
    cleanup_free char *target = NULL;
    int r = normalise(raw, &target);
    if (r < 0)
        return fail(x, r == -ENAMETOOLONG ? r : -EINVAL, "hard link target `%s`: %s", t,
                    name_problem(r));
    if (!*target)
        return fail(x, -EINVAL, "hard link target `%s` is the layer root", t);
    if (strcmp(target, path) == 0)
        return 0;
    const char *tbase;
    cleanup_free char *tdir = split_parent(target, &tbase);
    cleanup_free char *prefix = xasprintf("hard link target `%s`: ", t);
    cleanup_close int tfd = fs_open_beneath(x->dest, tdir, O_PATH | O_DIRECTORY, 0, RESOLVE_LAYER);
    if (tfd == -ENOENT)
        return fail(x, tfd, "%snot found", prefix);
    if (tfd < 0)
        return fail_resolve(x, tfd, prefix);
    struct stat st;
    if (fstatat(tfd, tbase, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        int e = errno;
        return fail(x, -e, "%s%s", prefix, e == ENOENT ? "not found" : strerror(e));
    }
    if (S_ISDIR(st.st_mode))
        return fail(x, -EPERM, "%sa directory", prefix);
    if (same_inode(pfd, base, &st))
        return 0;
    r = clear_slot(x, pfd, base, false);
    if (r < 0)
        return r;
    if (linkat(tfd, tbase, pfd, base, 0) < 0)
        return fail_errno(x, "create hard link");
    return 0;
}

static int extract_node(struct extract *x, struct archive_entry *e, int pfd, const char *base,
                        const struct meta *m)
{
    mode_t type = archive_entry_filetype(e);
    if (!x->allow_devices)
        return fail(x, -EPERM, "%s not allowed", type == AE_IFIFO ? "fifo" : "device node");
    dev_t rdev = 0;
    if (type != AE_IFIFO)
        rdev = makedev((unsigned)archive_entry_rdevmajor(e), (unsigned)archive_entry_rdevminor(e));
    int r = clear_slot(x, pfd, base, false);
    if (r < 0)
        return r;
    if (mknodat(pfd, base, type | 0600, rdev) < 0)
        return fail_errno(x, "create device node");
    r = finish_at(x, pfd, base, m);
    if (r < 0)
        return r;
    /* after chown; base was just made by us and is no symlink */
    if (fchmodat(pfd, base, m->perm, 0) < 0)
        return fail_errno(x, "chmod");
    return 0;
}

/* `.wh..wh..opq` marks its directory opaque; `.wh.NAME` becomes an overlay whiteout of NAME: a
 * character device 0/0 in place of whatever was there. */
static int extract_whiteout(struct extract *x, const char *dir, const char *base)
{
    cleanup_close int pfd = open_parent(x, dir);
    if (pfd < 0)
        return pfd;
    if (strcmp(base, WHITEOUT_OPAQUE) == 0) {
        cleanup_close int fd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return fail_errno(x, "open directory");
        if (fsetxattr(fd, OPAQUE_XATTR, "y", 1, 0) < 0)
            return fail_errno(x, "set " OPAQUE_XATTR);
        x->stats.opaque_dirs++;
        return 0;
    }
    const char *name = base + strlen(WHITEOUT_PREFIX);
    if (strcmp(name, "..") == 0)
        return fail(x, -EINVAL, "path escapes the layer");
    if (!*name || strcmp(name, ".") == 0)
        return fail(x, -EINVAL, "whiteout without a name");
    int r = clear_slot(x, pfd, name, false);
    if (r < 0)
        return r;
    if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
        return fail_errno(x, "create whiteout");
    x->stats.whiteouts++;
    return 0;
}

/* Everything below the root, by type. */
static int extract_below(struct extract *x, struct archive_entry *e, const char *path,
                         const struct meta *m)
{
    const char *base;
    cleanup_free char *dir = split_parent(path, &base);
    if (strncmp(base, WHITEOUT_PREFIX, strlen(WHITEOUT_PREFIX)) == 0)
        return extract_whiteout(x, dir, base);
    mode_t type = archive_entry_filetype(e);
    const char *hardlink = entry_link(e, true);
    if (type == AE_IFSOCK && !hardlink)
        return 0; /* a socket in a layer is meaningless: skipped */
    cleanup_close int pfd = open_parent(x, dir);
    if (pfd < 0)
        return pfd;
    if (hardlink)
        return extract_hardlink(x, pfd, base, path, hardlink);
    switch (type) {
    case AE_IFDIR:
        return extract_dir(x, e, pfd, base, path, m);
    case AE_IFREG:
        return extract_file(x, e, pfd, base, m);
    case AE_IFLNK:
        return extract_symlink(x, e, pfd, base, m);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
        return extract_node(x, e, pfd, base, m);
    default:
        return fail(x, -EINVAL, "unsupported entry type 0%o", (unsigned)type);
    }
}

static int extract_entry(struct extract *x, struct archive_entry *e)
{
    const char *raw = archive_entry_pathname(e);
    if (!raw)
        raw = archive_entry_pathname_utf8(e);
    free(x->label);
    x->label = printable(raw ? raw : "");
    if (x->stats.entries >= x->max_entries)
        return fail(x, -E2BIG, "layer has more than %" PRIu64 " entries", x->max_entries);
    x->stats.entries++;
    if (!raw)
        return fail(x, -EINVAL, "entry without a name");
    cleanup_free char *path = NULL;
    int r = normalise(raw, &path);
    if (r < 0)
        return fail(x, r == -ENAMETOOLONG ? r : -EINVAL, "%s", name_problem(r));
    struct meta m;
    r = read_meta(x, e, &m);
    if (r < 0)
        return r;
    r = check_xattrs(x, e);
    if (r < 0)
        return r;
    if (!*path)
        return extract_root(x, e, &m);
    return extract_below(x, e, path, &m);
}

/* Only tar (with its pax and GNU forms) under at most one gzip or zstd filter; both decoders
 * must be built into libarchive, which would otherwise fork an external program. */
static int reader_new(struct archive **ret, struct err *err)
{
    cleanup_archive struct archive *a = archive_read_new();
    if (!a)
        abort();
    if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
        archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
        archive_read_support_filter_zstd(a) != ARCHIVE_OK ||
        archive_read_support_filter_none(a) != ARCHIVE_OK)
        return err_set(err, -ENOTSUP, "libarchive lacks built-in tar, gzip or zstd support");
    *ret = TAKE_PTR(a);
    return 0;
}

static int extract_all(struct archive *a, int open_r, int dest,
                       const struct storage_extract_opts *opts,
                       struct storage_extract_stats *ret_stats, struct err *err)
{
    struct extract x = {
        .a = a,
        .dest = dest,
        .allow_devices = opts && opts->allow_devices,
        .max_entries = opts && opts->max_entries ? opts->max_entries : DEFAULT_MAX_ENTRIES,
        .max_bytes = opts && opts->max_bytes ? opts->max_bytes : DEFAULT_MAX_BYTES,
        .min_free = opts ? opts->min_free : 0,
        .unchecked = FREE_CHECK_BYTES, /* the first write looks */
        .err = err,
    };
    int r = 0;
    if (open_r != ARCHIVE_OK) {
        if (archive_errno(a) == EILSEQ)
            r = err_set(err, -EINVAL, "not a tar archive");
        else
            r = fail_archive(&x, "read layer");
    } else if (archive_filter_count(a) > MAX_FILTERS) {
        r = err_set(err, -EINVAL, "layer compressed more than once");
    }
    while (r == 0) {
        struct archive_entry *e;
        int ar = archive_read_next_header(a, &e);
        if (ar == ARCHIVE_EOF)
            break;
        if (ar != ARCHIVE_OK && ar != ARCHIVE_WARN) /* WARN: e.g. a name not in the locale */
            r = fail_archive(&x, "read layer");
        else
            r = extract_entry(&x, e);
    }
    if (r == 0)
        r = apply_dir_times(&x);
    dir_times_clear(&x);
    free(x.dirs);
    free(x.label);
    if (ret_stats)
        *ret_stats = x.stats;
    return r < 0 ? r : 0;
}

/* Where a layer's bytes come from: a file, or a buffer in memory. */
struct source {
    bool memory;
    int fd;
    const void *data;
    size_t len;
};

static int extract_source(const struct source *src, int dest_dirfd,
                          const struct storage_extract_opts *opts,
                          struct storage_extract_stats *ret_stats, struct err *err)
{
    cleanup_archive struct archive *a = NULL;
    if (ret_stats)
        *ret_stats = (struct storage_extract_stats){0};
    int r = reader_new(&a, err);
    if (r < 0)
        return r;
    r = src->memory ? archive_read_open_memory(a, src->data, src->len)
                    : archive_read_open_fd(a, src->fd, READ_BLOCK);
    return extract_all(a, r, dest_dirfd, opts, ret_stats, err);
}

int storage_extract_fd(int fd, int dest_dirfd, const struct storage_extract_opts *opts,
                       struct storage_extract_stats *ret_stats, struct err *err)
{
    return extract_source(&(struct source){.fd = fd}, dest_dirfd, opts, ret_stats, err);
}

int storage_extract_buffer(const void *data, size_t len, int dest_dirfd,
                           const struct storage_extract_opts *opts,
                           struct storage_extract_stats *ret_stats, struct err *err)
{
    return extract_source(&(struct source){.memory = true, .data = data, .len = len}, dest_dirfd,
                          opts, ret_stats, err);
}
