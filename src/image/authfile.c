/* containers-auth.json(5) for the node's own registry credentials, and normalising the names of
 * registries that credentials are given for. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "common/macro.h"
#include "image/authfile.h"

#define MAX_ENTRIES 1024

struct authfile_entry {
    char *key; /* normalised: "host[:port]" or "host[:port]/path" */
    char *auth, *identity_token;
    struct image_auth view;
};

struct image_authfile {
    struct authfile_entry *e;
    size_t n;
};

char *image_auth_host(const char *s)
{
    if (strncasecmp(s, "https://", 8) == 0)
        s += 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        s += 7;
    char *host = xstrndup(s, strcspn(s, "/"));
    if (strcasecmp(host, "index.docker.io") == 0 || strcasecmp(host, "registry-1.docker.io") == 0) {
        free(host);
        host = xstrdup("docker.io");
    }
    return host;
}

/* A key with a scheme is docker's legacy form and names only a host; others keep their path. */
static char *normalise_key(const char *key)
{
    if (strncasecmp(key, "https://", 8) == 0 || strncasecmp(key, "http://", 7) == 0)
        return image_auth_host(key);
    size_t n = strcspn(key, "/");
    cleanup_free char *host = image_auth_host(key);
    char *out = xasprintf("%s%s", host, key + n);
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == '/')
        out[--len] = '\0';
    return out;
}

void image_authfile_free(struct image_authfile *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        free(f->e[i].key);
        free(f->e[i].auth);
        free(f->e[i].identity_token);
    }
    free(f->e);
    free(f);
}

static int parse_entry(const char *name, const cJSON *item, struct authfile_entry *e,
                       struct err *err)
{
    if (!cJSON_IsObject(item))
        return err_set(err, -EINVAL, "%s: auths.\"%s\" must be an object", name, item->string);
    const cJSON *auth = cJSON_GetObjectItemCaseSensitive(item, "auth");
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(item, "identitytoken");
    if ((auth && !cJSON_IsString(auth)) || (tok && !cJSON_IsString(tok)))
        return err_set(err, -EINVAL, "%s: auths.\"%s\": `auth` and `identitytoken` must be strings",
                       name, item->string);
    if (!*item->string)
        return err_set(err, -EINVAL, "%s: auths: an empty registry name", name);
    e->key = normalise_key(item->string);
    e->auth = auth && *auth->valuestring ? xstrdup(auth->valuestring) : NULL;
    e->identity_token = tok && *tok->valuestring ? xstrdup(tok->valuestring) : NULL;
    e->view.auth = e->auth;
    e->view.identity_token = e->identity_token;
    return 0;
}

int image_authfile_parse(const char *name, const char *text, size_t len,
                         struct image_authfile **ret, struct err *err)
{
    *ret = NULL;
    cJSON *j = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return err_set(err, -EINVAL, "%s: not a JSON object", name);
    }
    const cJSON *auths = cJSON_GetObjectItemCaseSensitive(j, "auths");
    if (auths && !cJSON_IsObject(auths)) {
        cJSON_Delete(j);
        return err_set(err, -EINVAL, "%s: `auths` must be an object", name);
    }
    struct image_authfile *f = xcalloc(1, sizeof(*f));
    size_t n = (size_t)cJSON_GetArraySize(auths);
    if (n > MAX_ENTRIES) {
        cJSON_Delete(j);
        image_authfile_free(f);
        return err_set(err, -EINVAL, "%s: more than %u registries", name, MAX_ENTRIES);
    }
    f->e = xcalloc(n ? n : 1, sizeof(*f->e));
    const cJSON *item;
    int r = 0;
    cJSON_ArrayForEach(item, auths)
    {
        r = parse_entry(name, item, &f->e[f->n], err);
        if (r < 0)
            break;
        f->n++;
    }
    cJSON_Delete(j);
    if (r < 0) {
        image_authfile_free(f);
        return r;
    }
    *ret = f;
    return 0;
}

const struct image_auth *image_authfile_find(const struct image_authfile *f, const char *domain,
                                             const char *path)
{
    if (!f)
        return NULL;
    cleanup_free char *repo = xasprintf("%s/%s", domain, path);
    const struct authfile_entry *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < f->n; i++) {
        const char *k = f->e[i].key;
        size_t n = strlen(k);
        if (strncmp(repo, k, n) != 0 || (repo[n] != '\0' && repo[n] != '/'))
            continue;
        if (!best || n > best_len) {
            best = &f->e[i];
            best_len = n;
        }
    }
    return best ? &best->view : NULL;
}
