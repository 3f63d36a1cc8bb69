/* Unit tests for the layer extractor in src/storage/extract.c: archives built in memory with
 * libarchive's writer, extracted into a fresh temp dir and checked with lstat/readlink/getxattr. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/macro.h"
#include "storage/extract.h"

#define MTIME 1600000000

/* A temp dir holding the layer root `dest` and, next to it, `sentinel`, which must stay empty. */
struct fixture {
    char base[64];
    char dest_path[96];
    char sentinel[96];
    int dest;
    size_t fds; /* open at the start: the same number must be open at the end */
    struct storage_extract_stats stats;
    char msg[1024];
};

enum filter { PLAIN, GZIP, ZSTD, GZIP_TWICE };

/* An archive being written into memory. */
struct tar {
    struct archive *a;
    struct buf out;
};

/* Linked with -Wl,--wrap=syscall: the second run of the suite makes openat2 answer ENOSYS, as
 * old kernels and valgrind do, so that the extractor's own resolution walk is tested too.
 * Without the flag the wrapper is never called and that second run is skipped. */
static bool no_openat2;
static unsigned wrapped_calls;

long __real_syscall(long n, ...) __attribute__((weak));
long __wrap_syscall(long n, ...);

long __wrap_syscall(long n, ...)
{
    va_list ap;
    va_start(ap, n);
    long a = va_arg(ap, long), b = va_arg(ap, long), c = va_arg(ap, long), d = va_arg(ap, long);
    va_end(ap);
    wrapped_calls++;
    assert_int_equal(n, SYS_openat2); /* the only syscall() the extractor makes */
    if (no_openat2) {
        errno = ENOSYS;
        return -1;
    }
    return __real_syscall(n, a, b, c, d);
}

static int without_openat2(void **state UNUSED)
{
    no_openat2 = true;
    return 0;
}

static size_t count_entries(const char *path)
{
    DIR *d = opendir(path);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int setup(void **state)
{
    struct fixture *f = xcalloc(1, sizeof(*f));
    snprintf(f->base, sizeof(f->base), "/tmp/crib-test-extract-XXXXXX");
    assert_non_null(mkdtemp(f->base));
    snprintf(f->dest_path, sizeof(f->dest_path), "%s/dest", f->base);
    snprintf(f->sentinel, sizeof(f->sentinel), "%s/sentinel", f->base);
    assert_int_equal(mkdir(f->dest_path, 0755), 0);
    assert_int_equal(mkdir(f->sentinel, 0755), 0);
    f->dest = open(f->dest_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(f->dest >= 0);
    f->fds = count_entries("/proc/self/fd");
    *state = f;
    return 0;
}

static int remove_one(const char *path, const struct stat *st UNUSED, int flag UNUSED,
                      struct FTW *ftw UNUSED)
{
    return remove(path);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    /* whatever a test did, nothing may have appeared outside dest */
    assert_int_equal(count_entries(f->sentinel), 0);
    assert_int_equal(count_entries(f->base), 2);
    assert_int_equal(count_entries("/proc/self/fd"), f->fds);
    close(f->dest);
    assert_int_equal(nftw(f->base, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
    free(f);
    return 0;
}

static la_ssize_t on_write(struct archive *a UNUSED, void *data, const void *buf, size_t len)
{
    buf_append(data, buf, len);
    return (la_ssize_t)len;
}

static void tar_open(struct tar *t, enum filter filter, bool zip)
{
    memset(t, 0, sizeof(*t));
    t->a = archive_write_new();
    assert_non_null(t->a);
    if (zip)
        assert_int_equal(archive_write_set_format_zip(t->a), ARCHIVE_OK);
    else
        assert_int_equal(archive_write_set_format_pax(t->a), ARCHIVE_OK);
    if (filter == GZIP || filter == GZIP_TWICE)
        assert_int_equal(archive_write_add_filter_gzip(t->a), ARCHIVE_OK);
    if (filter == GZIP_TWICE)
        assert_int_equal(archive_write_add_filter_gzip(t->a), ARCHIVE_OK);
    if (filter == ZSTD)
        assert_int_equal(archive_write_add_filter_zstd(t->a), ARCHIVE_OK);
    archive_write_set_bytes_in_last_block(t->a, 1);
    assert_int_equal(archive_write_open(t->a, &t->out, NULL, on_write, NULL), ARCHIVE_OK);
}

static struct archive_entry *entry(const char *name, mode_t type, mode_t perm)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_mtime(e, MTIME, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    return e;
}

/* Write the entry (and its content, if any) and free it. */
static void tar_put(struct tar *t, struct archive_entry *e, const char *data)
{
    size_t len = data ? strlen(data) : 0;
    if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e))
        archive_entry_set_size(e, (la_int64_t)len);
    if (archive_write_header(t->a, e) != ARCHIVE_OK)
        fail_msg("write header: %s", archive_error_string(t->a));
    if (len)
        assert_int_equal(archive_write_data(t->a, data, len), (la_ssize_t)len);
    archive_entry_free(e);
}

static void tar_file(struct tar *t, const char *name, mode_t perm, const char *data)
{
    tar_put(t, entry(name, AE_IFREG, perm), data);
}

static void tar_dir(struct tar *t, const char *name, mode_t perm)
{
    tar_put(t, entry(name, AE_IFDIR, perm), NULL);
}

static void tar_symlink(struct tar *t, const char *name, const char *target)
{
    struct archive_entry *e = entry(name, AE_IFLNK, 0777);
    archive_entry_set_symlink(e, target);
    tar_put(t, e, NULL);
}

static void tar_hardlink(struct tar *t, const char *name, const char *target)
{
    struct archive_entry *e = entry(name, AE_IFREG, 0644);
    archive_entry_set_hardlink(e, target);
    tar_put(t, e, NULL);
}

static void tar_node(struct tar *t, const char *name, mode_t type, unsigned maj, unsigned min)
{
    struct archive_entry *e = entry(name, type, 0640);
    archive_entry_set_rdevmajor(e, maj);
    archive_entry_set_rdevminor(e, min);
    tar_put(t, e, NULL);
}

static void tar_close(struct tar *t)
{
    assert_int_equal(archive_write_close(t->a), ARCHIVE_OK);
    archive_write_free(t->a);
    t->a = NULL;
}

static int extract_buf(struct fixture *f, const void *data, size_t len,
                       const struct storage_extract_opts *opts)
{
    struct err err = ERR_INIT;
    int r = storage_extract_buffer(data, len, f->dest, opts, &f->stats, &err);
    snprintf(f->msg, sizeof(f->msg), "%s", r < 0 ? err_msg(&err) : "");
    if (r < 0)
        assert_int_equal(err.code, r);
    err_done(&err);
    return r;
}

/* Close the archive, extract it, free it. */
static int extract_opts(struct fixture *f, struct tar *t, const struct storage_extract_opts *opts)
{
    tar_close(t);
    int r = extract_buf(f, t->out.data, t->out.len, opts);
    buf_done(&t->out);
    return r;
}

static void extract_ok(struct fixture *f, struct tar *t)
{
    int r = extract_opts(f, t, NULL);
    if (r < 0)
        fail_msg("extraction failed: %s", f->msg);
}

static void extract_fails(struct fixture *f, struct tar *t, int code, const char *msg)
{
    int r = extract_opts(f, t, NULL);
    if (r != code || !strstr(f->msg, msg))
        fail_msg("want %d `%s`, got %d `%s`", code, msg, r, f->msg);
}

static struct stat lstat_at(struct fixture *f, const char *path)
{
    struct stat st;
    if (fstatat(f->dest, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
        fail_msg("lstat %s: %s", path, strerror(errno));
    return st;
}

static bool exists(struct fixture *f, const char *path)
{
    struct stat st;
    return fstatat(f->dest, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void assert_content(struct fixture *f, const char *path, const char *want)
{
    char got[256];
    int fd = openat(f->dest, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = read(fd, got, sizeof(got) - 1);
    close(fd);
    assert_true(n >= 0);
    got[n] = '\0';
    assert_string_equal(got, want);
}

static void assert_whiteout(struct fixture *f, const char *path)
{
    struct stat st = lstat_at(f, path);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(0, 0));
}

static ssize_t get_xattr(struct fixture *f, const char *path, const char *name, char *buf,
                         size_t size)
{
    int fd = openat(f->dest, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    assert_true(fd >= 0);
    ssize_t n = fgetxattr(fd, name, buf, size);
    close(fd);
    return n;
}

static void test_regular_file(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    struct archive_entry *e = entry("etc/motd", AE_IFREG, 0640);
    archive_entry_set_uid(e, 1000);
    archive_entry_set_gid(e, 2000);
    archive_entry_set_mtime(e, MTIME, 500000000);
    archive_entry_set_atime(e, MTIME - 10, 0);
    tar_put(&t, e, "hello\n");
    extract_ok(f, &t);

    struct stat st = lstat_at(f, "etc/motd");
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_gid, 2000);
    assert_int_equal(st.st_size, 6);
    assert_int_equal(st.st_mtim.tv_sec, MTIME);
    assert_int_equal(st.st_mtim.tv_nsec, 500000000);
    assert_int_equal(st.st_atim.tv_sec, MTIME - 10);
    assert_content(f, "etc/motd", "hello\n");
    assert_int_equal(f->stats.entries, 1);
    assert_int_equal(f->stats.bytes, 6);
}

static void test_empty_file(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "empty", 0600, NULL);
    extract_ok(f, &t);
    struct stat st = lstat_at(f, "empty");
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 0);
    assert_int_equal(st.st_mode & 07777, 0600);
}

static void test_setuid_kept_after_chown(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    struct archive_entry *e = entry("bin/su", AE_IFREG, 06755);
    archive_entry_set_uid(e, 1000);
    archive_entry_set_gid(e, 1000);
    tar_put(&t, e, "#!/bin/sh\n");
    e = entry("tmp", AE_IFDIR, 01777);
    tar_put(&t, e, NULL);
    extract_ok(f, &t);
    struct stat st = lstat_at(f, "bin/su");
    assert_int_equal(st.st_mode & 07777, 06755);
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(lstat_at(f, "tmp").st_mode & 07777, 01777);
}

static void test_directories_and_times(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    struct archive_entry *e = entry("d/", AE_IFDIR, 0750);
    archive_entry_set_uid(e, 7);
    archive_entry_set_gid(e, 8);
    archive_entry_set_mtime(e, MTIME + 5, 0);
    tar_put(&t, e, NULL);
    /* later entries change d's mtime; the archive's time must win */
    tar_file(&t, "d/a", 0644, "a");
    tar_dir(&t, "d/sub", 0700);
    tar_file(&t, "d/sub/b", 0644, "b");
    extract_ok(f, &t);
    struct stat st = lstat_at(f, "d");
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0750);
    assert_int_equal(st.st_uid, 7);
    assert_int_equal(st.st_gid, 8);
    assert_int_equal(st.st_mtim.tv_sec, MTIME + 5);
    assert_int_equal(lstat_at(f, "d/sub").st_mtim.tv_sec, MTIME);
    assert_content(f, "d/sub/b", "b");
}

static void test_symlink_kept_as_is(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    char buf[PATH_MAX];
    tar_open(&t, PLAIN, false);
    struct archive_entry *e = entry("etc", AE_IFLNK, 0777);
    archive_entry_set_symlink(e, "/etc");
    archive_entry_set_uid(e, 5);
    archive_entry_set_gid(e, 6);
    tar_put(&t, e, NULL);
    tar_symlink(&t, "up", "../../..");
    tar_symlink(&t, "dangling", "nowhere/at/all");
    extract_ok(f, &t);
    struct stat st = lstat_at(f, "etc");
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(st.st_uid, 5);
    assert_int_equal(st.st_gid, 6);
    assert_int_equal(st.st_mtim.tv_sec, MTIME);
    ssize_t n = readlinkat(f->dest, "etc", buf, sizeof(buf));
    assert_int_equal(n, 4);
    assert_memory_equal(buf, "/etc", 4);
    n = readlinkat(f->dest, "up", buf, sizeof(buf));
    assert_int_equal(n, 8);
    assert_memory_equal(buf, "../../..", 8);
    assert_true(S_ISLNK(lstat_at(f, "dangling").st_mode));
}

static void test_hardlink(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "bin/busybox", 0755, "elf");
    tar_hardlink(&t, "bin/sh", "bin/busybox");
    tar_hardlink(&t, "./usr/bin/ls", "./bin/busybox");
    extract_ok(f, &t);
    struct stat a = lstat_at(f, "bin/busybox"), b = lstat_at(f, "bin/sh");
    struct stat c = lstat_at(f, "usr/bin/ls");
    assert_int_equal(a.st_ino, b.st_ino);
    assert_int_equal(a.st_ino, c.st_ino);
    assert_int_equal(a.st_nlink, 3);
    assert_content(f, "bin/sh", "elf");
}

static void test_missing_parents_created(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "a/b/c/file", 0644, "x");
    extract_ok(f, &t);
    const char *dirs[] = {"a", "a/b", "a/b/c"};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        struct stat st = lstat_at(f, dirs[i]);
        assert_true(S_ISDIR(st.st_mode));
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(st.st_uid, 0);
    }
    assert_content(f, "a/b/c/file", "x");
}

static void test_name_prefixes(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_dir(&t, "./", 0711);
    tar_file(&t, "./dot", 0644, "1");
    tar_file(&t, "/abs", 0644, "2");
    tar_file(&t, "//.//./both/./x", 0644, "3");
    tar_dir(&t, "trailing///", 0700);
    extract_ok(f, &t);
    assert_content(f, "dot", "1");
    assert_content(f, "abs", "2");
    assert_content(f, "both/x", "3");
    assert_true(S_ISDIR(lstat_at(f, "trailing").st_mode));
    /* "./" is the layer root itself */
    struct stat st;
    assert_int_equal(fstat(f->dest, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0711);
    assert_int_equal(st.st_mtim.tv_sec, MTIME);
}

static void test_absolute_name_lands_inside(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "/etc/crib-test-not-here", 0644, "inside");
    extract_ok(f, &t);
    assert_content(f, "etc/crib-test-not-here", "inside");
    assert_int_equal(access("/etc/crib-test-not-here", F_OK), -1);
}

static void test_file_over_file(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "f", 0600, "first, longer");
    tar_file(&t, "f", 0644, "second");
    extract_ok(f, &t);
    assert_content(f, "f", "second");
    assert_int_equal(lstat_at(f, "f").st_mode & 07777, 0644);
}

static void test_dir_over_file(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "p", 0644, "file");
    tar_symlink(&t, "q", "/");
    tar_dir(&t, "p", 0755);
    tar_dir(&t, "q", 0755);
    tar_file(&t, "q/inside", 0644, "in");
    extract_ok(f, &t);
    assert_true(S_ISDIR(lstat_at(f, "p").st_mode));
    assert_true(S_ISDIR(lstat_at(f, "q").st_mode));
    assert_content(f, "q/inside", "in");
}

static void test_file_over_dir(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_dir(&t, "d", 0755);
    tar_file(&t, "d/a/b/c", 0644, "deep");
    tar_symlink(&t, "d/a/out", "/etc");
    tar_dir(&t, "d/e", 0000);
    tar_file(&t, "d", 0600, "now a file");
    tar_dir(&t, "s", 0755);
    tar_file(&t, "s/x", 0644, "x");
    tar_symlink(&t, "s", "target");
    extract_ok(f, &t);
    assert_true(S_ISREG(lstat_at(f, "d").st_mode));
    assert_content(f, "d", "now a file");
    assert_true(S_ISLNK(lstat_at(f, "s").st_mode));
    assert_int_equal(access("/etc/passwd", F_OK), 0);
}

static void test_dir_over_dir_keeps_children(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_dir(&t, "d", 0700);
    tar_file(&t, "d/child", 0644, "kept");
    struct archive_entry *e = entry("d", AE_IFDIR, 0755);
    archive_entry_set_uid(e, 33);
    archive_entry_set_mtime(e, MTIME + 100, 0);
    tar_put(&t, e, NULL);
    extract_ok(f, &t);
    struct stat st = lstat_at(f, "d");
    assert_int_equal(st.st_mode & 07777, 0755);
    assert_int_equal(st.st_uid, 33);
    assert_int_equal(st.st_mtim.tv_sec, MTIME + 100);
    assert_content(f, "d/child", "kept");
}

static void test_whiteout_file(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "etc/old", 0644, "old");
    tar_dir(&t, "var/cache", 0755);
    tar_file(&t, "var/cache/x", 0644, "x");
    tar_file(&t, "etc/.wh.old", 0644, NULL);
    tar_file(&t, "var/.wh.cache", 0644, NULL);
    extract_ok(f, &t);
    assert_whiteout(f, "etc/old");
    assert_whiteout(f, "var/cache");
    assert_false(exists(f, "etc/.wh.old"));
    assert_false(exists(f, "var/.wh.cache"));
    assert_int_equal(f->stats.whiteouts, 2);
}

static void test_whiteout_of_absent_name(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "usr/lib/.wh.gone", 0644, NULL);
    tar_file(&t, ".wh..wh.plnk", 0644, NULL);
    extract_ok(f, &t);
    assert_true(S_ISDIR(lstat_at(f, "usr/lib").st_mode));
    assert_whiteout(f, "usr/lib/gone");
    /* other .wh. names are whiteouts of what follows the prefix */
    assert_whiteout(f, ".wh.plnk");
    assert_false(exists(f, "usr/lib/.wh.gone"));
    assert_int_equal(f->stats.whiteouts, 2);
    assert_int_equal(f->stats.entries, 2);
}

static void test_opaque_dir(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    char buf[8];
    tar_open(&t, PLAIN, false);
    tar_dir(&t, "opt", 0755);
    tar_file(&t, "opt/.wh..wh..opq", 0644, NULL);
    tar_file(&t, "opt/new", 0644, "n");
    tar_file(&t, "missing/dir/.wh..wh..opq", 0644, NULL);
    tar_dir(&t, "plain", 0755);
    extract_ok(f, &t);
    ssize_t n = get_xattr(f, "opt", "trusted.overlay.opaque", buf, sizeof(buf));
    assert_int_equal(n, 1);
    assert_int_equal(buf[0], 'y');
    n = get_xattr(f, "missing/dir", "trusted.overlay.opaque", buf, sizeof(buf));
    assert_int_equal(n, 1);
    assert_int_equal(get_xattr(f, "plain", "trusted.overlay.opaque", buf, sizeof(buf)), -1);
    assert_false(exists(f, "opt/.wh..wh..opq"));
    assert_content(f, "opt/new", "n");
    assert_int_equal(f->stats.opaque_dirs, 2);
    assert_int_equal(f->stats.whiteouts, 0);
}

/* v2 file capabilities: CAP_NET_BIND_SERVICE permitted and effective. */
static const uint8_t cap_v2[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};

static void test_xattrs_and_capability(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    char buf[64];
    tar_open(&t, PLAIN, false);
    struct archive_entry *e = entry("usr/bin/ping", AE_IFREG, 04755);
    archive_entry_set_uid(e, 1000);
    archive_entry_xattr_add_entry(e, "security.capability", cap_v2, sizeof(cap_v2));
    archive_entry_xattr_add_entry(e, "user.comment", "hi", 2);
    tar_put(&t, e, "binary");
    e = entry("data", AE_IFDIR, 0755);
    archive_entry_xattr_add_entry(e, "user.dir", "d", 1);
    archive_entry_xattr_add_entry(e, "user.overlay.opaque", "y", 1);
    tar_put(&t, e, NULL);
    e = entry("link", AE_IFLNK, 0777);
    archive_entry_set_symlink(e, "data");
    archive_entry_xattr_add_entry(e, "user.ignored", "s", 1);
    tar_put(&t, e, NULL);
    extract_ok(f, &t);

    ssize_t n = get_xattr(f, "usr/bin/ping", "security.capability", buf, sizeof(buf));
    assert_int_equal(n, sizeof(cap_v2));
    assert_memory_equal(buf, cap_v2, sizeof(cap_v2));
    n = get_xattr(f, "usr/bin/ping", "user.comment", buf, sizeof(buf));
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "hi", 2);
    struct stat st = lstat_at(f, "usr/bin/ping");
    assert_int_equal(st.st_uid, 1000);
    assert_int_equal(st.st_mode & 07777, 04755);
    n = get_xattr(f, "data", "user.dir", buf, sizeof(buf));
    assert_int_equal(n, 1);
    /* overlay metadata of rootless overlays is dropped */
    assert_int_equal(get_xattr(f, "data", "user.overlay.opaque", buf, sizeof(buf)), -1);
    assert_int_equal(errno, ENODATA);
    assert_true(S_ISLNK(lstat_at(f, "link").st_mode));
}

static void test_overlay_xattr_refused(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    struct archive_entry *e = entry("d", AE_IFDIR, 0755);
    archive_entry_xattr_add_entry(e, "trusted.overlay.opaque", "y", 1);
    tar_put(&t, e, NULL);
    extract_fails(f, &t, -EPERM,
                  "layer entry `d/`: xattr `trusted.overlay.opaque` not allowed in a layer");
    assert_false(exists(f, "d"));
}

static void check_compressed(struct fixture *f, enum filter filter)
{
    struct tar t;
    tar_open(&t, filter, false);
    tar_dir(&t, "z", 0755);
    tar_file(&t, "z/file", 0644, "compressed content");
    extract_ok(f, &t);
    assert_content(f, "z/file", "compressed content");
    assert_int_equal(f->stats.entries, 2);
}

static void test_plain(void **state)
{
    check_compressed(*state, PLAIN);
}

static void test_gzip(void **state)
{
    check_compressed(*state, GZIP);
}

static void test_zstd(void **state)
{
    check_compressed(*state, ZSTD);
}

static void test_compressed_twice_refused(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, GZIP_TWICE, false);
    tar_file(&t, "x", 0644, "x");
    extract_fails(f, &t, -EINVAL, "layer compressed more than once");
    assert_false(exists(f, "x"));
}

static void test_devices_allowed(void **state)
{
    struct fixture *f = *state;
    struct storage_extract_opts opts = {.allow_devices = true};
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_node(&t, "dev/null", AE_IFCHR, 1, 3);
    tar_node(&t, "dev/loop0", AE_IFBLK, 7, 0);
    tar_node(&t, "run/fifo", AE_IFIFO, 0, 0);
    assert_int_equal(extract_opts(f, &t, &opts), 0);
    struct stat st = lstat_at(f, "dev/null");
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(1, 3));
    assert_int_equal(st.st_mode & 07777, 0640);
    st = lstat_at(f, "dev/loop0");
    assert_true(S_ISBLK(st.st_mode));
    assert_int_equal(st.st_rdev, makedev(7, 0));
    st = lstat_at(f, "run/fifo");
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0640);
}

static void test_devices_refused(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_node(&t, "dev/sda", AE_IFBLK, 8, 0);
    extract_fails(f, &t, -EPERM, "layer entry `dev/sda`: device node not allowed");
    assert_false(exists(f, "dev/sda"));
    tar_open(&t, PLAIN, false);
    tar_node(&t, "fifo", AE_IFIFO, 0, 0);
    extract_fails(f, &t, -EPERM, "layer entry `fifo`: fifo not allowed");
    tar_open(&t, PLAIN, false);
    tar_node(&t, "dev/mem", AE_IFCHR, 1, 1);
    extract_fails(f, &t, -EPERM, "layer entry `dev/mem`: device node not allowed");
}

static void test_dotdot_refused(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"../x", "a/../../x", "a/b/..", "..", "/../sentinel/x"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        struct tar t;
        char want[128];
        tar_open(&t, PLAIN, false);
        tar_file(&t, names[i], 0644, "pwned");
        snprintf(want, sizeof(want), "layer entry `%s`: path escapes the layer", names[i]);
        extract_fails(f, &t, -EINVAL, want);
    }
    assert_int_equal(count_entries(f->dest_path), 0);
}

static void test_empty_component_refused(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "a//b", 0644, "x");
    extract_fails(f, &t, -EINVAL, "layer entry `a//b`: path has an empty component");
}

static void test_symlink_escape_refused(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_symlink(&t, "l", f->sentinel);
    tar_file(&t, "l/pwned", 0644, "pwned");
    extract_fails(f, &t, -EINVAL, "layer entry `l/pwned`: path escapes the layer");

    tar_open(&t, PLAIN, false);
    tar_symlink(&t, "r", "../sentinel");
    tar_dir(&t, "r/newdir", 0755);
    extract_fails(f, &t, -EINVAL, "layer entry `r/newdir/`: path escapes the layer");

    /* a missing directory below the escaping link is not created either */
    tar_open(&t, PLAIN, false);
    tar_symlink(&t, "e", f->sentinel);
    tar_file(&t, "e/sub/deeper/pwned", 0644, "pwned");
    extract_fails(f, &t, -EINVAL, "path escapes the layer");
    /* the teardown checks that the sentinel is still empty */
}

static void test_symlink_inside_followed(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_dir(&t, "real", 0755);
    tar_symlink(&t, "rel", "real");
    tar_symlink(&t, "sub/up", "../real");
    tar_file(&t, "rel/a", 0644, "a");
    tar_file(&t, "sub/up/b", 0644, "b");
    extract_ok(f, &t);
    assert_content(f, "real/a", "a");
    assert_content(f, "real/b", "b");
}

static void test_symlink_parent_chain_refused(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_symlink(&t, "a", "..");
    tar_file(&t, "a/a/x", 0644, "pwned");
    extract_fails(f, &t, -EINVAL, "layer entry `a/a/x`: path escapes the layer");

    tar_open(&t, PLAIN, false);
    tar_symlink(&t, "b", "..");
    tar_file(&t, "b/sentinel/x", 0644, "pwned");
    extract_fails(f, &t, -EINVAL, "path escapes the layer");

    tar_open(&t, PLAIN, false);
    tar_symlink(&t, "loop", "loop");
    tar_file(&t, "loop/x", 0644, "x");
    extract_fails(f, &t, -EINVAL, "path escapes the layer");
}

static void test_hardlink_outside_refused(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_hardlink(&t, "passwd", "/etc/passwd");
    extract_fails(f, &t, -ENOENT,
                  "layer entry `passwd`: hard link target `/etc/passwd`: not found");

    tar_open(&t, PLAIN, false);
    tar_hardlink(&t, "out", "../outside");
    extract_fails(f, &t, -EINVAL, "hard link target `../outside`: path escapes the layer");

    tar_open(&t, PLAIN, false);
    tar_symlink(&t, "etc", "/etc");
    tar_hardlink(&t, "shadow", "etc/shadow");
    extract_fails(f, &t, -EINVAL, "hard link target `etc/shadow`: path escapes the layer");

    tar_open(&t, PLAIN, false);
    tar_dir(&t, "dir", 0755);
    tar_hardlink(&t, "dirlink", "dir");
    extract_fails(f, &t, -EPERM, "hard link target `dir`: a directory");
    assert_false(exists(f, "passwd"));
    assert_false(exists(f, "shadow"));
}

static void test_hardlink_to_escaping_symlink(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_symlink(&t, "s", f->sentinel);
    tar_hardlink(&t, "h", "s");
    /* a regular file over the link replaces it, never writes through it */
    tar_hardlink(&t, "h2", "s");
    tar_file(&t, "h2", 0644, "replaced");
    extract_ok(f, &t);
    struct stat s = lstat_at(f, "s"), h = lstat_at(f, "h");
    assert_true(S_ISLNK(h.st_mode));
    assert_int_equal(s.st_ino, h.st_ino);
    assert_content(f, "h2", "replaced");
    assert_true(S_ISLNK(lstat_at(f, "s").st_mode));

    tar_open(&t, PLAIN, false);
    tar_file(&t, "h/pwned", 0644, "pwned");
    extract_fails(f, &t, -EINVAL, "layer entry `h/pwned`: path escapes the layer");
}

static void test_long_name_refused(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    char *name = xmalloc(5001);
    for (size_t i = 0; i < 5000; i++)
        name[i] = i % 100 == 99 ? '/' : 'n';
    name[5000] = '\0';
    tar_open(&t, PLAIN, false);
    tar_file(&t, name, 0644, "x");
    extract_fails(f, &t, -ENAMETOOLONG, "name longer than 4096 bytes");
    /* the message quotes only the start of the name */
    assert_true(strlen(f->msg) < 400);
    free(name);
    assert_int_equal(count_entries(f->dest_path), 0);
}

static void test_max_entries(void **state)
{
    struct fixture *f = *state;
    struct storage_extract_opts opts = {.max_entries = 3};
    struct tar t;
    tar_open(&t, PLAIN, false);
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d", i);
        tar_file(&t, name, 0644, "x");
    }
    assert_int_equal(extract_opts(f, &t, &opts), -E2BIG);
    assert_non_null(strstr(f->msg, "layer entry `f3`: layer has more than 3 entries"));
    assert_int_equal(f->stats.entries, 3);
    assert_false(exists(f, "f3"));
}

static void test_max_bytes(void **state)
{
    struct fixture *f = *state;
    struct storage_extract_opts opts = {.max_bytes = 10};
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "a", 0644, "123456");
    tar_file(&t, "b", 0644, "1234");
    tar_file(&t, "c", 0644, "1");
    assert_int_equal(extract_opts(f, &t, &opts), -EFBIG);
    assert_non_null(strstr(f->msg, "layer entry `c`: layer content larger than 10 bytes"));
    assert_int_equal(f->stats.bytes, 10);
    assert_content(f, "b", "1234");
    assert_false(exists(f, "c"));
}

/* A floor of free space no filesystem meets: the first content written stops the layer. */
static void test_min_free(void **state)
{
    struct fixture *f = *state;
    struct storage_extract_opts opts = {.min_free = UINT64_C(1) << 60};
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_dir(&t, "d", 0755);
    tar_file(&t, "d/a", 0644, "123456");
    assert_int_equal(extract_opts(f, &t, &opts), -ENOSPC);
    assert_non_null(strstr(f->msg, "layer entry `d/a`: the image filesystem has "));
    assert_non_null(strstr(f->msg, " bytes free, less than the 1152921504606846976 bytes "
                                   "min_free_space keeps"));
    opts.min_free = 1; /* met */
    tar_open(&t, PLAIN, false);
    tar_file(&t, "b", 0644, "1234");
    assert_int_equal(extract_opts(f, &t, &opts), 0);
    assert_content(f, "b", "1234");
}

static void test_not_a_tar(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, true);
    tar_file(&t, "inzip", 0644, "zip content");
    assert_int_equal(extract_opts(f, &t, NULL), -EINVAL);
    assert_string_equal(f->msg, "not a tar archive");

    uint8_t noise[4096];
    uint32_t s = 12345;
    for (size_t i = 0; i < sizeof(noise); i++) {
        s = s * 1103515245 + 12345;
        noise[i] = (uint8_t)(s >> 16);
    }
    assert_int_equal(extract_buf(f, noise, sizeof(noise), NULL), -EINVAL);
    assert_string_equal(f->msg, "not a tar archive");
    assert_int_equal(extract_buf(f, "", 0, NULL), -EINVAL);
    assert_int_equal(count_entries(f->dest_path), 0);
}

static void test_truncated_archive(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    char content[3000];
    memset(content, 'c', sizeof(content) - 1);
    content[sizeof(content) - 1] = '\0';
    tar_open(&t, PLAIN, false);
    tar_file(&t, "first", 0644, "ok");
    tar_file(&t, "big", 0644, content);
    tar_close(&t);
    /* cut in the middle of big's content, then in the middle of its header */
    size_t cuts[] = {t.out.len - 1024 - 1500, 1024 + 200};
    for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
        int r = extract_buf(f, t.out.data, cuts[i], NULL);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(f->msg, "runcated"));
    }
    assert_non_null(strstr(f->msg, "after entry `first`"));
    buf_done(&t.out);

    tar_open(&t, GZIP, false);
    tar_file(&t, "gz", 0644, content);
    tar_close(&t);
    assert_true(extract_buf(f, t.out.data, t.out.len / 2, NULL) < 0);
    buf_done(&t.out);
}

static void test_negative_size_refused(void **state)
{
    struct fixture *f = *state;
    uint8_t block[1536] = {0};
    memcpy(block, "neg", 3);
    memcpy(block + 100, "0000644", 7);
    memcpy(block + 108, "0000000", 7);
    memcpy(block + 116, "0000000", 7);
    memset(block + 124, 0xff, 12); /* base-256: -1 */
    memcpy(block + 136, "00000000000", 11);
    block[156] = '0';
    memcpy(block + 257,
           "ustar\0"
           "00",
           8);
    memset(block + 148, ' ', 8);
    unsigned sum = 0;
    for (size_t i = 0; i < 512; i++)
        sum += block[i];
    snprintf((char *)block + 148, 8, "%06o", sum);
    assert_true(extract_buf(f, block, sizeof(block), NULL) < 0);
    assert_false(exists(f, "neg"));
}

static void test_invalid_owner_refused(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    struct archive_entry *e = entry("owned", AE_IFREG, 0644);
    archive_entry_set_uid(e, 4294967295LL);
    tar_put(&t, e, "x");
    extract_fails(f, &t, -EINVAL, "layer entry `owned`: invalid owner 4294967295:0");
}

static void test_parent_not_a_directory(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "file", 0644, "x");
    tar_file(&t, "file/below", 0644, "x");
    extract_fails(f, &t, -ENOTDIR, "layer entry `file/below`: a parent is not a directory");
}

static void test_root_must_be_directory(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_symlink(&t, ".", "/");
    extract_fails(f, &t, -EINVAL, "layer entry `.`: the layer root must be a directory");
    tar_open(&t, PLAIN, false);
    tar_file(&t, "a", 0644, "a");
    tar_hardlink(&t, "/.", "a");
    extract_fails(f, &t, -EINVAL, "layer entry `/.`: the layer root must be a directory");
}

static void test_sparse_file(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    /* the writer takes the logical content and leaves out the holes of the sparse map */
    char *data = xcalloc(1, 1 << 20);
    memset(data, 's', 4096);
    memset(data + 512 * 1024, 's', 4096);
    tar_open(&t, PLAIN, false);
    struct archive_entry *e = entry("sparse", AE_IFREG, 0644);
    archive_entry_set_size(e, 1 << 20);
    archive_entry_sparse_add_entry(e, 0, 4096);
    archive_entry_sparse_add_entry(e, 512 * 1024, 4096);
    assert_int_equal(archive_write_header(t.a, e), ARCHIVE_OK);
    assert_int_equal(archive_write_data(t.a, data, 1 << 20), 1 << 20);
    archive_entry_free(e);
    free(data);
    tar_close(&t);
    assert_true(t.out.len < 64 * 1024);
    assert_int_equal(extract_buf(f, t.out.data, t.out.len, NULL), 0);
    buf_done(&t.out);
    struct stat st = lstat_at(f, "sparse");
    assert_int_equal(st.st_size, 1 << 20);
    int fd = openat(f->dest, "sparse", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    char c = 0;
    assert_int_equal(pread(fd, &c, 1, 4096), 1);
    assert_int_equal(c, 0);
    assert_int_equal(pread(fd, &c, 1, 512 * 1024 + 10), 1);
    assert_int_equal(c, 's');
    close(fd);
}

static void test_extract_fd(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, ZSTD, false);
    tar_file(&t, "from/fd", 0644, "streamed");
    tar_close(&t);
    int fd = memfd_create("layer", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, t.out.data, t.out.len), (ssize_t)t.out.len);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    buf_done(&t.out);
    struct err err = ERR_INIT;
    struct storage_extract_stats stats;
    assert_int_equal(storage_extract_fd(fd, f->dest, NULL, &stats, &err), 0);
    assert_int_equal(stats.entries, 1);
    assert_content(f, "from/fd", "streamed");

    /* an unreadable fd is an error, not a crash */
    assert_true(storage_extract_fd(-1, f->dest, NULL, NULL, &err) < 0);
    assert_non_null(err.msg);
    err_done(&err);
    close(fd);
}

static void test_stats(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, GZIP, false);
    tar_dir(&t, "./", 0755);
    tar_file(&t, "a", 0644, "12345");
    tar_file(&t, "b", 0644, "678");
    tar_file(&t, ".wh.c", 0644, NULL);
    tar_file(&t, "d/.wh..wh..opq", 0644, NULL);
    tar_symlink(&t, "e", "a");
    extract_ok(f, &t);
    assert_int_equal(f->stats.entries, 6);
    assert_int_equal(f->stats.bytes, 8);
    assert_int_equal(f->stats.whiteouts, 1);
    assert_int_equal(f->stats.opaque_dirs, 1);
}

static void test_deep_tree_replaced_with_few_fds(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    char name[1024] = "top";
    tar_open(&t, PLAIN, false);
    for (int i = 0; i < 300; i++)
        strcat(name, "/d");
    strcat(name, "/file");
    tar_file(&t, name, 0644, "deep");
    tar_file(&t, "top", 0644, "flat");
    /* the removal of a 300-deep tree must not hold one fd per level */
    struct rlimit old, low;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    low = old;
    low.rlim_cur = 32;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    int r = extract_opts(f, &t, NULL);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    if (r < 0)
        fail_msg("extraction failed: %s", f->msg);
    assert_content(f, "top", "flat");
}

static void test_bad_whiteout_names(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "d/.wh..", 0644, NULL);
    extract_fails(f, &t, -EINVAL, "layer entry `d/.wh..`: whiteout without a name");
    tar_open(&t, PLAIN, false);
    tar_file(&t, "d/.wh...", 0644, NULL);
    extract_fails(f, &t, -EINVAL, "layer entry `d/.wh...`: path escapes the layer");
    tar_open(&t, PLAIN, false);
    tar_file(&t, ".wh.", 0644, NULL);
    extract_fails(f, &t, -EINVAL, "whiteout without a name");
}

static void test_hardlink_to_itself(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    tar_open(&t, PLAIN, false);
    tar_file(&t, "f", 0644, "same");
    tar_hardlink(&t, "./f", "f");
    tar_file(&t, "g", 0644, "g");
    tar_hardlink(&t, "h", "g");
    tar_hardlink(&t, "h", "g");
    extract_ok(f, &t);
    assert_content(f, "f", "same");
    assert_int_equal(lstat_at(f, "f").st_nlink, 1);
    assert_int_equal(lstat_at(f, "g").st_nlink, 2);
}

static void test_long_symlink_target_refused(void **state)
{
    struct fixture *f = *state;
    struct tar t;
    char *target = xmalloc(4200);
    memset(target, 'x', 4199);
    target[4199] = '\0';
    tar_open(&t, PLAIN, false);
    tar_symlink(&t, "l", target);
    free(target);
    extract_fails(f, &t, -ENAMETOOLONG, "layer entry `l`: symlink target longer than 4096 bytes");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_regular_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setuid_kept_after_chown, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directories_and_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_kept_as_is, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_parents_created, setup, teardown),
        cmocka_unit_test_setup_teardown(test_name_prefixes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_name_lands_inside, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_over_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_over_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_over_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dir_over_dir_keeps_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whiteout_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whiteout_of_absent_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_opaque_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_xattrs_and_capability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlay_xattr_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_compressed_twice_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_component_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_escape_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_inside_followed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_parent_chain_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlink_outside_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlink_to_escaping_symlink, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_name_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_min_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_tar, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_archive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_negative_size_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_owner_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parent_not_a_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_must_be_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extract_fd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_tree_replaced_with_few_fds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_whiteout_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hardlink_to_itself, setup, teardown),
        cmocka_unit_test_setup_teardown(test_long_symlink_target_refused, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("openat2", tests, NULL, NULL);
    if (wrapped_calls == 0) {
        printf("# resolution walk: skipped, not linked with -Wl,--wrap=syscall\n");
        return failed;
    }
    return failed + cmocka_run_group_tests_name("resolution walk", tests, without_openat2, NULL);
}
