/* Content digests as OCI writes them: "sha256:<hex>" / "sha512:<hex>" (OpenSSL EVP). */
#ifndef CRIB_COMMON_DIGEST_H
#define CRIB_COMMON_DIGEST_H

#include <stddef.h>

#include <openssl/evp.h>

/* The algorithm of "sha256:..." or "sha512:...", NULL for anything else. */
const EVP_MD *digest_md(const char *digest);
/* Finish md and format it as "<algo>:<hex>" (algo "sha256" or "sha512"). */
char *digest_final(EVP_MD_CTX *md, const char *algo);
/* "<algo>:<hex>" of data, with the algorithm of like ("sha256:..." when like is NULL). */
char *digest_of(const char *like, const void *data, size_t len);

#endif
