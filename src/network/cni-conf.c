/* CNI configuration lists and plugin results: strict parsing of .conf/.conflist files, choosing
 * the network in a directory, building a plugin's stdin with runtimeConfig, reading its output. */
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/macro.h"
#include "network/cni-conf.h"

#define NAME_MAX_BYTES 255   /* network names and plugin types become file names */
#define ERROR_PART_MAX 4096  /* of a plugin's msg or details */
#define SKIPPED_LISTED_MAX 8 /* skipped files named in a pick error */
#define VALUE_SHOWN_MAX 256  /* of a user value quoted in a message */

/* cJSON returns NULL when an allocation fails; allocation failure aborts (STYLE.md). */
static void add(cJSON *obj, const char *key, cJSON *item)
{
    if (!cJSON_AddItemToObject(obj, key, item))
        abort();
}

static const char *type_name(const cJSON *j)
{
    return cJSON_IsString(j)   ? "a string"
           : cJSON_IsNumber(j) ? "a number"
           : cJSON_IsBool(j)   ? "a boolean"
           : cJSON_IsArray(j)  ? "an array"
           : cJSON_IsObject(j) ? "an object"
                               : "null";
}

/* Why text is not one JSON object, or NULL with *ret set; *line is 0 when no position applies. */
static const char *parse_object(const char *data, size_t len, cJSON **ret, unsigned *line,
                                unsigned *col)
{
    *ret = NULL;
    *line = 0;
    *col = 0;
    const char *nul = memchr(data, '\0', len);
    cleanup_free char *text = xstrndup(data, len);
    const char *end = nul ? text + (nul - data) : NULL;
    cJSON *j = nul ? NULL : cJSON_ParseWithOpts(text, &end, true);
    if (!j) {
        *line = 1;
        *col = 1;
        for (const char *q = text; end && q < end && *q; q++) {
            *col = *q == '\n' ? 1 : *col + 1;
            *line += *q == '\n';
        }
        return nul ? "not valid JSON: it contains a NUL byte" : "not valid JSON";
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return "not a JSON object";
    }
    *ret = j;
    return NULL;
}

/* Go's encoding/json matches keys case-insensitively and keeps the last, cJSON keeps the first:
 * a key we read must appear once, in any case. The name of the first repeated key, or NULL. */
static const char *repeated_key(const cJSON *obj, const char *const *keys, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        unsigned seen = 0;
        for (const cJSON *c = obj->child; c; c = c->next)
            seen += c->string && strcasecmp(c->string, keys[k]) == 0;
        if (seen > 1)
            return keys[k];
    }
    return NULL;
}

/* ---- configuration files ---- */

struct ctx {
    const char *file;
    struct err *err;
};

/* -EINVAL with "FILE: WHERE: message"; where is "" or "plugins[N]: ". */
__attribute__((format(printf, 3, 4))) static int fail(const struct ctx *c, const char *where,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *what = xvasprintf(fmt, ap);
    va_end(ap);
    return err_set(c->err, -EINVAL, "%s: %s%s", c->file, where, what);
}

static int check_keys(const struct ctx *c, const cJSON *obj, const char *where,
                      const char *const *keys, size_t n)
{
    const char *k = repeated_key(obj, keys, n);
    return k ? fail(c, where, "key `%s` appears more than once", k) : 0;
}

static int get_string(const struct ctx *c, const cJSON *obj, const char *key, const char *where,
                      const char **ret)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return fail(c, where, "`%s` is missing", key);
    if (!cJSON_IsString(v))
        return fail(c, where, "`%s` must be a string, not %s", key, type_name(v));
    *ret = v->valuestring;
    return 0;
}

static bool is_alnum(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* SPEC.md section 1: an alphanumeric, then alphanumerics, '_', '.' or '-'. */
static int check_network_name(const struct ctx *c, const char *name)
{
    if (name[0] == '\0')
        return fail(c, "", "`name` is empty");
    if (strlen(name) > NAME_MAX_BYTES)
        return fail(c, "", "network name longer than %d bytes", NAME_MAX_BYTES);
    bool ok = is_alnum(name[0]);
    for (const char *p = name + 1; ok && *p; p++)
        ok = is_alnum(*p) || *p == '_' || *p == '.' || *p == '-';
    if (!ok)
        return fail(c, "",
                    "invalid network name `%s`: it must start with a letter or digit, followed by "
                    "letters, digits, `_`, `.` or `-`",
                    name);
    return 0;
}

/* A plugin object: "type" a file name in CNI_PATH, "capabilities" an object of booleans. */
static int check_plugin(const struct ctx *c, const cJSON *p, const char *where)
{
    static const char *const keys[] = {"type", "capabilities"};
    if (!cJSON_IsObject(p))
        return fail(c, where, "must be an object, not %s", type_name(p));
    int r = check_keys(c, p, where, keys, ARRAY_SIZE(keys));
    const char *type = NULL;
    if (r == 0)
        r = get_string(c, p, "type", where, &type);
    if (r < 0)
        return r;
    if (type[0] == '\0')
        return fail(c, where, "`type` is empty");
    if (strlen(type) > NAME_MAX_BYTES)
        return fail(c, where, "`type` longer than %d bytes", NAME_MAX_BYTES);
    if (strchr(type, '/') || strcmp(type, ".") == 0 || strcmp(type, "..") == 0)
        return fail(c, where, "invalid plugin type `%s`: it must be a file name, without `/`",
                    type);
    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(p, "capabilities");
    bool caps_ok = !caps || cJSON_IsObject(caps);
    for (const cJSON *v = caps ? caps->child : NULL; caps_ok && v; v = v->next)
        caps_ok = cJSON_IsBool(v);
    if (!caps_ok)
        return fail(c, where, "`capabilities` must be an object of booleans");
    return 0;
}

static int check_plugins(const struct ctx *c, const cJSON *plugins)
{
    if (!cJSON_IsArray(plugins))
        return fail(c, "", "`plugins` must be an array, not %s", type_name(plugins));
    int n = cJSON_GetArraySize(plugins);
    if (n == 0)
        return fail(c, "", "`plugins` is empty");
    if (n > CNI_CONF_MAX_PLUGINS)
        return fail(c, "", "%d plugins, more than the limit of %d", n, CNI_CONF_MAX_PLUGINS);
    int i = 0;
    for (const cJSON *p = plugins->child; p; p = p->next, i++) {
        char where[32];
        snprintf(where, sizeof(where), "plugins[%d]: ", i);
        int r = check_plugin(c, p, where);
        if (r < 0)
            return r;
    }
    return 0;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Check the top level of root; a single-plugin document is checked as a plugin too. */
static int check_root(const struct ctx *c, const cJSON *root, bool *ret_is_list)
{
    /* a single plugin's own keys are checked with the plugin */
    static const char *const keys[] = {"cniVersion", "name", "plugins", "disableCheck"};
    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(root, "plugins");
    *ret_is_list = plugins != NULL;
    int r = check_keys(c, root, "", keys, ARRAY_SIZE(keys));
    const char *s;
    if (r == 0)
        r = get_string(c, root, "cniVersion", "", &s);
    if (r == 0)
        r = get_string(c, root, "name", "", &s);
    if (r == 0)
        r = check_network_name(c, s);
    if (r < 0)
        return r;
    const cJSON *dc = cJSON_GetObjectItemCaseSensitive(root, "disableCheck");
    if (dc && !cJSON_IsBool(dc))
        return fail(c, "", "`disableCheck` must be a boolean, not %s", type_name(dc));
    if (plugins)
        return check_plugins(c, plugins);
    if (has_suffix(c->file, ".conflist"))
        return fail(c, "", "`plugins` is missing");
    return check_plugin(c, root, "");
}

/* {"cniVersion", "name", "plugins": [root]}, taking root. */
static cJSON *wrap_single(cJSON *root)
{
    cJSON *list = cJSON_CreateObject();
    const char *version = cJSON_GetObjectItemCaseSensitive(root, "cniVersion")->valuestring;
    const char *name = cJSON_GetObjectItemCaseSensitive(root, "name")->valuestring;
    add(list, "cniVersion", cJSON_CreateString(version));
    add(list, "name", cJSON_CreateString(name));
    cJSON *plugins = cJSON_CreateArray();
    if (!cJSON_AddItemToArray(plugins, root))
        abort();
    add(list, "plugins", plugins);
    return list;
}

int network_cni_conflist_parse(const char *text, size_t len, const char *filename,
                               struct cni_conflist *ret, struct err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (len > CNI_CONF_MAX_BYTES)
        return err_set(err, -EFBIG, "%s: %zu bytes, more than the limit of %zu", filename, len,
                       CNI_CONF_MAX_BYTES);
    cJSON *root;
    unsigned line, col;
    const char *why = parse_object(text, len, &root, &line, &col);
    if (why && line)
        return err_set(err, -EINVAL, "%s:%u:%u: %s", filename, line, col, why);
    if (why)
        return err_set(err, -EINVAL, "%s: %s", filename, why);
    struct ctx c = {.file = filename, .err = err};
    bool is_list;
    int r = check_root(&c, root, &is_list);
    if (r < 0) {
        cJSON_Delete(root);
        return r;
    }
    ret->json = is_list ? root : wrap_single(root);
    ret->name = xstrdup(cJSON_GetObjectItemCaseSensitive(ret->json, "name")->valuestring);
    ret->cni_version =
        xstrdup(cJSON_GetObjectItemCaseSensitive(ret->json, "cniVersion")->valuestring);
    ret->path = xstrdup(filename);
    ret->disable_check = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(ret->json, "disableCheck"));
    const cJSON *plugins = cJSON_GetObjectItemCaseSensitive(ret->json, "plugins");
    ret->plugins = xcalloc((size_t)cJSON_GetArraySize(plugins), sizeof(cJSON *));
    for (cJSON *p = plugins->child; p; p = p->next)
        ret->plugins[ret->n_plugins++] = p;
    return 0;
}

void network_cni_conflist_done(struct cni_conflist *c)
{
    free(c->name);
    free(c->cni_version);
    free(c->path);
    cJSON_Delete(c->json);
    free(c->plugins);
    memset(c, 0, sizeof(*c));
}

/* ---- choosing the network in a directory ---- */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_conf_name(const char *name)
{
    return has_suffix(name, ".conf") || has_suffix(name, ".conflist") || has_suffix(name, ".json");
}

/* The configuration file names in d, sorted bytewise (Go's sort.Strings, as libcni). */
static char **list_conf_files(DIR *d, size_t *ret_n)
{
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!is_conf_name(de->d_name))
            continue;
        names = xrealloc(names, (n + 1) * sizeof(char *));
        names[n++] = xstrdup(de->d_name);
    }
    if (n > 0)
        qsort(names, n, sizeof(char *), compare_names);
    *ret_n = n;
    return names;
}

static void strings_free(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

static int read_conf_file(int dfd, const char *name, struct buf *out, struct err *err)
{
    /* O_NONBLOCK: a FIFO named like a configuration must not hang us */
    cleanup_close int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        int e = errno;
        return err_set(err, -e, "%s: %s", name, strerror(e));
    }
    if (!S_ISREG(st.st_mode))
        return err_set(err, -EINVAL, "%s: not a regular file", name);
    for (;;) {
        buf_reserve(out, 65536);
        ssize_t k = read(fd, out->data + out->len, 65536);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            int e = errno;
            return err_set(err, -e, "%s: %s", name, strerror(e));
        }
        if (k == 0)
            return 0;
        out->len += (size_t)k;
        if (out->len > CNI_CONF_MAX_BYTES)
            return err_set(err, -EFBIG, "%s: more than the limit of %zu bytes", name,
                           CNI_CONF_MAX_BYTES);
    }
}

/* Read and parse dfd/name; messages name the file without its directory. */
static int load_conf_file(int dfd, const char *name, struct cni_conflist *ret, struct err *err)
{
    struct buf text = {0};
    int r = read_conf_file(dfd, name, &text, err);
    if (r == 0)
        r = network_cni_conflist_parse((const char *)text.data, text.len, name, ret, err);
    buf_done(&text);
    return r;
}

/* Note why a file was skipped; only the first few are spelled out. */
static void note_skipped(struct buf *b, size_t *n, const char *why)
{
    if (*n < SKIPPED_LISTED_MAX)
        buf_printf(b, "%s%s", *n ? "; " : "", why);
    (*n)++;
}

static int not_found(const char *dir, const char *default_name, struct buf *skipped,
                     size_t n_skipped, struct err *err)
{
    cleanup_free char *what = default_name
                                  ? xasprintf("no CNI network `%s` in %s", default_name, dir)
                                  : xasprintf("no valid CNI configuration in %s", dir);
    if (n_skipped == 0)
        return err_set(err, -ENOENT, "%s", what);
    if (n_skipped > SKIPPED_LISTED_MAX)
        buf_printf(skipped, "; and %zu more", n_skipped - SKIPPED_LISTED_MAX);
    buf_reserve(skipped, 0);
    return err_set(err, -ENOENT, "%s (skipped %s)", what, (const char *)skipped->data);
}

/* The first file in names that parses (and is named default_name, if given). */
static int pick_from(DIR *d, const char *dir, char **names, size_t n, const char *default_name,
                     struct cni_conflist *ret, struct err *err)
{
    struct buf skipped = {0};
    size_t n_skipped = 0;
    for (size_t i = 0; i < n; i++) {
        struct err e = ERR_INIT;
        if (load_conf_file(dirfd(d), names[i], ret, &e) < 0) {
            note_skipped(&skipped, &n_skipped, err_msg(&e));
            err_done(&e);
            continue;
        }
        if (default_name && strcmp(ret->name, default_name) != 0) {
            network_cni_conflist_done(ret);
            continue;
        }
        free(ret->path);
        bool slash = has_suffix(dir, "/");
        ret->path = xasprintf("%s%s%s", dir, slash ? "" : "/", names[i]);
        buf_done(&skipped);
        return 0;
    }
    int r = not_found(dir, default_name, &skipped, n_skipped, err);
    buf_done(&skipped);
    return r;
}

int network_cni_conflist_pick(const char *dir, const char *default_name, struct cni_conflist *ret,
                              struct err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (default_name && !default_name[0])
        default_name = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        int e = errno;
        return err_set(err, -e, "cannot read CNI configuration directory %s: %s", dir, strerror(e));
    }
    size_t n;
    char **names = list_conf_files(d, &n);
    int r = n == 0 ? err_set(err, -ENOENT, "no CNI configuration file in %s", dir)
                   : pick_from(d, dir, names, n, default_name, ret, err);
    strings_free(names, n);
    closedir(d);
    return r;
}

/* ---- a plugin's stdin ---- */

static bool declares(const cJSON *plugin, const char *capability)
{
    const cJSON *caps = cJSON_GetObjectItemCaseSensitive(plugin, "capabilities");
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(caps, capability));
}

/* An exact integer: cJSON prints doubles with 15 digits, so 1e16 would come out as "1e+16",
 * which Go refuses for an integer field. */
static cJSON *int64_item(int64_t v)
{
    char s[32];
    snprintf(s, sizeof(s), "%" PRId64, v);
    return cJSON_CreateRaw(s);
}

static cJSON *port_mapping(const struct cni_port_mapping *m)
{
    cJSON *o = cJSON_CreateObject();
    add(o, "hostPort", cJSON_CreateNumber(m->host_port));
    add(o, "containerPort", cJSON_CreateNumber(m->container_port));
    /* Kubernetes says TCP/UDP/SCTP, the portmap plugin wants lower case */
    cleanup_free char *proto = xstrdup(m->protocol ? m->protocol : "tcp");
    for (char *p = proto; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    add(o, "protocol", cJSON_CreateString(proto));
    if (m->host_ip && m->host_ip[0])
        add(o, "hostIP", cJSON_CreateString(m->host_ip));
    return o;
}

/* Mappings without a host port only document the container's ports: nothing to forward. */
static cJSON *port_mappings(const struct cni_runtime_config *rc)
{
    cJSON *a = NULL;
    for (size_t i = 0; i < rc->n_port_mappings; i++) {
        if (rc->port_mappings[i].host_port <= 0)
            continue;
        if (!a)
            a = cJSON_CreateArray();
        if (!cJSON_AddItemToArray(a, port_mapping(&rc->port_mappings[i])))
            abort();
    }
    return a;
}

/* The bandwidth plugin refuses a rate without a burst; like containerd and CRI-O, give such a
 * rate the largest burst it takes. */
static int64_t burst_for(int64_t rate, int64_t burst)
{
    return rate && !burst ? (int64_t)UINT32_MAX : burst;
}

static cJSON *bandwidth(const struct cni_runtime_config *rc)
{
    if (!rc->ingress_rate && !rc->ingress_burst && !rc->egress_rate && !rc->egress_burst)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    add(o, "ingressRate", int64_item(rc->ingress_rate));
    add(o, "ingressBurst", int64_item(burst_for(rc->ingress_rate, rc->ingress_burst)));
    add(o, "egressRate", int64_item(rc->egress_rate));
    add(o, "egressBurst", int64_item(burst_for(rc->egress_rate, rc->egress_burst)));
    return o;
}

/* One range set (one address) from the single pool pod_cidr. */
static cJSON *ip_ranges(const char *pod_cidr)
{
    if (!pod_cidr || !pod_cidr[0])
        return NULL;
    cJSON *range = cJSON_CreateObject();
    add(range, "subnet", cJSON_CreateString(pod_cidr));
    cJSON *set = cJSON_CreateArray();
    cJSON *sets = cJSON_CreateArray();
    if (!cJSON_AddItemToArray(set, range) || !cJSON_AddItemToArray(sets, set))
        abort();
    return sets;
}

/* SPEC.md "Deriving runtimeConfig": capabilities both declared and provided; NULL when none. */
static cJSON *runtime_config(const cJSON *plugin, const struct cni_runtime_config *rc)
{
    if (!rc)
        return NULL;
    cJSON *out = cJSON_CreateObject();
    cJSON *v;
    if (declares(plugin, "portMappings") && (v = port_mappings(rc)))
        add(out, "portMappings", v);
    if (declares(plugin, "bandwidth") && (v = bandwidth(rc)))
        add(out, "bandwidth", v);
    if (declares(plugin, "ipRanges") && (v = ip_ranges(rc->pod_cidr)))
        add(out, "ipRanges", v);
    if (!out->child) {
        cJSON_Delete(out);
        return NULL;
    }
    return out;
}

/* Keys the runtime writes; any case, so a Go plugin cannot read the file's copy instead. */
static bool runtime_key(const char *key)
{
    static const char *const keys[] = {"cniVersion", "name", "capabilities", "runtimeConfig",
                                       "prevResult"};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        if (strcasecmp(key, keys[i]) == 0)
            return true;
    return false;
}

char *network_cni_plugin_stdin(const struct cni_conflist *c, size_t i, const char *prev_result,
                               const struct cni_runtime_config *rc)
{
    if (i >= c->n_plugins)
        abort(); /* a caller's bug, like an array overrun */
    cJSON *prev = prev_result ? cJSON_Parse(prev_result) : NULL;
    if (!cJSON_IsObject(prev)) {
        /* garbage from a plugin: a chained plugin then says it lacks prevResult */
        cJSON_Delete(prev);
        prev = NULL;
    }
    const cJSON *plugin = c->plugins[i];
    cJSON *out = cJSON_CreateObject();
    add(out, "cniVersion", cJSON_CreateString(c->cni_version));
    add(out, "name", cJSON_CreateString(c->name));
    for (const cJSON *k = plugin->child; k; k = k->next)
        if (!runtime_key(k->string))
            add(out, k->string, cJSON_Duplicate(k, true));
    cJSON *rtc = runtime_config(plugin, rc);
    if (rtc)
        add(out, "runtimeConfig", rtc);
    if (prev)
        add(out, "prevResult", prev);
    char *s = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    if (!s)
        abort();
    return s;
}

/* ---- results and errors ---- */

/* The address of "addr/prefix" in canonical form into out; false when s is not CIDR. */
static bool cidr_address(const char *s, char out[INET6_ADDRSTRLEN])
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || (size_t)(slash - s) >= INET6_ADDRSTRLEN)
        return false;
    char host[INET6_ADDRSTRLEN];
    memcpy(host, s, (size_t)(slash - s));
    host[slash - s] = '\0';
    size_t digits = strspn(slash + 1, "0123456789");
    if (digits == 0 || digits > 3 || slash[1 + digits] != '\0')
        return false;
    int prefix = atoi(slash + 1);
    int af = strchr(host, ':') ? AF_INET6 : AF_INET;
    unsigned char bin[16];
    if (inet_pton(af, host, bin) != 1 || prefix > (af == AF_INET ? 32 : 128))
        return false;
    return inet_ntop(af, bin, out, INET6_ADDRSTRLEN) != NULL;
}

static int ip_of(const cJSON *entry, size_t i, char **ret, struct err *err)
{
    if (!cJSON_IsObject(entry))
        return err_set(err, -EINVAL, "invalid result: ips[%zu] must be an object, not %s", i,
                       type_name(entry));
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(entry, "address");
    if (!a)
        return err_set(err, -EINVAL, "invalid result: ips[%zu]: `address` is missing", i);
    if (!cJSON_IsString(a))
        return err_set(err, -EINVAL, "invalid result: ips[%zu]: `address` must be a string, not %s",
                       i, type_name(a));
    char addr[INET6_ADDRSTRLEN];
    if (!cidr_address(a->valuestring, addr))
        return err_set(err, -EINVAL,
                       "invalid result: ips[%zu]: `%.*s` is not an address with a prefix length "
                       "(such as 10.88.0.5/16)",
                       i, VALUE_SHOWN_MAX, a->valuestring);
    *ret = xstrdup(addr);
    return 0;
}

/* A result without "ips": fine for 0.3.0 and later (Go's omitempty drops an empty list). */
static int check_no_ips(const cJSON *root, struct err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "cniVersion");
    if (!cJSON_IsString(v))
        return err_set(err, -EINVAL, "invalid result: no `ips` array and no `cniVersion`");
    bool old = strncmp(v->valuestring, "0.1.", 4) == 0 || strncmp(v->valuestring, "0.2.", 4) == 0;
    if (old || cJSON_GetObjectItemCaseSensitive(root, "ip4") ||
        cJSON_GetObjectItemCaseSensitive(root, "ip6"))
        return err_set(err, -EINVAL,
                       "invalid result: CNI 0.1/0.2 results (`ip4`, `ip6`) are not supported; "
                       "use cniVersion 0.3.0 or later");
    return 0;
}

static int collect_ips(const cJSON *root, char ***ret_ips, size_t *ret_n, struct err *err)
{
    static const char *const keys[] = {"ips"};
    if (repeated_key(root, keys, 1))
        return err_set(err, -EINVAL, "invalid result: key `ips` appears more than once");
    const cJSON *ips = cJSON_GetObjectItemCaseSensitive(root, "ips");
    if (!ips)
        return check_no_ips(root, err);
    if (!cJSON_IsArray(ips))
        return err_set(err, -EINVAL, "invalid result: `ips` must be an array, not %s",
                       type_name(ips));
    *ret_ips = xcalloc((size_t)cJSON_GetArraySize(ips), sizeof(char *));
    for (const cJSON *e = ips->child; e; e = e->next) {
        int r = ip_of(e, *ret_n, &(*ret_ips)[*ret_n], err);
        if (r < 0)
            return r;
        (*ret_n)++;
    }
    return 0;
}

int network_cni_result_ips(const char *json, size_t len, char ***ret_ips, size_t *ret_n,
                           struct err *err)
{
    *ret_ips = NULL;
    *ret_n = 0;
    if (len > CNI_CONF_MAX_BYTES)
        return err_set(err, -EFBIG, "invalid result: %zu bytes, more than the limit of %zu", len,
                       CNI_CONF_MAX_BYTES);
    cJSON *root;
    unsigned line, col;
    const char *why = parse_object(json, len, &root, &line, &col);
    if (why && line)
        return err_set(err, -EINVAL, "invalid result: %s (line %u, column %u)", why, line, col);
    if (why)
        return err_set(err, -EINVAL, "invalid result: %s", why);
    int r = collect_ips(root, ret_ips, ret_n, err);
    cJSON_Delete(root);
    if (r < 0) {
        strings_free(*ret_ips, *ret_n);
        *ret_ips = NULL;
        *ret_n = 0;
        return r;
    }
    if (!*ret_ips)
        *ret_ips = xcalloc(1, sizeof(char *));
    return 0;
}

/* s, cut to ERROR_PART_MAX bytes at a UTF-8 character boundary. */
static void put_part(struct buf *b, const char *s)
{
    size_t n = strlen(s), cut = n > ERROR_PART_MAX ? ERROR_PART_MAX : n;
    while (cut > 0 && cut < n && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    buf_append(b, s, cut);
    if (cut < n)
        buf_puts(b, "...");
}

char *network_cni_error_message(const char *stdout_text, size_t len)
{
    if (!stdout_text || len > CNI_CONF_MAX_BYTES)
        return NULL;
    cJSON *root;
    unsigned line, col;
    if (parse_object(stdout_text, len, &root, &line, &col))
        return NULL;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(root, "code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "msg");
    const cJSON *details = cJSON_GetObjectItemCaseSensitive(root, "details");
    if (!cJSON_IsNumber(code) || !cJSON_IsString(msg)) {
        cJSON_Delete(root);
        return NULL;
    }
    struct buf b = {0};
    put_part(&b, msg->valuestring);
    if (cJSON_IsString(details) && details->valuestring[0]) {
        if (b.len)
            buf_puts(&b, ": ");
        put_part(&b, details->valuestring);
    }
    buf_printf(&b, "%s(code %d)", b.len ? " " : "", code->valueint);
    cJSON_Delete(root);
    return buf_steal(&b);
}

/* ---- CNI_ARGS ---- */

int network_cni_args_k8s(const char *ns, const char *name, const char *infra_id, const char *uid,
                         char **ret, struct err *err)
{
    static const char *const keys[] = {"K8S_POD_NAMESPACE", "K8S_POD_NAME",
                                       "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID"};
    const char *values[] = {ns, name, infra_id, uid};
    *ret = NULL;
    struct buf b = {0};
    buf_puts(&b, "IgnoreUnknown=1");
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        const char *v = values[i] ? values[i] : "";
        const char *bad = strpbrk(v, ";=");
        if (bad) {
            buf_done(&b);
            return err_set(err, -EINVAL, "CNI_ARGS: %s `%.*s` contains `%c`", keys[i],
                           VALUE_SHOWN_MAX, v, *bad);
        }
        buf_printf(&b, ";%s=%s", keys[i], v);
    }
    *ret = buf_steal(&b);
    return 0;
}
