#!/usr/bin/python3
"""Benchmark: the streaming server.

- exec round trip: an `echo` through Exec (URL, WebSocket v4 upgrade, output, exit status on the
  error channel), p50/p99, next to ExecSync of the same command in the same run;
- port-forward throughput: a file served by busybox httpd in the pod, read through crictl
  port-forward (Go client-go over SPDY, as kubectl) and through a WebSocket port-forward, next
  to reading it straight from the pod's IP in the same run.

Needs root, runc, busybox-static, the CNI plugins, python3-websocket; crictl for the SPDY leg.
usage: bench/stream_bench.py [--cribd PATH] [--crictl PATH] [--runs N] [--mb N]
"""
import argparse
import os
import socket
import subprocess
import time

import websocket

from benchlib import TOP, Cribd, pct, ws_channel


def http_get(host, port, path):
    """Bytes of the body and seconds taken."""
    s = socket.create_connection((host, port), timeout=60)
    t0 = time.perf_counter()
    s.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
    n = 0
    while True:
        b = s.recv(1 << 20)
        if not b:
            break
        n += len(b)
    took = time.perf_counter() - t0
    s.close()
    return n, took


def ws_get(url, port, path):
    ws = websocket.create_connection(url.replace("http", "ws", 1) + f"?port={port}",
                                     subprotocols=["v4.channel.k8s.io"], timeout=60)
    t0 = time.perf_counter()
    ws.send_binary(b"\x00" + f"GET {path} HTTP/1.0\r\n\r\n".encode())
    n = ws_channel(ws, 0, keep=False)
    took = time.perf_counter() - t0
    return n - 2, took  # the port prefix


def ws_exec(b, cid, cmd):
    url = b.call("Exec", b.pb.ExecRequest(container_id=cid, cmd=cmd, stdout=True,
                                          stderr=True)).url
    ws = websocket.create_connection(url.replace("http", "ws", 1),
                                     subprotocols=["v4.channel.k8s.io"], timeout=30)
    return ws_channel(ws, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cribd", default=os.path.join(TOP, "cribd"))
    ap.add_argument("--crictl", default="/work/tools/bin/crictl")
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--mb", type=int, default=200)
    a = ap.parse_args()
    with Cribd(a.cribd, "stream") as b:
        pb = b.pb
        pod, cid, _, _ = b.run(["sh", "-c", f"head -c {a.mb * 1000000} /dev/zero > /tmp/big; "
                                            "exec busybox httpd -f -p 8080 -h /tmp"])
        ip = b.call("PodSandboxStatus", pb.PodSandboxStatusRequest(
            pod_sandbox_id=pod)).status.network.ip
        time.sleep(1 + a.mb / 200)
        ws_exec(b, cid, ["echo", "warm"])
        lat, sync = [], []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            assert ws_exec(b, cid, ["echo", "hi"]) == b"hi\n"
            lat.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            r = b.call("ExecSync", pb.ExecSyncRequest(container_id=cid, cmd=["echo", "hi"]))
            assert r.stdout == b"hi\n"
            sync.append(time.perf_counter() - t0)
        print(f"exec `echo hi` over WebSocket (Exec + upgrade + output + status): "
              f"p50 {pct(lat, .5):.1f} ms, p99 {pct(lat, .99):.1f} ms ({a.runs} runs)")
        print(f"ExecSync `echo hi`: p50 {pct(sync, .5):.1f} ms, p99 {pct(sync, .99):.1f} ms; "
              f"exec/ExecSync p50 = {pct(lat, .5) / pct(sync, .5):.2f}x")
        size = a.mb * 1000000
        n, direct = http_get(ip, 8080, "/big")
        assert n >= size, n
        n, direct2 = http_get(ip, 8080, "/big")
        direct = min(direct, direct2)
        print(f"direct to the pod IP: {size / direct / 1e6:.0f} MB/s ({a.mb} MB)")
        url = b.call("PortForward", pb.PortForwardRequest(pod_sandbox_id=pod, port=[8080])).url
        n, t = ws_get(url, 8080, "/big")
        assert n >= size, n
        print(f"port-forward over WebSocket (python3-websocket client): {size / t / 1e6:.0f} MB/s"
              f" = {direct / t:.2f}x direct")
        if os.path.exists(a.crictl):
            lport = 23000 + os.getpid() % 1000
            pf = subprocess.Popen([a.crictl, "--runtime-endpoint", f"unix://{b.sock}",
                                   "port-forward", pod, f"{lport}:8080"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(1)
                best = None
                for _ in range(2):
                    n, t = http_get("127.0.0.1", lport, "/big")
                    assert n >= size, n
                    best = t if best is None else min(best, t)
                print(f"port-forward over SPDY (crictl port-forward, as kubectl): "
                      f"{size / best / 1e6:.0f} MB/s = {direct / best:.2f}x direct")
            finally:
                pf.terminate()
                pf.wait(10)


if __name__ == "__main__":
    main()
