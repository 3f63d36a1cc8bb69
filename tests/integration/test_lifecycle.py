"""Daemon lifecycle: SIGTERM/SIGINT shutdown, in-flight calls, GOAWAY, stale and live sockets,
command line and configuration errors."""
import os
import signal
import socket
import stat
import subprocess
import threading
import time
import tomllib

import grpc
import h2.events
import pytest

from conftest import CRIBD, Cri
from h2client import H2
from test_grpc_transport import wait_stats
from test_http1 import http_get


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_shutdown_removes_socket_and_exits_0(cribd_factory, sig):
    c = cribd_factory()
    assert stat.S_ISSOCK(os.stat(c.sock).st_mode)
    assert stat.S_IMODE(os.stat(c.sock).st_mode) == 0o660
    assert c.stop(sig) == 0
    assert not os.path.exists(c.sock)
    assert "stopped" in c.output()


def test_shutdown_sends_goaway_and_ends_event_streams(cribd_factory, pb):
    c = cribd_factory()
    h = H2(c.sock)
    h.conn.ping(b"12345678")
    h.flush()
    h.wait_for(h2.events.PingAckReceived)
    ch = c.channel()
    stream = Cri(ch, pb).stream("GetContainerEvents")
    wait_stats(c, calls=1)  # the event stream is open in cribd before the signal
    c.proc.send_signal(signal.SIGTERM)
    ev, _ = h.wait_for(h2.events.ConnectionTerminated)
    assert ev.error_code == 0
    with pytest.raises(grpc.RpcError) as e:
        list(stream)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "shutting down" in e.value.details()  # ended by cribd, not by the shutdown timeout
    h.close()
    ch.close()
    assert c.proc.wait(timeout=10) == 0


def test_in_flight_call_finishes_during_shutdown(cribd_factory, pb, tmp_path):
    # The runtime's `--version` waits for the gate, opened only once cribd is stopping.
    gate = tmp_path / "gate"
    slow = tmp_path / "slow-runtime"
    slow.write_text(f"#!/bin/sh\nfor i in $(seq 200); do [ -e {gate} ] && break; sleep 0.05; done\n"
                    "echo 'slow version 1'\n")
    slow.chmod(0o755)
    c = cribd_factory(f'[crib.runtime.runtimes.runc]\nruntime_path = "{slow}"\n')
    ch = c.channel()
    cri = Cri(ch, pb)
    cri.unary("Version")  # connected
    result = {}

    def call():
        result["resp"] = cri.unary("Status", timeout=20)

    t = threading.Thread(target=call)
    t.start()
    wait_stats(c, calls=1)  # Status is in flight, its probe held at the gate
    c.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    while "stopping" not in c.output():
        assert time.monotonic() < deadline, "cribd did not start stopping"
        time.sleep(0.02)
    gate.touch()
    t.join(20)
    ready = {x.type: x.status for x in result["resp"].status.conditions}
    assert ready["RuntimeReady"] is True
    assert c.proc.wait(timeout=10) == 0
    ch.close()


def test_stale_socket_is_replaced(cribd_factory):
    c = cribd_factory(start=False)
    s = socket.socket(socket.AF_UNIX)
    s.bind(c.sock)
    s.close()  # the file stays, nobody listens: what a crash leaves behind
    assert os.path.exists(c.sock)
    c.start()
    assert stat.S_ISSOCK(os.stat(c.sock).st_mode)
    assert http_get(c.sock, "/info")[0] == 200


def test_live_socket_is_refused(cribd_factory):
    a = cribd_factory(subdir="a")
    b = cribd_factory(subdir="b", start=False)
    b.config = a.config
    b.expected_rc = 1
    b.start(wait=False)
    assert b.proc.wait(timeout=10) == 1
    assert "another daemon is listening" in b.output()
    assert os.path.exists(a.sock)


def run(*args, **kw):
    return subprocess.run([CRIBD, *args], capture_output=True, text=True, timeout=30, **kw)


def test_version_and_help():
    r = run("version")
    assert r.returncode == 0 and r.stdout.startswith("crib version ")
    r = run("--help")
    assert r.returncode == 0 and "--config" in r.stdout
    r = run("frobnicate")
    assert r.returncode == 2 and "unknown command" in r.stderr


def test_config_prints_full_default_config(tmp_path):
    r = run("--config", "/dev/null", "config")
    assert r.returncode == 0, r.stderr
    cfg = tomllib.loads(r.stdout)
    assert cfg["crib"]["api"]["listen"] == "/run/crib/crib.sock"
    assert cfg["crib"]["root"] == "/var/lib/crib"
    assert cfg["crib"]["runtime"]["default_runtime"] == "runc"
    assert cfg["crib"]["runtime"]["cgroup_manager"] == "cgroupfs"
    assert cfg["crib"]["network"]["network_dir"] == "/etc/cni/net.d/"
    # What it prints is itself a valid configuration.
    f = tmp_path / "printed.conf"
    f.write_text(r.stdout)
    r2 = run("--config", str(f), "config")
    assert r2.returncode == 0 and r2.stdout == r.stdout


def test_config_errors_name_file_line_and_column(tmp_path):
    f = tmp_path / "bad.conf"
    f.write_text('[crib]\nroot = "/x"\nroot = "/y"\n')
    r = run("--config", str(f), "config")
    assert r.returncode == 1
    assert f"{f}:3:1" in r.stderr
    f.write_text('[crib.api]\nlisten = "/x.sock"\nbogus = 1\n')
    r = run("--config", str(f))
    assert r.returncode == 1
    assert f"{f}:3:1: unknown option `crib.api.bogus`" in r.stderr
    r = run("--config", str(tmp_path / "missing.conf"))
    assert r.returncode == 1 and "missing.conf" in r.stderr


def test_log_level_flag_overrides(cribd_factory):
    r = run("--config", "/dev/null", "--log-level", "trace", "config")
    assert 'log_level = "trace"' in r.stdout
    r = run("--config", "/dev/null", "--log-level", "chatty", "config")
    assert r.returncode == 1 and "log_level" in r.stderr


def stopped(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def test_shutdown_while_connections_are_closing(cribd_factory):
    # Connections whose close callback is pending when SIGTERM is handled must be left to finish
    # closing. To put them there for certain, cribd is stopped while the peers hang up and
    # SIGTERM is queued: when it continues, one poll returns every EOF and the signal, libuv
    # runs the read callbacks first (they close the connections) and the signal after them.
    c = cribd_factory()
    socks = []
    for _ in range(30):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(10)
        s.connect(c.sock)
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        assert s.recv(9)  # the server's SETTINGS: accepted and speaking HTTP/2
        socks.append(s)
    daemon = c.daemon_pid()
    os.kill(daemon, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while not stopped(daemon):
        assert time.monotonic() < deadline, "cribd did not stop"
        time.sleep(0.01)
    for s in socks:
        s.close()
    c.proc.send_signal(signal.SIGTERM)  # the keeper passes it on
    os.kill(daemon, signal.SIGCONT)
    assert c.proc.wait(timeout=10) == 0, c.output()
    c.check_clean()
