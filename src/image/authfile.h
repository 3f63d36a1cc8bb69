/* The node's credentials in a containers-auth.json(5) file (crib.image.global_auth_file), and the
 * host a kubelet AuthConfig's server_address names. Pure: the caller reads the file. Internal to
 * image/. */
#ifndef CRIB_IMAGE_AUTHFILE_H
#define CRIB_IMAGE_AUTHFILE_H

#include <stddef.h>

#include "common/err.h"
#include "image/image.h"

#define IMAGE_AUTHFILE_MAX_BYTES (1u << 20)

struct image_authfile;

/* {"auths": {"<host[:port]>[/<path>]": {"auth": "<base64 user:password>",
 * "identitytoken": "..."}, ...}}; other members (credHelpers, credsStore, email) are ignored.
 * Legacy keys with a scheme ("https://index.docker.io/v1/") stand for their host. name is used
 * in errors. */
int image_authfile_parse(const char *name, const char *text, size_t len,
                         struct image_authfile **ret, struct err *err);
void image_authfile_free(struct image_authfile *f);
/* The credentials for the repository domain/path: the entry with the longest key that is the
 * repository itself or a prefix of it ending at a "/", or NULL. f may be NULL. */
const struct image_auth *image_authfile_find(const struct image_authfile *f, const char *domain,
                                             const char *path);

/* The registry host[:port] that an AuthConfig server_address or an auth file key names:
 * scheme and path dropped, Docker Hub's hosts as "docker.io". */
char *image_auth_host(const char *server_address);

#endif
