/* The layer extractor: an OCI/Docker image layer (a tar stream, optionally gzip- or
 * zstd-compressed) written below a directory in overlayfs form, safe against path escapes. */
#ifndef CRIB_STORAGE_EXTRACT_H
#define CRIB_STORAGE_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Limits and policy of one extraction; a NULL opts means all defaults. */
struct storage_extract_opts {
    bool allow_devices;   /* char/block device and fifo entries (other than whiteouts) allowed */
    uint64_t max_entries; /* 0 = default 1,000,000 */
    uint64_t max_bytes;   /* total size of regular file content; 0 = default 64 GiB */
    uint64_t min_free;    /* stop (-ENOSPC) when dest's filesystem has fewer bytes free; 0 off */
};

/* What one extraction did (also filled as far as it got when it fails). */
struct storage_extract_stats {
    uint64_t entries;     /* archive entries read, whiteouts and skipped sockets included */
    uint64_t bytes;       /* declared size of regular file content */
    uint64_t whiteouts;   /* `.wh.NAME` entries turned into 0/0 character devices */
    uint64_t opaque_dirs; /* `.wh..wh..opq` entries turned into trusted.overlay.opaque=y */
};

/* Read a layer (tar, optionally gzip- or zstd-compressed: detect from the content, not a media
 * type) from fd and write it below the directory dest_dirfd, converting OCI whiteouts to
 * overlayfs form. Blocking: the daemon runs this on a thread-pool thread. On failure the caller
 * removes dest (whatever was partially written stays inside it). ret_stats may be NULL. */
int storage_extract_fd(int fd, int dest_dirfd, const struct storage_extract_opts *opts,
                       struct storage_extract_stats *ret_stats, struct err *err);

/* The same from a memory buffer (tests, fuzzing). */
int storage_extract_buffer(const void *data, size_t len, int dest_dirfd,
                           const struct storage_extract_opts *opts,
                           struct storage_extract_stats *ret_stats, struct err *err);

#endif
