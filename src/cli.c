/* Client commands of the cribd binary (a separate process, so plain blocking I/O is fine):
 * HTTP/1.1 requests on the daemon's unix socket. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "common/buf.h"
#include "common/macro.h"

static void url_escape(struct buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~/:@", *p))
            buf_append(b, p, 1);
        else
            buf_printf(b, "%%%02X", *p);
    }
}

static int request(const char *socket_path, const char *req, struct buf *resp)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(socket_path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "cribd: socket path %s is too long\n", socket_path);
        return -ENAMETOOLONG;
    }
    memcpy(sa.sun_path, socket_path, strlen(socket_path));
    cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "cribd: cannot reach the daemon at %s: %s\n", socket_path, strerror(errno));
        return -errno;
    }
    size_t len = strlen(req);
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, req + off, len - off);
        if (n < 0)
            return -errno;
        off += (size_t)n;
    }
    for (;;) {
        buf_reserve(resp, 65536);
        ssize_t n = read(fd, resp->data + resp->len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        resp->len += (size_t)n;
    }
    buf_append(resp, "", 0);
    return 0;
}

/* POST target with no body; the answer's body goes to stdout when its status is ok, else to
 * stderr. Returns the process exit code. */
static int post(const char *socket_path, const char *target, int ok)
{
    cleanup_free char *req = xasprintf("POST %s HTTP/1.1\r\nHost: crib\r\nContent-Length: 0\r\n"
                                       "Connection: close\r\n\r\n",
                                       target);
    struct buf resp = {0};
    int r = request(socket_path, req, &resp);
    int status = 0;
    const char *text = (const char *)resp.data;
    if (r == 0 && sscanf(text, "HTTP/1.1 %d", &status) == 1) {
        const char *body = strstr(text, "\r\n\r\n");
        fputs(body ? body + 4 : "", status == ok ? stdout : stderr);
    } else if (r == 0) {
        fprintf(stderr, "cribd: no answer from the daemon\n");
    }
    buf_done(&resp);
    return status == ok ? 0 : 1;
}

int cli_load(const char *socket_path, const char *path, const char *name)
{
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        fprintf(stderr, "cribd: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct buf target = {0};
    buf_puts(&target, "/images/load?path=");
    url_escape(&target, abs);
    if (name) {
        buf_puts(&target, "&name=");
        url_escape(&target, name);
    }
    buf_append(&target, "", 1);
    int r = post(socket_path, (const char *)target.data, 200);
    buf_done(&target);
    return r;
}

int cli_upgrade(const char *socket_path)
{
    return post(socket_path, "/upgrade", 202);
}
