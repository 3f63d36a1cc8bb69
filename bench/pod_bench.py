#!/usr/bin/python3
"""Benchmark: RunPodSandbox latency (sequential and 10 at a time), StopPodSandbox +
RemovePodSandbox latency, and cribd's RSS with 100 pods, with the real CNI bridge and host-local
plugins. Needs root.

usage: bench/pod_bench.py [--cribd PATH] [--pods N]
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] * 1000


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cribd", default=os.path.join(TOP, "cribd"))
    ap.add_argument("--pods", type=int, default=100)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="bench-pods-")
    pbdir = f"{d}/pb"
    os.makedirs(pbdir)
    subprocess.run(["protoc", f"-I{TOP}/proto", f"--python_out={pbdir}",
                    f"{TOP}/proto/runtime.proto"], check=True)
    sys.path.insert(0, pbdir)
    import grpc
    import runtime_pb2 as pb
    os.makedirs(f"{d}/net.d")
    with open(f"{d}/net.d/10-bench.conflist", "w") as f:
        json.dump({"cniVersion": "1.0.0", "name": "crib-bench", "plugins": [
            {"type": "bridge", "bridge": "cribbench0", "isGateway": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.97.0.0/16"}]],
                      "dataDir": f"{d}/ipam"}}]}, f)
    with open(f"{d}/crib.conf", "w") as f:
        f.write(f'[crib]\nroot = "{d}/root"\nrunroot = "{d}/run"\n[crib.api]\n'
                f'listen = "{d}/crib.sock"\n[crib.runtime]\nlog_level = "warn"\n'
                f'[crib.network]\nnetwork_dir = "{d}/net.d"\nplugin_dirs = ["/usr/lib/cni"]\n')
    p = subprocess.Popen([a.cribd, "--config", f"{d}/crib.conf"], stderr=subprocess.DEVNULL)
    try:
        while not os.path.exists(f"{d}/crib.sock"):
            time.sleep(0.02)
        ch = grpc.insecure_channel(f"unix://{d}/crib.sock")

        def call(method, req, resp):
            fn = ch.unary_unary(f"/runtime.v1.RuntimeService/{method}",
                                request_serializer=lambda m: m.SerializeToString(),
                                response_deserializer=resp.FromString)
            return fn(req, timeout=60)

        counter = iter(range(10**6))

        def run_pod():
            i = next(counter)
            cfg = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(
                name=f"p{i}", namespace="bench", uid=f"u{i}"), hostname=f"p{i}")
            t0 = time.perf_counter()
            pid = call("RunPodSandbox", pb.RunPodSandboxRequest(config=cfg),
                       pb.RunPodSandboxResponse).pod_sandbox_id
            return pid, time.perf_counter() - t0

        def remove(pid):
            t0 = time.perf_counter()
            call("StopPodSandbox", pb.StopPodSandboxRequest(pod_sandbox_id=pid),
                 pb.StopPodSandboxResponse)
            call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pid),
                 pb.RemovePodSandboxResponse)
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
        rss = rss_kib(p.pid)
        rm = [remove(pid) for pid in ids]
        print(f"RunPodSandbox sequential: p50 {pct([t for _, t in seq], .5):.1f} ms, "
              f"p99 {pct([t for _, t in seq], .99):.1f} ms ({len(seq)} pods)")
        print(f"RunPodSandbox 10 concurrent: p50 {pct([t for _, t in conc], .5):.1f} ms, "
              f"p99 {pct([t for _, t in conc], .99):.1f} ms ({len(conc)} pods)")
        print(f"StopPodSandbox+RemovePodSandbox: p50 {pct(rm, .5):.1f} ms, p99 {pct(rm, .99):.1f} ms")
        print(f"cribd RSS with {len(ids)} pods: {rss} KiB")
        ch.close()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
        subprocess.run(["ip", "link", "del", "cribbench0"], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
