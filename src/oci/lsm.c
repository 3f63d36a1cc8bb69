/* Linux security modules: which of AppArmor and SELinux the host runs, and what a container's
 * security context asks of them in its runtime spec. A request the host cannot honour is refused
 * rather than dropped: a pod that asked for confinement must not run without it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "oci/oci.h"

static bool nonempty(const char *s)
{
    return s && *s;
}

void oci_lsm_detect(struct oci_lsm *ret)
{
    char yes = 0;
    FILE *f = fopen("/sys/module/apparmor/parameters/enabled", "re");
    if (f) {
        yes = (char)fgetc(f);
        fclose(f);
    }
    /* As runc and containerd decide: the module is on, and its filesystem is there to load
     * profiles through. */
    ret->apparmor = yes == 'Y' && access("/sys/kernel/security/apparmor", F_OK) == 0;
    ret->selinux = access("/sys/fs/selinux/enforce", F_OK) == 0;
}

/* ---- AppArmor ---- */

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static const char *deprecated_apparmor(const Runtime__V1__LinuxContainerSecurityContext *sc)
{
    return sc->apparmor_profile;
}
#pragma GCC diagnostic pop

/* The Localhost profile asked for, NULL for RuntimeDefault or Unconfined. The kubelet sends the
 * bare name; the deprecated string and older kubelets "localhost/<name>". */
static const char *apparmor_localhost(const Runtime__V1__LinuxContainerSecurityContext *sc)
{
    const char *name = NULL;
    if (sc->apparmor) {
        if (sc->apparmor->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost)
            name = nonempty(sc->apparmor->localhost_ref) ? sc->apparmor->localhost_ref : "";
    } else if (nonempty(deprecated_apparmor(sc)) &&
               strncmp(deprecated_apparmor(sc), "localhost/", 10) == 0) {
        name = deprecated_apparmor(sc);
    }
    if (name && strncmp(name, "localhost/", 10) == 0)
        name += 10;
    return name;
}

/* Only a Localhost profile is named: RuntimeDefault would need a profile loaded on the host
 * under a name of ours (Docker's "docker-default"), which nothing installs, so it is left to the
 * runtime's own confinement, as Unconfined is. */
static int apply_apparmor(const struct oci_lsm *host,
                          const Runtime__V1__LinuxContainerSecurityContext *sc, cJSON *proc,
                          struct err *err)
{
    const char *name = apparmor_localhost(sc);
    if (!name)
        return 0;
    if (!*name)
        return err_set(err, -EINVAL, "AppArmor profile type Localhost names no profile");
    if (!host->apparmor)
        return err_set(err, -EOPNOTSUPP,
                       "AppArmor profile `%s` asked for, but AppArmor is not enabled on this host",
                       name);
    cJSON_AddStringToObject(proc, "apparmorProfile", name);
    return 0;
}

/* ---- SELinux ---- */

/* A field of a label: user, role and type are names; the level (s0:c1,c2) may hold colons. */
static int label_part(const char *what, const char *v, bool colons, struct err *err)
{
    for (const char *c = v; *c; c++)
        if ((*c == ':' && !colons) || *c == ' ' || *c == '\n' || *c == '\t')
            return err_set(err, -EINVAL, "SELinux %s `%s` is not a valid label field", what, v);
    return 0;
}

/* The process label: the options given, over the defaults of container-selinux's policy; the
 * mount label: container files at the same level. */
static int apply_selinux(const struct oci_lsm *host,
                         const Runtime__V1__LinuxContainerSecurityContext *sc, cJSON *proc,
                         cJSON *linux_, struct err *err)
{
    const Runtime__V1__SELinuxOption *o = sc->selinux_options;
    if (!o ||
        (!nonempty(o->user) && !nonempty(o->role) && !nonempty(o->type) && !nonempty(o->level)))
        return 0;
    const char *user = nonempty(o->user) ? o->user : "system_u";
    const char *role = nonempty(o->role) ? o->role : "system_r";
    const char *type = nonempty(o->type) ? o->type : "container_t";
    const char *level = nonempty(o->level) ? o->level : "s0";
    int r = label_part("user", user, false, err);
    if (r == 0)
        r = label_part("role", role, false, err);
    if (r == 0)
        r = label_part("type", type, false, err);
    if (r == 0)
        r = label_part("level", level, true, err);
    if (r < 0)
        return r;
    /* Without SELinux a label means nothing: the kernel has nothing to enforce it with, and
     * nodes without it ignore the option (as containerd and CRI-O do). */
    if (!host->selinux)
        return 0;
    cleanup_free char *label = xasprintf("%s:%s:%s:%s", user, role, type, level);
    cleanup_free char *mount = xasprintf("system_u:object_r:container_file_t:%s", level);
    cJSON_AddStringToObject(proc, "selinuxLabel", label);
    cJSON_AddStringToObject(linux_, "mountLabel", mount);
    return 0;
}

int oci_lsm_apply(const struct oci_lsm *host, const Runtime__V1__LinuxContainerSecurityContext *sc,
                  cJSON *proc, cJSON *linux_, struct err *err)
{
    if (!sc)
        return 0;
    int r = apply_apparmor(host, sc, proc, err);
    return r < 0 ? r : apply_selinux(host, sc, proc, linux_, err);
}

int oci_lsm_check_sandbox(const struct oci_lsm *host,
                          const Runtime__V1__LinuxSandboxSecurityContext *sc, struct err *err)
{
    const Runtime__V1__SecurityProfile *a = sc ? sc->apparmor : NULL;
    if (!a || a->profile_type != RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost)
        return 0;
    if (!host->apparmor)
        return err_set(err, -EOPNOTSUPP,
                       "AppArmor profile `%s` asked for, but AppArmor is not enabled on this host",
                       a->localhost_ref ? a->localhost_ref : "");
    return 0;
}
