/* cgroups for pods and containers: the cgroupfs driver on v1 (one directory per hierarchy, as
 * on this machine's hybrid setup) and v2 (one unified tree), and systemd slice names. */
#ifndef CRIB_OCI_CGROUP_H
#define CRIB_OCI_CGROUP_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* The path of a cgroup parent relative to each hierarchy's root: "/kubepods/pod1" stays as it
 * is for cgroupfs; a systemd slice "kubepods-burstable-pod1.slice" becomes
 * "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice". -EINVAL for a name
 * that fits neither ("..", empty components, a slice name with '/'). */
int oci_cgroup_parent_path(const char *driver, const char *parent, char **ret, struct err *err);
/* Where a container's cgroupsPath lies below a hierarchy's root: "/a/b" as it is (cgroupfs);
 * "SLICE:PREFIX:NAME" (systemd) becomes SLICE's path (as above) + "/PREFIX-NAME.scope". NULL for a
 * systemd path that is not of that form. */
char *oci_cgroup_fs_path(const char *cgroups_path);
/* Create the parent in every hierarchy where it is missing (v2: and enable the controllers of
 * its ancestors); the directories created are returned, deepest last, for oci_cgroup_remove.
 * With a journal path, each directory is appended to that file before it is made, so that
 * oci_cgroup_remove_journaled can undo an ensure that a crash cut short. */
int oci_cgroup_ensure(const char *path, const char *journal_path, char ***ret_created,
                      size_t *ret_n, struct err *err);
/* Remove the given directories, deepest first; a cgroup still in use is left and logged. */
void oci_cgroup_remove(char **dirs, size_t n);
/* Remove the directories a journal names (those still there), deepest first. */
void oci_cgroup_remove_journaled(const char *journal_path);
/* Whether /sys/fs/cgroup is the unified (v2) hierarchy. */
bool oci_cgroup_is_v2(void);

#endif
