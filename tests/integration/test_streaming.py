"""The streaming server: Exec (and later Attach and PortForward) through one-time URLs, driven by
an independent WebSocket client (python3-websocket) speaking the Kubernetes channel protocols."""
import base64
import os
import subprocess
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


@pytest.mark.parametrize("frame", ["0========", "0====", "0aGV=sbG8=", "0a*bc"])
def test_exec_base64_malformed_frame_closes_with_1007(running, frame):
    """Padding anywhere but at the end once made the decoded length wrap (a heap overflow)."""
    e, pod, cid = running
    ws = ws_connect(exec_url(e, cid, ["cat"], stdin=True), ("v4.base64.channel.k8s.io",))
    ws.send(frame)
    code = None
    while code is None:
        try:
            op, data = ws.recv_data(control_frame=True)
        except websocket.WebSocketConnectionClosedException:
            break
        if op == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big")
            assert data[2:] == b"malformed channel message"
    ws.close()
    assert code == 1007
    # The daemon is unharmed and the container still serves execs.
    assert ws_exec(e, cid, ["echo", "ok"]).text(STDOUT) == "ok\n"


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


@pytest.mark.parametrize("tty", [False, True])
def test_exec_missing_binary_is_reported(running, tty):
    e, pod, cid = running
    res = ws_exec(e, cid, ["/no/such/binary"], tty=tty, stderr=not tty)
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


# ---- Attach ----

def test_attach_ws_output_stdin_once_and_exit(env):
    pod = env.pod("attach")
    cid = env.run(pod, ["sh", "-c", "while read l; do echo got $l; echo err $l >&2; done; "
                                    "echo bye; exit 4"], stdin=True, stdin_once=True)
    url = env.cli.unary("Attach", container_id=cid, stdin=True, stdout=True, stderr=True).url
    url2 = env.cli.unary("Attach", container_id=cid, stdout=True).url
    ws = ws_connect(url, ("v5.channel.k8s.io",))
    ws2 = ws_connect(url2, ("v4.channel.k8s.io",))
    time.sleep(0.2)
    ws.send_binary(bytes([STDIN]) + b"one\ntwo\n")
    time.sleep(0.2)
    ws.send_binary(bytes([255, STDIN]))  # stdin_once: the container's stdin closes
    res = ws_read_all(ws)
    res2 = ws_read_all(ws2)
    # Both clients saw the output; the container ended when its stdin closed.
    assert res.text(STDOUT) == "got one\ngot two\nbye\n"
    assert res.text(STDERR) == "err one\nerr two\n"
    assert res2.text(STDOUT) == "got one\ngot two\nbye\n"
    assert STDERR not in res2.chans or res2.text(STDERR) == ""
    assert res.status()["status"] == "Success"
    assert env.wait_exit(cid).exit_code == 4


def test_attach_gets_output_without_a_newline_at_once(env):
    """A prompt or `echo -n` reaches an attached client as it is written, not once a newline (or
    the end) comes; the log still gets it as one line when it ends. (critest's attach spec:
    `echo -n hello` to a shell.)"""
    pod = env.pod("prompt")
    cid = env.run(pod, ["sh"], stdin=True, stdin_once=True, log_path="sh.log")
    url = env.cli.unary("Attach", container_id=cid, stdin=True, stdout=True, stderr=True).url
    ws = ws_connect(url, ("v5.channel.k8s.io",))
    ws.send_binary(bytes([STDIN]) + b"echo -n hello\n")
    ws.settimeout(10)
    got = b""
    while got != b"hello":
        op, data = ws.recv_data()
        assert op == 2 and data[0] == STDOUT, (op, data)
        got += data[1:]
    ws.send_binary(bytes([STDIN]) + b"echo ' world'\n")
    ws.send_binary(bytes([255, STDIN]))
    res = ws_read_all(ws)
    assert res.text(STDOUT) == " world\n"
    assert env.wait_exit(cid).exit_code == 0
    assert [r[2] for r in env.log_records(pod, "sh")] == [b"hello world"]


def test_attach_tty_resize(env):
    pod = env.pod("attachtty")
    cid = env.run(pod, ["sh", "-c", "read x; stty size; read y"], stdin=True, tty=True)
    url = env.cli.unary("Attach", container_id=cid, stdin=True, stdout=True, tty=True).url
    ws = ws_connect(url)
    ws.send_binary(bytes([RESIZE]) + b'{"Width":77,"Height":33}')
    time.sleep(0.3)
    ws.send_binary(bytes([STDIN]) + b"go\r")
    got = b""
    deadline = time.monotonic() + 10
    while b"33 77" not in got and time.monotonic() < deadline:
        op, data = ws.recv_data()
        if data and data[0] == STDOUT:
            got += data[1:]
    assert b"33 77" in got, got
    ws.close()
    # Attach without the container's stdin is refused clearly.
    plain = env.run(pod, ["sleep", "100"], name="plain")
    with pytest.raises(grpc.RpcError) as ei:
        env.cli.unary("Attach", container_id=plain, stdin=True, stdout=True)
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "stdin" in ei.value.details()


# ---- PortForward ----

HTTPD = ["sh", "-c", "mkdir -p /tmp/www && echo hello from the pod > /tmp/www/index.html && "
                     "head -c 300000 /dev/zero > /tmp/www/big && "
                     "exec busybox httpd -f -p 8080 -h /tmp/www"]


def http_get_over(ws, path, chan=0):
    ws.send_binary(bytes([chan]) + f"GET {path} HTTP/1.0\r\n\r\n".encode())
    res = ws_read_all(ws)
    return res


def test_portforward_ws_http_server(env):
    pod = env.pod("pf")
    env.run(pod, HTTPD)
    time.sleep(0.5)
    url = env.cli.unary("PortForward", pod_sandbox_id=pod[0], port=[8080]).url
    ws = websocket.create_connection(ws_url(url) + "?port=8080",
                                     subprotocols=["v4.channel.k8s.io"], timeout=30)
    res = http_get_over(ws, "/index.html")
    data = b"".join(res.chans[0])
    assert data[:2] == (8080).to_bytes(2, "little")  # every channel starts with its port
    assert b"".join(res.chans[1]) == (8080).to_bytes(2, "little")
    assert data[2:].startswith(b"HTTP/1.")
    assert data.endswith(b"hello from the pod\n")
    # A port nothing listens on: the error channel says so.
    url = env.cli.unary("PortForward", pod_sandbox_id=pod[0]).url
    ws = websocket.create_connection(ws_url(url) + "?port=9",
                                     subprotocols=["v4.channel.k8s.io"], timeout=30)
    res = ws_read_all(ws)
    assert "connection refused" in b"".join(res.chans[1])[2:].decode(), res.chans
    with pytest.raises(grpc.RpcError) as ei:
        env.cli.unary("PortForward", pod_sandbox_id="nope")
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND


# ---- SPDY/3.1 (the npm package spdy-transport as the client, and crictl) ----

SPDY_DIR = os.path.join(os.path.dirname(__file__), "spdy")


@pytest.fixture(scope="session")
def spdy_client():
    if not os.path.isdir(os.path.join(SPDY_DIR, "node_modules", "spdy-transport")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--prefix", SPDY_DIR],
                       check=True, capture_output=True, timeout=300)
    return os.path.join(SPDY_DIR, "client.js")


def spdy(client, *args, timeout=60):
    r = subprocess.run(["node", client, *args], capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_spdy_exec_v4(running, spdy_client):
    e, pod, cid = running
    url = exec_url(e, cid, ["sh", "-c", "cat; echo err >&2; exit 5"], stdin=True)
    res = spdy(spdy_client, "exec", url, "--stdin-data", "hello spdy")
    assert res["http_status"] == 101 and res["protocol"] == "v4.channel.k8s.io"
    assert res["stdout"] == "hello spdy"
    assert res["stderr"] == "err\n"
    st = json.loads(res["error"])
    assert st["reason"] == "NonZeroExitCode", st
    assert st["details"]["causes"][0]["message"] == "5"


def test_spdy_exec_large_stdin_flow_control(running, spdy_client, tmp_path):
    e, pod, cid = running
    data = os.urandom(3 << 20)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    url = exec_url(e, cid, ["cat"], stdin=True, stderr=False)
    res = spdy(spdy_client, "exec", url, "--stdin-file", str(src), "--no-stderr")
    assert not res["timed_out"]
    assert base64.b64decode(res["stdout_b64"]) == data
    assert res["window_updates"]["session"] > 0 and res["window_updates"]["stream"] > 0


def test_spdy_exec_tty_resize_and_old_protocols(running, spdy_client):
    e, pod, cid = running
    url = exec_url(e, cid, ["sh", "-c", "sleep 0.5; stty size"], tty=True, stdin=True,
                   stderr=False)
    res = spdy(spdy_client, "exec", url, "--tty", "--resize", "91x17", "--no-stderr",
               "--hold-stdin-open-ms", "2000")
    assert "17 91" in res["stdout"], res
    for proto, want in (("v2.channel.k8s.io", "v2"), ("channel.k8s.io", "v1")):
        url = exec_url(e, cid, ["sh", "-c", "echo $0; exit 2", want])
        res = spdy(spdy_client, "exec", url, "--no-stdin", "--protocol", proto)
        assert res["protocol"] == proto
        assert res["stdout"] == want + "\n"
        assert "exit status 2" in res["error"]


def test_spdy_attach(env, spdy_client):
    pod = env.pod("spdyattach")
    cid = env.run(pod, ["sh", "-c", "read l; echo attached $l; exit 0"], stdin=True,
                  stdin_once=True)
    url = env.cli.unary("Attach", container_id=cid, stdin=True, stdout=True, stderr=True).url
    res = spdy(spdy_client, "exec", url, "--stdin-data", "spdy\n")
    assert res["stdout"] == "attached spdy\n"
    assert json.loads(res["error"])["status"] == "Success"


def test_spdy_portforward(env, spdy_client):
    pod = env.pod("spdypf")
    env.run(pod, HTTPD)
    time.sleep(0.5)
    url = env.cli.unary("PortForward", pod_sandbox_id=pod[0], port=[8080]).url
    res = spdy(spdy_client, "portforward", url, "--port", "8080", "--connections", "3",
               "--send-data", "GET /big HTTP/1.0\r\n\r\n")
    assert res["protocol"] == "portforward.k8s.io"
    assert len(res["connections"]) == 3
    for conn in res["connections"]:
        body = base64.b64decode(conn["data_b64"])
        assert body.startswith(b"HTTP/1.") and body.endswith(b"\0" * 1000), body[:200]
        assert len(body.split(b"\r\n\r\n", 1)[1]) == 300000
        assert conn["error"] == ""
    res = spdy(spdy_client, "portforward", url.replace("xx", "xx"), "--port", "8080")
    assert res["http_status"] == 404  # single use
    url = env.cli.unary("PortForward", pod_sandbox_id=pod[0]).url
    res = spdy(spdy_client, "portforward", url, "--port", "9", "--send-data", "x")
    assert "connection refused" in res["connections"][0]["error"]


# What `crictl exec -it` sends (seen in cribd with crictl v1.26.1): SYN_STREAMs error, stdin,
# stdout, resize; then {"Width":0,"Height":0}\n on resize when its terminal has no size (script's
# pty); then, under `script -qc ... </dev/null`, one NUL on stdin. That NUL is crictl's own input:
# script writes VEOF to its pty when its stdin ends; the line discipline keeps an EOF read in
# canonical mode as a NUL ending the line, and once crictl makes the terminal raw it reads that
# NUL as a byte (`script -qc "sh -c 'sleep 0.3; stty raw; dd bs=1 count=1 | od -c'" /dev/null`
# shows it with no container at all). The tty in the container echoes it as ^@. crib passes
# input through as it comes: no byte is added, none is lost.
#
# RAW_READ: a raw terminal, and a read that ends after 2 s without input (VMIN 0, VTIME 20).
RAW_READ = ("busybox stty raw -echo min 0 time 20; busybox dd bs=1 count=4 2>/dev/null"
            " | busybox od -An -tx1; echo END")


@pytest.mark.parametrize("stdin,read", [(b"", b""), (b"\0", b" 00\n")])
def test_spdy_exec_tty_stdin_reaches_the_pty_as_sent(running, spdy_client, tmp_path, stdin, read):
    e, pod, cid = running
    src = tmp_path / "in.bin"
    src.write_bytes(stdin)
    url = exec_url(e, cid, ["sh", "-c", RAW_READ], tty=True, stdin=True, stderr=False)
    # The stdin byte waits until the terminal should be raw; if it comes sooner the tty echoes
    # it (^@) and the read still sees it once.
    res = spdy(spdy_client, "exec", url, "--tty", "--no-stderr", "--resize", "0x0",
               "--stdin-file", str(src), "--stdin-delay-ms", "500",
               "--hold-stdin-open-ms", "4000")
    out = base64.b64decode(res["stdout_b64"])
    if stdin:
        out = out.removeprefix(b"^@")
    assert out == read + b"END\n", res
    assert json.loads(res["error"])["status"] == "Success"


CRICTL = os.environ.get("CRICTL", "")


@pytest.fixture
def crictl():
    if not CRICTL or not os.access(CRICTL, os.X_OK):
        pytest.skip("set $CRICTL to a crictl (cri-tools' cmd/crictl) to run this")
    return CRICTL


def test_crictl_exec_tty_prints_only_what_the_command_wrote(running, crictl):
    e, pod, cid = running
    cmd = f"{crictl} --runtime-endpoint unix://{e.c.sock} exec -it {cid} busybox tty"
    # script gives crictl a terminal. Its own stdin stays open (a pipe nobody writes to): at EOF
    # it would type VEOF into crictl's terminal, which crictl sends on as a NUL (see above).
    r_fd, w_fd = os.pipe()
    try:
        for _ in range(3):
            r = subprocess.run(["script", "-qc", cmd, "/dev/null"], stdin=r_fd,
                               capture_output=True, timeout=60)
            assert r.returncode == 0, r
            assert r.stdout == b"/dev/pts/0\r\n", r
    finally:
        os.close(r_fd)
        os.close(w_fd)




# ---- configuration: TLS, token lifetime ----

def test_tls_streaming_and_token_expiry(net_cribd, pb, layouts, tmp_path):
    import ssl
    from test_containers import Env
    cert, key = tmp_path / "s.crt", tmp_path / "s.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    c = net_cribd(extra_config=f'[crib.api]\nstream_enable_tls = true\nstream_tls_cert = '
                               f'"{cert}"\nstream_tls_key = "{key}"\nstream_token_ttl = 2\n')
    e = Env(c, pb, layouts, str(tmp_path))
    try:
        pod = e.pod("tls")
        cid = e.run(pod, ["sleep", "3600"])
        url = exec_url(e, cid, ["sh", "-c", "echo over tls; exit 6"])
        assert url.startswith("https://127.0.0.1:")
        wss = "wss" + url[len("https"):]
        ws = websocket.create_connection(wss, subprotocols=["v4.channel.k8s.io"], timeout=30,
                                         sslopt={"ca_certs": str(cert)})
        res = ws_read_all(ws)
        assert res.text(STDOUT) == "over tls\n"
        assert res.status()["details"]["causes"][0]["message"] == "6"
        # Plain HTTP to the TLS port gets nowhere.
        with pytest.raises(Exception):
            websocket.create_connection("ws" + url[len("https"):], timeout=5)
        # A URL unused for longer than stream_token_ttl is refused.
        url = exec_url(e, cid, ["true"])
        time.sleep(2.5)
        with pytest.raises(websocket.WebSocketBadStatusException) as ei:
            websocket.create_connection("wss" + url[len("https"):], timeout=10,
                                        sslopt={"ca_certs": str(cert)})
        assert ei.value.status_code == 404
    finally:
        e.close()
