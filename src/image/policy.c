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
    char *transport; /* NULL for "default" */
    char *name;      /* "" for the transport's default scope */
    enum req_type *reqs;
    size_t n_reqs;
};

struct image_policy {
    char *origin; /* the document's name, for messages */
    struct scope deflt;
    struct scope *scopes; /* of every transport */
    size_t n_scopes;
};

/* How a transport's scopes are written and matched (the man page's per-transport rules). */
enum style {
    STYLE_DOCKER, /* references, namespaces, hosts, "*.example.com" */
    STYLE_PATH,   /* absolute paths and their parent directories */
    STYLE_NONE,   /* only the "" scope */
    STYLE_OTHER,  /* a transport crib does not know: scopes unchecked, only "" used */
};

struct ctx {
    const char *name;
    struct err *err;
    struct image_policy *p; /* being filled */
};

/* s with control bytes escaped (and `"` and `\` too when quotes), so a message stays one line. */
static char *esc(const char *s, bool quotes)
{
    struct buf b = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            buf_printf(&b, "\\x%02x", *p);
        else if (quotes && (*p == '"' || *p == '\\'))
            buf_printf(&b, "\\%c", *p);
        else
            buf_append(&b, p, 1);
    }
    return buf_steal(&b);
}

__attribute__((format(printf, 3, 4))) static int fail(struct ctx *c, const char *loc,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *what = xvasprintf(fmt, ap);
    va_end(ap);
    cleanup_free char *safe = esc(what, false);
    if (!loc)
        return err_set(c->err, -EINVAL, "%s: %s", c->name, safe);
    return err_set(c->err, -EINVAL, "%s: %s: %s", c->name, loc, safe);
}

/* JSON locations: parent.key, or parent["key"] for other than identifiers or when brackets. */
static char *loc_key(const char *parent, const char *key, bool brackets)
{
    static const char ident[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
    if (!brackets && key[0] && strspn(key, ident) == strlen(key))
        return parent ? xasprintf("%s.%s", parent, key) : xstrdup(key);
    cleanup_free char *k = esc(key, true);
    return xasprintf("%s[\"%s\"]", parent ? parent : "", k);
}

static const char *type_name(const cJSON *v)
{
    /* cJSON's type bits, from cJSON_False (1) to cJSON_Object (64) */
    static const char *const names[] = {"boolean", "boolean", "null",  "number",
                                        "string",  "array",   "object"};
    int t = v->type & 0xff;
    return t > 0 && t <= cJSON_Object ? names[__builtin_ctz((unsigned)t)] : "invalid";
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cJSON keeps every copy of a key; the man page refuses duplicates. Sorting keeps a large
 * object from costing n^2 comparisons. */
static int check_unique(struct ctx *c, const cJSON *obj, const char *loc)
{
    size_t n = (size_t)cJSON_GetArraySize(obj), i = 0;
    if (n < 2)
        return 0;
    cleanup_free const char **keys = xcalloc(n, sizeof(*keys));
    for (const cJSON *k = obj->child; k; k = k->next)
        keys[i++] = k->string;
    qsort(keys, n, sizeof(*keys), cmp_key);
    for (i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return fail(c, loc, "duplicate key `%s`", keys[i]);
    return 0;
}

static int check_object(struct ctx *c, const cJSON *v, const char *loc, const char *what)
{
    if (!cJSON_IsObject(v))
        return fail(c, loc, "%s must be an object, not %s", what, type_name(v));
    return check_unique(c, v, loc);
}

/* Checks on one field's value; loc is the value's location ("default[0].keyPath"). */
typedef int (*check_fn)(struct ctx *c, const cJSON *v, const char *loc);

static int want_string(struct ctx *c, const cJSON *v, const char *loc)
{
    if (!cJSON_IsString(v))
        return fail(c, loc, "must be a string, not %s", type_name(v));
    return v->valuestring[0] ? 0 : fail(c, loc, "must not be empty");
}

/* Go's encoding/json reads []byte fields as standard base64 with padding, skipping newlines. */
static int want_base64(struct ctx *c, const cJSON *v, const char *loc)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/\r\n";
    int r = want_string(c, v, loc);
    if (r < 0)
        return r;
    size_t n = 0, pad = 0;
    for (const char *s = v->valuestring; *s; s++) {
        if (*s != '=' && (pad > 0 || !strchr(alphabet, *s)))
            return fail(c, loc, "not valid base64");
        pad += *s == '=';
        n += *s != '\r' && *s != '\n';
    }
    return n % 4 == 0 && pad <= 2 ? 0 : fail(c, loc, "not valid base64");
}

static int want_array(struct ctx *c, const cJSON *v, const char *loc, check_fn each)
{
    if (!cJSON_IsArray(v))
        return fail(c, loc, "must be an array of strings, not %s", type_name(v));
    if (!v->child)
        return fail(c, loc, "must not be empty");
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next) {
        cleanup_free char *eloc = xasprintf("%s[%zu]", loc, i++);
        int r = each(c, e, eloc);
        if (r < 0)
            return r;
    }
    return 0;
}

static int want_strings(struct ctx *c, const cJSON *v, const char *loc)
{
    return want_array(c, v, loc, want_string);
}

static int want_base64s(struct ctx *c, const cJSON *v, const char *loc)
{
    return want_array(c, v, loc, want_base64);
}

static int want_key_type(struct ctx *c, const cJSON *v, const char *loc)
{
    int r = want_string(c, v, loc);
    if (r == 0 && strcmp(v->valuestring, "GPGKeys") != 0)
        return fail(c, loc, "unsupported key type `%s`: only `GPGKeys` is supported",
                    v->valuestring);
    return r;
}

/* A docker reference with a tag or digest: '@', or ':' in its last component. */
static int want_reference(struct ctx *c, const cJSON *v, const char *loc)
{
    int r = want_string(c, v, loc);
    if (r < 0)
        return r;
    const char *s = v->valuestring, *slash = strrchr(s, '/');
    if (!strchr(s, '@') && !strchr(slash ? slash : s, ':'))
        return fail(c, loc, "`%s` has neither a tag nor a digest", s);
    return 0;
}

/* What an object may hold: its fields, and rules on how many of a set of them must be present. */
struct field {
    const char *key;
    check_fn check; /* NULL for "type", checked before the others */
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

/* Check the fields of obj (known to be an object) against s; what names it in messages ("a
 * `signedBy` requirement"). */
static int parse_fields(struct ctx *c, const cJSON *obj, const char *loc, const char *what,
                        const struct shape *s)
{
    unsigned seen = 0;
    for (const cJSON *k = obj->child; k; k = k->next) {
        size_t i = 0;
        while (i < s->n_fields && strcmp(s->fields[i].key, k->string) != 0)
            i++;
        if (i == s->n_fields)
            return fail(c, loc, "unknown field `%s` in %s", k->string, what);
        cleanup_free char *kloc = loc_key(loc, k->string, false);
        int r = s->fields[i].check ? s->fields[i].check(c, k, kloc) : 0;
        if (r < 0)
            return r;
        seen |= BIT(i);
    }
    for (size_t i = 0; i < s->n_rules; i++) {
        const struct rule *rule = &s->rules[i];
        int r = (seen & rule->when) == rule->when ? check_rule(c, loc, what, s, rule, seen) : 0;
        if (r < 0)
            return r;
    }
    return 0;
}

static int parse_object(struct ctx *c, const cJSON *v, const char *loc, const char *what,
                        const struct shape *s)
{
    int r = check_object(c, v, loc, what);
    return r < 0 ? r : parse_fields(c, v, loc, what, s);
}

/* An object told apart by its "type": a requirement, or a signedIdentity. */
struct kind {
    const char *type;
    const struct shape *shape;
    enum req_type req;
};

static int parse_typed(struct ctx *c, const cJSON *v, const char *loc, const char *noun,
                       const struct kind *kinds, size_t n_kinds, const struct kind **ret)
{
    cleanup_free char *a_noun = xasprintf("%s %s", strchr("aeiou", noun[0]) ? "an" : "a", noun);
    int r = check_object(c, v, loc, a_noun);
    if (r < 0)
        return r;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(v, "type");
    if (!type)
        return fail(c, loc, "%s needs a `type`", a_noun);
    cleanup_free char *tloc = loc_key(loc, "type", false);
    if (!cJSON_IsString(type))
        return fail(c, tloc, "must be a string, not %s", type_name(type));
    const struct kind *k = kinds;
    while (k < kinds + n_kinds && strcmp(k->type, type->valuestring) != 0)
        k++;
    if (k == kinds + n_kinds)
        return fail(c, loc, "unknown %s type `%s`", noun, type->valuestring);
    cleanup_free char *what =
        xasprintf("%s `%s` %s", strchr("aeiou", k->type[0]) ? "an" : "a", k->type, noun);
    *ret = k;
    return parse_fields(c, v, loc, what, k->shape);
}

static const struct field fulcio_fields[] = {{"caPath", want_string},
                                             {"caData", want_base64},
                                             {"oidcIssuer", want_string},
                                             {"subjectEmail", want_string}};
static const struct rule fulcio_rules[] = {
    {0, BITS(0, 1), 1, 1}, {0, BIT(2), 1, 1}, {0, BIT(3), 1, 1}};
static const struct shape fulcio_shape = SHAPE(fulcio_fields, fulcio_rules);

static int want_fulcio(struct ctx *c, const cJSON *v, const char *loc)
{
    return parse_object(c, v, loc, "`fulcio`", &fulcio_shape);
}

static const struct field pki_fields[] = {
    {"caRootsPath", want_string},         {"caRootsData", want_base64},
    {"caIntermediatesPath", want_string}, {"caIntermediatesData", want_base64},
    {"subjectEmail", want_string},        {"subjectHostname", want_string}};
static const struct rule pki_rules[] = {
    {0, BITS(0, 1), 1, 1}, {0, BITS(2, 3), 0, 1}, {0, BITS(4, 5), 1, 2}};
static const struct shape pki_shape = SHAPE(pki_fields, pki_rules);

static int want_pki(struct ctx *c, const cJSON *v, const char *loc)
{
    return parse_object(c, v, loc, "`pki`", &pki_shape);
}

static const struct field type_only[] = {{"type", NULL}};
static const struct rule second_required[] = {{0, BIT(1), 1, 1}};
static const struct shape plain_shape = {type_only, 1, NULL, 0};

static const struct field exact_ref_fields[] = {{"type", NULL},
                                                {"dockerReference", want_reference}};
static const struct shape exact_ref_shape = SHAPE(exact_ref_fields, second_required);
static const struct field exact_repo_fields[] = {{"type", NULL}, {"dockerRepository", want_string}};
static const struct shape exact_repo_shape = SHAPE(exact_repo_fields, second_required);
static const struct field remap_fields[] = {
    {"type", NULL}, {"prefix", want_string}, {"signedPrefix", want_string}};
static const struct rule remap_rules[] = {{0, BIT(1), 1, 1}, {0, BIT(2), 1, 1}};
static const struct shape remap_shape = SHAPE(remap_fields, remap_rules);

static const struct kind identities[] = {
    {"matchExact", &plain_shape, 0},           {"matchRepoDigestOrExact", &plain_shape, 0},
    {"matchRepository", &plain_shape, 0},      {"exactReference", &exact_ref_shape, 0},
    {"exactRepository", &exact_repo_shape, 0}, {"remapIdentity", &remap_shape, 0}};

static int want_identity(struct ctx *c, const cJSON *v, const char *loc)
{
    const struct kind *k;
    return parse_typed(c, v, loc, "identity", identities, ARRAY_SIZE(identities), &k);
}

static const struct field signed_by_fields[] = {
    {"type", NULL},           {"keyType", want_key_type},
    {"keyPath", want_string}, {"keyPaths", want_strings},
    {"keyData", want_base64}, {"signedIdentity", want_identity}};
static const struct rule signed_by_rules[] = {{0, BIT(1), 1, 1}, {0, BITS(2, 4), 1, 1}};
static const struct shape signed_by_shape = SHAPE(signed_by_fields, signed_by_rules);

static const struct field sigstore_fields[] = {{"type", NULL},
                                               {"keyPath", want_string},
                                               {"keyPaths", want_strings},
                                               {"keyData", want_base64},
                                               {"keyDatas", want_base64s},
                                               {"fulcio", want_fulcio},
                                               {"pki", want_pki},
                                               {"rekorPublicKeyPath", want_string},
                                               {"rekorPublicKeyPaths", want_strings},
                                               {"rekorPublicKeyData", want_base64},
                                               {"rekorPublicKeyDatas", want_base64s},
                                               {"signedIdentity", want_identity}};
/* One key source; at most one Rekor key source, required with fulcio, refused with pki. */
static const struct rule sigstore_rules[] = {{0, BITS(1, 6), 1, 1},
                                             {0, BITS(7, 10), 0, 1},
                                             {BIT(5), BITS(7, 10), 1, 4},
                                             {BIT(6), BITS(7, 10), 0, 0}};
static const struct shape sigstore_shape = SHAPE(sigstore_fields, sigstore_rules);

static const struct kind requirements[] = {{"insecureAcceptAnything", &plain_shape, REQ_ACCEPT},
                                           {"reject", &plain_shape, REQ_REJECT},
                                           {"signedBy", &signed_by_shape, REQ_SIGNED_BY},
                                           {"sigstoreSigned", &sigstore_shape, REQ_SIGSTORE}};

static int parse_requirements(struct ctx *c, const cJSON *v, const char *loc, struct scope *s)
{
    if (!cJSON_IsArray(v))
        return fail(c, loc, "a list of requirements must be an array, not %s", type_name(v));
    if (!v->child)
        return fail(c, loc, "a list of requirements must not be empty");
    s->reqs = xcalloc((size_t)cJSON_GetArraySize(v), sizeof(*s->reqs));
    for (const cJSON *e = v->child; e; e = e->next) {
        cleanup_free char *eloc = xasprintf("%s[%zu]", loc, s->n_reqs);
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
    if (!strcmp(t, "docker") || !strcmp(t, "atomic") || !strcmp(t, "docker-daemon"))
        return STYLE_DOCKER;
    if (!strcmp(t, "oci") || !strcmp(t, "oci-archive") || !strcmp(t, "dir") || !strcmp(t, "sif"))
        return STYLE_PATH;
    return strcmp(t, "docker-archive") && strcmp(t, "tarball") ? STYLE_OTHER : STYLE_NONE;
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
        return NULL;
    case STYLE_NONE:
        return "this transport supports only the default scope \"\"";
    case STYLE_OTHER:
        return NULL;
    }
    abort();
}

static int parse_transport(struct ctx *c, const cJSON *v, const char *loc)
{
    int r = check_object(c, v, loc, "a transport");
    if (r < 0)
        return r;
    struct image_policy *p = c->p;
    p->scopes =
        xrealloc(p->scopes, (p->n_scopes + (size_t)cJSON_GetArraySize(v)) * sizeof(*p->scopes));
    for (const cJSON *k = v->child; k; k = k->next) {
        const char *why = k->string[0] ? scope_problem(v->string, k->string) : NULL;
        if (why)
            return fail(c, loc, "invalid scope `%s`: %s", k->string, why);
        struct scope *s = &p->scopes[p->n_scopes++];
        *s = (struct scope){.transport = xstrdup(v->string), .name = xstrdup(k->string)};
        cleanup_free char *kloc = loc_key(loc, k->string, true);
        r = parse_requirements(c, k, kloc, s);
        if (r < 0)
            return r;
    }
    return 0;
}

static int parse_transports(struct ctx *c, const cJSON *v, const char *loc)
{
    int r = check_object(c, v, loc, "`transports`");
    for (const cJSON *k = v->child; k && r == 0; k = k->next) {
        cleanup_free char *kloc = loc_key(loc, k->string, false);
        r = parse_transport(c, k, kloc);
    }
    return r;
}

static int parse_default(struct ctx *c, const cJSON *v, const char *loc)
{
    return parse_requirements(c, v, loc, &c->p->deflt);
}

static const struct field root_fields[] = {{"default", parse_default},
                                           {"transports", parse_transports}};
static const struct rule root_rules[] = {{0, BIT(0), 1, 1}};
static const struct shape root_shape = SHAPE(root_fields, root_rules);

static void scope_done(struct scope *s)
{
    free(s->transport);
    free(s->name);
    free(s->reqs);
}

void image_policy_free(struct image_policy *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_scopes; i++)
        scope_done(&p->scopes[i]);
    free(p->scopes);
    scope_done(&p->deflt);
    free(p->origin);
    free(p);
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
    /* where the parser stopped, as line:column counted from 1 */
    unsigned line = 1, col = 1;
    for (const char *q = text; end && q < end && *q; q++) {
        col = *q == '\n' ? 1 : col + 1;
        line += *q == '\n';
    }
    return err_set(err, -EINVAL, "%s:%u:%u: not valid JSON", name, line, col);
}

int image_policy_parse(const char *text, size_t len, const char *name, struct image_policy **ret,
                       struct err *err)
{
    *ret = NULL;
    cJSON *root;
    int r = parse_json(text, len, name, &root, err);
    if (r < 0)
        return r;
    struct ctx c = {.name = name, .err = err, .p = xcalloc(1, sizeof(struct image_policy))};
    c.p->origin = xstrdup(name);
    r = parse_object(&c, root, NULL, "a policy", &root_shape);
    cJSON_Delete(root);
    if (r < 0) {
        image_policy_free(c.p);
        return r;
    }
    *ret = c.p;
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

static const struct scope *find_scope(const struct image_policy *p, const char *transport,
                                      const char *s, size_t n)
{
    for (size_t i = 0; i < p->n_scopes; i++) {
        const struct scope *sc = &p->scopes[i];
        if (strlen(sc->name) == n && memcmp(sc->name, s, n) == 0 &&
            strcmp(sc->transport, transport) == 0)
            return sc;
    }
    return NULL;
}

/* The reference itself, its repository, each parent namespace, the domain, then wildcards. */
static const struct scope *match_docker(const struct image_policy *p, const char *transport,
                                        const char *name)
{
    const struct scope *s = find_scope(p, transport, name, strlen(name));
    /* the repository: without "@digest", then without ":tag" in the last component */
    size_t n = strcspn(name, "@");
    const char *slash = memrchr(name, '/', n), *last = slash ? slash + 1 : name;
    const char *colon = memchr(last, ':', n - (size_t)(last - name));
    n = colon ? (size_t)(colon - name) : n;
    while (!s) {
        s = find_scope(p, transport, name, n);
        if (!(slash = memrchr(name, '/', n)))
            break;
        n = (size_t)(slash - name);
    }
    /* wildcards match the host name without its port, the longest suffix first */
    colon = memchr(name, ':', n);
    size_t host = colon ? (size_t)(colon - name) : n;
    for (size_t i = 0; i < host && !s; i++) {
        if (name[i] != '.')
            continue;
        cleanup_free char *w = xasprintf("*.%.*s", (int)(host - i - 1), name + i + 1);
        s = find_scope(p, transport, w, strlen(w));
    }
    return s;
}

/* The path, then each parent directory; "/" itself is never a scope. */
static const struct scope *match_path(const struct image_policy *p, const char *transport,
                                      const char *path)
{
    const struct scope *s = NULL;
    size_t n = path[0] == '/' ? strlen(path) : 0;
    while (n > 1 && path[n - 1] == '/')
        n--;
    for (; n > 1 && !s; n = (size_t)((const char *)memrchr(path, '/', n) - path))
        s = find_scope(p, transport, path, n);
    return s;
}

int image_policy_check(const struct image_policy *p, const char *transport, const char *name,
                       struct err *err)
{
    enum style style = transport_style(transport);
    const struct scope *s = style == STYLE_DOCKER ? match_docker(p, transport, name)
                            : style == STYLE_PATH ? match_path(p, transport, name)
                                                  : NULL;
    if (!s && !(s = find_scope(p, transport, "", 0)))
        s = &p->deflt;
    /* a reject anywhere in the list decides, whatever else the list requires */
    bool reject = false;
    const char *sig = NULL;
    for (size_t i = 0; i < s->n_reqs; i++) {
        reject = reject || s->reqs[i] == REQ_REJECT;
        if (!sig && (s->reqs[i] == REQ_SIGNED_BY || s->reqs[i] == REQ_SIGSTORE))
            sig = s->reqs[i] == REQ_SIGNED_BY ? "signedBy" : "sigstoreSigned";
    }
    if (!reject && !sig)
        return 0;
    /* "default", or "transports.docker scope `docker.io/library`" */
    cleanup_free char *tloc = s->transport ? loc_key("transports", s->transport, false) : NULL;
    cleanup_free char *scope = esc(s->name ? s->name : "", false);
    cleanup_free char *where = !tloc      ? xstrdup("default")
                               : scope[0] ? xasprintf("%s scope `%s`", tloc, scope)
                                          : xasprintf("%s scope \"\"", tloc);
    if (reject)
        return err_set(err, -EACCES, "rejected by %s (%s)", p->origin, where);
    return err_set(err, -ENOTSUP,
                   "signature verification (%s) is not supported yet: required by %s (%s)", sig,
                   p->origin, where);
}
