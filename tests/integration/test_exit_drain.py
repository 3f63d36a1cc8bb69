"""Output at process exit (issue 14 item 4): a process left behind with the stdio open (`yes &`)
must not keep the loop reading, nor a client's queue growing. A container's leftovers are killed
when its init exits; an exec's output is read with backpressure until EOF or for
drain_exec_io_timeout after its process exits; ExecSync's too."""
import json
import os
import random
import time

import pytest
import websocket

from test_containers import Env, layouts  # noqa: F401 (fixture)
from test_pods import net_cribd  # noqa: F401 (fixture)
from test_streaming import ERROR, STDOUT, exec_url, ws_connect, ws_exec

DRAIN_S = 3


@pytest.fixture
def env(net_cribd, pb, layouts, tmp_path):  # noqa: F811
    e = Env(net_cribd(extra_config=f"[crib.runtime]\ndrain_exec_io_timeout = {DRAIN_S}\n"), pb,
            layouts, str(tmp_path))
    yield e
    e.close()


@pytest.fixture
def running(env):
    pod = env.pod("drain")
    return env, env.run(pod, ["sleep", "3600"])


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def procs_with(marker):
    """Host pids whose command line contains marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def test_container_init_exit_kills_what_it_left_behind(env):
    # A shared PID namespace: the init's children outlive it unless they are killed.
    shared = env.pb.LinuxPodSandboxConfig(security_context=env.pb.LinuxSandboxSecurityContext(
        namespace_options=env.pb.NamespaceOption(pid=env.pb.POD)))
    pod = env.pod("leftovers", linux=shared)
    secs = str(30000 + random.randrange(10000))
    marker = b"sleep\0" + secs.encode() + b"\0"
    cid = env.run(pod, ["sh", "-c", f"yes & sleep {secs} & echo started; sleep 0.5; exit 0"])
    start = time.monotonic()
    st = env.wait_exit(cid, timeout=20)  # cribd answers: the loop is not stuck reading `yes`
    assert time.monotonic() - start < 10
    assert st.exit_code == 0 and st.reason == "Completed", st
    deadline = time.monotonic() + 5
    while procs_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert procs_with(marker) == [], "the init's background child outlived the container"
    recs = env.log_records(pod)
    assert ("stdout", "F", b"started") in recs
    assert env.cli.unary("Version", version="v1").runtime_name == "crib"


@pytest.mark.parametrize("tty", [True, False])
def test_exec_leftover_holding_the_output_ends_within_the_drain_time(running, tty):
    # An exec's process is watched itself (its runtime detaches): when it exits, `yes` (deaf to
    # the hangup) still writes to the pty or the pipe.
    e, cid = running
    pid = e.c.daemon_pid()
    before = rss_kib(pid)
    ws = ws_connect(exec_url(e, cid, ["sh", "-c", "trap '' HUP; yes & sleep 0.2; exit 0"], tty=tty,
                              stderr=not tty))
    # We read nothing for a while: the server must stop reading `yes` (backpressure), not queue.
    peak = before
    until = time.monotonic() + 2
    while time.monotonic() < until:
        peak = max(peak, rss_kib(pid))
        if peak - before > 256 << 10:
            ws.sock.close()
            pytest.fail(f"cribd grew by {(peak - before) >> 10} MiB for a client that reads nothing")
        time.sleep(0.1)
    start = time.monotonic()
    out, status, closed = 0, b"", False
    while time.monotonic() - start < DRAIN_S + 8:
        try:
            op, data = ws.recv_data(control_frame=False)
        except websocket.WebSocketConnectionClosedException:
            break
        if op == websocket.ABNF.OPCODE_CLOSE:
            closed = True
            break
        if data[0] == STDOUT:
            out += len(data) - 1
        elif data[0] == ERROR:
            status += data[1:]
    ws.sock.close()
    assert closed, f"the session was still going {time.monotonic() - start:.1f} s later"
    assert json.loads(status) == {"metadata": {}, "status": "Success"}
    assert out > 0
    assert peak - before < 128 << 10, f"cribd grew by {(peak - before) >> 10} MiB"
    # The loop is free: calls and sessions go on.
    assert ws_exec(e, cid, ["echo", "alive"]).text(STDOUT) == "alive\n"


def test_exec_sync_leftover_holding_the_output_ends_within_the_drain_time(running):
    # runc attached would wait for EOF of the output, which the writer left in the background
    # does not give for ten minutes.
    e, cid = running
    t0 = time.monotonic()
    req = e.pb.ExecSyncRequest(
        container_id=cid, timeout=0,
        cmd=["sh", "-c", "(while :; do echo y; sleep 0.1; done) & echo hi; echo bye >&2; exit 3"])
    r = e.cli.unary("ExecSync", req=req, timeout=DRAIN_S + 20)
    assert time.monotonic() - t0 < DRAIN_S + 8
    assert r.exit_code == 3
    assert r.stderr == b"bye\n"
    assert r.stdout.startswith(b"hi\n") or r.stdout.startswith(b"y\nhi\n"), r.stdout[:40]
    assert r.stdout.count(b"y\n") >= DRAIN_S * 5  # the drain read on for its whole time
    # A command the runtime cannot start: its message, as before.
    req = e.pb.ExecSyncRequest(container_id=cid, cmd=["/no/such/binary"], timeout=10)
    r = e.cli.unary("ExecSync", req=req, timeout=30)
    assert r.exit_code != 0
    assert b"/no/such/binary" in r.stderr, r
    assert e.cli.unary("Version").runtime_name == "crib"
