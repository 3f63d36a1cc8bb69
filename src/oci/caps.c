/* Capabilities of a container: CRI-O's default set, the CRI's add and drop lists, names checked
 * with libcap so the set follows what the host's libcap knows. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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

static bool list_has_all(char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (is_all(v[i]))
            return true;
    return false;
}

/* libcap's names are "cap_chown"; the CRI's are "CHOWN" or "CAP_CHOWN" in any case. */
static int cap_of(const char *name, unsigned max, cap_value_t *ret, struct err *err)
{
    char lower[64];
    size_t n = strlen(name), off = 0;
    if (n == 0 || n + 5 > sizeof(lower))
        return err_set(err, -EINVAL, "unknown capability `%s`", name);
    if (strncasecmp(name, "CAP_", 4) != 0) {
        memcpy(lower, "cap_", 4);
        off = 4;
    }
    for (size_t i = 0; i <= n; i++)
        lower[off + i] = (char)tolower((unsigned char)name[i]);
    /* cap_from_name also takes numbers, which "cap_" in front rules out */
    if (cap_from_name(lower, ret) < 0 || *ret < 0 || (unsigned)*ret >= max)
        return err_set(err, -EINVAL, "unknown capability `%s`", name);
    return 0;
}

/* Whether runc, a root child of ours, can hold cap: what is not in our bounding set it cannot
 * raise, and asking for it fails the container's start (capset: EPERM). */
static bool can_grant(cap_value_t cap)
{
    return cap_get_bound(cap) == 1;
}

static int fill(const char *const *names, size_t n, unsigned max, bool *set, struct err *err,
                bool value)
{
    cap_value_t v;
    for (size_t i = 0; i < n; i++) {
        if (is_all(names[i]))
            continue;
        if (cap_of(names[i], max, &v, err) < 0)
            return err->code;
        set[v] = value;
    }
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "ALL" and privileged mean every capability the host knows that we can hand out (containerd's
 * WithAllCurrentCapabilities), so that a node running without some capability still starts
 * them; the default set is trimmed the same way. A capability named in add is kept even if we
 * cannot grant it: runc then says so. Order, as containerd and CRI-O: "ALL" in add, then "ALL"
 * in drop (so add ALL + drop CHOWN is everything but CHOWN, kubernetes#51980), then the
 * named drops, then the named adds. */
int oci_caps_resolve(char *const *add, size_t n_add, char *const *drop, size_t n_drop,
                     bool privileged, char ***ret, struct err *err)
{
    int last = cap_max_bits();
    unsigned max = last > 0 ? (unsigned)last : 0;
    cleanup_free bool *set = xcalloc(max + 1, sizeof(bool));
    cleanup_free bool *checked = xcalloc(max + 1, sizeof(bool));
    *ret = NULL;

    /* Every name is checked, even when privileged overrides the lists. */
    if (fill((const char *const *)drop, n_drop, max, checked, err, true) < 0 ||
        fill((const char *const *)add, n_add, max, checked, err, true) < 0)
        return err->code;

    for (size_t i = 0; i < ARRAY_SIZE(default_caps); i++)
        if ((unsigned)default_caps[i] < max && can_grant(default_caps[i]))
            set[default_caps[i]] = true;
    if (privileged || list_has_all(add, n_add))
        for (unsigned k = 0; k < max; k++)
            set[k] = can_grant((cap_value_t)k);
    if (!privileged) {
        if (list_has_all(drop, n_drop))
            memset(set, 0, (max + 1) * sizeof(bool));
        (void)fill((const char *const *)drop, n_drop, max, set, err, false);
        (void)fill((const char *const *)add, n_add, max, set, err, true);
    }

    char **out = xcalloc(max + 1, sizeof(char *));
    size_t n = 0;
    for (unsigned k = 0; k < max; k++) {
        if (!set[k])
            continue;
        char *name = cap_to_name((cap_value_t)k);
        /* a capability the kernel has and libcap has no name for comes back as a number:
         * runc would not know it either */
        if (name && strncmp(name, "cap_", 4) == 0) {
            char *up = xstrdup(name);
            for (char *p = up; *p; p++)
                *p = (char)toupper((unsigned char)*p);
            out[n++] = up;
        }
        cap_free(name);
    }
    qsort(out, n, sizeof(char *), by_name);
    *ret = out;
    return 0;
}
