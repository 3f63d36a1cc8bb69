/* libFuzzer target for the layer extractor: extract the input into a temp dir, check that nothing
 * appeared outside it (a sentinel directory beside it stays empty) and no fd leaked, empty it. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "storage/extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* base/dest receives each layer; base/sentinel and base itself must never change. */
static char base[64], dest[96], sentinel[96];

static void check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_extract: %s\n", what);
        abort();
    }
}

static void cleanup_base(void)
{
    rmdir(dest);
    rmdir(sentinel);
    rmdir(base);
}

static void init(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(base, sizeof(base), "%s/crib-fuzz-extract-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    check(mkdtemp(base) != NULL, "mkdtemp");
    snprintf(dest, sizeof(dest), "%s/dest", base);
    snprintf(sentinel, sizeof(sentinel), "%s/sentinel", base);
    check(mkdir(dest, 0755) == 0 && mkdir(sentinel, 0755) == 0, "mkdir");
    atexit(cleanup_base);
}

/* Entries of a directory other than "." and "..", or -1. */
static long count_entries(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    long n = 0;
    struct dirent *de;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while ((de = readdir(d)))
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static long count_path(const char *path)
{
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    check(fd >= 0, "open a checked directory");
    long n = count_entries(fd);
    close(fd);
    return n;
}

/* Remove everything below dirfd, depth first, never following a symlink. */
static void empty_dir(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    check(fd >= 0, "open a directory to empty");
    DIR *d = fdopendir(fd);
    check(d != NULL, "fdopendir");
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        struct stat st;
        check(fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0, "stat for removal");
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            check(sub >= 0, "open a subdirectory to empty");
            empty_dir(sub);
            close(sub);
        }
        check(unlinkat(dirfd, de->d_name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) == 0,
              "remove an extracted entry");
    }
    closedir(d);
}

static long count_fds(void)
{
    return count_path("/proc/self/fd");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base[0])
        init();
    /* devices allowed to reach every path; small limits keep decompression bombs fast */
    struct storage_extract_opts opts = {
        .allow_devices = true,
        .max_entries = 4096,
        .max_bytes = 8 << 20,
    };
    struct storage_extract_stats stats;
    struct err err = ERR_INIT;
    int fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    check(fd >= 0, "open dest");
    long fds = count_fds();

    int r = storage_extract_buffer(data, size, fd, &opts, &stats, &err);
    check(r <= 0, "positive return");
    check(r == 0 ? err.code == 0 : err.code == r && err.msg != NULL, "error not set as returned");
    check(stats.entries <= opts.max_entries && stats.bytes <= opts.max_bytes, "limits ignored");
    check(count_fds() == fds, "fd leaked");
    check(count_path(sentinel) == 0, "wrote into the sentinel beside dest");
    check(count_path(base) == 2, "wrote beside dest");
    err_done(&err);

    empty_dir(fd);
    /* the root's metadata may have been changed by a "./" entry */
    check(fchmod(fd, 0755) == 0, "reset dest mode");
    close(fd);
    return 0;
}
