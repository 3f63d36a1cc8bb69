"""Container and pod stats: CPU, memory, the writable layer and the pod's network as the kubelet
reads them, checked against the cgroup's own files (v1 here, v2 in the VM lane), and the filters."""
import os
import time
import urllib.request

import grpc
import pytest

from conftest import CGROUP_MANAGER
from test_cgroups import cgroup_file
from test_containers import IMAGE, Env, cgroup_v2, env, layouts  # noqa: F401 (fixtures)
from test_pods import net_cribd  # noqa: F401 (fixture)

SLEEP = ["/bin/sleep", "600"]
MB = 1 << 20


def stats(env, cid):
    return env.cli.unary("ContainerStats", container_id=cid).stats


def listed(env, **flt):
    return {s.attributes.id: s for s in env.cli.unary(
        "ListContainerStats", filter=env.pb.ContainerStatsFilter(**flt)).stats}


def test_cpu_of_a_busy_and_an_idle_container(env):
    pod = env.pod()
    busy = env.run(pod, ["/bin/sh", "-c", "while :; do :; done"], name="busy")
    idle = env.run(pod, SLEEP, name="idle")
    first = listed(env)
    time.sleep(1)
    second = listed(env)
    for cid in (busy, idle):
        a, b = first[cid].cpu, second[cid].cpu
        assert b.timestamp - a.timestamp >= 0.9e9
        assert b.usage_core_nano_seconds.value >= a.usage_core_nano_seconds.value
        assert b.HasField("usage_nano_cores"), b
    assert 0.5e9 <= second[busy].cpu.usage_nano_cores.value <= 1.2e9, second[busy].cpu
    assert second[idle].cpu.usage_nano_cores.value < 0.05e9, second[idle].cpu
    # usage_core_nano_seconds is the cgroup's own counter
    if cgroup_v2():
        usec = [int(l.split()[1]) for l in open(cgroup_file(env, busy, "cpu", "cpu.stat"))
                if l.startswith("usage_usec ")][0]
        ns_file = usec * 1000
    else:
        ns_file = int(open(cgroup_file(env, busy, "cpuacct", "cpuacct.usage")).read())
    got = stats(env, busy).cpu.usage_core_nano_seconds.value
    assert abs(got - ns_file) < 0.2e9, (got, ns_file)


def memory_files(env, cid):
    """(usage, working set) from the cgroup's files, as the kubelet defines the working set."""
    if cgroup_v2():
        usage = int(open(cgroup_file(env, cid, "memory", "memory.current")).read())
        key = "inactive_file"
        stat_file = cgroup_file(env, cid, "memory", "memory.stat")
    else:
        usage = int(open(cgroup_file(env, cid, "memory", "memory.usage_in_bytes")).read())
        key = "total_inactive_file"
        stat_file = cgroup_file(env, cid, "memory", "memory.stat")
    inactive = [int(l.split()[1]) for l in open(stat_file) if l.split()[0] == key][0]
    return usage, max(0, usage - inactive)


def test_memory_working_set_grows_and_agrees_with_the_cgroup(env):
    pod = env.pod()
    linux = env.pb.LinuxContainerConfig(
        resources=env.pb.LinuxContainerResources(memory_limit_in_bytes=256 * MB))
    cid = env.run(pod, SLEEP, linux=linux)
    before = stats(env, cid).memory
    r = env.cli.unary("ExecSync", container_id=cid, timeout=30,
                      cmd=["/bin/busybox", "dd", "if=/dev/zero", "of=/dev/shm/fill", "bs=1M",
                           "count=50"])
    assert r.exit_code == 0, r.stderr
    after = stats(env, cid).memory
    assert after.working_set_bytes.value >= before.working_set_bytes.value + 45 * MB, (before,
                                                                                         after)
    usage, ws = memory_files(env, cid)
    assert abs(after.usage_bytes.value - usage) < MB, (after, usage)
    assert abs(after.working_set_bytes.value - ws) < MB, (after, ws)
    assert after.available_bytes.value == 256 * MB - after.working_set_bytes.value
    assert after.page_faults.value > 0


def test_writable_layer_grows(env):
    pod = env.pod()
    cid = env.run(pod, SLEEP)
    before = stats(env, cid).writable_layer
    assert os.path.ismount(before.fs_id.mountpoint), before.fs_id.mountpoint
    r = env.cli.unary("ExecSync", container_id=cid, timeout=30,
                      cmd=["/bin/busybox", "dd", "if=/dev/urandom", "of=/big", "bs=1M",
                           "count=10"])
    assert r.exit_code == 0, r.stderr
    deadline = time.monotonic() + 10  # walks are cached for 2 s
    while (now := stats(env, cid).writable_layer).used_bytes.value < \
            before.used_bytes.value + 10 * MB:
        assert time.monotonic() < deadline, (before, now)
        time.sleep(0.5)
    assert now.inodes_used.value > before.inodes_used.value


def test_filters_exited_containers_and_unknown_ids(env):
    a = env.pod(name="a")
    b = env.pod(name="b")
    ca = env.run(a, SLEEP, name="ca", labels={"tier": "web"})
    cb = env.run(b, SLEEP, name="cb", labels={"tier": "db"})
    done = env.run(b, ["/bin/true"], name="done")
    env.wait_exit(done)
    assert set(listed(env)) == {ca, cb, done}
    assert set(listed(env, id=ca)) == {ca}
    assert set(listed(env, id=cb[:12])) == {cb}
    assert set(listed(env, pod_sandbox_id=b[0])) == {cb, done}
    assert set(listed(env, label_selector={"tier": "web"})) == {ca}
    assert set(listed(env, label_selector={"tier": "web"}, pod_sandbox_id=b[0])) == set()
    s = listed(env)[ca]
    assert s.attributes.metadata.name == "ca" and dict(s.attributes.labels) == {"tier": "web"}
    # An exited container: its attributes and writable layer; its cgroup is gone.
    d = stats(env, done)
    assert d.attributes.id == done and d.HasField("writable_layer")
    assert not d.HasField("cpu") and not d.HasField("memory")
    with pytest.raises(grpc.RpcError) as e:
        stats(env, "0" * 64)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "not found" in e.value.details()


def pod_parent(env, name):
    """A cgroup parent of the test's own: a slice under systemd, a path under cgroupfs."""
    if CGROUP_MANAGER == "systemd":
        return f"kubepods-besteffort-pod{name}{os.getpid()}.slice"
    return f"/crib-stats-{name}-{env.c.net_n}"


def pod_stats(env, pid):
    return env.cli.unary("PodSandboxStats", pod_sandbox_id=pid).stats


def test_pod_cpu_memory_processes_and_containers(env):
    pod = env.pod(name="sp", linux=env.pb.LinuxPodSandboxConfig(
        cgroup_parent=pod_parent(env, "sp")))
    busy = env.run(pod, ["/bin/sh", "-c", "while :; do :; done"], name="busy")
    idle = env.run(pod, SLEEP, name="idle")
    first = pod_stats(env, pod[0])
    time.sleep(1)
    s = pod_stats(env, pod[0])
    assert s.attributes.id == pod[0] and s.attributes.metadata.name == "sp"
    cpu = s.linux.cpu
    assert cpu.usage_core_nano_seconds.value > first.linux.cpu.usage_core_nano_seconds.value
    assert 0.5e9 <= cpu.usage_nano_cores.value <= 1.3e9, cpu
    assert s.linux.memory.working_set_bytes.value > 0
    assert s.linux.process.process_count.value >= 2
    assert {c.attributes.id for c in s.linux.containers} == {busy, idle}
    inner = {c.attributes.id: c for c in s.linux.containers}
    assert inner[busy].cpu.usage_core_nano_seconds.value <= cpu.usage_core_nano_seconds.value
    # Removed, the pod takes its cgroup parent along from every hierarchy (a hybrid's cgroup2,
    # where runc made the containers' cgroups below it, included).
    env.cli.unary("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=60)
    env.pods.remove(pod[0])
    if CGROUP_MANAGER == "cgroupfs":
        parent = pod_parent(env, "sp")
        mounts = [line.split()[1] for line in open("/proc/mounts")
                  if line.split()[2] in ("cgroup", "cgroup2")]
        assert [m for m in mounts if os.path.exists(m + parent)] == []


def fetch_busybox(ip):
    """/bin/busybox (over 1 MB) from the httpd a test runs in a pod on port 8080."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return urllib.request.urlopen(f"http://{ip}:8080/bin/busybox", timeout=5).read()
        except OSError:
            assert time.monotonic() < deadline, "httpd never answered"
            time.sleep(0.2)


def test_pod_network_counts_traffic(env):
    pod = env.pod(name="web")
    env.run(pod, ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/"], name="httpd")
    ip = env.cli.unary("PodSandboxStatus", pod_sandbox_id=pod[0]).status.network.ip
    before = pod_stats(env, pod[0]).linux.network
    assert before.default_interface.name == "eth0"
    assert [i.name for i in before.interfaces] == ["eth0"]  # lo is not reported
    body = fetch_busybox(ip)
    assert len(body) > MB
    after = pod_stats(env, pod[0]).linux.network
    assert after.timestamp > before.timestamp
    tx = after.default_interface.tx_bytes.value - before.default_interface.tx_bytes.value
    rx = after.default_interface.rx_bytes.value - before.default_interface.rx_bytes.value
    assert tx >= len(body) and rx > 0, (before, after)
    assert after.default_interface.rx_errors.value == 0


def test_pod_filters_and_unknown_ids(env):
    a = env.pod(name="a", labels={"app": "x"})
    b = env.pod(name="b", labels={"app": "y"})
    got = {s.attributes.id for s in env.cli.unary("ListPodSandboxStats").stats}
    assert got == {a[0], b[0]}

    def ids(**flt):
        req = env.pb.ListPodSandboxStatsRequest(filter=env.pb.PodSandboxStatsFilter(**flt))
        return {s.attributes.id for s in env.cli.unary("ListPodSandboxStats", req=req).stats}
    assert ids(id=a[0][:10]) == {a[0]}
    assert ids(label_selector={"app": "y"}) == {b[0]}
    assert ids(label_selector={"app": "z"}) == set()
    with pytest.raises(grpc.RpcError) as e:
        pod_stats(env, "f" * 64)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "not found" in e.value.details()


def test_streamed_stats_come_in_batches(env):
    # Three containers of ~400 KiB of annotations each: no batch holds more than 1 MiB of them
    # (one item at least), and together the batches hold every container once.
    pod = env.pod(name="many", labels={"app": "many"})
    big = {"note": "x" * (400 << 10)}
    ids = {env.run(pod, SLEEP, name=f"c{i}", annotations=big) for i in range(3)}
    msgs = list(env.cli.stream("StreamContainerStats", timeout=30,
                               filter=env.pb.ContainerStatsFilter(pod_sandbox_id=pod[0])))
    assert len(msgs) == 2, [len(m.container_stats) for m in msgs]
    got = [s.attributes.id for m in msgs for s in m.container_stats]
    assert sorted(got) == sorted(ids)
    assert all(m.ByteSize() <= (1 << 20) + (64 << 10) for m in msgs)
    assert all(s.HasField("cpu") for m in msgs for s in m.container_stats)
    pods = list(env.cli.stream("StreamPodSandboxStats", timeout=30,
                               filter=env.pb.PodSandboxStatsFilter(label_selector={"app": "many"})))
    assert [[p.attributes.id for p in m.pod_sandbox_stats] for m in pods] == [[pod[0]]]
    assert len(pods[0].pod_sandbox_stats[0].linux.containers) == 3
    # Nothing to send: the stream ends at once, with no message.
    assert list(env.cli.stream("StreamContainerStats", timeout=30,
                               filter=env.pb.ContainerStatsFilter(id="f" * 64))) == []


BASE_KEYS = ["id", "image", "namespace", "pod", "container"]


def descriptors(env):
    ds = env.cli.unary("ListMetricDescriptors").descriptors
    by_name = {d.name: list(d.label_keys) for d in ds}
    assert len(by_name) == len(ds)  # each name once
    return by_name


def check_labels(keys, metrics):
    """Every metric has exactly its descriptor's labels, and each label set once per name."""
    seen = set()
    for m in metrics:
        assert m.name in keys, m.name
        assert len(m.label_values) == len(keys[m.name]), m
        key = (m.name, tuple(m.label_values))
        assert key not in seen, key
        seen.add(key)


def by_name(metrics):
    out = {}
    for m in metrics:
        out.setdefault(m.name, []).append(m)
    return out


def test_pod_sandbox_metrics_as_the_kubelet_reads_them(env):
    keys = descriptors(env)
    for name in ("container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
                 "container_memory_rss", "container_network_receive_bytes_total",
                 "container_network_transmit_bytes_total", "container_fs_usage_bytes",
                 "container_processes", "container_oom_events_total", "container_last_seen"):
        assert keys[name][:5] == BASE_KEYS, (name, keys[name])
    assert keys["container_cpu_usage_seconds_total"] == BASE_KEYS + ["cpu"]
    assert keys["container_network_receive_bytes_total"] == BASE_KEYS + ["interface"]
    pod = env.pod(name="mp", ns="metrics-ns")
    quota = env.pb.LinuxContainerConfig(
        resources=env.pb.LinuxContainerResources(cpu_period=100000, cpu_quota=150000))
    busy = env.run(pod, ["/bin/sh", "-c", "while :; do :; done"], name="busy", linux=quota)
    web = env.run(pod, ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/"], name="web")
    gone = env.run(pod, ["true"], name="gone")
    env.wait_exit(gone)
    r = env.cli.unary("ExecSync", container_id=web, timeout=30,
                      cmd=["/bin/busybox", "dd", "if=/dev/zero", "of=/fill", "bs=1M", "count=3"])
    assert r.exit_code == 0, r.stderr
    ip = env.cli.unary("PodSandboxStatus", pod_sandbox_id=pod[0]).status.network.ip
    body = fetch_busybox(ip)
    time.sleep(1.2)  # the busy loop passes a whole CPU second
    t0 = time.time_ns()
    resp = env.cli.unary("ListPodSandboxMetrics")
    [pm] = [p for p in resp.pod_metrics if p.pod_sandbox_id == pod[0]]
    # Pod level: the network, one set per interface (lo left out)
    check_labels(keys, pm.metrics)
    net = by_name(pm.metrics)
    [tx] = net["container_network_transmit_bytes_total"]
    assert list(tx.label_values) == [pod[0], "", "metrics-ns", "mp", "POD", "eth0"]
    assert tx.value.value >= len(body) and tx.metric_type == env.pb.COUNTER
    assert net["container_network_receive_packets_total"][0].value.value > 0
    # Containers: those with a process or about to have one; an exited one is not there
    ctrs = {c.container_id: c for c in pm.container_metrics}
    assert set(ctrs) == {busy, web}
    for c in ctrs.values():
        check_labels(keys, c.metrics)
    b = by_name(ctrs[busy].metrics)
    [cpu] = b["container_cpu_usage_seconds_total"]
    assert list(cpu.label_values) == [busy, IMAGE, "metrics-ns", "mp", "busy", "total"]
    assert cpu.value.value >= 1 and cpu.metric_type == env.pb.COUNTER
    assert 0 < cpu.timestamp <= time.time_ns() and cpu.timestamp >= t0 - 5e9
    assert b["container_spec_cpu_quota"][0].value.value == 150000
    assert b["container_spec_cpu_period"][0].value.value == 100000
    assert b["container_processes"][0].value.value >= 1
    assert b["container_cpu_cfs_periods_total"][0].value.value > 0
    assert b["container_last_seen"][0].metric_type == env.pb.GAUGE
    w = by_name(ctrs[web].metrics)
    usage, ws = memory_files(env, web)
    got = w["container_memory_working_set_bytes"][0].value.value
    assert abs(got - ws) < 4 * MB, (got, ws)
    layer = stats(env, web).writable_layer.used_bytes.value
    assert w["container_fs_usage_bytes"][0].value.value == layer >= 3 * MB
    assert w["container_oom_events_total"][0].value.value == 0
    # The same, streamed
    msgs = list(env.cli.stream("StreamPodSandboxMetrics", timeout=30))
    streamed = [p for m in msgs for p in m.pod_sandbox_metrics]
    assert [p.pod_sandbox_id for p in streamed] == [p.pod_sandbox_id for p in resp.pod_metrics]
    assert {c.container_id for c in streamed[0].container_metrics} == {busy, web}


def test_included_pod_metrics_picks_the_sets(net_cribd, pb, layouts, tmp_path):
    c = net_cribd(extra_config='[crib.stats]\nincluded_pod_metrics = ["cpu", "network"]\n')
    e = Env(c, pb, layouts, str(tmp_path))
    try:
        keys = descriptors(e)
        assert "container_cpu_usage_seconds_total" in keys
        assert "container_network_receive_bytes_total" in keys
        assert "container_last_seen" in keys  # always
        assert not [k for k in keys if k.startswith("container_memory_") or
                    k.startswith("container_fs_") or k.startswith("container_spec_")]
        pod = e.pod(name="few")
        cid = e.run(pod, SLEEP)
        [pm] = e.cli.unary("ListPodSandboxMetrics").pod_metrics
        [cm] = pm.container_metrics
        assert cm.container_id == cid
        assert {m.name for m in cm.metrics} <= set(keys)
        assert "container_cpu_usage_seconds_total" in {m.name for m in cm.metrics}
    finally:
        e.close()


def test_stats_collection_period_serves_the_last_sample(net_cribd, pb, layouts, tmp_path):
    c = net_cribd(extra_config="[crib.stats]\nstats_collection_period = 2\n")
    e = Env(c, pb, layouts, str(tmp_path))
    try:
        pod = e.pod(name="cached")
        busy = e.run(pod, ["/bin/sh", "-c", "while :; do :; done"], name="busy")
        first = stats(e, busy).cpu
        time.sleep(0.5)
        again = stats(e, busy).cpu
        # Within the period: the same sample, though the container burnt CPU meanwhile
        assert again.timestamp == first.timestamp
        assert again.usage_core_nano_seconds.value == first.usage_core_nano_seconds.value
        time.sleep(2)
        fresh = stats(e, busy).cpu
        assert fresh.timestamp >= first.timestamp + 2e9
        assert 0.5e9 <= fresh.usage_nano_cores.value <= 1.2e9, fresh
        # Served again, the sample keeps its rate; the metrics come from the same sample
        cached = listed(e)[busy].cpu
        assert cached.timestamp == fresh.timestamp
        assert cached.usage_nano_cores.value == fresh.usage_nano_cores.value
        [pm] = e.cli.unary("ListPodSandboxMetrics").pod_metrics
        [cpu] = [m for m in pm.container_metrics[0].metrics
                 if m.name == "container_cpu_usage_seconds_total"]
        assert cpu.timestamp == fresh.timestamp
    finally:
        e.close()
