/* Blocking file helpers for pool threads and start-up: atomic writes, whole-file reads,
 * recursive removal, directory creation, disk usage. */
#ifndef CRIB_COMMON_FSUTIL_H
#define CRIB_COMMON_FSUTIL_H

#include <linux/openat2.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"

/* Write data to path atomically: a temporary file in the same directory, fsync, rename, fsync
 * of the directory. */
int fs_write_atomic(const char *path, const void *data, size_t len, unsigned mode);
/* Call fn for each record in dir, the files named *.json, in name order: text is the file's
 * (NUL-terminated), or NULL with read_error (-EFBIG past max) when it cannot be read. The
 * temporary files of writes that a crash interrupted (fs_write_atomic's) are removed. A missing
 * dir has no records; another failure to read it is -errno. */
typedef void (*fs_record_fn)(const char *path, const char *text, int read_error, void *data);
int fs_load_records(const char *dir, size_t max, fs_record_fn fn, void *data);
/* The names in dir (no "." or ".."), sorted, NULL-terminated (free each, then the array); an
 * empty array when dir cannot be read. */
char **fs_dir_names(const char *dir);
/* The path of the running binary (/proc/self/exe), or "" when it cannot be read. */
char *fs_self_exe(void);
/* Write all of data to fd (retrying short writes and EINTR); 0 or -errno. */
int fs_write_all(int fd, const void *data, size_t len);
/* Write data to path, created or truncated, without fsync: small files under the run root
 * (bundles, pod files), which a reboot discards anyway. */
int fs_write_file(const char *path, const void *data, size_t len, unsigned mode);
/* Read a whole file of at most max bytes into out (NUL-terminated). -EFBIG when larger. */
int fs_read_file(const char *path, size_t max, struct buf *out);
/* The same from an open fd, read to its end. */
int fs_read_fd(int fd, size_t max, struct buf *out);
/* Close each of the n fds that is open (>= 0) and set it to -1. */
void fs_close_fds(int *fds, size_t n);
/* mkdir -p with mode for the directories it creates. */
int fs_mkdir_p(const char *path, unsigned mode);
/* Open for appending (and reading back) the regular file rel beneath the directory base, making it
 * (mode) and the directories of rel that are missing (dir_mode): no symlink in rel is followed,
 * ".." is refused and an existing file that is not regular is -EINVAL without being opened, so a
 * directory that a workload can write to cannot send the write elsewhere. base itself is trusted.
 */
int fs_append_beneath(const char *base, const char *rel, unsigned mode, unsigned dir_mode);
/* Open path beneath the directory fd root as openat2(2) does with resolve (RESOLVE_* flags; one
 * of RESOLVE_BENEATH and RESOLVE_IN_ROOT, else -EINVAL), O_CLOEXEC added to flags; mode counts
 * only with O_CREAT or O_TMPFILE. Kernels without openat2 get the same rules walked by hand:
 * under RESOLVE_BENEATH an absolute path or symlink or a ".." above root is -EXDEV, under
 * RESOLVE_IN_ROOT ".." stops at root and an absolute symlink starts again from it; more than 40
 * symlinks is -ELOOP, a path or link target of PATH_MAX bytes or more -ENAMETOOLONG. Returns the
 * fd or -errno. Blocking: pool threads and start-up only. */
int fs_open_beneath(int root, const char *path, int flags, mode_t mode, uint64_t resolve);
/* Mark every open fd from lowfd up close-on-exec: what we inherited, and what a library opened
 * without O_CLOEXEC, must not reach our children. */
void fs_cloexec_from(int lowfd);
/* Fields of /proc/PID/stat: the state (R, S, Z, ...), the parent, and the start time in clock
 * ticks since boot (with the pid it names a process across pid reuse). */
struct fs_proc_stat {
    char state;
    int ppid;
    long long start_time;
};
int fs_proc_stat_read(int pid, struct fs_proc_stat *ret);
/* rm -rf that never follows symlinks and stays on one file system. Missing is fine. */
int fs_remove_tree(const char *path);
/* The mount point of the file system path is on (path resolved; walked up while the device
 * stays the same). NULL when path cannot be resolved. */
char *fs_mount_point(const char *path);
/* Bytes (allocated blocks) and inodes used below path, counting hard links once. */
int fs_usage(const char *path, uint64_t *ret_bytes, uint64_t *ret_inodes);

#endif
