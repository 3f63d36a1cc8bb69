/* The files and mounts a pod keeps under its run directory: hostname, hosts, resolv.conf (bound
 * into each container), the /dev/shm tmpfs, and their removal. Small files and single mounts,
 * inline on the loop. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/macro.h"
#include "network/network.h"

#define SHM_SIZE "65536k"
#define NSFS_MAGIC_ 0x6e736673
#define TMPFS_MAGIC_ 0x01021994

static int write_small(const char *path, const char *text, struct err *err)
{
    /* A few hundred bytes into a fresh file under the run root: a fast write, inline. */
    int r = fs_write_file(path, text, strlen(text), 0644);
    return r < 0 ? err_set(err, r, "write %s: %s", path, strerror(-r)) : 0;
}

const char *network_pod_files_hostname(bool host_network, const char *wanted, char *buf, size_t len)
{
    if (host_network) {
        if (gethostname(buf, len) == 0)
            return buf;
        return "localhost";
    }
    if (wanted && *wanted)
        return wanted;
    /* As containerd does: the pod's name may be longer than a hostname can be (64). */
    if (gethostname(buf, len) == 0)
        return buf;
    return "localhost";
}

static int write_hosts(const char *dir, const char *hostname, char *const *ips, size_t n_ips,
                       struct err *err)
{
    struct buf hosts = {0};
    buf_puts(&hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (size_t i = 0; i < n_ips; i++)
        buf_printf(&hosts, "%s\t%s\n", ips[i], hostname);
    cleanup_free char *path = xasprintf("%s/hosts", dir);
    int r = write_small(path, (const char *)hosts.data, err);
    buf_done(&hosts);
    return r;
}

static int write_resolv(const char *dir, const struct network_dns *dns, struct err *err)
{
    struct buf resolv = {0};
    if (dns && (dns->n_servers || dns->n_searches || dns->n_options)) {
        if (dns->n_searches) {
            buf_puts(&resolv, "search");
            for (size_t i = 0; i < dns->n_searches; i++)
                buf_printf(&resolv, " %s", dns->searches[i]);
            buf_puts(&resolv, "\n");
        }
        for (size_t i = 0; i < dns->n_servers; i++)
            buf_printf(&resolv, "nameserver %s\n", dns->servers[i]);
        if (dns->n_options) {
            buf_puts(&resolv, "options");
            for (size_t i = 0; i < dns->n_options; i++)
                buf_printf(&resolv, " %s", dns->options[i]);
            buf_puts(&resolv, "\n");
        }
    } else if (fs_read_file("/etc/resolv.conf", 64 * 1024, &resolv) < 0) {
        resolv.len = 0;
    }
    cleanup_free char *path = xasprintf("%s/resolv.conf", dir);
    buf_append(&resolv, "", 0);
    int r = write_small(path, (const char *)resolv.data, err);
    buf_done(&resolv);
    return r;
}

int network_pod_files_write(const char *dir, const char *hostname, char *const *ips, size_t n_ips,
                            const struct network_dns *dns, struct err *err)
{
    cleanup_free char *path = xasprintf("%s/hostname", dir);
    cleanup_free char *text = xasprintf("%s\n", hostname);
    int r = write_small(path, text, err);
    if (r < 0)
        return r;
    r = write_hosts(dir, hostname, ips, n_ips, err);
    if (r < 0)
        return r;
    return write_resolv(dir, dns, err);
}

int network_pod_files_mount_shm(const char *dir, struct err *err)
{
    cleanup_free char *shm = xasprintf("%s/shm", dir);
    if (mkdir(shm, 0755) < 0 && errno != EEXIST)
        return err_set(err, -errno, "create %s: %s", shm, strerror(errno));
    if (mount("shm", shm, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=" SHM_SIZE) <
        0)
        return err_set(err, -errno, "mount the pod's /dev/shm at %s: %s", shm, strerror(errno));
    return 0;
}

int network_pod_files_unmount_shm(const char *dir, struct err *err)
{
    cleanup_free char *shm = xasprintf("%s/shm", dir);
    if (umount2(shm, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return err_set(err, -errno, "unmount %s: %s", shm, strerror(errno));
    return 0;
}

int network_pod_files_remove(const char *dir, struct err *err)
{
    static const char *const files[] = {"hostname", "hosts", "resolv.conf"};
    static const char *const dirs[] = {"shm", "ns"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        cleanup_free char *f = xasprintf("%s/%s", dir, files[i]);
        unlink(f);
    }
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        cleanup_free char *d = xasprintf("%s/%s", dir, dirs[i]);
        rmdir(d);
    }
    if (rmdir(dir) < 0 && errno != ENOENT)
        return err_set(err, -errno, "remove %s: %s", dir, strerror(errno));
    return 0;
}

bool network_pod_files_gone(const char *dir, unsigned pinned, bool shm_mounted)
{
    static const struct {
        unsigned flag;
        const char *name;
    } pins[] = {{NETWORK_NS_NET, "net"}, {NETWORK_NS_IPC, "ipc"}, {NETWORK_NS_UTS, "uts"}};
    struct stat st;
    if (stat(dir, &st) < 0)
        return true;
    struct statfs fs;
    for (size_t i = 0; i < ARRAY_SIZE(pins); i++) {
        if (!(pinned & pins[i].flag))
            continue;
        cleanup_free char *path = xasprintf("%s/ns/%s", dir, pins[i].name);
        if (statfs(path, &fs) < 0 || fs.f_type != NSFS_MAGIC_)
            return true;
    }
    cleanup_free char *shm = xasprintf("%s/shm", dir);
    return shm_mounted && (statfs(shm, &fs) < 0 || fs.f_type != TMPFS_MAGIC_);
}
