/* Seccomp profiles as OCI `linux.seccomp` objects: the built-in RuntimeDefault (every syscall
 * libseccomp knows, minus the calls that reach past the container into the node) and Localhost
 * profile files, in the OCI form or Docker's. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "oci/oci.h"

/* CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
 * CLONE_NEWNET: clone(2) may not create namespaces without CAP_SYS_ADMIN. */
#define CLONE_NEW_MASK 0x7E020000u
#define ERRNO_EPERM 1
#define ERRNO_ENOSYS 38

/* A profile file larger than this is refused (Docker's default profile is ~20 KiB). */
#define PROFILE_SIZE_MAX (4u * 1024 * 1024)
/* Syscall arguments are compared as 64-bit values; cJSON holds numbers as doubles, exact up to
 * 2^53. Larger values are written back as raw integers so that no exponent form reaches the
 * runtime. */
#define EXACT_DOUBLE_MAX 9007199254740992.0 /* 2^53 */
#define UINT64_LIMIT 18446744073709551616.0 /* 2^64 */

/* Syscalls refused by the default profile; each is allowed again when the container holds one of
 * its capabilities (none: never). Calls not listed here are allowed (with the exceptions of
 * clone, clone3 and personality, which get rules of their own). */
struct restricted_syscall {
    const char *name;
    const char *caps[2];
};

static const struct restricted_syscall restricted[] = {
    /* mounts, namespaces and the root: the container's view of the node */
    {"mount", {"CAP_SYS_ADMIN"}},
    {"umount", {"CAP_SYS_ADMIN"}},
    {"umount2", {"CAP_SYS_ADMIN"}},
    {"unshare", {"CAP_SYS_ADMIN"}},
    {"setns", {"CAP_SYS_ADMIN"}},
    {"pivot_root", {"CAP_SYS_ADMIN"}},
    {"mount_setattr", {"CAP_SYS_ADMIN"}},
    {"move_mount", {"CAP_SYS_ADMIN"}},
    {"open_tree", {"CAP_SYS_ADMIN"}},
    {"open_tree_attr", {"CAP_SYS_ADMIN"}},
    {"fsopen", {"CAP_SYS_ADMIN"}},
    {"fsconfig", {"CAP_SYS_ADMIN"}},
    {"fsmount", {"CAP_SYS_ADMIN"}},
    {"fspick", {"CAP_SYS_ADMIN"}},
    {"quotactl", {"CAP_SYS_ADMIN"}},
    {"quotactl_fd", {"CAP_SYS_ADMIN"}},
    {"lookup_dcookie", {"CAP_SYS_ADMIN"}},
    {"fanotify_init", {"CAP_SYS_ADMIN"}},
    {"name_to_handle_at", {"CAP_SYS_ADMIN"}},
    /* file handles bypass the mount namespace: any inode of the file system */
    {"open_by_handle_at", {"CAP_DAC_READ_SEARCH"}},
    /* the kernel itself: modules, kexec, BPF, perf, keyrings (not namespaced), swap, reboot */
    {"kexec_load", {NULL}},
    {"kexec_file_load", {NULL}},
    {"init_module", {"CAP_SYS_MODULE"}},
    {"finit_module", {"CAP_SYS_MODULE"}},
    {"delete_module", {"CAP_SYS_MODULE"}},
    {"create_module", {NULL}},
    {"get_kernel_syms", {NULL}},
    {"query_module", {NULL}},
    {"bpf", {"CAP_SYS_ADMIN", "CAP_BPF"}},
    {"perf_event_open", {"CAP_SYS_ADMIN", "CAP_PERFMON"}},
    {"add_key", {NULL}},
    {"request_key", {NULL}},
    {"keyctl", {NULL}},
    {"acct", {"CAP_SYS_PACCT"}},
    {"swapon", {NULL}},
    {"swapoff", {NULL}},
    {"reboot", {"CAP_SYS_BOOT"}},
    {"syslog", {"CAP_SYS_ADMIN", "CAP_SYSLOG"}},
    {"userfaultfd", {NULL}},
    {"io_uring_setup", {NULL}},
    {"io_uring_enter", {NULL}},
    {"io_uring_register", {NULL}},
    /* the node's clock is not namespaced */
    {"clock_settime", {"CAP_SYS_TIME"}},
    {"clock_settime64", {"CAP_SYS_TIME"}},
    {"settimeofday", {"CAP_SYS_TIME"}},
    {"stime", {"CAP_SYS_TIME"}},
    {"clock_adjtime", {"CAP_SYS_TIME"}},
    {"clock_adjtime64", {"CAP_SYS_TIME"}},
    {"adjtimex", {"CAP_SYS_TIME"}},
    /* hardware and other processes' memory */
    {"iopl", {"CAP_SYS_RAWIO"}},
    {"ioperm", {"CAP_SYS_RAWIO"}},
    {"pciconfig_read", {NULL}},
    {"pciconfig_write", {NULL}},
    {"pciconfig_iobase", {NULL}},
    {"process_vm_readv", {"CAP_SYS_PTRACE"}},
    {"process_vm_writev", {"CAP_SYS_PTRACE"}},
    {"kcmp", {"CAP_SYS_PTRACE"}},
    {"vhangup", {"CAP_SYS_TTY_CONFIG"}},
    /* obsolete, or old attack surface nobody needs */
    {"vm86", {NULL}},
    {"vm86old", {NULL}},
    {"nfsservctl", {NULL}},
    {"uselib", {NULL}},
    {"ustat", {NULL}},
    {"sysfs", {NULL}},
    {"_sysctl", {NULL}},
};

/* Syscalls newer than the libseccomp we build with: listed so that a runtime with a newer
 * libseccomp allows them (a runtime skips names it does not know). libc calls several of these
 * and falls back only on ENOSYS, not on the EPERM the default action returns. */
static const char *const newer_syscalls[] = {
    "cachestat",        "fchmodat2",     "futex_requeue",     "futex_wait",
    "futex_waitv",      "futex_wake",    "map_shadow_stack",  "set_mempolicy_home_node",
    "statmount",        "listmount",     "lsm_get_self_attr", "lsm_set_self_attr",
    "lsm_list_modules", "mseal",         "setxattrat",        "getxattrat",
    "listxattrat",      "removexattrat", "file_getattr",      "file_setattr",
    "uretprobe",
};

/* personality(2) personas allowed, as Docker's profile: PER_LINUX, PER_LINUX32, UNAME26,
 * UNAME26|PER_LINUX32, and 0xffffffff (query). */
static const uint32_t personas[] = {0x0, 0x8, 0x20000, 0x20008, 0xffffffff};

/* The architectures libseccomp knows, by their OCI names. */
static const char *const arch_names[] = {
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
};

static const char *const actions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
};

static const char *const operators[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};

static const char *const filter_flags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

static void cjson_deletep(cJSON **p)
{
    cJSON_Delete(*p);
}
#define cleanup_cjson __attribute__((cleanup(cjson_deletep)))

static bool in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return true;
    return false;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token (0 if unknown). */
static uint32_t arch_token(const char *name)
{
    static const char prefix[] = "SCMP_ARCH_";
    char lower[32];
    size_t n;

    if (strncmp(name, prefix, sizeof(prefix) - 1) != 0)
        return 0;
    name += sizeof(prefix) - 1;
    n = strlen(name);
    if (n == 0 || n >= sizeof(lower))
        return 0;
    for (size_t i = 0; i <= n; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    return seccomp_arch_resolve_name(lower);
}

static const char *arch_name(uint32_t token)
{
    for (size_t i = 0; i < ARRAY_SIZE(arch_names); i++)
        if (arch_token(arch_names[i]) == token)
            return arch_names[i];
    return NULL;
}

/* The native architecture and those whose binaries it also runs (runc's list). */
static size_t native_arches(uint32_t *ret, size_t max)
{
    uint32_t native = seccomp_arch_native();
    size_t n = 0;

    ret[n++] = native;
    if (native == SCMP_ARCH_X86_64 && max >= 3) {
        ret[n++] = SCMP_ARCH_X86;
        ret[n++] = SCMP_ARCH_X32;
    } else if (native == SCMP_ARCH_AARCH64 && max >= 2) {
        ret[n++] = SCMP_ARCH_ARM;
    }
    return n;
}

static bool has_cap(char *const *caps, const char *cap)
{
    if (!caps || !cap)
        return false;
    for (size_t i = 0; caps[i]; i++)
        if (strcasecmp(caps[i], cap) == 0)
            return true;
    return false;
}

/* Whether the default profile allows name without conditions. */
static bool default_allows(const char *name, char *const *caps)
{
    for (size_t i = 0; i < ARRAY_SIZE(restricted); i++) {
        if (strcmp(restricted[i].name, name) == 0)
            return has_cap(caps, restricted[i].caps[0]) || has_cap(caps, restricted[i].caps[1]);
    }
    /* clone and clone3 may create namespaces; personality may select unsafe personas */
    if (strcmp(name, "clone") == 0 || strcmp(name, "clone3") == 0)
        return has_cap(caps, "CAP_SYS_ADMIN");
    return strcmp(name, "personality") != 0;
}

struct strv {
    char **v;
    size_t n, cap;
};

static void strv_push(struct strv *s, char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 512;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = str;
}

static void strv_done(struct strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every syscall name libseccomp knows on these architectures, sorted and unique. */
static void known_syscalls(const uint32_t *arches, size_t n_arches, struct strv *ret)
{
    /* ARM's private calls (cacheflush, set_tls, ...) live at 0xf0000; x32 numbers resolve with
     * or without their 0x40000000 bit. */
    static const struct {
        uint32_t arch;
        int first, count;
    } extra[] = {{SCMP_ARCH_ARM, 0xf0000, 256}};

    for (size_t a = 0; a < n_arches; a++) {
        for (int nr = 0; nr < 1024; nr++) {
            char *name = seccomp_syscall_resolve_num_arch(arches[a], nr);
            if (name)
                strv_push(ret, name);
        }
        for (size_t e = 0; e < ARRAY_SIZE(extra); e++) {
            if (extra[e].arch != arches[a])
                continue;
            for (int nr = extra[e].first; nr < extra[e].first + extra[e].count; nr++) {
                char *name = seccomp_syscall_resolve_num_arch(arches[a], nr);
                if (name)
                    strv_push(ret, name);
            }
        }
    }
    for (size_t i = 0; i < ARRAY_SIZE(newer_syscalls); i++)
        strv_push(ret, xstrdup(newer_syscalls[i]));

    qsort(ret->v, ret->n, sizeof(*ret->v), cmp_str);
    size_t out = 0;
    for (size_t i = 0; i < ret->n; i++) {
        if (out > 0 && strcmp(ret->v[out - 1], ret->v[i]) == 0)
            free(ret->v[i]);
        else
            ret->v[out++] = ret->v[i];
    }
    ret->n = out;
}

static cJSON *rule_new(const char *name, const char *action)
{
    cJSON *rule = cJSON_CreateObject();
    cJSON *names = cJSON_AddArrayToObject(rule, "names");
    if (name)
        cJSON_AddItemToArray(names, cJSON_CreateString(name));
    cJSON_AddStringToObject(rule, "action", action);
    return rule;
}

static void rule_add_arg(cJSON *rule, unsigned index, uint64_t value, uint64_t value_two,
                         const char *op)
{
    cJSON *args = cJSON_GetObjectItemCaseSensitive(rule, "args");
    if (!args)
        args = cJSON_AddArrayToObject(rule, "args");
    cJSON *arg = cJSON_CreateObject();
    cJSON_AddNumberToObject(arg, "index", index);
    cJSON_AddNumberToObject(arg, "value", (double)value);
    cJSON_AddNumberToObject(arg, "valueTwo", (double)value_two);
    cJSON_AddStringToObject(arg, "op", op);
    cJSON_AddItemToArray(args, arg);
}

cJSON *oci_seccomp_default_profile(char *const *caps)
{
    uint32_t arches[4];
    size_t n_arches = native_arches(arches, ARRAY_SIZE(arches));
    struct strv names = {0};
    cJSON *profile = cJSON_CreateObject();

    cJSON_AddStringToObject(profile, "defaultAction", "SCMP_ACT_ERRNO");
    cJSON_AddNumberToObject(profile, "defaultErrnoRet", ERRNO_EPERM);
    cJSON *archs = cJSON_AddArrayToObject(profile, "architectures");
    for (size_t i = 0; i < n_arches; i++) {
        const char *an = arch_name(arches[i]);
        if (an)
            cJSON_AddItemToArray(archs, cJSON_CreateString(an));
    }

    cJSON *syscalls = cJSON_AddArrayToObject(profile, "syscalls");
    known_syscalls(arches, n_arches, &names);
    cJSON *allow = rule_new(NULL, "SCMP_ACT_ALLOW");
    cJSON *allow_names = cJSON_GetObjectItemCaseSensitive(allow, "names");
    for (size_t i = 0; i < names.n; i++)
        if (default_allows(names.v[i], caps))
            cJSON_AddItemToArray(allow_names, cJSON_CreateString(names.v[i]));
    /* restricted calls a capability allows again that this libseccomp does not know */
    for (size_t i = 0; i < ARRAY_SIZE(restricted); i++) {
        const char *name = restricted[i].name;
        if (!bsearch(&name, names.v, names.n, sizeof(*names.v), cmp_str) &&
            default_allows(name, caps))
            cJSON_AddItemToArray(allow_names, cJSON_CreateString(name));
    }
    cJSON_AddItemToArray(syscalls, allow);
    strv_done(&names);

    for (size_t i = 0; i < ARRAY_SIZE(personas); i++) {
        cJSON *rule = rule_new("personality", "SCMP_ACT_ALLOW");
        rule_add_arg(rule, 0, personas[i], 0, "SCMP_CMP_EQ");
        cJSON_AddItemToArray(syscalls, rule);
    }
    if (!has_cap(caps, "CAP_SYS_ADMIN")) {
        /* the flags are clone's first argument on x86 and arm (s390 swaps the first two) */
        cJSON *rule = rule_new("clone", "SCMP_ACT_ALLOW");
        rule_add_arg(rule, 0, CLONE_NEW_MASK, 0, "SCMP_CMP_MASKED_EQ");
        cJSON_AddItemToArray(syscalls, rule);
        /* clone3's flags are behind a pointer seccomp cannot read: ENOSYS makes libc fall back
         * to clone */
        rule = rule_new("clone3", "SCMP_ACT_ERRNO");
        cJSON_AddNumberToObject(rule, "errnoRet", ERRNO_ENOSYS);
        cJSON_AddItemToArray(syscalls, rule);
    }
    return profile;
}

/* ---- Localhost profiles ---- */

struct load {
    const char *path;
    struct err *err;
    const char *native_names[2]; /* the native arch as Docker's includes/excludes name it */
};

static int bad(struct load *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct load *ld, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *what = xvasprintf(fmt, ap);
    va_end(ap);
    return err_set(ld->err, -EINVAL, "seccomp profile `%s`: %s", ld->path, what);
}

/* An unsigned integer no larger than max (a double: JSON numbers are doubles in cJSON). */
static bool get_uint(const cJSON *n, double max, double *ret)
{
    if (!cJSON_IsNumber(n))
        return false;
    double v = n->valuedouble;
    if (!(v >= 0 && v <= max))
        return false;
    /* 2^64 is what 18446744073709551615 parses to */
    if (v < UINT64_LIMIT && v != (double)(uint64_t)v)
        return false;
    *ret = v;
    return true;
}

static cJSON *uint_node(double v)
{
    char text[32];
    if (v <= EXACT_DOUBLE_MAX)
        return cJSON_CreateNumber(v);
    if (v >= UINT64_LIMIT)
        snprintf(text, sizeof(text), "%" PRIu64, UINT64_MAX);
    else
        snprintf(text, sizeof(text), "%" PRIu64, (uint64_t)v);
    return cJSON_CreateRaw(text);
}

static int check_action(struct load *ld, const cJSON *a, const char *where)
{
    if (!cJSON_IsString(a))
        return bad(ld, "%s: action missing or not a string", where);
    if (!in_list(actions, ARRAY_SIZE(actions), a->valuestring))
        return bad(ld, "%s: unknown action `%s`", where, a->valuestring);
    return 0;
}

static int check_arch(struct load *ld, const cJSON *a, const char *where)
{
    if (!cJSON_IsString(a))
        return bad(ld, "%s: architecture is not a string", where);
    if (arch_token(a->valuestring) == 0)
        return bad(ld, "%s: unknown architecture `%s`", where, a->valuestring);
    return 0;
}

/* "architectures": a list of SCMP_ARCH_* names. */
static int convert_architectures(struct load *ld, const cJSON *in, cJSON *out)
{
    const cJSON *a;
    int r;

    if (!cJSON_IsArray(in))
        return bad(ld, "architectures is not an array");
    cJSON_ArrayForEach(a, in)
    {
        if ((r = check_arch(ld, a, "architectures")) < 0)
            return r;
        cJSON_AddItemToArray(out, cJSON_CreateString(a->valuestring));
    }
    return 0;
}

/* Docker's "archMap": [{architecture, subArchitectures}]; like Docker, the entry of the native
 * architecture gives the list (none matching: the runtime's native one). */
static int convert_arch_map(struct load *ld, const cJSON *in, cJSON *out)
{
    const cJSON *entry, *a;
    uint32_t native = seccomp_arch_native();
    int r;

    if (!cJSON_IsArray(in))
        return bad(ld, "archMap is not an array");
    cJSON_ArrayForEach(entry, in)
    {
        const cJSON *arch = cJSON_GetObjectItemCaseSensitive(entry, "architecture");
        const cJSON *subs = cJSON_GetObjectItemCaseSensitive(entry, "subArchitectures");
        if (!cJSON_IsObject(entry))
            return bad(ld, "archMap: entry is not an object");
        if ((r = check_arch(ld, arch, "archMap")) < 0)
            return r;
        if (subs && !cJSON_IsNull(subs) && !cJSON_IsArray(subs))
            return bad(ld, "archMap: subArchitectures is not an array");
        cJSON_ArrayForEach(a, subs)
        {
            if ((r = check_arch(ld, a, "archMap")) < 0)
                return r;
        }
        if (arch_token(arch->valuestring) != native)
            continue;
        cJSON_AddItemToArray(out, cJSON_CreateString(arch->valuestring));
        cJSON_ArrayForEach(a, subs)
        {
            cJSON_AddItemToArray(out, cJSON_CreateString(a->valuestring));
        }
    }
    return 0;
}

static int check_string_list(struct load *ld, const cJSON *v, const char *where, const char *field)
{
    const cJSON *s;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsArray(v))
        return bad(ld, "%s%s%s is not an array", where, *where ? ": " : "", field);
    cJSON_ArrayForEach(s, v)
    {
        if (!cJSON_IsString(s))
            return bad(ld, "%s%s%s: not a string", where, *where ? ": " : "", field);
    }
    return 0;
}

static bool list_has_native(const struct load *ld, const cJSON *list)
{
    const cJSON *s;
    cJSON_ArrayForEach(s, list)
    {
        for (size_t i = 0; i < ARRAY_SIZE(ld->native_names); i++)
            if (ld->native_names[i] && strcmp(s->valuestring, ld->native_names[i]) == 0)
                return true;
    }
    return false;
}

/* Docker's conditions on an entry, read for a container with no capabilities on the native
 * architecture: an entry that includes capabilities is skipped (the capabilities of the
 * container are not known here), one for other architectures too; excluded capabilities do not
 * matter; minKernel is not checked. Sets *skip. */
static int docker_filters(struct load *ld, const cJSON *call, const char *where, bool *skip)
{
    const cJSON *inc = cJSON_GetObjectItemCaseSensitive(call, "includes");
    const cJSON *exc = cJSON_GetObjectItemCaseSensitive(call, "excludes");
    int r;

    *skip = false;
    for (int i = 0; i < 2; i++) {
        const cJSON *f = i == 0 ? inc : exc;
        if (!f || cJSON_IsNull(f))
            continue;
        if (!cJSON_IsObject(f))
            return bad(ld, "%s: %s is not an object", where, i == 0 ? "includes" : "excludes");
        const cJSON *caps = cJSON_GetObjectItemCaseSensitive(f, "caps");
        const cJSON *arches = cJSON_GetObjectItemCaseSensitive(f, "arches");
        const char *fname = i == 0 ? "includes" : "excludes";
        char field[20];
        snprintf(field, sizeof(field), "%s.caps", fname);
        if ((r = check_string_list(ld, caps, where, field)) < 0)
            return r;
        snprintf(field, sizeof(field), "%s.arches", fname);
        if ((r = check_string_list(ld, arches, where, field)) < 0)
            return r;
        bool has_caps = cJSON_GetArraySize(caps) > 0;
        bool has_arches = cJSON_GetArraySize(arches) > 0;
        if (i == 0 && (has_caps || (has_arches && !list_has_native(ld, arches))))
            *skip = true;
        if (i == 1 && has_arches && list_has_native(ld, arches))
            *skip = true;
    }
    return 0;
}

static int convert_args(struct load *ld, const cJSON *args, const char *where, cJSON *out)
{
    const cJSON *arg;
    if (!cJSON_IsArray(args))
        return bad(ld, "%s: args is not an array", where);
    cJSON *out_args = cJSON_AddArrayToObject(out, "args");
    cJSON_ArrayForEach(arg, args)
    {
        const cJSON *index = cJSON_GetObjectItemCaseSensitive(arg, "index");
        const cJSON *value = cJSON_GetObjectItemCaseSensitive(arg, "value");
        const cJSON *value_two = cJSON_GetObjectItemCaseSensitive(arg, "valueTwo");
        const cJSON *op = cJSON_GetObjectItemCaseSensitive(arg, "op");
        double i = 0, v = 0, v2 = 0;

        if (!cJSON_IsObject(arg))
            return bad(ld, "%s: argument is not an object", where);
        if (!get_uint(index, 5, &i))
            return bad(ld, "%s: argument index missing or not 0 to 5", where);
        if (!get_uint(value, UINT64_LIMIT, &v))
            return bad(ld, "%s: argument value missing or not an unsigned 64-bit integer", where);
        if (value_two && !cJSON_IsNull(value_two) && !get_uint(value_two, UINT64_LIMIT, &v2))
            return bad(ld, "%s: argument valueTwo is not an unsigned 64-bit integer", where);
        if (!cJSON_IsString(op))
            return bad(ld, "%s: argument op missing or not a string", where);
        if (!in_list(operators, ARRAY_SIZE(operators), op->valuestring))
            return bad(ld, "%s: unknown argument op `%s`", where, op->valuestring);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToArray(out_args, o);
        cJSON_AddNumberToObject(o, "index", i);
        cJSON_AddItemToObject(o, "value", uint_node(v));
        cJSON_AddItemToObject(o, "valueTwo", uint_node(v2));
        cJSON_AddStringToObject(o, "op", op->valuestring);
    }
    return 0;
}

/* One entry of "syscalls"; NULL in *ret when Docker's filters leave it out. */
static int convert_syscall(struct load *ld, const cJSON *call, size_t idx, cJSON **ret)
{
    char where[40];
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(call, "names");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(call, "name");
    const cJSON *errno_ret = cJSON_GetObjectItemCaseSensitive(call, "errnoRet");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(call, "args");
    const cJSON *n;
    bool skip;
    double e = 0;
    int r;

    *ret = NULL;
    snprintf(where, sizeof(where), "syscalls[%zu]", idx);
    if (!cJSON_IsObject(call))
        return bad(ld, "%s is not an object", where);
    if ((r = check_action(ld, cJSON_GetObjectItemCaseSensitive(call, "action"), where)) < 0)
        return r;
    if ((r = docker_filters(ld, call, where, &skip)) < 0)
        return r;
    if (names && !cJSON_IsNull(names) && !cJSON_IsArray(names))
        return bad(ld, "%s: names is not an array", where);
    cJSON_ArrayForEach(n, names)
    {
        if (!cJSON_IsString(n) || n->valuestring[0] == '\0')
            return bad(ld, "%s: a syscall name is not a string", where);
    }
    if (name && !cJSON_IsNull(name) && (!cJSON_IsString(name) || name->valuestring[0] == '\0'))
        return bad(ld, "%s: name is not a string", where);
    if (cJSON_GetArraySize(names) == 0 && !cJSON_IsString(name))
        return bad(ld, "%s: no syscall names", where);
    if (errno_ret && !cJSON_IsNull(errno_ret) && !get_uint(errno_ret, 65535, &e))
        return bad(ld, "%s: errnoRet is not an integer from 0 to 65535", where);

    cleanup_cjson cJSON *out = cJSON_CreateObject();
    cJSON *out_names = cJSON_AddArrayToObject(out, "names");
    cJSON_ArrayForEach(n, names)
    {
        cJSON_AddItemToArray(out_names, cJSON_CreateString(n->valuestring));
    }
    if (cJSON_IsString(name))
        cJSON_AddItemToArray(out_names, cJSON_CreateString(name->valuestring));
    cJSON_AddStringToObject(out, "action",
                            cJSON_GetObjectItemCaseSensitive(call, "action")->valuestring);
    if (errno_ret && !cJSON_IsNull(errno_ret))
        cJSON_AddNumberToObject(out, "errnoRet", e);
    if (args && !cJSON_IsNull(args) && (r = convert_args(ld, args, where, out)) < 0)
        return r;
    if (!skip)
        *ret = TAKE_PTR(out);
    return 0;
}

static int convert_default(struct load *ld, const cJSON *in, cJSON *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, "defaultAction");
    double e = 0;
    int r;
    if ((r = check_action(ld, v, "defaultAction")) < 0)
        return r;
    cJSON_AddStringToObject(out, "defaultAction", v->valuestring);
    v = cJSON_GetObjectItemCaseSensitive(in, "defaultErrnoRet");
    if (v && !cJSON_IsNull(v)) {
        if (!get_uint(v, 65535, &e))
            return bad(ld, "defaultErrnoRet is not an integer from 0 to 65535");
        cJSON_AddNumberToObject(out, "defaultErrnoRet", e);
    }
    return 0;
}

/* "archMap" when it has entries, else "architectures"; no key at all when neither names one. */
static int convert_archs(struct load *ld, const cJSON *in, cJSON *out)
{
    const cJSON *v;
    int r;
    cJSON *archs = cJSON_CreateArray();
    cJSON_AddItemToObject(out, "architectures", archs);
    v = cJSON_GetObjectItemCaseSensitive(in, "archMap");
    if (v && !cJSON_IsNull(v) && cJSON_GetArraySize(v) > 0) {
        if ((r = convert_arch_map(ld, v, archs)) < 0)
            return r;
    } else if ((v = cJSON_GetObjectItemCaseSensitive(in, "architectures")) && !cJSON_IsNull(v)) {
        if ((r = convert_architectures(ld, v, archs)) < 0)
            return r;
    }
    if (cJSON_GetArraySize(archs) == 0)
        cJSON_DeleteItemFromObjectCaseSensitive(out, "architectures");
    return 0;
}

static int convert_flags(struct load *ld, const cJSON *in, cJSON *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, "flags"), *flag;
    int r;
    if (!v || cJSON_IsNull(v))
        return 0;
    if ((r = check_string_list(ld, v, "", "flags")) < 0)
        return r;
    cJSON *flags = cJSON_AddArrayToObject(out, "flags");
    cJSON_ArrayForEach(flag, v)
    {
        if (!in_list(filter_flags, ARRAY_SIZE(filter_flags), flag->valuestring))
            return bad(ld, "unknown flag `%s`", flag->valuestring);
        cJSON_AddItemToArray(flags, cJSON_CreateString(flag->valuestring));
    }
    return 0;
}

static int convert_listener(struct load *ld, const cJSON *in, cJSON *out)
{
    static const char *const strings[] = {"listenerPath", "listenerMetadata"};
    for (size_t i = 0; i < ARRAY_SIZE(strings); i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, strings[i]);
        if (!v || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsString(v))
            return bad(ld, "%s is not a string", strings[i]);
        cJSON_AddStringToObject(out, strings[i], v->valuestring);
    }
    return 0;
}

static int convert_syscalls(struct load *ld, const cJSON *in, cJSON *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, "syscalls"), *call;
    size_t idx = 0;
    int r;
    if (v && !cJSON_IsNull(v) && !cJSON_IsArray(v))
        return bad(ld, "syscalls is not an array");
    cJSON *syscalls = cJSON_AddArrayToObject(out, "syscalls");
    cJSON_ArrayForEach(call, v)
    {
        cJSON *rule;
        if ((r = convert_syscall(ld, call, idx++, &rule)) < 0)
            return r;
        if (rule)
            cJSON_AddItemToArray(syscalls, rule);
    }
    return 0;
}

/* The keys in the order the output has them. */
static int convert_profile(struct load *ld, const cJSON *in, cJSON *out)
{
    int r;
    if (!cJSON_IsObject(in))
        return bad(ld, "not a JSON object");
    if ((r = convert_default(ld, in, out)) < 0 || (r = convert_archs(ld, in, out)) < 0 ||
        (r = convert_flags(ld, in, out)) < 0 || (r = convert_listener(ld, in, out)) < 0)
        return r;
    return convert_syscalls(ld, in, out);
}

static void native_docker_names(const char **ret)
{
    static const struct {
        uint32_t arch;
        const char *go, *seccomp;
    } map[] = {
        {SCMP_ARCH_X86_64, "amd64", "x86_64"}, {SCMP_ARCH_AARCH64, "arm64", "aarch64"},
        {SCMP_ARCH_X86, "386", "x86"},         {SCMP_ARCH_ARM, "arm", NULL},
        {SCMP_ARCH_PPC64LE, "ppc64le", NULL},  {SCMP_ARCH_S390X, "s390x", NULL},
        {SCMP_ARCH_RISCV64, "riscv64", NULL},
    };
    uint32_t native = seccomp_arch_native();

    ret[0] = ret[1] = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
        if (map[i].arch == native) {
            ret[0] = map[i].go;
            ret[1] = map[i].seccomp;
            return;
        }
    }
}

/* Read at most PROFILE_SIZE_MAX bytes of a regular file. */
static int read_profile(struct load *ld, char **ret, size_t *ret_len)
{
    cleanup_close int fd = open(ld->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;

    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR))
        return err_set(ld->err, -ENOENT, "seccomp profile `%s` not found", ld->path);
    if (fd < 0 || fstat(fd, &st) < 0)
        return err_set(ld->err, -errno, "seccomp profile `%s`: %s", ld->path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return bad(ld, "not a regular file");
    if (st.st_size > (off_t)PROFILE_SIZE_MAX)
        return bad(ld, "larger than %u bytes", PROFILE_SIZE_MAX);

    size_t cap = (size_t)st.st_size + 1, len = 0;
    cleanup_free char *data = xmalloc(cap + 1);
    for (;;) {
        ssize_t n = read(fd, data + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return err_set(ld->err, -errno, "seccomp profile `%s`: %s", ld->path, strerror(errno));
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == cap) {
            /* the file grew since fstat */
            if (cap > PROFILE_SIZE_MAX)
                return bad(ld, "larger than %u bytes", PROFILE_SIZE_MAX);
            cap = cap * 2 < PROFILE_SIZE_MAX + 1 ? cap * 2 : PROFILE_SIZE_MAX + 1;
            data = xrealloc(data, cap + 1);
        }
    }
    data[len] = '\0';
    *ret = TAKE_PTR(data);
    *ret_len = len;
    return 0;
}

int oci_seccomp_load_profile(const char *path, cJSON **ret, struct err *err)
{
    struct load ld = {.path = path, .err = err};
    cleanup_free char *data = NULL;
    const char *end = NULL;
    size_t len = 0;
    int r;

    native_docker_names(ld.native_names);
    if ((r = read_profile(&ld, &data, &len)) < 0)
        return r;
    cleanup_cjson cJSON *in = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!in) {
        unsigned line = 1;
        for (const char *p = data; end && p < end && p < data + len; p++)
            line += *p == '\n';
        return bad(&ld, "invalid JSON near line %u", line);
    }
    cleanup_cjson cJSON *out = cJSON_CreateObject();
    if ((r = convert_profile(&ld, in, out)) < 0)
        return r;
    *ret = TAKE_PTR(out);
    return 0;
}
