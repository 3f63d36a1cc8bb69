/* Unit tests for cri/'s records (cri/record.c): a pod's and a container's record written and
 * parsed back give the same fields, the container record's format stays as records on disk have
 * it, and a record with a missing or malformed field is refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/macro.h"
#include "cri/record.h"

/* Timestamps a double holds exactly: the record keeps numbers as JSON numbers. */
#define T_CREATED 1700000000123456768LL
#define T_STARTED 1700000001000000000LL
#define T_FINISHED 1700000002000000000LL
#define LAYER_A "sha256:aaaa"
#define LAYER_B "sha256:bbbb"
#define POD_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static struct cri test_cri = {.ctrs_dir = "/r/containers",
                              .ctrs_run = "/run/containers",
                              .pods_dir = "/r/pods",
                              .pods_run = "/run/pods"};

/* The packed bytes of two messages are the same. */
static void assert_same_message(const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la = protobuf_c_message_get_packed_size(a), lb = protobuf_c_message_get_packed_size(b);
    assert_int_equal(la, lb);
    uint8_t *pa = xmalloc(la + 1), *pb = xmalloc(lb + 1);
    protobuf_c_message_pack(a, pa);
    protobuf_c_message_pack(b, pb);
    assert_memory_equal(pa, pb, la);
    free(pa);
    free(pb);
}

static struct ctr *sample_ctr(void)
{
    Runtime__V1__ContainerMetadata md = RUNTIME__V1__CONTAINER_METADATA__INIT;
    md.name = "web";
    md.attempt = 2;
    Runtime__V1__ImageSpec image = RUNTIME__V1__IMAGE_SPEC__INIT;
    image.image = "busybox";
    Runtime__V1__ContainerConfig__LabelsEntry label =
        RUNTIME__V1__CONTAINER_CONFIG__LABELS_ENTRY__INIT;
    label.key = "app";
    label.value = "web";
    Runtime__V1__ContainerConfig__LabelsEntry *labels[] = {&label};
    char *args[] = {"sleep", "60"};
    Runtime__V1__ContainerConfig cfg = RUNTIME__V1__CONTAINER_CONFIG__INIT;
    cfg.metadata = &md;
    cfg.image = &image;
    cfg.labels = labels;
    cfg.n_labels = 1;
    cfg.args = args;
    cfg.n_args = 2;
    cfg.tty = true;

    struct ctr *c = xcalloc(1, sizeof(*c));
    c->cri = &test_cri;
    c->refs = 1;
    c->id = xstrdup("c0ffee");
    c->pod_id = xstrdup(POD_ID);
    c->config = cri_ctr_config_copy(&cfg);
    c->state = CRI_CTR_EXITED;
    c->created_at = T_CREATED;
    c->started_at = T_STARTED;
    c->finished_at = T_FINISHED;
    c->exit_code = 137;
    c->reason = xstrdup("Error");
    c->message = xstrdup("killed");
    c->image_id = xstrdup("sha256:1111");
    c->image_ref = xstrdup("docker.io/library/busybox@sha256:2222");
    c->image_name = xstrdup("docker.io/library/busybox:latest");
    c->n_layers = 2;
    c->layers = xcalloc(3, sizeof(char *));
    c->layers[0] = xstrdup(LAYER_A);
    c->layers[1] = xstrdup(LAYER_B);
    c->run_dir = xstrdup("/run/containers/c0ffee");
    c->log_path = xstrdup("/var/log/pods/x/web/2.log");
    c->runtime = xstrdup("runc");
    c->cgroups_path = xstrdup("/crib/crib-c0ffee");
    c->oom_file = xstrdup("/sys/fs/cgroup/crib/crib-c0ffee/memory.events");
    c->stop_signal = xstrdup("SIGINT");
    c->stop_signo = SIGINT;
    c->pid = 4242;
    c->pid_start = 987654;
    return c;
}

static void test_ctr_round_trip(void **state)
{
    (void)state;
    struct ctr *c = sample_ctr();
    char *text = cri_ctr_record_format(c);
    struct ctr *d = cri_ctr_record_parse(&test_cri, text);
    assert_non_null(d);
    assert_ptr_equal(d->cri, &test_cri);
    assert_int_equal(d->refs, 1);
    assert_string_equal(d->id, c->id);
    assert_string_equal(d->pod_id, c->pod_id);
    assert_int_equal(d->state, c->state);
    assert_int_equal(d->created_at, c->created_at);
    assert_int_equal(d->started_at, c->started_at);
    assert_int_equal(d->finished_at, c->finished_at);
    assert_int_equal(d->exit_code, c->exit_code);
    assert_string_equal(d->reason, c->reason);
    assert_string_equal(d->message, c->message);
    assert_string_equal(d->image_id, c->image_id);
    assert_string_equal(d->image_ref, c->image_ref);
    assert_string_equal(d->image_name, c->image_name);
    assert_int_equal(d->n_layers, 2);
    assert_string_equal(d->layers[0], LAYER_A);
    assert_string_equal(d->layers[1], LAYER_B);
    assert_null(d->layers[2]);
    assert_string_equal(d->run_dir, c->run_dir);
    assert_string_equal(d->log_path, c->log_path);
    assert_string_equal(d->runtime, c->runtime);
    assert_string_equal(d->cgroups_path, c->cgroups_path);
    assert_string_equal(d->oom_file, c->oom_file);
    assert_string_equal(d->stop_signal, c->stop_signal);
    assert_int_equal(d->stop_signo, SIGINT);
    assert_int_equal(d->pid, c->pid);
    assert_int_equal(d->pid_start, c->pid_start);
    assert_same_message(&d->config->base, &c->config->base);
    /* Written again, the record is the same text. */
    char *again = cri_ctr_record_format(d);
    assert_string_equal(again, text);
    free(again);
    free(text);
    cri_ctr_unref(c);
    cri_ctr_unref(d);
}

/* A record as written before record.c existed: the format restarts read. */
static const char ctr_record_on_disk[] =
    "{\"id\":\"c1\",\"pod_id\":\"p1\",\"state\":\"running\",\"created_at\":1,"
    "\"started_at\":2,\"finished_at\":0,\"exit_code\":0,\"reason\":\"\",\"message\":\"\","
    "\"image_id\":\"sha256:11\",\"image_ref\":\"sha256:11\",\"image_name\":\"busybox\","
    "\"layers\":[\"sha256:aa\"],\"log_path\":\"\",\"runtime\":\"runc\",\"cgroups_path\":\"/c\","
    "\"oom_file\":\"\",\"stop_signal\":\"SIGTERM\",\"pid\":7,\"pid_start\":8,"
    "\"config\":\"CgMKAWE=\"}";

static void test_ctr_format_unchanged(void **state)
{
    (void)state;
    struct ctr *c = cri_ctr_record_parse(&test_cri, ctr_record_on_disk);
    assert_non_null(c);
    assert_int_equal(c->state, CRI_CTR_RUNNING);
    assert_string_equal(c->config->metadata->name, "a");
    assert_null(c->oom_file); /* "" reads back as none */
    assert_string_equal(c->run_dir, "/run/containers/c1");
    char *text = cri_ctr_record_format(c);
    assert_string_equal(text, ctr_record_on_disk);
    free(text);
    cri_ctr_unref(c);
}

/* text with key removed (or, with value, set to that raw JSON). */
static char *edit_record(const char *text, const char *key, const char *value)
{
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    cJSON_DeleteItemFromObject(j, key);
    if (value)
        cJSON_AddItemToObject(j, key, cJSON_Parse(value));
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static void test_ctr_refused(void **state)
{
    (void)state;
    struct ctr *c = sample_ctr();
    char *text = cri_ctr_record_format(c);
    static const struct {
        const char *key, *value; /* value NULL: the key is missing */
    } bad[] = {
        {"id", NULL},
        {"id", "\"\""},
        {"config", NULL},
        {"config", "\"not base64!\""},
        {"config", "\"\""},         /* an empty config: no metadata */
        {"config", "\"/////w==\""}, /* not a ContainerConfig */
        {"config", "\"EgA=\""},     /* a ContainerConfig without metadata */
        {"config", "42"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *edited = edit_record(text, bad[i].key, bad[i].value);
        struct ctr *d = cri_ctr_record_parse(&test_cri, edited);
        if (d)
            fail_msg("record with %s=%s was read", bad[i].key, bad[i].value);
        free(edited);
    }
    assert_null(cri_ctr_record_parse(&test_cri, "{\"id\":"));
    assert_null(cri_ctr_record_parse(&test_cri, ""));
    free(text);
    cri_ctr_unref(c);
}

static struct pod *sample_pod(void)
{
    Runtime__V1__PodSandboxMetadata md = RUNTIME__V1__POD_SANDBOX_METADATA__INIT;
    md.name = "web";
    md.namespace_ = "default";
    md.uid = "u-1";
    md.attempt = 1;
    Runtime__V1__NamespaceOption ns = RUNTIME__V1__NAMESPACE_OPTION__INIT;
    ns.ipc = RUNTIME__V1__NAMESPACE_MODE__NODE;
    ns.pid = RUNTIME__V1__NAMESPACE_MODE__POD;
    Runtime__V1__LinuxSandboxSecurityContext sc; /* its INIT names a deprecated field */
    runtime__v1__linux_sandbox_security_context__init(&sc);
    sc.namespace_options = &ns;
    Runtime__V1__LinuxPodSandboxConfig linux_cfg = RUNTIME__V1__LINUX_POD_SANDBOX_CONFIG__INIT;
    linux_cfg.security_context = &sc;
    linux_cfg.cgroup_parent = "/kubepods";
    Runtime__V1__PodSandboxConfig cfg = RUNTIME__V1__POD_SANDBOX_CONFIG__INIT;
    cfg.metadata = &md;
    cfg.hostname = "web-0";
    cfg.log_directory = "/var/log/pods/x";
    cfg.linux = &linux_cfg;

    struct pod *p = xcalloc(1, sizeof(*p));
    p->id = xstrdup(POD_ID);
    p->created_at = T_CREATED;
    p->state = POD_READY;
    p->handler = xstrdup("runc");
    p->config = cri_pod_config_copy(&cfg, &p->config_b64);
    p->run_dir = xstrdup("/run/pods/" POD_ID);
    p->pinned = NETWORK_NS_NET | NETWORK_NS_UTS;
    p->shm_mounted = true;
    p->infra_pid = 31337;
    p->cgroup_parent = xstrdup("/kubepods");
    p->n_cgroups_created = 1;
    p->cgroups_created = xcalloc(2, sizeof(char *));
    p->cgroups_created[0] = xstrdup("/sys/fs/cgroup/kubepods");
    p->network_added = true;
    p->att.conflist = xstrdup("{\"name\":\"net\"}");
    p->att.result = xstrdup("{\"ips\":[]}");
    p->att.n_ips = 2;
    p->att.ips = xcalloc(3, sizeof(char *));
    p->att.ips[0] = xstrdup("10.88.0.5");
    p->att.ips[1] = xstrdup("fd00::5");
    cri_pod_namespaces_read(p);
    return p;
}

static void test_pod_round_trip(void **state)
{
    (void)state;
    struct pod *p = sample_pod();
    assert_true(p->host_ipc);
    assert_true(p->pod_pid);
    assert_false(p->host_network);
    char *text = cri_pod_record_format(p);
    struct pod *q = cri_pod_record_parse(&test_cri, text);
    assert_non_null(q);
    assert_ptr_equal(q->cri, &test_cri);
    assert_string_equal(q->id, p->id);
    assert_int_equal(q->created_at, p->created_at);
    assert_int_equal(q->state, p->state);
    assert_string_equal(q->handler, p->handler);
    assert_string_equal(q->config_b64, p->config_b64);
    assert_same_message(&q->config->base, &p->config->base);
    assert_string_equal(q->run_dir, p->run_dir);
    assert_int_equal(q->pinned, p->pinned);
    assert_int_equal(q->host_network, p->host_network);
    assert_int_equal(q->host_ipc, p->host_ipc);
    assert_int_equal(q->host_pid, p->host_pid);
    assert_int_equal(q->pod_pid, p->pod_pid);
    assert_int_equal(q->shm_mounted, p->shm_mounted);
    assert_int_equal(q->infra_pid, p->infra_pid);
    assert_string_equal(q->cgroup_parent, p->cgroup_parent);
    assert_int_equal(q->n_cgroups_created, 1);
    assert_string_equal(q->cgroups_created[0], p->cgroups_created[0]);
    assert_true(q->network_added);
    assert_string_equal(q->att.conflist, p->att.conflist);
    assert_string_equal(q->att.result, p->att.result);
    assert_int_equal(q->att.n_ips, 2);
    assert_string_equal(q->att.ips[0], p->att.ips[0]);
    assert_string_equal(q->att.ips[1], p->att.ips[1]);
    char *again = cri_pod_record_format(q);
    assert_string_equal(again, text);
    free(again);
    free(text);
    cri_pod_free(p);
    cri_pod_free(q);
}

/* Without its network, a pod's record has no CNI fields, and reads back without them. */
static void test_pod_without_network(void **state)
{
    (void)state;
    struct pod *p = sample_pod();
    p->network_added = false;
    p->state = POD_NOTREADY;
    char *text = cri_pod_record_format(p);
    assert_null(strstr(text, "cni_config"));
    struct pod *q = cri_pod_record_parse(&test_cri, text);
    assert_non_null(q);
    assert_int_equal(q->state, POD_NOTREADY);
    assert_false(q->network_added);
    assert_null(q->att.conflist);
    assert_int_equal(q->att.n_ips, 0);
    free(text);
    cri_pod_free(p);
    cri_pod_free(q);
}

static void test_pod_refused(void **state)
{
    (void)state;
    struct pod *p = sample_pod();
    char *text = cri_pod_record_format(p);
    static const struct {
        const char *key, *value; /* value NULL: the key is missing */
    } bad[] = {
        {"id", NULL},
        {"id", "\"0123\""}, /* not 64 characters */
        {"id", "7"},
        {"state", NULL},
        {"runtime_handler", NULL},
        {"config", NULL},
        {"config", "\"not base64!\""},
        {"config", "\"\""},         /* no metadata */
        {"config", "\"/////w==\""}, /* not a PodSandboxConfig */
        {"config", "true"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *edited = edit_record(text, bad[i].key, bad[i].value);
        struct pod *q = cri_pod_record_parse(&test_cri, edited);
        if (q)
            fail_msg("record with %s=%s was read", bad[i].key, bad[i].value);
        free(edited);
    }
    assert_null(cri_pod_record_parse(&test_cri, "[1,2"));
    free(text);
    cri_pod_free(p);
}

static void test_record_paths(void **state)
{
    (void)state;
    char *a = cri_ctr_record_path(&test_cri, "c1");
    char *b = cri_pod_record_path(&test_cri, "p1");
    assert_string_equal(a, "/r/containers/c1.json");
    assert_string_equal(b, "/r/pods/p1.json");
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctr_round_trip),      cmocka_unit_test(test_ctr_format_unchanged),
        cmocka_unit_test(test_ctr_refused),         cmocka_unit_test(test_pod_round_trip),
        cmocka_unit_test(test_pod_without_network), cmocka_unit_test(test_pod_refused),
        cmocka_unit_test(test_record_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
