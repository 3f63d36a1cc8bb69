#!/usr/bin/python3
"""Benchmark: containers with real runc and the CNI bridge.

- RunPodSandbox + CreateContainer + StartContainer latency (p50/p99),
- StopContainer of a process that exits on SIGTERM,
- log throughput: lines/s and MB/s into the CRI log file, and cribd's CPU per MB,
- cribd's RSS with N running containers, next to conmon's (Debian's conmon, the per-container
  monitor CRI-O runs, measured on this machine with one container).

Needs root, runc, busybox-static, the CNI plugins; conmon for the comparison.
usage: bench/ctr_bench.py [--cribd PATH] [--containers N]
"""
import argparse
import json
import os
import shutil
import subprocess
import time

from benchlib import TOP, Cribd, pct, status_kib


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def conmon_rss(d):
    """One conmon monitoring one runc container (a sleep), as CRI-O runs it."""
    conmon = shutil.which("conmon")
    if not conmon:
        return None
    from registry import busybox_layer
    import io
    import tarfile
    bundle = f"{d}/conmon-bundle"
    os.makedirs(f"{bundle}/rootfs")
    with tarfile.open(fileobj=io.BytesIO(busybox_layer())) as t:
        t.extractall(f"{bundle}/rootfs")
    subprocess.run(["runc", "spec"], cwd=bundle, check=True)
    with open(f"{bundle}/config.json") as f:
        spec = json.load(f)
    spec["process"]["args"] = ["/bin/sleep", "60"]
    spec["process"]["terminal"] = False
    with open(f"{bundle}/config.json", "w") as f:
        json.dump(spec, f)
    cid = f"crib-bench-conmon-{os.getpid()}"
    pidfile = f"{d}/conmon.pid"
    subprocess.run([conmon, "--cid", cid, "--cuuid", cid, "--name", cid, "--runtime",
                    shutil.which("runc"), "--bundle", bundle, "--log-path", f"{d}/conmon.log",
                    "--exit-dir", d, "--socket-dir-path", d, "--container-pidfile",
                    f"{d}/ctr.pid", "--conmon-pidfile", pidfile, "--syslog"],
                   check=True, timeout=30)
    time.sleep(1)
    pid = int(open(pidfile).read())
    rss, pss = status_kib(pid), 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    subprocess.run(["runc", "delete", "--force", cid], capture_output=True)
    return rss, pss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cribd", default=os.path.join(TOP, "cribd"))
    ap.add_argument("--containers", type=int, default=100)
    a = ap.parse_args()
    with Cribd(a.cribd, "ctrs") as bench:
        measure(a, bench)


def measure(a, bench):
    pb, call, run, wait_exit, d = bench.pb, bench.call, bench.run, bench.wait_exit, bench.d
    daemon = bench.daemon_pid()  # not the command: it runs the keeper, which runs the daemon
    run(["/bin/true"])  # warm up
    started = [run(["/bin/sleep", "600"]) for _ in range(30)]
    lat = [x[2] for x in started]
    print(f"RunPodSandbox+CreateContainer+StartContainer: p50 {pct(lat, .5):.1f} ms, "
          f"p99 {pct(lat, .99):.1f} ms ({len(lat)} pods)")
    stops = []
    for _ in range(10):
        _, cid, _, _ = run(["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"])
        time.sleep(0.2)
        t0 = time.perf_counter()
        call("StopContainer", pb.StopContainerRequest(container_id=cid, timeout=30))
        stops.append(time.perf_counter() - t0)
    print(f"StopContainer (exits on SIGTERM): p50 {pct(stops, .5):.1f} ms, "
          f"p99 {pct(stops, .99):.1f} ms")
    n_lines = 1000000
    cpu0 = cpu_seconds(daemon)
    t0 = time.perf_counter()
    _, cid, _, log = run(["/bin/busybox", "seq", "1", str(n_lines)])
    wait_exit(cid)
    took = time.perf_counter() - t0
    cpu = cpu_seconds(daemon) - cpu0
    mb = os.path.getsize(log) / 1e6
    payload = sum(len(str(i)) + 1 for i in range(1, n_lines + 1)) / 1e6
    print(f"logs: {n_lines} lines ({payload:.1f} MB of output, {mb:.1f} MB of CRI log) in "
          f"{took:.2f} s: {n_lines / took:,.0f} lines/s, {payload / took:.1f} MB/s; cribd CPU "
          f"{cpu:.2f} s = {cpu / payload * 1000:.0f} ms per MB")
    while len(started) < a.containers:
        started.append(run(["/bin/sleep", "600"]))
    time.sleep(1)
    rss = status_kib(daemon)
    print(f"cribd RSS with {len(started)} running containers: {rss} KiB "
          f"({rss / len(started):.0f} KiB per container incl. the daemon)")
    cm = conmon_rss(d)
    if cm:
        print(f"conmon (Debian) for one container: RSS {cm[0]} KiB, PSS {cm[1]} KiB; "
              f"{len(started)} containers = {cm[0] * len(started)} KiB RSS, "
              f"{cm[1] * len(started)} KiB PSS of monitors alone")


if __name__ == "__main__":
    main()
