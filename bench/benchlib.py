"""Shared set-up of the benchmarks: a cribd on a temporary root with a CNI bridge network, the
busybox-static test image loaded, a CRI client, and pods with one container."""
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
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
IMAGE = "localhost/bench/busybox:1"


def pct(v, q):
    """The q-quantile of seconds v, in ms."""
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] * 1000


def status_kib(pid, key="VmRSS:"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return 0


class Cribd:
    """with Cribd(path) as b: b.call(...), b.run(cmd) -> (pod, ctr, seconds, log)."""

    def __init__(self, cribd, name="bench", extra_conf=""):
        self.cribd, self.name, self.extra_conf = cribd, name, extra_conf

    def __enter__(self):
        d = self.d = tempfile.mkdtemp(prefix=f"bench-{self.name}-")
        pbdir = f"{d}/pb"
        os.makedirs(pbdir)
        subprocess.run(["protoc", f"-I{TOP}/proto", f"--python_out={pbdir}",
                        f"{TOP}/proto/runtime.proto"], check=True)
        sys.path.insert(0, pbdir)
        import grpc
        import runtime_pb2 as pb
        from registry import busybox_layer
        from test_image_load import write_layout
        self.pb = pb
        os.makedirs(f"{d}/net.d")
        with open(f"{d}/net.d/10-bench.conflist", "w") as f:
            json.dump({"cniVersion": "1.0.0", "name": "crib-bench", "plugins": [
                {"type": "bridge", "bridge": "cribbench1", "isGateway": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.96.0.0/16"}]],
                          "dataDir": f"{d}/ipam"}}]}, f)
        with open(f"{d}/crib.conf", "w") as f:
            f.write(f'[crib]\nroot = "{d}/root"\nrunroot = "{d}/run"\n[crib.api]\n'
                    f'listen = "{d}/crib.sock"\n{self.extra_conf}[crib.runtime]\n'
                    f'log_level = "warn"\n[crib.network]\nnetwork_dir = "{d}/net.d"\n'
                    f'plugin_dirs = ["/usr/lib/cni"]\n')
        self.sock = f"{d}/crib.sock"
        self.proc = subprocess.Popen([self.cribd, "--config", f"{d}/crib.conf"],
                                     stderr=subprocess.DEVNULL)
        while not os.path.exists(self.sock):
            time.sleep(0.02)
        write_layout(f"{d}/layout", [busybox_layer()], ref_name=IMAGE)
        subprocess.run([self.cribd, "--config", f"{d}/crib.conf", "load", f"{d}/layout"],
                       check=True, capture_output=True)
        self.ch = grpc.insecure_channel(f"unix://{self.sock}")
        self.counter = iter(range(10**6))
        self.pods = []
        return self

    def call(self, method, req):
        resp = getattr(self.pb, method + "Response")
        fn = self.ch.unary_unary(f"/runtime.v1.RuntimeService/{method}",
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=resp.FromString)
        return fn(req, timeout=120)

    def run(self, cmd):
        """A pod with one container running cmd: (pod id, container id, seconds, log path)."""
        pb, d, i = self.pb, self.d, next(self.counter)
        pcfg = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(
            name=f"p{i}", namespace="bench", uid=f"u{i}"), hostname=f"p{i}",
            log_directory=f"{d}/logs/p{i}")
        ccfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"),
                                  image=pb.ImageSpec(image=IMAGE), command=cmd, log_path="c.log")
        t0 = time.perf_counter()
        pid = self.call("RunPodSandbox", pb.RunPodSandboxRequest(config=pcfg)).pod_sandbox_id
        cid = self.call("CreateContainer", pb.CreateContainerRequest(
            pod_sandbox_id=pid, config=ccfg, sandbox_config=pcfg)).container_id
        self.call("StartContainer", pb.StartContainerRequest(container_id=cid))
        self.pods.append(pid)
        return pid, cid, time.perf_counter() - t0, f"{d}/logs/p{i}/c.log"

    def wait_exit(self, cid):
        while True:
            st = self.call("ContainerStatus",
                           self.pb.ContainerStatusRequest(container_id=cid)).status
            if st.state == self.pb.CONTAINER_EXITED:
                return st
            time.sleep(0.02)

    def __exit__(self, *exc):
        try:
            for pid in self.pods:
                self.call("RemovePodSandbox", self.pb.RemovePodSandboxRequest(pod_sandbox_id=pid))
            self.ch.close()
        finally:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
            subprocess.run(["ip", "link", "del", "cribbench1"], capture_output=True)
            shutil.rmtree(self.d, ignore_errors=True)
