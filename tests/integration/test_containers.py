"""Containers with real runc, overlayfs and the CNI bridge: lifecycle and exit codes, CRI logs,
stop signals and timeouts, ExecSync, security context, resources, OOM, restarts and cleanup."""
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import time

import grpc
import pytest

from conftest import CRIBD, Cri
from registry import busybox_layer
from test_image_load import write_layout
from test_pods import net_cribd, pod_config  # noqa: F401 (fixture)

IMAGE = "localhost/crib-test/busybox:1"
STOPSIG_IMAGE = "localhost/crib-test/stopsig:1"
LOG_RE = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([PF]) (.*)$")
BUSYBOX_EXTRA = ("dd", "unshare", "seq", "yes", "tr", "grep", "trap", "kill")


@pytest.fixture(scope="module")
def layouts(tmp_path_factory):
    d = tmp_path_factory.mktemp("layouts")
    layer = busybox_layer()
    write_layout(f"{d}/busybox", [layer], ref_name=IMAGE)
    write_layout(f"{d}/stopsig", [layer], ref_name=STOPSIG_IMAGE,
                 config={"StopSignal": "SIGUSR1"})
    return d


def load(c, path):
    r = subprocess.run([CRIBD, "--config", c.config, "load", str(path)], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr


class Env:
    """A cribd with images loaded, a client, and helpers for pods and containers."""

    def __init__(self, c, pb, layouts, tmp):
        self.c, self.pb, self.tmp = c, pb, tmp
        self.ch = c.channel()
        self.cli = Cri(self.ch, pb)
        load(c, f"{layouts}/busybox")
        load(c, f"{layouts}/stopsig")
        self.pods = []

    def pod(self, name="pod", **kw):
        cfg = pod_config(self.pb, name=name, **kw)
        cfg.log_directory = os.path.join(self.tmp, "logs", name)
        pid = self.cli.unary("RunPodSandbox", config=cfg, timeout=60).pod_sandbox_id
        self.pods.append(pid)
        return pid, cfg

    def create(self, pod, cmd, name="ctr", image=IMAGE, linux=None, **kw):
        pid, pcfg = pod
        cfg = self.pb.ContainerConfig(
            metadata=self.pb.ContainerMetadata(name=name), image=self.pb.ImageSpec(image=image),
            command=cmd, log_path=kw.pop("log_path", f"{name}.log"), **kw)
        if linux is not None:
            cfg.linux.CopyFrom(linux)
        return self.cli.unary("CreateContainer", pod_sandbox_id=pid, config=cfg,
                              sandbox_config=pcfg, timeout=60).container_id

    def start(self, cid):
        self.cli.unary("StartContainer", container_id=cid, timeout=60)

    def run(self, pod, cmd, **kw):
        cid = self.create(pod, cmd, **kw)
        self.start(cid)
        return cid

    def stop(self, cid, timeout):
        req = self.pb.StopContainerRequest(container_id=cid, timeout=timeout)
        self.cli.unary("StopContainer", req=req, timeout=timeout + 30)

    def status(self, cid, verbose=False):
        return self.cli.unary("ContainerStatus", container_id=cid, verbose=verbose).status

    def wait_exit(self, cid, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.status(cid)
            if st.state == self.pb.CONTAINER_EXITED:
                return st
            time.sleep(0.05)
        raise AssertionError(f"container {cid} did not exit: {st}")

    def log_records(self, pod, name="ctr"):
        with open(os.path.join(pod[1].log_directory, f"{name}.log"), "rb") as f:
            data = f.read()
        assert data.endswith(b"\n") or not data
        recs = []
        for line in data.split(b"\n")[:-1]:
            m = LOG_RE.match(line)
            assert m, f"not a CRI log line: {line[:200]!r}"
            recs.append((m.group(2).decode(), m.group(3).decode(), m.group(4)))
        return recs

    def close(self):
        for pid in self.pods:
            try:
                self.cli.unary("RemovePodSandbox", pod_sandbox_id=pid, timeout=60)
            except grpc.RpcError:
                pass
        self.ch.close()


@pytest.fixture
def env(net_cribd, pb, layouts, tmp_path):
    e = Env(net_cribd(), pb, layouts, str(tmp_path))
    yield e
    e.close()


def lines(recs, stream):
    """Whole lines of one stream, P parts joined."""
    out, cur = [], b""
    for s, tag, text in recs:
        if s != stream:
            continue
        cur += text
        if tag == "F":
            out.append(cur)
            cur = b""
    assert cur == b"", "a partial line was never finished"
    return out


def test_exit_codes_and_reasons(env):
    # A shared PID namespace: the shell is not PID 1, which ignores signals it has no handler for.
    shared = env.pb.LinuxPodSandboxConfig(security_context=env.pb.LinuxSandboxSecurityContext(
        namespace_options=env.pb.NamespaceOption(pid=env.pb.POD)))
    pod = env.pod(linux=shared)
    cases = [("zero", "echo done; exit 0", 0, "Completed"), ("three", "exit 3", 3, "Error"),
             ("killed", "kill -KILL $$", 137, "Error")]
    ids = {n: env.run(pod, ["/bin/sh", "-c", cmd], name=n) for n, cmd, _, _ in cases}
    for name, _, code, reason in cases:
        st = env.wait_exit(ids[name])
        assert (st.exit_code, st.reason) == (code, reason), name
        assert 0 < st.created_at <= st.started_at <= st.finished_at
        assert st.image.image == IMAGE and st.image_id.startswith("sha256:")
        assert st.image_ref.startswith("localhost/crib-test/busybox@sha256:")
        assert st.metadata.name == name
    assert lines(env.log_records(pod, "zero"), "stdout") == [b"done"]


def test_logs_format_order_and_long_lines(env):
    pod = env.pod()
    script = ("echo out1; echo err1 >&2; echo out2; printf 'no newline'; "
              "/bin/busybox dd if=/dev/zero bs=1048576 count=1 2>/dev/null | "
              "/bin/busybox tr '\\0' 'x' >&2; echo >&2; echo last >&2")
    cid = env.run(pod, ["/bin/sh", "-c", script])
    env.wait_exit(cid)
    recs = env.log_records(pod)
    assert lines(recs, "stdout") == [b"out1", b"out2", b"no newline"]
    errs = lines(recs, "stderr")
    assert errs[0] == b"err1" and errs[1] == b"x" * (1 << 20) and errs[2] == b"last"
    parts = [r for r in recs if r[0] == "stderr" and r[2].startswith(b"x")]
    assert [p[1] for p in parts[:-1]] == ["P"] * (len(parts) - 1) and len(parts) > 2
    assert all(len(p[2]) <= 16384 for p in recs)


def test_100k_lines_at_full_speed_none_lost(env):
    pod = env.pod()
    cid = env.run(pod, ["/bin/busybox", "seq", "1", "100000"])
    st = env.wait_exit(cid, timeout=60)
    assert st.exit_code == 0
    got = lines(env.log_records(pod), "stdout")
    assert got == [str(i).encode() for i in range(1, 100001)]


def test_reopen_log_after_rename(env):
    pod = env.pod()
    cid = env.run(pod, ["/bin/sh", "-c", "echo one; read x; echo two; sleep 30"],
                  stdin=True)
    path = os.path.join(pod[1].log_directory, "ctr.log")
    deadline = time.monotonic() + 10
    while b"one" not in open(path, "rb").read() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.rename(path, path + ".1")
    env.cli.unary("ReopenContainerLog", container_id=cid)
    assert os.path.exists(path)
    with open(os.path.join(env.c.dir, "run", "containers", cid, "stdin"), "w") as f:
        f.write("go\n")
    deadline = time.monotonic() + 10
    while b"two" not in open(path, "rb").read() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b"two" in open(path, "rb").read()
    assert b"two" not in open(path + ".1", "rb").read()
    env.stop(cid, 0)


def test_log_path_symlinks_beneath_the_log_directory_are_refused(env, tmp_path):
    """A workload that can write to the pod's log directory must not redirect cribd's writes."""
    victim_dir = tmp_path / "victim"
    victim_dir.mkdir()
    victim = victim_dir / "file"
    victim.write_bytes(b"precious\n")
    pod = env.pod()
    logdir = pod[1].log_directory
    os.makedirs(logdir, exist_ok=True)
    # The kubelet's layout is <log_directory>/<name>/<attempt>.log: the directory a symlink,
    os.symlink(victim_dir, os.path.join(logdir, "sub"))
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, ["echo", "owned"], name="a", log_path="sub/file")
    assert "a symlink on the way" in e.value.details(), e.value.details()
    # or the file itself,
    os.symlink(victim, os.path.join(logdir, "b.log"))
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, ["echo", "owned"], name="b")
    assert "a symlink on the way" in e.value.details(), e.value.details()
    # or something that is not a file at all.
    os.mkfifo(os.path.join(logdir, "c.log"))
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, ["echo", "owned"], name="c")
    assert "not a regular file" in e.value.details(), e.value.details()
    assert victim.read_bytes() == b"precious\n"
    # A symlink planted after the kubelet rotated the log: the reopen refuses it too.
    cid = env.run(pod, ["sh", "-c", "sleep 30"], name="d")
    path = os.path.join(logdir, "d.log")
    os.rename(path, path + ".1")
    os.symlink(victim, path)
    with pytest.raises(grpc.RpcError) as e:
        env.cli.unary("ReopenContainerLog", container_id=cid)
    assert "a symlink on the way" in e.value.details(), e.value.details()
    assert victim.read_bytes() == b"precious\n"
    env.stop(cid, 0)


def test_log_size_max_starts_the_file_over(net_cribd, pb, layouts, tmp_path):
    e = Env(net_cribd(extra_config="[crib.runtime]\nlog_size_max = 8192\n"), pb, layouts,
            str(tmp_path))
    try:
        pod = e.pod()
        cid = e.run(pod, ["sh", "-c", "i=0; while [ $i -lt 400 ]; do echo line-$i; "
                                      "i=$((i+1)); done; echo last"])
        assert e.wait_exit(cid).exit_code == 0
        path = os.path.join(pod[1].log_directory, "ctr.log")
        size = os.path.getsize(path)
        assert 0 < size <= 8192, size
        got = lines(e.log_records(pod), "stdout")
        assert got[-1] == b"last"
        assert b"line-0" not in got  # the start is gone: 400 lines are ~20 KB of records
    finally:
        e.close()


def test_log_size_max_below_8192_is_refused(tmp_path):
    from conftest import Cribd
    c = Cribd(str(tmp_path), extra_config="[crib.runtime]\nlog_size_max = 100\n")
    r = subprocess.run([CRIBD, "--config", c.config, "config"], capture_output=True, text=True)
    assert r.returncode != 0
    assert "`log_size_max` must be negative (no limit) or at least 8192 bytes" in r.stderr


def test_children_inherit_no_descriptor_of_ours(net_cribd, pb, layouts, tmp_path):
    """runc (and every other child) gets its stdio and nothing else: not the sockets of a pull
    running meanwhile, not libcurl's wakeup pair."""
    from test_pull_stalls import StallingRegistry
    dumps = tmp_path / "fds"
    dumps.mkdir()
    wrapper = tmp_path / "runc-wrapper"
    # Python rather than sh: dash parks its own stdout on a higher fd around a redirection.
    wrapper.write_text(f"""#!/usr/bin/python3
import os, sys
fds = []
for n in os.listdir("/proc/self/fd"):
    try:
        target = os.readlink("/proc/self/fd/" + n)
    except OSError:
        continue  # the listing's own directory fd, closed by now
    if int(n) > 2 and not target.startswith("/proc/"):
        fds.append("fd " + n + " -> " + target)
with open("{dumps}/%d" % os.getpid(), "w") as f:
    f.write(" ".join(sys.argv[1:]) + "\\n" + "\\n".join(fds))
os.execvp("runc", ["runc"] + sys.argv[1:])
""")
    wrapper.chmod(0o755)
    reg = StallingRegistry()
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
    c = net_cribd(extra_config=f'[crib.runtime.runtimes.runc]\nruntime_path = "{wrapper}"\n'
                               f'[crib.image]\nregistries_conf = "{conf}"\n')
    e = Env(c, pb, layouts, str(tmp_path))
    try:
        pull = concurrent.futures.ThreadPoolExecutor(1).submit(
            lambda: e.cli.unary("PullImage", service="ImageService",
                                image=pb.ImageSpec(image=f"{reg.host}/stall/img:v1"), timeout=8))
        assert reg.stalled.wait(30)  # the layer's download is under way
        pod = e.pod()
        cid = e.run(pod, ["true"])
        assert e.wait_exit(cid).exit_code == 0
        with pytest.raises(grpc.RpcError):  # the layer never comes: the client gives up
            pull.result()
        leaks, cmds = [], ""
        for f in dumps.iterdir():
            cmd, *fds = f.read_text().split("\n")
            cmds += cmd + "\n"
            leaks += [f"{fd} in runc {cmd}" for fd in fds if fd]
        assert " create " in cmds and " start " in cmds
        assert leaks == []
    finally:
        e.close()
        reg.stop()


def test_events_subscriber_that_stops_reading_is_dropped(net_cribd, pb, layouts, tmp_path):
    """A GetContainerEvents client that reads nothing (its HTTP/2 window is 0) is dropped once
    it is events_backlog_max events behind, rather than queueing without end; one that reads
    gets every event."""
    import h2.events
    import h2.settings
    from h2client import H2
    from test_grpc_transport import wait_stats
    c = net_cribd(extra_config="[crib.api]\nevents_backlog_max = 5\n")
    e = Env(c, pb, layouts, str(tmp_path))
    stuck = H2(c.sock)
    stuck.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    stuck.flush()
    sid = stuck.start_call("/runtime.v1.RuntimeService/GetContainerEvents")
    stuck.send_message(sid, b"")
    reader = e.cli.stream("GetContainerEvents", timeout=60)
    wait_stats(c, calls=2)  # both subscribed
    try:
        pod = e.pod()
        cids = [e.run(pod, ["true"], name=f"c{i}") for i in range(3)]  # 6 events, then more
        for cid in cids:
            e.wait_exit(cid)
            e.cli.unary("RemoveContainer", container_id=cid)
        ev, seen = stuck.wait_for(h2.events.StreamReset, sid)
        assert ev.error_code == 11, ev  # ENHANCE_YOUR_CALM: gRPC's RESOURCE_EXHAUSTED
        got = []
        for msg in reader:
            if msg.container_id in cids:  # the pod's own events come too
                got.append((msg.container_id, msg.container_event_type))
            if len(got) == 12:  # created, started, stopped, deleted for each
                break
        assert sorted(got) == sorted((cid, t) for cid in cids for t in range(4))
        assert "dropping a subscriber 5 events behind" in c.output()
    finally:
        reader.cancel()
        stuck.close()
        e.close()


def test_events_carry_pod_and_container_statuses_in_order(env):
    """GetContainerEvents as the kubelet's evented PLEG reads it: CREATED, STARTED, STOPPED,
    DELETED for a container, in order, each with the pod's status and the statuses of all the
    pod's containers as they are at that moment; the pod's own events carry its id."""
    pb = env.pb
    reader = env.cli.stream("GetContainerEvents", timeout=120)
    evs = []

    def take(n):
        for msg in reader:
            evs.append(msg)
            if len(evs) == n:
                return

    try:
        pod = env.pod()
        pid = pod[0]
        other = env.run(pod, ["sleep", "1000"], name="other")
        cid = env.run(pod, ["sleep", "1000"], name="main")
        env.stop(cid, 0)
        env.cli.unary("RemoveContainer", container_id=cid)
        env.cli.unary("StopPodSandbox", pod_sandbox_id=pid, timeout=60)
        env.cli.unary("RemoveContainer", container_id=other)
        env.cli.unary("RemovePodSandbox", pod_sandbox_id=pid, timeout=60)
        env.pods.remove(pid)
        take(12)
    finally:
        reader.cancel()
    C, S, X, D = (pb.CONTAINER_CREATED_EVENT, pb.CONTAINER_STARTED_EVENT,
                  pb.CONTAINER_STOPPED_EVENT, pb.CONTAINER_DELETED_EVENT)
    want = [(pid, C), (pid, S), (other, C), (other, S), (cid, C), (cid, S), (cid, X), (cid, D)]
    got = [(e.container_id, e.container_event_type) for e in evs]
    assert got[:8] == want
    # StopPodSandbox stops `other` (its STOPPED comes first) and then the pod; removals follow.
    assert got[8:] == [(other, X), (pid, X), (other, D), (pid, D)]
    times = [e.created_at for e in evs]
    assert times == sorted(times) and times[0] > 0
    for e in evs:
        assert e.pod_sandbox_status.id == pid
        assert e.pod_sandbox_status.metadata.name == "pod"
        assert e.pod_sandbox_status.metadata.uid == pod[1].metadata.uid
    state = {e.container_event_type: {s.id: s.state for s in e.containers_statuses}
             for e in evs if e.container_id == cid}
    assert state[C] == {other: pb.CONTAINER_RUNNING, cid: pb.CONTAINER_CREATED}
    assert state[S] == {other: pb.CONTAINER_RUNNING, cid: pb.CONTAINER_RUNNING}
    assert state[X] == {other: pb.CONTAINER_RUNNING, cid: pb.CONTAINER_EXITED}
    assert state[D] == {other: pb.CONTAINER_RUNNING}  # a deleted container is gone
    ev_x = [e for e in evs if e.container_id == cid and e.container_event_type == X][0]
    st = [s for s in ev_x.containers_statuses if s.id == cid][0]
    assert st.metadata.name == "main" and st.finished_at > 0 and st.exit_code == 137
    assert [e.pod_sandbox_status.state for e in evs if e.container_id == pid] == [
        pb.SANDBOX_READY, pb.SANDBOX_READY, pb.SANDBOX_NOTREADY, pb.SANDBOX_NOTREADY]
    assert evs[0].pod_sandbox_status.network.ip  # the pod's address, as PodSandboxStatus has it


def test_stop_honours_stop_signal_and_timeout(env):
    pod = env.pod()
    # The image's STOPSIGNAL is SIGUSR1: the trap makes the exit code tell it arrived.
    a = env.run(pod, ["/bin/sh", "-c", "trap 'exit 7' USR1; while true; do sleep 0.1; done"],
                name="usr1", image=STOPSIG_IMAGE)
    b = env.run(pod, ["/bin/sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"],
                name="stubborn")
    c = env.run(pod, ["/bin/sh", "-c", "while true; do sleep 0.1; done"], name="instant")
    time.sleep(0.3)
    t0 = time.monotonic()
    env.stop(a, 30)
    assert time.monotonic() - t0 < 5
    assert env.status(a).exit_code == 7
    t0 = time.monotonic()
    env.stop(b, 2)
    took = time.monotonic() - t0
    assert 1.8 < took < 10, took
    assert env.status(b).exit_code == 137
    t0 = time.monotonic()
    env.stop(c, 0)
    assert time.monotonic() - t0 < 2
    assert env.status(c).exit_code == 137
    env.stop(c, 0)  # again: fine


def test_exec_sync_output_exit_code_and_timeout(env):
    pod = env.pod()
    cid = env.run(pod, ["/bin/sleep", "60"])
    def exec_sync(cmd, timeout, cid=cid):
        req = env.pb.ExecSyncRequest(container_id=cid, cmd=cmd, timeout=timeout)
        return env.cli.unary("ExecSync", req=req, timeout=timeout + 10)
    r = exec_sync(["/bin/sh", "-c", "echo out; echo err >&2; exit 5"], 10)
    assert (r.stdout, r.stderr, r.exit_code) == (b"out\n", b"err\n", 5)
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        exec_sync(["/bin/sleep", "30"], 1)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "timed out" in e.value.details()
    assert time.monotonic() - t0 < 8
    with pytest.raises(grpc.RpcError) as e:
        exec_sync(["/bin/true"], 1, cid="nope")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    # A command the runtime cannot start: its message and status, as an attached exec gave.
    r = exec_sync(["/no/such/command"], 10)
    assert r.exit_code != 0 and b"no/such/command" in r.stderr, r
    # The command that timed out was killed, and no exec left its files in the bundle.
    ps = "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done 2>/dev/null"
    deadline = time.monotonic() + 10
    while b"sleep 30" in exec_sync(["/bin/sh", "-c", ps], 10).stdout:
        assert time.monotonic() < deadline, "the timed-out command still runs"
        time.sleep(0.2)
    bundle = os.path.join(env.c.dir, "run", "containers", cid)
    deadline = time.monotonic() + 10
    while [n for n in os.listdir(bundle) if n.startswith("exec-")]:
        assert time.monotonic() < deadline, os.listdir(bundle)
        time.sleep(0.2)


def test_exec_sync_output_fits_the_response_limit(net_cribd, pb, layouts, tmp_path):
    # stdout and stderr each under their own cap could still make a response over the limit.
    e = Env(net_cribd(extra_config="[crib.api]\ngrpc_max_send_msg_size = 1048576\n"), pb,
            layouts, str(tmp_path))
    try:
        cid = e.run(e.pod(), ["/bin/sleep", "60"])
        req = pb.ExecSyncRequest(container_id=cid, timeout=20, cmd=[
            "sh", "-c", "head -c 2000000 /dev/zero; head -c 2000000 /dev/zero >&2; exit 4"])
        r = e.cli.unary("ExecSync", req=req, timeout=40)
        assert r.exit_code == 4
        assert 0 < len(r.stdout) <= 524288 and 0 < len(r.stderr) <= 524288
    finally:
        e.close()


def test_readonly_rootfs_refuses_writes(env):
    pod = env.pod()
    linux = env.pb.LinuxContainerConfig(
        security_context=env.pb.LinuxContainerSecurityContext(readonly_rootfs=True))
    cid = env.run(pod, ["/bin/sh", "-c", "touch /x && echo wrote || echo refused"],
                  linux=linux)
    env.wait_exit(cid)
    assert lines(env.log_records(pod), "stdout") == [b"refused"]


def test_run_as_user_and_username(env):
    pod = env.pod()
    by_uid = env.pb.LinuxContainerConfig(security_context=env.pb.LinuxContainerSecurityContext(
        run_as_user=env.pb.Int64Value(value=1234), run_as_group=env.pb.Int64Value(value=99)))
    by_name = env.pb.LinuxContainerConfig(
        security_context=env.pb.LinuxContainerSecurityContext(run_as_username="nobody"))
    a = env.run(pod, ["/bin/id"], name="uid", linux=by_uid)
    b = env.run(pod, ["/bin/id"], name="name", linux=by_name)
    env.wait_exit(a)
    env.wait_exit(b)
    assert lines(env.log_records(pod, "uid"), "stdout")[0].startswith(b"uid=1234 gid=99")
    out = lines(env.log_records(pod, "name"), "stdout")[0]
    assert out.startswith(b"uid=65534(nobody) gid=65534(nogroup)"), out


def cap_eff(out):
    for line in out.split(b"\n"):
        if line.startswith(b"CapEff:"):
            return int(line.split()[1], 16)
    raise AssertionError(out)


def test_capabilities_seen_in_proc_status(env):
    pod = env.pod()
    caps = env.pb.LinuxContainerConfig(security_context=env.pb.LinuxContainerSecurityContext(
        capabilities=env.pb.Capability(add_capabilities=["NET_ADMIN"],
                                       drop_capabilities=["KILL", "CAP_CHOWN"])))
    cid = env.run(pod, ["/bin/sleep", "60"], linux=caps)
    req = env.pb.ExecSyncRequest(container_id=cid, cmd=["/bin/cat", "/proc/self/status"],
                                 timeout=10)
    eff = cap_eff(env.cli.unary("ExecSync", req=req, timeout=20).stdout)
    assert eff & (1 << 12)  # CAP_NET_ADMIN
    assert not eff & (1 << 5)  # CAP_KILL
    assert not eff & (1 << 0)  # CAP_CHOWN
    assert eff & (1 << 1)  # CAP_DAC_OVERRIDE, a default
    assert not eff & (1 << 21)  # CAP_SYS_ADMIN
    bad = env.pb.LinuxContainerConfig(security_context=env.pb.LinuxContainerSecurityContext(
        capabilities=env.pb.Capability(add_capabilities=["NOT_A_CAP"])))
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, ["/bin/true"], name="bad", linux=bad)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "NOT_A_CAP" in e.value.details()


def test_apparmor_and_selinux_on_a_host_without_them(env):
    """This host runs neither LSM: a Localhost AppArmor profile is refused, not dropped;
    RuntimeDefault and Unconfined run; SELinux options are checked, then have nothing to apply
    to; Status and /info say what the host supports."""
    from test_http1 import http_get
    pb = env.pb
    try:
        apparmor = open("/sys/module/apparmor/parameters/enabled").read().startswith("Y")
    except OSError:
        apparmor = False
    if apparmor or os.path.exists("/sys/fs/selinux/enforce"):
        pytest.skip("this host runs an LSM")
    status, body = http_get(env.c.sock, "/info")
    assert json.loads(body)["security_modules"] == {"apparmor": False, "selinux": False}
    info = json.loads(env.cli.unary("Status", verbose=True).info["config"])
    assert info["apparmor"] is False and info["selinux"] is False
    pod = env.pod()
    P = pb.SecurityProfile.ProfileType

    def sc(**kw):
        return pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(**kw))
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, ["true"], name="local", linux=sc(
            apparmor=pb.SecurityProfile(profile_type=P.Localhost, localhost_ref="k8s-deny")))
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert e.value.details() == ("AppArmor profile `k8s-deny` asked for, but AppArmor is not "
                                 "enabled on this host")
    for i, t in enumerate((P.RuntimeDefault, P.Unconfined)):
        cid = env.run(pod, ["true"], name=f"ok{i}",
                      linux=sc(apparmor=pb.SecurityProfile(profile_type=t)))
        assert env.wait_exit(cid).exit_code == 0
    cid = env.run(pod, ["true"], name="labelled",
                  linux=sc(selinux_options=pb.SELinuxOption(level="s0:c1,c2")))
    assert env.wait_exit(cid).exit_code == 0
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, ["true"], name="badlabel",
                   linux=sc(selinux_options=pb.SELinuxOption(type="a:b")))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The pod's own request is held to the same rule.
    cfg = pod_config(pb, name="aa-pod")
    cfg.linux.security_context.apparmor.profile_type = P.Localhost
    cfg.linux.security_context.apparmor.localhost_ref = "k8s-deny"
    with pytest.raises(grpc.RpcError) as e:
        env.cli.unary("RunPodSandbox", config=cfg, timeout=60)
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_seccomp_runtime_default_refuses_unshare(env):
    pod = env.pod()

    def sc(kind):
        return env.pb.LinuxContainerConfig(security_context=env.pb.LinuxContainerSecurityContext(
            seccomp=env.pb.SecurityProfile(profile_type=kind)))
    # A new user namespace needs no capability: only the filter can refuse it.
    script = "/bin/busybox unshare -U /bin/true && echo allowed || echo refused"
    a = env.run(pod, ["/bin/sh", "-c", script], name="default",
                linux=sc(env.pb.SecurityProfile.RuntimeDefault))
    b = env.run(pod, ["/bin/sh", "-c", script], name="unconfined",
                linux=sc(env.pb.SecurityProfile.Unconfined))
    env.wait_exit(a)
    env.wait_exit(b)
    assert lines(env.log_records(pod, "default"), "stdout") == [b"refused"]
    assert lines(env.log_records(pod, "unconfined"), "stdout") == [b"allowed"]


def term_trapped(pid, timeout=20):
    """Send SIGTERM to a container's shell once its trap is set: PID 1 of a namespace drops a
    signal it has no handler for."""
    deadline = time.monotonic() + timeout
    while True:
        caught = [int(l.split()[1], 16) for l in open(f"/proc/{pid}/status")
                  if l.startswith("SigCgt:")][0]
        if caught & (1 << (signal.SIGTERM - 1)):
            break
        assert time.monotonic() < deadline, f"{pid} never trapped SIGTERM"
        time.sleep(0.05)
    os.kill(pid, signal.SIGTERM)


def cgroup_v2():
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def cgroup_fs_path(cgroups_path):
    """A cgroupsPath below a hierarchy's root: as it is, or for systemd's SLICE:PREFIX:NAME the
    slice's nesting (a-b.slice is in a.slice) and the scope PREFIX-NAME.scope."""
    if cgroups_path.startswith("/"):
        return cgroups_path
    slice_, prefix, name = cgroups_path.split(":")
    parts = slice_[:-len(".slice")].split("-")
    path = "".join("/" + "-".join(parts[:i + 1]) + ".slice" for i in range(len(parts)))
    return f"{path}/{prefix}-{name}.scope"


def memory_limit_file(cid, env):
    """The container's memory limit file: memory.max (v2) or memory.limit_in_bytes (v1)."""
    info = env.cli.unary("ContainerStatus", container_id=cid, verbose=True).info["info"]
    cg = cgroup_fs_path(json.loads(info)["cgroupsPath"])
    if cgroup_v2():
        return f"/sys/fs/cgroup{cg}/memory.max"
    return f"/sys/fs/cgroup/memory{cg}/memory.limit_in_bytes"


def test_update_container_resources_changes_memory_limit(env):
    pod = env.pod()
    linux = env.pb.LinuxContainerConfig(
        resources=env.pb.LinuxContainerResources(memory_limit_in_bytes=64 << 20))
    cid = env.run(pod, ["/bin/sleep", "60"], linux=linux)
    path = memory_limit_file(cid, env)
    assert int(open(path).read()) == 64 << 20
    env.cli.unary("UpdateContainerResources", container_id=cid,
                  linux=env.pb.LinuxContainerResources(memory_limit_in_bytes=96 << 20))
    assert int(open(path).read()) == 96 << 20
    assert env.status(cid).resources.linux.memory_limit_in_bytes == 96 << 20


def test_oom_killed_container_is_reported(env):
    pod = env.pod()
    linux = env.pb.LinuxContainerConfig(
        resources=env.pb.LinuxContainerResources(memory_limit_in_bytes=16 << 20,
                                                 memory_swap_limit_in_bytes=16 << 20))
    cid = env.run(pod, ["/bin/busybox", "dd", "if=/dev/zero", "of=/dev/null", "bs=64M",
                        "count=1"], linux=linux)
    st = env.wait_exit(cid)
    assert st.reason == "OOMKilled" and st.exit_code == 137, st


def test_twenty_containers_started_concurrently(env):
    pod = env.pod()

    def one(i):
        return env.run(pod, ["/bin/sh", "-c", f"echo hello {i}"], name=f"c{i}")
    with concurrent.futures.ThreadPoolExecutor(20) as ex:
        ids = list(ex.map(one, range(20)))
    assert len(set(ids)) == 20
    for i, cid in enumerate(ids):
        assert env.wait_exit(cid).exit_code == 0
        assert lines(env.log_records(pod, f"c{i}"), "stdout") == [f"hello {i}".encode()]
    listed = env.cli.unary("ListContainers").containers
    assert {c.id for c in listed} == set(ids)


def test_list_filters(env):
    pod = env.pod()
    a = env.run(pod, ["/bin/sleep", "60"], name="a", labels={"tier": "web"})
    b = env.create(pod, ["/bin/true"], name="b", labels={"tier": "db"})
    f = env.pb.ContainerFilter
    ls = lambda **kw: {c.id for c in env.cli.unary("ListContainers", filter=f(**kw)).containers}
    assert ls(label_selector={"tier": "web"}) == {a}
    assert ls(state=env.pb.ContainerStateValue(state=env.pb.CONTAINER_CREATED)) == {b}
    assert ls(state=env.pb.ContainerStateValue(state=env.pb.CONTAINER_RUNNING)) == {a}
    assert ls(id=b[:12]) == {b}
    assert ls(pod_sandbox_id=pod[0]) == {a, b}
    assert ls(pod_sandbox_id="0" * 64) == set()


def test_bad_requests_get_clear_errors(env):
    pod = env.pod()
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, ["/bin/true"], image="localhost/none:1")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "none" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        env.create(("0" * 64, pod[1]), ["/bin/true"])
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    env.create(pod, ["/bin/true"], name="dup")
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, ["/bin/true"], name="dup")
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    # The image has a Cmd: no command given is fine. A missing binary fails at create.
    env.create(pod, [], name="nocmd")
    with pytest.raises(grpc.RpcError) as e:
        env.run(pod, ["/no/such/binary"], name="missing")
    assert "no/such/binary" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        env.cli.unary("StartContainer", container_id="nope")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    env.cli.unary("RemoveContainer", container_id="nope")  # idempotent


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [l.split()[4] for l in f if l.split()[4].startswith(path)]


def test_remove_leaves_nothing_behind(env):
    pod = env.pod()
    cid = env.run(pod, ["/bin/sleep", "60"])
    cg = memory_limit_file(cid, env).rsplit("/", 1)[0]
    assert os.path.isdir(cg)
    assert mounts_under(env.c.dir + "/root/overlay-containers/" + cid)
    env.cli.unary("RemoveContainer", container_id=cid, timeout=30)
    assert not mounts_under(env.c.dir + "/root/overlay-containers/" + cid)
    assert not os.path.exists(f"{env.c.dir}/run/containers/{cid}")
    assert not os.path.exists(f"{env.c.dir}/root/containers/{cid}.json")
    deadline = time.monotonic() + 5
    while os.path.exists(f"{env.c.dir}/root/overlay-containers/{cid}") and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"{env.c.dir}/root/overlay-containers/{cid}")
    assert not os.path.isdir(cg)
    with pytest.raises(grpc.RpcError) as e:
        env.status(cid)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    # The pod's removal takes its containers along.
    other = env.run(pod, ["/bin/sleep", "60"], name="other")
    env.cli.unary("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=60)
    assert len(env.cli.unary("ListContainers").containers) == 0
    assert not mounts_under(env.c.dir + "/root/overlay-containers/" + other)


def test_restart_with_running_containers(env):
    pod = env.pod()
    running = env.run(pod, ["/bin/sh", "-c", "echo before; trap 'echo after; exit 4' TERM; "
                                              "while true; do sleep 0.1; done"], name="survivor")
    pid = json.loads(env.cli.unary("ContainerStatus", container_id=running,
                                   verbose=True).info["info"])["pid"]
    done = env.run(pod, ["/bin/true"], name="done")
    env.wait_exit(done)
    time.sleep(0.3)
    env.ch.close()
    assert env.c.stop() == 0
    env.c.start()
    env.ch = env.c.channel()
    env.cli = Cri(env.ch, env.pb)
    assert env.status(done).state == env.pb.CONTAINER_EXITED
    assert env.status(running).state == env.pb.CONTAINER_RUNNING
    term_trapped(pid)
    st = env.wait_exit(running)
    # The keeper that stayed behind over the stop is its parent: it reaped it and kept its code.
    assert st.finished_at > st.started_at
    assert (st.exit_code, st.reason) == (4, "Error"), st
    assert lines(env.log_records(pod, "survivor"), "stdout") == [b"before", b"after"]
    env.cli.unary("RemoveContainer", container_id=running, timeout=30)
    env.cli.unary("RemoveContainer", container_id=done, timeout=30)


@pytest.fixture
def journald():
    """A systemd-journald of our own: a journal namespace, read back with journalctl."""
    ns = f"cribtest{os.getpid()}"
    proc = subprocess.Popen(["/lib/systemd/systemd-journald", ns], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    sock = f"/run/systemd/journal.{ns}/socket"
    deadline = time.monotonic() + 10
    while not os.path.exists(sock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.exists(sock), "systemd-journald did not start"
    yield ns, sock
    proc.terminate()
    proc.wait(timeout=10)
    machine = open("/etc/machine-id").read().strip()
    for base in ("/var/log/journal", "/run/log/journal"):
        subprocess.run(["rm", "-rf", f"{base}/{machine}.{ns}"])
    subprocess.run(["rm", "-rf", f"/run/systemd/journal.{ns}"])


def journal_entries(args, want, timeout):
    """journalctl's JSON entries for args, read again until there are want of them (or the
    time is up: the caller's assertions say what is missing)."""
    deadline = time.monotonic() + timeout
    while True:
        out = subprocess.run(["journalctl", *args, "-o", "json", "--no-pager"],
                             capture_output=True, text=True)
        entries = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
        if len(entries) >= want or time.monotonic() > deadline:
            return entries
        time.sleep(0.1)


def test_journald_output_read_back_with_journalctl(net_cribd, pb, layouts, tmp_path, journald):
    ns, sock = journald
    c = net_cribd(extra_config=f'[crib.runtime]\nlog_to_journald = true\n'
                               f'journald_socket = "{sock}"\n')
    e = Env(c, pb, layouts, str(tmp_path))
    try:
        pod = e.pod(name="jpod", ns="jns")
        cid = e.run(pod, ["/bin/sh", "-c", "echo to journal; echo oops >&2"], name="jctr")
        e.wait_exit(cid)
        entries = journal_entries([f"--namespace={ns}", "CONTAINER_NAME=jctr"], 2, 10)
        by_msg = {x["MESSAGE"]: x for x in entries}
        assert set(by_msg) == {"to journal", "oops"}, entries
        out, err = by_msg["to journal"], by_msg["oops"]
        assert (out["PRIORITY"], err["PRIORITY"]) == ("6", "3")
        assert out["CONTAINER_ID_FULL"] == cid and out["CONTAINER_ID"] == cid[:12]
        assert out["SYSLOG_IDENTIFIER"] == "jctr"
        assert (out["POD_NAMESPACE"], out["POD_NAME"], out["POD_UID"]) == ("jns", "jpod",
                                                                           "uid-jpod")
        # The CRI log file gets the same lines.
        assert lines(e.log_records(pod, "jctr"), "stdout") == [b"to journal"]
    finally:
        e.close()


def test_stop_right_after_start_reaches_a_late_handler(env):
    # PID 1 ignores SIGTERM until it has a handler: the stop signal must not be lost.
    pod = env.pod()
    cid = env.run(pod, ["/bin/sh", "-c",
                        "sleep 0.5; trap 'exit 9' TERM; while :; do sleep 1 & wait; done"])
    t0 = time.monotonic()
    env.stop(cid, 30)
    assert time.monotonic() - t0 < 10
    assert env.status(cid).exit_code == 9


def test_run_as_group_without_user_is_refused(env):
    pod = env.pod()
    linux = env.pb.LinuxContainerConfig(security_context=env.pb.LinuxContainerSecurityContext(
        run_as_group=env.pb.Int64Value(value=5)))
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, ["/bin/id"], linux=linux)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "run_as_group" in e.value.details()


def test_tty_output_reaches_the_log(env):
    pod = env.pod()
    cid = env.run(pod, ["/bin/sh", "-c", "echo hi-tty; test -t 1 && echo is-a-tty"], tty=True)
    assert env.wait_exit(cid).exit_code == 0
    got = [l.rstrip(b"\r") for l in lines(env.log_records(pod), "stdout")]
    assert got == [b"hi-tty", b"is-a-tty"]
