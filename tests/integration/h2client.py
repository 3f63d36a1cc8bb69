"""A minimal raw HTTP/2 client (python3-h2) for what grpcio will not do: half-sent requests,
server-side deadlines seen on the wire, GOAWAY."""
import socket
import struct

import h2.config
import h2.connection
import h2.events


class H2:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def start_call(self, path, extra_headers=()):
        sid = self.conn.get_next_available_stream_id()
        headers = [(":method", "POST"), (":scheme", "http"), (":authority", "localhost"),
                   (":path", path), ("content-type", "application/grpc"), ("te", "trailers")]
        self.conn.send_headers(sid, headers + list(extra_headers))
        self.flush()
        return sid

    def send_message(self, sid, payload, end=True, declared=None):
        n = len(payload) if declared is None else declared
        self.conn.send_data(sid, b"\x00" + struct.pack(">I", n) + payload, end_stream=end)
        self.flush()

    def events(self):
        """Read until the socket has something; return the h2 events (empty at EOF)."""
        data = self.sock.recv(65536)
        if not data:
            return None
        evs = self.conn.receive_data(data)
        self.flush()
        return evs

    def wait_for(self, kind, sid=None):
        """Collect events until one of `kind` (for sid) arrives; return (that event, all)."""
        seen = []
        while True:
            evs = self.events()
            if evs is None:
                raise EOFError(f"connection closed before {kind.__name__}: {seen}")
            for ev in evs:
                seen.append(ev)
                if isinstance(ev, kind) and (sid is None or getattr(ev, "stream_id", None) == sid):
                    return ev, seen

    def close(self):
        self.sock.close()


def headers_dict(ev):
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in ev.headers}
