"""PullImage, ImageStatus and RemoveImage of one image from several clients at once (what
`critest -benchmark` does with imagesNumberParallel > 1): every pull answers with the image's
ID, nothing fails INTERNAL, and the layer store neither leaks nor loses a layer."""
import concurrent.futures
import os
import threading
import time

import grpc

from conftest import Cri
from registry import busybox_layer, push_image, tar_layer
from test_images import chain_ids, icri, pull, registry, spec, status  # noqa: F401 (fixtures)
from test_pods import pod_config

LOOP_SECONDS = 4


def remove(cli, name):
    cli.unary("RemoveImage", service="ImageService", image=spec(cli.pb, name))


def layers_on_disk(cli):
    return sorted(os.listdir(os.path.join(cli.cribd.dir, "root", "layers")))


def run_once(cli, name):
    """A host-network pod with one container of the image that must run and exit 0."""
    pb = cli.pb
    host = pb.NamespaceOption(network=pb.NODE)
    pcfg = pod_config(pb, name="race", linux=pb.LinuxPodSandboxConfig(
        security_context=pb.LinuxSandboxSecurityContext(namespace_options=host)))
    pcfg.log_directory = os.path.join(cli.cribd.dir, "logs")
    pid = cli.unary("RunPodSandbox", config=pcfg, timeout=60).pod_sandbox_id
    try:
        cfg = pb.ContainerConfig(metadata=pb.ContainerMetadata(name="c"),
                                 image=pb.ImageSpec(image=name),
                                 command=["/bin/sh", "-c", "cat /l2 >/dev/null"],
                                 log_path="c.log")
        cid = cli.unary("CreateContainer", pod_sandbox_id=pid, config=cfg, sandbox_config=pcfg,
                        timeout=60).container_id
        cli.unary("StartContainer", container_id=cid, timeout=60)
        deadline = time.monotonic() + 30
        while True:
            st = cli.unary("ContainerStatus", container_id=cid).status
            if st.state == pb.CONTAINER_EXITED or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert st.state == pb.CONTAINER_EXITED and st.exit_code == 0, st
    finally:
        cli.unary("RemovePodSandbox", pod_sandbox_id=pid, timeout=60)


def test_pull_status_remove_of_one_image_from_several_clients(icri, registry):
    img = push_image(registry, "test/race", "v1",
                     [busybox_layer(), tar_layer([{"name": "l2", "data": b"2" * 200000}])])
    name = f"{registry.host}/test/race:v1"
    stop = time.monotonic() + LOOP_SECONDS
    errors, pulls = [], []
    lock = threading.Lock()

    def client(n):
        ch = icri.cribd.channel()
        cli = Cri(ch, icri.pb)
        try:
            while time.monotonic() < stop:
                try:
                    ref = pull(cli, name)
                    with lock:
                        pulls.append(ref)
                    if ref != img.id:
                        errors.append(f"client {n}: pull answered {ref!r}, not {img.id}")
                    status(cli, name)
                    remove(cli, name)
                except grpc.RpcError as e:
                    with lock:
                        errors.append(f"client {n}: {e.code()}: {e.details()}")
        finally:
            ch.close()

    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        list(ex.map(client, range(3)))
    assert errors == []
    assert len(pulls) >= 6

    # The store is whole: a final pull has every layer, and a container of it runs.
    assert pull(icri, name) == img.id
    chains = [c[7:] for c in chain_ids(img.diff_ids)]
    assert layers_on_disk(icri) == sorted(chains)
    run_once(icri, name)

    # ... and a final removal leaves no layer behind.
    remove(icri, name)
    deadline = time.monotonic() + 10
    while layers_on_disk(icri) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert layers_on_disk(icri) == []
    assert not status(icri, name).id
