"""Limits on what a pull may put on disk: max_image_size (decompression bombs, images whose
layers together are too large) and min_free_space (a floor of free space on the image
filesystem). A pull past either fails with a clear message and keeps nothing."""
import os
import time

import grpc
import pytest

from conftest import Cri
from registry import Registry, push_image, tar_layer
from test_images import pull, registries_conf, status

MiB = 1 << 20


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    r = Registry(str(tmp_path_factory.mktemp("reg")))
    yield r
    r.stop()


def limited(cribd_factory, registry, tmp_path, pb, options):
    conf = registries_conf(tmp_path, registry)
    c = cribd_factory(f'[crib.image]\nregistries_conf = "{conf}"\n{options}\n')
    cli = Cri(c.channel(), pb)
    cli.cribd = c
    return cli


def store_is_empty(cli):
    """Nothing in layers/ or tmp/ (removals run on the thread pool: give them a moment)."""
    root = os.path.join(cli.cribd.dir, "root")
    deadline = time.monotonic() + 10
    while True:
        left = os.listdir(f"{root}/layers") + os.listdir(f"{root}/tmp")
        if not left or time.monotonic() > deadline:
            return left == []
        time.sleep(0.05)


def zeros_layer(n):
    return tar_layer([{"name": "zeros", "data": bytes(n)}])


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_decompression_bomb_stops_at_max_image_size(cribd_factory, registry, tmp_path, pb,
                                                    compress):
    cli = limited(cribd_factory, registry, tmp_path, pb, f"max_image_size = {4 * MiB}")
    bomb = push_image(registry, f"test/bomb-{compress}", "v1", [zeros_layer(64 * MiB)],
                      compress=compress, oci=compress == "zstd")
    assert bomb.size < MiB  # a small blob
    name = f"{registry.host}/test/bomb-{compress}:v1"
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, name)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"uncompresses to more than {4 * MiB} bytes (max_image_size)" in e.value.details()
    assert bomb.layers[0] in e.value.details()
    assert not status(cli, name).id
    assert store_is_empty(cli)
    # An image within the limit still pulls.
    ok = push_image(registry, "test/small", "v1", [zeros_layer(MiB)])
    assert pull(cli, f"{registry.host}/test/small:v1") == ok.id
    cli.channel.close()


def test_layers_together_over_max_image_size_fail_the_pull(cribd_factory, registry, tmp_path,
                                                           pb):
    cli = limited(cribd_factory, registry, tmp_path, pb, f"max_image_size = {4 * MiB}")
    # Each layer is under the limit, the image is not.
    layers = [tar_layer([{"name": f"f{i}", "data": bytes([i]) * (3 * MiB)}]) for i in (1, 2)]
    push_image(registry, "test/two-big", "v1", layers)
    name = f"{registry.host}/test/two-big:v1"
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, name)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"the image unpacks to more than {4 * MiB} bytes (max_image_size)" in e.value.details()
    assert not status(cli, name).id
    assert store_is_empty(cli)
    cli.channel.close()


def test_pull_stops_when_free_space_is_below_the_floor(cribd_factory, registry, tmp_path, pb):
    # More than any disk has free: every layer download stops before it writes.
    cli = limited(cribd_factory, registry, tmp_path, pb, f"min_free_space = {1 << 60}")
    push_image(registry, "test/nospace", "v1", [zeros_layer(MiB)])
    name = f"{registry.host}/test/nospace:v1"
    with pytest.raises(grpc.RpcError) as e:
        pull(cli, name)
    assert e.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "bytes free, less than the" in e.value.details()
    assert "min_free_space" in e.value.details()
    assert not status(cli, name).id
    assert store_is_empty(cli)
    cli.channel.close()
