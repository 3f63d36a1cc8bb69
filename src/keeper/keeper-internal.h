/* What cribd-keeper's two processes share: the front (front.c, the service's main process) and
 * the keeper (keeper.c). Both speak one-line messages with fds over SOCK_SEQPACKET (msg.c). */
#ifndef CRIB_KEEPER_INTERNAL_H
#define CRIB_KEEPER_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#define MSG_MAX 512
#define FDS_MAX 4

/* A line on stderr, "cribd-keeper[PID]: ...". */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* p, or a logged abort when an allocation failed. */
void *must(void *p);
/* The path in the environment variable name, if it fits a unix socket address. */
const char *env_path(const char *name);
/* The signals both processes take through a signalfd (blocked otherwise). */
void our_signals(sigset_t *set);
/* One message with up to FDS_MAX fds: 0 or -errno. */
int send_msg(int sock, const char *text, const int *fds, int n);
/* One message (text NUL-terminated, up to FDS_MAX fds, the rest closed): its length, 0 at the
 * socket's end, or -errno. */
ssize_t recv_msg(int sock, char *text, int *fds, int *n, int flags);
/* "exit status N" or "signal N (NAME)". */
void describe(char *buf, size_t len, int status);

/* The front's start: with a keeper that stayed behind after the last stop, have it start the
 * daemon (daemon_argv) and serve as its front until the daemon stops; else fork the keeper and
 * serve as its front. Returns in the keeper only, with *ret_sock its end of the front's socket;
 * *ret_status is set (and -1 returned) when this process is done as the front. */
int front_start(char **daemon_argv, int sigfd, int *ret_sock, int *ret_status);

#endif
