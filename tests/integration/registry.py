"""A real docker-registry on 127.0.0.1 for the tests, and a small image builder that pushes
images (made at test time from busybox-static or from hand-made tar layers) through the
registry's HTTP API."""
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request

BUSYBOX = shutil.which("busybox") or "/bin/busybox"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    """docker-registry serving from a temporary directory."""

    def __init__(self, workdir, tls=None, htpasswd=None, token=None):
        self.dir = os.path.join(workdir, f"registry-{free_port()}")
        os.makedirs(self.dir)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.tls = tls
        self.htpasswd = htpasswd
        self.token = token
        cfg = [
            "version: 0.1",
            "log: {level: error}",
            "storage:",
            f"  filesystem: {{rootdirectory: {self.dir}/data}}",
            "  delete: {enabled: true}",
            "http:",
            f"  addr: {self.host}",
        ]
        if tls:
            cfg += ["  tls:", f"    certificate: {tls[0]}", f"    key: {tls[1]}"]
        if htpasswd:
            cfg += ["auth:", "  htpasswd:", "    realm: crib-test", f"    path: {htpasswd}"]
        if token:
            cfg += ["auth:", "  token:", f"    realm: {token['realm']}",
                    f"    service: {token['service']}", f"    issuer: {token['issuer']}",
                    f"    rootcertbundle: {token['cert']}"]
        with open(f"{self.dir}/config.yml", "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.log = open(f"{self.dir}/log", "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", f"{self.dir}/config.yml"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError(f"docker-registry did not start: {self.logs()}")
                time.sleep(0.05)

    def logs(self):
        with open(f"{self.dir}/log", "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()

    # --- pushing through the HTTP API ---

    def _url(self, path):
        return f"{'https' if self.tls else 'http'}://{self.host}/v2/{path}"

    def _req(self, method, url, data=None, headers=None, auth=None):
        headers = dict(headers or {})
        if auth:
            import base64
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{auth[0]}:{auth[1]}".encode()).decode()
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        ctx = None
        if self.tls:
            import ssl
            ctx = ssl.create_default_context(cafile=self.tls[2])
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, dict(r.headers), r.read()

    def push_blob(self, repo, data, auth=None):
        digest = sha256(data)
        _, h, _ = self._req("POST", self._url(f"{repo}/blobs/uploads/"), data=b"", auth=auth)
        loc = h["Location"]
        if loc.startswith("/"):
            loc = f"{'https' if self.tls else 'http'}://{self.host}{loc}"
        sep = "&" if "?" in loc else "?"
        self._req("PUT", f"{loc}{sep}digest={digest}", data=data,
                  headers={"Content-Type": "application/octet-stream"}, auth=auth)
        return digest

    def push_manifest(self, repo, ref, body, media_type, auth=None):
        self._req("PUT", self._url(f"{repo}/manifests/{ref}"), data=body,
                  headers={"Content-Type": media_type}, auth=auth)
        return sha256(body)

    def blob_path(self, digest):
        h = digest.split(":", 1)[1]
        return f"{self.dir}/data/docker/registry/v2/blobs/sha256/{h[:2]}/{h}/data"


# --- layers ---

def tar_layer(entries):
    """entries: list of dicts name, type (file/dir/symlink/link/char/fifo), data, target,
    mode, uid, gid, mtime, pax (xattrs as SCHILY.xattr.*)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.mode = e.get("mode", 0o755 if e.get("type") == "dir" else 0o644)
            ti.uid = e.get("uid", 0)
            ti.gid = e.get("gid", 0)
            ti.mtime = e.get("mtime", 1700000000)
            if e.get("pax"):
                ti.pax_headers = e["pax"]
            kind = e.get("type", "file")
            data = e.get("data", b"")
            if kind == "file":
                ti.type = tarfile.REGTYPE
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
                continue
            ti.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                       "link": tarfile.LNKTYPE, "char": tarfile.CHRTYPE,
                       "fifo": tarfile.FIFOTYPE}[kind]
            ti.linkname = e.get("target", "")
            t.addfile(ti)
    return buf.getvalue()


def busybox_layer(extra_files=None):
    """A root file system with busybox-static and the usual applets as symlinks."""
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    entries = [{"name": d, "type": "dir"} for d in ("bin", "etc", "tmp", "root", "proc", "sys",
                                                      "dev")]
    entries.append({"name": "bin/busybox", "data": bb, "mode": 0o755})
    for applet in ("sh", "echo", "cat", "ls", "sleep", "true", "false", "id", "env", "top",
                   "ps", "wc", "head", "hostname", "mkdir", "rm", "touch", "stat", "readlink"):
        entries.append({"name": f"bin/{applet}", "type": "symlink", "target": "busybox"})
    entries.append({"name": "etc/passwd",
                    "data": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"})
    entries.append({"name": "etc/group", "data": b"root:x:0:\nnogroup:x:65534:\n"})
    for name, data in (extra_files or {}).items():
        entries.append({"name": name, "data": data})
    return tar_layer(entries)


class Image:
    """An image as pushed: manifest digest, config digest (the image ID), layer digests."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def push_image(reg, repo, tag, layers, compress="gzip", oci=False, config=None, arch="amd64",
               auth=None, push_tag=True):
    """layers: uncompressed tar bytes, bottom first. Returns an Image."""
    diff_ids, descs = [], []
    layer_type = ("application/vnd.oci.image.layer.v1.tar" if oci else
                  "application/vnd.docker.image.rootfs.diff.tar")
    for tar in layers:
        diff_ids.append(sha256(tar))
        if compress == "gzip":
            blob = gzip.compress(tar, mtime=0)
            mt = layer_type + ("+gzip" if oci else ".gzip")
        elif compress == "zstd":
            blob = subprocess.run(["zstd", "-q", "-c"], input=tar, capture_output=True,
                                  check=True).stdout
            mt = layer_type + "+zstd"
        else:
            assert oci, "uncompressed layers exist only in OCI images"
            blob = tar
            mt = layer_type
        d = reg.push_blob(repo, blob, auth=auth)
        descs.append({"mediaType": mt, "digest": d, "size": len(blob)})
    cfg = {"architecture": arch, "os": "linux",
           "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    if config:
        cfg["config"].update(config)
    cfg_bytes = json.dumps(cfg).encode()
    cfg_digest = reg.push_blob(repo, cfg_bytes, auth=auth)
    manifest = {"schemaVersion": 2,
                "mediaType": OCI_MANIFEST if oci else DOCKER_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json" if oci else
                           "application/vnd.docker.container.image.v1+json",
                           "digest": cfg_digest, "size": len(cfg_bytes)},
                "layers": descs}
    body = json.dumps(manifest).encode()
    mtype = OCI_MANIFEST if oci else DOCKER_MANIFEST
    mdigest = reg.push_manifest(repo, tag if push_tag else sha256(body), body, mtype, auth=auth)
    return Image(repo=repo, tag=tag, manifest_digest=mdigest, id=cfg_digest,
                 layers=[d["digest"] for d in descs], diff_ids=diff_ids,
                 size=len(cfg_bytes) + sum(d["size"] for d in descs), manifest=body,
                 media_type=mtype)


def push_index(reg, repo, tag, images, oci=True):
    """images: list of (Image, platform dict) pushed by digest already."""
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX if oci else DOCKER_LIST,
             "manifests": [{"mediaType": img.media_type, "digest": img.manifest_digest,
                            "size": len(img.manifest), "platform": plat}
                           for img, plat in images]}
    body = json.dumps(index).encode()
    return reg.push_manifest(repo, tag, body, OCI_INDEX if oci else DOCKER_LIST)
