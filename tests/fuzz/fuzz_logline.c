/* libFuzzer target for CRI log framing: the input is fed in pieces its first bytes choose, with a
 * small max; the records must be well formed, seen alike by the callback, independent of the
 * pieces, and together give back the input. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/macro.h"
#include "monitor/logline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000123456789LL

/* What the callback saw: "<P|F><text>\n" per record. */
static void on_record(const char *text, size_t len, bool partial, void *data)
{
    struct buf *seen = data;
    buf_append(seen, partial ? "P" : "F", 1);
    buf_append(seen, text, len);
    buf_append(seen, "\n", 1);
}

/* The timestamp of ns must parse back to ns. */
static void check_timestamp(int64_t ns)
{
    char ts[40];
    struct tm tm = {0};
    if (monitor_log_timestamp(ns, ts) != 30 || ts[4] != '-' || ts[7] != '-' || ts[10] != 'T' ||
        ts[13] != ':' || ts[16] != ':' || ts[19] != '.' || ts[29] != 'Z' || ts[30] != '\0')
        abort();
    char *end = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end != ts + 19)
        abort();
    int64_t frac = 0;
    for (int i = 20; i < 29; i++) {
        if (ts[i] < '0' || ts[i] > '9')
            abort();
        frac = frac * 10 + (ts[i] - '0');
    }
    /* floor division: the fraction of a time before 1970 counts up from the second before */
    int64_t sec = ns / 1000000000, rem = ns % 1000000000;
    if (rem < 0) {
        rem += 1000000000;
        sec--;
    }
    if ((int64_t)timegm(&tm) != sec || frac != rem)
        abort();
}

/* Check out's records and rebuild the stream from them into text; also into seen's format. */
static void check_records(const struct buf *out, const char *stream, size_t max, struct buf *text,
                          struct buf *seen)
{
    char prefix[64];
    size_t plen = monitor_log_timestamp(NOW, prefix);
    size_t slen = strlen(stream);
    prefix[plen++] = ' ';
    memcpy(prefix + plen, stream, slen);
    plen += slen;
    prefix[plen++] = ' ';

    for (size_t off = 0; off < out->len;) {
        const uint8_t *r = out->data + off;
        size_t left = out->len - off;
        if (left < plen + 3 || memcmp(r, prefix, plen) != 0 || r[plen + 1] != ' ')
            abort();
        bool partial = r[plen] == 'P';
        if (!partial && r[plen] != 'F')
            abort();
        const uint8_t *t = r + plen + 2;
        const uint8_t *nl = memchr(t, '\n', left - plen - 2);
        if (!nl)
            abort(); /* every record ends with '\n' */
        size_t tlen = (size_t)(nl - t);
        if (tlen > max || (partial && tlen != max))
            abort();
        buf_append(text, t, tlen);
        if (!partial)
            buf_append(text, "\n", 1);
        on_record((const char *)t, tlen, partial, seen);
        off += plen + 2 + tlen + 1;
    }
}

static uint32_t next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t max = 1 + data[0] % 24;
    const char *stream = data[0] & 0x80 ? "stderr" : "stdout";
    uint32_t seed = 0x9e3779b9u ^ data[1];
    const char *in = (const char *)data + 2;
    size_t len = size - 2;

    if (len >= 8) {
        int64_t ns;
        memcpy(&ns, in, sizeof(ns));
        check_timestamp(ns);
    }

    /* in pieces (empty ones too), with the callback */
    struct monitor_logline l;
    struct buf out = {0}, cb = {0};
    monitor_logline_init(&l, stream, max);
    for (size_t off = 0; off < len;) {
        size_t n = next(&seed) % (2 * max + 3);
        if (n > len - off)
            n = len - off;
        size_t before = out.len;
        monitor_logline_feed(&l, in + off, n, NOW, &out, on_record, &cb);
        if (l.pending.len > max)
            abort();
        /* records come out whole */
        if (out.len > before && out.data[out.len - 1] != '\n')
            abort();
        off += n;
    }
    monitor_logline_flush(&l, NOW, &out, on_record, &cb);
    if (l.pending.len != 0)
        abort();
    monitor_logline_done(&l);

    /* in one piece: the same bytes */
    struct buf whole = {0};
    monitor_logline_init(&l, stream, max);
    monitor_logline_feed(&l, in, len, NOW, &whole, NULL, NULL);
    monitor_logline_flush(&l, NOW, &whole, NULL, NULL);
    monitor_logline_done(&l);
    if (whole.len != out.len || (out.len && memcmp(whole.data, out.data, out.len) != 0))
        abort();

    /* well formed, as the callback saw them, and the input comes back (an unfinished last line
     * ends with the flush) */
    struct buf text = {0}, parsed = {0};
    check_records(&out, stream, max, &text, &parsed);
    if (parsed.len != cb.len || (cb.len && memcmp(parsed.data, cb.data, cb.len) != 0))
        abort();
    size_t want = len + (len > 0 && in[len - 1] != '\n');
    if (text.len != want || (len && memcmp(text.data, in, len) != 0))
        abort();
    if (want > len && text.data[len] != '\n')
        abort();

    buf_done(&out);
    buf_done(&cb);
    buf_done(&whole);
    buf_done(&text);
    buf_done(&parsed);
    return 0;
}
