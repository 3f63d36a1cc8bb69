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

    def setup(self, bridge, subnet):
        """The temporary directory, runtime_pb2 and a CNI bridge network in d/net.d."""
        d = self.d = tempfile.mkdtemp(prefix=f"bench-{self.name}-")
        pbdir = f"{d}/pb"
        os.makedirs(pbdir)
        subprocess.run(["protoc", f"-I{TOP}/proto", f"--python_out={pbdir}",
                        f"{TOP}/proto/runtime.proto"], check=True)
        sys.path.insert(0, pbdir)
        import runtime_pb2 as pb
        self.pb = pb
        os.makedirs(f"{d}/net.d")
        with open(f"{d}/net.d/10-bench.conflist", "w") as f:
            json.dump({"cniVersion": "1.0.0", "name": f"{self.name}-bench", "plugins": [
                {"type": "bridge", "bridge": bridge, "isGateway": True,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                          "dataDir": f"{d}/ipam"}}]}, f)
        return d

    def __enter__(self):
        import grpc
        from registry import busybox_layer
        from test_image_load import write_layout
        d = self.setup("cribbench1", "10.96.0.0/16")
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
        self.pods, self.steps = [], []
        return self

    def processes(self):
        """The runtime's own processes (front, keeper, daemon, helpers), not the containers'."""
        exes = {os.path.realpath(self.cribd), os.path.realpath(self.cribd) + "-keeper"}
        return [p for p, exe, cmd in proc_table() if exe in exes and self.d.encode() in cmd]

    def daemon_pid(self):
        """The daemon's pid: the cribd command runs its keeper, which runs the daemon."""
        exe = os.path.realpath(self.cribd)
        for p in os.listdir("/proc"):
            try:
                if (p.isdigit() and os.readlink(f"/proc/{p}/exe") == exe and
                        f"{self.d}/crib.conf".encode() in open(f"/proc/{p}/cmdline", "rb").read()):
                    return int(p)
            except OSError:
                continue
        raise RuntimeError("no cribd daemon process")

    def call(self, method, req, service="RuntimeService"):
        resp = getattr(self.pb, method + "Response")
        fn = self.ch.unary_unary(f"/runtime.v1.{service}/{method}",
                                 request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=resp.FromString)
        return fn(req, timeout=120)

    def run(self, cmd, cgroup_root=None):
        """A pod with one container running cmd: (pod id, container id, seconds, log path).
        cgroup_root: the pods get cgroup parents below it, as the kubelet gives them."""
        pb, d, i = self.pb, self.d, next(self.counter)
        pcfg = pb.PodSandboxConfig(metadata=pb.PodSandboxMetadata(
            name=f"p{i}", namespace="bench", uid=f"u{i}"), hostname=f"p{i}",
            log_directory=f"{d}/logs/p{i}")
        if cgroup_root:
            pcfg.linux.cgroup_parent = f"{cgroup_root}/pod{i}"
        ccfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"),
                                  image=pb.ImageSpec(image=IMAGE), command=cmd, log_path="c.log")
        t0 = time.perf_counter()
        pid = self.call("RunPodSandbox", pb.RunPodSandboxRequest(config=pcfg)).pod_sandbox_id
        t1 = time.perf_counter()
        cid = self.call("CreateContainer", pb.CreateContainerRequest(
            pod_sandbox_id=pid, config=ccfg, sandbox_config=pcfg)).container_id
        t2 = time.perf_counter()
        self.call("StartContainer", pb.StartContainerRequest(container_id=cid))
        t3 = time.perf_counter()
        self.pods.append(pid)
        self.steps.append((t1 - t0, t2 - t1, t3 - t2))  # RunPodSandbox, Create, Start
        return pid, cid, t3 - t0, f"{d}/logs/p{i}/c.log"

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


PAUSE_IMAGE = "localhost/bench/pause:1"


class Containerd(Cribd):
    """Debian's containerd with its CRI plugin, set up as Cribd is (its own root, state and
    socket, the same CNI bridge and the busybox image), for runs beside cribd. The sandbox image
    is busybox sleeping (pause's job), imported offline like the test image."""

    def __init__(self, name="ctrd", bridge="ctrdbench1", subnet="10.97.0.0/16"):
        super().__init__(None, name)
        self.bridge, self.subnet = bridge, subnet

    def __enter__(self):
        import grpc
        from registry import busybox_layer
        from test_image_load import tar_dir, write_layout
        d = self.setup(self.bridge, self.subnet)
        self.sock = f"{d}/containerd.sock"
        with open(f"{d}/config.toml", "w") as f:
            f.write(f'version = 2\nroot = "{d}/root"\nstate = "{d}/state"\n'
                    f'[grpc]\naddress = "{self.sock}"\n[ttrpc]\naddress = "{self.sock}.ttrpc"\n'
                    '[plugins."io.containerd.grpc.v1.cri"]\n'
                    f'sandbox_image = "{PAUSE_IMAGE}"\n'
                    # as crib does: no oom_score_adj below the daemon's own (this machine
                    # lacks CAP_SYS_RESOURCE, and runc fails on a lower one)
                    'restrict_oom_score_adj = true\n'
                    '[plugins."io.containerd.grpc.v1.cri".cni]\n'
                    f'bin_dir = "/usr/lib/cni"\nconf_dir = "{d}/net.d"\n')
        self.log = open(f"{d}/containerd.log", "w")
        self.proc = subprocess.Popen(["containerd", "--config", f"{d}/config.toml",
                                      "--log-level", "warn"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        while not os.path.exists(self.sock):
            time.sleep(0.02)
        for ref, conf in ((IMAGE, None),
                          (PAUSE_IMAGE, {"Cmd": ["/bin/sleep", "2147483647"]})):
            lay = f"{d}/layout-{len(ref)}"
            write_layout(lay, [busybox_layer()], ref_name=ref, config=conf)
            with open(f"{lay}/index.json") as f:
                index = json.load(f)
            index["manifests"][0]["annotations"]["io.containerd.image.name"] = ref
            with open(f"{lay}/index.json", "w") as f:
                json.dump(index, f)
            tar_dir(lay, f"{lay}.tar")
            subprocess.run(["ctr", "--address", self.sock, "-n", "k8s.io", "images", "import",
                            f"{lay}.tar"], check=True, capture_output=True)
        self.ch = grpc.insecure_channel(f"unix://{self.sock}")
        self.counter = iter(range(10**6))
        self.pods, self.steps = [], []
        return self

    def daemon_pid(self):
        return self.proc.pid

    def processes(self):
        """containerd and its shims (one per pod), not the containers' processes."""
        shims = [p for p, exe, cmd in proc_table()
                 if exe.startswith("/usr/bin/containerd-shim") and self.sock.encode() in cmd]
        return [self.proc.pid] + shims

    def __exit__(self, *exc):
        try:
            for pid in self.pods:
                try:
                    self.call("StopPodSandbox",
                              self.pb.StopPodSandboxRequest(pod_sandbox_id=pid))
                    self.call("RemovePodSandbox",
                              self.pb.RemovePodSandboxRequest(pod_sandbox_id=pid))
                except Exception as e:  # noqa: BLE001 (clean up what can be)
                    print(f"containerd: remove {pid}: {e}", file=sys.stderr)
            self.ch.close()
        finally:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
            # The shims outlive containerd; the pods are gone, they end with them.
            subprocess.run(["umount", "-R", f"{self.d}/state"], capture_output=True)
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            self.log.close()
            if os.environ.get("BENCH_KEEP"):
                print(f"kept {self.d}", file=sys.stderr)
            else:
                shutil.rmtree(self.d, ignore_errors=True)


def remove_cgroups(root):
    """rmdir root (a cgroupfs path such as /bench-x) in every hierarchy, bottom up."""
    for h in os.listdir("/sys/fs/cgroup"):
        top = f"/sys/fs/cgroup/{h}{root}"
        if not os.path.isdir(top) or os.path.islink(f"/sys/fs/cgroup/{h}"):
            continue
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except OSError as e:
                print(f"rmdir {dirpath}: {e}", file=sys.stderr)


def proc_table():
    """(pid, exe, cmdline bytes) of every process that can be read."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                out.append((int(p), os.readlink(f"/proc/{p}/exe"), f.read()))
        except OSError:
            continue
    return out


def pss_rss_kib(pids):
    """Summed Pss and Rss (smaps_rollup) of pids, in KiB."""
    pss = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except OSError:
            continue
    return pss, rss


def daemon_cpu_seconds(pid):
    """utime + stime of one process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kubelet_poll(rt, seconds):
    """Call as the kubelet does for `seconds` (ListPodSandbox + ListContainers every second,
    ListContainerStats + ListPodSandboxStats + ImageFsInfo every 10 s); the daemon's CPU seconds
    meanwhile."""
    pb = rt.pb
    daemon = rt.daemon_pid()
    cpu0 = daemon_cpu_seconds(daemon)
    t0, tick = time.monotonic(), 0
    while time.monotonic() - t0 < seconds:
        rt.call("ListPodSandbox", pb.ListPodSandboxRequest())
        rt.call("ListContainers", pb.ListContainersRequest())
        if tick % 10 == 0:
            rt.call("ListContainerStats", pb.ListContainerStatsRequest())
            rt.call("ListPodSandboxStats", pb.ListPodSandboxStatsRequest())
            rt.call("ImageFsInfo", pb.ImageFsInfoRequest(), service="ImageService")
        tick += 1
        time.sleep(max(0, t0 + tick - time.monotonic()))
    return daemon_cpu_seconds(daemon) - cpu0


def ws_channel(ws, chan, keep=True):
    """What arrives on one channel until the server closes: the bytes (or their count)."""
    import websocket
    out, n = [], 0
    while True:
        try:
            op, data = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            break
        if op == websocket.ABNF.OPCODE_CLOSE:
            break
        if data and data[0] == chan:
            n += len(data) - 1
            if keep:
                out.append(data[1:])
    return b"".join(out) if keep else n
