/* Prometheus metrics: GET /metrics on the CRI socket and on a TCP listener of its own
 * ([crib.metrics]), in the text exposition format. The modules keep their counters (image pulls,
 * CNI operations, streaming sessions); this file keeps the CRI calls', the OOM kills' and the
 * loop's lag, and writes them all out. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"
#include "cri/cri-internal.h"
#include "cri/pod.h"
#include "image/image.h"
#include "network/network.h"
#include "stream/stream.h"

/* Container names the OOM counter keeps apart; later ones count in the total only. */
#define OOM_NAMES_MAX 1000
/* How often the loop's lag is measured. */
#define LAG_TICK_MS 1000

static const char *const grpc_code_names[17] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};

void cri_prometheus_call_done(void *data, const char *path, enum grpc_status status,
                              uint64_t elapsed_ns)
{
    struct cri *cri = data;
    int i = cri_method_index(path);
    if (i < 0 || !cri->op_stats)
        return; /* not a method of ours: answered UNIMPLEMENTED, not counted per name */
    struct cri_op_stats *s = &cri->op_stats[i];
    s->calls++;
    if (status != GRPC_OK && (unsigned)status < ARRAY_SIZE(s->errors))
        s->errors[status]++;
    metrics_hist_observe(&s->latency, &metrics_latency_buckets, (double)elapsed_ns / 1e9);
}

void cri_prometheus_oom(struct cri *cri, const char *name)
{
    cri->oom_total++;
    for (size_t i = 0; i < cri->n_oom_by_name; i++) {
        if (strcmp(cri->oom_by_name[i].name, name) == 0) {
            cri->oom_by_name[i].n++;
            return;
        }
    }
    if (cri->n_oom_by_name >= OOM_NAMES_MAX)
        return;
    cri->oom_by_name =
        xrealloc(cri->oom_by_name, (cri->n_oom_by_name + 1) * sizeof(*cri->oom_by_name));
    cri->oom_by_name[cri->n_oom_by_name++] = (struct cri_oom_count){xstrdup(name), 1};
}

/* ---- the writer ---- */

static void scalar(struct buf *out, const char *name, const char *help, const char *type, double v)
{
    metrics_family(out, name, help, type);
    metrics_sample(out, name, NULL, NULL, 0, v);
}

static const char *method_name(size_t i)
{
    const char *p = cri_method_path(i);
    const char *slash = strrchr(p, '/');
    return slash ? slash + 1 : p;
}

static void write_calls(struct cri *cri, struct buf *out)
{
    size_t n = cri_method_count();
    const char *op_key[] = {"operation"}, *err_keys[] = {"operation", "code"};
    metrics_family(out, "crib_operations_total", "CRI calls answered, by method.", "counter");
    for (size_t i = 0; i < n; i++) {
        const char *v[] = {method_name(i)};
        metrics_sample(out, "crib_operations_total", op_key, v, 1, (double)cri->op_stats[i].calls);
    }
    metrics_family(out, "crib_operations_errors_total",
                   "CRI calls answered with an error, by method and gRPC status.", "counter");
    for (size_t i = 0; i < n; i++) {
        for (size_t code = 1; code < ARRAY_SIZE(cri->op_stats[i].errors); code++) {
            if (!cri->op_stats[i].errors[code])
                continue;
            const char *v[] = {method_name(i), grpc_code_names[code]};
            metrics_sample(out, "crib_operations_errors_total", err_keys, v, 2,
                           (double)cri->op_stats[i].errors[code]);
        }
    }
    metrics_family(out, "crib_operations_latency_seconds",
                   "Time from a CRI call's request to its answer, by method.", "histogram");
    for (size_t i = 0; i < n; i++) {
        if (!cri->op_stats[i].calls)
            continue;
        const char *v[] = {method_name(i)};
        metrics_hist_write(out, "crib_operations_latency_seconds", op_key, v, 1,
                           &cri->op_stats[i].latency, &metrics_latency_buckets);
    }
}

static void write_images(struct cri *cri, struct buf *out)
{
    const struct image_pull_counters *c = image_pull_counters(cri->images);
    scalar(out, "crib_image_pulls_bytes_total", "Layer bytes downloaded from registries.",
           "counter", (double)c->bytes);
    scalar(out, "crib_image_pulls_success_total", "Image pulls that stored their image.", "counter",
           (double)c->successes);
    metrics_family(out, "crib_image_pulls_failure_total", "Image pulls that failed, by reason.",
                   "counter");
    const char *key[] = {"reason"};
    for (size_t i = 0; i < IMAGE_PULL_REASONS; i++) {
        const char *v[] = {image_pull_reason_names[i]};
        metrics_sample(out, "crib_image_pulls_failure_total", key, v, 1, (double)c->failures[i]);
    }
    scalar(out, "crib_image_layer_reuse_total",
           "Layers a pull found in the store already, and did not download.", "counter",
           (double)c->layers_reused);
}

static void write_containers(struct cri *cri, struct buf *out)
{
    scalar(out, "crib_containers_oom_total", "Containers the out-of-memory killer ended.",
           "counter", (double)cri->oom_total);
    metrics_family(out, "crib_containers_oom_count_total",
                   "Containers the out-of-memory killer ended, by container name.", "counter");
    const char *name_key[] = {"name"};
    for (size_t i = 0; i < cri->n_oom_by_name; i++) {
        const char *v[] = {cri->oom_by_name[i].name};
        metrics_sample(out, "crib_containers_oom_count_total", name_key, v, 1,
                       (double)cri->oom_by_name[i].n);
    }
    static const char *const states[] = {
        [CRI_CTR_CREATED] = "created", [CRI_CTR_RUNNING] = "running", [CRI_CTR_EXITED] = "exited"};
    uint64_t by_state[ARRAY_SIZE(states)] = {0};
    for (struct ctr *c = cri->ctrs; c; c = c->next)
        if ((size_t)c->state < ARRAY_SIZE(states))
            by_state[c->state]++;
    metrics_family(out, "crib_containers", "Containers, by state.", "gauge");
    const char *state_key[] = {"state"};
    for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
        if (!states[i])
            continue;
        const char *v[] = {states[i]};
        metrics_sample(out, "crib_containers", state_key, v, 1, (double)by_state[i]);
    }
    uint64_t ready = 0, notready = 0;
    for (struct pod *p = cri->pods; p; p = p->next)
        *(p->state == POD_READY ? &ready : &notready) += 1;
    metrics_family(out, "crib_pods", "Pod sandboxes, by state.", "gauge");
    const char *r[] = {"ready"}, *nr[] = {"notready"};
    metrics_sample(out, "crib_pods", state_key, r, 1, (double)ready);
    metrics_sample(out, "crib_pods", state_key, nr, 1, (double)notready);
}

static void write_streams(struct cri *cri, struct buf *out)
{
    static const char *const kinds[STREAM_KINDS] = {
        [STREAM_EXEC] = "exec", [STREAM_ATTACH] = "attach", [STREAM_PORTFORWARD] = "portforward"};
    const struct stream_counters *c = stream_server_counters(cri->stream);
    const char *key[] = {"kind"};
    metrics_family(out, "crib_stream_sessions", "Streaming sessions open now, by kind.", "gauge");
    for (size_t i = 0; i < STREAM_KINDS; i++) {
        const char *v[] = {kinds[i]};
        metrics_sample(out, "crib_stream_sessions", key, v, 1, (double)c->active[i]);
    }
    metrics_family(out, "crib_stream_sessions_total", "Streaming sessions started, by kind.",
                   "counter");
    for (size_t i = 0; i < STREAM_KINDS; i++) {
        const char *v[] = {kinds[i]};
        metrics_sample(out, "crib_stream_sessions_total", key, v, 1, (double)c->total[i]);
    }
}

static void write_cni(struct cri *cri, struct buf *out)
{
    static const char *const ops[NETWORK_CNI_OPS] = {
        [NETWORK_CNI_ADD] = "ADD", [NETWORK_CNI_DEL] = "DEL", [NETWORK_CNI_CHECK] = "CHECK"};
    const struct network_cni_counters *c = network_cni_counters(cri->network);
    const char *key[] = {"operation"};
    metrics_family(out, "crib_cni_operation_latency_seconds",
                   "Time a CNI operation took, its whole plugin chain, by command.", "histogram");
    for (size_t i = 0; i < NETWORK_CNI_OPS; i++) {
        const char *v[] = {ops[i]};
        metrics_hist_write(out, "crib_cni_operation_latency_seconds", key, v, 1, &c->latency[i],
                           &metrics_latency_buckets);
    }
    metrics_family(out, "crib_cni_operation_errors_total",
                   "CNI operations that failed, by command.", "counter");
    for (size_t i = 0; i < NETWORK_CNI_OPS; i++) {
        const char *v[] = {ops[i]};
        metrics_sample(out, "crib_cni_operation_errors_total", key, v, 1, (double)c->errors[i]);
    }
}

/* cribd's resident memory (/proc/self/statm) and open fds; small reads, on the loop. */
static void write_process(struct cri *cri, struct buf *out)
{
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long size = 0, resident = 0;
    bool have_rss = f && fscanf(f, "%lu %lu", &size, &resident) == 2;
    if (f)
        fclose(f);
    if (have_rss)
        scalar(out, "crib_process_resident_memory_bytes", "cribd's resident memory.", "gauge",
               (double)resident * (double)sysconf(_SC_PAGESIZE));
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d));)
            n += e->d_name[0] != '.';
        closedir(d);
        scalar(out, "crib_process_open_fds", "File descriptors cribd has open.", "gauge",
               (double)(n ? n - 1 : 0)); /* not the directory's own */
    }
    metrics_family(out, "crib_event_loop_lag_seconds",
                   "How late cribd's loop ran a timer (measured each second).", "histogram");
    metrics_hist_write(out, "crib_event_loop_lag_seconds", NULL, NULL, 0, &cri->loop_lag,
                       &metrics_latency_buckets);
}

void cri_prometheus_write(struct cri *cri, struct buf *out)
{
    write_calls(cri, out);
    write_images(cri, out);
    write_containers(cri, out);
    write_streams(cri, out);
    write_cni(cri, out);
    write_process(cri, out);
}

/* ---- the endpoint and the loop's lag ---- */

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void cri_prometheus_request(struct cri *cri, const struct http1_request *req,
                            struct http1_response *resp)
{
    if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
        resp->status = 405;
        return;
    }
    resp->status = 200;
    resp->content_type = CONTENT_TYPE;
    cri_prometheus_write(cri, &resp->body);
}

static void on_metrics_request(void *data, const struct http1_request *req,
                               struct http1_response *resp)
{
    if (strcmp(req->path, "/metrics") != 0)
        resp->status = 404;
    else
        cri_prometheus_request(data, req, resp);
}

static void on_no_grpc(void *data, struct grpc_call *call, const char *path, const uint8_t *msg,
                       size_t len)
{
    (void)data, (void)path, (void)msg, (void)len;
    reactor_grpc_call_finish(call, GRPC_UNIMPLEMENTED, "the metrics endpoint serves no gRPC");
}

static const struct reactor_server_ops metrics_ops = {
    .grpc_call = on_no_grpc,
    .http_request = on_metrics_request,
};

static void on_lag_tick(uv_timer_t *t)
{
    struct cri *cri = t->data;
    uint64_t now = uv_hrtime();
    uint64_t late = now > cri->lag_expected ? now - cri->lag_expected : 0;
    metrics_hist_observe(&cri->loop_lag, &metrics_latency_buckets, (double)late / 1e9);
    cri->lag_expected = now + (uint64_t)LAG_TICK_MS * 1000000;
}

/* The TCP listener at metrics_host:metrics_port. */
static int start_listener(struct cri *cri, struct err *err)
{
    const struct config *cfg = cri->cfg;
    struct sockaddr_storage ss;
    bool v6 = strchr(cfg->metrics_host, ':') != NULL;
    int r = v6 ? uv_ip6_addr(cfg->metrics_host, (int)cfg->metrics_port, (struct sockaddr_in6 *)&ss)
               : uv_ip4_addr(cfg->metrics_host, (int)cfg->metrics_port, (struct sockaddr_in *)&ss);
    if (r < 0)
        return err_set(err, -EINVAL, "metrics_host `%s` is not an IP address", cfg->metrics_host);
    struct reactor_server_config sc = {
        .addr = (const struct sockaddr *)&ss,
        .http1_only = true,
        .max_recv_msg_size = 1 << 16,
        .max_send_msg_size = 1 << 16,
    };
    r = reactor_server_start(cri->loop, &sc, &metrics_ops, cri, &cri->metrics_srv, err);
    if (r < 0)
        return err_wrap(err, "metrics on %s:%lld", cfg->metrics_host, (long long)cfg->metrics_port);
    log_info("metrics on http://%s%s%s:%d/metrics", v6 ? "[" : "", cfg->metrics_host, v6 ? "]" : "",
             reactor_server_port(cri->metrics_srv));
    return 0;
}

int cri_prometheus_start(struct cri *cri, struct err *err)
{
    const struct config *cfg = cri->cfg;
    cri->op_stats = xcalloc(cri_method_count(), sizeof(*cri->op_stats));
    if (!cfg->enable_metrics)
        return 0;
    if (*cfg->metrics_host) {
        int r = start_listener(cri, err);
        if (r < 0)
            return r;
    }
    /* Started once nothing can fail: a daemon that does not start has nothing to close. */
    cri->lag_timer = xcalloc(1, sizeof(*cri->lag_timer));
    uv_timer_init(cri->loop, cri->lag_timer);
    cri->lag_timer->data = cri;
    cri->lag_expected = uv_hrtime() + (uint64_t)LAG_TICK_MS * 1000000;
    uv_timer_start(cri->lag_timer, on_lag_tick, LAG_TICK_MS, LAG_TICK_MS);
    uv_unref((uv_handle_t *)cri->lag_timer);
    return 0;
}

static void on_lag_timer_closed(uv_handle_t *h)
{
    free(h);
}

void cri_prometheus_stop(struct cri *cri)
{
    if (cri->metrics_srv)
        reactor_server_shutdown(TAKE_PTR(cri->metrics_srv), 0, NULL, NULL);
    if (cri->lag_timer)
        uv_close((uv_handle_t *)TAKE_PTR(cri->lag_timer), on_lag_timer_closed);
}

void cri_prometheus_free(struct cri *cri)
{
    for (size_t i = 0; i < cri->n_oom_by_name; i++)
        free(cri->oom_by_name[i].name);
    free(cri->oom_by_name);
    free(cri->op_stats);
}
