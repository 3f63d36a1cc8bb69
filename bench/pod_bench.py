#!/usr/bin/python3
"""Benchmark: RunPodSandbox latency (sequential and 10 at a time), StopPodSandbox +
RemovePodSandbox latency, and cribd's RSS with 100 pods, with the real CNI bridge and host-local
plugins. Needs root.

usage: bench/pod_bench.py [--cribd PATH] [--pods N]
"""
import argparse
import concurrent.futures
import os
import time

from benchlib import TOP, Cribd, pct, status_kib


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cribd", default=os.path.join(TOP, "cribd"))
    ap.add_argument("--pods", type=int, default=100)
    a = ap.parse_args()
    with Cribd(a.cribd, "pods") as b:
        measure(a, b)


def measure(a, b):
    pb, call = b.pb, b.call
    counter = iter(range(10**6))

    def run_pod():
        i = next(counter)
        cfg = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(
            name=f"p{i}", namespace="bench", uid=f"u{i}"), hostname=f"p{i}")
        t0 = time.perf_counter()
        pid = call("RunPodSandbox", pb.RunPodSandboxRequest(config=cfg)).pod_sandbox_id
        return pid, time.perf_counter() - t0

    def remove(pid):
        t0 = time.perf_counter()
        call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pid))
        call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pid))
        return time.perf_counter() - t0

    run_pod()  # warm up (bridge creation)
    seq = [run_pod() for _ in range(30)]
    conc = []
    with concurrent.futures.ThreadPoolExecutor(10) as ex:
        for _ in range(3):
            conc += list(ex.map(lambda _: run_pod(), range(10)))
    ids = [x[0] for x in seq + conc]
    while len(ids) < a.pods:
        ids.append(run_pod()[0])
    time.sleep(1)
    rss = status_kib(b.daemon_pid())  # the daemon, not its keeper
    rm = [remove(pid) for pid in ids]
    print(f"RunPodSandbox sequential: p50 {pct([t for _, t in seq], .5):.1f} ms, "
          f"p99 {pct([t for _, t in seq], .99):.1f} ms ({len(seq)} pods)")
    print(f"RunPodSandbox 10 concurrent: p50 {pct([t for _, t in conc], .5):.1f} ms, "
          f"p99 {pct([t for _, t in conc], .99):.1f} ms ({len(conc)} pods)")
    print(f"StopPodSandbox+RemovePodSandbox: p50 {pct(rm, .5):.1f} ms, p99 {pct(rm, .99):.1f} ms")
    print(f"cribd RSS with {len(ids)} pods: {rss} KiB")


if __name__ == "__main__":
    main()
