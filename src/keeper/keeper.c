/* cribd-keeper: the small parent that lets the daemon die, restart and upgrade without the
 * containers noticing. It is the child subreaper and starts the daemon as its child, restarting
 * it when it dies (with a backoff when it dies young). It holds the containers' stdio ends the
 * daemon hands it (FIFO read ends, stdin write ends, pty masters), so that a writer never gets
 * EPIPE while no daemon reads, and gives them back to the next daemon. Processes orphaned by a
 * daemon's death become its children; it reaps them and tells the daemon their exits.
 *
 * Two processes run this program. The one the cribd command execs (the service's main process)
 * is the front (front.c): it forks the keeper (a session of its own) and stays, passing the
 * service's signals on to it (SIGTERM or SIGINT: stop; SIGHUP: reload; SIGUSR2: upgrade) and its
 * news to systemd (sd_notify, READY=1 once the daemon serves). Stopped, the keeper stops the daemon
 * and, while containers run or their fds hold output, stays behind, listening on CRIB_KEEPER_SOCKET
 * (under the run root), still reaping: the front exits, and the service is stopped with the keeper
 * left in its cgroup (KillMode=process). The next front finds it there and has it start a daemon
 * again. Exits it reaps while no daemon serves are also appended to CRIB_KEEPER_EXITS, so that
 * they outlive it. SIGTERM or SIGINT to the keeper itself is the full shutdown: the daemon stops
 * and the keeper ends, closing what it holds.
 *
 * SIGUSR2 upgrades: the daemon is stopped (SIGTERM: it finishes its calls), then the keeper execs
 * the binary now at its own path, carrying what it holds and knows (a memfd named by
 * CRIB_KEEPER_STATE_FD, the held fds and the front's socket inherited), and that keeper starts the
 * daemon now at the daemon's path. Pid, children and fds stay: no container notices.
 *
 * No libuv and no library beyond libc: a poll loop over a signalfd and a few sockets.
 *
 * The daemon's socket is one end of a SOCK_SEQPACKET pair, fd KEEPER_FD in the daemon, named by
 * CRIB_KEEPER_FD. Messages are one line of text, with fds as SCM_RIGHTS:
 *   daemon -> keeper: "hold KEY" + 1..4 fds (replacing what KEY held), "drop KEY", "list",
 *                     "ready" (the daemon serves)
 *   keeper -> daemon: "held KEY" + its fds for each key, then "exited PID STATUS NS" for each
 *                     exit it keeps, then "end" (the answer to list); "exit PID STATUS NS" when
 *                     it reaps a process while a daemon serves (STATUS as waitpid gives it, NS
 *                     the unix time in ns)
 * The front's socket (SOCK_SEQPACKET too):
 *   front -> keeper:  "arg A" for each argument of the daemon's command line, then "start" (to
 *                     a keeper that stayed behind); "stop", "hup", "upgrade"
 *   keeper -> front:  "notify TEXT" (for systemd), "stopped STATUS" (the front exits with it)
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "keeper/keeper-internal.h"

#define KEEPER_FD 3
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
/* A daemon that dies before it is ready, or within this long, is crash-looping. */
#define YOUNG_MS 1000

/* The exits of the processes we reaped, the latest EXITS_MAX: a container that ended while no
 * daemon ran (or after a restart: it is our child then) has its status told to the daemon. */
#define EXITS_MAX 1024
struct exit_rec {
    pid_t pid;
    int status;
    int64_t ns;
};

struct held {
    char *key;
    int fds[FDS_MAX];
    int n;
    bool hung; /* every fd hung up while we stayed behind, output left unread: no more polling */
};

struct keeper {
    char **argv;     /* the daemon's command line */
    char **own_argv; /* the one a later front gave (argv points to it), or NULL */
    int front;       /* the front's socket, or -1 */
    int lfd;         /* listening for the next front while we stay behind, or -1 */
    bool full;       /* SIGTERM or SIGINT to us: the full shutdown */
    int sigfd;
    int sock;      /* our end of the current daemon's socket, or -1 */
    bool sock_eof; /* the daemon has closed its end */
    pid_t pid;     /* the daemon, or 0 */
    bool ready;
    bool ever_ready;    /* some daemon has served: a failure to start is no longer ours to end on */
    bool stopping;      /* told to stop: the daemon's exit is no crash */
    bool upgrading;     /* SIGUSR2 came: once the daemon is out, exec the new keeper */
    char self[4096];    /* our binary's path */
    int64_t started_ms; /* when the current daemon started */
    int64_t restart_at; /* when to start the next one (0: none pending) */
    int backoff_ms;
    unsigned restarts;
    char last_exit[64];
    struct held *held;
    size_t n_held, cap_held;
    struct exit_rec exits[EXITS_MAX]; /* a ring */
    size_t n_exits;                   /* ever recorded */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- what we hold ---- */

static struct held *find(struct keeper *k, const char *key)
{
    for (size_t i = 0; i < k->n_held; i++)
        if (strcmp(k->held[i].key, key) == 0)
            return &k->held[i];
    return NULL;
}

static void drop(struct keeper *k, const char *key)
{
    struct held *h = find(k, key);
    if (!h)
        return;
    for (int i = 0; i < h->n; i++)
        close(h->fds[i]);
    free(h->key);
    *h = k->held[--k->n_held];
}

static void hold(struct keeper *k, const char *key, const int *fds, int n)
{
    drop(k, key);
    if (k->n_held == k->cap_held) {
        k->cap_held = k->cap_held ? 2 * k->cap_held : 16;
        k->held = must(realloc(k->held, k->cap_held * sizeof(*k->held)));
    }
    struct held *h = &k->held[k->n_held++];
    h->key = must(strdup(key));
    memcpy(h->fds, fds, (size_t)n * sizeof(int));
    h->n = n;
    h->hung = false;
}

/* ---- the sockets ---- */

/* News for systemd, through the front (the service's main process). */
static void notify(struct keeper *k, const char *text)
{
    if (k->front < 0)
        return;
    char line[MSG_MAX];
    snprintf(line, sizeof(line), "notify %s", text);
    send_msg(k->front, line, NULL, 0);
}

static void answer_list(struct keeper *k)
{
    char line[MSG_MAX];
    for (size_t i = 0; i < k->n_held; i++) {
        snprintf(line, sizeof(line), "held %s", k->held[i].key);
        if (send_msg(k->sock, line, k->held[i].fds, k->held[i].n) < 0)
            return;
    }
    size_t first = k->n_exits > EXITS_MAX ? k->n_exits - EXITS_MAX : 0;
    for (size_t i = first; i < k->n_exits; i++) {
        const struct exit_rec *e = &k->exits[i % EXITS_MAX];
        snprintf(line, sizeof(line), "exited %d %d %lld", (int)e->pid, e->status, (long long)e->ns);
        if (send_msg(k->sock, line, NULL, 0) < 0)
            return;
    }
    send_msg(k->sock, "end", NULL, 0);
    /* The daemon has them now (and we keep them in memory). */
    const char *path = env_path("CRIB_KEEPER_EXITS");
    if (path)
        unlink(path);
}

static int64_t now_unix_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Exits reaped while no daemon served, kept beyond us: a keeper that ends or is killed after a
 * stop leaves them to the next one. */
static void save_exit(const struct exit_rec *e)
{
    const char *path = env_path("CRIB_KEEPER_EXITS");
    int fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
    if (fd < 0)
        return;
    char line[96];
    int n =
        snprintf(line, sizeof(line), "exit %d %d %lld\n", (int)e->pid, e->status, (long long)e->ns);
    if (write(fd, line, (size_t)n) != n)
        say("%s: %s", path, strerror(errno));
    close(fd);
}

static void load_exits(struct keeper *k)
{
    const char *path = env_path("CRIB_KEEPER_EXITS");
    FILE *f = path ? fopen(path, "re") : NULL;
    if (!f)
        return;
    int pid, status;
    long long ns;
    size_t n = 0;
    while (fscanf(f, "exit %d %d %lld\n", &pid, &status, &ns) == 3) {
        k->exits[k->n_exits++ % EXITS_MAX] =
            (struct exit_rec){.pid = pid, .status = status, .ns = ns};
        n++;
    }
    fclose(f);
    unlink(path);
    if (n)
        say("%zu exits reaped by the keeper before us", n);
}

/* A process the daemon's death left to us has ended: kept, and told to the daemon if one serves. */
static void record_exit(struct keeper *k, pid_t pid, int status)
{
    struct exit_rec *e = &k->exits[k->n_exits++ % EXITS_MAX];
    *e = (struct exit_rec){.pid = pid, .status = status, .ns = now_unix_ns()};
    if (!k->pid)
        save_exit(e);
    if (k->sock >= 0 && !k->sock_eof) {
        char line[MSG_MAX];
        snprintf(line, sizeof(line), "exit %d %d %lld", (int)pid, status, (long long)e->ns);
        send_msg(k->sock, line, NULL, 0);
    }
}

/* One message from the daemon: 1, or 0 when there is none now, -1 at the socket's end. */
static int on_message(struct keeper *k)
{
    char text[MSG_MAX + 1];
    int fds[FDS_MAX], n;
    ssize_t len = recv_msg(k->sock, text, fds, &n, MSG_DONTWAIT);
    if (len < 0)
        return len == -EINTR || len == -EAGAIN ? 0 : -1;
    if (len == 0)
        return -1;
    if (strncmp(text, "hold ", 5) == 0 && n > 0) {
        hold(k, text + 5, fds, n);
        return 1;
    }
    for (int i = 0; i < n; i++)
        close(fds[i]);
    if (strncmp(text, "drop ", 5) == 0)
        drop(k, text + 5);
    else if (strcmp(text, "list") == 0)
        answer_list(k);
    else if (strcmp(text, "ready") == 0) {
        k->ready = k->ever_ready = true;
        notify(k, "READY=1\nSTATUS=serving");
    } else
        say("unknown message from the daemon: %.60s", text);
    return 1;
}

/* Every message the daemon has sent: its last holds count even when it has just died. */
static void read_messages(struct keeper *k)
{
    int r;
    while (k->sock >= 0 && !k->sock_eof && (r = on_message(k)) != 0)
        if (r < 0)
            k->sock_eof = true;
}

/* ---- the daemon ---- */

static void start_daemon(struct keeper *k)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        say("socketpair: %s", strerror(errno));
        k->restart_at = now_ms() + BACKOFF_MAX_MS;
        return;
    }
    char restarts[32];
    snprintf(restarts, sizeof(restarts), "%u", k->restarts);
    /* The keeper is no loop and no daemon: a plain fork and exec of the daemon is its job. */
    pid_t pid = fork();
    if (pid < 0) {
        say("fork: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        k->restart_at = now_ms() + BACKOFF_MAX_MS;
        return;
    }
    if (pid == 0) {
        /* The daemon: our socket as KEEPER_FD, default signals, and the keeper's death ends it
         * (a keeper killed outright leaves no daemon behind that nobody restarts). */
        if (sv[1] == KEEPER_FD ? fcntl(KEEPER_FD, F_SETFD, 0) < 0 : dup2(sv[1], KEEPER_FD) < 0)
            _exit(127);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        setenv("CRIB_KEEPER_FD", "3", 1);
        setenv("CRIB_KEEPER_RESTARTS", restarts, 1);
        setenv("CRIB_KEEPER_LAST_EXIT", k->last_exit, 1);
        execv(k->argv[0], k->argv);
        fprintf(stderr, "cribd-keeper: exec %s: %s\n", k->argv[0], strerror(errno));
        _exit(127);
    }
    close(sv[1]);
    k->sock = sv[0];
    k->sock_eof = false;
    k->pid = pid;
    k->ready = false;
    k->started_ms = now_ms();
    k->restart_at = 0;
}

/* ---- staying behind: stopped, we keep holding and reaping until the next front ---- */

static bool have_children(void)
{
    siginfo_t si;
    return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* Whether a stopped keeper has anything to keep: fds, or processes to reap. */
static bool anything_to_keep(const struct keeper *k)
{
    return k->n_held > 0 || have_children();
}

/* The daemon is stopped for good (the front has it as our answer): our exit status, or -1 when we
 * stay behind for the next front. */
static int stopped(struct keeper *k, int status)
{
    k->restart_at = 0;
    const char *path = env_path("CRIB_KEEPER_SOCKET");
    int r = -1;
    if (k->full || !k->ever_ready || !path || !anything_to_keep(k))
        r = status;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (r < 0) {
        memcpy(sa.sun_path, path, strlen(path));
        unlink(path);
        k->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (k->lfd < 0 || bind(k->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(k->lfd, 4) < 0) {
            say("%s: %s", path, strerror(errno));
            if (k->lfd >= 0)
                close(k->lfd);
            k->lfd = -1;
            r = status;
        } else {
            say("stopped: holding %zu sets of fds and reaping until the next start", k->n_held);
        }
    }
    /* The front's last word from us, once ours are said. */
    if (k->front >= 0) {
        char line[32];
        snprintf(line, sizeof(line), "stopped %d", status);
        send_msg(k->front, line, NULL, 0);
        close(k->front);
        k->front = -1;
    }
    return r;
}

static void free_own_argv(struct keeper *k)
{
    for (char **a = k->own_argv; a && *a; a++)
        free(*a);
    free(k->own_argv);
    k->own_argv = NULL;
}

/* A front has come: its command line, then "start"; the daemon runs again. */
static void on_next_front(struct keeper *k)
{
    int conn = accept4(k->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        return;
    struct timeval tv = {.tv_sec = 2}; /* a front sends it all at once */
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char **argv = NULL;
    size_t n = 0;
    for (;;) {
        char text[MSG_MAX + 1];
        int fds[FDS_MAX], nfd;
        ssize_t len = recv_msg(conn, text, fds, &nfd, 0);
        for (int i = 0; i < nfd; i++)
            close(fds[i]);
        if (len > 4 && strncmp(text, "arg ", 4) == 0) {
            argv = must(realloc(argv, (n + 2) * sizeof(*argv)));
            argv[n++] = must(strdup(text + 4));
            argv[n] = NULL;
            continue;
        }
        if (len > 0 && strcmp(text, "start") == 0 && n > 0 && argv[0][0] == '/')
            break;
        for (size_t i = 0; i < n; i++) /* a front that broke off, or sent nonsense */
            free(argv[i]);
        free(argv);
        close(conn);
        return;
    }
    free_own_argv(k);
    k->argv = k->own_argv = argv;
    close(k->lfd);
    k->lfd = -1;
    const char *path = env_path("CRIB_KEEPER_SOCKET");
    if (path)
        unlink(path);
    for (size_t i = 0; i < k->n_held; i++)
        k->held[i].hung = false;
    k->front = conn;
    k->stopping = false;
    say("started again: %zu sets of fds held meanwhile", k->n_held);
    k->restart_at = now_ms();
}

/* While we stay behind: a set whose every fd hung up with nothing left unread in it belonged to
 * a container that is gone and said all it had to say. poll's results for the sets in p. */
static void check_hung(struct keeper *k, const struct pollfd *p, size_t np)
{
    size_t j = 0;
    for (size_t i = 0; i < k->n_held && j < np; i++) {
        struct held *h = &k->held[i];
        if (h->hung)
            continue;
        bool gone = true, unread = false;
        for (int f = 0; f < h->n; f++, j++) {
            short ev = p[j].revents;
            gone = gone && (ev & (POLLHUP | POLLERR | POLLNVAL));
            int q = 0;
            if ((ev & POLLHUP) && !(ev & POLLERR) && ioctl(h->fds[f], FIONREAD, &q) == 0 && q > 0)
                unread = true;
        }
        if (gone && unread)
            h->hung = true; /* the next daemon reads it */
        else if (gone)
            h->n = -h->n; /* marked: dropped below */
    }
    for (size_t i = k->n_held; i-- > 0;) {
        if (k->held[i].n < 0) {
            k->held[i].n = -k->held[i].n;
            drop(k, k->held[i].key);
        }
    }
}

/* ---- upgrades: our state across our own exec ---- */

static void upgrade(struct keeper *k)
{
    k->upgrading = false;
    int fd = memfd_create("cribd-keeper-state", MFD_CLOEXEC);
    FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
    if (!f) {
        say("upgrade: memfd: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    fprintf(f, "restarts %u\nlastexit %s\n", k->restarts, k->last_exit);
    if (k->front >= 0) {
        fprintf(f, "front %d\n", k->front);
        fcntl(k->front, F_SETFD, 0);
    }
    for (size_t i = 0; i < k->n_held; i++) {
        fprintf(f, "held %s", k->held[i].key);
        for (int j = 0; j < k->held[i].n; j++) {
            fprintf(f, " %d", k->held[i].fds[j]);
            fcntl(k->held[i].fds[j], F_SETFD, 0); /* inherited by the new keeper */
        }
        fputc('\n', f);
    }
    size_t first = k->n_exits > EXITS_MAX ? k->n_exits - EXITS_MAX : 0;
    for (size_t i = first; i < k->n_exits; i++) {
        const struct exit_rec *e = &k->exits[i % EXITS_MAX];
        fprintf(f, "exit %d %d %lld\n", (int)e->pid, e->status, (long long)e->ns);
    }
    fflush(f);
    int keep = dup(fd); /* without close-on-exec */
    fclose(f);
    char num[16];
    snprintf(num, sizeof(num), "%d", keep);
    setenv("CRIB_KEEPER_STATE_FD", num, 1);
    say("upgrade: starting %s", k->self);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Our command line: our path, then the daemon's (as the last front gave it). */
    size_t n = 0;
    while (k->argv[n])
        n++;
    char **argv = must(calloc(n + 2, sizeof(*argv)));
    argv[0] = k->self;
    memcpy(argv + 1, k->argv, n * sizeof(*argv));
    execv(k->self, argv);
    free(argv);
    say("upgrade: exec %s: %s; carrying on with this keeper", k->self, strerror(errno));
    if (k->front >= 0)
        fcntl(k->front, F_SETFD, FD_CLOEXEC);
    sigset_t set;
    our_signals(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    unsetenv("CRIB_KEEPER_STATE_FD");
    close(keep);
    for (size_t i = 0; i < k->n_held; i++)
        for (int j = 0; j < k->held[i].n; j++)
            fcntl(k->held[i].fds[j], F_SETFD, FD_CLOEXEC);
}

/* The state an upgrading keeper left us. */
static void restore(struct keeper *k, int fd)
{
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return;
    }
    rewind(f);
    char line[MSG_MAX + 64];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        unsigned u;
        int pid, status;
        long long ns;
        if (sscanf(line, "restarts %u", &u) == 1) {
            k->restarts = u;
        } else if (sscanf(line, "front %d", &pid) == 1) {
            k->front = pid;
            fcntl(k->front, F_SETFD, FD_CLOEXEC);
        } else if (strncmp(line, "lastexit ", 9) == 0) {
            snprintf(k->last_exit, sizeof(k->last_exit), "%.*s", (int)sizeof(k->last_exit) - 1,
                     line + 9);
        } else if (sscanf(line, "exit %d %d %lld", &pid, &status, &ns) == 3) {
            k->exits[k->n_exits++ % EXITS_MAX] =
                (struct exit_rec){.pid = pid, .status = status, .ns = ns};
        } else if (strncmp(line, "held ", 5) == 0) {
            char *key = line + 5, *sp = strchr(key, ' ');
            int fds[FDS_MAX], n = 0;
            for (char *p = sp; p && *p && n < FDS_MAX;) {
                fds[n] = (int)strtol(p, &p, 10);
                fcntl(fds[n], F_SETFD, FD_CLOEXEC);
                n++;
            }
            if (sp && n > 0) {
                *sp = '\0';
                hold(k, key, fds, n);
            }
        }
    }
    fclose(f);
    k->ever_ready = true; /* a daemon served before us */
}

/* The daemon ended: our exit when we were told to stop, else a restart (at once, or after a
 * backoff when it dies young: a crash loop). Returns the exit status, or -1 to go on. */
static int on_daemon_exit(struct keeper *k, int status)
{
    read_messages(k);
    close(k->sock);
    k->sock = -1;
    k->pid = 0;
    describe(k->last_exit, sizeof(k->last_exit), status);
    /* Told to stop, or the first daemon could not start (a bad configuration, a socket in use):
     * that is the command's own failure, and there is nothing to keep yet. */
    if (k->stopping || !k->ever_ready)
        return stopped(k, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    if (k->upgrading) {
        upgrade(k); /* returns only when the exec failed: the old daemon binary runs again */
        k->restart_at = now_ms();
        return -1;
    }
    int64_t ran = now_ms() - k->started_ms;
    if (!k->ready || ran < YOUNG_MS) {
        k->backoff_ms = k->backoff_ms ? 2 * k->backoff_ms : BACKOFF_MIN_MS;
        if (k->backoff_ms > BACKOFF_MAX_MS)
            k->backoff_ms = BACKOFF_MAX_MS;
    } else {
        k->backoff_ms = 0;
    }
    k->restarts++;
    say("the daemon ended (%s) after %lld ms%s; restart %u in %d ms", k->last_exit, (long long)ran,
        k->ready ? "" : ", before it was ready", k->restarts, k->backoff_ms);
    k->restart_at = now_ms() + k->backoff_ms;
    char note[160];
    snprintf(note, sizeof(note), "STATUS=the daemon ended (%s); restart %u", k->last_exit,
             k->restarts);
    notify(k, note);
    return -1;
}

/* Reap every child that has ended: the daemon, and the processes its death left to us. */
static int reap(struct keeper *k)
{
    int status;
    pid_t pid;
    /* Every child here is ours to reap (the subreaper's orphans, the daemon): no libuv to rob. */
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == k->pid) {
            int r = on_daemon_exit(k, status);
            if (r >= 0)
                return r;
        } else {
            record_exit(k, pid, status);
        }
    }
    return -1;
}

/* Stop, reload or upgrade, from our signals or the front's word: our exit status, or -1. */
static int order(struct keeper *k, int sig)
{
    if (sig == SIGTERM || sig == SIGINT) {
        k->stopping = true;
        if (!k->pid)
            return k->lfd >= 0 ? (k->full ? 0 : -1) : stopped(k, 0); /* between two daemons */
    }
    if (sig == SIGUSR2) {
        /* An upgrade: the daemon stops, finishing its calls; then the new keeper. */
        say("upgrade: stopping the daemon");
        k->upgrading = true;
        sig = SIGTERM;
    }
    if (k->pid)
        kill(k->pid, sig);
    else if (k->upgrading)
        upgrade(k);
    return -1;
}

static int on_signal(struct keeper *k)
{
    struct signalfd_siginfo si;
    while (read(k->sigfd, &si, sizeof(si)) == sizeof(si)) {
        int sig = (int)si.ssi_signo;
        int r;
        if (sig == SIGCHLD) {
            r = reap(k);
        } else {
            if (sig == SIGTERM || sig == SIGINT)
                k->full = true; /* sent to us, not to the front: the full shutdown */
            r = order(k, sig);
        }
        if (r >= 0)
            return r;
    }
    return -1;
}

/* The front's word; its hang-up (killed, or gone) is a stop. */
static int on_front(struct keeper *k)
{
    char text[MSG_MAX + 1];
    int fds[FDS_MAX], n;
    ssize_t len = recv_msg(k->front, text, fds, &n, MSG_DONTWAIT);
    for (int i = 0; i < n; i++)
        close(fds[i]);
    if (len == -EAGAIN || len == -EINTR)
        return -1;
    if (len <= 0) {
        close(k->front);
        k->front = -1;
        return order(k, SIGTERM);
    }
    if (strcmp(text, "stop") == 0)
        return order(k, SIGTERM);
    if (strcmp(text, "hup") == 0)
        return order(k, SIGHUP);
    if (strcmp(text, "upgrade") == 0)
        return order(k, SIGUSR2);
    say("unknown message from the front: %.60s", text);
    return -1;
}

/* While we stay behind: the held fds not known to have hung up, after p[0..base). */
static size_t poll_held(struct keeper *k, struct pollfd **p, size_t base)
{
    size_t n = base;
    for (size_t i = 0; i < k->n_held; i++)
        if (!k->held[i].hung)
            n += (size_t)k->held[i].n;
    *p = must(realloc(*p, (n ? n : 1) * sizeof(**p)));
    for (size_t i = 0, j = base; i < k->n_held; i++)
        for (int f = 0; !k->held[i].hung && f < k->held[i].n; f++)
            (*p)[j++] = (struct pollfd){.fd = k->held[i].fds[f]}; /* hang-ups only */
    return n;
}

static int run(struct keeper *k)
{
    start_daemon(k);
    struct pollfd *p = NULL;
    for (;;) {
        if (k->lfd >= 0 && !anything_to_keep(k)) {
            const char *path = env_path("CRIB_KEEPER_SOCKET");
            if (path)
                unlink(path);
            say("nothing left to keep: ending");
            free(p);
            return 0;
        }
        enum { SIG, SOCK, FRONT, LISTEN, HELD };
        size_t n = HELD;
        if (k->lfd >= 0)
            n = poll_held(k, &p, HELD);
        else
            p = must(realloc(p, HELD * sizeof(*p)));
        p[SIG] = (struct pollfd){.fd = k->sigfd, .events = POLLIN};
        p[SOCK] =
            (struct pollfd){.fd = k->sock >= 0 && !k->sock_eof ? k->sock : -1, .events = POLLIN};
        p[FRONT] = (struct pollfd){.fd = k->front, .events = POLLIN};
        p[LISTEN] = (struct pollfd){.fd = k->lfd, .events = POLLIN};
        int timeout = -1;
        if (k->restart_at) {
            int64_t left = k->restart_at - now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        int r = poll(p, (nfds_t)n, timeout);
        if (r < 0 && errno != EINTR) {
            say("poll: %s", strerror(errno));
            free(p);
            return 1;
        }
        int st = -1;
        if (r > 0 && p[SOCK].revents)
            read_messages(k);
        if (r > 0 && n > HELD)
            check_hung(k, p + HELD, n - HELD);
        if (r > 0 && p[SIG].revents)
            st = on_signal(k);
        if (st < 0 && r > 0 && p[FRONT].revents && k->front >= 0)
            st = on_front(k);
        if (st < 0 && r > 0 && p[LISTEN].revents && k->lfd >= 0)
            on_next_front(k);
        if (st >= 0) {
            free(p);
            return st;
        }
        if (k->restart_at && now_ms() >= k->restart_at && !k->pid)
            start_daemon(k);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] != '/') {
        fprintf(stderr, "usage: cribd-keeper /PATH/TO/cribd [ARGS...]\n"
                        "(the cribd command starts it; it runs cribd and restarts it)\n");
        return 2;
    }
    struct keeper k = {.argv = argv + 1, .sock = -1, .front = -1, .lfd = -1};
    /* Our path as it was given: after an upgrade replaced the file, /proc/self/exe names the old
     * one, deleted. */
    if (!realpath(argv[0], k.self))
        snprintf(k.self, sizeof(k.self), "%s", argv[0]);
    sigset_t set;
    our_signals(&set);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    k.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (k.sigfd < 0) {
        say("signalfd: %s", strerror(errno));
        return 1;
    }
    const char *state = getenv("CRIB_KEEPER_STATE_FD");
    if (state && *state) {
        restore(&k, atoi(state));
        unsetenv("CRIB_KEEPER_STATE_FD");
        say("upgraded: holding %zu sets of fds, %zu exits", k.n_held,
            k.n_exits < EXITS_MAX ? k.n_exits : (size_t)EXITS_MAX);
    } else {
        int status;
        if (front_start(k.argv, k.sigfd, &k.front, &status) < 0)
            return status; /* the front's end */
        load_exits(&k);
    }
    /* Processes orphaned below us (containers of a daemon that died) become our children. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        say("cannot be the child subreaper: %s", strerror(errno));
    int r = run(&k);
    while (k.n_held)
        drop(&k, k.held[0].key);
    free(k.held);
    free_own_argv(&k);
    close(k.sigfd);
    return r;
}
