"""Reaching registries: TLS with a CA made at test time (certs.d), Basic auth with htpasswd,
mirrors tried in order (a dead one falls through), blocked registries."""
import json
import os
import subprocess

import grpc
import pytest

from conftest import Cri
from registry import Registry, busybox_layer, free_port, push_image, tar_layer


def make_ca_and_cert(d, ips=("127.0.0.1",)):
    """A CA and a server certificate for 127.0.0.1 (or ips) signed by it."""
    ca_key, ca_crt = f"{d}/ca.key", f"{d}/ca.crt"
    key, csr, crt, ext = f"{d}/server.key", f"{d}/server.csr", f"{d}/server.crt", f"{d}/ext"
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
        "-out", ca_crt, "-days", "2", "-subj", "/CN=crib test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join(f"IP:{ip}" for ip in ips) + "\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
        "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
    return crt, key, ca_crt


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("tls"))
    crt, key, ca = make_ca_and_cert(d)
    htpasswd = f"{d}/htpasswd"
    with open(htpasswd, "w") as f:
        f.write(subprocess.run(["htpasswd", "-Bbn", "alice", "s3cret"], check=True,
                               capture_output=True, text=True).stdout)
    r = Registry(d, tls=(crt, key, ca), htpasswd=htpasswd)
    r.ca = ca
    yield r
    r.stop()


def start(cribd_factory, pb, tmp_path, registries, certs=None, subdir=None):
    conf = tmp_path / f"registries-{subdir or 'x'}.conf"
    conf.write_text(registries)
    extra = f'[crib.image]\nregistries_conf = "{conf}"\n'
    if certs:
        extra += f'certs_dir = "{certs}"\n'
    c = cribd_factory(extra, subdir=subdir)
    cli = Cri(c.channel(), pb)
    return cli


def pull(cli, name, auth=None):
    kw = {"auth": auth} if auth else {}
    return cli.unary("PullImage", service="ImageService", image=cli.pb.ImageSpec(image=name),
                     timeout=60, **kw).image_ref


def certs_dir_for(tmp_path, reg):
    d = tmp_path / "certs.d" / reg.host
    d.mkdir(parents=True)
    with open(reg.ca) as src:
        (d / "ca.crt").write_text(src.read())
    return tmp_path / "certs.d"


def test_tls_with_ca_from_certs_d_and_basic_auth(cribd_factory, pb, tmp_path, tls_registry):
    reg = tls_registry
    img = push_image(reg, "secure/busybox", "v1", [busybox_layer()], auth=("alice", "s3cret"))
    name = f"{reg.host}/secure/busybox:v1"
    cli = start(cribd_factory, pb, tmp_path, "", certs=certs_dir_for(tmp_path, reg), subdir="ok")
    assert pull(cli, name, pb.AuthConfig(username="alice", password="s3cret")) == img.id
    # The same credentials as docker's base64 "auth" field.
    import base64
    enc = base64.b64encode(b"alice:s3cret").decode()
    cli.unary("RemoveImage", service="ImageService", image=pb.ImageSpec(image=img.id))
    assert pull(cli, name, pb.AuthConfig(auth=enc)) == img.id
    for auth in (None, pb.AuthConfig(username="alice", password="wrong")):
        with pytest.raises(grpc.RpcError) as e:
            pull(cli, f"{reg.host}/secure/busybox:v1", auth)
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED, auth
        assert reg.host in e.value.details()


def test_tls_without_the_ca_is_refused(cribd_factory, pb, tmp_path, tls_registry):
    reg = tls_registry
    push_image(reg, "secure/other", "v1", [tar_layer([{"name": "o", "data": b"o"}])],
               auth=("alice", "s3cret"))
    cli = start(cribd_factory, pb, tmp_path, "", subdir="noca")
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, f"{reg.host}/secure/other:v1", pb.AuthConfig(username="alice", password="s3cret"))
    assert "certificate" in e.value.details().lower()


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory):
    r = Registry(str(tmp_path_factory.mktemp("plain")))
    yield r
    r.stop()


def test_dead_mirror_falls_through_to_the_next(cribd_factory, pb, tmp_path, plain_registry):
    reg = plain_registry
    img = push_image(reg, "mirrored/busybox", "v1", [busybox_layer()])
    dead = f"127.0.0.1:{free_port()}"  # nothing listens there
    conf = f"""[[registry]]
prefix = "registry.example.com"
location = "{reg.host}"
insecure = true
[[registry.mirror]]
location = "{dead}"
insecure = true
[[registry.mirror]]
location = "{reg.host}"
insecure = true
"""
    cli = start(cribd_factory, pb, tmp_path, conf, subdir="mirror")
    assert pull(cli, "registry.example.com/mirrored/busybox:v1") == img.id
    st = cli.unary("ImageStatus", service="ImageService",
                   image=pb.ImageSpec(image="registry.example.com/mirrored/busybox:v1")).image
    assert st.id == img.id
    assert list(st.repo_tags) == ["registry.example.com/mirrored/busybox:v1"]


def test_all_endpoints_down_names_each(cribd_factory, pb, tmp_path):
    dead1, dead2 = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    conf = f"""[[registry]]
location = "{dead2}"
insecure = true
[[registry.mirror]]
location = "{dead1}"
insecure = true
"""
    cli = start(cribd_factory, pb, tmp_path, conf, subdir="down")
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, f"{dead2}/x/y:v1")
    assert dead1 in e.value.details() and dead2 in e.value.details()


def test_blocked_registry_is_permission_denied(cribd_factory, pb, tmp_path, plain_registry):
    reg = plain_registry
    conf = f'[[registry]]\nlocation = "{reg.host}"\nblocked = true\n'
    cli = start(cribd_factory, pb, tmp_path, conf, subdir="blocked")
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, f"{reg.host}/any/thing:v1")
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "blocked" in e.value.details()


def test_bad_registries_conf_fails_start_with_position(cribd_factory, pb, tmp_path):
    conf = tmp_path / "bad-registries.conf"
    conf.write_text('[[registry]]\nlocation = "x.io"\nmirrors = 3\n')
    c = cribd_factory(f'[crib.image]\nregistries_conf = "{conf}"\n', start=False, subdir="badconf")
    c.expected_rc = 1
    c.start(wait=False)
    assert c.proc.wait(timeout=10) == 1
    assert f"{conf}:3:1" in c.output()


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory):
    from tokenserver import TokenServer
    d = str(tmp_path_factory.mktemp("token"))
    ts = TokenServer(d, {"alice": "s3cret"})
    r = Registry(d, token=ts.registry_config())
    r.tokens = ts
    yield r
    r.stop()
    ts.stop()


def push_with_token(reg, repo, tag, layers):
    """Push through the token flow, as a client with alice's credentials."""
    scope = f"repository:{repo}:pull,push"
    tok = reg.tokens.token([{"type": "repository", "name": repo, "actions": ["pull", "push"]}])
    orig = reg._req

    def req(method, url, data=None, headers=None, auth=None):
        headers = dict(headers or {})
        headers["Authorization"] = f"Bearer {tok}"
        return orig(method, url, data=data, headers=headers)

    reg._req = req
    try:
        return push_image(reg, repo, tag, layers)
    finally:
        reg._req = orig
        assert scope


def test_bearer_token_auth_anonymous_and_with_credentials(cribd_factory, pb, tmp_path,
                                                          token_registry):
    reg = token_registry
    pub = push_with_token(reg, "public/busybox", "v1", [busybox_layer()])
    priv = push_with_token(reg, "private/busybox", "v1",
                           [tar_layer([{"name": "secret", "data": b"s"}])])
    conf = f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n'
    cli = start(cribd_factory, pb, tmp_path, conf, subdir="token")
    # Anonymous token for a public repository.
    assert pull(cli, f"{reg.host}/public/busybox:v1") == pub.id
    anon = [r for r in reg.tokens.requests if r["scope"] == "repository:public/busybox:pull"]
    assert anon and anon[-1]["user"] is None and anon[-1]["service"] == "crib-test-registry"
    # A private one needs credentials, sent to the token server as Basic auth.
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, f"{reg.host}/private/busybox:v1")
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert pull(cli, f"{reg.host}/private/busybox:v1",
                pb.AuthConfig(username="alice", password="s3cret")) == priv.id
    assert any(r["user"] == "alice" and r["scope"] == "repository:private/busybox:pull"
               for r in reg.tokens.requests)
    # alice's token is not reused for a pull without credentials.
    cli.unary("RemoveImage", service="ImageService", image=pb.ImageSpec(image=priv.id))
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, f"{reg.host}/private/busybox:v1")
    assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # A registry token from the kubelet is used as is.
    tok = reg.tokens.token([{"type": "repository", "name": "private/busybox",
                             "actions": ["pull"]}])
    n = len(reg.tokens.requests)
    assert pull(cli, f"{reg.host}/private/busybox:v1", pb.AuthConfig(registry_token=tok)) == priv.id
    assert len(reg.tokens.requests) == n


def test_signature_policy_rejects_and_refuses_unsupported_checks(cribd_factory, pb, tmp_path,
                                                                  plain_registry):
    reg = plain_registry
    ok = push_image(reg, "policy/ok", "v1", [tar_layer([{"name": "ok", "data": b"ok"}])])
    push_image(reg, "policy/denied", "v1", [tar_layer([{"name": "d", "data": b"d"}])])
    push_image(reg, "policy/signed", "v1", [tar_layer([{"name": "s", "data": b"s"}])])
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({
        "default": [{"type": "insecureAcceptAnything"}],
        "transports": {"docker": {
            f"{reg.host}/policy/denied": [{"type": "reject"}],
            f"{reg.host}/policy/signed": [{"type": "signedBy", "keyType": "GPGKeys",
                                           "keyPath": "/etc/pki/key.gpg"}]}}}))
    conf = f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n'
    regconf = tmp_path / "registries-policy.conf"
    regconf.write_text(conf)
    c = cribd_factory(f'[crib.image]\nregistries_conf = "{regconf}"\n'
                      f'signature_policy = "{policy}"\n', subdir="policy")
    cli = Cri(c.channel(), pb)
    assert pull(cli, f"{reg.host}/policy/ok:v1") == ok.id
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, f"{reg.host}/policy/denied:v1")
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert str(policy) in e.value.details() and "policy/denied" in e.value.details()
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, f"{reg.host}/policy/signed:v1")
    assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "not supported yet" in e.value.details()


def test_bad_signature_policy_fails_start(cribd_factory, tmp_path):
    policy = tmp_path / "bad-policy.json"
    policy.write_text('{"default": [{"type": "acceptAll"}]}')
    c = cribd_factory(f'[crib.image]\nsignature_policy = "{policy}"\n', start=False,
                      subdir="badpolicy")
    c.expected_rc = 1
    c.start(wait=False)
    assert c.proc.wait(timeout=10) == 1
    assert "acceptAll" in c.output()


def test_token_expiring_during_a_slow_download_is_renewed(cribd_factory, pb, tmp_path,
                                                          token_registry):
    """issue 14 item 15: the second layer's request finds the (1 s) token expired while the first
    layer crawled in, and fetches a new one in the middle of the blob downloads."""
    from netspy import ThrottleProxy
    reg = token_registry
    img = push_with_token(reg, "public/slow", "v1",
                          [busybox_layer(), tar_layer([{"name": "late", "data": b"late"}])])
    proxy = ThrottleProxy(reg.port, rate=400 * 1024)
    conf = tmp_path / "registries-slow.conf"
    conf.write_text(f'[[registry]]\nlocation = "{proxy.host}"\ninsecure = true\n')
    c = cribd_factory(f'[crib.image]\nregistries_conf = "{conf}"\nmax_parallel_downloads = 1\n',
                      subdir="slow")
    cli = Cri(c.channel(), pb)
    reg.tokens.expires_in = 1
    n = len(reg.tokens.requests)
    try:
        assert pull(cli, f"{proxy.host}/public/slow:v1") == img.id
    finally:
        reg.tokens.expires_in = 300
        proxy.stop()
    fetched = [r for r in reg.tokens.requests[n:] if r["scope"] == "repository:public/slow:pull"]
    assert len(fetched) >= 2, fetched


def remove(cli, image_id):
    cli.unary("RemoveImage", service="ImageService", image=cli.pb.ImageSpec(image=image_id))


def test_pull_credentials_go_only_to_their_registry(cribd_factory, pb, tmp_path, token_registry):
    """issue 14 item 6: the kubelet's credentials reach only the registry server_address names
    (or the image's own registry when it is empty): never a mirror, never another search
    registry."""
    from netspy import AuthSpy
    reg = token_registry
    priv = push_with_token(reg, "private/scoped", "v1",
                           [tar_layer([{"name": "scoped", "data": b"scoped"}])])
    spy = AuthSpy(respond=lambda h: (401, {"WWW-Authenticate": 'Basic realm="spy"'}, b""))
    conf = f"""unqualified-search-registries = ["{spy.host}", "{reg.host}"]
[[registry]]
location = "{spy.host}"
insecure = true
[[registry]]
location = "{reg.host}"
insecure = true
[[registry.mirror]]
location = "{spy.host}"
insecure = true
"""
    cli = start(cribd_factory, pb, tmp_path, conf, subdir="scoped")
    name = f"{reg.host}/private/scoped:v1"
    alice = {"username": "alice", "password": "s3cret"}
    try:
        for addr in (reg.host, f"https://{reg.host}/v1/", ""):
            assert pull(cli, name, pb.AuthConfig(server_address=addr, **alice)) == priv.id, addr
            remove(cli, priv.id)
        assert pull(cli, "private/scoped:v1",
                    pb.AuthConfig(server_address=reg.host, **alice)) == priv.id
        remove(cli, priv.id)
        assert spy.seen, "the mirror and the first search registry were asked"
        assert spy.authorizations() == []
        # Credentials for another registry are not sent to this one.
        n = len(reg.tokens.requests)
        with pytest.raises(grpc.RpcError) as e:
            pull(cli, name, pb.AuthConfig(server_address="quay.io", **alice))
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "quay.io" in e.value.details()
        # Nor, with no server_address, to a search registry a short name went through.
        with pytest.raises(grpc.RpcError) as e:
            pull(cli, "private/scoped:v1", pb.AuthConfig(**alice))
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "unqualified-search" in e.value.details()
        assert all(r["basic"] is None for r in reg.tokens.requests[n:])
        assert spy.authorizations() == []
    finally:
        spy.stop()


def test_credentials_never_go_in_clear_to_a_realm_on_another_host(cribd_factory, pb, tmp_path):
    """issue 14 item 6: a registry naming a plain-HTTP token realm on another host gets an
    anonymous token request, not the pull's password or refresh token."""
    from netspy import AuthSpy
    realm = AuthSpy(bind="127.0.0.2", respond=lambda h: (
        200, {"Content-Type": "application/json"}, b'{"token": "t0ken", "expires_in": 60}'))
    challenge = f'Bearer realm="http://{realm.host}/token",service="spy"'
    registry = AuthSpy(respond=lambda h: (401, {"WWW-Authenticate": challenge}, b""))
    conf = f'[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n'
    cli = start(cribd_factory, pb, tmp_path, conf, subdir="realm")
    try:
        for auth in (pb.AuthConfig(username="alice", password="s3cret"),
                     pb.AuthConfig(identity_token="refresh-me")):
            with pytest.raises(grpc.RpcError) as e:
                pull(cli, f"{registry.host}/x/y:v1", auth)
            assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert f"not sent to the plain-HTTP token realm on {realm.host}" in e.value.details()
        assert realm.seen, "the token was asked for, anonymously"
        assert realm.authorizations() == []
        assert not any("refresh-me" in path for _, path, _ in realm.seen)
        assert not any(b"refresh-me" in body for body in realm.bodies)
        assert registry.authorizations() and all(
            a == "Bearer t0ken" for a in registry.authorizations())
    finally:
        realm.stop()
        registry.stop()


def test_mirror_credentials_come_from_the_global_auth_file(cribd_factory, pb, tmp_path,
                                                           token_registry):
    """issue 14 item 6: a mirror gets the node's credentials for it from global_auth_file
    (containers-auth.json(5)), not the kubelet's for the image's registry."""
    import base64
    reg = token_registry
    priv = push_with_token(reg, "private/mirrored", "v1",
                           [tar_layer([{"name": "mirrored", "data": b"m"}])])
    authfile = tmp_path / "auth.json"
    authfile.write_text(json.dumps({"auths": {
        f"{reg.host}/private": {"auth": base64.b64encode(b"alice:s3cret").decode()},
        "quay.io": {"auth": base64.b64encode(b"carol:x").decode()}}}))
    regconf = tmp_path / "registries-authfile.conf"
    regconf.write_text(f"""[[registry]]
location = "registry.invalid"
[[registry.mirror]]
location = "{reg.host}"
insecure = true
""")
    c = cribd_factory(f'[crib.image]\nregistries_conf = "{regconf}"\n'
                      f'global_auth_file = "{authfile}"\n', subdir="authfile")
    cli = Cri(c.channel(), pb)
    n = len(reg.tokens.requests)
    assert pull(cli, "registry.invalid/private/mirrored:v1",
                pb.AuthConfig(username="bob", password="bobs")) == priv.id
    basic = [r["basic"] for r in reg.tokens.requests[n:]]
    assert "alice" in basic and "bob" not in basic and "carol" not in basic


def test_bad_global_auth_file_fails_start(cribd_factory, tmp_path):
    bad = tmp_path / "bad-auth.json"
    bad.write_text('{"auths": {"quay.io": "not an object"}}')
    c = cribd_factory(f'[crib.image]\nglobal_auth_file = "{bad}"\n', start=False, subdir="badauth")
    c.expected_rc = 1
    c.start(wait=False)
    assert c.proc.wait(timeout=10) == 1
    assert f'{bad}: auths."quay.io" must be an object' in c.output()


def test_tls_settings_stay_with_their_host(cribd_factory, pb, tmp_path):
    """issue 14 item 6: an insecure (no-verify) registry's setting and its certs.d client
    certificate are not used for its token realm, an https server on 127.0.0.2."""
    from tokenserver import TokenServer
    d = str(tmp_path)
    crt, key, ca = make_ca_and_cert(d, ips=("127.0.0.1", "127.0.0.2"))
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    ckey, ccsr, ccrt = f"{d}/client.key", f"{d}/client.csr", f"{d}/client.cert"
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", ckey, "-out", ccsr,
        "-subj", "/CN=crib client")
    run("openssl", "x509", "-req", "-in", ccsr, "-CA", ca, "-CAkey", f"{d}/ca.key",
        "-CAcreateserial", "-out", ccrt, "-days", "2")
    ts = TokenServer(d, {"alice": "s3cret"}, bind="127.0.0.2", tls=(crt, key, ca))
    reg = Registry(d, tls=(crt, key, ca), token=ts.registry_config())
    reg.tokens = ts
    try:
        img = push_with_token(reg, "public/tls", "v1", [tar_layer([{"name": "t", "data": b"t"}])])
        conf = f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n'
        # The registry's certs.d entry: a client certificate, and no CA (it is insecure).
        certs = tmp_path / "certs.d"
        (certs / reg.host).mkdir(parents=True)
        (certs / reg.host / "client.cert").write_text(open(ccrt).read())
        (certs / reg.host / "client.key").write_text(open(ckey).read())
        realm = f"127.0.0.2:{ts.port}"
        # The realm's certificate is verified: with no CA for it, the pull fails.
        cli = start(cribd_factory, pb, tmp_path, conf, certs=certs, subdir="tls-noca")
        n = len(ts.requests)
        with pytest.raises(grpc.RpcError) as e:
            pull(cli, f"{reg.host}/public/tls:v1")
        assert "certificate" in e.value.details().lower() and realm in e.value.details()
        assert len(ts.requests) == n
        # With the realm's own CA in certs.d it works, and the realm gets no client certificate.
        (certs / realm).mkdir()
        (certs / realm / "ca.crt").write_text(open(ca).read())
        cli = start(cribd_factory, pb, tmp_path, conf, certs=certs, subdir="tls-ca")
        assert pull(cli, f"{reg.host}/public/tls:v1") == img.id
        got = ts.requests[n:]
        assert got and not any(r["client_cert"] for r in got), got
    finally:
        reg.stop()
        ts.stop()


def test_redirects_are_followed_without_credentials(cribd_factory, pb, tmp_path, plain_registry):
    """Redirects (as to blob storage) are followed by the registry client itself now; the
    registry's credentials stay with it."""
    from netspy import AuthSpy
    reg = plain_registry
    img = push_image(reg, "redirected/busybox", "v1", [tar_layer([{"name": "r", "data": b"r"}])])

    def respond(h):
        if not h.headers.get("Authorization"):
            return 401, {"WWW-Authenticate": 'Basic realm="front"'}, b""
        if h.path == "/v2/":
            return 200, {}, b"{}"
        return 307, {"Location": f"http://{reg.host}{h.path}"}, b""

    front = AuthSpy(respond=respond)
    conf = (f'[[registry]]\nlocation = "{front.host}"\ninsecure = true\n'
            f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
    cli = start(cribd_factory, pb, tmp_path, conf, subdir="redirect")
    try:
        assert pull(cli, f"{front.host}/redirected/busybox:v1",
                    pb.AuthConfig(username="alice", password="s3cret")) == img.id
        assert any(p.startswith("/v2/redirected/busybox/blobs/") for _, p, _ in front.seen)
    finally:
        front.stop()
