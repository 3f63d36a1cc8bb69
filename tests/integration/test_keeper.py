"""The keeper (cribd-keeper): it restarts a daemon that dies, and holds the containers' stdio
while no daemon runs, so that containers never notice the daemon going away."""
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import grpc

from conftest import CRIBD, Cri
from registry import push_image, tar_layer
from test_containers import Env, env, layouts, lines, term_trapped  # noqa: F401 (fixtures)
from test_images import chain_ids, registries_conf, registry  # noqa: F401 (fixture)
from test_lifecycle import http_get
from test_pods import cgroup_dirs, net_cribd, pod_config  # noqa: F401 (fixture)
from test_streaming import STDIN, STDOUT, ws_connect

COUNTER = ["/bin/sh", "-c", "i=0; while true; do echo $i; i=$((i+1)); sleep 0.01; done"]


def kill_daemon(env, sig=signal.SIGKILL):
    """Kill the daemon (not the keeper); return once a new daemon serves, with a new client."""
    old = env.c.daemon_pid()
    os.kill(old, sig)
    deadline = time.monotonic() + 20
    while True:
        assert time.monotonic() < deadline, "no new daemon"
        try:
            new = env.c.daemon_pid(timeout=0)
        except AssertionError:
            new = old
        if new != old:
            break
        time.sleep(0.01)
    reconnect(env)
    return new


def reconnect(env, own_process=True):
    """A new client once a daemon answers (a process the dead daemon forked and had yet to exec
    may hold its listening socket for a moment). own_process=False: a cribd the test did not
    start (a systemd service's)."""
    deadline = time.monotonic() + 20
    while True:
        if own_process:
            env.c.wait_ready(timeout=20)
        env.ch.close()
        env.ch = env.c.channel()
        env.cli = Cri(env.ch, env.pb)
        try:
            env.cli.unary("Version", version="v1", timeout=20)
            return
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def numbers(env, pod, name):
    return [int(x) for x in lines(env.log_records(pod, name), "stdout")]


def wait_numbers_past(env, pod, name, n, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        got = numbers(env, pod, name)
        if got and got[-1] >= n:
            return got
        assert time.monotonic() < deadline, f"{name} stopped at {got[-1:] or 'nothing'}"
        time.sleep(0.05)


def test_twenty_kills_lose_and_repeat_no_line(env):
    # Ten containers print a numbered line every 10 ms; the daemon is killed twenty times. Every
    # container runs on, and every log holds every number once, in order.
    pod = env.pod()
    names = [f"counter{i}" for i in range(10)]
    cids = [env.run(pod, COUNTER, name=n) for n in names]
    downtimes = []
    up = time.monotonic()
    for k in range(20):
        wait_numbers_past(env, pod, names[k % 10], 5 * (k + 1))
        # A daemon that dies within a second of its start is crash-looping: the keeper waits
        # before the next start. These kills are not that.
        time.sleep(max(0, up + 1.2 - time.monotonic()))
        t0 = time.monotonic()
        kill_daemon(env)
        up = time.monotonic()
        downtimes.append(up - t0)
    info = json.loads(http_get(env.c.sock, "/info")[1])
    assert info["keeper"]["restarts"] == 20, info["keeper"]
    assert "signal 9" in info["keeper"]["last_exit"], info["keeper"]
    for cid in cids:  # (the same processes: a new one would count from 0 again)
        st = env.status(cid)
        assert st.state == env.pb.CONTAINER_RUNNING, st
    last = max(numbers(env, pod, n)[-1] for n in names)
    for cid in cids:
        env.stop(cid, 0)
    for n in names:
        got = numbers(env, pod, n)
        assert got == list(range(len(got))), f"{n}: lost or repeated lines"
        assert got[-1] >= last - 1000, (n, got[-1], last)
    downtimes.sort()
    print(f"daemon death to CRI answering: p50 {downtimes[10] * 1000:.0f} ms, "
          f"max {downtimes[-1] * 1000:.0f} ms")


def test_writer_blocks_while_no_daemon_runs(env):
    # The keeper stopped and the daemon dead: nobody reads, but the keeper's read end keeps the
    # FIFO open. `yes` fills the pipe and blocks; it is not killed by SIGPIPE.
    pod = env.pod()
    line = "y" * 99
    cid = env.run(pod, ["/bin/sh", "-c", f"busybox yes {line} | busybox head -c 4000000; echo done"],
                  name="yes")
    keeper = env.c.proc.pid
    daemon = env.c.daemon_pid()
    os.kill(keeper, signal.SIGSTOP)
    try:
        os.kill(daemon, signal.SIGKILL)
        time.sleep(3)
    finally:
        os.kill(keeper, signal.SIGCONT)
    reconnect(env)
    env.wait_exit(cid, timeout=120)
    out = lines(env.log_records(pod, "yes"), "stdout")
    assert out[-1] == b"done", out[-3:]
    # Every line, once: what waited in the pipe while no daemon ran, and what the killed daemon
    # was writing.
    assert len(out) == 4000000 // 100 + 1, len(out)
    assert all(x == line.encode() for x in out[:-1])


def test_keeper_gives_the_pty_back_after_a_restart(env):
    pod = env.pod("tty")
    cid = env.run(pod, ["sh", "-c", "while read l; do echo got $l; done"], stdin=True, tty=True)
    kill_daemon(env)
    url = env.cli.unary("Attach", container_id=cid, stdin=True, stdout=True, tty=True).url
    ws = ws_connect(url)
    time.sleep(0.3)
    ws.send_binary(bytes([STDIN]) + b"hello\r")
    got = b""
    deadline = time.monotonic() + 10
    while b"got hello" not in got and time.monotonic() < deadline:
        op, data = ws.recv_data()
        if data and data[0] == STDOUT:
            got += data[1:]
    ws.close()
    assert b"got hello" in got, got


def ctr_pid(env, cid):
    """The container's init, from ContainerStatus's verbose info."""
    return json.loads(env.cli.unary("ContainerStatus", container_id=cid,
                                    verbose=True).info["info"])["pid"]


def daemon_down(env):
    """Kill the daemon and keep the next ones from starting (a drop-in they refuse): the keeper
    restarts them with its crash-loop backoff. Returns the function that lets them start."""
    bad = os.path.join(env.c.config + ".d", "99-broken.conf")
    os.makedirs(os.path.dirname(bad), exist_ok=True)
    with open(bad, "w") as f:
        f.write("[crib\n")
    os.kill(env.c.daemon_pid(), signal.SIGKILL)

    def up():
        os.unlink(bad)
        deadline = time.monotonic() + 30
        while True:  # the backoff has grown meanwhile: up to 10 s
            try:
                reconnect(env)
                return
            except Exception:
                assert time.monotonic() < deadline, "no daemon came back"
                time.sleep(0.2)
    return up


def test_exits_while_no_daemon_runs_are_reported(env):
    # Each ends on a SIGTERM sent while no daemon runs: 7, and an OOM kill.
    pod = env.pod()
    seven = env.run(pod, ["/bin/sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done"],
                    name="seven")
    linux = env.pb.LinuxContainerConfig(
        resources=env.pb.LinuxContainerResources(memory_limit_in_bytes=16 << 20,
                                                 memory_swap_limit_in_bytes=16 << 20))
    oom = env.run(pod, ["/bin/sh", "-c", "trap 'exec busybox dd if=/dev/zero of=/dev/null bs=64M "
                                         "count=1' TERM; while true; do sleep 0.1; done"],
                  name="oom", linux=linux)
    pids = [ctr_pid(env, c) for c in (seven, oom)]
    t_down = time.time_ns()
    up = daemon_down(env)
    for pid in pids:
        term_trapped(pid)
    time.sleep(3)  # both end meanwhile; the daemons that start fail on the drop-in
    t_up = time.time_ns()
    up()
    st = env.wait_exit(seven)
    assert (st.exit_code, st.reason) == (7, "Error"), st
    assert t_down < st.finished_at < t_up, (t_down, st.finished_at, t_up)
    st = env.wait_exit(oom)
    assert (st.exit_code, st.reason) == (137, "OOMKilled"), st
    # The crash loop is seen: how often the keeper restarted a daemon, and how the last ended.
    info = json.loads(http_get(env.c.sock, "/info")[1])
    assert info["keeper"]["restarts"] >= 3, info["keeper"]
    assert info["keeper"]["last_exit"] == "exit status 1", info["keeper"]
    assert "before it was ready" in env.c.output()


def test_exit_after_a_restart_is_reported(env):
    # After the restart the container is the keeper's child: its status comes from the keeper.
    pod = env.pod()
    nine = env.run(pod, ["/bin/sh", "-c", "sleep 2; exit 9"], name="nine")
    kill_daemon(env)
    st = env.wait_exit(nine)
    assert (st.exit_code, st.reason) == (9, "Error"), st
    assert st.finished_at > st.started_at


def test_upgrade_under_load_loses_no_line(net_cribd, pb, layouts, tmp_path):
    # The binaries are replaced as a package manager does (a new file renamed over each), then
    # `cribd upgrade`: the keeper stops the daemon, execs the new keeper, which starts the new
    # daemon. Ten counters run on and lose no line.
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in ("cribd", "cribd-keeper"):
        shutil.copy2(os.path.join(os.path.dirname(CRIBD), name), bindir / name)
    env = Env(net_cribd(binary=str(bindir / "cribd")), pb, layouts, str(tmp_path))
    try:
        pod = env.pod()
        names = [f"counter{i}" for i in range(10)]
        cids = [env.run(pod, COUNTER, name=n) for n in names]
        wait_numbers_past(env, pod, names[-1], 20)
        keeper, old = env.c.keeper_pid(), env.c.daemon_pid()
        for name in ("cribd", "cribd-keeper"):  # a second build: other bytes
            with open(bindir / name, "rb") as f:
                data = f.read()
            with open(bindir / f"{name}.new", "wb") as f:
                f.write(data + b"\0second build\0")
            os.chmod(bindir / f"{name}.new", 0o755)
            os.rename(bindir / f"{name}.new", bindir / name)
        r = subprocess.run([str(bindir / "cribd"), "--config", env.c.config, "upgrade"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        deadline = time.monotonic() + 30
        while env.c.daemon_pid() == old:
            assert time.monotonic() < deadline, "the daemon was not replaced"
            time.sleep(0.05)
        reconnect(env)
        # The same keeper process, now running the new keeper binary; the new daemon binary;
        # the front (the service's main process) runs on.
        assert env.c.proc.poll() is None and env.c.keeper_pid() == keeper
        for pid in (keeper, env.c.daemon_pid()):
            exe = os.readlink(f"/proc/{pid}/exe")
            assert not exe.endswith("(deleted)"), exe
        assert "upgrade: starting" in env.c.output()
        last = wait_numbers_past(env, pod, names[0], numbers(env, pod, names[0])[-1] + 50)[-1]
        for cid in cids:
            assert env.status(cid).state == env.pb.CONTAINER_RUNNING
            env.stop(cid, 0)
        for n in names:
            got = numbers(env, pod, n)
            assert got == list(range(len(got))), f"{n}: lost or repeated lines"
            assert got[-1] >= last - 1000
    finally:
        env.close()


def test_systemd_notify_from_the_keeper(cribd_factory, tmp_path):
    # Type=notify: the front (the service's main process) says READY=1 once the daemon serves,
    # and STOPPING=1 when it is stopped; the daemon does not get the socket.
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    c = cribd_factory(env={"NOTIFY_SOCKET": path}, start=False)
    c.start(wait=False)
    msg = sock.recv(4096).decode()
    assert msg.startswith("READY=1"), msg
    c.wait_ready()
    env = open(f"/proc/{c.daemon_pid()}/environ", "rb").read().split(b"\0")
    assert not [v for v in env if v.startswith(b"NOTIFY_SOCKET=")]
    assert c.stop() == 0
    assert sock.recv(4096).decode() == "STOPPING=1"
    sock.close()
    # Nothing to hold and no container: the keeper does not stay behind.
    deadline = time.monotonic() + 5
    while c.keeper_pid() is not None:
        assert time.monotonic() < deadline, "the keeper stayed behind with nothing to keep"
        time.sleep(0.05)


def test_stopped_service_leaves_containers_running_and_writing(env):
    # `systemctl stop`: SIGTERM to the front (the service's main process). The daemon stops and
    # the keeper stays behind, holding and reaping; the containers write on meanwhile (no
    # SIGPIPE, no line lost), one ends (its exit is kept), and the next start has the same
    # keeper start a daemon that takes everything back.
    pod = env.pod()
    names = [f"counter{i}" for i in range(3)]
    cids = [env.run(pod, COUNTER, name=n) for n in names]
    seven = env.run(pod, ["/bin/sh", "-c", "trap 'echo bye; exit 7' TERM; "
                                           "while true; do sleep 0.1; done"], name="seven")
    pid = ctr_pid(env, seven)
    before = wait_numbers_past(env, pod, names[-1], 20)[-1]
    keeper = env.c.keeper_pid()
    env.ch.close()
    assert env.c.stop() == 0
    assert "stopped: holding 4 sets of fds" in env.c.output()
    assert env.c.keeper_pid() == keeper
    t_down = time.time_ns()
    term_trapped(pid)
    time.sleep(2)  # about 200 lines each, waiting in the pipes
    t_up = time.time_ns()
    env.c.start()
    reconnect(env)
    assert env.c.keeper_pid() == keeper
    assert "started again: 4 sets of fds held meanwhile" in env.c.output()
    for cid in cids:
        assert env.status(cid).state == env.pb.CONTAINER_RUNNING
    st = env.wait_exit(seven)
    assert (st.exit_code, st.reason) == (7, "Error"), st
    assert t_down < st.finished_at < t_up
    assert lines(env.log_records(pod, "seven"), "stdout") == [b"bye"]
    last = wait_numbers_past(env, pod, names[0], before + 250)[-1]
    for cid in cids:
        env.stop(cid, 0)
    for n in names:
        got = numbers(env, pod, n)
        assert got == list(range(len(got))), f"{n}: lost or repeated lines"
        assert got[-1] >= last - 1000


def test_stopped_keeper_keeps_exits_when_it_ends(env):
    # The keeper that stayed behind is shut down for good (SIGTERM to it) after a container
    # ended: the next keeper still has that exit, from the file under the run root.
    pod = env.pod()
    seven = env.run(pod, ["/bin/sh", "-c", "trap 'exit 7' TERM; while true; do sleep 0.1; done"],
                    name="seven")
    pid = ctr_pid(env, seven)
    env.ch.close()
    assert env.c.stop() == 0
    term_trapped(pid)
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{pid}"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    env.c.shutdown()
    assert env.c.keeper_pid() is None
    env.c.start()
    reconnect(env)
    assert "1 exits reaped by the keeper before us" in env.c.output()
    st = env.wait_exit(seven)
    assert (st.exit_code, st.reason) == (7, "Error"), st


def test_without_a_keeper_an_unseen_exit_is_not_known(net_cribd, pb, layouts, tmp_path):
    # `cribd --no-keeper`: a container that ends while no daemon runs is init's to reap, and
    # its status is reported as not known, saying so.
    env = Env(net_cribd(args=["--no-keeper"]), pb, layouts, str(tmp_path))
    try:
        pod = env.pod()
        seven = env.run(pod, ["/bin/sh", "-c", "trap 'exit 7' TERM; "
                                               "while true; do sleep 0.1; done"], name="seven")
        pid = ctr_pid(env, seven)
        env.ch.close()
        assert env.c.stop() == 0
        term_trapped(pid)
        env.c.start()
        reconnect(env)
        st = env.wait_exit(seven)
        assert st.exit_code == 255 and "not known" in st.message, st
    finally:
        env.close()


def killed_calls(env, delays_ms, call, prepare=None):
    """For each delay: call(cli, k, arg) in a thread, the daemon SIGKILLed that many ms into it,
    and a new one serving; yields (delay, arg), arg from prepare(k) made before the call."""
    up = time.monotonic()
    for k, delay_ms in enumerate(delays_ms):
        arg = prepare(k) if prepare else None
        time.sleep(max(0, up + 1.2 - time.monotonic()))  # not a crash loop
        cli = env.cli

        def run():
            try:
                call(cli, k, arg)
            except grpc.RpcError:
                pass
        t = threading.Thread(target=run)
        t.start()
        time.sleep(delay_ms / 1000)
        kill_daemon(env)
        up = time.monotonic()
        t.join()
        yield delay_ms, arg


def wait_nothing_left(find, delay_ms, nothing):
    deadline = time.monotonic() + 10
    while (left := find()) != nothing:
        assert time.monotonic() < deadline, f"killed {delay_ms} ms in: {left}"
        time.sleep(0.1)


def leftovers(env):
    """What pods that do not exist (any more) left behind: run directories, mounts, addresses,
    and veths beyond one per ready pod."""
    pods = env.cli.unary("ListPodSandbox").items
    ids = {p.id for p in pods}
    run = os.path.join(env.c.dir, "run", "pods")
    dirs = [d for d in os.listdir(run) if len(d) == 64 and d not in ids]
    mounts = [m for m in (line.split()[1] for line in open("/proc/mounts"))
              if m.startswith(run + "/") and m[len(run) + 1:len(run) + 65] not in ids]
    ipam = os.path.join(env.c.dir, "ipam", f"crib-test-{env.c.net_n}")
    addrs = []
    if os.path.isdir(ipam):
        for f in os.listdir(ipam):
            if f[0].isdigit() and open(os.path.join(ipam, f)).read().split()[0] not in ids:
                addrs.append(f)
    veths = subprocess.run(["ip", "-o", "link", "show", "master", f"cribt{env.c.net_n}"],
                           capture_output=True, text=True).stdout.strip().splitlines()
    ready = [p for p in pods if p.state == env.pb.SANDBOX_READY]
    mine = f"crib-test-{env.c.net_n}-"
    parents = {mine + p.metadata.name for p in pods}
    cgroups = [d for root in cgroup_dirs("") for d in os.listdir(root)
               if d.startswith(mine) and d not in parents]
    infra = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if argv[1:2] == [b"infra"] and argv[2].decode().startswith(run + "/") and \
                argv[2].decode()[len(run) + 1:len(run) + 65] not in ids:
            infra.append(pid)
    return dirs, mounts, addrs, len(veths) - len(ready), cgroups, infra


def killed_pod_config(env, k):
    """Odd ones share one PID namespace (an infra process); each has a cgroup parent of its own
    (a parent shared by several pods stays with the first one that made it)."""
    ns = env.pb.NamespaceOption(pid=env.pb.POD if k % 2 else env.pb.CONTAINER)
    return pod_config(env.pb, name=f"killed{k}", linux=env.pb.LinuxPodSandboxConfig(
        cgroup_parent=f"/crib-test-{env.c.net_n}-killed{k}",
        security_context=env.pb.LinuxSandboxSecurityContext(namespace_options=ns)))


def test_run_pod_sandbox_killed_anywhere_leaves_nothing(env):
    # The daemon is killed at points swept across RunPodSandbox: after the restart each pod is
    # either there and ready, or gone with nothing left (pins, /dev/shm, address, veth, files).
    def call(cli, k, arg):
        cli.unary("RunPodSandbox", config=killed_pod_config(env, k), timeout=30)
    for delay_ms, _ in killed_calls(env, range(0, 140, 10), call):
        wait_nothing_left(lambda: leftovers(env), delay_ms, ([], [], [], 0, [], []))
    assert "did not finish: undone" in env.c.output()
    for p in env.cli.unary("ListPodSandbox").items:
        env.cli.unary("RemovePodSandbox", pod_sandbox_id=p.id, timeout=60)
    assert leftovers(env) == ([], [], [], 0, [], [])


def test_unfinished_pod_undo_ends_its_namespace_helper(env):
    # A dead daemon's `cribd ns-pin` helper (slow on a loaded node) may still be about to pin
    # when the next daemon undoes its pod: the undo ends it first, or a pin it made afterwards
    # would stay. Here the helper is held at its exec (ptrace) until the daemon has died.
    pod_dir = os.path.join(env.c.dir, "run", "pods", "ab" * 32)
    nsdir = os.path.join(pod_dir, "ns")
    os.makedirs(nsdir)
    libc = ctypes.CDLL(None, use_errno=True)
    helper = subprocess.Popen([env.c.binary, "ns-pin", nsdir, "", "ipc"],
                              preexec_fn=lambda: libc.ptrace(0, 0, None, None))  # TRACEME
    _, status = os.waitpid(helper.pid, 0)
    assert os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP, status
    kill_daemon(env)
    deadline = time.monotonic() + 10
    while (got := os.waitpid(helper.pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(helper.pid, signal.SIGKILL)
            os.waitpid(helper.pid, 0)
            raise AssertionError("the undo left the pod's ns-pin helper running")
        time.sleep(0.05)
    helper.returncode = -9  # reaped here, not by Popen
    assert os.WIFSIGNALED(got[1]) and os.WTERMSIG(got[1]) == signal.SIGKILL, got
    wait_nothing_left(lambda: os.path.exists(pod_dir), 0, False)
    assert "did not finish: undone" in env.c.output()


def ctr_leftovers(env, runc_before):
    """What containers that do not exist left behind: run directories, rootfs mounts, runc
    state (its init and cgroup with it)."""
    ids = {c.id for c in env.cli.unary("ListContainers").containers}
    run = os.path.join(env.c.dir, "run", "containers")
    dirs = [d for d in os.listdir(run) if len(d) == 64 and d not in ids]
    over = os.path.join(env.c.dir, "root", "overlay-containers")
    mounts = [m for m in (line.split()[1] for line in open("/proc/mounts"))
              if m.startswith(over + "/") and m[len(over) + 1:len(over) + 65] not in ids]
    runc = [d for d in os.listdir("/run/runc") if d not in runc_before and d not in ids]
    return dirs, mounts, runc


def test_create_container_killed_anywhere_leaves_nothing(env):
    pod = env.pod()
    runc_before = set(os.listdir("/run/runc"))

    def call(cli, k, arg):
        cfg = env.pb.ContainerConfig(
            metadata=env.pb.ContainerMetadata(name=f"killed{k}"),
            image=env.pb.ImageSpec(image="localhost/crib-test/busybox:1"),
            command=["/bin/sleep", "60"], log_path=f"killed{k}.log")
        cli.unary("CreateContainer", pod_sandbox_id=pod[0], config=cfg, sandbox_config=pod[1],
                  timeout=30)
    for delay_ms, _ in killed_calls(env, range(0, 210, 15), call):
        wait_nothing_left(lambda: ctr_leftovers(env, runc_before), delay_ms, ([], [], []))
    assert "did not finish: undone" in env.c.output()


def test_start_container_killed_anywhere_is_created_or_running(env):
    # After the restart a container whose StartContainer was cut short is either still created
    # (and starts when asked again) or running: never created with its process running.
    pod = env.pod()

    def call(cli, k, cid):
        cli.unary("StartContainer", container_id=cid, timeout=30)
    for delay_ms, cid in killed_calls(
            env, range(0, 140, 10), call,
            prepare=lambda k: env.create(pod, ["/bin/sleep", "60"], name=f"started{k}")):
        st = env.status(cid)
        assert st.state in (env.pb.CONTAINER_CREATED, env.pb.CONTAINER_RUNNING), (delay_ms, st)
        if st.state == env.pb.CONTAINER_CREATED:
            env.start(cid)
        assert env.status(cid).state == env.pb.CONTAINER_RUNNING, delay_ms
        env.stop(cid, 0)
        env.cli.unary("RemoveContainer", container_id=cid, timeout=30)


def test_pull_image_killed_anywhere_is_whole_or_gone(cribd_factory, registry, tmp_path, pb):
    # The daemon is killed at points swept across a pull of three layers: after the restart the
    # image is either there with every layer whole, or not there, with no layer, blob or
    # unpacked tree of it left behind.
    conf = registries_conf(tmp_path, registry)
    c = cribd_factory(f'[crib.image]\nregistries_conf = "{conf}"\n')
    files = [(f"f{i}", os.urandom(3 << 20)) for i in range(3)]
    img = push_image(registry, "test/killed", "v1",
                     [tar_layer([{"name": n, "data": d}]) for n, d in files])
    name = f"{registry.host}/test/killed:v1"
    e = Env.__new__(Env)
    e.c, e.pb = c, pb
    e.ch = c.channel()
    e.cli = Cri(e.ch, pb)
    root = os.path.join(c.dir, "root")
    chains = [h.split(":")[1] for h in chain_ids(img.diff_ids)]

    def call(cli, k, arg):
        cli.unary("PullImage", service="ImageService", image=pb.ImageSpec(image=name),
                  timeout=60)
    t0 = time.monotonic()
    call(e.cli, 0, None)
    took_ms = (time.monotonic() - t0) * 1000
    e.cli.unary("RemoveImage", service="ImageService", image=pb.ImageSpec(image=name))
    whole = 0
    for delay_ms, _ in killed_calls(e, [took_ms * i / 10 for i in range(16)], call):
        st = e.cli.unary("ImageStatus", service="ImageService",
                         image=pb.ImageSpec(image=name)).image
        layers = sorted(os.listdir(os.path.join(root, "layers")))
        assert os.listdir(os.path.join(root, "tmp")) == [], delay_ms
        if st.id:
            assert st.id == img.id, delay_ms
            assert layers == sorted(chains), delay_ms
            for chain, (n, d) in zip(chains, files):
                with open(os.path.join(root, "layers", chain, "diff", n), "rb") as f:
                    assert f.read() == d, (delay_ms, n)
            whole += 1
            e.cli.unary("RemoveImage", service="ImageService", image=pb.ImageSpec(image=name))
        else:
            assert layers == [], delay_ms
        wait_nothing_left(lambda: (os.listdir(os.path.join(root, "layers")),
                                   os.listdir(os.path.join(root, "tmp"))), delay_ms, ([], []))
    assert 0 < whole < 16, "the kills missed the pull"
    e.ch.close()
