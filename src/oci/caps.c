/* Capabilities of a container: CRI-O's default set, the CRI's add and drop lists, names checked
 * with libcap so the set follows what the host's libcap knows. */
#include <ctype.h>
#include <strings.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>

#include "common/macro.h"
#include "oci/oci.h"

static const cap_value_t default_caps[] = {
    CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_FSETID,           CAP_FOWNER, CAP_SETGID,
    CAP_SETUID, CAP_SETPCAP,      CAP_NET_BIND_SERVICE, CAP_KILL,
};

void oci_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static bool is_all(const char *name)
{
    return strcasecmp(name, "ALL") == 0 || strcasecmp(name, "CAP_ALL") == 0;
}

static int cap_of(const char *name, cap_value_t *ret, struct err *err)
{
    char lower[64];
    size_t n = strlen(name);
    if (n == 0 || n + 5 > sizeof(lower))
        return err_set(err, -EINVAL, "unknown capability `%s`", name);
    size_t off = 0;
    if (strncasecmp(name, "CAP_", 4) != 0) {
        memcpy(lower, "cap_", 4);
        off = 4;
    }
    for (size_t i = 0; i <= n; i++)
        lower[off + i] = (char)tolower((unsigned char)name[i]);
    if (cap_from_name(lower, ret) < 0 || *ret < 0 || *ret > cap_max_bits() - 1)
        return err_set(err, -EINVAL, "unknown capability `%s`", name);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int oci_caps_resolve(char *const *add, size_t n_add, char *const *drop, size_t n_drop,
                     bool privileged, char ***ret, struct err *err)
{
    unsigned max = (unsigned)cap_max_bits();
    cleanup_free bool *set = xcalloc(max + 1, sizeof(bool));
    for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
        set[default_caps[i]] = true;
    cap_value_t v;
    for (size_t i = 0; i < n_drop; i++) {
        if (is_all(drop[i])) {
            memset(set, 0, (max + 1) * sizeof(bool));
            continue;
        }
        if (cap_of(drop[i], &v, err) < 0)
            return err->code;
        set[v] = false;
    }
    for (size_t i = 0; i < n_add; i++) {
        if (is_all(add[i])) {
            for (unsigned k = 0; k < max; k++)
                set[k] = true;
            continue;
        }
        if (cap_of(add[i], &v, err) < 0)
            return err->code;
        set[v] = true;
    }
    if (privileged)
        for (unsigned k = 0; k < max; k++)
            set[k] = true;
    char **out = xcalloc(max + 1, sizeof(char *));
    size_t n = 0;
    for (unsigned k = 0; k < max; k++) {
        if (!set[k])
            continue;
        char *name = cap_to_name((cap_value_t)k);
        char *up = xstrdup(name);
        cap_free(name);
        for (char *p = up; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        out[n++] = up;
    }
    /* Sorted by name, as the runtime spec readers expect a stable order. */
    qsort(out, n, sizeof(char *), by_name);
    *ret = out;
    return 0;
}
