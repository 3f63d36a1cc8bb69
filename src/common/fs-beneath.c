/* One path resolver for files beneath a directory whose contents someone else chose (a layer
 * being unpacked, an image's rootfs, an image layout): openat2 with the caller's RESOLVE_* set,
 * and the same rules walked by hand on kernels without openat2. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"

#define LINKS_MAX 40 /* the kernel's own limit on symlinks in one lookup */
#define RETRIES 16

/* The hand walk's position: the directory reached (an O_PATH fd, or -1 for the root itself) and
 * how many directories below the root it is. Only real directories are entered, each with
 * O_NOFOLLOW; symlinks are expanded here, as text, under the caller's rules. */
struct walk {
    int root;
    int cur;
    size_t depth;
    dev_t dev; /* the root's, for RESOLVE_NO_XDEV */
    uint64_t resolve;
    unsigned links;
};

static int here(const struct walk *w)
{
    return w->cur >= 0 ? w->cur : w->root;
}

static void walk_to_root(struct walk *w)
{
    closep(&w->cur);
    w->cur = -1;
    w->depth = 0;
}

/* RESOLVE_NO_XDEV by device number: a bind mount from the same file system goes unseen, which
 * the kernel's own check would catch. */
static int check_dev(const struct walk *w, int fd)
{
    struct stat st;
    if (!(w->resolve & RESOLVE_NO_XDEV))
        return 0;
    if (fstat(fd, &st) < 0)
        return -errno;
    return st.st_dev == w->dev ? 0 : -EXDEV;
}

/* "..": the root's own ".." is the root under RESOLVE_IN_ROOT and an escape under
 * RESOLVE_BENEATH, as openat2 has it. */
static int walk_up(struct walk *w)
{
    if (w->depth == 0)
        return (w->resolve & RESOLVE_BENEATH) ? -EXDEV : 0;
    if (w->depth == 1) {
        walk_to_root(w);
        return 0;
    }
    int fd = openat(w->cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    close(w->cur);
    w->cur = fd;
    w->depth--;
    return 0;
}

static int walk_down(struct walk *w, const char *name)
{
    cleanup_close int fd = openat(here(w), name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = check_dev(w, fd);
    if (r < 0)
        return r;
    closep(&w->cur);
    w->cur = TAKE_FD(fd);
    w->depth++;
    return 0;
}

/* The symlink name (target read into target) in front of the rest of the path. A link on procfs
 * may be a magic one, which openat2 never follows beneath a root; the walk cannot tell the two
 * kinds apart and refuses both. */
static int walk_link(struct walk *w, const char *target, const char *rest, bool trailing,
                     char **ret_path)
{
    struct statfs sfs;
    if (w->resolve & RESOLVE_NO_SYMLINKS)
        return -ELOOP;
    if (++w->links > LINKS_MAX)
        return -ELOOP;
    if (fstatfs(here(w), &sfs) < 0)
        return -errno;
    if (sfs.f_type == PROC_SUPER_MAGIC)
        return (w->resolve & RESOLVE_NO_MAGICLINKS) ? -ELOOP : -EXDEV;
    if (target[0] == '/') {
        if (w->resolve & RESOLVE_BENEATH)
            return -EXDEV;
        walk_to_root(w);
    }
    /* A trailing "/" after the link still asks for a directory. */
    if (*rest)
        *ret_path = xasprintf("%s/%s", target, rest);
    else
        *ret_path = xasprintf("%s%s", target, trailing ? "/" : "");
    return 0;
}

static int open_last(struct walk *w, const char *name, int flags, mode_t mode)
{
    cleanup_close int fd = openat(here(w), name, flags | O_NOFOLLOW, mode);
    if (fd < 0)
        return -errno;
    int r = check_dev(w, fd);
    return r < 0 ? r : TAKE_FD(fd);
}

/* One name of the path: a symlink to expand (*ret_path set, 0), a directory to enter (0), or the
 * last name opened (the fd). */
static int walk_name(struct walk *w, const char *name, const char *rest, bool last, bool trailing,
                     int flags, mode_t mode, char **ret_path)
{
    /* As open(2): a last name is not followed with O_NOFOLLOW, nor when O_CREAT|O_EXCL makes it,
     * but a trailing "/" follows it and asks for a directory. */
    bool follow =
        !last || trailing || !((flags & O_NOFOLLOW) || ((flags & O_CREAT) && (flags & O_EXCL)));
    if (follow) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(here(w), name, target, sizeof(target));
        if (n >= (ssize_t)sizeof(target))
            return -ENAMETOOLONG;
        if (n >= 0) {
            target[n] = '\0';
            return walk_link(w, target, rest, trailing, ret_path);
        }
        /* EINVAL: not a symlink. A missing last name may be one O_CREAT makes. */
        if (errno != EINVAL && (errno != ENOENT || !last))
            return -errno;
    }
    if (!last)
        return walk_down(w, name);
    if (trailing && (flags & O_CREAT))
        return -EISDIR;
    return open_last(w, name, flags | (trailing ? O_DIRECTORY : 0), mode);
}

/* Without openat2 (kernels before 5.6, valgrind before 3.20): the same resolution one name at a
 * time. Unlike openat2 it assumes nobody renames directories beneath the root meanwhile (a
 * directory moved out while the walk is in it would take ".." with it); that holds for a layer
 * only we write to, an image not running yet and a layout being loaded. A name swapped for a
 * symlink meanwhile still fails its O_NOFOLLOW open. */
static int open_walk(int root, const char *path, int flags, mode_t mode, uint64_t resolve)
{
    struct walk w = {.root = root, .cur = -1, .resolve = resolve};
    struct stat st;
    if (strlen(path) >= PATH_MAX)
        return -ENAMETOOLONG;
    if (!*path)
        return -ENOENT;
    if (path[0] == '/' && (resolve & RESOLVE_BENEATH))
        return -EXDEV;
    if (resolve & RESOLVE_NO_XDEV) {
        if (fstat(root, &st) < 0)
            return -errno;
        w.dev = st.st_dev;
    }
    cleanup_free char *todo = xstrdup(path);
    int r = 0;
    for (char *p = todo;;) {
        while (*p == '/')
            p++;
        char *end = strchrnul(p, '/'), *next = end;
        while (*next == '/')
            next++;
        bool last = *next == '\0', trailing = *end == '/';
        *end = '\0';
        if (*p == '\0' || strcmp(p, ".") == 0 || strcmp(p, "..") == 0) {
            r = strcmp(p, "..") == 0 ? walk_up(&w) : 0;
            if (r == 0 && last) {
                r = openat(here(&w), ".", flags, mode);
                r = r < 0 ? -errno : r;
            }
            if (r != 0 || last)
                break;
            p = next;
            continue;
        }
        char *expanded = NULL;
        r = walk_name(&w, p, next, last, trailing, flags, mode, &expanded);
        if (expanded) {
            free(todo);
            todo = expanded;
            p = todo;
            continue;
        }
        if (r < 0 || last)
            break;
        p = next;
    }
    closep(&w.cur);
    return r;
}

int fs_open_beneath(int root, const char *path, int flags, mode_t mode, uint64_t resolve)
{
    uint64_t scope = resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT);
    if (scope != RESOLVE_BENEATH && scope != RESOLVE_IN_ROOT)
        return -EINVAL;
    flags |= O_CLOEXEC;
    bool creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
    struct open_how how = {
        .flags = (unsigned)flags,
        .mode = creates ? mode : 0,
        .resolve = resolve,
    };
    for (int i = 0; i < RETRIES; i++) {
        long fd = syscall(SYS_openat2, root, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno == ENOSYS)
            return open_walk(root, path, flags, creates ? mode : 0, resolve);
        /* EAGAIN: a rename elsewhere raced with the kernel's ".." checks; try again */
        if (errno != EAGAIN && errno != EINTR)
            return -errno;
    }
    return -EAGAIN;
}
