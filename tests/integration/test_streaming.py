"""The streaming server: Exec (and later Attach and PortForward) through one-time URLs, driven by
an independent WebSocket client (python3-websocket) speaking the Kubernetes channel protocols."""
import base64
import concurrent.futures
import json
import socket
import threading
import time
import urllib.parse

import grpc
import pytest
import websocket

from test_containers import env, layouts  # noqa: F401 (fixtures)
from test_pods import net_cribd  # noqa: F401 (fixture)

STDIN, STDOUT, STDERR, ERROR, RESIZE = range(5)


class WsResult:
    def __init__(self):
        self.chans = {}
        self.first = None
        self.closed = False

    def text(self, ch):
        return b"".join(self.chans.get(ch, [])).decode(errors="replace")

    def status(self):
        raw = self.text(ERROR)
        return json.loads(raw) if raw else None


def ws_url(url):
    return "ws" + url[len("http"):]


def ws_connect(url, protocols=("v4.channel.k8s.io",), timeout=30):
    return websocket.create_connection(ws_url(url), subprotocols=list(protocols),
                                       timeout=timeout)


def ws_read_all(ws, res=None, base64_proto=False, limit=None):
    """Read messages until the server closes; channel contents go into res."""
    res = res or WsResult()
    while True:
        try:
            op, data = ws.recv_data(control_frame=False)
        except websocket.WebSocketConnectionClosedException:
            break
        if op == websocket.ABNF.OPCODE_CLOSE:
            res.closed = True
            break
        if base64_proto:
            ch, payload = int(chr(data[0])), base64.b64decode(data[1:])
        else:
            ch, payload = data[0], data[1:]
        if res.first is None:
            res.first = (ch, payload)
        res.chans.setdefault(ch, []).append(payload)
        if limit and sum(len(p) for p in res.chans.get(STDOUT, [])) >= limit:
            break
    return res


def exec_url(e, cid, cmd, tty=False, stdin=False, stdout=True, stderr=True):
    return e.cli.unary("Exec", container_id=cid, cmd=cmd, tty=tty, stdin=stdin,
                       stdout=stdout, stderr=stderr).url


def ws_exec(e, cid, cmd, data=None, protocols=("v4.channel.k8s.io",), close_stdin=True, **kw):
    url = exec_url(e, cid, cmd, stdin=data is not None, **kw)
    ws = ws_connect(url, protocols)
    b64 = "base64" in (ws.getsubprotocol() or "")
    if data is not None:
        if b64:
            ws.send("0" + base64.b64encode(data).decode())
        else:
            ws.send_binary(bytes([STDIN]) + data)
        if close_stdin and ws.getsubprotocol() == "v5.channel.k8s.io":
            ws.send_binary(bytes([255, STDIN]))
    res = ws_read_all(ws, base64_proto=b64)
    res.protocol = ws.getsubprotocol()
    ws.close()
    return res


@pytest.fixture
def running(env):
    pod = env.pod("stream")
    cid = env.run(pod, ["sleep", "3600"])
    return env, pod, cid


def test_exec_stdout_stderr_and_exit_code(running):
    e, pod, cid = running
    res = ws_exec(e, cid, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert res.protocol == "v4.channel.k8s.io"
    assert res.text(STDOUT) == "out\n"
    assert res.text(STDERR) == "err\n"
    st = res.status()
    assert st["status"] == "Failure" and st["reason"] == "NonZeroExitCode", st
    assert st["details"]["causes"][0] == {"reason": "ExitCode", "message": "3"}
    assert res.closed
    # The server announced the session with an empty message on the lowest output channel.
    assert res.first == (STDOUT, b"")


def test_exec_success_status(running):
    e, pod, cid = running
    res = ws_exec(e, cid, ["true"])
    assert res.status() == {"metadata": {}, "status": "Success"}


def test_exec_stdin_round_trip_v5_close(running):
    e, pod, cid = running
    data = b"".join(b"line %d\n" % i for i in range(20000))  # 200 KB: several writes
    res = ws_exec(e, cid, ["sh", "-c", "cat; echo done >&2"], data=data,
                  protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"))
    assert res.protocol == "v5.channel.k8s.io"
    assert res.text(STDOUT).encode() == data
    assert res.text(STDERR) == "done\n"
    assert res.status()["status"] == "Success"


def test_exec_base64_protocol(running):
    e, pod, cid = running
    res = ws_exec(e, cid, ["sh", "-c", "head -c 5; printf '\\001\\377'"], data=b"hello",
                  protocols=("v4.base64.channel.k8s.io",))
    assert res.protocol == "v4.base64.channel.k8s.io"
    assert b"".join(res.chans[STDOUT]) == b"hello\x01\xff"


def test_exec_channel_k8s_io_error_text(running):
    e, pod, cid = running
    res = ws_exec(e, cid, ["sh", "-c", "exit 7"], protocols=("channel.k8s.io",))
    assert res.protocol == "channel.k8s.io"
    assert "exit status 7" in res.text(ERROR)


def test_exec_tty_and_resize(running):
    e, pod, cid = running
    url = exec_url(e, cid, ["sh", "-c", "read x; stty size; echo got $x"], tty=True,
                   stdin=True, stderr=False)
    ws = ws_connect(url)
    ws.send_binary(bytes([RESIZE]) + json.dumps({"Width": 123, "Height": 45}).encode())
    time.sleep(0.3)
    ws.send_binary(bytes([STDIN]) + b"hello\r")
    res = ws_read_all(ws)
    out = res.text(STDOUT)
    assert "45 123" in out, out
    assert "got hello" in out, out
    assert res.status()["status"] == "Success"
    assert STDERR not in res.chans


def test_exec_missing_binary_is_reported(running):
    e, pod, cid = running
    res = ws_exec(e, cid, ["/no/such/binary"])
    st = res.status()
    assert st["status"] == "Failure", st
    assert "/no/such/binary" in st["message"], st


def test_exec_request_validation(running):
    e, pod, cid = running
    cases = [
        (dict(container_id=cid, cmd=["true"], tty=True, stdout=True, stderr=True),
         grpc.StatusCode.INVALID_ARGUMENT, "tty and stderr"),
        (dict(container_id=cid, cmd=["true"]), grpc.StatusCode.INVALID_ARGUMENT,
         "one of stdin"),
        (dict(container_id=cid, cmd=[], stdout=True), grpc.StatusCode.INVALID_ARGUMENT,
         "no command"),
        (dict(container_id="nope", cmd=["true"], stdout=True), grpc.StatusCode.NOT_FOUND,
         "not found"),
    ]
    for kw, code, text in cases:
        with pytest.raises(grpc.RpcError) as ei:
            e.cli.unary("Exec", **kw)
        assert ei.value.code() == code, kw
        assert text in ei.value.details(), ei.value.details()
    stopped = e.create(pod, ["true"], name="notstarted")
    with pytest.raises(grpc.RpcError) as ei:
        e.cli.unary("Exec", container_id=stopped, cmd=["true"], stdout=True)
    assert "not running" in ei.value.details()


def http_status(url, headers):
    """Send a raw upgrade request; the status code and body."""
    u = urllib.parse.urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=10)
    req = f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    s.sendall(req.encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return int(data.split(b" ")[1]), data


def test_token_is_single_use(running):
    e, pod, cid = running
    url = exec_url(e, cid, ["true"])
    ws_read_all(ws_connect(url))
    with pytest.raises(websocket.WebSocketBadStatusException) as ei:
        ws_connect(url)
    assert ei.value.status_code == 404


def test_token_expires(running, tmp_path):
    e, pod, cid = running
    # The test cribd's token lifetime is the default minute: a fabricated token and a mangled
    # real one are both unknown.
    url = exec_url(e, cid, ["true"])
    bad = url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB")
    code, body = http_status(bad, [("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                   ("Sec-WebSocket-Version", "13"),
                                   ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")])
    assert code == 404 and b"unknown or expired" in body


def test_bad_upgrades(running):
    e, pod, cid = running
    url = exec_url(e, cid, ["true"])
    code, body = http_status(url, [])
    assert code == 400 and b"upgrade" in body
    url = exec_url(e, cid, ["true"])
    code, body = http_status(url, [("Connection", "Upgrade"), ("Upgrade", "websocket"),
                                   ("Sec-WebSocket-Version", "13"),
                                   ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                   ("Sec-WebSocket-Protocol", "v9.nothing")])
    assert code == 400 and b"protocols" in body
    url = exec_url(e, cid, ["true"])
    code, body = http_status(url, [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                                   ("X-Stream-Protocol-Version", "v9.nothing")])
    assert code == 403
    code, body = http_status(url.rsplit("/", 2)[0] + "/nothing/x", [])
    assert code == 404


def test_client_disconnects_mid_stream(running):
    e, pod, cid = running
    url = exec_url(e, cid, ["sh", "-c", "yes abcdefgh"])
    ws = ws_connect(url)
    got = ws_read_all(ws, limit=1 << 20)
    assert sum(len(p) for p in got.chans[STDOUT]) >= 1 << 20
    ws.sock.close()  # abruptly, with the command still writing
    # The command is ended and cribd keeps serving.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        ps = e.cli.unary("ExecSync", container_id=cid, cmd=["ps"], timeout=10).stdout
        if b"yes" not in ps:
            break
        time.sleep(0.2)
    assert b"yes" not in ps, ps.decode()
    assert ws_exec(e, cid, ["echo", "alive"]).text(STDOUT) == "alive\n"


def test_slow_client_gets_everything(running):
    e, pod, cid = running
    url = exec_url(e, cid, ["sh", "-c", "head -c 8000000 /dev/zero | tr '\\0' x"])
    ws = ws_connect(url)
    time.sleep(2)  # the command has filled every buffer and must wait for us
    res = ws_read_all(ws)
    assert len(res.text(STDOUT)) == 8000000
    assert res.status()["status"] == "Success"


def test_twenty_concurrent_execs(running):
    e, pod, cid = running

    def one(i):
        data = (f"session {i}\n" * 1000).encode()
        res = ws_exec(e, cid, ["sh", "-c", f"cat; exit {i % 4}"], data=data,
                      protocols=("v5.channel.k8s.io",))
        return i, res

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    for i, res in results:
        assert res.text(STDOUT) == f"session {i}\n" * 1000
        st = res.status()
        if i % 4:
            assert st["details"]["causes"][0]["message"] == str(i % 4)
        else:
            assert st["status"] == "Success"
