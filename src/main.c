/* cribd: arguments, configuration, the loop. Only wiring lives here. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "cli.h"
#include "common/config.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/cri.h"
#include "network/network.h"
#include "reactor/reactor.h"

struct daemon {
    uv_loop_t loop;
    uv_signal_t sigterm, sigint;
    struct config cfg;
    struct cri *cri;
    struct reactor_server *srv;
    struct reactor_sweeper *sweeper;
    struct reactor_keeper *keeper;
    bool stopping;
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: cribd [OPTIONS] [COMMAND]\n"
               "\n"
               "The crib container runtime daemon (Kubernetes CRI).\n"
               "\n"
               "Commands:\n"
               "  (none)             run the daemon\n"
               "  config             print the effective configuration as TOML\n"
               "  upgrade            have the running daemon's keeper start the binaries now\n"
               "                     installed (containers run on)\n"
               "  load PATH [NAME]   load an image into the running daemon from an OCI image\n"
               "                     layout (directory or tar) or a docker save archive\n"
               "  version            print the version\n"
               "\n"
               "Options:\n"
               "  -c, --config FILE  configuration file (default " CONFIG_DEFAULT_PATH ",\n"
               "                     with drop-ins from FILE.d/*.conf)\n"
               "  -l, --log-level L  error, warn, info, debug or trace\n"
               "      --listen PATH  CRI socket (overrides crib.api.listen)\n"
               "      --root DIR     state root (overrides crib.root)\n"
               "      --runroot DIR  run state root (overrides crib.runroot)\n"
               "      --no-keeper    run the daemon without its keeper (cribd-keeper): a\n"
               "                     restart then loses output and exits of containers\n"
               "  -h, --help         this help\n");
}

static void on_server_done(void *data)
{
    struct daemon *d = data;
    d->srv = NULL;
    reactor_sweeper_stop(TAKE_PTR(d->sweeper));
    reactor_keeper_close(d->keeper);
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
    log_info("stopped");
}

static void on_signal(uv_signal_t *s, int signum)
{
    struct daemon *d = s->data;
    if (d->stopping)
        return;
    d->stopping = true;
    log_info("%s: stopping (in-flight calls get %llds)", strsignal(signum),
             (long long)d->cfg.shutdown_timeout);
    cri_shutdown(d->cri);
    reactor_server_shutdown(d->srv, (uint64_t)d->cfg.shutdown_timeout * 1000, on_server_done, d);
}

static int run(struct daemon *d)
{
    struct err err = ERR_INIT;
    uv_loop_init(&d->loop);
    /* Orphaned processes of ours (a pod's infra process) become our children, to be reaped. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int r = reactor_keeper_open(&d->keeper, &err);
    if (r == 0)
        r = cri_new(&d->loop, &d->cfg, d->keeper, &d->cri, &err);
    if (r < 0) {
        log_error("%s", err_msg(&err));
        err_done(&err);
        uv_loop_close(&d->loop);
        reactor_keeper_free(d->keeper);
        return 1;
    }
    struct reactor_server_config sc = {
        .path = d->cfg.listen,
        .mode = 0660,
        .max_recv_msg_size = (size_t)d->cfg.grpc_max_recv_msg_size,
        .max_send_msg_size = (size_t)d->cfg.grpc_max_send_msg_size,
    };
    r = reactor_server_start(&d->loop, &sc, &cri_server_ops, d->cri, &d->srv, &err);
    if (r < 0) {
        log_error("%s", err_msg(&err));
        err_done(&err);
        cri_shutdown(d->cri);
    } else {
        cri_set_server(d->cri, d->srv);
        uv_signal_init(&d->loop, &d->sigterm);
        uv_signal_init(&d->loop, &d->sigint);
        d->sigterm.data = d->sigint.data = d;
        uv_signal_start(&d->sigterm, on_signal, SIGTERM);
        uv_signal_start(&d->sigint, on_signal, SIGINT);
        if (reactor_sweeper_start(&d->loop, &d->sweeper) < 0)
            log_warn("orphans that reach the daemon will not be reaped");
        log_info("crib %s listening on %s (runtime %s, cgroup manager %s)", PACKAGE_VERSION,
                 d->cfg.listen, d->cfg.default_runtime, d->cfg.cgroup_manager);
        reactor_keeper_ready(d->keeper, &d->loop);
    }
    uv_run(&d->loop, UV_RUN_DEFAULT);
    cri_free(d->cri);
    reactor_keeper_free(d->keeper);
    int c = uv_loop_close(&d->loop);
    if (c != 0)
        log_error("handles left open at exit: %s", uv_strerror(c));
    return r < 0 || c != 0 ? 1 : 0;
}

/* The daemon runs under its keeper, cribd-keeper next to this binary, which starts it again
 * (CRIB_KEEPER_FD set). Without the keeper binary, the daemon runs alone. */
static int exec_keeper(int argc, char **argv, struct daemon *d)
{
    cleanup_free char *self = fs_self_exe();
    const char *slash = strrchr(self, '/');
    cleanup_free char *keeper =
        xasprintf("%.*s/cribd-keeper", slash ? (int)(slash - self) : 0, self);
    if (!*self || access(keeper, X_OK) < 0) {
        log_warn("no keeper (%s: %s): a restart of the daemon will lose containers' output and "
                 "exits",
                 keeper, strerror(errno));
        return run(d);
    }
    char **args = xcalloc((size_t)argc + 2, sizeof(*args));
    args[0] = keeper;
    args[1] = self;
    for (int i = 1; i < argc; i++)
        args[i + 1] = argv[i];
    for (int fd = 0; fd < 3; fd++) /* uv_disable_stdio_inheritance marked them */
        fcntl(fd, F_SETFD, 0);
    /* Where a stopped keeper waits for the next start, and keeps the exits it reaps meanwhile. */
    cleanup_free char *sock = xasprintf("%s/keeper.sock", d->cfg.runroot);
    cleanup_free char *exits = xasprintf("%s/keeper-exits", d->cfg.runroot);
    fs_mkdir_p(d->cfg.runroot, 0711);
    setenv("CRIB_KEEPER_SOCKET", sock, 1);
    setenv("CRIB_KEEPER_EXITS", exits, 1);
    execv(keeper, args);
    log_error("exec %s: %s", keeper, strerror(errno));
    free(args);
    return 1;
}

/* What the command line asked for. */
struct args {
    const char *config_path, *log_level, *listen, *root, *runroot;
    const char *command; /* NULL: run the daemon */
    bool no_keeper;
    char **operands;
    int n_operands;
};

/* Fills `a` from the options and the command. Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, struct args *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},  {"log-level", required_argument, NULL, 'l'},
        {"listen", required_argument, NULL, 'L'},  {"root", required_argument, NULL, 'R'},
        {"runroot", required_argument, NULL, 'U'}, {"no-keeper", no_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    int opt;
    *a = (struct args){0};
    while ((opt = getopt_long(argc, argv, "c:l:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            a->config_path = optarg;
            break;
        case 'l':
            a->log_level = optarg;
            break;
        case 'L':
            a->listen = optarg;
            break;
        case 'R':
            a->root = optarg;
            break;
        case 'U':
            a->runroot = optarg;
            break;
        case 'K':
            a->no_keeper = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    a->command = optind < argc ? argv[optind] : NULL;
    a->operands = argv + optind + (a->command ? 1 : 0);
    a->n_operands = argc - optind - (a->command ? 1 : 0);
    return -1;
}

static bool is_command(const struct args *a, const char *name)
{
    return a->command && strcmp(a->command, name) == 0;
}

/* The command is one we know, with as many operands as it takes. Returns -1 to go on, else the
 * exit status. */
static int check_command(const struct args *a)
{
    bool is_load = is_command(a, "load");
    bool known = !a->command || is_load || is_command(a, "config") || is_command(a, "version") ||
                 is_command(a, "upgrade");
    if (!known || (is_load ? a->n_operands < 1 || a->n_operands > 2 : a->n_operands > 0)) {
        fprintf(stderr,
                known ? "cribd: wrong arguments for `%s`\n" : "cribd: unknown command `%s`\n",
                a->command);
        usage(stderr);
        return 2;
    }
    return -1;
}

/* The file (and its drop-ins), then the options over it, then the checks; sets the log level. */
static int load_config(struct config *cfg, const struct args *a)
{
    struct err err = ERR_INIT;
    config_init(cfg);
    int r = config_load(cfg, a->config_path ? a->config_path : CONFIG_DEFAULT_PATH,
                        a->config_path != NULL, &err);
    struct {
        const char *value;
        char **field;
    } overrides[] = {
        {a->log_level, &cfg->log_level},
        {a->listen, &cfg->listen},
        {a->root, &cfg->root},
        {a->runroot, &cfg->runroot},
    };
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(overrides); i++) {
        if (overrides[i].value) {
            free(*overrides[i].field);
            *overrides[i].field = xstrdup(overrides[i].value);
        }
    }
    if (r == 0)
        r = config_validate(cfg, &err);
    if (r < 0) {
        fprintf(stderr, "cribd: configuration: %s\n", err_msg(&err));
        err_done(&err);
        config_done(cfg);
        return r;
    }
    enum log_level level;
    log_level_parse(cfg->log_level, &level);
    log_max_level = level;
    return 0;
}

static int print_config(const struct config *cfg)
{
    struct buf out = {0};
    config_write_toml(cfg, &out);
    fwrite(out.data, 1, out.len, stdout);
    buf_done(&out);
    return 0;
}

int main(int argc, char **argv)
{
    struct args a;
    /* cJSON allocates through xmalloc: out of memory aborts, as everywhere else, so no cJSON
     * call returns NULL for want of memory. */
    cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = xmalloc, .free_fn = free});
    /* Subcommands the daemon runs in child processes of its own. */
    if (argc > 1 && strcmp(argv[1], "ns-pin") == 0)
        return network_ns_pin_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "infra") == 0)
        return network_infra_main(argc - 1, argv + 1);
    uv_disable_stdio_inheritance();
    fs_cloexec_from(3); /* fds our own parent let us inherit */
    signal(SIGPIPE, SIG_IGN);
    int r = parse_args(argc, argv, &a);
    if (r < 0)
        r = check_command(&a);
    if (r >= 0)
        return r;
    if (is_command(&a, "version")) {
        printf("crib version %s\nCRI API v1 (runtime.v1)\n", PACKAGE_VERSION);
        return 0;
    }

    struct daemon d = {0};
    if (load_config(&d.cfg, &a) < 0)
        return 1;
    if (is_command(&a, "upgrade"))
        r = cli_upgrade(d.cfg.listen);
    else if (is_command(&a, "load"))
        r = cli_load(d.cfg.listen, a.operands[0], a.n_operands == 2 ? a.operands[1] : NULL);
    else if (is_command(&a, "config"))
        r = print_config(&d.cfg);
    else if (!a.no_keeper && !getenv("CRIB_KEEPER_FD"))
        r = exec_keeper(argc, argv, &d);
    else
        r = run(&d);
    config_done(&d.cfg);
    return r;
}
