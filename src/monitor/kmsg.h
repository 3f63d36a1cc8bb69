/* The kernel's log (/dev/kmsg) as the OOM verdict's last witness: the OOM killer's summary line
 * names the victim's memory cgroup, and it stays in the log after the cgroup is gone (under
 * systemd a container's scope cgroup goes as soon as it is empty, often before its exit is read,
 * and the daemon may not have run at all when it happened). */
#ifndef CRIB_MONITOR_KMSG_H
#define CRIB_MONITOR_KMSG_H

#include <stdbool.h>
#include <stddef.h>

#define MONITOR_KMSG_RECENT 64

struct monitor_kmsg {
    int fd;                            /* -1: not open yet; -2: not readable here */
    char *recent[MONITOR_KMSG_RECENT]; /* the task_memcg of the latest OOM kills */
    size_t next;                       /* where the next one goes */
};

/* One /dev/kmsg record ("PRI,SEQ,TS,FLAGS;MESSAGE\n" and dictionary lines): when its message is
 * the OOM killer's summary ("oom-kill:...,task_memcg=PATH,task=COMM,pid=N,uid=N"), PATH is set
 * (not NUL-terminated) and true returned. */
bool monitor_kmsg_oom_memcg(const char *rec, size_t len, const char **ret_path, size_t *ret_len);

/* Whether the log holds an OOM kill in the cgroup at path (as the kernel names it, from the
 * hierarchy's root). Reads the records written since the last call (all of them the first time). */
bool monitor_kmsg_oom_in(struct monitor_kmsg *k, const char *path);
void monitor_kmsg_done(struct monitor_kmsg *k);

#endif
