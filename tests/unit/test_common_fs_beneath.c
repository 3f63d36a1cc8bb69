/* Unit tests for fs_open_beneath: "..", absolute and relative symlinks inside and pointing out,
 * loops, non-directories, NO_SYMLINKS, NO_XDEV and magic links, under RESOLVE_BENEATH and
 * RESOLVE_IN_ROOT; every case runs twice, through openat2 and through the hand walk (openat2
 * made to answer ENOSYS as on a kernel before 5.6). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"
#include "openat2-switch.h"

#define TMPDIR_TEMPLATE "/tmp/test_common_fs_beneath.XXXXXX"
static char tmpdir[] = TMPDIR_TEMPLATE;
static int root = -1;

/* Linked with -Wl,--wrap=syscall and openat2-switch.c. */

static void write_at(const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void link_at(const char *target, const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
    assert_int_equal(symlink(target, path), 0);
}

/* tmpdir/outside is what an escape would reach; tmpdir/root is the root:
 *   file  a/b/file  rel -> a/b  a/up -> ../file  abs -> /a/b/file  esc -> ../outside
 *   escabs -> <tmpdir>/outside  loop1 -> loop2 -> loop1  chain -> abs */
static int setup(void **state UNUSED)
{
    char path[512];
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(path, sizeof(path), "%s/root/a/b", tmpdir);
    if (fs_mkdir_p(path, 0755) < 0)
        return -1;
    write_at("outside", "out");
    write_at("root/file", "top");
    write_at("root/a/b/file", "deep");
    link_at("a/b", "root/rel");
    link_at("../file", "root/a/up");
    link_at("/a/b/file", "root/abs");
    link_at("../outside", "root/esc");
    snprintf(path, sizeof(path), "%s/outside", tmpdir);
    link_at(path, "root/escabs");
    link_at("loop2", "root/loop1");
    link_at("loop1", "root/loop2");
    link_at("abs", "root/chain");
    snprintf(path, sizeof(path), "%s/root", tmpdir);
    root = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return root < 0 ? -1 : 0;
}

static int teardown(void **state UNUSED)
{
    closep(&root);
    root = -1;
    fs_remove_tree(tmpdir);
    strcpy(tmpdir, TMPDIR_TEMPLATE);
    return 0;
}

static int with_openat2(void **state UNUSED)
{
    no_openat2 = false;
    return 0;
}

static int without_openat2(void **state UNUSED)
{
    no_openat2 = true;
    return 0;
}

#define BENEATH (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
#define IN_ROOT (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)

/* path opened beneath the root reads text. */
static void expect_text(const char *path, uint64_t resolve, const char *text)
{
    unsigned calls = openat2_calls;
    cleanup_close int fd = fs_open_beneath(root, path, O_RDONLY, 0, resolve);
    if (fd < 0)
        fail_msg("%s: %s", path, strerror(-fd));
    char got[64] = "";
    ssize_t n = read(fd, got, sizeof(got) - 1);
    assert_true(n >= 0);
    got[n] = '\0';
    assert_string_equal(got, text);
    assert_true(openat2_calls > calls);
}

static void expect_error(const char *path, uint64_t resolve, int flags, int error)
{
    int fd = fs_open_beneath(root, path, flags, 0, resolve);
    if (fd >= 0)
        close(fd);
    if (fd != error)
        fail_msg("%s: %s, expected %s", path, fd < 0 ? strerror(-fd) : "opened", strerror(-error));
}

/* path opened beneath the root is the directory rel of the tree. */
static void expect_dir(const char *path, uint64_t resolve, const char *rel)
{
    struct stat want, got;
    char full[512];
    snprintf(full, sizeof(full), "%s/%s", tmpdir, rel);
    assert_int_equal(stat(full, &want), 0);
    cleanup_close int fd = fs_open_beneath(root, path, O_RDONLY | O_DIRECTORY, 0, resolve);
    if (fd < 0)
        fail_msg("%s: %s", path, strerror(-fd));
    assert_int_equal(fstat(fd, &got), 0);
    assert_true(got.st_dev == want.st_dev && got.st_ino == want.st_ino);
}

static void test_dotdot_at_root(void **state UNUSED)
{
    expect_error("..", BENEATH, O_RDONLY, -EXDEV);
    expect_error("../file", BENEATH, O_RDONLY, -EXDEV);
    expect_error("a/../../file", BENEATH, O_RDONLY, -EXDEV);
    expect_error("../root/file", BENEATH, O_RDONLY, -EXDEV);
    /* IN_ROOT: the root is its own parent. */
    expect_dir("..", IN_ROOT, "root");
    expect_dir("../../..", IN_ROOT, "root");
    expect_text("../file", IN_ROOT, "top");
    expect_text("a/../../../file", IN_ROOT, "top");
    expect_error("../outside", IN_ROOT, O_RDONLY, -ENOENT);
}

static void test_dotdot_below_root(void **state UNUSED)
{
    for (int i = 0; i < 2; i++) {
        uint64_t resolve = i ? IN_ROOT : BENEATH;
        expect_text("a/b/../../file", resolve, "top");
        expect_text("a/../a/b/file", resolve, "deep");
        expect_text("./a//b/./file", resolve, "deep");
        expect_dir("a/b/..", resolve, "root/a");
        expect_dir("a/b/../", resolve, "root/a");
        expect_dir(".", resolve, "root");
    }
}

static void test_absolute_path(void **state UNUSED)
{
    expect_error("/file", BENEATH, O_RDONLY, -EXDEV);
    expect_text("/file", IN_ROOT, "top");
    expect_text("//a/b/file", IN_ROOT, "deep");
    expect_dir("/", IN_ROOT, "root");
}

static void test_relative_symlinks(void **state UNUSED)
{
    for (int i = 0; i < 2; i++) {
        uint64_t resolve = i ? IN_ROOT : BENEATH;
        expect_text("rel/file", resolve, "deep");
        expect_text("a/up", resolve, "top");
        expect_dir("rel", resolve, "root/a/b");
        expect_dir("rel/", resolve, "root/a/b");
        expect_text("rel/../up", resolve, "top");
    }
    /* Pointing out: an escape beneath, the root's own parent in the root. */
    expect_error("esc", BENEATH, O_RDONLY, -EXDEV);
    expect_error("esc", IN_ROOT, O_RDONLY, -ENOENT);
    write_at("root/outside", "inside");
    expect_text("esc", IN_ROOT, "inside");
    expect_error("esc", BENEATH, O_RDONLY, -EXDEV);
}

static void test_absolute_symlinks(void **state UNUSED)
{
    expect_error("abs", BENEATH, O_RDONLY, -EXDEV);
    expect_error("chain", BENEATH, O_RDONLY, -EXDEV);
    expect_text("abs", IN_ROOT, "deep");
    expect_text("chain", IN_ROOT, "deep");
    expect_text("a/b/../../abs", IN_ROOT, "deep");
    /* The host path the link names is looked for inside the root. */
    expect_error("escabs", BENEATH, O_RDONLY, -EXDEV);
    expect_error("escabs", IN_ROOT, O_RDONLY, -ENOENT);
    char mirror[512];
    snprintf(mirror, sizeof(mirror), "%s/root%s", tmpdir, tmpdir);
    assert_int_equal(fs_mkdir_p(mirror, 0755), 0);
    snprintf(mirror, sizeof(mirror), "root%s/outside", tmpdir);
    write_at(mirror, "mirror");
    expect_text("escabs", IN_ROOT, "mirror");
}

static void test_symlink_loop(void **state UNUSED)
{
    for (int i = 0; i < 2; i++) {
        uint64_t resolve = i ? IN_ROOT : BENEATH;
        expect_error("loop1", resolve, O_RDONLY, -ELOOP);
        expect_error("loop2/file", resolve, O_RDONLY, -ELOOP);
        expect_error("a/b/../../loop1/x", resolve, O_PATH, -ELOOP);
    }
}

static void test_not_a_directory(void **state UNUSED)
{
    for (int i = 0; i < 2; i++) {
        uint64_t resolve = i ? IN_ROOT : BENEATH;
        expect_error("file/x", resolve, O_RDONLY, -ENOTDIR);
        expect_error("file/", resolve, O_RDONLY, -ENOTDIR);
        expect_error("a/b/file/..", resolve, O_RDONLY, -ENOTDIR);
        expect_error("file", resolve, O_RDONLY | O_DIRECTORY, -ENOTDIR);
        expect_error("missing/x", resolve, O_RDONLY, -ENOENT);
        expect_error("a/missing", resolve, O_RDONLY, -ENOENT);
    }
}

/* What the layer extractor asks for: no symlink at all, the last one kept with O_NOFOLLOW. */
static void test_no_symlinks(void **state UNUSED)
{
    uint64_t resolve = BENEATH | RESOLVE_NO_SYMLINKS;
    expect_error("rel/file", resolve, O_RDONLY, -ELOOP);
    expect_error("rel", resolve, O_RDONLY | O_DIRECTORY, -ELOOP);
    expect_text("a/b/file", resolve, "deep");
    cleanup_close int fd = fs_open_beneath(root, "abs", O_PATH | O_NOFOLLOW, 0, resolve);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
}

/* /proc is a mount of its own, and its fd links are magic. */
static void test_no_xdev_and_magic_links(void **state UNUSED)
{
    cleanup_close int slash = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(slash >= 0);
    int fd = fs_open_beneath(slash, "proc/self", O_PATH, 0, BENEATH | RESOLVE_NO_XDEV);
    assert_int_equal(fd, -EXDEV);
    fd = fs_open_beneath(slash, "proc", O_PATH, 0, BENEATH);
    assert_true(fd >= 0);
    close(fd);

    cleanup_close int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(proc >= 0);
    fd = fs_open_beneath(proc, "self/fd/0", O_PATH, 0, BENEATH);
    assert_int_equal(fd, -ELOOP);
    fd = fs_open_beneath(proc, "self/cwd/", O_PATH, 0, IN_ROOT);
    assert_int_equal(fd, -ELOOP);
}

static void test_creates(void **state UNUSED)
{
    cleanup_close int fd =
        fs_open_beneath(root, "rel/new", O_WRONLY | O_CREAT | O_EXCL, 0600, BENEATH);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
    char path[512];
    snprintf(path, sizeof(path), "%s/root/a/b/new", tmpdir);
    assert_int_equal(access(path, F_OK), 0);
    /* O_EXCL follows no last symlink, even a dangling one. */
    expect_error("rel", BENEATH, O_WRONLY | O_CREAT | O_EXCL, -EEXIST);
    expect_error("esc", IN_ROOT, O_WRONLY | O_CREAT | O_EXCL, -EEXIST);
    expect_error("newdir/", BENEATH, O_WRONLY | O_CREAT, -EISDIR);
    expect_error("../new", BENEATH, O_WRONLY | O_CREAT, -EXDEV);
}

static void test_limits(void **state UNUSED)
{
    char *longp = malloc(PATH_MAX + 1);
    assert_non_null(longp);
    for (size_t i = 0; i < PATH_MAX; i += 2)
        memcpy(longp + i, "./", 2);
    longp[PATH_MAX] = '\0';
    expect_error(longp, BENEATH, O_RDONLY, -ENAMETOOLONG);
    longp[PATH_MAX - 2] = '\0';
    expect_dir(longp, BENEATH, "root");
    free(longp);
    expect_error("", BENEATH, O_RDONLY, -ENOENT);
    expect_error("file", 0, O_RDONLY, -EINVAL);
    expect_error("file", RESOLVE_BENEATH | RESOLVE_IN_ROOT, O_RDONLY, -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dotdot_at_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot_below_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_loop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_symlinks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_xdev_and_magic_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
    };
    int failed = cmocka_run_group_tests_name("openat2", tests, with_openat2, NULL);
    return failed + cmocka_run_group_tests_name("hand walk", tests, without_openat2, NULL);
}
