"""The ImageService against a real docker-registry on 127.0.0.1: pulls, verification, the layer
store, image records, removal and restarts."""
import concurrent.futures
import json
import os
import stat
import subprocess

import grpc
import pytest

from conftest import Cri
from registry import (Registry, busybox_layer, push_image, push_index, tar_layer)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    r = Registry(str(tmp_path_factory.mktemp("reg")))
    yield r
    r.stop()


def registries_conf(tmp_path, reg, search=True):
    p = tmp_path / "registries.conf"
    p.write_text((f'unqualified-search-registries = ["{reg.host}"]\n' if search else "") +
                 f'[[registry]]\nlocation = "{reg.host}"\ninsecure = true\n')
    return p


@pytest.fixture
def icri(cribd_factory, registry, tmp_path, pb):
    conf = registries_conf(tmp_path, registry)
    c = cribd_factory(f'[crib.image]\nregistries_conf = "{conf}"\n')
    ch = c.channel()
    cli = Cri(ch, pb)
    cli.cribd = c
    yield cli
    ch.close()


def spec(pb, name):
    return pb.ImageSpec(image=name)


def pull(cli, name, **kw):
    return cli.unary("PullImage", service="ImageService", image=spec(cli.pb, name),
                     timeout=60, **kw).image_ref


def status(cli, name):
    return cli.unary("ImageStatus", service="ImageService", image=spec(cli.pb, name)).image


def layer_dir(cli, chain_hex):
    return os.path.join(cli.cribd.dir, "root", "layers", chain_hex, "diff")


def chain_ids(diff_ids):
    import hashlib
    out = [diff_ids[0]]
    for d in diff_ids[1:]:
        out.append("sha256:" + hashlib.sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


def test_pull_then_status_by_tag_id_digest_and_prefix(icri, registry):
    img = push_image(registry, "test/busybox", "v1", [busybox_layer()],
                     config={"User": "1000:1000"})
    name = f"{registry.host}/test/busybox:v1"
    ref = pull(icri, name)
    assert ref == img.id
    for s in (name, img.id, img.id[7:], img.id[7:19],
              f"{registry.host}/test/busybox@{img.manifest_digest}"):
        st = status(icri, s)
        assert st.id == img.id, s
    st = status(icri, name)
    assert list(st.repo_tags) == [name]
    assert list(st.repo_digests) == [f"{registry.host}/test/busybox@{img.manifest_digest}"]
    assert st.size == img.size
    assert st.uid.value == 1000
    # Unknown images: no error, no image.
    assert not status(icri, f"{registry.host}/test/nothing:v1").id


def test_image_status_verbose_has_config(icri, registry):
    img = push_image(registry, "test/verbose", "v1", [busybox_layer()],
                     config={"WorkingDir": "/srv"})
    pull(icri, f"{registry.host}/test/verbose:v1")
    resp = icri.unary("ImageStatus", service="ImageService",
                      image=spec(icri.pb, img.id), verbose=True)
    info = json.loads(resp.info["info"])
    assert info["imageConfig"]["config"]["WorkingDir"] == "/srv"
    assert info["manifestDigest"] == img.manifest_digest


def test_layer_content_is_unpacked(icri, registry):
    img = push_image(registry, "test/content", "v1",
                     [busybox_layer({"etc/motd": b"hello from a layer\n"})])
    pull(icri, f"{registry.host}/test/content:v1")
    d = layer_dir(icri, img.diff_ids[0][7:])
    with open(os.path.join(d, "etc/motd"), "rb") as f:
        assert f.read() == b"hello from a layer\n"
    with open(os.path.join(d, "bin/busybox"), "rb") as f, open("/bin/busybox", "rb") as g:
        assert f.read() == g.read()
    assert os.readlink(os.path.join(d, "bin/sh")) == "busybox"


def test_short_name_resolved_through_search_registries(icri, registry):
    img = push_image(registry, "library/shorty", "latest", [busybox_layer()])
    assert pull(icri, "library/shorty") == img.id
    st = status(icri, "library/shorty")
    assert st.id == img.id
    assert list(st.repo_tags) == [f"{registry.host}/library/shorty:latest"]


def test_pull_unknown_image_is_not_found(icri, registry):
    with pytest.raises(grpc.RpcError) as e:
        pull(icri, f"{registry.host}/test/missing:v1")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert "test/missing" in e.value.details()


def test_registry_names_are_resolved_by_cribd(cribd_factory, registry, tmp_path, pb):
    """Host names are looked up on cribd's loop (uv_getaddrinfo) and handed to libcurl, whose
    own resolver would leak a socketpair into children spawned meanwhile."""
    port = registry.host.rsplit(":", 1)[1]
    named = f"localhost:{port}"
    push_image(registry, "test/named", "v1", [busybox_layer()])
    conf = tmp_path / "registries.conf"
    conf.write_text(f'[[registry]]\nlocation = "{named}"\ninsecure = true\n'
                    f'[[registry]]\nlocation = "no-such-host.invalid"\ninsecure = true\n')
    c = cribd_factory(f'[crib.image]\nregistries_conf = "{conf}"\n')
    cli = Cri(c.channel(), pb)
    assert pull(cli, f"{named}/test/named:v1").startswith("sha256:")
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, "no-such-host.invalid/test/named:v1")
    assert "resolve no-such-host.invalid: " in e.value.details(), e.value.details()


def test_pull_invalid_reference(icri):
    for bad in ("library/UPPER", "a//b", "x:bad tag", "busybox@sha256:1234"):
        with pytest.raises(grpc.RpcError) as e:
            pull(icri, bad)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        assert bad in e.value.details()


def test_oci_zstd_and_uncompressed_layers(icri, registry):
    a = push_image(registry, "test/zstd", "v1",
                   [busybox_layer(), tar_layer([{"name": "z", "data": b"zstd"}])],
                   compress="zstd", oci=True)
    assert pull(icri, f"{registry.host}/test/zstd:v1") == a.id
    b = push_image(registry, "test/plain", "v1", [tar_layer([{"name": "p", "data": b"plain"}])],
                   compress="none", oci=True)
    assert pull(icri, f"{registry.host}/test/plain:v1") == b.id
    with open(os.path.join(layer_dir(icri, b.diff_ids[0][7:]), "p"), "rb") as f:
        assert f.read() == b"plain"


def test_multi_arch_index_picks_amd64(icri, registry):
    arm = push_image(registry, "test/multi", "arm", [tar_layer([{"name": "arch", "data": b"arm64"}])],
                     arch="arm64", oci=True)
    amd = push_image(registry, "test/multi", "amd", [tar_layer([{"name": "arch", "data": b"amd64"}])],
                     oci=True)
    push_index(registry, "test/multi", "v1", [
        (arm, {"os": "linux", "architecture": "arm64", "variant": "v8"}),
        (amd, {"os": "linux", "architecture": "amd64"}),
    ])
    assert pull(icri, f"{registry.host}/test/multi:v1") == amd.id
    st = status(icri, f"{registry.host}/test/multi:v1")
    assert st.id == amd.id


def test_index_without_this_platform_is_not_found(icri, registry):
    arm = push_image(registry, "test/armonly", "arm", [tar_layer([{"name": "a", "data": b"a"}])],
                     arch="arm64", oci=True)
    push_index(registry, "test/armonly", "v1", [(arm, {"os": "linux", "architecture": "arm64"})])
    with pytest.raises(grpc.RpcError) as e:
        pull(icri, f"{registry.host}/test/armonly:v1")
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert "linux/arm64" in e.value.details()


def leftovers(cli):
    root = os.path.join(cli.cribd.dir, "root")
    tmp = os.listdir(os.path.join(root, "tmp"))
    layers = os.listdir(os.path.join(root, "layers"))
    return tmp, layers


def test_corrupt_blob_fails_and_keeps_nothing(icri, registry):
    img = push_image(registry, "test/corrupt", "v1",
                     [tar_layer([{"name": "f", "data": b"good content"}])])
    path = registry.blob_path(img.layers[0])
    data = bytearray(open(path, "rb").read())
    data[-10] ^= 0xFF
    with open(path, "wb") as f:
        f.write(data)
    before = leftovers(icri)
    with pytest.raises(grpc.RpcError) as e:
        pull(icri, f"{registry.host}/test/corrupt:v1")
    assert "digest mismatch" in e.value.details()
    assert img.layers[0] in e.value.details()
    assert not status(icri, f"{registry.host}/test/corrupt:v1").id
    assert leftovers(icri) == before


def test_hostile_layers_refused_and_nothing_written_outside(icri, registry, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    cases = {
        "traversal": [{"name": "../../../../../../" + str(outside)[1:] + "/pwned", "data": b"x"}],
        "symlink": [{"name": "link", "type": "symlink", "target": str(outside)},
                    {"name": "link/pwned", "data": b"x"}],
        "hardlink": [{"name": "hl", "type": "link", "target": "../../../../etc/passwd"}],
    }
    for i, (what, entries) in enumerate(cases.items()):
        push_image(registry, f"test/hostile{i}", "v1", [tar_layer(entries)])
        before = leftovers(icri)
        with pytest.raises(grpc.RpcError) as e:
            pull(icri, f"{registry.host}/test/hostile{i}:v1")
        assert e.value.code() in (grpc.StatusCode.INVALID_ARGUMENT,
                                  grpc.StatusCode.INTERNAL), what
        assert os.listdir(outside) == [], what
        assert leftovers(icri) == before, what


def test_whiteouts_and_opaque_dirs_give_the_right_merged_view(icri, registry, tmp_path):
    low = tar_layer([{"name": "a", "type": "dir"}, {"name": "a/x", "data": b"x"},
                     {"name": "a/y", "data": b"y"}, {"name": "b", "data": b"b"},
                     {"name": "c", "type": "dir"}, {"name": "c/keep", "data": b"k"},
                     {"name": "c/gone", "data": b"g"}])
    up = tar_layer([{"name": "a", "type": "dir"}, {"name": "a/.wh..wh..opq", "data": b""},
                    {"name": "a/z", "data": b"z"}, {"name": ".wh.b", "data": b""},
                    {"name": "c/.wh.gone", "data": b""}])
    img = push_image(registry, "test/whiteout", "v1", [low, up])
    pull(icri, f"{registry.host}/test/whiteout:v1")
    ids = chain_ids(img.diff_ids)
    lower, upper = layer_dir(icri, ids[0][7:]), layer_dir(icri, ids[1][7:])
    assert os.getxattr(os.path.join(upper, "a"), "trusted.overlay.opaque") == b"y"
    st = os.lstat(os.path.join(upper, "b"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    merged, work, rw = tmp_path / "merged", tmp_path / "work", tmp_path / "rw"
    for d in (merged, work, rw):
        d.mkdir()
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={upper}:{lower},upperdir={rw},workdir={work}", str(merged)],
                   check=True)
    try:
        assert sorted(os.listdir(merged / "a")) == ["z"]
        assert not os.path.exists(merged / "b")
        assert sorted(os.listdir(merged / "c")) == ["keep"]
    finally:
        subprocess.run(["umount", str(merged)], check=True)


def test_concurrent_pulls_of_one_image(icri, registry):
    img = push_image(registry, "test/concurrent", "v1",
                     [busybox_layer(), tar_layer([{"name": "l2", "data": b"2" * 100000}])])
    name = f"{registry.host}/test/concurrent:v1"
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        refs = list(ex.map(lambda _: pull(icri, name), range(4)))
    assert refs == [img.id] * 4
    images = icri.unary("ListImages", service="ImageService").images
    assert [i.id for i in images].count(img.id) == 1
    assert leftovers(icri)[0] == []


def test_list_images_and_filter(icri, registry):
    a = push_image(registry, "test/list-a", "v1", [tar_layer([{"name": "a", "data": b"a"}])])
    b = push_image(registry, "test/list-b", "v1", [tar_layer([{"name": "b", "data": b"b"}])])
    pull(icri, f"{registry.host}/test/list-a:v1")
    pull(icri, f"{registry.host}/test/list-b:v1")
    ids = {i.id for i in icri.unary("ListImages", service="ImageService").images}
    assert {a.id, b.id} <= ids
    f = icri.pb.ImageFilter(image=spec(icri.pb, f"{registry.host}/test/list-b:v1"))
    only = icri.unary("ListImages", service="ImageService", filter=f).images
    assert [i.id for i in only] == [b.id]


def test_tag_moves_to_the_newer_image(icri, registry):
    name = f"{registry.host}/test/moving:v1"
    old = push_image(registry, "test/moving", "v1", [tar_layer([{"name": "v", "data": b"1"}])])
    pull(icri, name)
    new = push_image(registry, "test/moving", "v1", [tar_layer([{"name": "v", "data": b"2"}])])
    pull(icri, name)
    assert status(icri, name).id == new.id
    assert list(status(icri, old.id).repo_tags) == []


def test_remove_image_frees_shared_layers_only_with_the_last_user(icri, registry):
    base = busybox_layer()
    a = push_image(registry, "test/shared-a", "v1", [base, tar_layer([{"name": "a", "data": b"a"}])])
    b = push_image(registry, "test/shared-b", "v1", [base, tar_layer([{"name": "b", "data": b"b"}])])
    pull(icri, f"{registry.host}/test/shared-a:v1")
    pull(icri, f"{registry.host}/test/shared-b:v1")
    base_dir = layer_dir(icri, a.diff_ids[0][7:])
    assert os.path.isdir(base_dir)
    icri.unary("RemoveImage", service="ImageService", image=spec(icri.pb, a.id))
    assert not status(icri, a.id).id
    assert os.path.isdir(base_dir)
    assert not os.path.exists(layer_dir(icri, chain_ids(a.diff_ids)[1][7:]))
    icri.unary("RemoveImage", service="ImageService",
               image=spec(icri.pb, f"{registry.host}/test/shared-b:v1"))
    import time
    deadline = time.monotonic() + 5
    while os.path.exists(base_dir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(base_dir)
    # Removing what is not there succeeds.
    icri.unary("RemoveImage", service="ImageService", image=spec(icri.pb, a.id))


def test_images_survive_a_restart(cribd_factory, registry, tmp_path, pb):
    conf = registries_conf(tmp_path, registry)
    c = cribd_factory(f'[crib.image]\nregistries_conf = "{conf}"\n', subdir="restart")
    img = push_image(registry, "test/restart", "v1", [busybox_layer()])
    ch = c.channel()
    cli = Cri(ch, pb)
    pull(cli, f"{registry.host}/test/restart:v1")
    ch.close()
    assert c.stop() == 0
    c.start()
    ch = c.channel()
    cli = Cri(ch, pb)
    st = status(cli, f"{registry.host}/test/restart:v1")
    assert st.id == img.id and st.size == img.size
    ch.close()


def test_image_fs_info_counts_the_layers(icri, registry):
    push_image(registry, "test/fsinfo", "v1", [busybox_layer()])
    before = icri.unary("ImageFsInfo", service="ImageService").image_filesystems[0]
    pull(icri, f"{registry.host}/test/fsinfo:v1")
    after = icri.unary("ImageFsInfo", service="ImageService").image_filesystems[0]
    assert after.used_bytes.value >= before.used_bytes.value + os.path.getsize("/bin/busybox")
    assert after.inodes_used.value > before.inodes_used.value
    assert after.fs_id.mountpoint.endswith("/root/layers")


def test_failed_pull_keeps_none_of_its_layers(icri, registry):
    img = push_image(registry, "test/half", "v1",
                     [tar_layer([{"name": "one", "data": b"1" * 5000}]),
                      tar_layer([{"name": "two", "data": b"2" * 5000}])])
    path = registry.blob_path(img.layers[1])
    data = bytearray(open(path, "rb").read())
    data[-10] ^= 0xFF
    with open(path, "wb") as f:
        f.write(data)
    with pytest.raises(grpc.RpcError) as e:
        pull(icri, f"{registry.host}/test/half:v1")
    assert "digest mismatch" in e.value.details()
    # The good first layer goes too, once nothing holds it.
    import time
    deadline = time.monotonic() + 5
    while leftovers(icri) != ([], []) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert leftovers(icri) == ([], [])
