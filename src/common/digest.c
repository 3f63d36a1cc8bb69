/* Content digests: "sha256:<hex>" strings from OpenSSL EVP contexts. */
#include <stdbool.h>
#include <string.h>

#include "common/buf.h"
#include "common/digest.h"
#include "common/macro.h"

const EVP_MD *digest_md(const char *digest)
{
    if (strncmp(digest, "sha256:", 7) == 0)
        return EVP_sha256();
    if (strncmp(digest, "sha512:", 7) == 0)
        return EVP_sha512();
    return NULL;
}

char *digest_final(EVP_MD_CTX *md, const char *algo)
{
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(md, out, &n);
    struct buf b = {0};
    buf_printf(&b, "%s:", algo);
    for (unsigned i = 0; i < n; i++)
        buf_printf(&b, "%02x", out[i]);
    return buf_steal(&b);
}

char *digest_of(const char *like, const void *data, size_t len)
{
    bool sha512 = like && digest_md(like) == EVP_sha512();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, sha512 ? EVP_sha512() : EVP_sha256(), NULL);
    EVP_DigestUpdate(md, data, len);
    char *s = digest_final(md, sha512 ? "sha512" : "sha256");
    EVP_MD_CTX_free(md);
    return s;
}
