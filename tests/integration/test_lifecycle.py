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
    time.sleep(0.2)
    c.proc.send_signal(signal.SIGTERM)
    ev, _ = h.wait_for(h2.events.ConnectionTerminated)
    assert ev.error_code == 0
    with pytest.raises(grpc.RpcError) as e:
        list(stream)
    assert e.value.code() == grpc.StatusCode.UNAVAILABLE
    h.close()
    ch.close()
    assert c.proc.wait(timeout=10) == 0


def test_in_flight_call_finishes_during_shutdown(cribd_factory, pb, tmp_path):
    slow = tmp_path / "slow-runtime"
    slow.write_text("#!/bin/sh\nsleep 1\necho 'slow version 1'\n")
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
    time.sleep(0.3)
    c.proc.send_signal(signal.SIGTERM)
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


def test_shutdown_while_connections_are_closing(cribd_factory):
    # Connections being torn down when SIGTERM arrives must be left to finish closing. A race:
    # this makes it likely (the suite under ASan hit it about once in 20 runs), not certain.
    for i in range(5):
        c = cribd_factory(subdir=f"s{i}")
        socks = []
        for _ in range(30):
            s = socket.socket(socket.AF_UNIX)
            s.connect(c.sock)
            s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 64)
            socks.append(s)
        assert c.stop() == 0
        c.check_clean()
        for s in socks:
            s.close()
