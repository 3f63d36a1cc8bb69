#!/usr/bin/python3
"""Benchmark: the stats calls the kubelet makes, crib beside containerd in the same run.

- ListContainerStats and ListPodSandboxStats latency (p50/p99) with N pods of one running
  container each;
- the daemon's CPU seconds over a polling window in which a client calls as the kubelet does:
  ListPodSandbox + ListContainers every second, ListContainerStats + ListPodSandboxStats +
  ImageFsInfo every 10 s (the daemon's own process: containerd's shims take no part in stats).

Needs root, runc, busybox-static, the CNI plugins, Debian's containerd for the comparison.
usage: bench/stats_bench.py [--cribd PATH] [--pods N] [--seconds S] [--calls K] [--no-containerd]
"""
import argparse
import json
import time

import os

from benchlib import Containerd, Cribd, kubelet_poll, pct, remove_cgroups


def latencies(rt, method, k):
    req = getattr(rt.pb, method + "Request")()
    out = []
    for _ in range(k):
        t0 = time.perf_counter()
        rt.call(method, req)
        out.append(time.perf_counter() - t0)
    return out


def measure(rt, pods, seconds, calls, cgroup_root):
    for _ in range(pods):
        rt.run(["/bin/sleep", "3600"], cgroup_root=cgroup_root)
    n = len(rt.call("ListContainerStats", rt.pb.ListContainerStatsRequest()).stats)
    assert n == pods, f"{n} containers have stats, not {pods}"
    time.sleep(2)
    lcs = latencies(rt, "ListContainerStats", calls)
    lps = latencies(rt, "ListPodSandboxStats", calls)
    cpu = kubelet_poll(rt, seconds)
    return {"ListContainerStats_ms": {"p50": pct(lcs, 0.5), "p99": pct(lcs, 0.99)},
            "ListPodSandboxStats_ms": {"p50": pct(lps, 0.5), "p99": pct(lps, 0.99)},
            "poll_cpu_seconds": cpu, "poll_seconds": seconds, "pods": pods}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cribd", default="build/gcc/cribd")
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--no-containerd", action="store_true")
    a = ap.parse_args()
    out = {}
    # Pod cgroup parents as the kubelet's cgroupfs driver gives them (containerd's pod stats
    # need one)
    root = f"/bench-stats-{os.getpid()}"
    try:
        with Cribd(a.cribd, "stats") as rt:
            out["crib"] = measure(rt, a.pods, a.seconds, a.calls, root + "/crib")
        if not a.no_containerd:
            with Containerd() as rt:
                out["containerd"] = measure(rt, a.pods, a.seconds, a.calls, root + "/ctrd")
    finally:
        remove_cgroups(root)
    if not a.no_containerd:
        out["cpu_ratio_crib_to_containerd"] = (out["crib"]["poll_cpu_seconds"] /
                                               max(out["containerd"]["poll_cpu_seconds"], 1e-9))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
