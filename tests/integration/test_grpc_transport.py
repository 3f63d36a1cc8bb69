"""gRPC transport behaviour of the CRI socket: concurrency, limits, bad input, deadlines,
disconnects."""
import concurrent.futures
import json
import os
import socket
import time

import grpc
import h2.events
import pytest

from conftest import Cri
from h2client import H2, headers_dict
from test_http1 import http_get

VERSION = "/runtime.v1.RuntimeService/Version"
EVENTS = "/runtime.v1.RuntimeService/GetContainerEvents"


def grpc_stats(cribd):
    status, body = http_get(cribd.sock, "/info")
    assert status == 200
    return json.loads(body)["grpc"]


def wait_stats(cribd, **want):
    deadline = time.monotonic() + 10
    while True:
        st = grpc_stats(cribd)
        if all(st[k] == v for k, v in want.items()):
            return st
        if time.monotonic() > deadline:
            raise AssertionError(f"stats {st} never reached {want}")
        time.sleep(0.05)


def test_200_concurrent_version_calls_over_20_channels(cribd, pb):
    channels = [cribd.channel() for _ in range(20)]
    clients = [Cri(ch, pb) for ch in channels]
    futures = []
    for i in range(200):
        c = clients[i % 20]
        fn = c.channel.unary_unary(VERSION, request_serializer=lambda m: m.SerializeToString(),
                                   response_deserializer=pb.VersionResponse.FromString)
        futures.append(fn.future(pb.VersionRequest(version="v1"), timeout=30))
    results = [f.result() for f in futures]
    assert len(results) == 200
    assert all(r.runtime_name == "crib" for r in results)
    for ch in channels:
        ch.close()
    st = wait_stats(cribd, calls=0)
    assert st["calls_total"] >= 200


def test_large_message_split_across_data_frames(cri, pb):
    # 4 MiB: many DATA frames and several WINDOW_UPDATEs.
    v = cri.unary("Version", version="x" * (4 << 20), timeout=30)
    assert v.runtime_name == "crib"


def test_message_over_limit_is_resource_exhausted(cribd_factory, pb):
    c = cribd_factory('[crib.api]\ngrpc_max_recv_msg_size = 4096\n')
    cri = Cri(c.channel(), pb)
    # Under the limit still works.
    assert cri.unary("Version", version="x" * 1000).runtime_name == "crib"
    with pytest.raises(grpc.RpcError) as e:
        cri.unary("Version", version="x" * 100000)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "larger than max" in e.value.details()
    assert "4096" in e.value.details()
    # The connection is still usable.
    assert cri.unary("Version").runtime_name == "crib"


def test_unanswered_requests_on_one_connection_are_capped(cribd_factory):
    """Each stream may stay under the message limit while many of them together hold the
    daemon's memory: one connection holds at most four messages' worth of unanswered requests."""
    c = cribd_factory('[crib.api]\ngrpc_max_recv_msg_size = 65536\n')
    h = H2(c.sock)
    while h.conn.outbound_flow_control_window < 1 << 20:  # the server's SETTINGS and window
        h.events()
    part = b"\x00\x00\x00\xfd\xe8" + b"x" * 60000  # declares 65000 bytes, sends 60000

    def send_part(sid):
        for i in range(0, len(part), 16384):
            h.conn.send_data(sid, part[i:i + 16384])
        h.flush()

    sids = []
    for _ in range(4):  # 240000 bytes held: under 4 x 65536
        sids.append(h.start_call(VERSION))
        send_part(sids[-1])
    over = h.start_call(VERSION)
    send_part(over)
    ev, seen = h.wait_for(h2.events.StreamEnded, over)
    trailers = [e for e in seen if isinstance(e, (h2.events.TrailersReceived,
                                                   h2.events.ResponseReceived))
                and e.stream_id == over]
    st = headers_dict(trailers[-1])
    assert st["grpc-status"] == "8", st  # RESOURCE_EXHAUSTED
    assert "unanswered requests" in st["grpc-message"]
    assert not any(isinstance(e, h2.events.StreamEnded) and e.stream_id in sids for e in seen)
    # Closing the held calls gives their room back.
    for sid in sids:
        h.conn.reset_stream(sid)
    h.flush()
    sid = h.start_call(VERSION)
    h.send_message(sid, b"")
    ev, seen = h.wait_for(h2.events.StreamEnded, sid)
    st = headers_dict([e for e in seen if isinstance(e, h2.events.TrailersReceived)][-1])
    assert st["grpc-status"] == "0", st
    h.close()


def test_garbage_bytes_on_the_socket(cribd, cri):
    payloads = [os.urandom(4096), b"\x00" * 100, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(512),
                b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x05\x07\x00\x00\x00\x00\x00abcde"]
    for p in payloads:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(cribd.sock)
            s.sendall(p)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass  # the daemon answers (400 or GOAWAY) and closes
    assert cri.unary("Version").runtime_name == "crib"
    wait_stats(cribd, connections=2, calls=0)  # the gRPC channel and this /info request


def test_client_disconnecting_mid_call_costs_nothing(cribd, cri):
    base = grpc_stats(cribd)
    for _ in range(20):
        c = H2(cribd.sock)
        sid = c.start_call(VERSION)
        c.send_message(sid, b"\x0a\x02v1", end=False, declared=1000)  # half a message
        c.close()
    # A streaming call abandoned by its client.
    ch = cribd.channel()
    stream = Cri(ch, cri.pb).stream("GetContainerEvents")
    time.sleep(0.2)
    stream.cancel()
    ch.close()
    st = wait_stats(cribd, calls=0)
    # The 20 raw connections are gone (grpcio may share or drop its own).
    assert st["connections"] <= base["connections"]
    assert cri.unary("Version").runtime_name == "crib"


def test_server_enforces_grpc_timeout(cribd):
    c = H2(cribd.sock)
    sid = c.start_call(EVENTS, [("grpc-timeout", "200m")])
    c.send_message(sid, b"")
    t0 = time.monotonic()
    ev, seen = c.wait_for(h2.events.StreamEnded, sid)
    elapsed = time.monotonic() - t0
    # Nothing was sent, so the status comes as a Trailers-Only response.
    heads = [e for e in seen if isinstance(e, (h2.events.ResponseReceived,
                                               h2.events.TrailersReceived))]
    t = headers_dict(heads[-1])
    assert t["grpc-status"] == "4"
    assert "deadline exceeded" in t["grpc-message"]
    assert 0.15 < elapsed < 5
    c.close()
    wait_stats(cribd, calls=0)


def test_deadline_through_grpcio(cri):
    stream = cri.stream("GetContainerEvents", timeout=0.3)
    with pytest.raises(grpc.RpcError) as e:
        list(stream)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED


def test_many_streams_on_one_connection(cribd):
    c = H2(cribd.sock)
    sids = [c.start_call(VERSION) for _ in range(50)]
    for sid in sids:
        c.send_message(sid, b"")
    ended = set()
    statuses = {}
    while len(ended) < len(sids):
        for ev in c.events() or []:
            if isinstance(ev, h2.events.TrailersReceived):
                statuses[ev.stream_id] = headers_dict(ev)["grpc-status"]
            if isinstance(ev, h2.events.StreamEnded):
                ended.add(ev.stream_id)
            if isinstance(ev, h2.events.DataReceived):
                c.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
    assert set(statuses.values()) == {"0"}
    c.close()


def test_empty_request_body_is_invalid_argument(cribd):
    c = H2(cribd.sock)
    sid = c.start_call(VERSION)
    c.conn.end_stream(sid)
    c.flush()
    ev, seen = c.wait_for(h2.events.StreamEnded, sid)
    hdrs = [e for e in seen if isinstance(e, h2.events.ResponseReceived)]
    assert headers_dict(hdrs[0])["grpc-status"] == "3"
    c.close()


def test_non_grpc_content_type_refused(cribd):
    c = H2(cribd.sock)
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"), (":authority", "x"),
                              (":path", VERSION), ("content-type", "application/json")],
                        end_stream=True)
    c.flush()
    ev, seen = c.wait_for(h2.events.StreamEnded, sid)
    h = headers_dict([e for e in seen if isinstance(e, h2.events.ResponseReceived)][0])
    assert h[":status"] == "415"
    c.close()


def test_socket_path_as_authority_is_accepted(cribd):
    # grpc-go (crictl, the kubelet) sends the unix socket path as :authority.
    c = H2(cribd.sock)
    sid = c.conn.get_next_available_stream_id()
    c.conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                              (":authority", cribd.sock), (":path", VERSION),
                              ("content-type", "application/grpc"), ("te", "trailers")])
    c.send_message(sid, b"")
    ev, seen = c.wait_for(h2.events.StreamEnded, sid)
    assert not [e for e in seen if isinstance(e, h2.events.StreamReset)], seen
    trailers = [e for e in seen if isinstance(e, h2.events.TrailersReceived)]
    assert headers_dict(trailers[0])["grpc-status"] == "0"
    c.close()
