/* Unit tests for the strict base64 codec: RFC 4648's test vectors both ways, binary round trips,
 * and every malformed shape refused without touching the output. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"

static void test_rfc4648_vectors(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                        "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = base64_encode(plain[i], strlen(plain[i]));
        assert_string_equal(e, coded[i]);
        assert_int_equal(strlen(e), base64_encoded_len(strlen(plain[i])));
        free(e);
        struct buf d = {0};
        assert_int_equal(base64_decode(coded[i], strlen(coded[i]), &d), 0);
        assert_int_equal(d.len, strlen(plain[i]));
        if (d.len)
            assert_memory_equal(d.data, plain[i], d.len);
        buf_done(&d);
    }
}

static void test_binary_round_trip_appends(void **state)
{
    uint8_t raw[256];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(255 - i);
    struct buf d = {0};
    buf_puts(&d, "kept:");
    for (size_t n = 0; n <= sizeof(raw); n += 37) {
        char *e = base64_encode(raw, n);
        d.len = 5;
        assert_int_equal(base64_decode(e, strlen(e), &d), 0);
        assert_int_equal(d.len, 5 + n);
        assert_memory_equal(d.data, "kept:", 5);
        if (n)
            assert_memory_equal(d.data + 5, raw, n);
        free(e);
    }
    buf_done(&d);
}

static void test_malformed_refused(void **state)
{
    static const char *const bad[] = {
        "=",    "==",       "===",      "====", "========", "Zg=",  "Zg",   "Z===", "=Zg=",
        "Zg=a", "Zm9v====", "Zg==Zg==", "Zm*v", "Zm9v\n",   "Zm 9", "Zm-v", "Zm_v", "Zg=\0",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct buf d = {0};
        buf_puts(&d, "x");
        /* The last one carries a NUL inside its quad. */
        size_t len = i == sizeof(bad) / sizeof(bad[0]) - 1 ? 4 : strlen(bad[i]);
        assert_int_equal(base64_decode(bad[i], len, &d), -EINVAL);
        assert_int_equal(d.len, 1);
        buf_done(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_binary_round_trip_appends),
        cmocka_unit_test(test_malformed_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
