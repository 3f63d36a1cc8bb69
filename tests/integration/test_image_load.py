"""Offline load (`cribd load`, POST /images/load): OCI image layouts (directory and tar) and
`docker save` archives, verified like pulls."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile
import time

import pytest

from conftest import CRIBD, Cri
from registry import busybox_layer, tar_layer


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_parts(layers, user="", config=None):
    """Compressed layer blobs, config and OCI manifest for uncompressed tar layers; config
    entries (Entrypoint, StopSignal, ...) go into the image config's "config"."""
    blobs = {}
    descs, diff_ids = [], []
    for tar in layers:
        gz = gzip.compress(tar, mtime=0)
        blobs[sha(gz)] = gz
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": sha(gz), "size": len(gz)})
        diff_ids.append(sha(tar))
    conf = {"User": user, "Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]}
    conf.update(config or {})
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": conf,
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    blobs[sha(config)] = config
    manifest = json.dumps({"schemaVersion": 2,
                           "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": sha(config), "size": len(config)},
                           "layers": descs}).encode()
    blobs[sha(manifest)] = manifest
    return blobs, manifest, config


def write_layout(d, layers, ref_name=None, config=None):
    blobs, manifest, config = image_parts(layers, config=config)
    os.makedirs(f"{d}/blobs/sha256", exist_ok=True)
    for digest, data in blobs.items():
        with open(f"{d}/blobs/sha256/{digest[7:]}", "wb") as f:
            f.write(data)
    with open(f"{d}/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')
    entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": sha(manifest), "size": len(manifest)}
    if ref_name:
        entry["annotations"] = {"org.opencontainers.image.ref.name": ref_name}
    with open(f"{d}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [entry]}, f)
    return sha(config), sha(manifest)


def tar_dir(d, out):
    with tarfile.open(out, "w") as t:
        for name in sorted(os.listdir(d)):
            t.add(os.path.join(d, name), arcname=name)


def load(c, path, name=None):
    args = [CRIBD, "--config", c.config, "load", str(path)] + ([name] if name else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


@pytest.fixture
def lcri(cribd, pb):
    ch = cribd.channel()
    cli = Cri(ch, pb)
    cli.cribd = cribd
    yield cli
    ch.close()


def status(cli, name):
    return cli.unary("ImageStatus", service="ImageService",
                     image=cli.pb.ImageSpec(image=name)).image


def test_load_oci_layout_directory(lcri, tmp_path):
    d = tmp_path / "layout"
    img_id, mdigest = write_layout(str(d), [busybox_layer()], ref_name="v1")
    r = load(lcri.cribd, d, "example.com/tools/bb")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["images"][0]["id"] == img_id
    st = status(lcri, "example.com/tools/bb:v1")
    assert st.id == img_id
    assert list(st.repo_digests) == [f"example.com/tools/bb@{mdigest}"]


def test_load_oci_archive_with_full_name_annotation(lcri, tmp_path):
    d = tmp_path / "layout"
    img_id, _ = write_layout(str(d), [tar_layer([{"name": "hello", "data": b"hi"}])],
                             ref_name="registry.example.org/team/app:2.0")
    tar_dir(str(d), str(tmp_path / "app.tar"))
    r = load(lcri.cribd, tmp_path / "app.tar")
    assert r.returncode == 0, r.stderr
    assert status(lcri, "registry.example.org/team/app:2.0").id == img_id
    # The unpacked archive is gone afterwards.
    assert os.listdir(os.path.join(lcri.cribd.dir, "root", "tmp")) == []


def test_load_docker_save_archive(lcri, tmp_path):
    layers = [busybox_layer(), tar_layer([{"name": "etc/saved", "data": b"saved"}])]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers",
                                    "diff_ids": [sha(t) for t in layers]}}).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        add(f"{sha(config)[7:]}.json", config)
        for i, tar in enumerate(layers):
            add(f"l{i}/layer.tar", tar)
        add("manifest.json", json.dumps([{"Config": f"{sha(config)[7:]}.json",
                                          "RepoTags": ["busybox:saved"],
                                          "Layers": ["l0/layer.tar", "l1/layer.tar"]}]).encode())
    (tmp_path / "saved.tar").write_bytes(buf.getvalue())
    r = load(lcri.cribd, tmp_path / "saved.tar")
    assert r.returncode == 0, r.stderr
    st = status(lcri, "busybox:saved")
    assert st.id == sha(config)
    assert list(st.repo_tags) == ["docker.io/library/busybox:saved"]


def test_load_refuses_a_corrupt_blob_and_keeps_nothing(lcri, tmp_path):
    d = tmp_path / "layout"
    img_id, _ = write_layout(str(d), [tar_layer([{"name": "x", "data": b"x" * 1000}])], "v1")
    layer = [p for p in os.listdir(d / "blobs/sha256")
             if json.load(open(d / "index.json"))["manifests"][0]["digest"][7:] != p]
    for p in layer:
        data = (d / "blobs/sha256" / p).read_bytes()
        if data[:2] == b"\x1f\x8b":  # the gzip layer
            (d / "blobs/sha256" / p).write_bytes(data[:-4] + b"\x00\x00\x00\x00")
    r = load(lcri.cribd, d, "example.com/corrupt")
    assert r.returncode == 1
    assert "digest mismatch" in r.stderr
    assert not status(lcri, img_id).id
    assert os.listdir(os.path.join(lcri.cribd.dir, "root", "layers")) == []


def test_load_refuses_paths_out_of_the_archive(lcri, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        ti = tarfile.TarInfo("evil.json")
        ti.type = tarfile.SYMTYPE
        ti.linkname = "/etc/passwd"
        t.addfile(ti)
        m = json.dumps([{"Config": "evil.json", "RepoTags": ["evil:1"],
                         "Layers": []}]).encode()
        ti = tarfile.TarInfo("manifest.json")
        ti.size = len(m)
        t.addfile(ti, io.BytesIO(m))
    (tmp_path / "evil.tar").write_bytes(buf.getvalue())
    r = load(lcri.cribd, tmp_path / "evil.tar")
    assert r.returncode == 1
    assert "evil.json" in r.stderr
    assert not status(lcri, "evil:1").id


def test_load_of_something_else_is_a_clear_error(lcri, tmp_path):
    (tmp_path / "junk").mkdir()
    r = load(lcri.cribd, tmp_path / "junk")
    assert r.returncode == 1
    assert "neither an OCI image layout nor a docker save archive" in r.stderr
    r = load(lcri.cribd, tmp_path / "missing")
    assert r.returncode == 1 and "missing" in r.stderr


def test_load_follows_the_signature_policy(cribd_factory, pb, tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"default": [{"type": "reject"}],
                                  "transports": {"oci": {"": [{"type": "insecureAcceptAnything"}]}}}))
    c = cribd_factory(f'[crib.image]\nsignature_policy = "{policy}"\n', subdir="pol")
    d = tmp_path / "layout"
    img_id, _ = write_layout(str(d), [tar_layer([{"name": "p", "data": b"p"}])], "v1")
    assert load(c, d, "example.com/allowed").returncode == 0
    tar_dir(str(d), str(tmp_path / "img.tar"))
    r = load(c, tmp_path / "img.tar", "example.com/denied")
    assert r.returncode == 1
    assert "rejected" in r.stderr and str(policy) in r.stderr


def test_failed_load_keeps_none_of_its_layers(lcri, tmp_path):
    d = tmp_path / "layout"
    write_layout(str(d), [tar_layer([{"name": "a", "data": b"a" * 2000}]),
                          tar_layer([{"name": "b", "data": b"b" * 2000}])], "v1")
    index = json.load(open(d / "index.json"))
    manifest = json.load(open(d / "blobs/sha256" / index["manifests"][0]["digest"][7:]))
    config = json.load(open(d / "blobs/sha256" / manifest["config"]["digest"][7:]))
    # The second layer's content does not match its diff ID (its blob digest still does).
    bad = gzip.compress(tar_layer([{"name": "b", "data": b"x" * 2000}]), mtime=0)
    config["rootfs"]["diff_ids"][1] = "sha256:" + "0" * 64
    assert bad  # the layer blob stays as it was: only the config lies
    cbytes = json.dumps(config).encode()
    (d / "blobs/sha256" / sha(cbytes)[7:]).write_bytes(cbytes)
    manifest["config"] = {"mediaType": manifest["config"]["mediaType"], "digest": sha(cbytes),
                          "size": len(cbytes)}
    mbytes = json.dumps(manifest).encode()
    (d / "blobs/sha256" / sha(mbytes)[7:]).write_bytes(mbytes)
    index["manifests"][0].update(digest=sha(mbytes), size=len(mbytes))
    (d / "index.json").write_text(json.dumps(index))
    r = load(lcri.cribd, d, "example.com/half")
    assert r.returncode == 1 and "the image config says" in r.stderr
    layers = os.path.join(lcri.cribd.dir, "root", "layers")
    deadline = time.monotonic() + 5
    while os.listdir(layers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.listdir(layers) == []
