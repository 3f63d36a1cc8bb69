/* registries.conf v2: applying TOML documents (with file:line:col errors), matching a name to the
 * [[registry]] entry with the longest prefix, and listing the endpoints (mirrors, then the primary
 * location) to pull a reference from. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/toml.h"
#include "image/registries.h"

/* One document being applied; merged into the configuration only once all of it is valid. */
struct doc {
    const char *name;
    struct registries_conf conf; /* alias values may be "": remove the alias */
    bool has_search, has_mode;
};

static int fail_at(struct err *err, const struct doc *d, unsigned line, unsigned col,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail_at(struct err *err, const struct doc *d, unsigned line, unsigned col,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *what = xvasprintf(fmt, ap);
    va_end(ap);
    return err_set(err, -EINVAL, "%s:%u:%u: %s", d->name, line, col, what);
}

#define FAIL_V(err, d, v, ...) fail_at(err, d, (v)->line, (v)->col, __VA_ARGS__)

static void strings_free(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static void entry_done(struct registries_entry *e)
{
    free(e->prefix);
    free(e->location);
    for (size_t i = 0; i < e->n_mirrors; i++)
        free(e->mirrors[i].location);
    free(e->mirrors);
    free(e->origin);
    memset(e, 0, sizeof(*e));
}

void image_registries_conf_init(struct registries_conf *c)
{
    memset(c, 0, sizeof(*c));
}

void image_registries_conf_done(struct registries_conf *c)
{
    strings_free(c->search, c->n_search);
    for (size_t i = 0; i < c->n_entries; i++)
        entry_done(&c->entries[i]);
    free(c->entries);
    strings_free(c->alias_names, c->n_aliases);
    strings_free(c->alias_values, c->n_aliases);
    memset(c, 0, sizeof(*c));
}

static int want_type(struct err *err, const struct doc *d, const struct toml_kv *kv,
                     enum toml_type type)
{
    if (kv->val->type == type)
        return 0;
    return FAIL_V(err, d, kv->val, "`%s` must be of type %s, not %s", kv->key, toml_type_name(type),
                  toml_type_name(kv->val->type));
}

/* Why s is not host[:port][/path] (a location, or a prefix without wildcard), or NULL. */
static const char *name_problem(const char *s)
{
    if (strstr(s, "://"))
        return "URI schemes are not supported";
    if (strlen(s) > IMAGE_REF_NAME_MAX)
        return "longer than 255 characters";
    const char *slash = strchr(s, '/');
    if (strchr(s, '@') || (slash && strchr(slash, ':')))
        return "tags and digests are not supported here";
    if (strchr(s, '*'))
        return "a wildcard is only allowed as `*.` at the start of a prefix (`*.example.com`)";
    cleanup_free char *domain = xstrndup(s, slash ? (size_t)(slash - s) : strlen(s));
    if (!image_ref_domain_valid(domain))
        return "not a registry host[:port] followed by an optional repository path";
    if (slash && !image_ref_path_valid(slash + 1))
        return "invalid repository path (lowercase components separated by `/`)";
    return NULL;
}

static bool is_wildcard(const char *prefix)
{
    return strncmp(prefix, "*.", 2) == 0;
}

static const char *prefix_problem(const char *s)
{
    if (!is_wildcard(s))
        return name_problem(s);
    if (strpbrk(s + 2, "*/:@") || !image_ref_domain_valid(s + 2))
        return "a wildcard prefix must be `*.` followed by a host name, without port or path";
    return NULL;
}

/* A location or prefix value, with trailing slashes dropped (as containers/image does). */
static int get_location(struct err *err, const struct doc *d, const struct toml_kv *kv,
                        bool is_prefix, char **ret)
{
    int r = want_type(err, d, kv, TOML_STRING);
    if (r < 0)
        return r;
    size_t n = strlen(kv->val->u.s);
    while (n > 0 && kv->val->u.s[n - 1] == '/')
        n--;
    free(*ret);
    *ret = NULL;
    if (n == 0)
        return 0; /* as if unset, as containers/image treats it */
    cleanup_free char *s = xstrndup(kv->val->u.s, n);
    const char *why = is_prefix ? prefix_problem(s) : name_problem(s);
    if (why)
        return FAIL_V(err, d, kv->val, "invalid %s `%s`: %s", kv->key, s, why);
    *ret = TAKE_PTR(s);
    return 0;
}

static int parse_pull_from(struct err *err, const struct doc *d, const struct toml_kv *kv,
                           enum registries_pull_from *ret)
{
    int r = want_type(err, d, kv, TOML_STRING);
    if (r < 0)
        return r;
    const char *v = kv->val->u.s;
    if (strcmp(v, "all") == 0 || v[0] == '\0')
        *ret = REGISTRIES_PULL_ALL;
    else if (strcmp(v, "digest-only") == 0)
        *ret = REGISTRIES_PULL_DIGEST_ONLY;
    else if (strcmp(v, "tag-only") == 0)
        *ret = REGISTRIES_PULL_TAG_ONLY;
    else
        return FAIL_V(err, d, kv->val,
                      "`pull-from-mirror` must be all, digest-only or tag-only, not `%s`", v);
    return 0;
}

static int parse_mirror(struct err *err, const struct doc *d, const struct toml_value *t,
                        struct registries_mirror *m, bool *ret_pull_from_set)
{
    if (t->type != TOML_TABLE)
        return FAIL_V(err, d, t, "`mirror` must be an array of tables ([[registry.mirror]])");
    for (size_t i = 0; i < t->u.tab.n; i++) {
        const struct toml_kv *kv = &t->u.tab.items[i];
        int r;
        if (strcmp(kv->key, "location") == 0) {
            r = get_location(err, d, kv, false, &m->location);
        } else if (strcmp(kv->key, "insecure") == 0) {
            r = want_type(err, d, kv, TOML_BOOL);
            m->insecure = r == 0 && kv->val->u.b;
        } else if (strcmp(kv->key, "pull-from-mirror") == 0) {
            r = parse_pull_from(err, d, kv, &m->pull_from);
            *ret_pull_from_set = true;
        } else {
            r = fail_at(err, d, kv->line, kv->col, "unknown key `%s` in [[registry.mirror]]",
                        kv->key);
        }
        if (r < 0)
            return r;
    }
    if (!m->location)
        return FAIL_V(err, d, t, "a [[registry.mirror]] needs a non-empty `location`");
    return 0;
}

static int parse_mirrors(struct err *err, const struct doc *d, const struct toml_kv *kv,
                         struct registries_entry *e, bool *ret_pull_from_set)
{
    if (kv->val->type != TOML_ARRAY)
        return FAIL_V(err, d, kv->val, "`mirror` must be an array of tables ([[registry.mirror]])");
    const struct toml_value *a = kv->val;
    e->mirrors = xcalloc(a->u.arr.n, sizeof(*e->mirrors));
    for (size_t i = 0; i < a->u.arr.n; i++) {
        e->n_mirrors++;
        int r = parse_mirror(err, d, a->u.arr.items[i], &e->mirrors[i], ret_pull_from_set);
        if (r < 0)
            return r;
    }
    return 0;
}

static int entry_key(struct err *err, const struct doc *d, const struct toml_kv *kv,
                     struct registries_entry *e, bool *ret_pull_from_set)
{
    static const char *const bools[] = {"insecure", "blocked", "mirror-by-digest-only"};
    bool *fields[] = {&e->insecure, &e->blocked, &e->mirror_by_digest_only};
    for (size_t i = 0; i < ARRAY_SIZE(bools); i++) {
        if (strcmp(kv->key, bools[i]) != 0)
            continue;
        int r = want_type(err, d, kv, TOML_BOOL);
        if (r < 0)
            return r;
        *fields[i] = kv->val->u.b;
        return 0;
    }
    if (strcmp(kv->key, "prefix") == 0)
        return get_location(err, d, kv, true, &e->prefix);
    if (strcmp(kv->key, "location") == 0)
        return get_location(err, d, kv, false, &e->location);
    if (strcmp(kv->key, "mirror") == 0)
        return parse_mirrors(err, d, kv, e, ret_pull_from_set);
    if (strcmp(kv->key, "pull-from-mirror") == 0)
        return fail_at(err, d, kv->line, kv->col,
                       "`pull-from-mirror` belongs in a [[registry.mirror]], not in [[registry]]");
    return fail_at(err, d, kv->line, kv->col, "unknown key `%s` in [[registry]]", kv->key);
}

/* Replace the entry with the same prefix, or append. Takes e's contents. */
static void add_entry(struct registries_conf *c, struct registries_entry *e)
{
    for (size_t i = 0; i < c->n_entries; i++) {
        if (strcmp(c->entries[i].prefix, e->prefix) == 0) {
            entry_done(&c->entries[i]);
            c->entries[i] = *e;
            memset(e, 0, sizeof(*e));
            return;
        }
    }
    c->entries = xrealloc(c->entries, (c->n_entries + 1) * sizeof(*c->entries));
    c->entries[c->n_entries++] = *e;
    memset(e, 0, sizeof(*e));
}

static int check_entry(struct err *err, const struct doc *d, const struct toml_value *t,
                       struct registries_entry *e, bool pull_from_set)
{
    if (!e->prefix && !e->location)
        return FAIL_V(err, d, t, "a [[registry]] needs a non-empty `location` or `prefix`");
    if (!e->location && !is_wildcard(e->prefix))
        return FAIL_V(
            err, d, t,
            "[[registry]] with prefix `%s` needs a non-empty `location` (only a wildcard prefix "
            "such as `*.example.com` may go without)",
            e->prefix);
    if (e->mirror_by_digest_only && pull_from_set)
        return FAIL_V(err, d, t,
                      "[[registry]] `%s`: `mirror-by-digest-only` and a mirror's "
                      "`pull-from-mirror` cannot be set together",
                      e->prefix ? e->prefix : e->location);
    if (!e->prefix)
        e->prefix = xstrdup(e->location);
    if (!e->location)
        e->location = xstrdup("");
    e->origin = xstrdup(d->name);
    return 0;
}

static int parse_entry(struct err *err, struct doc *d, const struct toml_value *t)
{
    if (t->type != TOML_TABLE)
        return FAIL_V(err, d, t, "`registry` must be an array of tables ([[registry]])");
    struct registries_entry e = {0};
    bool pull_from_set = false;
    int r = 0;
    for (size_t i = 0; i < t->u.tab.n && r == 0; i++)
        r = entry_key(err, d, &t->u.tab.items[i], &e, &pull_from_set);
    if (r == 0)
        r = check_entry(err, d, t, &e, pull_from_set);
    if (r == 0)
        add_entry(&d->conf, &e);
    entry_done(&e);
    return r;
}

static int parse_registries(struct err *err, struct doc *d, const struct toml_kv *kv)
{
    if (kv->val->type != TOML_ARRAY)
        return FAIL_V(err, d, kv->val, "`registry` must be an array of tables ([[registry]])");
    for (size_t i = 0; i < kv->val->u.arr.n; i++) {
        int r = parse_entry(err, d, kv->val->u.arr.items[i]);
        if (r < 0)
            return r;
    }
    return 0;
}

static int parse_search(struct err *err, struct doc *d, const struct toml_kv *kv)
{
    int r = want_type(err, d, kv, TOML_ARRAY);
    if (r < 0)
        return r;
    const struct toml_value *a = kv->val;
    struct registries_conf *c = &d->conf;
    strings_free(c->search, c->n_search);
    c->search = xcalloc(a->u.arr.n, sizeof(char *));
    c->n_search = 0;
    d->has_search = true;
    for (size_t i = 0; i < a->u.arr.n; i++) {
        const struct toml_value *v = a->u.arr.items[i];
        if (v->type != TOML_STRING)
            return FAIL_V(err, d, v, "`%s` must be an array of strings", kv->key);
        size_t n = strlen(v->u.s);
        while (n > 0 && v->u.s[n - 1] == '/')
            n--;
        cleanup_free char *s = xstrndup(v->u.s, n);
        if (!image_ref_domain_valid(s))
            return FAIL_V(err, d, v, "`%s`: `%s` is not a registry host[:port]", kv->key, v->u.s);
        c->search[c->n_search++] = TAKE_PTR(s);
    }
    return 0;
}

static int parse_mode(struct err *err, struct doc *d, const struct toml_kv *kv)
{
    static const char *const names[] = {"permissive", "enforcing", "disabled"};
    int r = want_type(err, d, kv, TOML_STRING);
    if (r < 0)
        return r;
    if (kv->val->u.s[0] == '\0')
        return 0; /* empty means the default: leave it as it was */
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (strcmp(kv->val->u.s, names[i]) == 0) {
            d->conf.short_name_mode = (enum registries_short_name_mode)i;
            d->has_mode = true;
            return 0;
        }
    }
    return FAIL_V(err, d, kv->val,
                  "`short-name-mode` must be enforcing, permissive or disabled, not `%s`",
                  kv->val->u.s);
}

/* An alias name: a short name without tag or digest; a value: a qualified one, or "". */
static int check_alias(struct err *err, const struct doc *d, const struct toml_kv *kv)
{
    struct image_ref r;
    struct err e = ERR_INIT;
    if (image_ref_parse(kv->key, &r, &e) < 0) {
        fail_at(err, d, kv->line, kv->col, "alias `%s`: %s", kv->key, err_msg(&e));
        err_done(&e);
        return err->code;
    }
    bool bad_name = r.domain || r.tag || r.digest;
    image_ref_done(&r);
    if (bad_name)
        return fail_at(err, d, kv->line, kv->col,
                       "alias `%s` must be a short name without registry, tag or digest", kv->key);
    if (kv->val->type != TOML_STRING)
        return FAIL_V(err, d, kv->val, "alias `%s` must be a string", kv->key);
    if (kv->val->u.s[0] == '\0')
        return 0;
    if (image_ref_parse(kv->val->u.s, &r, &e) < 0) {
        FAIL_V(err, d, kv->val, "alias `%s`: %s", kv->key, err_msg(&e));
        err_done(&e);
        return err->code;
    }
    bool bad_value = !r.domain || r.tag || r.digest;
    image_ref_done(&r);
    if (bad_value)
        return FAIL_V(err, d, kv->val,
                      "alias `%s`: `%s` must be a fully qualified name without tag or digest",
                      kv->key, kv->val->u.s);
    return 0;
}

static int parse_aliases(struct err *err, struct doc *d, const struct toml_kv *kv)
{
    int r = want_type(err, d, kv, TOML_TABLE);
    if (r < 0)
        return r;
    const struct toml_value *t = kv->val;
    struct registries_conf *c = &d->conf;
    c->alias_names = xcalloc(t->u.tab.n, sizeof(char *));
    c->alias_values = xcalloc(t->u.tab.n, sizeof(char *));
    for (size_t i = 0; i < t->u.tab.n; i++) {
        const struct toml_kv *a = &t->u.tab.items[i];
        r = check_alias(err, d, a);
        if (r < 0)
            return r;
        /* the parsed value, so "docker.io/busybox" maps to docker.io/library/busybox */
        char *value = xstrdup("");
        if (a->val->u.s[0]) {
            struct image_ref ref;
            struct err e = ERR_INIT;
            image_ref_parse(a->val->u.s, &ref, &e);
            free(value);
            value = image_ref_name(&ref);
            image_ref_done(&ref);
        }
        c->alias_names[c->n_aliases] = xstrdup(a->key);
        c->alias_values[c->n_aliases++] = value;
    }
    return 0;
}

static int ignored_key(struct err *err, struct doc *d, const struct toml_kv *kv)
{
    if (strcmp(kv->key, "additional-layer-store-auth-helper") == 0)
        return want_type(err, d, kv, TOML_STRING);
    int r = want_type(err, d, kv, TOML_ARRAY);
    for (size_t i = 0; r == 0 && i < kv->val->u.arr.n; i++)
        if (kv->val->u.arr.items[i]->type != TOML_STRING)
            r = FAIL_V(err, d, kv->val->u.arr.items[i], "`%s` must be an array of strings",
                       kv->key);
    return r;
}

static int apply_root(struct err *err, struct doc *d, const struct toml_value *root)
{
    for (size_t i = 0; i < root->u.tab.n; i++) {
        const struct toml_kv *kv = &root->u.tab.items[i];
        int r;
        if (strcmp(kv->key, "registry") == 0)
            r = parse_registries(err, d, kv);
        else if (strcmp(kv->key, "unqualified-search-registries") == 0)
            r = parse_search(err, d, kv);
        else if (strcmp(kv->key, "short-name-mode") == 0)
            r = parse_mode(err, d, kv);
        else if (strcmp(kv->key, "aliases") == 0)
            r = parse_aliases(err, d, kv);
        else if (strcmp(kv->key, "credential-helpers") == 0 ||
                 strcmp(kv->key, "additional-layer-store-auth-helper") == 0)
            r = ignored_key(err, d, kv);
        else if (strcmp(kv->key, "registries") == 0)
            r = fail_at(err, d, kv->line, kv->col,
                        "registries.conf version 1 ([registries.search], [registries.insecure], "
                        "[registries.block]) is not supported; use version 2 "
                        "(unqualified-search-registries and [[registry]] tables)");
        else
            r = fail_at(err, d, kv->line, kv->col, "unknown key `%s`", kv->key);
        if (r < 0)
            return r;
    }
    return 0;
}

static void merge_alias(struct registries_conf *c, char *name, char *value)
{
    for (size_t i = 0; i < c->n_aliases; i++) {
        if (strcmp(c->alias_names[i], name) != 0)
            continue;
        free(name);
        free(c->alias_values[i]);
        if (value[0]) {
            c->alias_values[i] = value;
            return;
        }
        free(value);
        free(c->alias_names[i]);
        c->n_aliases--;
        c->alias_names[i] = c->alias_names[c->n_aliases];
        c->alias_values[i] = c->alias_values[c->n_aliases];
        return;
    }
    if (!value[0]) {
        free(name);
        free(value);
        return;
    }
    c->alias_names = xrealloc(c->alias_names, (c->n_aliases + 1) * sizeof(char *));
    c->alias_values = xrealloc(c->alias_values, (c->n_aliases + 1) * sizeof(char *));
    c->alias_names[c->n_aliases] = name;
    c->alias_values[c->n_aliases++] = value;
}

/* Move everything the document set into c; d->conf is left empty. */
static void merge(struct registries_conf *c, struct doc *d)
{
    struct registries_conf *u = &d->conf;
    if (d->has_search) {
        strings_free(c->search, c->n_search);
        c->search = TAKE_PTR(u->search);
        c->n_search = u->n_search;
        u->n_search = 0;
    }
    if (d->has_mode)
        c->short_name_mode = u->short_name_mode;
    for (size_t i = 0; i < u->n_entries; i++)
        add_entry(c, &u->entries[i]);
    for (size_t i = 0; i < u->n_aliases; i++)
        merge_alias(c, u->alias_names[i], u->alias_values[i]);
    u->n_aliases = 0;
}

int image_registries_conf_apply(struct registries_conf *c, const char *name, const char *text,
                                size_t len, struct err *err)
{
    struct toml_error terr;
    struct toml_value *root = NULL;
    if (toml_parse(text, len, &root, &terr) < 0)
        return err_set(err, -EINVAL, "%s:%u:%u: %s", name, terr.line, terr.col, terr.msg);
    struct doc d = {.name = name};
    int r = apply_root(err, &d, root);
    if (r == 0)
        merge(c, &d);
    image_registries_conf_done(&d.conf);
    toml_value_free(root);
    return r;
}

/* How many bytes of name the prefix matches (0: no match). */
static size_t match_len(const char *prefix, const char *name)
{
    if (is_wildcard(prefix)) {
        const char *suffix = prefix + 1; /* ".example.com" */
        size_t sn = strlen(suffix);
        size_t host = strcspn(name, ":/");
        if (host > sn && memcmp(name + host - sn, suffix, sn) == 0)
            return host;
        return 0;
    }
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n) == 0 && (name[n] == '\0' || name[n] == '/'))
        return n;
    return 0;
}

const struct registries_entry *image_registries_conf_find(const struct registries_conf *c,
                                                          const char *name)
{
    const struct registries_entry *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < c->n_entries; i++) {
        size_t n = strlen(c->entries[i].prefix);
        if (n > best_len && match_len(c->entries[i].prefix, name) > 0) {
            best = &c->entries[i];
            best_len = n;
        }
    }
    return best;
}

const char *image_registries_conf_alias(const struct registries_conf *c, const char *short_name)
{
    for (size_t i = 0; i < c->n_aliases; i++)
        if (strcmp(c->alias_names[i], short_name) == 0)
            return c->alias_values[i];
    return NULL;
}

/* Split name into the endpoint's fields, with Docker Hub's normalisation. Takes name. */
static int set_endpoint(struct registries_endpoint *ep, char *new_name, const char *orig,
                        struct err *err)
{
    cleanup_free char *name = new_name;
    const char *slash = strchr(name, '/');
    if (!slash)
        return err_set(err, -EINVAL, "rewriting `%s` gives `%s`, which has no repository path",
                       orig, name);
    cleanup_free char *domain = xstrndup(name, (size_t)(slash - name));
    cleanup_free char *path = xstrdup(slash + 1);
    image_ref_docker_hub(&domain, &path);
    if (!image_ref_domain_valid(domain) || !image_ref_path_valid(path))
        return err_set(err, -EINVAL, "rewriting `%s` gives `%s`, which is not a valid name", orig,
                       name);
    if (strlen(domain) + 1 + strlen(path) > IMAGE_REF_NAME_MAX)
        return err_set(err, -EINVAL, "rewriting `%s` gives a name longer than %d characters", orig,
                       IMAGE_REF_NAME_MAX);
    ep->name = xasprintf("%s/%s", domain, path);
    ep->domain = TAKE_PTR(domain);
    ep->path = TAKE_PTR(path);
    return 0;
}

static int rewrite(const struct registries_entry *e, const char *location, const char *name,
                   struct registries_endpoint *ep, struct err *err)
{
    if (location[0] == '\0')
        return set_endpoint(ep, xstrdup(name), name, err);
    size_t n = match_len(e->prefix, name);
    return set_endpoint(ep, xasprintf("%s%s", location, name + n), name, err);
}

static bool mirror_serves(const struct registries_entry *e, const struct registries_mirror *m,
                          bool by_digest)
{
    if (e->mirror_by_digest_only)
        return by_digest;
    if (m->pull_from == REGISTRIES_PULL_DIGEST_ONLY)
        return by_digest;
    if (m->pull_from == REGISTRIES_PULL_TAG_ONLY)
        return !by_digest;
    return true;
}

static int list_endpoints(const struct registries_entry *e, const char *name, bool by_digest,
                          struct registries_endpoint *out, size_t *n, struct err *err)
{
    for (size_t i = 0; i < e->n_mirrors; i++) {
        const struct registries_mirror *m = &e->mirrors[i];
        if (!mirror_serves(e, m, by_digest))
            continue;
        int r = rewrite(e, m->location, name, &out[*n], err);
        if (r < 0)
            return r;
        out[*n].insecure = m->insecure;
        out[(*n)++].mirror = true;
    }
    int r = rewrite(e, e->location, name, &out[*n], err);
    if (r < 0)
        return r;
    out[(*n)++].insecure = e->insecure;
    return 0;
}

int image_registries_conf_endpoints(const struct registries_conf *c, const struct image_ref *ref,
                                    struct registries_endpoint **ret, size_t *ret_n,
                                    struct err *err)
{
    *ret = NULL;
    *ret_n = 0;
    if (!ref->domain)
        return err_set(err, -EINVAL,
                       "`%s` is a short name; qualify it before looking up its "
                       "registry",
                       ref->path);
    cleanup_free char *name = image_ref_name(ref);
    const struct registries_entry *e = image_registries_conf_find(c, name);
    if (e && e->blocked)
        return err_set(err, -EACCES, "registry `%s` is blocked by prefix `%s` in %s", name,
                       e->prefix, e->origin);
    struct registries_endpoint *out = xcalloc(e ? e->n_mirrors + 1 : 1, sizeof(*out));
    size_t n = 0;
    int r = 0;
    if (e) {
        r = list_endpoints(e, name, ref->digest != NULL, out, &n, err);
    } else {
        out[0].name = xstrdup(name);
        out[0].domain = xstrdup(ref->domain);
        out[0].path = xstrdup(ref->path);
        n = 1;
    }
    if (r < 0) {
        image_registries_endpoints_free(out, n);
        return r;
    }
    *ret = out;
    *ret_n = n;
    return 0;
}

void image_registries_endpoints_free(struct registries_endpoint *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        free(e[i].name);
        free(e[i].domain);
        free(e[i].path);
    }
    free(e);
}
