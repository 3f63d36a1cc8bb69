"""Small network stand-ins for the registry auth tests: a TCP proxy that slows what the server
sends (a slow registry), and an HTTP server that records the Authorization headers it gets (a
mirror or a foreign token realm)."""
import http.server
import socket
import threading
import time


class ThrottleProxy:
    """Forwards 127.0.0.x:port to upstream, sending the server's bytes at about rate bytes/s."""

    def __init__(self, upstream_port, rate=512 * 1024, bind="127.0.0.1"):
        self.upstream = ("127.0.0.1", upstream_port)
        self.rate = rate
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((bind, 0))
        self.sock.listen(16)
        self.host = f"{bind}:{self.sock.getsockname()[1]}"
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                u = socket.create_connection(self.upstream)
            except OSError:
                c.close()
                continue
            threading.Thread(target=self._pump, args=(c, u, 0), daemon=True).start()
            threading.Thread(target=self._pump, args=(u, c, self.rate), daemon=True).start()

    @staticmethod
    def _pump(src, dst, rate):
        chunk = 16384
        try:
            while True:
                data = src.recv(chunk)
                if not data:
                    break
                dst.sendall(data)
                if rate:
                    time.sleep(len(data) / rate)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        self.stopped = True
        self.sock.close()


class AuthSpy:
    """An HTTP server on bind:0 that records each request's method, path, Authorization and body,
    and answers
    what respond(handler) returns: (status, headers dict, body bytes)."""

    def __init__(self, bind="127.0.0.1", respond=None):
        self.seen = []  # (method, path, Authorization)
        self.bodies = []
        spy = self
        self.respond = respond or (lambda h: (404, {}, b""))

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                spy.seen.append((self.command, self.path, self.headers.get("Authorization")))
                spy.bodies.append(body)
                status, headers, body = spy.respond(self)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_HEAD = _any

        self.httpd = http.server.ThreadingHTTPServer((bind, 0), Handler)
        self.host = f"{bind}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def authorizations(self):
        return [a for _, _, a in self.seen if a]

    def stop(self):
        self.httpd.shutdown()
