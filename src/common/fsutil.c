/* Blocking file helpers: atomic writes, reads, mkdir -p, rm -rf, disk usage. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"

int fs_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    cleanup_free char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    cleanup_close int fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return fsync(fd) < 0 ? -errno : 0;
}

int fs_write_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    static unsigned seq;
    cleanup_free char *tmp = xasprintf("%s.tmp-%ld-%u", path, (long)getpid(),
                                       __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
    cleanup_close int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    int r = fs_write_all(fd, data, len);
    if (r == 0 && fsync(fd) < 0)
        r = -errno;
    if (r == 0 && rename(tmp, path) < 0)
        r = -errno;
    if (r < 0) {
        unlink(tmp);
        return r;
    }
    return fsync_dir_of(path);
}

int fs_load_records(const char *dir, size_t max, fs_record_fn fn, void *data)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0)
        return errno == ENOENT ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        cleanup_free char *path = xasprintf("%s/%s", dir, name);
        if (name[0] == '.') {
            /* . and .. */
        } else if (strstr(name, ".tmp-")) {
            unlink(path);
        } else if (len > 5 && strcmp(name + len - 5, ".json") == 0) {
            struct buf text = {0};
            int r = fs_read_file(path, max, &text);
            fn(path, r == 0 ? (const char *)text.data : NULL, r, data);
            buf_done(&text);
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

char **fs_dir_names(const char *dir)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    char **out = xcalloc((size_t)(n > 0 ? n : 0) + 1, sizeof(*out));
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") != 0 && strcmp(names[i]->d_name, "..") != 0)
            out[k++] = xstrdup(names[i]->d_name);
        free(names[i]);
    }
    free(names);
    return out;
}

char *fs_self_exe(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    return xstrndup(exe, n > 0 ? (size_t)n : 0);
}

int fs_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
    cleanup_close int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    return fs_write_all(fd, data, len);
}

int fs_read_file(const char *path, size_t max, struct buf *out)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fs_read_fd(fd, max, out);
}

int fs_read_fd(int fd, size_t max, struct buf *out)
{
    for (;;) {
        buf_reserve(out, 65536);
        ssize_t n = read(fd, out->data + out->len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        out->len += (size_t)n;
        if (out->len > max)
            return -EFBIG;
    }
    buf_append(out, "", 0);
    return 0;
}

void fs_close_fds(int *fds, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(TAKE_FD(fds[i]));
}

int fs_mkdir_p(const char *path, unsigned mode)
{
    cleanup_free char *p = xstrdup(path);
    for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
        if (s)
            *s = '\0';
        if (mkdir(p, mode) < 0 && errno != EEXIST)
            return -errno;
        if (!s)
            break;
        *s = '/';
    }
    return 0;
}

/* The directory name beneath dir, made if missing; never through a symlink. */
static int enter_dir(int dir, const char *name, unsigned mode)
{
    if (strcmp(name, "..") == 0)
        return -EINVAL;
    if (mkdirat(dir, name, mode) < 0 && errno != EEXIST)
        return -errno;
    int fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* The leaf: an existing one is looked at through O_PATH and reopened through that fd only when
 * it is a regular file; a new one is made with O_EXCL, which follows nothing. */
static int append_leaf(int dir, const char *name, unsigned mode)
{
    if (strcmp(name, "..") == 0 || strcmp(name, ".") == 0)
        return -EINVAL;
    for (int tries = 0; tries < 8; tries++) {
        cleanup_close int at = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (at < 0 && errno != ENOENT)
            return -errno;
        if (at < 0) {
            int fd = openat(dir, name, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
                            mode);
            if (fd >= 0 || errno != EEXIST)
                return fd < 0 ? -errno : fd;
            continue; /* made meanwhile: look again */
        }
        struct stat st;
        if (fstat(at, &st) < 0)
            return -errno;
        if (!S_ISREG(st.st_mode))
            return S_ISLNK(st.st_mode) ? -ELOOP : -EINVAL;
        char self[64];
        snprintf(self, sizeof(self), "/proc/self/fd/%d", at);
        int fd = open(self, O_RDWR | O_APPEND | O_CLOEXEC | O_NOCTTY);
        return fd < 0 ? -errno : fd;
    }
    return -EAGAIN;
}

/* Its own walk rather than fs_open_beneath: it makes the missing directories as it goes, which
 * the resolver does not, and needs no symlink rules since it follows none at all. */
int fs_append_beneath(const char *base, const char *rel, unsigned mode, unsigned dir_mode)
{
    int r = fs_mkdir_p(base, dir_mode);
    if (r < 0)
        return r;
    cleanup_close int dir = open(base, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -errno;
    cleanup_free char *todo = xstrdup(rel);
    char *save = NULL, *name = strtok_r(todo, "/", &save);
    if (!name)
        return -EINVAL;
    for (char *next; (next = strtok_r(NULL, "/", &save)); name = next) {
        if (strcmp(name, ".") == 0)
            continue;
        int sub = enter_dir(dir, name, dir_mode);
        if (sub < 0)
            return sub;
        close(dir);
        dir = sub;
    }
    return append_leaf(dir, name, mode);
}

int fs_proc_stat_read(int pid, struct fs_proc_stat *ret)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    if (n <= 0)
        return n < 0 ? -errno : -EIO;
    buf[n] = '\0';
    /* The command may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || sscanf(p + 1, " %c %d", &ret->state, &ret->ppid) != 2)
        return -EIO;
    for (int field = 2; p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return -EIO;
    ret->start_time = strtoll(p + 1, NULL, 10);
    return 0;
}

void fs_cloexec_from(int lowfd)
{
    if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, CLOSE_RANGE_CLOEXEC) == 0)
        return;
    /* Kernels before 5.11: one fd at a time, as /proc lists them. */
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        int fd = atoi(de->d_name);
        if (de->d_name[0] != '.' && fd >= lowfd && fd != dirfd(d))
            fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    closedir(d);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (type == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int fs_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) < 0 ? -errno : 0;
    if (nftw(path, remove_entry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0)
        return -(errno ? errno : EIO);
    return 0;
}

/* nftw offers no user pointer: the walk runs on one thread at a time per process. */
static __thread uint64_t usage_bytes, usage_inodes;

static int count_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    if (type == FTW_NS)
        return 0;
    /* Hard links: count the blocks of a multiply linked file once per link (approximation). */
    usage_bytes += (uint64_t)st->st_blocks * 512 /
                   (st->st_nlink > 1 && !S_ISDIR(st->st_mode) ? (uint64_t)st->st_nlink : 1);
    usage_inodes++;
    return 0;
}

int fs_usage(const char *path, uint64_t *ret_bytes, uint64_t *ret_inodes)
{
    usage_bytes = usage_inodes = 0;
    if (nftw(path, count_entry, 64, FTW_PHYS | FTW_MOUNT) != 0 && errno != ENOENT)
        return -(errno ? errno : EIO);
    *ret_bytes = usage_bytes;
    *ret_inodes = usage_inodes;
    return 0;
}

char *fs_mount_point(const char *path)
{
    char *p = realpath(path, NULL);
    struct stat st, up;
    if (!p || stat(p, &st) < 0) {
        free(p);
        return NULL;
    }
    for (;;) {
        char *slash = strrchr(p, '/');
        if (!slash || slash == p) {
            /* "/x": the parent is the root */
            if (slash && p[1] && stat("/", &up) == 0 && up.st_dev == st.st_dev)
                p[1] = '\0';
            return p;
        }
        *slash = '\0';
        if (stat(p, &up) < 0 || up.st_dev != st.st_dev) {
            *slash = '/';
            return p;
        }
    }
}
