/* Unit tests for src/monitor/logline.c and journal.c: CRI log records byte for byte (splitting,
 * the max boundary, flushing, timestamps) and journald's native protocol over a real socket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/macro.h"
#include "monitor/logline.h"

#define T0 1700000000123456789LL
#define TS0 "2023-11-14T22:13:20.123456789Z"
#define T1 1795428000000000001LL
#define TS1 "2026-11-23T10:00:00.000000001Z"

static char tmpdir[] = "/tmp/test_monitor_logline.XXXXXX";

static int setup(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void assert_buf(const struct buf *b, const char *want, size_t want_len)
{
    if (b->len != want_len || (want_len && memcmp(b->data, want, want_len) != 0))
        fail_msg("got %zu bytes \"%.*s\", want %zu bytes \"%.*s\"", b->len, (int)b->len,
                 b->data ? (const char *)b->data : "", want_len, (int)want_len, want);
}
#define ASSERT_BUF(b, lit) assert_buf((b), (lit), sizeof(lit) - 1)

static void feed(struct monitor_logline *l, const char *s, int64_t now, struct buf *out)
{
    monitor_logline_feed(l, s, strlen(s), now, out, NULL, NULL);
}

static void test_timestamp(void **state)
{
    char ts[40];
    assert_int_equal(monitor_log_timestamp(0, ts), 30);
    assert_string_equal(ts, "1970-01-01T00:00:00.000000000Z");
    assert_int_equal(monitor_log_timestamp(T0, ts), 30);
    assert_string_equal(ts, TS0);
    assert_int_equal(monitor_log_timestamp(T1, ts), 30);
    assert_string_equal(ts, TS1);
    monitor_log_timestamp(1, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00.000000001Z");
    monitor_log_timestamp(999999999, ts);
    assert_string_equal(ts, "1970-01-01T00:00:00.999999999Z");
    monitor_log_timestamp(-1, ts);
    assert_string_equal(ts, "1969-12-31T23:59:59.999999999Z");
    monitor_log_timestamp(951782400000000000LL, ts); /* leap day */
    assert_string_equal(ts, "2000-02-29T00:00:00.000000000Z");
    monitor_log_timestamp(INT64_MAX, ts);
    assert_string_equal(ts, "2262-04-11T23:47:16.854775807Z");
}

static void test_simple_line(void **state)
{
    struct monitor_logline l;
    struct buf out = {0};

    monitor_logline_init(&l, "stdout", MONITOR_LOG_LINE_MAX);
    feed(&l, "hello world\n", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout F hello world\n");
    assert_int_equal(l.pending.len, 0);
    monitor_logline_flush(&l, T1, &out, NULL, NULL);
    ASSERT_BUF(&out, TS0 " stdout F hello world\n");
    monitor_logline_done(&l);
    buf_done(&out);

    monitor_logline_init(&l, "stderr", MONITOR_LOG_LINE_MAX);
    feed(&l, "oops\r\n", T1, &out);
    ASSERT_BUF(&out, TS1 " stderr F oops\r\n");
    monitor_logline_done(&l);
    buf_done(&out);
}

static void test_split_across_feeds(void **state)
{
    struct monitor_logline l;
    struct buf out = {0};

    monitor_logline_init(&l, "stdout", MONITOR_LOG_LINE_MAX);
    feed(&l, "hel", T0, &out);
    assert_int_equal(out.len, 0);
    assert_int_equal(l.pending.len, 3);
    feed(&l, "lo\nwor", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout F hello\n");
    assert_int_equal(l.pending.len, 3);
    feed(&l, "", T1, &out);
    feed(&l, "l", T1, &out);
    feed(&l, "d\n", T1, &out);
    /* a record is stamped when its line ends */
    ASSERT_BUF(&out, TS0 " stdout F hello\n" TS1 " stdout F world\n");
    assert_int_equal(l.pending.len, 0);
    monitor_logline_done(&l);
    buf_done(&out);
}

static void test_several_lines_and_empty_lines(void **state)
{
    struct monitor_logline l;
    struct buf out = {0};

    monitor_logline_init(&l, "stdout", MONITOR_LOG_LINE_MAX);
    feed(&l, "a\nbb\n\n\nccc", T0, &out);
    ASSERT_BUF(&out,
               TS0 " stdout F a\n" TS0 " stdout F bb\n" TS0 " stdout F \n" TS0 " stdout F \n");
    monitor_logline_flush(&l, T1, &out, NULL, NULL);
    ASSERT_BUF(&out, TS0 " stdout F a\n" TS0 " stdout F bb\n" TS0 " stdout F \n" TS0
                         " stdout F \n" TS1 " stdout F ccc\n");
    monitor_logline_done(&l);
    buf_done(&out);

    monitor_logline_init(&l, "stdout", MONITOR_LOG_LINE_MAX);
    feed(&l, "\n", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout F \n");
    monitor_logline_done(&l);
    buf_done(&out);
}

static void test_flush(void **state)
{
    struct monitor_logline l;
    struct buf out = {0};

    monitor_logline_init(&l, "stderr", MONITOR_LOG_LINE_MAX);
    monitor_logline_flush(&l, T0, &out, NULL, NULL);
    assert_int_equal(out.len, 0);
    feed(&l, "partial", T0, &out);
    assert_int_equal(out.len, 0);
    monitor_logline_flush(&l, T1, &out, NULL, NULL);
    ASSERT_BUF(&out, TS1 " stderr F partial\n");
    monitor_logline_flush(&l, T1, &out, NULL, NULL);
    ASSERT_BUF(&out, TS1 " stderr F partial\n");
    /* usable again after a flush */
    feed(&l, "x\n", T0, &out);
    ASSERT_BUF(&out, TS1 " stderr F partial\n" TS0 " stderr F x\n");
    monitor_logline_done(&l);
    buf_done(&out);
}

/* Walk the records of out: "<TS0> stdout <P|F> <text>\n"; returns how many, their flags in
 * flags and their text lengths in lens. */
static size_t parse_records(const struct buf *out, const char *stream, char *flags, size_t *lens,
                            size_t max_records)
{
    size_t n = 0, off = 0;
    cleanup_free char *prefix = xasprintf("%s %s ", TS0, stream);
    size_t plen = strlen(prefix);

    while (off < out->len) {
        assert_true(n < max_records);
        assert_true(out->len - off > plen + 2);
        assert_memory_equal(out->data + off, prefix, plen);
        char flag = (char)out->data[off + plen];
        assert_true(flag == 'P' || flag == 'F');
        assert_int_equal(out->data[off + plen + 1], ' ');
        const uint8_t *text = out->data + off + plen + 2;
        const uint8_t *nl = memchr(text, '\n', out->len - (size_t)(text - out->data));
        assert_non_null(nl);
        flags[n] = flag;
        lens[n] = (size_t)(nl - text);
        n++;
        off = (size_t)(nl - out->data) + 1;
    }
    return n;
}

static void test_long_line(void **state)
{
    struct monitor_logline l;
    struct buf out = {0};
    size_t len = 40000;
    char *line = xmalloc(len + 1);
    char flags[8];
    size_t lens[8];

    for (size_t i = 0; i < len; i++)
        line[i] = (char)('a' + i % 26);
    line[len] = '\n';
    monitor_logline_init(&l, "stdout", 16384);
    monitor_logline_feed(&l, line, len + 1, T0, &out, NULL, NULL);
    assert_int_equal(parse_records(&out, "stdout", flags, lens, 8), 3);
    assert_int_equal(flags[0], 'P');
    assert_int_equal(lens[0], 16384);
    assert_int_equal(flags[1], 'P');
    assert_int_equal(lens[1], 16384);
    assert_int_equal(flags[2], 'F');
    assert_int_equal(lens[2], 40000 - 2 * 16384);
    /* the texts are the line, in order */
    size_t plen = strlen(TS0 " stdout P ");
    assert_memory_equal(out.data + plen, line, 16384);
    assert_memory_equal(out.data + 2 * plen + 16384 + 1, line + 16384, 16384);
    assert_memory_equal(out.data + 3 * plen + 2 * 16384 + 2, line + 2 * 16384, 40000 - 32768);
    assert_int_equal(out.len, 3 * plen + 40000 + 3);
    buf_done(&out);

    /* the same line fed in odd pieces gives the same records */
    for (size_t off = 0; off <= len;) {
        size_t n = off % 7 == 0 ? 1 : 5000 + off % 3;
        if (n > len + 1 - off)
            n = len + 1 - off;
        monitor_logline_feed(&l, line + off, n, T0, &out, NULL, NULL);
        assert_true(l.pending.len <= 16384);
        off += n;
    }
    assert_int_equal(parse_records(&out, "stdout", flags, lens, 8), 3);
    assert_int_equal(lens[0], 16384);
    assert_int_equal(lens[1], 16384);
    assert_int_equal(lens[2], 40000 - 32768);
    assert_int_equal(out.len, 3 * plen + 40000 + 3);
    free(line);
    monitor_logline_done(&l);
    buf_done(&out);
}

static void test_max_boundary(void **state)
{
    struct monitor_logline l;
    struct buf out = {0};

    /* exactly max bytes and '\n': one F record, whether or not the '\n' comes later */
    monitor_logline_init(&l, "stdout", 4);
    feed(&l, "abcd\n", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout F abcd\n");
    buf_done(&out);
    feed(&l, "abcd", T0, &out);
    assert_int_equal(out.len, 0);
    assert_int_equal(l.pending.len, 4);
    feed(&l, "\n", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout F abcd\n");
    buf_done(&out);
    feed(&l, "ab", T0, &out);
    feed(&l, "cd", T0, &out);
    feed(&l, "\n", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout F abcd\n");
    buf_done(&out);

    /* one byte more: a P part, then the rest */
    feed(&l, "abcde\n", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout P abcd\n" TS0 " stdout F e\n");
    buf_done(&out);
    feed(&l, "abcd", T0, &out);
    feed(&l, "e", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout P abcd\n");
    feed(&l, "\n", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout P abcd\n" TS0 " stdout F e\n");
    buf_done(&out);

    /* twice max: P and a full-size F; pending parts join input parts */
    feed(&l, "abcdefgh\n", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout P abcd\n" TS0 " stdout F efgh\n");
    buf_done(&out);
    feed(&l, "ab", T0, &out);
    feed(&l, "cdefghijk", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout P abcd\n" TS0 " stdout P efgh\n");
    assert_int_equal(l.pending.len, 3);
    feed(&l, "\nxy\n", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout P abcd\n" TS0 " stdout P efgh\n" TS0 " stdout F ijk\n" TS0
                         " stdout F xy\n");
    buf_done(&out);

    /* max bytes pending at the end of the stream: flushed as F */
    feed(&l, "abcdefgh", T0, &out);
    ASSERT_BUF(&out, TS0 " stdout P abcd\n");
    monitor_logline_flush(&l, T0, &out, NULL, NULL);
    ASSERT_BUF(&out, TS0 " stdout P abcd\n" TS0 " stdout F efgh\n");
    monitor_logline_done(&l);
    buf_done(&out);
}

struct seen {
    struct buf records; /* "<P|F> <text>\n" per callback */
    unsigned calls;
};

static void on_record(const char *text, size_t len, bool partial, void *data)
{
    struct seen *s = data;
    buf_append(&s->records, partial ? "P " : "F ", 2);
    buf_append(&s->records, text, len);
    buf_append(&s->records, "\n", 1);
    s->calls++;
}

static void test_callback(void **state)
{
    struct monitor_logline l;
    struct buf out = {0};
    struct seen seen = {{0}, 0};

    monitor_logline_init(&l, "stdout", 4);
    const char *in = "ab\nabcdefghij\n\nxy";
    size_t len = strlen(in);
    for (size_t i = 0; i < len; i += 2)
        monitor_logline_feed(&l, in + i, i + 1 < len ? 2 : 1, T0, &out, on_record, &seen);
    monitor_logline_flush(&l, T0, &out, on_record, &seen);
    ASSERT_BUF(&seen.records, "F ab\nP abcd\nP efgh\nF ij\nF \nF xy\n");
    assert_int_equal(seen.calls, 6);
    ASSERT_BUF(&out, TS0 " stdout F ab\n" TS0 " stdout P abcd\n" TS0 " stdout P efgh\n" TS0
                         " stdout F ij\n" TS0 " stdout F \n" TS0 " stdout F xy\n");
    monitor_logline_done(&l);
    buf_done(&out);
    buf_done(&seen.records);
}

/* Records do not depend on how the stream was cut into reads. */
static void test_chunking_invariance(void **state)
{
    char in[3000];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof(in); i++) {
        x = x * 1103515245 + 12345;
        uint32_t r = (x >> 16) % 100;
        in[i] = r < 8 ? '\n' : r < 10 ? '\r' : (char)('a' + r % 26);
    }
    for (size_t max = 1; max < 80; max += 13) {
        struct monitor_logline whole, pieces;
        struct buf a = {0}, b = {0};
        monitor_logline_init(&whole, "stdout", max);
        monitor_logline_init(&pieces, "stdout", max);
        monitor_logline_feed(&whole, in, sizeof(in), T0, &a, NULL, NULL);
        monitor_logline_flush(&whole, T0, &a, NULL, NULL);
        for (size_t off = 0, step = 1; off < sizeof(in); off += step, step = step % 97 + 1) {
            size_t n = step < sizeof(in) - off ? step : sizeof(in) - off;
            monitor_logline_feed(&pieces, in + off, n, T0, &b, NULL, NULL);
            assert_true(pieces.pending.len <= max);
        }
        monitor_logline_flush(&pieces, T0, &b, NULL, NULL);
        assert_buf(&b, (const char *)a.data, a.len);
        monitor_logline_done(&whole);
        monitor_logline_done(&pieces);
        buf_done(&a);
        buf_done(&b);
    }
}

/* ---- journald ---- */

static void test_journal_field(void **state)
{
    struct buf msg = {0};

    monitor_journal_field(&msg, "MESSAGE", "hello", 5);
    monitor_journal_field(&msg, "PRIORITY", "6", 1);
    monitor_journal_field(&msg, "EMPTY", "", 0);
    ASSERT_BUF(&msg, "MESSAGE=hello\nPRIORITY=6\nEMPTY=\n");
    buf_done(&msg);

    monitor_journal_field(&msg, "MESSAGE", "a\nb", 3);
    ASSERT_BUF(&msg, "MESSAGE\n\x03\0\0\0\0\0\0\0a\nb\n");
    buf_done(&msg);

    /* the length is 64-bit little-endian; = in a value needs nothing */
    char big[300];
    memset(big, 'x', sizeof(big));
    big[0] = '\n';
    monitor_journal_field(&msg, "M", "k=v", 3);
    monitor_journal_field(&msg, "M", big, sizeof(big));
    assert_int_equal(msg.len, 6 + 2 + 8 + 300 + 1);
    assert_memory_equal(msg.data, "M=k=v\nM\n\x2c\x01\0\0\0\0\0\0\n", 17);
    assert_memory_equal(msg.data + 16, big, 300);
    assert_int_equal(msg.data[msg.len - 1], '\n');
    buf_done(&msg);
}

struct journal {
    char *path;
    int server, client;
};

static void journal_open(struct journal *j, const char *name)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    j->path = xasprintf("%s/%s", tmpdir, name);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", j->path);
    j->server = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(j->server >= 0);
    assert_int_equal(bind(j->server, (struct sockaddr *)&sa, sizeof(sa)), 0);
    j->client = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    assert_true(j->client >= 0);
}

static void journal_close(struct journal *j)
{
    close(j->server);
    close(j->client);
    unlink(j->path);
    free(j->path);
}

static void test_journal_send(void **state)
{
    struct journal j;
    struct buf msg = {0};
    char got[4096];

    journal_open(&j, "journal.sock");
    monitor_journal_field(&msg, "MESSAGE", "hello\nworld", 11);
    monitor_journal_field(&msg, "CONTAINER_NAME", "web", 3);
    assert_int_equal(monitor_journal_send(j.client, j.path, &msg), 0);
    ssize_t n = recv(j.server, got, sizeof(got), MSG_DONTWAIT);
    assert_int_equal(n, (ssize_t)msg.len);
    assert_memory_equal(got, msg.data, msg.len);
    /* one entry per datagram */
    assert_int_equal(monitor_journal_send(j.client, j.path, &msg), 0);
    assert_int_equal(monitor_journal_send(j.client, j.path, &msg), 0);
    assert_int_equal(recv(j.server, got, sizeof(got), MSG_DONTWAIT), (ssize_t)msg.len);
    assert_int_equal(recv(j.server, got, sizeof(got), MSG_DONTWAIT), (ssize_t)msg.len);
    assert_int_equal(recv(j.server, got, sizeof(got), MSG_DONTWAIT), -1);
    assert_int_equal(errno, EAGAIN);

    /* nobody listening */
    cleanup_free char *none = xasprintf("%s/none.sock", tmpdir);
    assert_int_equal(monitor_journal_send(j.client, none, &msg), -ENOENT);
    buf_done(&msg);
    journal_close(&j);
}

static void test_journal_send_memfd(void **state)
{
    struct journal j;
    struct buf msg = {0};
    size_t len = 300 * 1024;
    char *value = xmalloc(len);

    for (size_t i = 0; i < len; i++)
        value[i] = (char)(i % 251 == 0 ? '\n' : 'a' + i % 26);
    journal_open(&j, "journal-big.sock");
    monitor_journal_field(&msg, "MESSAGE", value, len);
    monitor_journal_field(&msg, "PRIORITY", "3", 1);
    assert_int_equal(monitor_journal_send(j.client, j.path, &msg), 0);

    char byte;
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr mh = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = &control,
        .msg_controllen = sizeof(control.buf),
    };
    /* an empty datagram carrying the fd */
    assert_int_equal(recvmsg(j.server, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC), 0);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);
    assert_non_null(cmsg);
    assert_int_equal(cmsg->cmsg_level, SOL_SOCKET);
    assert_int_equal(cmsg->cmsg_type, SCM_RIGHTS);
    assert_int_equal(cmsg->cmsg_len, CMSG_LEN(sizeof(int)));
    int fd;
    memcpy(&fd, CMSG_DATA(cmsg), sizeof(fd));

    /* sealed, as journald requires, and holding the whole entry */
    int seals = fcntl(fd, F_GET_SEALS);
    int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
    assert_int_equal(seals & want, want);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, (off_t)msg.len);
    char *got = xmalloc(msg.len);
    assert_int_equal(pread(fd, got, msg.len, 0), (ssize_t)msg.len);
    assert_memory_equal(got, msg.data, msg.len);
    close(fd);

    free(got);
    free(value);
    buf_done(&msg);
    journal_close(&j);
}

static void test_journal_full(void **state)
{
    struct journal j;
    struct buf msg = {0};
    int r = 0;

    journal_open(&j, "journal-full.sock");
    monitor_journal_field(&msg, "MESSAGE", "spam", 4);
    for (int i = 0; i < 100000 && r == 0; i++)
        r = monitor_journal_send(j.client, j.path, &msg);
    assert_int_equal(r, -EAGAIN);
    /* the reader catches up: sending works again */
    char got[64];
    while (recv(j.server, got, sizeof(got), MSG_DONTWAIT) > 0)
        ;
    assert_int_equal(monitor_journal_send(j.client, j.path, &msg), 0);
    buf_done(&msg);
    journal_close(&j);
}

/* ---- records planned over raw bytes: the same log as feed ---- */

static void test_plan_matches_feed(void **state)
{
    /* lines short and long, empty ones, a max-long one, an unfinished last one */
    const char *pieces[] = {"a\n",
                            "\n",
                            "0123456789abcdef\n",
                            "0123456789abcdefX\n",
                            "0123456789abcdef0123456789abcdef0123",
                            "456\nzz",
                            "end"};
    char input[300];
    size_t len = 0;
    for (size_t i = 0; i < ARRAY_SIZE(pieces); i++) {
        memcpy(input + len, pieces[i], strlen(pieces[i]));
        len += strlen(pieces[i]);
    }
    const size_t max = 16;
    struct monitor_logline l;
    struct buf want = {0};
    monitor_logline_init(&l, "stdout", max);
    monitor_logline_feed(&l, input, len, T0, &want, NULL, NULL);
    monitor_logline_flush(&l, T0, &want, NULL, NULL);
    monitor_logline_done(&l);
    /* Bytes arrive in chunks; what is not taken waits for more, as in the FIFO's log. */
    for (size_t chunk = 1; chunk <= len; chunk++) {
        struct buf got = {0};
        char pending[300];
        size_t plen = 0, fed = 0;
        while (fed < len || plen) {
            size_t c = len - fed < chunk ? len - fed : chunk;
            memcpy(pending + plen, input + fed, c);
            plen += c;
            fed += c;
            struct monitor_rec recs[4]; /* few: several rounds per chunk */
            size_t taken, n;
            do {
                n = monitor_logline_plan(pending, plen, max, fed == len, recs, 4, &taken);
                monitor_logline_render(pending, recs, n, "stdout", T0, &got, NULL, NULL);
                memmove(pending, pending + taken, plen - taken);
                plen -= taken;
            } while (n);
            if (fed == len)
                assert_int_equal(plen, 0);
        }
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.data, want.data, want.len);
        buf_done(&got);
    }
    buf_done(&want);
}

static void test_plan_cases(void **state)
{
    struct monitor_rec r[8];
    size_t taken;
    /* complete lines; an unfinished one waits; at the end it becomes "F" with our newline */
    assert_int_equal(monitor_logline_plan("a\nbb", 4, 16, false, r, 8, &taken), 1);
    assert_int_equal(taken, 2);
    assert_int_equal(monitor_logline_plan("a\nbb", 4, 16, true, r, 8, &taken), 2);
    assert_int_equal(taken, 4);
    assert_true(r[1].tag == 'F' && r[1].nl && r[1].len == 2);
    /* a part of a longer line: "P" with our newline, the rest waits */
    assert_int_equal(monitor_logline_plan("0123456789", 10, 4, false, r, 8, &taken), 2);
    assert_true(r[0].tag == 'P' && r[0].nl && r[0].len == 4 && taken == 8);
    /* room for one record only */
    assert_int_equal(monitor_logline_plan("a\nb\n", 4, 16, false, r, 1, &taken), 1);
    assert_int_equal(taken, 2);
    /* the callback sees each record's text */
    struct buf out = {0};
    assert_int_equal(monitor_logline_plan("hi\nyo", 5, 16, true, r, 8, &taken), 2);
    monitor_logline_render("hi\nyo", r, 2, "stderr", T1, &out, NULL, NULL);
    const char *want = TS1 " stderr F hi\n" TS1 " stderr F yo\n";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    buf_done(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timestamp),
        cmocka_unit_test(test_simple_line),
        cmocka_unit_test(test_split_across_feeds),
        cmocka_unit_test(test_several_lines_and_empty_lines),
        cmocka_unit_test(test_flush),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_max_boundary),
        cmocka_unit_test(test_callback),
        cmocka_unit_test(test_chunking_invariance),
        cmocka_unit_test(test_journal_field),
        cmocka_unit_test(test_journal_send),
        cmocka_unit_test(test_journal_send_memfd),
        cmocka_unit_test(test_journal_full),
        cmocka_unit_test(test_plan_cases),
        cmocka_unit_test(test_plan_matches_feed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
