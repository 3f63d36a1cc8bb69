/* HTTP/1.1 endpoints on the CRI socket: GET /info (JSON) and GET /config (TOML). */
#include <string.h>

#include <cjson/cJSON.h>
#include <nghttp2/nghttp2.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <protobuf-c/protobuf-c.h>

#include "common/macro.h"
#include "cri/cri-internal.h"

static void info_json(struct cri *cri, struct buf *out)
{
    const struct config *cfg = cri->cfg;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "storage_driver", cfg->storage_driver);
    cJSON_AddStringToObject(j, "storage_root", cfg->root);
    cJSON_AddStringToObject(j, "run_root", cfg->runroot);
    cJSON_AddStringToObject(j, "cgroup_driver", cfg->cgroup_manager);
    cJSON_AddStringToObject(j, "default_runtime", cfg->default_runtime);
    cJSON *v = cJSON_AddObjectToObject(j, "versions");
    cJSON_AddStringToObject(v, "crib", PACKAGE_VERSION);
    cJSON_AddStringToObject(v, "cri_api", "v1");
    cJSON_AddStringToObject(v, "libuv", uv_version_string());
    cJSON_AddStringToObject(v, "nghttp2", nghttp2_version(0)->version_str);
    cJSON_AddStringToObject(v, "protobuf_c", protobuf_c_version());
    cJSON_AddStringToObject(v, "openssl", OpenSSL_version(OPENSSL_VERSION));
    cJSON_AddStringToObject(v, "cjson", cJSON_Version());
    if (cri->srv) {
        struct reactor_stats st;
        reactor_server_stats(cri->srv, &st);
        cJSON *g = cJSON_AddObjectToObject(j, "grpc");
        cJSON_AddNumberToObject(g, "connections", (double)st.connections);
        cJSON_AddNumberToObject(g, "calls", (double)st.calls);
        cJSON_AddNumberToObject(g, "calls_total", (double)st.calls_total);
    }
    char *s = cJSON_Print(j);
    buf_puts(out, s);
    buf_puts(out, "\n");
    cJSON_free(s);
    cJSON_Delete(j);
}

void cri_http_request(void *data, const struct http1_request *req, struct http1_response *resp)
{
    struct cri *cri = data;
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
