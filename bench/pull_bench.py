#!/usr/bin/python3
"""Benchmark: PullImage of a 5-layer, ~100 MB image from a local docker-registry, next to the
floor on the same machine in the same run (the same blobs fetched with curl and unpacked with
tar, three at a time), and cribd's peak RSS during the pull.

usage: bench/pull_bench.py [--cribd PATH] [--runs N]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from registry import Registry, push_image, tar_layer  # noqa: E402



def make_layers():
    # Mostly incompressible data with some text: about 100 MB compressed in all.
    layers = []
    for i in range(5):
        rnd = os.urandom(18 << 20)
        txt = (f"line {i} of a text file with some repetition\n" * ((4 << 20) // 44))
        layers.append(tar_layer([{"name": f"data{i}/random.bin", "data": rnd},
                                 {"name": f"data{i}/text.txt", "data": txt.encode()}]))
    return layers


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def pull_with_cribd(binary, reg, name, pbdir):
    sys.path.insert(0, pbdir)
    import grpc
    import runtime_pb2 as pb
    d = tempfile.mkdtemp(prefix="bench-pull-")
    conf = f"{d}/registries.conf"
    with open(conf, "w") as f:
        f.write(f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
    with open(f"{d}/crib.conf", "w") as f:
        f.write(f'[crib]\nroot = "{d}/root"\nrunroot = "{d}/run"\n[crib.api]\n'
                f'listen = "{d}/crib.sock"\n[crib.runtime]\nlog_level = "warn"\n'
                f'[crib.image]\nregistries_conf = "{conf}"\n')
    p = subprocess.Popen([binary, "--config", f"{d}/crib.conf"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if os.path.exists(f"{d}/crib.sock"):
                break
            time.sleep(0.02)
        ch = grpc.insecure_channel(f"unix://{d}/crib.sock")
        fn = ch.unary_unary("/runtime.v1.ImageService/PullImage",
                            request_serializer=lambda m: m.SerializeToString(),
                            response_deserializer=pb.PullImageResponse.FromString)
        idle = proc_status(p.pid, "VmRSS")
        t0 = time.perf_counter()
        fn(pb.PullImageRequest(image=pb.ImageSpec(image=name)), timeout=600)
        wall = time.perf_counter() - t0
        peak = proc_status(p.pid, "VmHWM")  # the high-water mark of RSS
        ch.close()
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
        shutil.rmtree(d, ignore_errors=True)
    return wall, idle, peak


def floor(reg, img):
    d = tempfile.mkdtemp(prefix="bench-floor-")
    t0 = time.perf_counter()
    procs = []
    for i, digest in enumerate(img.layers):
        os.makedirs(f"{d}/{i}")
        url = f"http://{reg.host}/v2/{img.repo}/blobs/{digest}"
        procs.append(subprocess.Popen(f"curl -sf '{url}' | tar -xzf - -C '{d}/{i}'", shell=True))
        if len(procs) == 3:
            procs.pop(0).wait()
    for p in procs:
        p.wait()
    wall = time.perf_counter() - t0
    shutil.rmtree(d, ignore_errors=True)
    return wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cribd", default=os.path.join(TOP, "cribd"))
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-reg-")
    pbdir = tempfile.mkdtemp(prefix="bench-pb-")
    subprocess.run(["protoc", f"-I{TOP}/proto", f"--python_out={pbdir}",
                    f"{TOP}/proto/runtime.proto"], check=True)
    reg = Registry(work)
    try:
        img = push_image(reg, "bench/big", "v1", make_layers())
        mb = img.size / 1e6
        name = f"{reg.host}/bench/big:v1"
        crib, floors, peaks, idles = [], [], [], []
        for _ in range(a.runs):
            wall, idle, peak = pull_with_cribd(a.cribd, reg, name, pbdir)
            crib.append(wall)
            peaks.append(peak)
            idles.append(idle)
            floors.append(floor(reg, img))
        c, f = min(crib), min(floors)
        print(f"image: 5 layers, {mb:.0f} MB compressed")
        print(f"cribd PullImage: best {c:.2f} s of {a.runs} ({mb / c:.0f} MB/s)")
        print(f"floor (curl | tar -xz, 3 at a time): best {f:.2f} s ({mb / f:.0f} MB/s)")
        print(f"cribd / floor: {c / f:.2f}x")
        print(f"cribd peak RSS (VmHWM) during the pull: {max(peaks)} KiB "
              f"(RSS before it: {max(idles)} KiB)")
    finally:
        reg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
