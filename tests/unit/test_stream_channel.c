/* Unit tests for the streaming server's pure parts: the upgrade request parser, protocol
 * negotiation, the WebSocket accept key, the channel protocols' framing (binary and base64),
 * the error stream's Status and the resize messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "common/buf.h"
#include "stream/stream-internal.h"

static const char upgrade_req[] = "POST /exec/abc?x=1 HTTP/1.1\r\n"
                                  "Host: 127.0.0.1\r\n"
                                  "Connection: Upgrade\r\n"
                                  "Upgrade: SPDY/3.1\r\n"
                                  "X-Stream-Protocol-Version: v4.channel.k8s.io\r\n"
                                  "X-Stream-Protocol-Version: v3.channel.k8s.io\r\n"
                                  "Sec-WebSocket-Protocol: a, b\r\n"
                                  "Sec-WebSocket-Protocol: c\r\n"
                                  "Content-Length: 0\r\n"
                                  "\r\n"
                                  "\x80\x03\x00\x01"; /* the first bytes of the new protocol */

static void test_handshake_whole_and_bytewise(void **state)
{
    size_t req_len = sizeof(upgrade_req) - 1;
    for (int split = 0; split < 2; split++) {
        struct stream_handshake hs;
        stream_handshake_init(&hs);
        size_t off = 0, used = 0;
        int r = 0;
        while (off < req_len && r == 0) {
            size_t n = split ? 1 : req_len;
            r = stream_handshake_feed(&hs, (const uint8_t *)upgrade_req + off, n, &used);
            off += used;
        }
        assert_int_equal(r, 1);
        assert_int_equal(req_len - off, 4); /* the SPDY bytes were left alone */
        const char *path, *query;
        stream_handshake_target(&hs, &path, &query);
        assert_string_equal(path, "/exec/abc?x=1");
        assert_string_equal(query, "x=1");
        assert_string_equal(hs.method, "POST");
        assert_string_equal(hs.upgrade, "SPDY/3.1");
        assert_string_equal((char *)hs.protocols.data, "v4.channel.k8s.io,v3.channel.k8s.io");
        assert_string_equal((char *)hs.ws_protocols.data, "a, b,c");
        stream_handshake_done(&hs);
    }
}

static int feed_all(const char *req, int *status)
{
    struct stream_handshake hs;
    stream_handshake_init(&hs);
    size_t used;
    int r = stream_handshake_feed(&hs, (const uint8_t *)req, strlen(req), &used);
    *status = hs.status;
    stream_handshake_done(&hs);
    return r;
}

static void test_handshake_rejects(void **state)
{
    int status;
    assert_int_equal(feed_all("GARBAGE\r\n\r\n", &status), -EPROTO);
    assert_int_equal(status, 400);
    assert_int_equal(feed_all("POST /x HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", &status),
                     -EPROTO);
    assert_int_equal(status, 400);
    struct buf big = {0};
    buf_puts(&big, "GET /");
    for (int i = 0; i < STREAM_HS_MAX_TARGET; i++)
        buf_puts(&big, "a");
    buf_puts(&big, " HTTP/1.1\r\n\r\n");
    assert_int_equal(feed_all((char *)big.data, &status), -EPROTO);
    assert_int_equal(status, 414);
    big.len = 0;
    buf_puts(&big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 1000; i++)
        buf_printf(&big, "X-Filler-%d: %064d\r\n", i, i);
    buf_puts(&big, "\r\n");
    assert_int_equal(feed_all((char *)big.data, &status), -EPROTO);
    assert_int_equal(status, 431);
    buf_done(&big);
    /* Incomplete: more is needed. */
    assert_int_equal(feed_all("GET / HTTP/1.1\r\nHost: x\r\n", &status), 0);
}

static void test_protocol_pick(void **state)
{
    static const char *const sup[] = {"v4.channel.k8s.io", "channel.k8s.io", NULL};
    assert_string_equal(stream_protocol_pick("v5.channel.k8s.io, v4.channel.k8s.io", sup),
                        "v4.channel.k8s.io");
    /* The client's order decides. */
    assert_string_equal(stream_protocol_pick("channel.k8s.io,v4.channel.k8s.io", sup),
                        "channel.k8s.io");
    assert_null(stream_protocol_pick("v9.channel.k8s.io", sup));
    assert_null(stream_protocol_pick("", sup));
    assert_null(stream_protocol_pick(NULL, sup));
    assert_null(stream_protocol_pick(" , ,", sup));
}

static void test_ws_accept(void **state)
{
    /* RFC 6455 section 1.3's example. */
    char acc[29];
    stream_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc);
    assert_string_equal(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void test_channel_binary(void **state)
{
    struct buf enc = {0}, dec = {0};
    stream_ws_encode(false, 2, "err", 3, &enc);
    assert_int_equal(enc.len, 4);
    assert_memory_equal(enc.data,
                        "\x02"
                        "err",
                        4);
    assert_int_equal(stream_ws_decode(false, enc.data, enc.len, &dec), 2);
    assert_int_equal(dec.len, 3);
    assert_memory_equal(dec.data, "err", 3);
    stream_ws_encode(false, 1, "", 0, &enc); /* the session's first, empty message */
    assert_int_equal(enc.len, 1);
    assert_int_equal(stream_ws_decode(false, enc.data, enc.len, &dec), 1);
    assert_int_equal(dec.len, 0);
    assert_int_equal(stream_ws_decode(false, (const uint8_t *)"", 0, &dec), -EPROTO);
    buf_done(&enc);
    buf_done(&dec);
}

static void test_channel_base64(void **state)
{
    struct buf enc = {0}, dec = {0};
    for (size_t n = 0; n < 8; n++) {
        const uint8_t raw[] = {0x00, 0xff, 0x01, 'a', 'b', 0x80, 0x7f, 'z'};
        stream_ws_encode(true, 1, raw, n, &enc);
        assert_int_equal(enc.data[0], '1');
        assert_int_equal(enc.len, 1 + (n + 2) / 3 * 4);
        assert_int_equal(stream_ws_decode(true, enc.data, enc.len, &dec), 1);
        assert_int_equal(dec.len, n);
        if (n)
            assert_memory_equal(dec.data, raw, n);
    }
    assert_int_equal(stream_ws_decode(true, (const uint8_t *)"0aGVsbG8=", 9, &dec), 0);
    assert_int_equal(dec.len, 5);
    assert_memory_equal(dec.data, "hello", 5);
    assert_int_equal(stream_ws_decode(true, (const uint8_t *)"xaGVs", 5, &dec), -EPROTO);
    assert_int_equal(stream_ws_decode(true, (const uint8_t *)"0aGV", 4, &dec), -EPROTO);
    assert_int_equal(stream_ws_decode(true, (const uint8_t *)"0a*Vs", 5, &dec), -EPROTO);
    /* Padding only at the end and at most two of it: these once wrapped the length. */
    static const char *const bad[] = {
        "0========", "0====", "0a===", "0aG=Vs===", "0aGV=Vs=", "0=aGV"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(stream_ws_decode(true, (const uint8_t *)bad[i], strlen(bad[i]), &dec),
                         -EPROTO);
    buf_done(&enc);
    buf_done(&dec);
}

static void test_status(void **state)
{
    struct buf b = {0};
    stream_rc_status(4, 0, NULL, &b);
    buf_append(&b, "", 1);
    assert_string_equal((char *)b.data, "{\"metadata\":{},\"status\":\"Success\"}");
    stream_rc_status(4, 3, NULL, &b);
    buf_append(&b, "", 1);
    assert_non_null(strstr((char *)b.data, "\"reason\":\"NonZeroExitCode\""));
    assert_non_null(
        strstr((char *)b.data, "\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"3\"}]"));
    stream_rc_status(5, 0, "no such container", &b);
    buf_append(&b, "", 1);
    assert_non_null(strstr((char *)b.data, "\"message\":\"no such container\""));
    assert_non_null(strstr((char *)b.data, "\"status\":\"Failure\""));
    /* Before v4: text, and nothing on success. */
    stream_rc_status(2, 0, NULL, &b);
    assert_int_equal(b.len, 0);
    stream_rc_status(1, 7, NULL, &b);
    buf_append(&b, "", 1);
    assert_non_null(strstr((char *)b.data, "exit status 7"));
    buf_done(&b);
}

static void test_resize(void **state)
{
    struct buf b = {0};
    uint16_t w = 0, h = 0;
    buf_puts(&b, "{\"Width\":80,\"He");
    assert_int_equal(stream_rc_resize_parse(&b, &w, &h), 0);
    buf_puts(&b, "ight\":24}\n{\"Width\":100,\"Height\":50}{\"Width\":1");
    assert_int_equal(stream_rc_resize_parse(&b, &w, &h), 2);
    assert_int_equal(w, 100);
    assert_int_equal(h, 50);
    buf_append(&b, "", 1);
    assert_string_equal((char *)b.data, "{\"Width\":1"); /* the rest waits */
    b.len = 0;
    buf_puts(&b, "{\"Width\":-1,\"Height\":5}{\"Width\":\"x}\",\"Height\":1}{\"Width\":70000,"
                 "\"Height\":1} junk {\"Width\":9,\"Height\":8}");
    assert_int_equal(stream_rc_resize_parse(&b, &w, &h), 1);
    assert_int_equal(w, 9);
    assert_int_equal(h, 8);
    assert_int_equal(b.len, 0);
    buf_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake_whole_and_bytewise),
        cmocka_unit_test(test_handshake_rejects),
        cmocka_unit_test(test_protocol_pick),
        cmocka_unit_test(test_ws_accept),
        cmocka_unit_test(test_channel_binary),
        cmocka_unit_test(test_channel_base64),
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_resize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
