/* Unit tests for the HTTP/1.1 request parser (hooks, caps, where it stops) and the session above
 * it: routing, keep-alive, pipelining, limits, bad requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>

#include "reactor/http1.h"

static int calls;

static void handler(void *data, const struct http1_request *req, struct http1_response *resp)
{
    calls++;
    if (strcmp(req->path, "/hello") == 0) {
        resp->status = 200;
        resp->content_type = "text/plain";
        buf_printf(&resp->body, "hi %s %s", req->method, req->query);
    }
}

/* Feed text in chunks of `chunk` bytes; return the output and the last feed's result. */
static char *run(const char *in, size_t chunk, int *ret)
{
    struct http1_session *s = reactor_http1_session_new(handler, NULL);
    struct buf out = {0};
    size_t len = strlen(in);
    *ret = 0;
    for (size_t off = 0; off < len && *ret == 0; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        *ret = reactor_http1_session_feed(s, (const uint8_t *)in + off, n, &out);
    }
    reactor_http1_session_free(s);
    buf_append(&out, "", 0);
    return buf_steal(&out);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_get_routed(void **state)
{
    int r;
    calls = 0;
    char *out = run("GET /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", 1000, &r);
    assert_int_equal(r, 0);
    assert_int_equal(calls, 1);
    assert_non_null(strstr(out, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out, "Content-Length: 10\r\n"));
    assert_non_null(strstr(out, "\r\n\r\nhi GET x=1"));
    free(out);
}

static void test_unknown_path_404(void **state)
{
    int r;
    char *out = run("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", 1000, &r);
    assert_int_equal(r, 0);
    assert_non_null(strstr(out, "HTTP/1.1 404 Not Found\r\n"));
    free(out);
}

static void test_byte_by_byte(void **state)
{
    int r;
    char *out = run("GET /hello HTTP/1.1\r\nHost: a\r\n\r\n", 1, &r);
    assert_int_equal(r, 0);
    assert_non_null(strstr(out, "200 OK"));
    free(out);
}

static void test_pipelined_requests_answered_in_order(void **state)
{
    int r;
    char *out = run("GET /hello HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"
                    "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
                    1000, &r);
    assert_int_equal(r, 0);
    assert_int_equal(count(out, "HTTP/1.1 "), 3);
    char *a = strstr(out, "200 OK"), *b = strstr(out, "404"), *c = strstr(b, "200 OK");
    assert_true(a && b && c && a < b);
    free(out);
}

static void test_connection_close_honoured(void **state)
{
    int r;
    char *out = run("GET /hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
                    "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n",
                    1000, &r);
    assert_int_equal(r, 1);
    assert_int_equal(count(out, "HTTP/1.1 "), 1);
    assert_non_null(strstr(out, "Connection: close\r\n"));
    free(out);
}

static void test_http10_closes(void **state)
{
    int r;
    char *out = run("GET /hello HTTP/1.0\r\n\r\n", 1000, &r);
    assert_int_equal(r, 1);
    assert_non_null(strstr(out, "200 OK"));
    free(out);
}

static void test_garbage_is_400_and_close(void **state)
{
    int r;
    calls = 0;
    char *out = run("\x01\x02garbage\r\n\r\n", 1000, &r);
    assert_int_equal(r, 1);
    assert_int_equal(calls, 0);
    assert_non_null(strstr(out, "HTTP/1.1 400 Bad Request\r\n"));
    free(out);
}

static void test_long_target_414(void **state)
{
    int r;
    size_t n = HTTP1_MAX_TARGET + 100;
    char *req = malloc(n + 64);
    strcpy(req, "GET /");
    memset(req + 5, 'a', n);
    strcpy(req + 5 + n, " HTTP/1.1\r\nHost: a\r\n\r\n");
    calls = 0;
    char *out = run(req, 4096, &r);
    assert_int_equal(r, 1);
    assert_int_equal(calls, 0);
    assert_non_null(strstr(out, "414 URI Too Long"));
    free(out);
    free(req);
}

static void test_huge_headers_431(void **state)
{
    int r;
    size_t n = HTTP1_MAX_HEADERS + 100;
    char *req = malloc(n + 64);
    strcpy(req, "GET /hello HTTP/1.1\r\nX: ");
    size_t off = strlen(req);
    memset(req + off, 'a', n);
    strcpy(req + off + n, "\r\n\r\n");
    char *out = run(req, 4096, &r);
    assert_int_equal(r, 1);
    assert_non_null(strstr(out, "431 "));
    free(out);
    free(req);
}

static void test_body_over_limit_413(void **state)
{
    int r;
    char req[256];
    snprintf(req, sizeof(req), "POST /hello HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n",
             HTTP1_MAX_BODY + 1);
    size_t hl = strlen(req);
    char *full = calloc(1, hl + HTTP1_MAX_BODY + 2);
    memcpy(full, req, hl);
    memset(full + hl, 'b', HTTP1_MAX_BODY + 1);
    char *out = run(full, 8192, &r);
    assert_int_equal(r, 1);
    assert_non_null(strstr(out, "413 "));
    free(out);
    free(full);
}

static void test_head_has_no_body(void **state)
{
    int r;
    char *out = run("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n", 1000, &r);
    assert_int_equal(r, 0);
    assert_non_null(strstr(out, "Content-Length: 8\r\n")); /* "hi HEAD " */
    assert_null(strstr(out, "hi HEAD"));
    free(out);
}

/* ---- the request parser on its own ---- */

struct seen {
    struct buf headers; /* "name=value;" */
    char *method, *target;
    int status, completes;
};

static void on_header(void *data, const char *name, const char *value, size_t len)
{
    struct seen *s = data;
    assert_int_equal(strlen(value), len);
    buf_printf(&s->headers, "%s=%s;", name, value);
}

static bool on_complete(void *data, const struct reactor_http1_message *m)
{
    struct seen *s = data;
    s->completes++;
    free(s->method);
    free(s->target);
    s->method = strdup(m->method);
    s->target = strdup(m->target);
    assert_int_equal(strlen(m->target), m->target_len);
    s->status = m->status;
    return true;
}

static const struct reactor_http1_parser_ops stop_ops = {
    .max_target = 16,
    .max_headers = 64,
    .max_value = 8,
    .stop_at_error = true,
    .header = on_header,
    .complete = on_complete,
};

static void seen_done(struct seen *s)
{
    buf_done(&s->headers);
    free(s->method);
    free(s->target);
}

/* Feed text whole; return the parser's answer, with the bytes used and the status. */
static int parse(const struct reactor_http1_parser_ops *ops, const char *in, struct seen *s,
                 size_t *used, int *status)
{
    struct reactor_http1_parser *p = reactor_http1_parser_new(ops, s);
    int r = reactor_http1_parser_feed(p, (const uint8_t *)in, strlen(in), used);
    *status = reactor_http1_parser_status(p);
    reactor_http1_parser_free(p);
    return r;
}

static void test_parser_headers_and_the_rest(void **state)
{
    struct seen s = {0};
    size_t used;
    int status;
    const char *req = "GET /a?b HTTP/1.1\r\nUpgrade: x\r\nEmpty:\r\n\r\nNEXT";
    assert_int_equal(parse(&stop_ops, req, &s, &used, &status), 1);
    assert_int_equal(used, strlen(req) - 4); /* the bytes after the request are not its */
    assert_int_equal(s.completes, 1);
    assert_string_equal(s.method, "GET");
    assert_string_equal(s.target, "/a?b");
    assert_string_equal((char *)s.headers.data, "Upgrade=x;Empty=;");
    assert_int_equal(status, 0);
    seen_done(&s);
}

static void test_parser_stops_at_a_broken_rule(void **state)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET /0123456789abcdef HTTP/1.1\r\n", 414}, /* long target, request not over yet */
        {"GET / HTTP/1.1\r\nX: 123456789\r\n", 431}, /* a long value */
        {"GET / HTTP/1.1\r\nX-0123456789abcdef: 1\r\nY-0123456789abcdef: 1\r\n"
         "Z-0123456789abcdef: 1\r\nW-0123456789abcdef: 1\r\n",
         431},                                                  /* long headers */
        {"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nb", 400}, /* a body where none may be */
        {"\x01 / HTTP/1.1\r\n\r\n", 400},                       /* syntax */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct seen s = {0};
        size_t used = 99;
        int status;
        assert_int_equal(parse(&stop_ops, cases[i].req, &s, &used, &status), -EPROTO);
        assert_int_equal(status, cases[i].status);
        assert_int_equal(used, 0);
        assert_int_equal(s.completes, 0);
        seen_done(&s);
    }
}

static void test_parser_reads_a_refused_request_to_its_end(void **state)
{
    struct reactor_http1_parser_ops ops = stop_ops;
    ops.stop_at_error = false;
    struct seen s = {0};
    size_t used;
    int status;
    assert_int_equal(parse(&ops, "GET /0123456789abcdef HTTP/1.1\r\n", &s, &used, &status), 0);
    assert_int_equal(s.completes, 0);
    assert_int_equal(status, 414);
    assert_int_equal(
        parse(&ops, "GET /0123456789abcdef HTTP/1.1\r\nX: 123456789\r\n\r\n", &s, &used, &status),
        1);
    assert_int_equal(s.completes, 1);
    assert_int_equal(s.status, 414); /* the first rule broken */
    assert_null(s.headers.data);     /* nothing handed over once refused */
    seen_done(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_routed),
        cmocka_unit_test(test_unknown_path_404),
        cmocka_unit_test(test_byte_by_byte),
        cmocka_unit_test(test_pipelined_requests_answered_in_order),
        cmocka_unit_test(test_connection_close_honoured),
        cmocka_unit_test(test_http10_closes),
        cmocka_unit_test(test_garbage_is_400_and_close),
        cmocka_unit_test(test_long_target_414),
        cmocka_unit_test(test_huge_headers_431),
        cmocka_unit_test(test_body_over_limit_413),
        cmocka_unit_test(test_head_has_no_body),
        cmocka_unit_test(test_parser_headers_and_the_rest),
        cmocka_unit_test(test_parser_stops_at_a_broken_rule),
        cmocka_unit_test(test_parser_reads_a_refused_request_to_its_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
