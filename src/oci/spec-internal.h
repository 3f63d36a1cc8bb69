/* What spec.c (the process, namespaces, the spec as a whole) and spec-mounts.c (mounts and
 * devices) share; stays in oci/. */
#ifndef CRIB_OCI_SPEC_INTERNAL_H
#define CRIB_OCI_SPEC_INTERNAL_H

#include <stdbool.h>

#include "oci/oci.h"

static inline bool nonempty(const char *s)
{
    return s && *s;
}

/* spec.mounts: the runtime's own mounts, the pod's files, then the CRI's mounts (parents
 * first); sets linux.rootfsPropagation when a CRI mount propagates. */
int oci_spec_mounts_make(const struct oci_spec_params *p, bool privileged, cJSON *spec,
                         cJSON *linux_, struct err *err);
/* linux.devices and linux.resources.devices: deny everything, then allow the CRI's devices
 * (privileged: every device, and the host's). */
int oci_spec_devices_make(const struct oci_spec_params *p, bool privileged, cJSON *linux_,
                          cJSON *resources, struct err *err);

#endif
