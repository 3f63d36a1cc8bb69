/* The distribution-spec client: endpoints, the /v2/ ping, Basic and Bearer token auth, retries.
 * Internal to image/. */
#ifndef CRIB_IMAGE_REGISTRY_H
#define CRIB_IMAGE_REGISTRY_H

#include <stdbool.h>
#include <uv.h>

#include "common/err.h"
#include "reactor/reactor.h"

/* Credentials from the CRI AuthConfig ("auth" is decoded into username/password). */
struct registry_auth {
    char *username, *password;
    char *identity_token; /* OAuth2 refresh token */
    char *registry_token; /* a bearer token to use as is */
};

struct registry_client;
struct registry_req;

struct registry_client_opts {
    const char *certs_dir;  /* per-registry CA and client certificates: certs_dir/<host[:port]>/ */
    long low_speed_seconds; /* pull_progress_timeout */
};

struct registry_client *image_registry_client_new(uv_loop_t *loop, struct reactor_http *http,
                                                  const struct registry_client_opts *opts);
void image_registry_client_free(struct registry_client *c);

struct registry_target {
    const char *domain; /* "registry.k8s.io", "127.0.0.1:5000" */
    const char *path;   /* repository path "library/busybox" */
    bool insecure;
    const struct registry_auth *auth; /* may be NULL */
};

/* status 0: a 2xx response (res->body holds it unless on_data took it). Otherwise a negative
 * errno with err set: -ENOENT (404), -EACCES (401/403 after auth), -EIO, -ETIMEDOUT. */
typedef void (*registry_cb)(int status, struct reactor_http_result *res, struct err *err,
                            void *data);

struct registry_get_opts {
    const char *accept; /* Accept header value or NULL */
    size_t max_body;    /* in-memory cap when on_data is NULL */
    int (*on_data)(const uint8_t *data, size_t len, void *arg);
    /* Called before each new attempt of a streamed download: start the body over. */
    void (*on_restart)(void *arg);
};

/* GET https://<domain>/v2/<path>/<what> ("manifests/latest", "blobs/sha256:..."). */
struct registry_req *image_registry_get(struct registry_client *c, const struct registry_target *t,
                                        const char *what, const struct registry_get_opts *o,
                                        registry_cb cb, void *data);
/* The callback runs later with -ECANCELED. */
void image_registry_req_cancel(struct registry_req *r);

/* Parse a WWW-Authenticate header: scheme ("Bearer", "Basic") and the realm/service/scope
 * parameters (absent ones NULL). Exposed for unit tests. */
struct registry_challenge {
    char *scheme, *realm, *service, *scope;
};
int image_registry_challenge_parse(const char *header, struct registry_challenge *ret);
void image_registry_challenge_done(struct registry_challenge *c);
void image_registry_auth_done(struct registry_auth *a);

#endif
