"""Prometheus metrics: a real Prometheus server (Debian's) scrapes cribd's endpoint; the test reads
crib's counters back through Prometheus's HTTP API, and promtool checks the exposition."""
import gzip
import json
import subprocess
import time
import urllib.parse
import urllib.request

import pytest

from registry import free_port
from test_containers import Env, layouts  # noqa: F401 (fixture)
from test_http1 import http_get
from test_pods import net_cribd  # noqa: F401 (fixture)
from test_streaming import exec_url, ws_connect, ws_exec

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
CONFIG = "[crib.metrics]\nenable_metrics = true\nmetrics_port = 0\n"


class Prometheus:
    def __init__(self, tmp, target):
        self.port = free_port()
        conf = tmp / "prometheus.yml"
        conf.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        "scrape_configs:\n  - job_name: crib\n    static_configs:\n"
                        f"      - targets: ['{target}']\n")
        self.log = open(tmp / "prometheus.log", "w")
        self.proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={conf}", f"--storage.tsdb.path={tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def query(self, expr):
        url = (f"http://127.0.0.1:{self.port}/api/v1/query?" +
               urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return {tuple(sorted(x["metric"].items())): float(x["value"][1])
                for x in body["data"]["result"]}

    def wait_value(self, expr, ok, timeout=60):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.query(expr)
                if last and all(ok(v) for v in last.values()):
                    return last
            except OSError:
                pass  # not up yet
            time.sleep(0.5)
        raise AssertionError(f"{expr}: {last}")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()


@pytest.fixture
def metrics_env(net_cribd, pb, layouts, tmp_path):  # noqa: F811
    c = net_cribd(extra_config=CONFIG)
    e = Env(c, pb, layouts, str(tmp_path))
    yield e
    e.close()


def metrics_port(e):
    return json.loads(http_get(e.c.sock, "/info")[1])["metrics_port"]


def test_prometheus_scrapes_calls_pulls_and_oom_kills(metrics_env, tmp_path):
    e = metrics_env
    port = metrics_port(e)
    prom = Prometheus(tmp_path, f"127.0.0.1:{port}")
    try:
        pod = e.pod(name="prom")
        linux = e.pb.LinuxContainerConfig(
            resources=e.pb.LinuxContainerResources(memory_limit_in_bytes=16 << 20,
                                                   memory_swap_limit_in_bytes=16 << 20))
        oom = e.run(pod, ["/bin/busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M",
                          "count=1"], name="hog", linux=linux)
        assert e.wait_exit(oom).reason == "OOMKilled"
        sleeper = e.run(pod, ["sleep", "600"], name="sleeper")
        assert ws_exec(e, sleeper, ["echo", "hi"]).text(1) == "hi\n"
        held = ws_connect(exec_url(e, sleeper, ["sleep", "600"]))  # open while scraped
        with pytest.raises(Exception):
            e.cli.unary("ContainerStatus", container_id="f" * 64)
        got = prom.wait_value('crib_operations_total{operation="RunPodSandbox"}', lambda v: v >= 1)
        assert list(got.values()) == [1.0]
        prom.wait_value("crib_containers_oom_total", lambda v: v >= 1)
        by_name = prom.wait_value("crib_containers_oom_count_total", lambda v: v >= 1)
        assert [dict(k)["name"] for k in by_name] == ["hog"]
        errs = prom.wait_value('crib_operations_errors_total{operation="ContainerStatus"}',
                               lambda v: v >= 1)
        assert [dict(k)["code"] for k in errs] == ["NOT_FOUND"]
        lat = prom.wait_value(
            'crib_operations_latency_seconds_count{operation="CreateContainer"}', lambda v: v >= 2)
        assert list(lat.values()) == [2.0]  # hog and sleeper
        cni = prom.wait_value('crib_cni_operation_latency_seconds_count{operation="ADD"}',
                              lambda v: v >= 1)
        assert list(cni.values()) == [1.0]
        states = prom.wait_value("crib_containers", lambda v: v >= 0)
        assert {dict(k)["state"]: v for k, v in states.items()}["exited"] == 1
        prom.wait_value("crib_process_resident_memory_bytes", lambda v: v > 1 << 20)
        prom.wait_value("crib_process_open_fds", lambda v: v > 3)
        prom.wait_value("up", lambda v: v == 1)
        prom.wait_value('crib_stream_sessions_total{kind="exec"}', lambda v: v == 2)
        prom.wait_value('crib_stream_sessions{kind="exec"}', lambda v: v == 1)
        held.close()
        prom.wait_value('crib_stream_sessions{kind="exec"}', lambda v: v == 0)
    finally:
        prom.stop()
    # The exposition is valid as promtool reads it, on the CRI socket as on TCP
    status, body = http_get(e.c.sock, "/metrics")
    assert status == 200
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True)
    assert r.returncode == 0, r.stdout + r.stderr
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        tcp = resp.read()
    assert b"# TYPE crib_operations_total counter" in tcp
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
    assert err.value.code == 404


def samples(text, name):
    """{labels text: value} of one metric in an exposition."""
    out = {}
    for line in text.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            key, value = line.rsplit(" ", 1)
            out[key[len(name):]] = float(value)
    return out


def test_pull_counters(cribd_factory, pb, tmp_path):
    """A pull from the test registry counts its bytes and its success; a missing image is a
    failure by reason; pulling another image on the same layer reuses it."""
    from conftest import Cri
    from registry import Registry, busybox_layer, push_image
    from test_images import pull, registries_conf
    reg = Registry(str(tmp_path / "reg"))
    try:
        layer = busybox_layer()
        push_image(reg, "m/one", "v1", [layer])
        push_image(reg, "m/two", "v1", [layer], config={"User": "7"})
        conf = registries_conf(tmp_path, reg)
        c = cribd_factory(f'[crib.image]\nregistries_conf = "{conf}"\n' + CONFIG)
        ch = c.channel()
        cli = Cri(ch, pb)
        pull(cli, f"{reg.host}/m/one:v1")
        with pytest.raises(Exception):
            pull(cli, f"{reg.host}/m/missing:v1")
        pull(cli, f"{reg.host}/m/two:v1")
        ch.close()
        body = http_get(c.sock, "/metrics")[1]
        assert samples(body, "crib_image_pulls_success_total") == {"": 2}
        # The one download of the layer blob, as pushed (gzip)
        assert samples(body, "crib_image_pulls_bytes_total") == {
            "": len(gzip.compress(layer, mtime=0))}
        assert samples(body, "crib_image_layer_reuse_total") == {"": 1}
        fails = samples(body, "crib_image_pulls_failure_total")
        assert fails['{reason="not_found"}'] == 1 and sum(fails.values()) == 1
        assert samples(body, "crib_operations_total")['{operation="PullImage"}'] == 3
    finally:
        reg.stop()


def test_metrics_off_by_default(net_cribd):  # noqa: F811
    c = net_cribd()
    status, _ = http_get(c.sock, "/metrics")
    assert status == 404
    assert "metrics_port" not in json.loads(http_get(c.sock, "/info")[1])
