/* Unit tests for gRPC message framing, grpc-timeout parsing and grpc-message encoding. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "reactor/grpc-frame.h"

static void frame(uint8_t *out, uint8_t flag, uint32_t len)
{
    reactor_grpc_frame_header(out, len);
    out[0] = flag;
}

static void test_header_big_endian(void **state)
{
    uint8_t h[5];
    reactor_grpc_frame_header(h, 0x01020304);
    uint8_t want[5] = {0, 1, 2, 3, 4};
    assert_memory_equal(h, want, 5);
}

static void test_one_message_whole(void **state)
{
    struct grpc_frame_reader r;
    reactor_grpc_frame_reader_init(&r, 100);
    uint8_t in[8];
    frame(in, 0, 3);
    memcpy(in + 5, "abc", 3);
    assert_int_equal(reactor_grpc_frame_reader_feed(&r, in, sizeof(in)), 0);
    assert_int_equal(r.n_msgs, 1);
    assert_int_equal(r.first_len, 3);
    assert_memory_equal(r.first, "abc", 3);
    assert_true(reactor_grpc_frame_reader_idle(&r));
    reactor_grpc_frame_reader_done(&r);
}

static void test_message_split_byte_by_byte(void **state)
{
    struct grpc_frame_reader r;
    reactor_grpc_frame_reader_init(&r, 100);
    uint8_t in[5 + 10];
    frame(in, 0, 10);
    memcpy(in + 5, "0123456789", 10);
    for (size_t i = 0; i < sizeof(in); i++) {
        assert_int_equal(r.n_msgs, 0);
        assert_int_equal(reactor_grpc_frame_reader_feed(&r, in + i, 1), 0);
        if (i + 1 < sizeof(in))
            assert_false(reactor_grpc_frame_reader_idle(&r));
    }
    assert_int_equal(r.n_msgs, 1);
    assert_memory_equal(r.first, "0123456789", 10);
    reactor_grpc_frame_reader_done(&r);
}

static void test_empty_message(void **state)
{
    struct grpc_frame_reader r;
    reactor_grpc_frame_reader_init(&r, 100);
    uint8_t in[5];
    frame(in, 0, 0);
    assert_int_equal(reactor_grpc_frame_reader_feed(&r, in, 5), 0);
    assert_int_equal(r.n_msgs, 1);
    assert_int_equal(r.first_len, 0);
    assert_non_null(r.first);
    reactor_grpc_frame_reader_done(&r);
}

static void test_second_message_counted_not_kept(void **state)
{
    struct grpc_frame_reader r;
    reactor_grpc_frame_reader_init(&r, 100);
    uint8_t in[5 + 2 + 5 + 3];
    frame(in, 0, 2);
    memcpy(in + 5, "ab", 2);
    frame(in + 7, 0, 3);
    memcpy(in + 12, "xyz", 3);
    assert_int_equal(reactor_grpc_frame_reader_feed(&r, in, sizeof(in)), 0);
    assert_int_equal(r.n_msgs, 2);
    assert_int_equal(r.first_len, 2);
    assert_memory_equal(r.first, "ab", 2);
    reactor_grpc_frame_reader_done(&r);
}

static void test_partial_header_is_not_idle(void **state)
{
    struct grpc_frame_reader r;
    reactor_grpc_frame_reader_init(&r, 100);
    uint8_t in[5];
    frame(in, 0, 4);
    assert_int_equal(reactor_grpc_frame_reader_feed(&r, in, 3), 0);
    assert_false(reactor_grpc_frame_reader_idle(&r));
    assert_int_equal(r.n_msgs, 0);
    reactor_grpc_frame_reader_done(&r);
}

static void test_oversized_message_refused_from_header(void **state)
{
    struct grpc_frame_reader r;
    reactor_grpc_frame_reader_init(&r, 16);
    uint8_t in[5];
    frame(in, 0, 17);
    assert_int_equal(reactor_grpc_frame_reader_feed(&r, in, 5), -EMSGSIZE);
    assert_int_equal(r.want, 17);
    reactor_grpc_frame_reader_done(&r);
}

static void test_limit_is_inclusive(void **state)
{
    struct grpc_frame_reader r;
    reactor_grpc_frame_reader_init(&r, 4);
    uint8_t in[9];
    frame(in, 0, 4);
    memcpy(in + 5, "abcd", 4);
    assert_int_equal(reactor_grpc_frame_reader_feed(&r, in, 9), 0);
    assert_int_equal(r.n_msgs, 1);
    reactor_grpc_frame_reader_done(&r);
}

static void test_compressed_flag_refused(void **state)
{
    struct grpc_frame_reader r;
    reactor_grpc_frame_reader_init(&r, 100);
    uint8_t in[5];
    frame(in, 1, 2);
    assert_int_equal(reactor_grpc_frame_reader_feed(&r, in, 5), -ENOTSUP);
    reactor_grpc_frame_reader_done(&r);
}

static void test_bad_flag_refused(void **state)
{
    struct grpc_frame_reader r;
    reactor_grpc_frame_reader_init(&r, 100);
    uint8_t in[5];
    frame(in, 0x80, 2);
    assert_int_equal(reactor_grpc_frame_reader_feed(&r, in, 5), -EPROTO);
    reactor_grpc_frame_reader_done(&r);
}

static void test_timeout_units(void **state)
{
    uint64_t ms;
    assert_int_equal(reactor_grpc_timeout_parse("1H", 2, &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(reactor_grpc_timeout_parse("2M", 2, &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(reactor_grpc_timeout_parse("3S", 2, &ms), 0);
    assert_int_equal(ms, 3000);
    assert_int_equal(reactor_grpc_timeout_parse("250m", 4, &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(reactor_grpc_timeout_parse("1500u", 5, &ms), 0);
    assert_int_equal(ms, 2); /* rounded up */
    assert_int_equal(reactor_grpc_timeout_parse("1n", 2, &ms), 0);
    assert_int_equal(ms, 1);
    assert_int_equal(reactor_grpc_timeout_parse("99999999S", 9, &ms), 0);
    assert_int_equal(ms, 99999999000ULL);
}

static void test_timeout_invalid(void **state)
{
    uint64_t ms;
    assert_int_equal(reactor_grpc_timeout_parse("", 0, &ms), -EINVAL);
    assert_int_equal(reactor_grpc_timeout_parse("S", 1, &ms), -EINVAL);
    assert_int_equal(reactor_grpc_timeout_parse("10", 2, &ms), -EINVAL);
    assert_int_equal(reactor_grpc_timeout_parse("10x", 3, &ms), -EINVAL);
    assert_int_equal(reactor_grpc_timeout_parse("-1S", 3, &ms), -EINVAL);
    assert_int_equal(reactor_grpc_timeout_parse("123456789S", 10, &ms), -EINVAL); /* 9 digits */
}

static void test_message_percent_encoding(void **state)
{
    struct buf b = {0};
    reactor_grpc_message_encode("a b%c\n\xc3\xa9", &b);
    buf_append(&b, "", 0);
    assert_string_equal((char *)b.data, "a b%25c%0A%C3%A9");
    buf_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_big_endian),
        cmocka_unit_test(test_one_message_whole),
        cmocka_unit_test(test_message_split_byte_by_byte),
        cmocka_unit_test(test_empty_message),
        cmocka_unit_test(test_second_message_counted_not_kept),
        cmocka_unit_test(test_partial_header_is_not_idle),
        cmocka_unit_test(test_oversized_message_refused_from_header),
        cmocka_unit_test(test_limit_is_inclusive),
        cmocka_unit_test(test_compressed_flag_refused),
        cmocka_unit_test(test_bad_flag_refused),
        cmocka_unit_test(test_timeout_units),
        cmocka_unit_test(test_timeout_invalid),
        cmocka_unit_test(test_message_percent_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
