#!/usr/bin/python3
"""Benchmark: idle memory (RSS, PSS) and Version RPC latency/throughput of cribd, next to
containerd's CRI plugin run on the same machine in the same run. Prints figures and ratios.

usage: bench/version_bench.py [--cribd PATH] [--calls N] [--no-peer]
"""
import argparse
import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def gen_pb(out):
    subprocess.run(["protoc", f"-I{TOP}/proto", f"--python_out={out}",
                    f"{TOP}/proto/runtime.proto"], check=True)


def wait_socket(path, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args[0]} exited with {proc.returncode}")
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(path)
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{path}: nothing listening")


def memory(pid):
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            k, v = line.split(":", 1)
            if k == "Rss":
                rss = int(v.split()[0])
            elif k == "Pss":
                pss = int(v.split()[0])
    return rss, pss


def worker(args):
    sock, pbdir, calls = args
    sys.path.insert(0, pbdir)
    import grpc
    import runtime_pb2 as pb
    ch = grpc.insecure_channel(f"unix://{sock}")
    fn = ch.unary_unary("/runtime.v1.RuntimeService/Version",
                        request_serializer=lambda m: m.SerializeToString(),
                        response_deserializer=pb.VersionResponse.FromString)
    req = pb.VersionRequest(version="v1")
    for _ in range(20):
        fn(req, timeout=10)  # warm up
    lat = []
    start = time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        fn(req, timeout=10)
        lat.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    ch.close()
    return lat, elapsed


def measure(sock, pbdir, clients, calls):
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(worker, [(sock, pbdir, calls)] * clients)
    # Throughput over the measured loops only (not process start-up or warm-up).
    wall = max(e for _, e in results)
    lat = sorted(x for r, _ in results for x in r)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1e6
    return {"p50": p(0.50), "p99": p(0.99), "cps": len(lat) / wall}


def start_cribd(binary, d):
    sock = f"{d}/crib.sock"
    with open(f"{d}/crib.conf", "w") as f:
        f.write(f'[crib]\nroot = "{d}/root"\nrunroot = "{d}/run"\n'
                f'[crib.api]\nlisten = "{sock}"\n[crib.runtime]\nlog_level = "warn"\n'
                f'[crib.network]\nnetwork_dir = "{d}/net.d"\n')
    p = subprocess.Popen([binary, "--config", f"{d}/crib.conf"], stderr=subprocess.DEVNULL)
    wait_socket(sock, p)
    return p, sock


def start_containerd(d):
    sock = f"{d}/containerd.sock"
    with open(f"{d}/config.toml", "w") as f:
        f.write(f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n'
                f'[grpc]\naddress = "{sock}"\n[ttrpc]\naddress = "{sock}.ttrpc"\n'
                f'[debug]\nlevel = "warn"\n'
                f'[plugins."io.containerd.grpc.v1.cri".cni]\nconf_dir = "{d}/net.d"\n')
    p = subprocess.Popen(["containerd", "--config", f"{d}/config.toml"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_socket(sock, p)
    return p, sock


def run_one(name, start, pbdir, calls):
    d = tempfile.mkdtemp(prefix=f"bench-{name}-")
    proc, sock = start(d)
    try:
        worker((sock, pbdir, 5))  # the CRI service is up
        time.sleep(1)
        rss, pss = memory(proc.pid)
        one = measure(sock, pbdir, 1, calls)
        many = measure(sock, pbdir, 16, calls // 4)
        time.sleep(0.5)
        rss_after, pss_after = memory(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        shutil.rmtree(d, ignore_errors=True)
    return {"rss": rss, "pss": pss, "rss_after": rss_after, "one": one, "many": many}


def show(name, r):
    print(f"{name}: idle RSS {r['rss']} KiB, PSS {r['pss']} KiB "
          f"(after load: RSS {r['rss_after']} KiB)")
    for k, label in (("one", "1 client"), ("many", "16 clients")):
        m = r[k]
        print(f"  Version {label:10}: p50 {m['p50']:7.0f} us  p99 {m['p99']:7.0f} us  "
              f"{m['cps']:8.0f} calls/s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cribd", default=os.path.join(TOP, "cribd"))
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--no-peer", action="store_true")
    a = ap.parse_args()
    pbdir = tempfile.mkdtemp(prefix="bench-pb-")
    gen_pb(pbdir)
    crib = run_one("cribd", lambda d: start_cribd(a.cribd, d), pbdir, a.calls)
    show("cribd", crib)
    if a.no_peer or not shutil.which("containerd"):
        print("peer: containerd not run")
        return
    peer = run_one("containerd", start_containerd, pbdir, a.calls)
    show("containerd", peer)
    print("ratios (containerd / cribd; above 1 means cribd is smaller or faster):")
    print(f"  idle RSS {peer['rss'] / crib['rss']:.1f}x, idle PSS {peer['pss'] / crib['pss']:.1f}x")
    for k, label in (("one", "1 client"), ("many", "16 clients")):
        print(f"  {label}: p50 {peer[k]['p50'] / crib[k]['p50']:.2f}x, "
              f"p99 {peer[k]['p99'] / crib[k]['p99']:.2f}x, "
              f"calls/s {crib[k]['cps'] / peer[k]['cps']:.2f}x")


if __name__ == "__main__":
    main()
