"""Fixtures for the integration tests: each test gets its own cribd on private paths, and a
CRI client made from our proto with protoc at test time."""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import grpc
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
CRIBD = os.environ.get("CRIBD", os.path.join(TOP, "cribd"))
# The cgroup driver of every cribd the tests start (the VM lane runs both).
CGROUP_MANAGER = os.environ.get("CRIB_TEST_CGROUP_MANAGER", "cgroupfs")
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


@pytest.fixture(scope="session")
def pb():
    """runtime_pb2, generated from proto/runtime.proto by protoc."""
    out = tempfile.mkdtemp(prefix="crib-pb-")
    subprocess.run(["protoc", f"-I{TOP}/proto", f"--python_out={out}",
                    f"{TOP}/proto/runtime.proto"], check=True)
    sys.path.insert(0, out)
    import runtime_pb2
    return runtime_pb2


class Cribd:
    def __init__(self, tmp, extra_config="", env=None, binary=None, args=()):
        self.binary = binary or CRIBD
        self.args = list(args)
        self.dir = tmp
        self.sock = os.path.join(tmp, "crib.sock")
        self.netdir = os.path.join(tmp, "net.d")
        os.makedirs(self.netdir, exist_ok=True)
        self.config = os.path.join(tmp, "crib.conf")
        with open(self.config, "w") as f:
            f.write(f"""[crib]
root = "{tmp}/root"
runroot = "{tmp}/run"
[crib.api]
listen = "{self.sock}"
shutdown_timeout = 5
[crib.runtime]
log_level = "debug"
cgroup_manager = "{CGROUP_MANAGER}"
[crib.image]
registries_conf = "{tmp}/no-registries.conf"
signature_policy = "{tmp}/no-policy.json"
[crib.network]
network_dir = "{self.netdir}"
""")
        # A test's own settings go in a drop-in, as an operator would add them.
        if extra_config:
            os.makedirs(self.config + ".d", exist_ok=True)
            with open(self.config + ".d/50-test.conf", "w") as f:
                f.write(extra_config)
        self.log_path = os.path.join(tmp, "cribd.log")
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.expected_rc = 0

    def start(self, wait=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, *self.args, "--config", self.config],
                                     stdout=self.log,
                                     stderr=subprocess.STDOUT, env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"cribd exited with {self.proc.returncode}:\n{self.output()}")
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.sock)
                return
            except OSError:
                time.sleep(0.02)
        raise AssertionError("cribd did not start listening")

    def _ours(self):
        """(pid, exe, argv) of each process with our command line: the front (the process we
        started), the keeper and the daemon, not an orphaned `cribd infra` the keeper adopts."""
        args = ["--config", self.config]
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                argv = open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\0")
                if argv[-3:-1] == args:
                    yield int(pid), os.readlink(f"/proc/{pid}/exe"), argv
            except OSError:
                pass

    def daemon_pid(self, timeout=10):
        """The daemon's pid: the keeper's child that runs CRIBD with our command line (not a
        child the daemon forked and has yet to exec)."""
        want = os.path.realpath(self.binary)
        deadline = time.monotonic() + timeout
        while True:
            for pid, exe, argv in self._ours():
                if exe != want or argv[1:-1] != [*self.args, "--config", self.config]:
                    continue
                try:
                    ppid = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
                    if open(f"/proc/{ppid}/comm").read().strip() == "cribd-keeper" or \
                            "--no-keeper" in self.args:
                        return pid
                except OSError:
                    pass
            assert time.monotonic() < deadline, "the keeper runs no daemon"
            time.sleep(0.02)

    def keeper_pid(self):
        """The keeper's pid (the one of ours not the front nor the daemon), or None."""
        front = self.proc.pid if self.proc and self.proc.poll() is None else None
        want = os.path.realpath(self.binary)
        for pid, exe, argv in self._ours():
            if pid != front and exe != want:
                return pid
        return None

    def shutdown(self, timeout=30):
        """The full shutdown of a keeper that stayed behind after a stop (SIGTERM to it)."""
        pid = self.keeper_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z":
            assert time.monotonic() < deadline, "the keeper did not end"
            time.sleep(0.02)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop cribd; return its exit code. Sanitizer reports fail the test."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"cribd did not stop within {timeout}s:\n{self.output()}")
        self.log.close()
        return rc

    def check_clean(self):
        out = self.output()
        for mark in SANITIZER_MARKS:
            assert mark not in out, f"sanitizer report in cribd output:\n{out}"

    def channel(self):
        return grpc.insecure_channel(f"unix://{self.sock}")


@pytest.fixture
def cribd_factory(tmp_path):
    started = []

    def make(extra_config="", start=True, env=None, subdir=None, binary=None, args=()):
        d = str(tmp_path / (subdir or f"c{len(started)}"))
        os.makedirs(d, exist_ok=True)
        c = Cribd(d, extra_config, env, binary, args)
        started.append(c)
        return c.start() if start else c

    yield make
    for c in started:
        rc = c.stop()
        c.shutdown()
        c.check_clean()
        assert rc == c.expected_rc, f"cribd exited with {rc}:\n{c.output()}"


@pytest.fixture
def cribd(cribd_factory):
    return cribd_factory()


class Cri:
    """Calls by method name, with the request and response classes of runtime_pb2."""

    def __init__(self, channel, pb):
        self.channel = channel
        self.pb = pb

    def _types(self, method):
        req = {"GetContainerEvents": "GetEventsRequest"}.get(method, method + "Request")
        resp = {"GetContainerEvents": "ContainerEventResponse"}.get(method, method + "Response")
        return getattr(self.pb, req), getattr(self.pb, resp)

    def unary(self, method, service="RuntimeService", req=None, timeout=10, **fields):
        req_t, resp_t = self._types(method)
        fn = self.channel.unary_unary(f"/runtime.v1.{service}/{method}",
                                      request_serializer=lambda m: m.SerializeToString(),
                                      response_deserializer=resp_t.FromString)
        return fn(req if req is not None else req_t(**fields), timeout=timeout)

    def stream(self, method, service="RuntimeService", timeout=None, **fields):
        req_t, resp_t = self._types(method)
        fn = self.channel.unary_stream(f"/runtime.v1.{service}/{method}",
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=resp_t.FromString)
        return fn(req_t(**fields), timeout=timeout)

    def raw(self, path, payload, timeout=10):
        fn = self.channel.unary_unary(path, request_serializer=None, response_deserializer=None)
        return fn(payload, timeout=timeout)


@pytest.fixture
def cri(cribd, pb):
    ch = cribd.channel()
    yield Cri(ch, pb)
    ch.close()
