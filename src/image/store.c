/* The image store: records (one JSON file per image, written atomically on the thread pool, in
 * order), lookup by ID, name or digest, tag moves, removal, and the service around them. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/fsutil.h"
#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "image/image-internal.h"
#include "image/manifest.h"
#include "image/ref.h"

#define RECORD_MAX (16u << 20)

/* ---- records as JSON ---- */

static cJSON *strings_json(char *const *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static char *record_json(const struct image_record *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", r->id);
    cJSON_AddItemToObject(j, "names", strings_json(r->names, r->n_names));
    cJSON_AddItemToObject(j, "digests", strings_json(r->digests, r->n_digests));
    cJSON_AddItemToObject(j, "layers", strings_json(r->layers, r->n_layers));
    cJSON_AddStringToObject(j, "manifest_digest", r->manifest_digest);
    cJSON_AddNumberToObject(j, "size", (double)r->size);
    cJSON_AddNumberToObject(j, "pulled_at", (double)r->pulled_at);
    cJSON_AddStringToObject(j, "user", r->user);
    cJSON_AddStringToObject(j, "config", r->config);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static int json_strings(const cJSON *a, char ***ret, size_t *ret_n)
{
    if (!cJSON_IsArray(a))
        return -EINVAL;
    size_t n = (size_t)cJSON_GetArraySize(a);
    char **v = xcalloc(n ? n : 1, sizeof(char *));
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsString(e)) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return -EINVAL;
        }
        v[i++] = xstrdup(e->valuestring);
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

static const char *json_str(const cJSON *j, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void image_store_record_free(struct image_record *r)
{
    if (!r)
        return;
    char **lists[] = {r->names, r->digests, r->layers};
    size_t counts[] = {r->n_names, r->n_digests, r->n_layers};
    for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
        for (size_t i = 0; i < counts[l]; i++)
            free(lists[l][i]);
        free(lists[l]);
    }
    free(r->id);
    free(r->manifest_digest);
    free(r->config);
    free(r->user);
    free(r);
}

static struct image_record *record_parse(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    struct image_record *r = xcalloc(1, sizeof(*r));
    const char *id = json_str(j, "id"), *md = json_str(j, "manifest_digest");
    const char *cfg = json_str(j, "config"), *user = json_str(j, "user");
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(j, "size");
    const cJSON *pulled = cJSON_GetObjectItemCaseSensitive(j, "pulled_at");
    bool ok =
        id && md && cfg && image_digest_valid(id) && cJSON_IsNumber(size) &&
        json_strings(cJSON_GetObjectItemCaseSensitive(j, "names"), &r->names, &r->n_names) == 0 &&
        json_strings(cJSON_GetObjectItemCaseSensitive(j, "digests"), &r->digests, &r->n_digests) ==
            0 &&
        json_strings(cJSON_GetObjectItemCaseSensitive(j, "layers"), &r->layers, &r->n_layers) == 0;
    if (ok) {
        r->id = xstrdup(id);
        r->manifest_digest = xstrdup(md);
        r->config = xstrdup(cfg);
        r->user = xstrdup(user ? user : "");
        r->size = (uint64_t)size->valuedouble;
        r->pulled_at = cJSON_IsNumber(pulled) ? (int64_t)pulled->valuedouble : 0;
    }
    cJSON_Delete(j);
    if (!ok) {
        image_store_record_free(r);
        return NULL;
    }
    return r;
}

static char *record_path(struct image_service *s, const char *id)
{
    return xasprintf("%s/%s.json", s->images_dir, strchr(id, ':') + 1);
}

/* ---- durable changes, in order ---- */

struct store_write {
    store_done_cb cb;
    void *data;
};

static void on_written(int status, const char *path, void *data)
{
    struct store_write *w = data;
    if (status < 0)
        log_error("image store: write %s: %s", path, strerror(-status));
    if (w->cb)
        w->cb(status, w->data);
    free(w);
}

static void queue_job(struct image_service *s, const struct image_record *r, bool remove,
                      store_done_cb cb, void *data)
{
    struct store_write *w = xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->data = data;
    cleanup_free char *path = record_path(s, r->id);
    reactor_fileq_put(s->writes, path, remove ? NULL : record_json(r), on_written, w);
}

/* ---- lookup ---- */

static bool list_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static const struct image_record *find_by_id(struct image_service *s, const char *spec)
{
    const char *hex = strncmp(spec, "sha256:", 7) == 0 ? spec + 7 : spec;
    size_t n = strlen(hex);
    if (n < 3 || n > 64 || strspn(hex, "0123456789abcdef") != n)
        return NULL;
    const struct image_record *found = NULL;
    for (const struct image_record *r = s->images; r; r = r->next) {
        if (strncmp(r->id + 7, hex, n) == 0) {
            if (found)
                return NULL; /* ambiguous prefix */
            found = r;
        }
    }
    return found;
}

static const struct image_record *find_by_ref(struct image_service *s, const struct image_ref *ref)
{
    cleanup_free char *name = image_ref_name(ref);
    cleanup_free char *digested = ref->digest ? xasprintf("%s@%s", name, ref->digest) : NULL;
    cleanup_free char *tagged = digested ? NULL : xasprintf("%s:%s", name, image_ref_tag(ref));
    for (const struct image_record *r = s->images; r; r = r->next) {
        if (digested ? list_has(r->digests, r->n_digests, digested)
                     : list_has(r->names, r->n_names, tagged))
            return r;
    }
    return NULL;
}

const struct image_record *image_store_find(struct image_service *s, const char *spec,
                                            struct err *err)
{
    const struct image_record *r = find_by_id(s, spec);
    if (r)
        return r;
    struct image_ref ref;
    struct err e = ERR_INIT;
    if (image_ref_parse(spec, &ref, &e) < 0) {
        /* A hex string that matched nothing is simply not found. */
        if (strspn(spec, "0123456789abcdef") != strlen(spec) && strncmp(spec, "sha256:", 7) != 0)
            err_set(err, -EINVAL, "invalid image reference `%s`: %s", spec, err_msg(&e));
        err_done(&e);
        return NULL;
    }
    if (ref.domain) {
        r = find_by_ref(s, &ref);
    } else {
        const char *alias = image_registries_conf_alias(&s->reg, ref.path);
        static const char *const fallback[] = {"docker.io"};
        const char *const *search = s->reg.n_search ? (const char *const *)s->reg.search : fallback;
        size_t n = s->reg.n_search ? s->reg.n_search : 1;
        for (size_t i = 0; !r && i < n; i++) {
            struct image_ref q;
            struct err qe = ERR_INIT;
            int rc = alias ? image_ref_parse(alias, &q, &qe)
                           : image_ref_qualify(&ref, search[i], &q, &qe);
            if (rc == 0) {
                if (alias) {
                    q.tag = ref.tag ? xstrdup(ref.tag) : NULL;
                    q.digest = ref.digest ? xstrdup(ref.digest) : NULL;
                }
                r = find_by_ref(s, &q);
                image_ref_done(&q);
            }
            err_done(&qe);
        }
    }
    image_ref_done(&ref);
    return r;
}

const struct image_record *image_store_first(struct image_service *s)
{
    return s->images;
}

/* ---- changes ---- */

static void drop_name(struct image_service *s, struct image_record *keep, const char *name)
{
    for (struct image_record *r = s->images; r; r = r->next) {
        if (r == keep)
            continue;
        for (size_t i = 0; i < r->n_names; i++) {
            if (strcmp(r->names[i], name) == 0) {
                free(r->names[i]);
                r->names[i] = r->names[--r->n_names];
                queue_job(s, r, false, NULL, NULL);
                break;
            }
        }
    }
}

static void add_strings(char ***v, size_t *n, char *const *add, size_t n_add)
{
    for (size_t i = 0; i < n_add; i++) {
        if (list_has(*v, *n, add[i]))
            continue;
        *v = xrealloc(*v, (*n + 1) * sizeof(char *));
        (*v)[(*n)++] = xstrdup(add[i]);
    }
}

void image_store_add(struct image_service *s, struct image_record *rec, store_done_cb cb,
                     void *data, const struct image_record **ret_stored)
{
    struct image_record *cur;
    for (cur = s->images; cur; cur = cur->next)
        if (strcmp(cur->id, rec->id) == 0)
            break;
    if (cur) {
        add_strings(&cur->names, &cur->n_names, rec->names, rec->n_names);
        add_strings(&cur->digests, &cur->n_digests, rec->digests, rec->n_digests);
        image_store_record_free(rec);
    } else {
        cur = rec;
        for (size_t i = 0; i < cur->n_layers; i++)
            storage_layer_ref(s->storage, cur->layers[i]);
        LIST_PREPEND(s->images, cur);
    }
    for (size_t i = 0; i < cur->n_names; i++)
        drop_name(s, cur, cur->names[i]);
    queue_job(s, cur, false, cb, data);
    if (ret_stored)
        *ret_stored = cur;
}

int image_store_remove(struct image_service *s, const struct image_record *img, struct err *err)
{
    struct image_record *r = (struct image_record *)img;
    LIST_REMOVE(s->images, r);
    queue_job(s, r, true, NULL, NULL);
    for (size_t i = 0; i < r->n_layers; i++)
        storage_layer_unref(s->storage, r->layers[i]);
    log_info("removed image %s", r->id);
    image_store_record_free(r);
    return 0;
}

/* ---- start-up ---- */

static bool layers_present(struct image_service *s, const struct image_record *r)
{
    for (size_t i = 0; i < r->n_layers; i++)
        if (!storage_layer_exists(s->storage, r->layers[i]))
            return false;
    return true;
}

static void load_image(const char *path, const char *text, int read_error, void *data)
{
    struct image_service *s = data;
    struct image_record *r = text ? record_parse(text) : NULL;
    if (!r || !layers_present(s, r)) {
        log_warn("image store: dropping %s (%s)", path, r ? "layers missing" : "unreadable");
        image_store_record_free(r);
        unlink(path);
        return;
    }
    for (size_t i = 0; i < r->n_layers; i++)
        storage_layer_ref(s->storage, r->layers[i]);
    LIST_PREPEND(s->images, r);
}

int image_store_load(struct image_service *s, struct err *err)
{
    int rc = fs_mkdir_p(s->images_dir, 0700);
    if (rc < 0)
        return err_set(err, rc, "create %s: %s", s->images_dir, strerror(-rc));
    rc = fs_load_records(s->images_dir, RECORD_MAX, load_image, s);
    return rc < 0 ? err_set(err, rc, "open %s: %s", s->images_dir, strerror(-rc)) : 0;
}

void image_store_free_all(struct image_service *s)
{
    while (s->images) {
        struct image_record *r = s->images;
        LIST_REMOVE(s->images, r);
        image_store_record_free(r);
    }
}

/* ---- the service ---- */

static int load_registries(struct image_service *s, const char *path, struct err *err)
{
    if (!path || !*path)
        return 0;
    struct buf text = {0};
    int r = fs_read_file(path, 1u << 20, &text);
    if (r == 0)
        r = image_registries_conf_apply(&s->reg, path, (const char *)text.data, text.len, err);
    else if (r != -ENOENT)
        r = err_set(err, r, "read %s: %s", path, strerror(-r));
    else
        r = 0;
    buf_done(&text);
    if (r < 0)
        return r;
    cleanup_free char *dir = xasprintf("%s.d", path);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name);
        if (r == 0 && len > 5 && strcmp(names[i]->d_name + len - 5, ".conf") == 0) {
            cleanup_free char *p = xasprintf("%s/%s", dir, names[i]->d_name);
            struct buf t = {0};
            r = fs_read_file(p, 1u << 20, &t);
            if (r == 0)
                r = image_registries_conf_apply(&s->reg, p, (const char *)t.data, t.len, err);
            else
                r = err_set(err, r, "read %s: %s", p, strerror(-r));
            buf_done(&t);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

static int load_policy(struct image_service *s, const char *path, struct err *err)
{
    struct buf text = {0};
    int r = path && *path ? fs_read_file(path, IMAGE_POLICY_MAX_BYTES, &text) : -ENOENT;
    if (r == -ENOENT) {
        log_info("no signature policy at %s: accepting any image", path ? path : "(none)");
        s->policy = image_policy_accept_all();
        s->policy_path = xstrdup("(built-in policy)");
        r = 0;
    } else if (r < 0) {
        r = err_set(err, r, "read %s: %s", path, strerror(-r));
    } else {
        r = image_policy_parse((const char *)text.data, text.len, path, &s->policy, err);
        s->policy_path = xstrdup(path);
    }
    buf_done(&text);
    return r;
}

/* Read at start, as registries.conf is: a missing file means no node credentials. */
static int load_authfile(struct image_service *s, const char *path, struct err *err)
{
    if (!path || !*path)
        return 0;
    struct buf text = {0};
    int r = fs_read_file(path, IMAGE_AUTHFILE_MAX_BYTES, &text);
    if (r == 0)
        r = image_authfile_parse(path, (const char *)text.data, text.len, &s->authfile, err);
    else if (r == -ENOENT)
        r = 0;
    else
        r = err_set(err, r, "read %s: %s", path, strerror(-r));
    buf_done(&text);
    return r;
}

int image_service_new(uv_loop_t *loop, struct storage *storage,
                      const struct image_service_opts *opts, struct image_service **ret,
                      struct err *err)
{
    struct image_service *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->storage = storage;
    s->images_dir = xasprintf("%s/images", opts->root);
    s->max_downloads = opts->max_parallel_downloads ? opts->max_parallel_downloads : 3;
    s->max_image_size = opts->max_image_size ? opts->max_image_size : UINT64_MAX;
    s->writes = reactor_fileq_new(loop);
    image_registries_conf_init(&s->reg);
    int r = load_registries(s, opts->registries_conf, err);
    if (r == 0)
        r = load_policy(s, opts->signature_policy, err);
    if (r == 0)
        r = load_authfile(s, opts->global_auth_file, err);
    if (r == 0)
        r = image_store_load(s, err);
    if (r < 0) {
        image_service_free(s);
        return r;
    }
    s->http = reactor_http_new(loop);
    struct registry_client_opts ro = {.certs_dir = opts->certs_dir,
                                      .low_speed_seconds = opts->pull_progress_timeout};
    s->client = image_registry_client_new(loop, s->http, &ro);
    *ret = s;
    return 0;
}

void image_service_shutdown(struct image_service *s)
{
    if (!s)
        return;
    image_pulls_cancel_all(s);
    /* Transfers still running (fetches nobody waits for) end here; the handles close while
     * the loop still runs. */
    reactor_http_free(s->http);
    s->http = NULL;
}

void image_service_free(struct image_service *s)
{
    if (!s)
        return;
    image_registry_client_free(s->client);
    image_store_free_all(s);
    image_policy_free(s->policy);
    image_authfile_free(s->authfile);
    free(s->policy_path);
    image_registries_conf_done(&s->reg);
    reactor_fileq_free(s->writes);
    free(s->images_dir);
    free(s);
}

void image_store_usage(struct image_service *s, image_usage_cb cb, void *data)
{
    storage_usage(s->storage, cb, data);
}

const char *image_store_root(struct image_service *s)
{
    return storage_layers_dir(s->storage);
}
