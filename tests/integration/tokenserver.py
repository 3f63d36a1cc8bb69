"""A small Bearer token server for docker-registry's token auth: checks Basic credentials and
issues RS256 JWTs whose x5c chain the registry verifies against its rootcertbundle."""
import base64
import datetime
import http.server
import json
import threading
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    def __init__(self, workdir, users, service="crib-test-registry", issuer="crib-test-issuer",
                 bind="127.0.0.1", tls=None):
        """tls: (cert, key, ca) to serve https, asking for (not requiring) a client certificate
        signed by ca; each request records whether one came."""
        self.users = users
        self.service = service
        self.issuer = issuer
        self.requests = []
        self.expires_in = 300  # seconds, as the token response says
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crib test token signer")])
        now = datetime.datetime.utcnow()
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(hours=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .sign(self.key, hashes.SHA256()))
        self.cert_path = f"{workdir}/token-signer.pem"
        with open(self.cert_path, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                server.handle(self)

        self.httpd = http.server.ThreadingHTTPServer((bind, 0), Handler)
        self.port = self.httpd.server_address[1]
        if tls:
            import ssl
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            ctx.load_verify_locations(tls[2])
            ctx.verify_mode = ssl.CERT_OPTIONAL
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.realm = f"{'https' if tls else 'http'}://{bind}:{self.port}/token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def registry_config(self):
        return {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                "cert": self.cert_path}

    def token(self, scope_access):
        der = self.cert.public_bytes(serialization.Encoding.DER)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": "alice", "aud": self.service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": scope_access}
        signing = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        sig = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{b64url(sig)}"

    def handle(self, h):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(h.path).query)
        authz = h.headers.get("Authorization", "")
        user = basic = None
        if authz.startswith("Basic "):
            u, _, p = base64.b64decode(authz[6:]).decode().partition(":")
            basic = u
            if self.users.get(u) == p:
                user = u
        peer = getattr(h.connection, "getpeercert", lambda: None)()
        self.requests.append({"scope": q.get("scope", [""])[0], "user": user, "basic": basic,
                              "service": q.get("service", [""])[0], "client_cert": bool(peer)})
        if authz and not user:
            h.send_response(401)
            h.end_headers()
            return
        access = []
        for scope in q.get("scope", []):
            kind, _, rest = scope.partition(":")
            repo, _, actions = rest.rpartition(":")
            # Anonymous users may pull `public/*`; alice may do anything.
            if user or repo.startswith("public/"):
                access.append({"type": kind, "name": repo, "actions": actions.split(",")})
        body = json.dumps({"token": self.token(access), "expires_in": self.expires_in}).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def stop(self):
        self.httpd.shutdown()
