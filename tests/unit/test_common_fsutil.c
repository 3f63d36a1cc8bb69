/* Unit tests for the record loader: records come in name order, unreadable ones are told as
 * such, the leftovers of interrupted atomic writes are removed, other files are left alone, and
 * a missing directory has no records. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"

struct loaded {
    char names[8][64];
    char texts[8][64];
    int errors[8];
    int n;
};

static void on_record(const char *path, const char *text, int read_error, void *data)
{
    struct loaded *l = data;
    assert_true(l->n < 8);
    const char *base = strrchr(path, '/');
    snprintf(l->names[l->n], sizeof(l->names[0]), "%s", base ? base + 1 : path);
    snprintf(l->texts[l->n], sizeof(l->texts[0]), "%s", text ? text : "(none)");
    l->errors[l->n] = read_error;
    l->n++;
}

static void put(const char *dir, const char *name, const char *text)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, name);
    assert_int_equal(fs_write_file(path, text, strlen(text), 0600), 0);
}

static bool exists(const char *dir, const char *name)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void test_load_records(void **state)
{
    char dir[] = "/tmp/test_common_fsutil.XXXXXX";
    assert_non_null(mkdtemp(dir));
    put(dir, "b.json", "{\"b\":1}");
    put(dir, "a.json", "{\"a\":1}");
    put(dir, "big.json", "0123456789abcdef0123456789abcdef");
    put(dir, "c.json.tmp-12-3", "half");
    put(dir, "notes.txt", "kept");
    cleanup_free char *sub = xasprintf("%s/d.json", dir);
    assert_int_equal(mkdir(sub, 0700), 0); /* a directory is not readable as a record */
    struct loaded l = {0};
    assert_int_equal(fs_load_records(dir, 16, on_record, &l), 0);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.names[0], "a.json");
    assert_string_equal(l.texts[0], "{\"a\":1}");
    assert_int_equal(l.errors[0], 0);
    assert_string_equal(l.names[1], "b.json");
    assert_string_equal(l.names[2], "big.json");
    assert_string_equal(l.texts[2], "(none)");
    assert_int_equal(l.errors[2], -EFBIG);
    assert_string_equal(l.names[3], "d.json");
    assert_true(l.errors[3] < 0);
    assert_false(exists(dir, "c.json.tmp-12-3"));
    assert_true(exists(dir, "notes.txt"));
    assert_true(exists(dir, "big.json")); /* the caller decides */
    assert_int_equal(fs_remove_tree(dir), 0);
    struct loaded none = {0};
    assert_int_equal(fs_load_records(dir, 16, on_record, &none), 0);
    assert_int_equal(none.n, 0);
}

static void test_self_exe(void **state)
{
    cleanup_free char *exe = fs_self_exe();
    assert_non_null(strstr(exe, "test_common_fsutil"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_records),
        cmocka_unit_test(test_self_exe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
