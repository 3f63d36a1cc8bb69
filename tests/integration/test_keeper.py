"""The keeper (cribd-keeper): it restarts a daemon that dies, and holds the containers' stdio
while no daemon runs, so that containers never notice the daemon going away."""
import json
import os
import signal
import time

from conftest import Cri
from test_containers import env, layouts, lines  # noqa: F401 (fixtures)
from test_lifecycle import http_get
from test_pods import net_cribd  # noqa: F401 (fixture)
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


def reconnect(env):
    env.c.wait_ready(timeout=20)
    env.ch.close()
    env.ch = env.c.channel()
    env.cli = Cri(env.ch, env.pb)
    env.cli.unary("Version", version="v1", timeout=20)


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


def test_daemon_killed_is_restarted_and_containers_keep_writing(env):
    pod = env.pod()
    cids = [env.run(pod, COUNTER, name=f"counter{i}") for i in range(3)]
    before = wait_numbers_past(env, pod, "counter0", 20)
    kill_daemon(env)
    info = json.loads(http_get(env.c.sock, "/info")[1])
    assert info["keeper"]["restarts"] == 1, info["keeper"]
    assert "signal 9" in info["keeper"]["last_exit"], info["keeper"]
    for i, cid in enumerate(cids):
        st = env.status(cid)
        assert st.state == env.pb.CONTAINER_RUNNING, (i, st)
    # Output goes on in the same logs, past what was written before the kill.
    for i in range(3):
        got = wait_numbers_past(env, pod, f"counter{i}", before[-1] + 100)
        assert got == sorted(got), f"counter{i}: out of order"


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
    # What waited in the pipe while no daemon ran is all there; what the killed daemon had read
    # and not yet written (one read, at most 64 KiB) is not.
    assert len(out) >= (4000000 - 65536) // 100, len(out)


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
