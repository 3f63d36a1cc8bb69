"""Pulls from a registry that stops sending: the progress timeout fails them, a client that gives
up cancels them, and neither leaves anything behind."""
import gzip
import hashlib
import http.server
import json
import os
import threading
import time

import grpc
import pytest

from conftest import Cri
from registry import tar_layer
from test_grpc_transport import wait_stats


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class StallingRegistry:
    """Serves one image whose layer blob stalls after its first bytes."""

    def __init__(self):
        self.release = threading.Event()
        self.stalled = threading.Event()  # a client is waiting for the rest of the layer
        layer = gzip.compress(tar_layer([{"name": "big", "data": os.urandom(1 << 20)}]))
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                             "rootfs": {"type": "layers",
                                        "diff_ids": [sha(gzip.decompress(layer))]}}).encode()
        manifest = json.dumps({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                       "digest": sha(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "digest": sha(layer), "size": len(layer)}]}).encode()
        routes = {"/v2/": (b"{}", "application/json"),
                  "/v2/stall/img/manifests/v1": (
                      manifest, "application/vnd.docker.distribution.manifest.v2+json"),
                  f"/v2/stall/img/blobs/{sha(config)}": (config, "application/octet-stream")}
        stall_path = f"/v2/stall/img/blobs/{sha(layer)}"
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == stall_path:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(layer)))
                    self.end_headers()
                    self.wfile.write(layer[:1000])
                    self.wfile.flush()
                    outer.stalled.set()
                    outer.release.wait(60)
                    return
                body, ctype = routes.get(self.path, (None, None))
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()


@pytest.fixture
def stalling():
    s = StallingRegistry()
    yield s
    s.stop()


def start(cribd_factory, pb, tmp_path, reg, timeout):
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
    c = cribd_factory(f'[crib.image]\nregistries_conf = "{conf}"\n'
                      f"pull_progress_timeout = {timeout}\n")
    return c, Cri(c.channel(), pb)


def tmp_entries(c):
    return os.listdir(os.path.join(c.dir, "root", "tmp"))


def test_pull_without_progress_fails_after_the_timeout(cribd_factory, pb, tmp_path, stalling):
    c, cli = start(cribd_factory, pb, tmp_path, stalling, 2)
    t0 = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        cli.unary("PullImage", service="ImageService",
                  image=pb.ImageSpec(image=f"{stalling.host}/stall/img:v1"), timeout=60)
    elapsed = time.monotonic() - t0
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "layer 1" in e.value.details()
    assert 1.5 < elapsed < 20, elapsed
    assert tmp_entries(c) == []


def test_client_giving_up_cancels_the_pull(cribd_factory, pb, tmp_path, stalling):
    c, cli = start(cribd_factory, pb, tmp_path, stalling, 0)
    with pytest.raises(grpc.RpcError) as e:
        cli.unary("PullImage", service="ImageService",
                  image=pb.ImageSpec(image=f"{stalling.host}/stall/img:v1"), timeout=1)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    wait_stats(c, calls=0)
    deadline = time.monotonic() + 5
    while tmp_entries(c) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tmp_entries(c) == []
    assert cli.unary("Version").runtime_name == "crib"
