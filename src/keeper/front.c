/* The front of cribd-keeper: the process the cribd command execs, which stays the service's
 * main process. It forks the keeper (or finds the one that stayed behind after the last stop),
 * passes the service's signals on to it (SIGTERM or SIGINT: "stop"; SIGHUP: "hup"; SIGUSR2:
 * "upgrade") and its news ("notify TEXT") to systemd, and exits with the status in its
 * "stopped STATUS". */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keeper/keeper-internal.h"

/* systemd's sd_notify protocol, without libsystemd. */
static char notify_path[108]; /* NOTIFY_SOCKET ("@" for the abstract namespace), or "" */

static void sd_notify_say(const char *text)
{
    if (!notify_path[0])
        return;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(notify_path);
    memcpy(sa.sun_path, notify_path, len);
    if (sa.sun_path[0] == '@')
        sa.sun_path[0] = '\0';
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    sendto(fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&sa,
           (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
    close(fd);
}

static int front_say(int sock, const char *text)
{
    int r = send_msg(sock, text, NULL, 0);
    if (r < 0)
        say("front: tell the keeper %s: %s", text, strerror(-r));
    return r;
}

/* The keeper that stayed behind after the last stop, if one listens: our socket to it. */
static int find_stayed(char **daemon_argv)
{
    const char *path = env_path("CRIB_KEEPER_SOCKET");
    if (!path)
        return -1;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char line[MSG_MAX];
    for (char **a = daemon_argv; *a; a++) {
        if (strlen(*a) + 5 > sizeof(line)) {
            say("front: argument too long for the keeper: %.40s...", *a);
            close(fd);
            return -1;
        }
        snprintf(line, sizeof(line), "arg %s", *a);
        if (front_say(fd, line) < 0) {
            close(fd);
            return -1;
        }
    }
    if (front_say(fd, "start") < 0) {
        close(fd);
        return -1;
    }
    say("front: the keeper that stayed behind starts the daemon again");
    return fd;
}

/* The keeper's messages until none is waiting: notes for systemd passed on; the status in
 * "stopped STATUS", -1 when none came, -2 at the socket's end. */
static int front_news(int sock)
{
    for (;;) {
        char text[MSG_MAX + 1];
        int fds[FDS_MAX], n;
        ssize_t len = recv_msg(sock, text, fds, &n, MSG_DONTWAIT);
        for (int i = 0; i < n; i++)
            close(fds[i]);
        if (len == -EINTR)
            continue;
        if (len < 0)
            return len == -EAGAIN ? -1 : -2;
        if (len == 0)
            return -2;
        if (strncmp(text, "notify ", 7) == 0)
            sd_notify_say(text + 7);
        else if (strncmp(text, "stopped ", 8) == 0)
            return atoi(text + 8);
    }
}

/* Pass our signals on and the keeper's news up, until the keeper says the daemon stopped. */
static int front(int sock, int sigfd, pid_t keeper)
{
    prctl(PR_SET_NAME, "cribd");
    for (;;) {
        struct pollfd p[2] = {{.fd = sigfd, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            return 1;
        struct signalfd_siginfo si;
        while (p[0].revents && read(sigfd, &si, sizeof(si)) == sizeof(si)) {
            int sig = (int)si.ssi_signo;
            if (sig == SIGCHLD) {
                int status;
                if (keeper > 0 && waitpid(keeper, &status, WNOHANG) == keeper) {
                    int r = front_news(sock);
                    if (r >= 0)
                        return r; /* it said how the daemon stopped, then ended */
                    char how[64];
                    describe(how, sizeof(how), status);
                    say("front: the keeper ended (%s)", how);
                    return 1;
                }
            } else if (sig == SIGTERM || sig == SIGINT) {
                sd_notify_say("STOPPING=1");
                front_say(sock, "stop");
            } else {
                front_say(sock, sig == SIGHUP ? "hup" : "upgrade");
            }
        }
        if (!p[1].revents)
            continue;
        int r = front_news(sock);
        if (r == -2) {
            say("front: the keeper hung up");
            return 1;
        }
        if (r >= 0)
            return r;
    }
}

int front_start(char **daemon_argv, int sigfd, int *ret_sock, int *ret_status)
{
    /* systemd's socket is ours: neither the keeper nor the daemon is the main process. */
    const char *notify_env = getenv("NOTIFY_SOCKET");
    if (notify_env && strlen(notify_env) < sizeof(notify_path))
        snprintf(notify_path, sizeof(notify_path), "%s", notify_env);
    unsetenv("NOTIFY_SOCKET");
    int fd = find_stayed(daemon_argv);
    if (fd >= 0) {
        *ret_status = front(fd, sigfd, 0);
        return -1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        say("socketpair: %s", strerror(errno));
        *ret_status = 1;
        return -1;
    }
    /* The keeper is a copy of this process (no exec: nothing else to run), in a session of its
     * own so that a terminal's signals reach the front only. */
    pid_t pid = fork();
    if (pid < 0) {
        say("fork: %s", strerror(errno));
        *ret_status = 1;
        return -1;
    }
    if (pid > 0) {
        close(sv[1]);
        *ret_status = front(sv[0], sigfd, pid);
        return -1;
    }
    close(sv[0]);
    setsid();
    *ret_sock = sv[1];
    return 0;
}
