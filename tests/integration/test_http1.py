"""HTTP/1.1 on the CRI socket: /info and /config with a plain HTTP client, errors, bad input."""
import http.client
import json
import socket
import tomllib

from conftest import Cri


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=10)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(self.unix_path)


def http_get(sock_path, path, method="GET"):
    conn = UnixHTTPConnection(sock_path)
    conn.request(method, path)
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


def test_info_json(cribd):
    status, body = http_get(cribd.sock, "/info")
    assert status == 200
    info = json.loads(body)
    assert info["storage_driver"] == "overlay"
    assert info["storage_root"] == f"{cribd.dir}/root"
    assert info["cgroup_driver"] == "cgroupfs"
    assert info["versions"]["crib"]
    assert info["versions"]["libuv"].startswith("1.")
    assert info["grpc"]["connections"] >= 1


def test_config_is_the_effective_toml(cribd_factory):
    c = cribd_factory('[crib.runtime]\nlog_size_max = 12345\n')
    status, body = http_get(c.sock, "/config")
    assert status == 200
    cfg = tomllib.loads(body.decode())
    assert cfg["crib"]["api"]["listen"] == c.sock
    assert cfg["crib"]["runtime"]["log_size_max"] == 12345
    assert cfg["crib"]["runtime"]["runtimes"]["runc"]["runtime_type"] == "oci"


def test_keep_alive_serves_several_requests(cribd):
    # http.client reconnects silently when the server closes, so count connections where they
    # are accepted: three requests on one client connection must be one server connection.
    before = json.loads(http_get(cribd.sock, "/info")[1])["grpc"]["connections_total"]
    conn = UnixHTTPConnection(cribd.sock)
    totals = []
    for path in ("/info", "/config", "/info"):
        conn.request("GET", path)
        r = conn.getresponse()
        body = r.read()
        assert r.status == 200
        assert r.getheader("Connection") != "close"
        if path == "/info":
            totals.append(json.loads(body)["grpc"]["connections_total"])
    conn.close()
    assert totals == [before + 1, before + 1]


def test_unknown_path_is_404(cribd):
    status, _ = http_get(cribd.sock, "/nope")
    assert status == 404


def test_wrong_method_is_405(cribd):
    status, _ = http_get(cribd.sock, "/info", method="DELETE")
    assert status == 405


def raw(sock_path, data):
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(sock_path)
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk


def test_bad_requests_are_400_and_never_crash(cribd, pb):
    for data in (b"GARBAGE\r\n\r\n", b"GET /info HTTP/9.9\r\n\r\n", b"GET\r\n\r\n",
                 b"GET /info HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
                 b"GET /info HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        out = raw(cribd.sock, data)
        assert out.startswith(b"HTTP/1.1 400 "), (data, out)
    out = raw(cribd.sock, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 414 ")
    # Still serving both protocols.
    assert http_get(cribd.sock, "/info")[0] == 200
    ch = cribd.channel()
    assert Cri(ch, pb).unary("Version").runtime_name == "crib"
    ch.close()
