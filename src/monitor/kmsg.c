/* /dev/kmsg read for the OOM killer's summary lines: see kmsg.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "monitor/kmsg.h"

#define PREFIX "oom-kill:"
#define FIELD ",task_memcg="
#define NEXT ",task="

bool monitor_kmsg_oom_memcg(const char *rec, size_t len, const char **ret_path, size_t *ret_len)
{
    const char *semi = memchr(rec, ';', len < 64 ? len : 64);
    if (!semi)
        return false;
    const char *msg = semi + 1, *end = rec + len;
    const char *nl = memchr(msg, '\n', (size_t)(end - msg));
    if (nl)
        end = nl;
    size_t n = (size_t)(end - msg);
    if (n < strlen(PREFIX) || memcmp(msg, PREFIX, strlen(PREFIX)) != 0)
        return false;
    /* The first FIELD: the victim's comm, which its owner chooses, comes after it. */
    const char *f = memmem(msg, n, FIELD, strlen(FIELD));
    if (!f)
        return false;
    const char *path = f + strlen(FIELD);
    const char *stop = memmem(path, (size_t)(end - path), NEXT, strlen(NEXT));
    if (!stop || stop == path || *path != '/')
        return false;
    *ret_path = path;
    *ret_len = (size_t)(stop - path);
    return true;
}

static void keep(struct monitor_kmsg *k, const char *path, size_t len)
{
    size_t i = k->next++ % MONITOR_KMSG_RECENT;
    free(k->recent[i]);
    k->recent[i] = xstrndup(path, len);
}

/* Every record since the last read: open (at the log's first record) the first time. */
static void catch_up(struct monitor_kmsg *k)
{
    if (k->fd == -1) {
        k->fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (k->fd < 0) {
            log_debug("/dev/kmsg: %s: OOM kills whose cgroup is gone go unseen", strerror(errno));
            k->fd = -2;
        }
    }
    if (k->fd < 0)
        return;
    char rec[8192]; /* a record and its dictionary: the kernel's limit is below this */
    for (;;) {
        ssize_t n = read(k->fd, rec, sizeof(rec));
        if (n < 0 && errno == EPIPE)
            continue; /* records were overwritten before we read them */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* EAGAIN: all read */
        const char *path;
        size_t len;
        if (monitor_kmsg_oom_memcg(rec, (size_t)n, &path, &len))
            keep(k, path, len);
    }
}

bool monitor_kmsg_oom_in(struct monitor_kmsg *k, const char *path)
{
    catch_up(k);
    for (size_t i = 0; i < MONITOR_KMSG_RECENT; i++)
        if (k->recent[i] && strcmp(k->recent[i], path) == 0)
            return true;
    return false;
}

void monitor_kmsg_done(struct monitor_kmsg *k)
{
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
    for (size_t i = 0; i < MONITOR_KMSG_RECENT; i++) {
        free(k->recent[i]);
        k->recent[i] = NULL;
    }
}
