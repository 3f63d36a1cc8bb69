/* TLS for our own listeners (the streaming server's HTTPS): OpenSSL over memory BIOs, so the
 * loop keeps doing all the socket I/O. Ciphertext in, plaintext out, and back. */
#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/macro.h"
#include "reactor/reactor-internal.h"

struct reactor_tls {
    SSL_CTX *ctx;
};

struct reactor_tls_conn {
    SSL *ssl;
    BIO *in, *out; /* owned by ssl */
};

static const char *ssl_error(void)
{
    unsigned long e = ERR_get_error();
    return e ? ERR_reason_error_string(e) : "unknown error";
}

int reactor_tls_new(const struct reactor_tls_config *cfg, struct reactor_tls **ret, struct err *err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return err_set(err, -ENOMEM, "TLS context: %s", ssl_error());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    const char *cert = cfg->cert, *key = cfg->key;
    int r = 0;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        r = err_set(err, -EINVAL, "%s %s: %s", cfg->cert_name, cert, ssl_error());
    else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        r = err_set(err, -EINVAL, "%s %s: %s", cfg->key_name, key, ssl_error());
    else if (SSL_CTX_check_private_key(ctx) != 1)
        r = err_set(err, -EINVAL, "%s %s does not match %s %s", cfg->key_name, key, cfg->cert_name,
                    cert);
    if (r < 0) {
        SSL_CTX_free(ctx);
        return r;
    }
    struct reactor_tls *t = xcalloc(1, sizeof(*t));
    t->ctx = ctx;
    *ret = t;
    return 0;
}

void reactor_tls_free(struct reactor_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ctx);
    free(t);
}

struct reactor_tls_conn *reactor_tls_conn_new(struct reactor_tls *t)
{
    struct reactor_tls_conn *tc = xcalloc(1, sizeof(*tc));
    tc->ssl = SSL_new(t->ctx);
    tc->in = BIO_new(BIO_s_mem());
    tc->out = BIO_new(BIO_s_mem());
    if (!tc->ssl || !tc->in || !tc->out)
        abort(); /* allocation failure */
    SSL_set_bio(tc->ssl, tc->in, tc->out);
    SSL_set_accept_state(tc->ssl);
    return tc;
}

void reactor_tls_conn_free(struct reactor_tls_conn *tc)
{
    if (!tc)
        return;
    SSL_free(tc->ssl);
    free(tc);
}

/* What OpenSSL wants to send: handshake records, or what SSL_write made. */
static void take_output(struct reactor_tls_conn *tc, struct buf *cipher)
{
    char chunk[16384];
    int n;
    while ((n = BIO_read(tc->out, chunk, sizeof(chunk))) > 0)
        buf_append(cipher, chunk, (size_t)n);
}

int reactor_tls_feed(struct reactor_tls_conn *tc, const uint8_t *data, size_t len,
                     struct buf *plain, struct buf *cipher)
{
    if (len && BIO_write(tc->in, data, (int)len) != (int)len)
        return -ENOMEM;
    for (;;) {
        char chunk[16384];
        int n = SSL_read(tc->ssl, chunk, sizeof(chunk));
        if (n > 0) {
            buf_append(plain, chunk, (size_t)n);
            continue;
        }
        int e = SSL_get_error(tc->ssl, n);
        take_output(tc, cipher);
        if (e == SSL_ERROR_WANT_READ)
            return 0;
        if (e == SSL_ERROR_ZERO_RETURN)
            return -EPIPE; /* the client's close_notify */
        ERR_clear_error();
        return -EPROTO;
    }
}

int reactor_tls_write(struct reactor_tls_conn *tc, const void *data, size_t len, struct buf *cipher)
{
    /* Memory BIOs take everything: SSL_write never waits. Before the handshake is done
     * OpenSSL would want more input, which a session cannot produce yet. */
    int n = len ? SSL_write(tc->ssl, data, (int)len) : 0;
    take_output(tc, cipher);
    if (len && n != (int)len) {
        ERR_clear_error();
        return -EPROTO;
    }
    return 0;
}

void reactor_tls_close(struct reactor_tls_conn *tc, struct buf *cipher)
{
    SSL_shutdown(tc->ssl);
    take_output(tc, cipher);
    ERR_clear_error();
}
