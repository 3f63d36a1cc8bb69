/* containers-policy.json(5): a strict parser whose every error names its JSON location, and the
 * choice of the scope (and so the requirements) that applies to an image. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/macro.h"
#include "image/policy.h"

enum req_type { REQ_ACCEPT, REQ_REJECT, REQ_SIGNED_BY, REQ_SIGSTORE };

struct scope {
    char *name; /* "" for the transport's default scope */
    enum req_type *reqs;
    size_t n_reqs;
};

struct transport {
    char *name;
    struct scope *scopes;
    size_t n_scopes;
};

struct image_policy {
    char *origin; /* the document's name, for messages */
    struct scope deflt;
    struct transport *transports;
    size_t n_transports;
};

/* How a transport's scopes are written and matched (the man page's per-transport rules). */
enum style {
    STYLE_DOCKER, /* references, namespaces, hosts, "*.example.com" */
    STYLE_PATH,   /* absolute paths and their parent directories */
    STYLE_NONE,   /* only the "" scope */
    STYLE_OTHER,  /* a transport crib does not know: scopes unchecked, matched exactly */
};

struct ctx {
    const char *name;
    struct err *err;
};

static int fail(struct ctx *c, const char *loc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, const char *loc, const char *fmt, ...)
{
    va_list ap;
    cleanup_free char *what = NULL;
    va_start(ap, fmt);
    if (vasprintf(&what, fmt, ap) < 0)
        abort();
    va_end(ap);
    if (!loc)
        return err_set(c->err, -EINVAL, "%s: %s", c->name, what);
    return err_set(c->err, -EINVAL, "%s: %s: %s", c->name, loc, what);
}

/* s made safe to quote in a message: `"`, `\` and control bytes escaped. */
static char *esc(const char *s)
{
    struct buf b = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            buf_printf(&b, "\\x%02x", *p);
        else if (*p == '"' || *p == '\\')
            buf_printf(&b, "\\%c", *p);
        else
            buf_append(&b, p, 1);
    }
    return buf_steal(&b);
}

static bool is_ident(const char *s)
{
    return s[0] && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                       strlen(s);
}

/* JSON locations: "parent.key" (or parent["key"] when key is not an identifier), "parent[i]". */
static char *loc_key(const char *parent, const char *key)
{
    cleanup_free char *k = esc(key);
    if (is_ident(key))
        return parent ? xasprintf("%s.%s", parent, k) : xstrdup(k);
    return xasprintf("%s[\"%s\"]", parent ? parent : "", k);
}

static char *loc_index(const char *parent, size_t i)
{
    return xasprintf("%s[%zu]", parent, i);
}

static const char *type_name(const cJSON *v)
{
    if (cJSON_IsNull(v))
        return "null";
    if (cJSON_IsBool(v))
        return "boolean";
    if (cJSON_IsNumber(v))
        return "number";
    if (cJSON_IsString(v))
        return "string";
    if (cJSON_IsArray(v))
        return "array";
    return cJSON_IsObject(v) ? "object" : "invalid";
}

static size_t n_children(const cJSON *v)
{
    size_t n = 0;
    for (const cJSON *k = v->child; k; k = k->next)
        n++;
    return n;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cJSON keeps every copy of a key; the man page refuses duplicates. Sorting keeps a large
 * object from costing n^2 comparisons. */
static int check_unique(struct ctx *c, const cJSON *obj, const char *loc)
{
    size_t n = n_children(obj);
    if (n < 2)
        return 0;
    cleanup_free const char **keys = xcalloc(n, sizeof(*keys));
    size_t i = 0;
    for (const cJSON *k = obj->child; k; k = k->next)
        keys[i++] = k->string;
    qsort(keys, n, sizeof(*keys), cmp_key);
    for (i = 1; i < n; i++) {
        if (strcmp(keys[i - 1], keys[i]) == 0) {
            cleanup_free char *k = esc(keys[i]);
            return fail(c, loc, "duplicate key `%s`", k);
        }
    }
    return 0;
}

static int check_object(struct ctx *c, const cJSON *v, const char *loc, const char *what)
{
    if (!cJSON_IsObject(v))
        return fail(c, loc, "%s must be an object, not %s", what, type_name(v));
    return check_unique(c, v, loc);
}

static int want_string(struct ctx *c, const cJSON *v, const char *loc)
{
    if (!cJSON_IsString(v))
        return fail(c, loc, "must be a string, not %s", type_name(v));
    if (!v->valuestring[0])
        return fail(c, loc, "must not be empty");
    return 0;
}

/* Go's encoding/json reads []byte fields as standard base64 with padding, skipping newlines. */
static bool base64_valid(const char *s)
{
    size_t n = 0, pad = 0;
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n')
            continue;
        if (*s == '=')
            pad++;
        else if (pad > 0 || !strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                                    *s))
            return false;
        n++;
    }
    return n % 4 == 0 && pad <= 2;
}

static int want_base64(struct ctx *c, const cJSON *v, const char *loc)
{
    int r = want_string(c, v, loc);
    if (r == 0 && !base64_valid(v->valuestring))
        return fail(c, loc, "not valid base64");
    return r;
}

static int want_strings(struct ctx *c, const cJSON *v, const char *loc, bool base64)
{
    if (!cJSON_IsArray(v))
        return fail(c, loc, "must be an array of strings, not %s", type_name(v));
    if (!v->child)
        return fail(c, loc, "must not be empty");
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next) {
        cleanup_free char *eloc = loc_index(loc, i++);
        int r = base64 ? want_base64(c, e, eloc) : want_string(c, e, eloc);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Whether a docker reference carries a tag or digest: '@', or ':' in its last component. */
static bool has_tag_or_digest(const char *s)
{
    const char *slash = strrchr(s, '/');
    return strchr(s, '@') || strchr(slash ? slash + 1 : s, ':');
}

/* A remapIdentity prefix: host[:port], or a namespace or repository below one. */
static bool prefix_valid(const char *s)
{
    const char *slash = strchr(s, '/');
    return !strchr(s, '@') && !(slash && strchr(slash, ':')) && s[0] != '/' &&
           s[strlen(s) - 1] != '/';
}

/* What an object may hold: its fields, and rules on how many of a set of them must be present. */
enum field_kind {
    F_TYPE, /* checked before the others */
    F_STRING,
    F_STRINGS,
    F_BASE64,
    F_BASE64S,
    F_KEY_TYPE,
    F_REFERENCE,
    F_PREFIX,
    F_IDENTITY,
    F_FULCIO,
    F_PKI,
};

struct field {
    const char *key;
    enum field_kind kind;
};

struct rule {
    unsigned when; /* applies only when all these fields are present */
    unsigned mask; /* between min and max of these fields must be present */
    unsigned min, max;
};

struct shape {
    const struct field *fields;
    size_t n_fields;
    const struct rule *rules;
    size_t n_rules;
};

#define BIT(i) (1u << (i))
#define BITS(lo, hi) (((2u << (hi)) - 1u) & ~(BIT(lo) - 1u))
#define SHAPE(f, r)                                                                                \
    {                                                                                              \
        f, ARRAY_SIZE(f), r, ARRAY_SIZE(r)                                                         \
    }

static const struct field fulcio_fields[] = {
    {"caPath", F_STRING}, {"caData", F_BASE64}, {"oidcIssuer", F_STRING}, {"subjectEmail", F_STRING}};
static const struct rule fulcio_rules[] = {
    {0, BITS(0, 1), 1, 1}, {0, BIT(2), 1, 1}, {0, BIT(3), 1, 1}};
static const struct shape fulcio_shape = SHAPE(fulcio_fields, fulcio_rules);

static const struct field pki_fields[] = {
    {"caRootsPath", F_STRING},         {"caRootsData", F_BASE64},  {"caIntermediatesPath", F_STRING},
    {"caIntermediatesData", F_BASE64}, {"subjectEmail", F_STRING}, {"subjectHostname", F_STRING}};
static const struct rule pki_rules[] = {
    {0, BITS(0, 1), 1, 1}, {0, BITS(2, 3), 0, 1}, {0, BITS(4, 5), 1, 2}};
static const struct shape pki_shape = SHAPE(pki_fields, pki_rules);

static int parse_fields(struct ctx *c, const cJSON *obj, const char *loc, const char *what,
                        const struct shape *s);
static int parse_identity(struct ctx *c, const cJSON *v, const char *loc);

static int parse_sub_object(struct ctx *c, const cJSON *v, const char *loc, const char *key,
                            const struct shape *s)
{
    cleanup_free char *what = xasprintf("`%s`", key);
    int r = check_object(c, v, loc, what);
    return r < 0 ? r : parse_fields(c, v, loc, what, s);
}

static int check_value(struct ctx *c, const cJSON *v, const char *loc, enum field_kind kind)
{
    int r;
    switch (kind) {
    case F_TYPE:
        return 0;
    case F_STRING:
        return want_string(c, v, loc);
    case F_STRINGS:
    case F_BASE64S:
        return want_strings(c, v, loc, kind == F_BASE64S);
    case F_BASE64:
        return want_base64(c, v, loc);
    case F_KEY_TYPE:
        r = want_string(c, v, loc);
        if (r == 0 && strcmp(v->valuestring, "GPGKeys") != 0) {
            cleanup_free char *s = esc(v->valuestring);
            return fail(c, loc, "unsupported key type `%s`: only `GPGKeys` is supported", s);
        }
        return r;
    case F_REFERENCE:
    case F_PREFIX:
        r = want_string(c, v, loc);
        if (r == 0 && (kind == F_REFERENCE ? !has_tag_or_digest(v->valuestring)
                                           : !prefix_valid(v->valuestring))) {
            cleanup_free char *s = esc(v->valuestring);
            if (kind == F_REFERENCE)
                return fail(c, loc, "`%s` has neither a tag nor a digest", s);
            return fail(c, loc,
                        "`%s` must be a host[:port], namespace or repository, without tag or "
                        "digest",
                        s);
        }
        return r;
    case F_IDENTITY:
        return parse_identity(c, v, loc);
    case F_FULCIO:
        return parse_sub_object(c, v, loc, "fulcio", &fulcio_shape);
    case F_PKI:
        return parse_sub_object(c, v, loc, "pki", &pki_shape);
    }
    abort();
}

/* "`a`, `b`, `c`" for the fields in mask. */
static char *field_names(const struct shape *s, unsigned mask)
{
    struct buf b = {0};
    for (size_t i = 0; i < s->n_fields; i++)
        if (mask & BIT(i))
            buf_printf(&b, "%s`%s`", b.len ? ", " : "", s->fields[i].key);
    return buf_steal(&b);
}

static int check_rule(struct ctx *c, const char *loc, const char *what, const struct shape *s,
                      const struct rule *rule, unsigned seen)
{
    unsigned found = seen & rule->mask;
    unsigned n = (unsigned)__builtin_popcount(found);
    if (n >= rule->min && n <= rule->max)
        return 0;
    cleanup_free char *all = field_names(s, rule->mask);
    cleanup_free char *got = found ? field_names(s, found) : xstrdup("none");
    cleanup_free char *when = field_names(s, rule->when);
    cleanup_free char *who = rule->when ? xasprintf("%s with %s", what, when) : xstrdup(what);
    if (rule->max == 0)
        return fail(c, loc, "%s cannot use %s", who, got);
    if (__builtin_popcount(rule->mask) == 1)
        return fail(c, loc, "%s needs %s", who, all);
    if (rule->min == 0)
        return fail(c, loc, "%s takes at most one of %s (found %s)", who, all, got);
    if (rule->max == 1)
        return fail(c, loc, "%s needs exactly one of %s (found %s)", who, all, got);
    return fail(c, loc, "%s needs at least one of %s", who, all);
}

/* Check the fields of obj (already known to be an object) against s; what names it in messages
 * ("a `signedBy` requirement"). */
static int parse_fields(struct ctx *c, const cJSON *obj, const char *loc, const char *what,
                        const struct shape *s)
{
    unsigned seen = 0;
    for (const cJSON *k = obj->child; k; k = k->next) {
        size_t i = 0;
        while (i < s->n_fields && strcmp(s->fields[i].key, k->string) != 0)
            i++;
        if (i == s->n_fields) {
            cleanup_free char *key = esc(k->string);
            return fail(c, loc, "unknown field `%s` in %s", key, what);
        }
        cleanup_free char *kloc = loc_key(loc, k->string);
        int r = check_value(c, k, kloc, s->fields[i].kind);
        if (r < 0)
            return r;
        seen |= BIT(i);
    }
    for (size_t i = 0; i < s->n_rules; i++) {
        const struct rule *rule = &s->rules[i];
        if ((seen & rule->when) != rule->when)
            continue;
        int r = check_rule(c, loc, what, s, rule, seen);
        if (r < 0)
            return r;
    }
    return 0;
}

/* An object told apart by its "type": a requirement, or a signedIdentity. */
struct kind {
    const char *type;
    const struct shape *shape;
    enum req_type req;
};

static const char *article(const char *word)
{
    return strchr("aeiou", word[0]) ? "an" : "a";
}

static int parse_typed(struct ctx *c, const cJSON *v, const char *loc, const char *noun,
                       const struct kind *kinds, size_t n_kinds, const struct kind **ret)
{
    cleanup_free char *a_noun = xasprintf("%s %s", article(noun), noun);
    int r = check_object(c, v, loc, a_noun);
    if (r < 0)
        return r;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(v, "type");
    if (!type)
        return fail(c, loc, "%s needs a `type`", a_noun);
    cleanup_free char *tloc = loc_key(loc, "type");
    if (!cJSON_IsString(type))
        return fail(c, tloc, "must be a string, not %s", type_name(type));
    const struct kind *k = NULL;
    for (size_t i = 0; i < n_kinds && !k; i++)
        if (strcmp(kinds[i].type, type->valuestring) == 0)
            k = &kinds[i];
    if (!k) {
        cleanup_free char *t = esc(type->valuestring);
        return fail(c, loc, "unknown %s type `%s`", noun, t);
    }
    cleanup_free char *what = xasprintf("%s `%s` %s", article(k->type), k->type, noun);
    *ret = k;
    return parse_fields(c, v, loc, what, k->shape);
}

static const struct field type_only[] = {{"type", F_TYPE}};
static const struct shape plain_shape = {type_only, 1, NULL, 0};

static const struct field exact_ref_fields[] = {{"type", F_TYPE}, {"dockerReference", F_REFERENCE}};
static const struct field exact_repo_fields[] = {{"type", F_TYPE}, {"dockerRepository", F_STRING}};
static const struct rule second_required[] = {{0, BIT(1), 1, 1}};
static const struct shape exact_ref_shape = SHAPE(exact_ref_fields, second_required);
static const struct shape exact_repo_shape = SHAPE(exact_repo_fields, second_required);

static const struct field remap_fields[] = {
    {"type", F_TYPE}, {"prefix", F_PREFIX}, {"signedPrefix", F_PREFIX}};
static const struct rule remap_rules[] = {{0, BIT(1), 1, 1}, {0, BIT(2), 1, 1}};
static const struct shape remap_shape = SHAPE(remap_fields, remap_rules);

static const struct kind identities[] = {
    {"matchExact", &plain_shape, 0},
    {"matchRepoDigestOrExact", &plain_shape, 0},
    {"matchRepository", &plain_shape, 0},
    {"exactReference", &exact_ref_shape, 0},
    {"exactRepository", &exact_repo_shape, 0},
    {"remapIdentity", &remap_shape, 0},
};

static int parse_identity(struct ctx *c, const cJSON *v, const char *loc)
{
    const struct kind *k;
    return parse_typed(c, v, loc, "identity", identities, ARRAY_SIZE(identities), &k);
}

static const struct field signed_by_fields[] = {
    {"type", F_TYPE},      {"keyType", F_KEY_TYPE}, {"keyPath", F_STRING},
    {"keyPaths", F_STRINGS}, {"keyData", F_BASE64},   {"signedIdentity", F_IDENTITY}};
static const struct rule signed_by_rules[] = {{0, BIT(1), 1, 1}, {0, BITS(2, 4), 1, 1}};
static const struct shape signed_by_shape = SHAPE(signed_by_fields, signed_by_rules);

static const struct field sigstore_fields[] = {
    {"type", F_TYPE},
    {"keyPath", F_STRING},
    {"keyPaths", F_STRINGS},
    {"keyData", F_BASE64},
    {"keyDatas", F_BASE64S},
    {"fulcio", F_FULCIO},
    {"pki", F_PKI},
    {"rekorPublicKeyPath", F_STRING},
    {"rekorPublicKeyPaths", F_STRINGS},
    {"rekorPublicKeyData", F_BASE64},
    {"rekorPublicKeyDatas", F_BASE64S},
    {"signedIdentity", F_IDENTITY},
};
/* One key source; at most one Rekor key source, required with fulcio, refused with pki. */
static const struct rule sigstore_rules[] = {
    {0, BITS(1, 6), 1, 1},
    {0, BITS(7, 10), 0, 1},
    {BIT(5), BITS(7, 10), 1, 4},
    {BIT(6), BITS(7, 10), 0, 0},
};
static const struct shape sigstore_shape = SHAPE(sigstore_fields, sigstore_rules);

static const struct kind requirements[] = {
    {"insecureAcceptAnything", &plain_shape, REQ_ACCEPT},
    {"reject", &plain_shape, REQ_REJECT},
    {"signedBy", &signed_by_shape, REQ_SIGNED_BY},
    {"sigstoreSigned", &sigstore_shape, REQ_SIGSTORE},
};

static int parse_requirements(struct ctx *c, const cJSON *v, const char *loc, struct scope *s)
{
    if (!cJSON_IsArray(v))
        return fail(c, loc, "a list of requirements must be an array, not %s", type_name(v));
    size_t n = n_children(v);
    if (n == 0)
        return fail(c, loc, "a list of requirements must not be empty");
    s->reqs = xcalloc(n, sizeof(*s->reqs));
    for (const cJSON *e = v->child; e; e = e->next) {
        cleanup_free char *eloc = loc_index(loc, s->n_reqs);
        const struct kind *k;
        int r = parse_typed(c, e, eloc, "requirement", requirements, ARRAY_SIZE(requirements), &k);
        if (r < 0)
            return r;
        s->reqs[s->n_reqs++] = k->req;
    }
    return 0;
}

static enum style transport_style(const char *t)
{
    static const char *const docker[] = {"docker", "atomic", "docker-daemon"};
    static const char *const path[] = {"oci", "oci-archive", "dir", "sif"};
    static const char *const none[] = {"docker-archive", "tarball"};
    for (size_t i = 0; i < ARRAY_SIZE(docker); i++)
        if (strcmp(t, docker[i]) == 0)
            return STYLE_DOCKER;
    for (size_t i = 0; i < ARRAY_SIZE(path); i++)
        if (strcmp(t, path[i]) == 0)
            return STYLE_PATH;
    for (size_t i = 0; i < ARRAY_SIZE(none); i++)
        if (strcmp(t, none[i]) == 0)
            return STYLE_NONE;
    return STYLE_OTHER;
}

static bool path_canonical(const char *s)
{
    size_t n = strlen(s);
    return !strstr(s, "//") && !strstr(s, "/./") && !strstr(s, "/../") && s[n - 1] != '/' &&
           !(n >= 2 && strcmp(s + n - 2, "/.") == 0) && !(n >= 3 && strcmp(s + n - 3, "/..") == 0);
}

/* Why scope (not "") can never be a scope of transport t, or NULL. */
static const char *scope_problem(const char *t, const char *scope)
{
    switch (transport_style(t)) {
    case STYLE_DOCKER:
        if (strchr(scope, '*') &&
            (strncmp(scope, "*.", 2) != 0 || !scope[2] || strpbrk(scope + 2, "*/:@")))
            return "a wildcard must be `*.` followed by a host name, without port or path "
                   "(`*.example.com`)";
        return NULL;
    case STYLE_PATH:
        if (scope[0] != '/')
            return "must be an absolute path";
        if (strcmp(scope, "/") == 0)
            return "`/` is not allowed; use the default scope \"\"";
        if (!path_canonical(scope))
            return "not a canonical path (no `.` or `..` components, repeated or trailing `/`)";
        return NULL;
    case STYLE_NONE:
        return "this transport supports only the default scope \"\"";
    case STYLE_OTHER:
        return NULL;
    }
    abort();
}

static int parse_transport(struct ctx *c, const cJSON *v, const char *loc, struct transport *t)
{
    int r = check_object(c, v, loc, "a transport");
    if (r < 0)
        return r;
    t->scopes = xcalloc(n_children(v), sizeof(*t->scopes));
    for (const cJSON *k = v->child; k; k = k->next) {
        const char *why = k->string[0] ? scope_problem(t->name, k->string) : NULL;
        if (why) {
            cleanup_free char *s = esc(k->string);
            return fail(c, loc, "invalid scope `%s`: %s", s, why);
        }
        struct scope *s = &t->scopes[t->n_scopes++];
        s->name = xstrdup(k->string);
        cleanup_free char *key = esc(k->string);
        cleanup_free char *kloc = xasprintf("%s[\"%s\"]", loc, key);
        r = parse_requirements(c, k, kloc, s);
        if (r < 0)
            return r;
    }
    return 0;
}

static int parse_transports(struct ctx *c, const cJSON *v, struct image_policy *p)
{
    int r = check_object(c, v, "transports", "`transports`");
    if (r < 0)
        return r;
    p->transports = xcalloc(n_children(v), sizeof(*p->transports));
    for (const cJSON *k = v->child; k; k = k->next) {
        struct transport *t = &p->transports[p->n_transports++];
        t->name = xstrdup(k->string);
        cleanup_free char *loc = loc_key("transports", k->string);
        r = parse_transport(c, k, loc, t);
        if (r < 0)
            return r;
    }
    return 0;
}

static int parse_root(struct ctx *c, const cJSON *root, struct image_policy *p)
{
    int r = check_object(c, root, NULL, "a policy");
    bool has_default = false;
    for (const cJSON *k = root->child; k && r == 0; k = k->next) {
        if (strcmp(k->string, "default") == 0) {
            has_default = true;
            r = parse_requirements(c, k, "default", &p->deflt);
        } else if (strcmp(k->string, "transports") == 0) {
            r = parse_transports(c, k, p);
        } else {
            cleanup_free char *key = esc(k->string);
            r = fail(c, NULL, "unknown top-level key `%s` (only `default` and `transports`)", key);
        }
    }
    if (r == 0 && !has_default)
        r = fail(c, NULL, "`default`, the list of requirements used when no scope matches, is "
                          "required");
    return r;
}

static void scope_done(struct scope *s)
{
    free(s->name);
    free(s->reqs);
}

void image_policy_free(struct image_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_transports; i++) {
        struct transport *t = &p->transports[i];
        for (size_t j = 0; j < t->n_scopes; j++)
            scope_done(&t->scopes[j]);
        free(t->scopes);
        free(t->name);
    }
    free(p->transports);
    scope_done(&p->deflt);
    free(p->origin);
    free(p);
}

/* Where the JSON parser stopped, as "line:col" counted from 1. */
static char *position(const char *text, const char *at)
{
    unsigned line = 1, col = 1;
    for (const char *p = text; p < at; p++) {
        col++;
        if (*p == '\n') {
            line++;
            col = 1;
        }
    }
    return xasprintf("%u:%u", line, col);
}

static int parse_json(const char *data, size_t len, const char *name, cJSON **ret, struct err *err)
{
    if (len > IMAGE_POLICY_MAX_BYTES)
        return err_set(err, -EFBIG, "%s: %zu bytes, more than the limit of %zu for a policy", name,
                       len, IMAGE_POLICY_MAX_BYTES);
    if (memchr(data, '\0', len))
        return err_set(err, -EINVAL, "%s: not valid JSON: it contains a NUL byte", name);
    cleanup_free char *text = xstrndup(data, len);
    const char *end = NULL;
    *ret = cJSON_ParseWithOpts(text, &end, true);
    if (*ret)
        return 0;
    if (!end || end < text || end > text + len)
        end = text;
    cleanup_free char *at = position(text, end);
    return err_set(err, -EINVAL, "%s:%s: not valid JSON", name, at);
}

int image_policy_parse(const char *text, size_t len, const char *name, struct image_policy **ret,
                       struct err *err)
{
    *ret = NULL;
    cJSON *root;
    int r = parse_json(text, len, name, &root, err);
    if (r < 0)
        return r;
    struct image_policy *p = xcalloc(1, sizeof(*p));
    p->origin = xstrdup(name);
    struct ctx c = {.name = name, .err = err};
    r = parse_root(&c, root, p);
    cJSON_Delete(root);
    if (r < 0) {
        image_policy_free(p);
        return r;
    }
    *ret = p;
    return 0;
}

struct image_policy *image_policy_accept_all(void)
{
    struct image_policy *p = xcalloc(1, sizeof(*p));
    p->origin = xstrdup("the built-in policy");
    p->deflt.reqs = xcalloc(1, sizeof(*p->deflt.reqs));
    p->deflt.reqs[p->deflt.n_reqs++] = REQ_ACCEPT;
    return p;
}

static const struct scope *find_scope(const struct transport *t, const char *s, size_t n)
{
    for (size_t i = 0; i < t->n_scopes; i++)
        if (strlen(t->scopes[i].name) == n && memcmp(t->scopes[i].name, s, n) == 0)
            return &t->scopes[i];
    return NULL;
}

/* Length of the repository in "domain/path:tag" or "domain/path@digest". */
static size_t repo_len(const char *name)
{
    size_t n = strcspn(name, "@");
    const char *slash = memrchr(name, '/', n);
    const char *last = slash ? slash + 1 : name;
    const char *colon = memchr(last, ':', n - (size_t)(last - name));
    return colon ? (size_t)(colon - name) : n;
}

static const struct scope *match_docker(const struct transport *t, const char *name)
{
    const struct scope *s = find_scope(t, name, strlen(name));
    size_t n = repo_len(name);
    /* the repository, each parent namespace, and last the domain */
    for (;;) {
        if (s || (s = find_scope(t, name, n)))
            return s;
        const char *slash = memrchr(name, '/', n);
        if (!slash)
            break;
        n = (size_t)(slash - name);
    }
    /* wildcards match the host name without its port, the longest suffix first */
    const char *colon = memchr(name, ':', n);
    size_t host = colon ? (size_t)(colon - name) : n;
    for (size_t i = 0; i < host && !s; i++) {
        if (name[i] != '.')
            continue;
        cleanup_free char *w = xasprintf("*.%.*s", (int)(host - i - 1), name + i + 1);
        s = find_scope(t, w, strlen(w));
    }
    return s;
}

/* The path, then each parent directory; "/" itself is never a scope. */
static const struct scope *match_path(const struct transport *t, const char *path)
{
    if (path[0] != '/')
        return NULL;
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    while (n > 1) {
        const struct scope *s = find_scope(t, path, n);
        if (s)
            return s;
        n = (size_t)((const char *)memrchr(path, '/', n) - path);
    }
    return NULL;
}

static const struct scope *match_scope(const struct transport *t, const char *name)
{
    const struct scope *s = NULL;
    switch (transport_style(t->name)) {
    case STYLE_DOCKER:
        s = match_docker(t, name);
        break;
    case STYLE_PATH:
        s = match_path(t, name);
        break;
    case STYLE_OTHER:
        s = name[0] ? find_scope(t, name, strlen(name)) : NULL;
        break;
    case STYLE_NONE:
        break;
    }
    return s ? s : find_scope(t, "", 0);
}

/* "default", or "transports.docker scope `docker.io/library`". */
static char *describe(const struct transport *t, const struct scope *s)
{
    if (!t)
        return xstrdup("default");
    cleanup_free char *tloc = loc_key("transports", t->name);
    cleanup_free char *name = esc(s->name);
    if (!s->name[0])
        return xasprintf("%s scope \"\"", tloc);
    return xasprintf("%s scope `%s`", tloc, name);
}

int image_policy_check(const struct image_policy *p, const char *transport, const char *name,
                       struct err *err)
{
    const struct transport *t = NULL;
    const struct scope *s = NULL;
    for (size_t i = 0; i < p->n_transports && !t; i++)
        if (strcmp(p->transports[i].name, transport) == 0)
            t = &p->transports[i];
    if (t)
        s = match_scope(t, name);
    if (!s) {
        t = NULL;
        s = &p->deflt;
    }
    /* a reject anywhere in the list decides, whatever else the list requires */
    const char *sig = NULL;
    for (size_t i = 0; i < s->n_reqs; i++) {
        if (s->reqs[i] == REQ_REJECT) {
            cleanup_free char *where = describe(t, s);
            return err_set(err, -EACCES, "rejected by %s (%s)", p->origin, where);
        }
        if (!sig && s->reqs[i] == REQ_SIGNED_BY)
            sig = "signedBy";
        if (!sig && s->reqs[i] == REQ_SIGSTORE)
            sig = "sigstoreSigned";
    }
    if (sig) {
        cleanup_free char *where = describe(t, s);
        return err_set(err, -ENOTSUP,
                       "signature verification (%s) is not supported yet: required by %s (%s)", sig,
                       p->origin, where);
    }
    return 0;
}
