/* HTTP/1.1 endpoints on the CRI socket: GET /info (JSON), GET /config (TOML), POST /images/load
 * and POST /upgrade. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <protobuf-c/protobuf-c.h>

#include "common/log.h"
#include "common/macro.h"
#include "cri/cri-internal.h"
#include "image/image.h"

static void info_json(struct cri *cri, struct buf *out)
{
    const struct config *cfg = cri->cfg;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "storage_driver", cfg->storage_driver);
    cJSON_AddStringToObject(j, "storage_root", cfg->root);
    cJSON_AddStringToObject(j, "run_root", cfg->runroot);
    cJSON_AddStringToObject(j, "cgroup_driver", cfg->cgroup_manager);
    cJSON_AddStringToObject(j, "default_runtime", cfg->default_runtime);
    cJSON *lsm = cJSON_AddObjectToObject(j, "security_modules");
    cJSON_AddBoolToObject(lsm, "apparmor", cri->lsm.apparmor);
    cJSON_AddBoolToObject(lsm, "selinux", cri->lsm.selinux);
    cJSON *v = cJSON_AddObjectToObject(j, "versions");
    cJSON_AddStringToObject(v, "crib", PACKAGE_VERSION);
    cJSON_AddStringToObject(v, "cri_api", "v1");
    cJSON_AddStringToObject(v, "libuv", uv_version_string());
    cJSON_AddStringToObject(v, "nghttp2", nghttp2_version(0)->version_str);
    cJSON_AddStringToObject(v, "protobuf_c", protobuf_c_version());
    cJSON_AddStringToObject(v, "openssl", OpenSSL_version(OPENSSL_VERSION));
    cJSON_AddStringToObject(v, "cjson", cJSON_Version());
    cJSON *k = cJSON_AddObjectToObject(j, "keeper");
    cJSON_AddBoolToObject(k, "running", cri->keeper != NULL);
    cJSON_AddNumberToObject(k, "restarts", reactor_keeper_restarts(cri->keeper));
    cJSON_AddStringToObject(k, "last_exit", reactor_keeper_last_exit(cri->keeper));
    if (cri->metrics_srv)
        cJSON_AddNumberToObject(j, "metrics_port", reactor_server_port(cri->metrics_srv));
    if (cri->srv) {
        struct reactor_stats st;
        reactor_server_stats(cri->srv, &st);
        cJSON *g = cJSON_AddObjectToObject(j, "grpc");
        cJSON_AddNumberToObject(g, "connections", (double)st.connections);
        cJSON_AddNumberToObject(g, "connections_total", (double)st.connections_total);
        cJSON_AddNumberToObject(g, "calls", (double)st.calls);
        cJSON_AddNumberToObject(g, "calls_total", (double)st.calls_total);
    }
    char *s = cJSON_Print(j);
    buf_puts(out, s);
    buf_puts(out, "\n");
    cJSON_free(s);
    cJSON_Delete(j);
}

/* The value of key in a query string, percent-decoded; NULL if absent. */
static char *query_get(const char *query, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = query; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, key, klen) != 0 || p[klen] != '=')
            continue;
        struct buf out = {0};
        for (const char *v = p + klen + 1; *v && *v != '&'; v++) {
            if (*v == '%' && isxdigit((unsigned char)v[1]) && isxdigit((unsigned char)v[2])) {
                char hex[3] = {v[1], v[2], 0};
                char c = (char)strtol(hex, NULL, 16);
                buf_append(&out, &c, 1);
                v += 2;
            } else {
                buf_append(&out, *v == '+' ? " " : v, 1);
            }
        }
        return buf_steal(&out);
    }
    return NULL;
}

static void on_loaded(int status, const struct image_record *const *imgs, size_t n, struct err *err,
                      void *data)
{
    struct http1_reply *reply = data;
    struct buf body = {0};
    cJSON *j = cJSON_CreateObject();
    if (status < 0) {
        cJSON_AddStringToObject(j, "error", err_msg(err));
    } else {
        cJSON *list = cJSON_AddArrayToObject(j, "images");
        for (size_t i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "id", imgs[i]->id);
            cJSON *names = cJSON_AddArrayToObject(o, "names");
            for (size_t k = 0; k < imgs[i]->n_names; k++)
                cJSON_AddItemToArray(names, cJSON_CreateString(imgs[i]->names[k]));
            cJSON_AddItemToArray(list, o);
        }
    }
    char *s = cJSON_Print(j);
    buf_puts(&body, s);
    buf_puts(&body, "\n");
    cJSON_free(s);
    cJSON_Delete(j);
    int code = status == 0 ? 200 : status == -ENOENT ? 404 : status == -EINVAL ? 400 : 500;
    if (status < 0)
        log_warn("%s", err_msg(err));
    reactor_http1_reply_send(reply, code, "application/json", &body);
    buf_done(&body);
}

/* POST /images/load?path=/abs/archive-or-dir[&name=ref]: offline load (see README). */
static void load_request(struct cri *cri, const struct http1_request *req,
                         struct http1_response *resp)
{
    cleanup_free char *path = query_get(req->query, "path");
    cleanup_free char *name = query_get(req->query, "name");
    if (!path || path[0] != '/') {
        resp->status = 400;
        buf_puts(&resp->body, "{\"error\": \"path= must be an absolute path\"}\n");
        resp->content_type = "application/json";
        return;
    }
    resp->status = 0; /* answered by on_loaded */
    image_load_start(cri->images, path, name, on_loaded, reactor_http1_reply_keep(req->reply));
}

/* POST /upgrade (`cribd upgrade`): the keeper stops this daemon and starts the binaries now at
 * their paths. */
static void upgrade_request(struct cri *cri, struct http1_response *resp)
{
    int r = reactor_keeper_upgrade(cri->keeper);
    resp->content_type = "application/json";
    if (r < 0) {
        resp->status = r == -ENOTSUP ? 409 : 500;
        buf_printf(&resp->body, "{\"error\": \"%s\"}\n",
                   r == -ENOTSUP ? "the daemon runs without its keeper (--no-keeper)"
                                 : strerror(-r));
        return;
    }
    log_info("upgrade asked: the keeper stops this daemon and starts the new binaries");
    resp->status = 202;
    buf_puts(&resp->body, "{\"upgrading\": true}\n");
}

void cri_http_request(void *data, const struct http1_request *req, struct http1_response *resp)
{
    struct cri *cri = data;
    if (strcmp(req->path, "/upgrade") == 0) {
        if (strcmp(req->method, "POST") != 0) {
            resp->status = 405;
            return;
        }
        upgrade_request(cri, resp);
        return;
    }
    if (strcmp(req->path, "/images/load") == 0) {
        if (strcmp(req->method, "POST") != 0) {
            resp->status = 405;
            return;
        }
        load_request(cri, req, resp);
        return;
    }
    if (strcmp(req->path, "/metrics") == 0 && cri->cfg->enable_metrics) {
        cri_prometheus_request(cri, req, resp);
        return;
    }
    bool info = strcmp(req->path, "/info") == 0;
    bool config = strcmp(req->path, "/config") == 0;
    if (!info && !config) {
        resp->status = 404;
        return;
    }
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        resp->status = 405;
        return;
    }
    resp->status = 200;
    if (info) {
        resp->content_type = "application/json";
        info_json(cri, &resp->body);
    } else {
        resp->content_type = "application/toml";
        config_write_toml(cri->cfg, &resp->body);
    }
}
