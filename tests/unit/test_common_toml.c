/* Unit tests for the TOML parser in src/common/toml.c: every feature, every error, and the
 * position and message of errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "common/toml.h"

static struct toml_value *parse_len(const char *text, size_t len)
{
    struct toml_value *root = NULL;
    struct toml_error err;
    int r = toml_parse(text, len, &root, &err);
    if (r < 0)
        print_error("unexpected error at %u:%u: %s\n", err.line, err.col, err.msg);
    assert_int_equal(r, 0);
    assert_non_null(root);
    assert_int_equal(root->type, TOML_TABLE);
    return root;
}

static struct toml_value *parse(const char *text)
{
    return parse_len(text, strlen(text));
}

static void expect_error_len(const char *text, size_t len, unsigned line, unsigned col,
                             const char *msg)
{
    struct toml_value *root = (struct toml_value *)1;
    struct toml_error err;
    int r = toml_parse(text, len, &root, &err);
    assert_int_equal(r, -EINVAL);
    assert_null(root);
    assert_string_equal(err.msg, msg);
    assert_int_equal(err.line, line);
    assert_int_equal(err.col, col);
}

static void expect_error(const char *text, unsigned line, unsigned col, const char *msg)
{
    expect_error_len(text, strlen(text), line, col, msg);
}

static const struct toml_value *get(const struct toml_value *t, const char *path)
{
    const struct toml_value *v = toml_table_get_path(t, path);
    if (!v)
        print_error("no value at `%s`\n", path);
    assert_non_null(v);
    return v;
}

static void assert_str(const struct toml_value *t, const char *path, const char *want)
{
    const struct toml_value *v = get(t, path);
    assert_int_equal(v->type, TOML_STRING);
    assert_string_equal(v->u.s, want);
}

static void assert_int(const struct toml_value *t, const char *path, int64_t want)
{
    const struct toml_value *v = get(t, path);
    assert_int_equal(v->type, TOML_INT);
    assert_true(v->u.i == want);
}

static void assert_float(const struct toml_value *t, const char *path, double want)
{
    const struct toml_value *v = get(t, path);
    assert_int_equal(v->type, TOML_FLOAT);
    assert_true(v->u.f == want);
}

static void test_empty_document(void **state UNUSED)
{
    struct toml_value *root = parse("");
    assert_int_equal(root->u.tab.n, 0);
    assert_int_equal(root->line, 1);
    assert_int_equal(root->col, 1);
    toml_value_free(root);

    root = parse_len(NULL, 0);
    assert_int_equal(root->u.tab.n, 0);
    toml_value_free(root);

    root = parse("  \t\n\n# only a comment\n   # another\n");
    assert_int_equal(root->u.tab.n, 0);
    toml_value_free(root);
}

static void test_comments_blank_lines_crlf(void **state UNUSED)
{
    struct toml_value *root = parse("# top\r\n\r\na = 1 # trailing\r\n  \tb = 2\r\n# end");
    assert_int_equal(root->u.tab.n, 2);
    assert_int(root, "a", 1);
    assert_int(root, "b", 2);
    assert_int_equal(root->u.tab.items[1].line, 4);
    assert_int_equal(root->u.tab.items[1].col, 4);
    toml_value_free(root);
}

static void test_bare_keys(void **state UNUSED)
{
    struct toml_value *root = parse("key = 1\nbare_key-2 = 2\n1234 = 3\n-_- = 4\nA = 5\n");
    assert_int_equal(root->u.tab.n, 5);
    assert_int(root, "key", 1);
    assert_int(root, "bare_key-2", 2);
    assert_int(root, "1234", 3);
    assert_int(root, "-_-", 4);
    assert_int(root, "A", 5);
    assert_string_equal(root->u.tab.items[2].key, "1234");
    toml_value_free(root);
}

static void test_quoted_keys(void **state UNUSED)
{
    struct toml_value *root = parse("\"a b\" = 1\n'c\"d' = 2\n\"\" = 3\n\"\\u00e9\" = 4\n");
    assert_int_equal(toml_table_get(root, "a b")->u.i, 1);
    assert_int_equal(toml_table_get(root, "c\"d")->u.i, 2);
    assert_int_equal(toml_table_get(root, "")->u.i, 3);
    assert_int_equal(toml_table_get(root, "\xc3\xa9")->u.i, 4);
    toml_value_free(root);
}

static void test_dotted_keys(void **state UNUSED)
{
    struct toml_value *root = parse("a.b.c = 1\na . \"x.y\" . d = 2\na.b.e = 3\n");
    assert_int(root, "a.b.c", 1);
    assert_int(root, "a.b.e", 3);
    const struct toml_value *a = get(root, "a");
    assert_int_equal(a->type, TOML_TABLE);
    assert_int_equal(a->u.tab.n, 2);
    const struct toml_value *xy = toml_table_get(a, "x.y");
    assert_non_null(xy);
    assert_int(xy, "d", 2);
    const struct toml_value *b = get(root, "a.b");
    assert_string_equal(b->u.tab.items[0].key, "c");
    assert_int_equal(b->u.tab.items[0].line, 1);
    assert_int_equal(b->u.tab.items[0].col, 5);
    toml_value_free(root);
}

static void test_basic_string_escapes(void **state UNUSED)
{
    struct toml_value *root = parse("s = \"a\\b\\t\\n\\f\\r\\\"\\\\z\"\nt = \"tab\there\"\n");
    assert_str(root, "s", "a\b\t\n\f\r\"\\z");
    assert_str(root, "t", "tab\there");
    toml_value_free(root);
}

static void test_unicode_escapes(void **state UNUSED)
{
    struct toml_value *root = parse("s = \"\\u00E9\\u20ac\\U0001F600\\u0041\\U0010FFFF\\u007f\"\n");
    assert_str(root, "s",
               "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
               "A\xf4\x8f\xbf\xbf\x7f");
    toml_value_free(root);
}

static void test_invalid_escapes(void **state UNUSED)
{
    expect_error("s = \"ab\\x\"", 1, 8, "invalid escape sequence");
    expect_error("s = \"a\\ \"", 1, 7, "invalid escape sequence");
    expect_error("s = \"a\\", 1, 7, "invalid escape sequence");
    expect_error("s = \"\\u12G4\"", 1, 6, "invalid unicode escape");
    expect_error("s = \"\\u12\"", 1, 6, "invalid unicode escape");
}

static void test_unicode_escape_rejects(void **state UNUSED)
{
    expect_error("s = \"\\uD800\"", 1, 6, "unicode escape is not a scalar value");
    expect_error("s = \"x\\uDFFF\"", 1, 7, "unicode escape is not a scalar value");
    expect_error("s = \"\\U00110000\"", 1, 6, "unicode escape is not a scalar value");
    expect_error("s = \"\\u0000\"", 1, 6, "NUL (\\u0000) is not allowed in strings");
    expect_error("\"a\\U00000000\" = 1", 1, 3, "NUL (\\u0000) is not allowed in strings");
}

static void test_literal_strings(void **state UNUSED)
{
    struct toml_value *root =
        parse("p = 'C:\\path\\n'\nq = '<\\i\\c*\\s*>'\nr = 'say \"hi\"'\ne = ''\n");
    assert_str(root, "p", "C:\\path\\n");
    assert_str(root, "q", "<\\i\\c*\\s*>");
    assert_str(root, "r", "say \"hi\"");
    assert_str(root, "e", "");
    toml_value_free(root);
}

static void test_multiline_basic(void **state UNUSED)
{
    struct toml_value *root =
        parse("s = \"\"\"\nline1\nline2\\\n    still line2 \\\n\n  end\"\"\"\n"
              "t = \"\"\"no first newline\"\"\"\n"
              "u = \"\"\"\\\n   \\\n   trimmed\\t\"\"\"\n");
    assert_str(root, "s", "line1\nline2still line2 end");
    assert_str(root, "t", "no first newline");
    assert_str(root, "u", "trimmed\t");
    toml_value_free(root);
}

static void test_multiline_quotes(void **state UNUSED)
{
    struct toml_value *root = parse("s = \"\"\"a\"\"b\"\"\"\"\n"
                                    "t = \"\"\"\"\"x\"\"\"\"\"\n"
                                    "u = \"\"\"a\\\"\"\"b\"\"\"\n"
                                    "v = \"\"\"\"\"\"\n"
                                    "w = '''it's ''quoted'''''\n");
    assert_str(root, "s", "a\"\"b\"");
    assert_str(root, "t", "\"\"x\"\"");
    assert_str(root, "u", "a\"\"\"b");
    assert_str(root, "v", "");
    assert_str(root, "w", "it's ''quoted''");
    toml_value_free(root);
    /* a sixth quote is one too many */
    expect_error("s = \"\"\"a\"\"\"\"\"\"\n", 1, 14, "expected newline after value");
}

static void test_multiline_literal(void **state UNUSED)
{
    struct toml_value *root = parse("s = '''\nfirst\n\\no escape \"\"\" here\n'''\n"
                                    "t = '''\n\n  two lines'''\n");
    assert_str(root, "s", "first\n\\no escape \"\"\" here\n");
    assert_str(root, "t", "\n  two lines");
    toml_value_free(root);
}

static void test_multiline_crlf(void **state UNUSED)
{
    struct toml_value *root =
        parse("s = \"\"\"\r\na\r\nb\"\"\"\r\nt = '''\r\nc\r\n'''\r\nu = \"\"\"x\\\r\n  y\"\"\"");
    assert_str(root, "s", "a\nb");
    assert_str(root, "t", "c\n");
    assert_str(root, "u", "xy");
    toml_value_free(root);
}

static void test_unterminated_strings(void **state UNUSED)
{
    expect_error("a = 1\nb = \"abc\nc = 2", 2, 9, "unterminated string");
    expect_error("x = 'abc", 1, 9, "unterminated string");
    expect_error("x = \"\"\"abc\n", 2, 1, "unterminated string");
    expect_error("x = '''abc''", 1, 13, "unterminated string");
    expect_error("\"key = 1", 1, 9, "unterminated string");
}

static void test_control_chars_in_strings(void **state UNUSED)
{
    expect_error("s = \"a\x01"
                 "b\"",
                 1, 7, "control character in string");
    expect_error("s = 'a\x7f'", 1, 7, "control character in string");
    expect_error("s = '''a\x1b'''", 1, 9, "control character in string");
    expect_error("s = \"\"\"a\rb\"\"\"", 1, 9, "control character in string");
    struct toml_value *root = parse("s = \"a\tb\"\nt = 'c\td'\n");
    assert_str(root, "s", "a\tb");
    assert_str(root, "t", "c\td");
    toml_value_free(root);
}

static void test_integers_decimal(void **state UNUSED)
{
    struct toml_value *root =
        parse("a = 42\nb = +17\nc = -5\nd = 0\ne = 1_000_000\nf = -0\ng = +0\nh = 5_3_1\n");
    assert_int(root, "a", 42);
    assert_int(root, "b", 17);
    assert_int(root, "c", -5);
    assert_int(root, "d", 0);
    assert_int(root, "e", 1000000);
    assert_int(root, "f", 0);
    assert_int(root, "g", 0);
    assert_int(root, "h", 531);
    toml_value_free(root);
}

static void test_integers_prefixed(void **state UNUSED)
{
    struct toml_value *root = parse("a = 0xDEADbeef\nb = 0xdead_beef\nc = 0o755\nd = 0b1101_0101\n"
                                    "e = 0x00FF\nf = 0o0\n");
    assert_int(root, "a", 0xDEADBEEF);
    assert_int(root, "b", 0xDEADBEEF);
    assert_int(root, "c", 0755);
    assert_int(root, "d", 0xD5);
    assert_int(root, "e", 255);
    assert_int(root, "f", 0);
    toml_value_free(root);
}

static void test_integer_limits(void **state UNUSED)
{
    struct toml_value *root = parse("max = 9223372036854775807\nmin = -9223372036854775808\n"
                                    "hex = 0x7FFFFFFFFFFFFFFF\n");
    assert_int(root, "max", INT64_MAX);
    assert_int(root, "min", INT64_MIN);
    assert_int(root, "hex", INT64_MAX);
    toml_value_free(root);
    expect_error("a = 9223372036854775808", 1, 5, "integer out of range");
    expect_error("a = -9223372036854775809", 1, 5, "integer out of range");
    expect_error("a = 0x8000000000000000", 1, 5, "integer out of range");
    expect_error("a = 0b"
                 "11111111111111111111111111111111111111111111111111111111111111111",
                 1, 5, "integer out of range");
}

static void test_integer_syntax_errors(void **state UNUSED)
{
    expect_error("a = 0123", 1, 5, "leading zeros are not allowed");
    expect_error("a = -00", 1, 6, "leading zeros are not allowed");
    expect_error("a = 1__2", 1, 7, "invalid underscore in number");
    expect_error("a = 1_", 1, 6, "invalid underscore in number");
    expect_error("a = 0x_1", 1, 7, "invalid underscore in number");
    expect_error("a = _1", 1, 5, "invalid value");
    expect_error("a = +0x1", 1, 7, "invalid number");
    expect_error("a = 0x", 1, 7, "invalid number");
    expect_error("a = 0b102", 1, 9, "invalid number");
    expect_error("a = 12abc", 1, 7, "invalid number");
    expect_error("a = 1+2", 1, 6, "invalid number");
    expect_error("a = 0X1F", 1, 6, "invalid number");
}

static void test_floats(void **state UNUSED)
{
    struct toml_value *root = parse("a = 1.5\nb = -0.01\nc = 5e+22\nd = 1e06\ne = -2E-2\n"
                                    "f = 6.626e-34\ng = 224_617.445_991\nh = -0.0\ni = 0.1\n"
                                    "j = 1e-400\n");
    assert_float(root, "a", 1.5);
    assert_float(root, "b", -0.01);
    assert_float(root, "c", 5e22);
    assert_float(root, "d", 1e6);
    assert_float(root, "e", -2e-2);
    assert_float(root, "f", 6.626e-34);
    assert_float(root, "g", 224617.445991);
    assert_float(root, "h", 0.0);
    assert_true(signbit(get(root, "h")->u.f));
    assert_float(root, "i", 0.1);
    assert_float(root, "j", 0.0);
    toml_value_free(root);
}

static void test_float_inf_nan(void **state UNUSED)
{
    struct toml_value *root = parse("a = inf\nb = +inf\nc = -inf\nd = nan\ne = +nan\nf = -nan\n");
    assert_float(root, "a", INFINITY);
    assert_float(root, "b", INFINITY);
    assert_float(root, "c", -INFINITY);
    assert_true(isnan(get(root, "d")->u.f));
    assert_true(isnan(get(root, "e")->u.f));
    assert_true(isnan(get(root, "f")->u.f));
    assert_int_equal(get(root, "f")->type, TOML_FLOAT);
    toml_value_free(root);
}

static void test_float_errors(void **state UNUSED)
{
    expect_error("a = 1.", 1, 7, "invalid number");
    expect_error("a = 1.e5", 1, 7, "invalid number");
    expect_error("a = 01.5", 1, 5, "leading zeros are not allowed");
    expect_error("a = 1e", 1, 7, "invalid number");
    expect_error("a = 1e_5", 1, 7, "invalid underscore in number");
    expect_error("a = 1._5", 1, 7, "invalid underscore in number");
    expect_error("a = 1e999", 1, 5, "float out of range");
    expect_error("a = .5", 1, 5, "invalid value");
    expect_error("a = infinity", 1, 5, "invalid value");
    expect_error("a = +infx", 1, 6, "invalid number");
}

static void test_booleans(void **state UNUSED)
{
    struct toml_value *root = parse("t = true\nf = false\n");
    assert_int_equal(get(root, "t")->type, TOML_BOOL);
    assert_true(get(root, "t")->u.b);
    assert_false(get(root, "f")->u.b);
    toml_value_free(root);
    expect_error("a = True", 1, 5, "invalid value");
    expect_error("a = truex", 1, 5, "invalid value");
    expect_error("a = true false", 1, 10, "expected newline after value");
}

static void test_arrays(void **state UNUSED)
{
    struct toml_value *root = parse("a = [1, \"two\", 3.0, true, [4, 5], {x = 6}]\ne = []\n"
                                    "n = [[1, 2], [3]]\n");
    const struct toml_value *a = get(root, "a");
    assert_int_equal(a->type, TOML_ARRAY);
    assert_int_equal(a->u.arr.n, 6);
    assert_int_equal(a->u.arr.items[0]->u.i, 1);
    assert_string_equal(a->u.arr.items[1]->u.s, "two");
    assert_int_equal(a->u.arr.items[2]->type, TOML_FLOAT);
    assert_true(a->u.arr.items[3]->u.b);
    assert_int_equal(a->u.arr.items[4]->u.arr.n, 2);
    assert_int_equal(a->u.arr.items[4]->u.arr.items[1]->u.i, 5);
    assert_int(a->u.arr.items[5], "x", 6);
    assert_int_equal(get(root, "e")->u.arr.n, 0);
    const struct toml_value *n = get(root, "n");
    assert_int_equal(n->u.arr.n, 2);
    assert_int_equal(n->u.arr.items[1]->u.arr.items[0]->u.i, 3);
    toml_value_free(root);
}

static void test_multiline_arrays(void **state UNUSED)
{
    struct toml_value *root =
        parse("a = [\n  1, # one\n  2,\n\n  # comment\n  3,\n]\nb = [ # c\r\n \"x\" , 'y'\r\n ]\n");
    const struct toml_value *a = get(root, "a");
    assert_int_equal(a->u.arr.n, 3);
    assert_int_equal(a->u.arr.items[2]->u.i, 3);
    assert_int_equal(a->u.arr.items[2]->line, 6);
    assert_int_equal(a->u.arr.items[2]->col, 3);
    const struct toml_value *b = get(root, "b");
    assert_int_equal(b->u.arr.n, 2);
    assert_string_equal(b->u.arr.items[1]->u.s, "y");
    toml_value_free(root);
}

static void test_array_errors(void **state UNUSED)
{
    expect_error("a = [1 2]", 1, 8, "expected `,` or `]` in array");
    expect_error("a = [1,,2]", 1, 8, "expected a value");
    expect_error("a = [1, 2", 1, 10, "unterminated array");
    expect_error("a = [,]", 1, 6, "expected a value");
    expect_error("a = [\n1,\n# c\x02\n]", 3, 4, "control character in comment");
}

static void test_inline_tables(void **state UNUSED)
{
    struct toml_value *root = parse("p = { x = 1, y.z = \"s\", \"q\" = [1], y.w = 2 }\ne = {}\n"
                                    "n = {a={b=1}}\n");
    const struct toml_value *p = get(root, "p");
    assert_int_equal(p->type, TOML_TABLE);
    assert_int_equal(p->u.tab.n, 3);
    assert_int(root, "p.x", 1);
    assert_str(root, "p.y.z", "s");
    assert_int(root, "p.y.w", 2);
    assert_int_equal(get(root, "p.q")->u.arr.n, 1);
    assert_int_equal(get(root, "e")->u.tab.n, 0);
    assert_int(root, "n.a.b", 1);
    toml_value_free(root);
}

static void test_inline_table_errors(void **state UNUSED)
{
    expect_error("a = { x = 1, }", 1, 14, "trailing comma in inline table");
    expect_error("a = { x = 1\n}", 1, 12, "newline in inline table");
    expect_error("a = {\nx = 1}", 1, 6, "newline in inline table");
    expect_error("a = { x = 1, x = 2 }", 1, 14, "duplicate key `x`");
    expect_error("a = { x = 1 y = 2 }", 1, 13, "expected `,` or `}` in inline table");
    expect_error("a = { x = {y = 1}, x.z = 2 }", 1, 20, "cannot extend inline table `x`");
    expect_error("a = { x = 1", 1, 12, "unterminated inline table");
    expect_error("a = {,}", 1, 6, "expected a key");
}

static void test_table_headers(void **state UNUSED)
{
    struct toml_value *root =
        parse("top = 0\n[a]\nx = 1\n[ b . \"c.d\" ]\ny = 2\n[e.'f']  # comment\nz = 3\n[g]\n");
    assert_int(root, "top", 0);
    assert_int(root, "a.x", 1);
    const struct toml_value *b = get(root, "b");
    assert_int(toml_table_get(b, "c.d"), "y", 2);
    assert_int(root, "e.f.z", 3);
    assert_int_equal(get(root, "g")->type, TOML_TABLE);
    assert_int_equal(get(root, "g")->u.tab.n, 0);
    assert_int_equal(root->u.tab.n, 5);
    toml_value_free(root);
}

static void test_implicit_table_defined_later(void **state UNUSED)
{
    struct toml_value *root = parse("[a.b.c]\nx = 1\n[a]\ny = 2\n[a.b]\nz = 3\n");
    assert_int(root, "a.b.c.x", 1);
    assert_int(root, "a.y", 2);
    assert_int(root, "a.b.z", 3);
    toml_value_free(root);
    expect_error("[a.b]\n[a]\n[a]\n", 3, 2, "table `a` already defined");
}

static void test_array_of_tables(void **state UNUSED)
{
    struct toml_value *root =
        parse("[[fruit]]\nname = \"apple\"\n[fruit.physical]\ncolor = \"red\"\n"
              "[[fruit.variety]]\nname = \"red delicious\"\n"
              "[[fruit.variety]]\nname = \"granny smith\"\n"
              "[[fruit]]\nname = \"banana\"\n"
              "[[fruit.variety]]\nname = \"plantain\"\n");
    const struct toml_value *fruit = get(root, "fruit");
    assert_int_equal(fruit->type, TOML_ARRAY);
    assert_int_equal(fruit->u.arr.n, 2);
    const struct toml_value *apple = fruit->u.arr.items[0];
    assert_str(apple, "name", "apple");
    assert_str(apple, "physical.color", "red");
    const struct toml_value *v = get(apple, "variety");
    assert_int_equal(v->u.arr.n, 2);
    assert_str(v->u.arr.items[1], "name", "granny smith");
    const struct toml_value *banana = fruit->u.arr.items[1];
    assert_str(banana, "name", "banana");
    assert_str(get(banana, "variety")->u.arr.items[0], "name", "plantain");
    assert_int_equal(banana->line, 9);
    assert_int_equal(banana->col, 1);
    toml_value_free(root);
}

static void test_duplicate_keys(void **state UNUSED)
{
    expect_error("a = 1\nb = 2\na = 3\n", 3, 1, "duplicate key `a`");
    expect_error("x.y = 1\n x . y = 2", 2, 6, "duplicate key `x.y`");
    expect_error("x = 1\nx.y = 2", 2, 1, "key `x` is not a table");
    expect_error("x.y = 1\nx = 2", 2, 1, "duplicate key `x`");
    expect_error("[t]\n'k' = 1\n\"k\" = 2", 3, 1, "duplicate key `k`");
}

static void test_duplicate_tables(void **state UNUSED)
{
    expect_error("[a]\nx = 1\n[a]\n", 3, 2, "table `a` already defined");
    expect_error("[a.b]\n[ a . b ]\n", 2, 7, "table `a.b` already defined");
    expect_error("[a]\nb = 1\n[a.b]\n", 3, 4, "key `a.b` already defined as integer");
}

static void test_header_over_value(void **state UNUSED)
{
    expect_error("a = 1\n[a]", 2, 2, "key `a` already defined as integer");
    expect_error("a = 1\n[a.b]", 2, 2, "key `a` is not a table");
    expect_error("a = {}\n[a]", 2, 2, "table `a` already defined");
    expect_error("a = {}\n[a.b]", 2, 2, "cannot extend inline table `a`");
    expect_error("[x]\na = {b = 1}\n[x.a.c]", 3, 4, "cannot extend inline table `x.a`");
}

static void test_array_of_tables_errors(void **state UNUSED)
{
    expect_error("a = [1]\n[[a]]\n", 2, 3, "cannot append to static array `a`");
    expect_error("a = []\n[[a]]\n", 2, 3, "cannot append to static array `a`");
    expect_error("a = [{b = 1}]\n[a.c]", 2, 2, "key `a` is not a table");
    expect_error("[[a]]\n[a]", 2, 2, "key `a` already defined as array");
    expect_error("[a]\n[[a]]", 2, 3, "key `a` already defined as table");
    expect_error("[[a]]\nb = 1\n[[a.b]]", 3, 5, "key `a.b` already defined as integer");
}

static void test_dotted_keys_and_headers(void **state UNUSED)
{
    expect_error("[fruit]\napple.color = \"red\"\n[fruit.apple]", 3, 8,
                 "table `fruit.apple` already defined");
    expect_error("a.b = 1\n[a]", 2, 2, "table `a` already defined");
    expect_error("[a.b.c]\nz = 9\n[a]\nb.c.t = 1", 4, 3,
                 "cannot extend table `b.c` with dotted keys");
    struct toml_value *root =
        parse("[fruit]\napple.color = 1\napple.taste.sweet = true\n[fruit.apple.texture]\n"
              "smooth = true\n");
    assert_int(root, "fruit.apple.color", 1);
    assert_true(get(root, "fruit.apple.taste.sweet")->u.b);
    assert_true(get(root, "fruit.apple.texture.smooth")->u.b);
    toml_value_free(root);
}

static void test_datetime_rejected(void **state UNUSED)
{
    expect_error("d = 1979-05-27", 1, 5, "date/time values are not supported");
    expect_error("t = 07:32:00", 1, 5, "date/time values are not supported");
    expect_error("dt = 1979-05-27T07:32:00Z", 1, 6, "date/time values are not supported");
    expect_error("a = [1, 2024-01-01 10:00:00]", 1, 9, "date/time values are not supported");
}

static void test_nul_byte(void **state UNUSED)
{
    static const char in_string[] = "a = \"x\0y\"";
    static const char later[] = "a = 1\n\0";
    static const char in_comment[] = "# c\0\n";
    expect_error_len(in_string, sizeof(in_string) - 1, 1, 7, "NUL byte in input");
    expect_error_len(later, sizeof(later) - 1, 2, 1, "NUL byte in input");
    expect_error_len(in_comment, sizeof(in_comment) - 1, 1, 4, "NUL byte in input");
}

static void test_invalid_utf8(void **state UNUSED)
{
    expect_error("a = \"\xff\"", 1, 6, "invalid UTF-8");
    expect_error("a = \"\xc3\xa9\xff\"", 1, 7, "invalid UTF-8");
    expect_error("a = \"\xc0\xaf\"", 1, 6, "invalid UTF-8");
    expect_error("a = \"\xed\xa0\x80\"", 1, 6, "invalid UTF-8");
    expect_error("a = \"\xf4\x90\x80\x80\"", 1, 6, "invalid UTF-8");
    expect_error("# \xe2\x82", 1, 3, "invalid UTF-8");
    struct toml_value *root = parse("\"\xe2\x82\xac\" = '\xf0\x9f\x98\x80' # \xc3\xa9\n");
    assert_str(root, "\xe2\x82\xac", "\xf0\x9f\x98\x80");
    toml_value_free(root);
}

static void test_control_chars_outside_strings(void **state UNUSED)
{
    expect_error("# a\x01"
                 "b",
                 1, 4, "control character in comment");
    expect_error("# x\r", 1, 4, "control character in comment");
    expect_error("a = 1\r b = 2", 1, 6, "carriage return not followed by newline");
    expect_error("a = [1,\r2]", 1, 8, "carriage return not followed by newline");
    expect_error("\x7f = 1", 1, 1, "expected a key");
}

static void test_nesting_depth(void **state UNUSED)
{
    char text[256];
    memcpy(text, "a = ", 4);
    memset(text + 4, '[', 64);
    memset(text + 68, ']', 64);
    struct toml_value *root = parse_len(text, 132);
    const struct toml_value *v = get(root, "a");
    for (int i = 1; i < 64; i++)
        v = v->u.arr.items[0];
    assert_int_equal(v->type, TOML_ARRAY);
    assert_int_equal(v->u.arr.n, 0);
    toml_value_free(root);

    memset(text + 4, '[', 65);
    memset(text + 69, ']', 65);
    expect_error_len(text, 134, 1, 69, "nesting too deep");

    size_t len = 4;
    for (int i = 0; i < 65; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "{b=");
    expect_error_len(text, len, 1, 4 + 64 * 3 + 1, "nesting too deep");
}

static void test_key_too_long(void **state UNUSED)
{
    char text[256];
    size_t len = 0;
    for (int i = 0; i < 64; i++)
        text[len++] = 'k', text[len++] = '.';
    memcpy(text + len - 1, " = 1", 4);
    struct toml_value *root = parse_len(text, len + 3);
    toml_value_free(root);
    text[len - 1] = '.';
    memcpy(text + len, "k = 1", 5);
    expect_error_len(text, len + 5, 1, 129, "nesting too deep");
}

static void test_line_end_errors(void **state UNUSED)
{
    expect_error("a = 1 b = 2", 1, 7, "expected newline after value");
    expect_error("[a] x = 1", 1, 5, "expected newline after table header");
    expect_error("[a", 1, 3, "expected `]` after table name");
    expect_error("[[a]", 1, 5, "expected `]]` after table name");
    expect_error("[[a] ]", 1, 5, "expected `]]` after table name");
    expect_error("[]", 1, 2, "expected a key");
    expect_error("a = 'x''y'", 1, 8, "expected newline after value");
}

static void test_missing_key_or_value(void **state UNUSED)
{
    expect_error("a 1", 1, 3, "expected `=` after key");
    expect_error("a", 1, 2, "expected `=` after key");
    expect_error("a =", 1, 4, "expected a value");
    expect_error("a = \n1", 1, 5, "expected a value");
    expect_error("= 1", 1, 1, "expected a key");
    expect_error("a. = 1", 1, 4, "expected a key");
    expect_error("\"\"\"a\"\"\" = 1", 1, 3, "expected `=` after key");
}

static void test_quote(void **state UNUSED)
{
    char *q = toml_quote("a\"b");
    assert_string_equal(q, "\"a\\\"b\"");
    free(q);
    q = toml_quote("\x01\t\\\x7f");
    assert_string_equal(q, "\"\\u0001\\t\\\\\\u007F\"");
    free(q);
    q = toml_quote("");
    assert_string_equal(q, "\"\"");
    free(q);
}

static void test_quote_round_trip(void **state UNUSED)
{
    static const char *const cases[] = {
        "",
        "plain",
        "a\"b",
        "back\\slash\\",
        "tab\there\nnew\r\f\b",
        "\x01\x1f\x7f",
        "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
        "'single' \"\"\" ''' #",
        "unix:///run/crib/crib.sock",
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        cleanup_free char *q = toml_quote(cases[i]);
        cleanup_free char *doc = xasprintf("v = %s\n%s = 1\n", q, q);
        struct toml_value *root = parse(doc);
        assert_str(root, "v", cases[i]);
        assert_string_equal(root->u.tab.items[1].key, cases[i]);
        toml_value_free(root);
    }
}

static void test_table_get_path(void **state UNUSED)
{
    struct toml_value *root = parse("x = 1\n[crib.api]\nlisten = \"unix:///x\"\n[crib.\"a.b\"]\n");
    assert_str(root, "crib.api.listen", "unix:///x");
    assert_int(root, "x", 1);
    assert_null(toml_table_get_path(root, "crib.api.missing"));
    assert_null(toml_table_get_path(root, "crib.nope.listen"));
    assert_null(toml_table_get_path(root, "x.y"));
    assert_null(toml_table_get_path(root, "crib.api.listen.more"));
    assert_null(toml_table_get_path(root, "crib.a.b"));
    assert_null(toml_table_get_path(NULL, "x"));
    assert_null(toml_table_get_path(root, NULL));
    assert_null(toml_table_get(get(root, "x"), "x"));
    assert_null(toml_table_get(NULL, "x"));
    assert_non_null(toml_table_get(get(root, "crib"), "a.b"));
    toml_value_free(root);
}

static void test_type_names(void **state UNUSED)
{
    assert_string_equal(toml_type_name(TOML_STRING), "string");
    assert_string_equal(toml_type_name(TOML_INT), "integer");
    assert_string_equal(toml_type_name(TOML_FLOAT), "float");
    assert_string_equal(toml_type_name(TOML_BOOL), "boolean");
    assert_string_equal(toml_type_name(TOML_ARRAY), "array");
    assert_string_equal(toml_type_name(TOML_TABLE), "table");
}

static void test_positions(void **state UNUSED)
{
    struct toml_value *root =
        parse("a = 1\n  b = [ \"x\" ]\n[t]\nc = { d = true }\n\"\xc3\xa9\" = 2");
    assert_int_equal(get(root, "a")->col, 5);
    const struct toml_kv *b = &root->u.tab.items[1];
    assert_int_equal(b->line, 2);
    assert_int_equal(b->col, 3);
    assert_int_equal(b->val->line, 2);
    assert_int_equal(b->val->col, 7);
    assert_int_equal(b->val->u.arr.items[0]->col, 9);
    const struct toml_value *t = get(root, "t");
    assert_int_equal(t->line, 3);
    assert_int_equal(t->col, 2);
    const struct toml_value *d = get(root, "t.c.d");
    assert_int_equal(d->line, 4);
    assert_int_equal(d->col, 11);
    /* columns count characters: the two-byte é is one column */
    const struct toml_value *e = get(root, "t.\xc3\xa9");
    assert_int_equal(e->line, 5);
    assert_int_equal(e->col, 7);
    toml_value_free(root);
}

static void test_many_keys(void **state UNUSED)
{
    enum { N = 5000 };
    size_t cap = N * 24, len = 0;
    cleanup_free char *text = xmalloc(cap);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, cap - len, "k%d = %d\n", i, i);
    struct toml_value *root = parse_len(text, len);
    assert_int_equal(root->u.tab.n, N);
    for (int i = 0; i < N; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(toml_table_get(root, key)->u.i, i);
        assert_string_equal(root->u.tab.items[i].key, key);
    }
    assert_null(toml_table_get(root, "k5000"));
    toml_value_free(root);
    len += (size_t)snprintf(text + len, cap - len, "k1234 = 0\n");
    expect_error_len(text, len, N + 1, 1, "duplicate key `k1234`");
}

static void test_free_null_err_null_and_bom(void **state UNUSED)
{
    toml_value_free(NULL);
    struct toml_value *root = (struct toml_value *)1;
    assert_int_equal(toml_parse("a = ", 4, &root, NULL), -EINVAL);
    assert_null(root);
    assert_int_equal(toml_parse("a = 1", 5, &root, NULL), 0);
    assert_int(root, "a", 1);
    toml_value_free(root);
    root = parse("\xef\xbb\xbf"
                 "a = 'bom'\n");
    assert_str(root, "a", "bom");
    toml_value_free(root);
    expect_error("\xef\xbb\xbf"
                 "a 1",
                 1, 3, "expected `=` after key");
}

static void test_error_stops_at_first(void **state UNUSED)
{
    /* the first problem wins and nothing leaks from the half-built tree */
    expect_error("[a]\nx = [1, {y = 'z'}, [\"s\"]]\n[[b]]\nc.d = { e = \"x\"\n", 4, 16,
                 "newline in inline table");
    expect_error("[a]\nx = [1, {y = 'z'}, [\"s\"]]\n[[b]]\nc.d = [ 1, 2\n", 5, 1,
                 "unterminated array");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_document),
        cmocka_unit_test(test_comments_blank_lines_crlf),
        cmocka_unit_test(test_bare_keys),
        cmocka_unit_test(test_quoted_keys),
        cmocka_unit_test(test_dotted_keys),
        cmocka_unit_test(test_basic_string_escapes),
        cmocka_unit_test(test_unicode_escapes),
        cmocka_unit_test(test_invalid_escapes),
        cmocka_unit_test(test_unicode_escape_rejects),
        cmocka_unit_test(test_literal_strings),
        cmocka_unit_test(test_multiline_basic),
        cmocka_unit_test(test_multiline_quotes),
        cmocka_unit_test(test_multiline_literal),
        cmocka_unit_test(test_multiline_crlf),
        cmocka_unit_test(test_unterminated_strings),
        cmocka_unit_test(test_control_chars_in_strings),
        cmocka_unit_test(test_integers_decimal),
        cmocka_unit_test(test_integers_prefixed),
        cmocka_unit_test(test_integer_limits),
        cmocka_unit_test(test_integer_syntax_errors),
        cmocka_unit_test(test_floats),
        cmocka_unit_test(test_float_inf_nan),
        cmocka_unit_test(test_float_errors),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_multiline_arrays),
        cmocka_unit_test(test_array_errors),
        cmocka_unit_test(test_inline_tables),
        cmocka_unit_test(test_inline_table_errors),
        cmocka_unit_test(test_table_headers),
        cmocka_unit_test(test_implicit_table_defined_later),
        cmocka_unit_test(test_array_of_tables),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_duplicate_tables),
        cmocka_unit_test(test_header_over_value),
        cmocka_unit_test(test_array_of_tables_errors),
        cmocka_unit_test(test_dotted_keys_and_headers),
        cmocka_unit_test(test_datetime_rejected),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_control_chars_outside_strings),
        cmocka_unit_test(test_nesting_depth),
        cmocka_unit_test(test_key_too_long),
        cmocka_unit_test(test_line_end_errors),
        cmocka_unit_test(test_missing_key_or_value),
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_quote_round_trip),
        cmocka_unit_test(test_table_get_path),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_positions),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_free_null_err_null_and_bom),
        cmocka_unit_test(test_error_stops_at_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
