/* cri/'s records (record.c): the JSON a pod or a container is persisted as and read back from
 * after a restart, and the copies of their CRI configs. */
#ifndef CRIB_CRI_RECORD_H
#define CRIB_CRI_RECORD_H

#include "cri/container.h"
#include "cri/pod.h"

/* root/containers/<id>.json */
char *cri_ctr_record_path(struct cri *cri, const char *id);
/* The container's record, as JSON text. */
char *cri_ctr_record_format(const struct ctr *c);
/* A container (one ref, no monitor) from a record's text; NULL when it is not JSON, or has no id
 * or no config with metadata. */
struct ctr *cri_ctr_record_parse(struct cri *cri, const char *text);
/* An unpacked copy of cfg, owned by the caller. */
Runtime__V1__ContainerConfig *cri_ctr_config_copy(const Runtime__V1__ContainerConfig *cfg);

/* root/pods/<id>.json */
char *cri_pod_record_path(struct cri *cri, const char *id);
/* The pod's record, as JSON text. */
char *cri_pod_record_format(const struct pod *p);
/* A pod from a record's text; NULL when it is not JSON, or lacks its id (64 characters), config
 * (with metadata), state or runtime handler. */
struct pod *cri_pod_record_parse(struct cri *cri, const char *text);
/* An unpacked copy of cfg, owned by the caller, and its packed bytes in base64 (ret_b64). */
Runtime__V1__PodSandboxConfig *cri_pod_config_copy(const Runtime__V1__PodSandboxConfig *cfg,
                                                   char **ret_b64);
/* The host_* and pod_pid flags of the pod's config. */
void cri_pod_namespaces_read(struct pod *p);

#endif
