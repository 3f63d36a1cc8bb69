/* Unit tests for src/oci/seccomp.c: the RuntimeDefault profile (what it refuses, what
 * capabilities allow again, that libseccomp compiles it, and that the kernel enforces it in a
 * child process) and loading Localhost profiles in the OCI and Docker forms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "oci/oci.h"

#define CLONE_NEW_MASK 0x7E020000u

static char tmpdir[] = "/tmp/test_oci_seccomp.XXXXXX";

static int setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- reading a profile ---- */

static bool names_have(const cJSON *rule, const char *name)
{
    const cJSON *n;
    cJSON_ArrayForEach(n, cJSON_GetObjectItemCaseSensitive(rule, "names"))
    {
        if (strcmp(n->valuestring, name) == 0)
            return true;
    }
    return false;
}

static const char *rule_action(const cJSON *rule)
{
    return cJSON_GetObjectItemCaseSensitive(rule, "action")->valuestring;
}

static bool rule_has_args(const cJSON *rule)
{
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rule, "args")) > 0;
}

/* Whether some SCMP_ACT_ALLOW rule names the syscall; with_args: only rules with (without)
 * argument conditions. */
static int allow_rules(const cJSON *profile, const char *name, bool with_args)
{
    const cJSON *rule;
    int n = 0;
    cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(profile, "syscalls"))
    {
        if (strcmp(rule_action(rule), "SCMP_ACT_ALLOW") == 0 && names_have(rule, name) &&
            rule_has_args(rule) == with_args)
            n++;
    }
    return n;
}

static bool allowed(const cJSON *profile, const char *name)
{
    return allow_rules(profile, name, false) == 1 && allow_rules(profile, name, true) == 0;
}

static bool refused(const cJSON *profile, const char *name)
{
    return allow_rules(profile, name, false) == 0 && allow_rules(profile, name, true) == 0;
}

static const cJSON *only_rule(const cJSON *profile, const char *name)
{
    const cJSON *rule, *found = NULL;
    cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(profile, "syscalls"))
    {
        if (names_have(rule, name)) {
            assert_null(found);
            found = rule;
        }
    }
    assert_non_null(found);
    return found;
}

/* ---- compiling a profile with libseccomp, as a runtime does ---- */

static uint32_t action_of(const char *name, uint32_t errno_ret)
{
    if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
        return SCMP_ACT_ALLOW;
    if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
        return SCMP_ACT_ERRNO(errno_ret);
    if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
        return SCMP_ACT_KILL;
    if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
        return SCMP_ACT_KILL_PROCESS;
    if (strcmp(name, "SCMP_ACT_TRAP") == 0)
        return SCMP_ACT_TRAP;
    if (strcmp(name, "SCMP_ACT_TRACE") == 0)
        return SCMP_ACT_TRACE(errno_ret);
    if (strcmp(name, "SCMP_ACT_LOG") == 0)
        return SCMP_ACT_LOG;
    if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
        return SCMP_ACT_NOTIFY;
    fail_msg("unknown action %s", name);
    return 0;
}

static enum scmp_compare op_of(const char *name)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } ops[] = {
        {"SCMP_CMP_NE", SCMP_CMP_NE},
        {"SCMP_CMP_LT", SCMP_CMP_LT},
        {"SCMP_CMP_LE", SCMP_CMP_LE},
        {"SCMP_CMP_EQ", SCMP_CMP_EQ},
        {"SCMP_CMP_GE", SCMP_CMP_GE},
        {"SCMP_CMP_GT", SCMP_CMP_GT},
        {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
        if (strcmp(ops[i].name, name) == 0)
            return ops[i].op;
    fail_msg("unknown op %s", name);
    return SCMP_CMP_EQ;
}

static uint32_t errno_of(const cJSON *obj, const char *key, uint32_t dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? (uint32_t)v->valuedouble : dflt;
}

static uint64_t u64_of(const cJSON *v)
{
    if (cJSON_IsRaw(v))
        return strtoull(v->valuestring, NULL, 10);
    assert_true(cJSON_IsNumber(v));
    return (uint64_t)v->valuedouble;
}

/* Build a filter from an OCI linux.seccomp object; *ret_rules counts the rules added. */
static scmp_filter_ctx compile(const cJSON *profile, unsigned *ret_rules)
{
    uint32_t def_errno = errno_of(profile, "defaultErrnoRet", EPERM);
    const cJSON *def = cJSON_GetObjectItemCaseSensitive(profile, "defaultAction");
    const cJSON *v, *rule, *name;
    unsigned rules = 0;

    scmp_filter_ctx ctx = seccomp_init(action_of(def->valuestring, def_errno));
    assert_non_null(ctx);
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(profile, "architectures"))
    {
        char lower[32];
        const char *s = v->valuestring + strlen("SCMP_ARCH_");
        size_t i;
        for (i = 0; s[i] && i < sizeof(lower) - 1; i++)
            lower[i] = (char)tolower((unsigned char)s[i]);
        lower[i] = '\0';
        uint32_t arch = seccomp_arch_resolve_name(lower);
        assert_int_not_equal(arch, 0);
        if (arch != seccomp_arch_native())
            assert_int_equal(seccomp_arch_add(ctx, arch), 0);
    }
    cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(profile, "syscalls"))
    {
        uint32_t act = action_of(rule_action(rule), errno_of(rule, "errnoRet", def_errno));
        struct scmp_arg_cmp args[6];
        unsigned n_args = 0;
        cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(rule, "args"))
        {
            assert_true(n_args < ARRAY_SIZE(args));
            args[n_args].arg = (unsigned)cJSON_GetObjectItemCaseSensitive(v, "index")->valuedouble;
            args[n_args].op = op_of(cJSON_GetObjectItemCaseSensitive(v, "op")->valuestring);
            args[n_args].datum_a = u64_of(cJSON_GetObjectItemCaseSensitive(v, "value"));
            args[n_args].datum_b = u64_of(cJSON_GetObjectItemCaseSensitive(v, "valueTwo"));
            n_args++;
        }
        cJSON_ArrayForEach(name, cJSON_GetObjectItemCaseSensitive(rule, "names"))
        {
            int nr = seccomp_syscall_resolve_name(name->valuestring);
            if (nr == __NR_SCMP_ERROR)
                continue;
            int r = seccomp_rule_add_array(ctx, act, nr, n_args, args);
            if (r != 0)
                fail_msg("seccomp_rule_add_array(%s): %s", name->valuestring, strerror(-r));
            rules++;
        }
    }
    if (ret_rules)
        *ret_rules = rules;
    return ctx;
}

static void compile_and_export(const cJSON *profile, unsigned min_rules)
{
    unsigned rules;
    scmp_filter_ctx ctx = compile(profile, &rules);
    assert_true(rules >= min_rules);
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(seccomp_export_bpf(ctx, fd), 0);
    close(fd);
    seccomp_release(ctx);
}

/* ---- the default profile ---- */

static char *caps_none[] = {NULL};
static char *caps_admin[] = {"CAP_CHOWN", "CAP_SYS_ADMIN", NULL};

static void test_default_shape(void **state)
{
    cJSON *p = oci_seccomp_default_profile(NULL);
    char *text = cJSON_PrintUnformatted(p);
    cJSON *back = cJSON_Parse(text);

    assert_non_null(back);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(back, "defaultAction")->valuestring,
                        "SCMP_ACT_ERRNO");
    assert_int_equal(errno_of(back, "defaultErrnoRet", 0), EPERM);
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(back, "architectures");
    assert_true(cJSON_GetArraySize(archs) >= 1);
#if defined(__x86_64__)
    assert_int_equal(cJSON_GetArraySize(archs), 3);
    assert_string_equal(cJSON_GetArrayItem(archs, 0)->valuestring, "SCMP_ARCH_X86_64");
    assert_string_equal(cJSON_GetArrayItem(archs, 1)->valuestring, "SCMP_ARCH_X86");
    assert_string_equal(cJSON_GetArrayItem(archs, 2)->valuestring, "SCMP_ARCH_X32");
#elif defined(__aarch64__)
    assert_int_equal(cJSON_GetArraySize(archs), 2);
    assert_string_equal(cJSON_GetArrayItem(archs, 0)->valuestring, "SCMP_ARCH_AARCH64");
#endif
    /* compact: one rule carries the unconditional allows */
    const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(back, "syscalls"), 0);
    assert_string_equal(rule_action(first), "SCMP_ACT_ALLOW");
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(first, "names")) > 250);
    assert_true(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(back, "syscalls")) < 12);
    /* no name twice */
    const cJSON *a, *b;
    cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(first, "names"))
    {
        for (b = a->next; b; b = b->next)
            assert_string_not_equal(a->valuestring, b->valuestring);
    }

    cJSON_Delete(back);
    free(text);
    cJSON_Delete(p);
}

static void test_default_refuses(void **state)
{
    static const char *const names[] = {
        "unshare",
        "mount",
        "umount2",
        "setns",
        "pivot_root",
        "kexec_load",
        "kexec_file_load",
        "init_module",
        "finit_module",
        "delete_module",
        "bpf",
        "perf_event_open",
        "keyctl",
        "add_key",
        "request_key",
        "reboot",
        "swapon",
        "open_by_handle_at",
        "userfaultfd",
        "iopl",
        "ioperm",
        "settimeofday",
        "clock_settime",
        "adjtimex",
        "syslog",
        "fsopen",
        "move_mount",
        "open_tree",
        "io_uring_setup",
        "process_vm_writev",
        "kcmp",
        "acct",
        "quotactl",
        "fanotify_init",
        "name_to_handle_at",
        "vm86",
        "_sysctl",
        "ustat",
        "uselib",
        "lookup_dcookie",
    };
    cJSON *p = oci_seccomp_default_profile(caps_none);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (!refused(p, names[i]))
            fail_msg("%s is allowed", names[i]);
    }
    /* clone3 fails with ENOSYS so that libc falls back to clone */
    const cJSON *clone3 = only_rule(p, "clone3");
    assert_string_equal(rule_action(clone3), "SCMP_ACT_ERRNO");
    assert_int_equal(errno_of(clone3, "errnoRet", 0), ENOSYS);
    cJSON_Delete(p);
}

static void test_default_allows(void **state)
{
    static const char *const names[] = {
        "read",   "write",  "execve", "openat",        "mmap",   "futex",     "exit_group",
        "chroot", "ptrace", "mbind",  "set_mempolicy", "socket", "fchmodat2", "rt_sigreturn",
    };
    cJSON *p = oci_seccomp_default_profile(NULL);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        if (!allowed(p, names[i]))
            fail_msg("%s is not allowed", names[i]);
    }

    /* clone: only without CLONE_NEW* flags */
    assert_int_equal(allow_rules(p, "clone", false), 0);
    const cJSON *clone = only_rule(p, "clone");
    assert_string_equal(rule_action(clone), "SCMP_ACT_ALLOW");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(clone, "args");
    assert_int_equal(cJSON_GetArraySize(args), 1);
    const cJSON *arg = cJSON_GetArrayItem(args, 0);
    assert_int_equal(u64_of(cJSON_GetObjectItemCaseSensitive(arg, "index")), 0);
    assert_int_equal(u64_of(cJSON_GetObjectItemCaseSensitive(arg, "value")), CLONE_NEW_MASK);
    assert_int_equal(u64_of(cJSON_GetObjectItemCaseSensitive(arg, "valueTwo")), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(arg, "op")->valuestring,
                        "SCMP_CMP_MASKED_EQ");

    /* personality: the safe personas only */
    assert_int_equal(allow_rules(p, "personality", false), 0);
    assert_int_equal(allow_rules(p, "personality", true), 5);
    cJSON_Delete(p);
}

static void test_caps_allow_again(void **state)
{
    cJSON *p = oci_seccomp_default_profile(caps_admin);
    static const char *const admin[] = {"mount",  "umount2", "unshare",        "setns",
                                        "clone",  "clone3",  "pivot_root",     "fsopen",
                                        "syslog", "bpf",     "perf_event_open"};
    for (size_t i = 0; i < ARRAY_SIZE(admin); i++) {
        if (!allowed(p, admin[i]))
            fail_msg("%s is not allowed with CAP_SYS_ADMIN", admin[i]);
    }
    /* other capabilities' calls stay refused */
    assert_true(refused(p, "reboot"));
    assert_true(refused(p, "init_module"));
    assert_true(refused(p, "kexec_load"));
    assert_true(refused(p, "open_by_handle_at"));
    assert_true(refused(p, "settimeofday"));
    cJSON_Delete(p);

    char *caps_misc[] = {"CAP_SYS_TIME",   "CAP_SYS_BOOT",        "CAP_BPF",
                         "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", NULL};
    p = oci_seccomp_default_profile(caps_misc);
    static const char *const misc[] = {
        "settimeofday", "clock_settime",    "adjtimex", "reboot",
        "bpf",          "process_vm_readv", "kcmp",     "open_by_handle_at"};
    for (size_t i = 0; i < ARRAY_SIZE(misc); i++) {
        if (!allowed(p, misc[i]))
            fail_msg("%s is not allowed", misc[i]);
    }
    assert_true(refused(p, "mount"));
    assert_true(refused(p, "unshare"));
    assert_true(refused(p, "kexec_load"));
    assert_true(refused(p, "perf_event_open"));
    assert_int_equal(allow_rules(p, "clone", true), 1);
    cJSON_Delete(p);
}

static void test_default_compiles(void **state)
{
    cJSON *p = oci_seccomp_default_profile(NULL);
    compile_and_export(p, 250);
    cJSON_Delete(p);
    p = oci_seccomp_default_profile(caps_admin);
    compile_and_export(p, 250);
    cJSON_Delete(p);
}

/* The filter as the kernel runs it, in a child: namespaces refused, ordinary calls fine. */
static int child_checks(void)
{
    cJSON *p = oci_seccomp_default_profile(NULL);
    scmp_filter_ctx ctx = compile(p, NULL);
    cJSON_Delete(p);
    if (seccomp_load(ctx) != 0)
        return 10;
    seccomp_release(ctx);

    pid_t pid = (pid_t)syscall(SYS_getpid);
    if (pid <= 0 || pid != getpid())
        return 11;
    errno = 0;
    if (unshare(CLONE_NEWUTS) != -1 || errno != EPERM)
        return 12;
    errno = 0;
    if (mount("none", "/tmp", "tmpfs", 0, NULL) != -1 || errno != EPERM)
        return 13;
    errno = 0;
    long r = syscall(SYS_clone, (unsigned long)CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0);
    if (r == 0)
        _exit(99);
    if (r != -1 || errno != EPERM)
        return 14;
#ifdef SYS_clone3
    errno = 0;
    if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
        return 15;
#endif
    /* fork (clone without namespace flags) still works */
    pid_t c = fork();
    if (c == 0)
        _exit(7);
    int st;
    if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 7)
        return 16;
    return 0;
}

static void test_default_enforced(void **state)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child_checks());
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- Localhost profiles ---- */

static char *write_file(const char *name, const char *text)
{
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    return path;
}

static const char docker_profile[] =
    "{\n"
    "  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n"
    "  \"defaultErrnoRet\": 1,\n"
    "  \"archMap\": [\n"
    "    {\"architecture\": \"SCMP_ARCH_X86_64\",\n"
    "     \"subArchitectures\": [\"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"]},\n"
    "    {\"architecture\": \"SCMP_ARCH_AARCH64\", \"subArchitectures\": [\"SCMP_ARCH_ARM\"]},\n"
    "    {\"architecture\": \"SCMP_ARCH_S390X\", \"subArchitectures\": [\"SCMP_ARCH_S390\"]}\n"
    "  ],\n"
    "  \"syscalls\": [\n"
    "    {\"names\": [\"read\", \"write\", \"exit_group\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"args\": [], \"comment\": \"\", \"includes\": {}, \"excludes\": {}},\n"
    "    {\"name\": \"getpid\", \"action\": \"SCMP_ACT_ALLOW\"},\n"
    "    {\"names\": [\"mount\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"includes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},\n"
    "    {\"names\": [\"arch_prctl\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"includes\": {\"arches\": [\"amd64\", \"arm64\", \"x32\"]}},\n"
    "    {\"names\": [\"s390_pci_mmio_read\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"includes\": {\"arches\": [\"s390\", \"s390x\"]}},\n"
    "    {\"names\": [\"clone\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"args\": [{\"index\": 0, \"value\": 2114060288, \"valueTwo\": 0,\n"
    "               \"op\": \"SCMP_CMP_MASKED_EQ\"}],\n"
    "     \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"], \"arches\": [\"s390\", \"s390x\"]}},\n"
    "    {\"names\": [\"clone\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"args\": [{\"index\": 1, \"value\": 2114060288, \"valueTwo\": 0,\n"
    "               \"op\": \"SCMP_CMP_MASKED_EQ\"}],\n"
    "     \"includes\": {\"arches\": [\"s390\", \"s390x\"]},\n"
    "     \"excludes\": {\"caps\": [\"CAP_SYS_ADMIN\"]}},\n"
    "    {\"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"excludes\": {\"arches\": [\"amd64\", \"arm64\"]}},\n"
    "    {\"names\": [\"socket\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 97,\n"
    "     \"args\": [{\"index\": 0, \"value\": 40, \"op\": \"SCMP_CMP_EQ\"}]},\n"
    "    {\"names\": [\"ioctl\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"args\": [{\"index\": 1, \"value\": 18446744069414584320,\n"
    "               \"valueTwo\": 18446744069414584320, \"op\": \"SCMP_CMP_MASKED_EQ\"}]},\n"
    "    {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
    "     \"args\": [{\"index\": 0, \"value\": 18446744073709551615, \"op\": \"SCMP_CMP_NE\"}]}\n"
    "  ]\n"
    "}\n";

static void test_load_docker(void **state)
{
    cleanup_free char *path = write_file("docker.json", docker_profile);
    struct err err = ERR_INIT;
    cJSON *p = NULL;

    assert_int_equal(oci_seccomp_load_profile(path, &p, &err), 0);
    assert_non_null(p);
    assert_null(cJSON_GetObjectItemCaseSensitive(p, "archMap"));
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(p, "architectures");
#if defined(__x86_64__)
    assert_int_equal(cJSON_GetArraySize(archs), 3);
    assert_string_equal(cJSON_GetArrayItem(archs, 0)->valuestring, "SCMP_ARCH_X86_64");
    assert_string_equal(cJSON_GetArrayItem(archs, 2)->valuestring, "SCMP_ARCH_X32");
#elif defined(__aarch64__)
    assert_int_equal(cJSON_GetArraySize(archs), 2);
    assert_string_equal(cJSON_GetArrayItem(archs, 0)->valuestring, "SCMP_ARCH_AARCH64");
#endif
    assert_true(allowed(p, "read"));
    assert_true(allowed(p, "exit_group"));
    assert_true(allowed(p, "getpid")); /* "name" became "names" */
    assert_true(refused(p, "mount"));  /* needs a capability */
    assert_true(refused(p, "s390_pci_mmio_read"));
#if defined(__x86_64__) || defined(__aarch64__)
    assert_true(allowed(p, "arch_prctl"));
    assert_true(refused(p, "ptrace")); /* excluded on this architecture */
    /* the clone rule for this architecture, with its argument */
    const cJSON *clone = only_rule(p, "clone");
    const cJSON *arg = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(clone, "args"), 0);
    assert_int_equal(u64_of(cJSON_GetObjectItemCaseSensitive(arg, "index")), 0);
    assert_int_equal(u64_of(cJSON_GetObjectItemCaseSensitive(arg, "value")), CLONE_NEW_MASK);
#endif
    const cJSON *sock = only_rule(p, "socket");
    assert_int_equal(errno_of(sock, "errnoRet", 0), 97);
    /* no Docker fields are left */
    const cJSON *rule;
    cJSON_ArrayForEach(rule, cJSON_GetObjectItemCaseSensitive(p, "syscalls"))
    {
        assert_null(cJSON_GetObjectItemCaseSensitive(rule, "includes"));
        assert_null(cJSON_GetObjectItemCaseSensitive(rule, "excludes"));
        assert_null(cJSON_GetObjectItemCaseSensitive(rule, "comment"));
        assert_null(cJSON_GetObjectItemCaseSensitive(rule, "name"));
    }
    /* 64-bit values are written as exact integers */
    char *text = cJSON_PrintUnformatted(p);
    assert_non_null(strstr(text, "\"value\":18446744069414584320,"
                                 "\"valueTwo\":18446744069414584320"));
    assert_non_null(strstr(text, "\"value\":18446744073709551615,\"valueTwo\":0"));
    cJSON *back = cJSON_Parse(text);
    assert_non_null(back);
    cJSON_Delete(back);
    free(text);

    compile_and_export(p, 5);
    cJSON_Delete(p);
    err_done(&err);
}

static const char oci_profile[] =
    "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n"
    " \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_AARCH64\"],\n"
    " \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\"],\n"
    " \"syscalls\": [\n"
    "  {\"names\": [\"mount\", \"unshare\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1},\n"
    "  {\"names\": [\"kill\"], \"action\": \"SCMP_ACT_ERRNO\",\n"
    "   \"args\": [{\"index\": 1, \"value\": 9, \"op\": \"SCMP_CMP_EQ\"}]},\n"
    "  {\"names\": [\"no_such_syscall_xyz\", \"getpid\"], \"action\": \"SCMP_ACT_LOG\"},\n"
    "  {\"names\": [\"reboot\"], \"action\": \"SCMP_ACT_KILL_PROCESS\"}\n"
    " ]}\n";

static void test_load_oci(void **state)
{
    cleanup_free char *path = write_file("oci.json", oci_profile);
    struct err err = ERR_INIT;
    cJSON *p = NULL;

    assert_int_equal(oci_seccomp_load_profile(path, &p, &err), 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(p, "defaultAction")->valuestring,
                        "SCMP_ACT_ALLOW");
    const cJSON *archs = cJSON_GetObjectItemCaseSensitive(p, "architectures");
    assert_int_equal(cJSON_GetArraySize(archs), 2);
    assert_string_equal(cJSON_GetArrayItem(archs, 1)->valuestring, "SCMP_ARCH_AARCH64");
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(p, "flags");
    assert_int_equal(cJSON_GetArraySize(flags), 1);
    const cJSON *syscalls = cJSON_GetObjectItemCaseSensitive(p, "syscalls");
    assert_int_equal(cJSON_GetArraySize(syscalls), 4);
    const cJSON *mount = only_rule(p, "mount");
    assert_true(names_have(mount, "unshare"));
    assert_string_equal(rule_action(mount), "SCMP_ACT_ERRNO");
    assert_int_equal(errno_of(mount, "errnoRet", 0), 1);
    const cJSON *kill = only_rule(p, "kill");
    const cJSON *arg = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(kill, "args"), 0);
    assert_int_equal(u64_of(cJSON_GetObjectItemCaseSensitive(arg, "index")), 1);
    assert_int_equal(u64_of(cJSON_GetObjectItemCaseSensitive(arg, "value")), 9);
    assert_int_equal(u64_of(cJSON_GetObjectItemCaseSensitive(arg, "valueTwo")), 0);
    /* unknown names are kept: the runtime skips calls its kernel lacks */
    assert_true(names_have(only_rule(p, "no_such_syscall_xyz"), "getpid"));

    compile_and_export(p, 4);
    cJSON_Delete(p);
    err_done(&err);
}

static void expect_error(const char *name, const char *text, int code, const char *what)
{
    cleanup_free char *path = write_file(name, text);
    struct err err = ERR_INIT;
    cJSON *p = NULL;

    assert_int_equal(oci_seccomp_load_profile(path, &p, &err), code);
    assert_null(p);
    cleanup_free char *prefix = xasprintf("seccomp profile `%s`: ", path);
    if (strncmp(err_msg(&err), prefix, strlen(prefix)) != 0 || !strstr(err_msg(&err), what))
        fail_msg("%s: unexpected message: %s", name, err_msg(&err));
    err_done(&err);
}

static void test_load_errors(void **state)
{
    expect_error("action.json",
                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"],"
                 " \"action\": \"SCMP_ACT_BOGUS\"}]}",
                 -EINVAL, "syscalls[0]: unknown action `SCMP_ACT_BOGUS`");
    expect_error("default.json", "{\"defaultAction\": \"ALLOW\"}", -EINVAL,
                 "defaultAction: unknown action `ALLOW`");
    expect_error("nodefault.json", "{\"syscalls\": []}", -EINVAL, "defaultAction");
    expect_error("json.json", "{\"defaultAction\": \"SCMP_ACT_ALLOW\",\n\"syscalls\": [}", -EINVAL,
                 "invalid JSON near line 2");
    expect_error("empty.json", "", -EINVAL, "invalid JSON");
    expect_error("array.json", "[]", -EINVAL, "not a JSON object");
    expect_error("arch.json",
                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_Z80\"]}",
                 -EINVAL, "unknown architecture `SCMP_ARCH_Z80`");
    expect_error("arch2.json",
                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"x86_64\"]}",
                 -EINVAL, "unknown architecture `x86_64`");
    expect_error("archmap.json",
                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"archMap\": [{\"architecture\": "
                 "\"SCMP_ARCH_X86_64\", \"subArchitectures\": [\"SCMP_ARCH_NOPE\"]}]}",
                 -EINVAL, "unknown architecture `SCMP_ARCH_NOPE`");
    expect_error("op.json",
                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"kill\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": 1,"
                 " \"op\": \"SCMP_CMP_ABOUT\"}]}]}",
                 -EINVAL, "unknown argument op `SCMP_CMP_ABOUT`");
    expect_error("index.json",
                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"kill\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 6, \"value\": 1,"
                 " \"op\": \"SCMP_CMP_EQ\"}]}]}",
                 -EINVAL, "index");
    expect_error("value.json",
                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"kill\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 0, \"value\": -1,"
                 " \"op\": \"SCMP_CMP_EQ\"}]}]}",
                 -EINVAL, "value");
    expect_error("name.json",
                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\", 3],"
                 " \"action\": \"SCMP_ACT_ERRNO\"}]}",
                 -EINVAL, "syscalls[0]: a syscall name is not a string");
    expect_error("nonames.json",
                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\"}, {\"action\": \"SCMP_ACT_ERRNO\"}]}",
                 -EINVAL, "syscalls[1]: no syscall names");
    expect_error("errno.json", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1.5}",
                 -EINVAL, "defaultErrnoRet");
    expect_error("flag.json", "{\"defaultAction\": \"SCMP_ACT_ERRNO\", \"flags\": [\"FAST\"]}",
                 -EINVAL, "unknown flag `FAST`");
    expect_error("includes.json",
                 "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"],"
                 " \"action\": \"SCMP_ACT_ERRNO\", \"includes\": {\"caps\": \"CAP_X\"}}]}",
                 -EINVAL, "includes.caps is not an array");
}

static void test_load_files(void **state)
{
    struct err err = ERR_INIT;
    cJSON *p = NULL;

    /* missing */
    cleanup_free char *missing = xasprintf("%s/missing.json", tmpdir);
    assert_int_equal(oci_seccomp_load_profile(missing, &p, &err), -ENOENT);
    assert_null(p);
    cleanup_free char *want = xasprintf("seccomp profile `%s` not found", missing);
    assert_string_equal(err_msg(&err), want);
    err_done(&err);

    /* a directory */
    assert_int_equal(oci_seccomp_load_profile(tmpdir, &p, &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "not a regular file"));
    assert_non_null(strstr(err_msg(&err), tmpdir));
    err_done(&err);

    /* too large: 4 MiB of spaces and then a valid profile */
    cleanup_free char *big = xasprintf("%s/big.json", tmpdir);
    int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4 * 1024 * 1024 + 1), 0);
    close(fd);
    assert_int_equal(oci_seccomp_load_profile(big, &p, &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "larger than"));
    assert_non_null(strstr(err_msg(&err), big));
    assert_null(p);
    err_done(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_shape),    cmocka_unit_test(test_default_refuses),
        cmocka_unit_test(test_default_allows),   cmocka_unit_test(test_caps_allow_again),
        cmocka_unit_test(test_default_compiles), cmocka_unit_test(test_default_enforced),
        cmocka_unit_test(test_load_docker),      cmocka_unit_test(test_load_oci),
        cmocka_unit_test(test_load_errors),      cmocka_unit_test(test_load_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
