/* Signature policy (containers-policy.json(5)): a strict parser and the choice of the requirements
 * that apply to an image. Pure: the caller reads the file and hands its text in. */
#ifndef CRIB_IMAGE_POLICY_H
#define CRIB_IMAGE_POLICY_H

#include <stddef.h>

#include "common/err.h"

/* Largest policy document accepted. */
#define IMAGE_POLICY_MAX_BYTES ((size_t)1 << 20)

struct image_policy;

/* Parse a policy.json document; name is used in messages ("/etc/containers/policy.json").
 * "default" is required, a non-empty array of requirements; "transports" is optional, an object
 * of transport name -> object of scope -> non-empty array of requirements. Requirement types:
 * insecureAcceptAnything, reject, signedBy (keyType "GPGKeys"; exactly one of keyPath, keyPaths,
 * keyData; optional signedIdentity) and sigstoreSigned (exactly one of keyPath, keyPaths, keyData,
 * keyDatas, fulcio, pki; Rekor keys; optional signedIdentity). Unknown types or fields, duplicate
 * keys, wrong types and invalid scopes give -EINVAL with a message naming the JSON location:
 * "policy.json: transports.docker[\"docker.io/library\"][0]: unknown requirement type `acceptAll`".
 * Documents over IMAGE_POLICY_MAX_BYTES give -EFBIG. */
int image_policy_parse(const char *text, size_t len, const char *name, struct image_policy **ret,
                       struct err *err);
/* The built-in policy when no file exists: default [insecureAcceptAnything]. */
struct image_policy *image_policy_accept_all(void);
void image_policy_free(struct image_policy *p);

/* Decide for an image about to come in through transport, named name.
 * - "docker" (also "atomic", "docker-daemon"): name is a fully qualified reference,
 *   "domain/path:tag" or "domain/path@sha256:...". The most specific scope wins: the reference
 *   itself, the repository "domain/path", each parent namespace "domain/ns", the domain
 *   "host[:port]", then wildcards "*.example.com" from the longest (they match host names without
 *   the port), then the transport's "" scope, then "default".
 * - "oci", "oci-archive" (also "dir", "sif"): name is an absolute, clean path; scopes are that
 *   path, then each parent directory (never "/"), then "", then "default".
 * - "docker-archive" and other transports: the transport's "" scope, then "default".
 * Every requirement in the chosen list must accept. Returns 0 to accept; -EACCES when a reject
 * requirement applies ("rejected by /etc/containers/policy.json (transports.docker scope
 * `docker.io/library`)"); -ENOTSUP when signedBy or sigstoreSigned does, as signatures are not
 * verified yet ("signature verification (signedBy) is not supported yet: required by ..."). */
int image_policy_check(const struct image_policy *p, const char *transport, const char *name,
                       struct err *err);

#endif
