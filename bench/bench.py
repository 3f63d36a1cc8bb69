#!/usr/bin/python3
"""`make bench`: the same workloads through the same CRI client against cribd and Debian's
containerd (CRI plugin, runc v2 shims) on this machine, interleaved round by round, and one table
of medians (min..max over the rounds) with the ratio crib/containerd.

Workloads (this harness's first rows; more follow):
  pod start     RunPodSandbox + CreateContainer + StartContainer, sequential: p50/p99, and the
                medians of each step and of Create+Start;
  footprint     Pss and Rss summed over the runtime's own processes (crib: its command, keeper,
                daemon and helpers; containerd: the daemon and its shims), idle and with running
                pods;
  teardown      StopContainer + RemoveContainer, and StopPodSandbox + RemovePodSandbox: p50/p99;
  concurrent    10 clients starting pods at once: pods/s and p99;
  rpc latency   with the concurrent step's pods running: ListContainers, ContainerStatus,
                ListPodSandbox, ListContainerStats: p50/p99;
  steady state  the daemon's CPU seconds while a client polls as the kubelet does;
  logs          a container writing lines as fast as it can: MB/s into the CRI log, and the
                runtime's CPU seconds per MB (containerd: the daemon and the container's shim);
  exec          ExecSync of `echo`, and the same through Exec over a WebSocket: p50/p99.

Needs root, runc, the CNI plugins, busybox-static and containerd (packaging/install-deps.sh
--bench installs them). usage: bench/bench.py [--cribd PATH] [--rounds N] [--pods N]
[--concurrent N] [--poll-seconds S] [--log-mb N] [--exec-runs N] [--out FILE]
"""
import argparse
import concurrent.futures
import datetime
import os
import platform
import statistics
import sys
import time

from benchlib import (TOP, Containerd, Cribd, daemon_cpu_seconds, kubelet_poll, pct, pss_rss_kib,
                      remove_cgroups, ws_channel)

SLEEP = ["/bin/sleep", "3600"]


def ms_pct(v):
    return pct(v, 0.5), pct(v, 0.99)


def footprint(rt, out, label):
    pss, rss = pss_rss_kib(rt.processes())
    out[f"footprint {label}: Pss (MB)"] = pss / 1024
    out[f"footprint {label}: Rss (MB)"] = rss / 1024


def teardown(rt, out, prefix=None):
    """Remove every pod: containers first, timed, then the pods."""
    pb = rt.pb
    stop_rm, pod_rm = [], []
    for pid in list(rt.pods):
        cids = [c.id for c in rt.call("ListContainers", pb.ListContainersRequest(
            filter=pb.ContainerFilter(pod_sandbox_id=pid))).containers]
        for cid in cids:
            t0 = time.perf_counter()
            rt.call("StopContainer", pb.StopContainerRequest(container_id=cid, timeout=0))
            rt.call("RemoveContainer", pb.RemoveContainerRequest(container_id=cid))
            stop_rm.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        rt.call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pid))
        rt.call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pid))
        pod_rm.append(time.perf_counter() - t0)
    rt.pods.clear()
    if prefix:
        out[f"{prefix} StopContainer+RemoveContainer p50 (ms)"], \
            out[f"{prefix} StopContainer+RemoveContainer p99 (ms)"] = ms_pct(stop_rm)
        out[f"{prefix} StopPodSandbox+RemovePodSandbox p50 (ms)"], \
            out[f"{prefix} StopPodSandbox+RemovePodSandbox p99 (ms)"] = ms_pct(pod_rm)


def pod_start(rt, a, out, cg):
    rt.steps.clear()
    lat = []
    for i in range(a.pods):
        lat.append(rt.run(SLEEP, cgroup_root=cg)[2])
        if i + 1 in (10, 25, 50):
            footprint(rt, out, f"{i + 1} pods")
    out["pod start p50 (ms)"], out["pod start p99 (ms)"] = ms_pct(lat)
    for k, name in enumerate(("RunPodSandbox", "CreateContainer", "StartContainer")):
        out[f"pod start: {name} p50 (ms)"] = pct([s[k] for s in rt.steps], 0.5)
    out["pod start: CreateContainer+StartContainer p50 (ms)"] = pct(
        [s[1] + s[2] for s in rt.steps], 0.5)


def concurrent_start(rt, a, out, cg):
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        lat = list(ex.map(lambda _: rt.run(SLEEP, cgroup_root=cg)[2], range(a.concurrent)))
    wall = time.perf_counter() - t0
    out["concurrent start (10 clients): pods/s"] = a.concurrent / wall
    out["concurrent start (10 clients): p99 (ms)"] = pct(lat, 0.99)
    footprint(rt, out, f"{a.concurrent} pods")


def rpc_latency(rt, a, out):
    pb = rt.pb
    cid = rt.call("ListContainers", pb.ListContainersRequest()).containers[0].id
    calls = {"ListContainers": pb.ListContainersRequest(),
             "ContainerStatus": pb.ContainerStatusRequest(container_id=cid),
             "ListPodSandbox": pb.ListPodSandboxRequest(),
             "ListContainerStats": pb.ListContainerStatsRequest()}
    for name, req in calls.items():
        lat = []
        for _ in range(a.rpc_calls):
            t0 = time.perf_counter()
            rt.call(name, req)
            lat.append(time.perf_counter() - t0)
        out[f"{name} p50 (ms)"], out[f"{name} p99 (ms)"] = ms_pct(lat)


def steady_state(rt, a, out):
    out[f"steady state: daemon CPU s over {a.poll_seconds} s"] = kubelet_poll(rt, a.poll_seconds)


def runtime_cpu(rt):
    """CPU seconds of all the runtime's own processes (containerd's shims copy output)."""
    return sum(daemon_cpu_seconds(p) for p in rt.processes())


def logs(rt, a, out, cg):
    """A container writing a.log_mb MB of lines as fast as it can: MB/s into the CRI log, and
    the runtime's CPU seconds per MB."""
    lines = a.log_mb * 1000000 // 100  # 100-byte lines
    cmd = ["/bin/sh", "-c", f"yes {'x' * 98} | head -n {lines}"]
    cpu0 = runtime_cpu(rt)
    t0 = time.perf_counter()
    _, cid, _, log = rt.run(cmd, cgroup_root=cg)
    rt.wait_exit(cid)
    # Done once the log holds every line (crib's does when the exit is reported; containerd's
    # may lag): the time is taken before the count that finds them all.
    while True:
        took = time.perf_counter() - t0
        with open(log, "rb") as f:
            if sum(1 for _ in f) >= lines or took > 300:
                break
        time.sleep(0.05)
    mb = lines * 100 / 1e6
    out[f"logs ({a.log_mb} MB of lines): MB/s"] = mb / took
    out[f"logs ({a.log_mb} MB of lines): runtime CPU s per MB"] = (runtime_cpu(rt) - cpu0) / mb


def exec_rows(rt, a, out, cg):
    """ExecSync of `echo`, and the same through Exec over a WebSocket (v4.channel.k8s.io)."""
    import websocket
    pb = rt.pb
    _, cid, _, _ = rt.run(SLEEP, cgroup_root=cg)
    sync, ws_lat = [], []
    for _ in range(a.exec_runs):
        t0 = time.perf_counter()
        r = rt.call("ExecSync", pb.ExecSyncRequest(container_id=cid, cmd=["echo", "hi"],
                                                     timeout=10))
        sync.append(time.perf_counter() - t0)
        assert r.stdout == b"hi\n", r
    for _ in range(a.exec_runs):
        t0 = time.perf_counter()
        url = rt.call("Exec", pb.ExecRequest(container_id=cid, cmd=["echo", "hi"],
                                             stdout=True)).url
        ws = websocket.create_connection(url.replace("http", "ws", 1),
                                         subprotocols=["v4.channel.k8s.io"], timeout=30)
        got = ws_channel(ws, 1)
        ws.close()
        ws_lat.append(time.perf_counter() - t0)
        assert got == b"hi\n", got
    out["ExecSync echo p50 (ms)"], out["ExecSync echo p99 (ms)"] = ms_pct(sync)
    out["Exec over WebSocket echo p50 (ms)"], out["Exec over WebSocket echo p99 (ms)"] = \
        ms_pct(ws_lat)


def round_of(rt, a, cg):
    out = {}
    footprint(rt, out, "idle")
    pod_start(rt, a, out, cg)
    teardown(rt, out, "teardown:")
    concurrent_start(rt, a, out, cg)
    rpc_latency(rt, a, out)
    steady_state(rt, a, out)
    teardown(rt, out)
    logs(rt, a, out, cg)
    exec_rows(rt, a, out, cg)
    teardown(rt, out)
    return out


def fmt(v):
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def table(results, rounds):
    """Markdown: figure | crib | containerd | crib/containerd; median (min..max)."""
    lines = ["| figure | crib | containerd | crib/containerd |", "|---|---|---|---|"]
    keys = list(results["crib"][0].keys())
    for k in keys:
        cells, meds = [], []
        for rt in ("crib", "containerd"):
            vals = [r[k] for r in results[rt] if k in r]
            if not vals:
                cells.append("-")
                meds.append(None)
                continue
            med = statistics.median(vals)
            meds.append(med)
            cells.append(fmt(med) if rounds == 1 else
                         f"{fmt(med)} ({fmt(min(vals))}..{fmt(max(vals))})")
        ratio = f"{meds[0] / meds[1]:.2f}" if None not in meds and meds[1] else "-"
        lines.append(f"| {k} | {cells[0]} | {cells[1]} | {ratio} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cribd", default=os.path.join(TOP, "cribd"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--concurrent", type=int, default=100)
    ap.add_argument("--rpc-calls", type=int, default=100)
    ap.add_argument("--poll-seconds", type=int, default=60)
    ap.add_argument("--log-mb", type=int, default=200)
    ap.add_argument("--exec-runs", type=int, default=30)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    results = {"crib": [], "containerd": []}
    root = f"/bench-{os.getpid()}"
    try:
        with Cribd(a.cribd, "crib") as crib, Containerd() as ctrd:
            for r in range(a.rounds):
                # A B, then B A: neither runtime always runs on a cooler machine
                order = [("crib", crib), ("containerd", ctrd)]
                for name, rt in (order if r % 2 == 0 else order[::-1]):
                    print(f"round {r + 1}/{a.rounds}: {name}", file=sys.stderr)
                    results[name].append(round_of(rt, a, f"{root}/{name}"))
    finally:
        remove_cgroups(root)
    when = datetime.date.today().isoformat()
    head = (f"crib vs containerd, {when}, {platform.node()}: {os.cpu_count()} cores, kernel "
            f"{platform.release()}; {a.rounds} rounds, median (min..max); pod start "
            f"{a.pods} pods, concurrent start {a.concurrent} pods\n\n")
    text = head + table(results, a.rounds) + "\n"
    print(text)
    out = a.out or os.path.join(TOP, "bench", "results", f"{when}.md")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
