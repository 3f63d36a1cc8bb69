/* Container root filesystems: a writable overlay layer per container over its image's layers. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/macro.h"
#include "storage/storage-internal.h"
#include "storage/storage.h"

/* mount(2) takes one page of options. */
#define OVERLAY_OPTS_MAX 4000

static char *container_dir(struct storage *s, const char *id)
{
    return xasprintf("%s/overlay-containers/%s", s->root, id);
}

/* An overlay has a device number of its own: the mount point then differs from its parent. */
static bool is_mounted(const char *path, const char *parent)
{
    struct stat a, b;
    return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

int storage_rootfs_mount(struct storage *s, const char *id, char *const *layers, size_t n,
                         char **ret_path, struct err *err)
{
    cleanup_free char *dir = container_dir(s, id);
    cleanup_free char *upper = xasprintf("%s/upper", dir);
    cleanup_free char *work = xasprintf("%s/work", dir);
    cleanup_free char *empty = xasprintf("%s/empty", dir);
    char *merged = xasprintf("%s/merged", dir);
    int r = 0;
    const char *dirs[] = {upper, work, empty, merged};
    for (size_t i = 0; i < 4 && r == 0; i++)
        r = fs_mkdir_p(dirs[i], 0700);
    /* The container's processes need to reach their root, whatever their uid: the overlay's
     * root directory takes the upper directory's mode. */
    if (r == 0 && (chmod(dir, 0711) < 0 || chmod(merged, 0755) < 0 || chmod(upper, 0755) < 0))
        r = -errno;
    if (r < 0) {
        err_set(err, r, "container directory %s: %s", dir, strerror(-r));
        free(merged);
        return r;
    }
    if (!is_mounted(merged, dir)) {
        struct buf opts = {0};
        buf_puts(&opts, "lowerdir=");
        if (n == 0)
            buf_puts(&opts, empty);
        for (size_t i = n; i-- > 0;) {
            cleanup_free char *ld = storage_layer_dir(s, layers[i]);
            if (access(ld, F_OK) < 0) {
                r = err_set(err, -ENOENT, "layer %s of the image is missing", layers[i]);
                break;
            }
            buf_printf(&opts, "%s%s", i == n - 1 ? "" : ":", ld);
        }
        buf_printf(&opts, ",upperdir=%s,workdir=%s", upper, work);
        buf_append(&opts, "", 1);
        if (r == 0 && opts.len > OVERLAY_OPTS_MAX)
            r = err_set(err, -E2BIG, "the image has too many layers (%zu) for one overlay mount",
                        n);
        if (r == 0 && mount("overlay", merged, "overlay", 0, (char *)opts.data) < 0)
            r = err_set(err, -errno, "mount overlay at %s: %s", merged, strerror(errno));
        buf_done(&opts);
        if (r < 0) {
            free(merged);
            return r;
        }
    }
    for (size_t i = 0; i < n; i++)
        storage_layer_ref(s, layers[i]);
    *ret_path = merged;
    return 0;
}

int storage_rootfs_remove(struct storage *s, const char *id, char *const *layers, size_t n)
{
    int r = 0;
    cleanup_free char *dir = container_dir(s, id);
    cleanup_free char *merged = xasprintf("%s/merged", dir);
    if (umount2(merged, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        r = -errno;
    if (access(dir, F_OK) == 0)
        storage_remove_later(s, dir, id);
    for (size_t i = 0; i < n; i++)
        storage_layer_unref(s, layers[i]);
    return r;
}

char *storage_rootfs_upper(struct storage *s, const char *id)
{
    return xasprintf("%s/overlay-containers/%s/upper", s->root, id);
}
