"""Version, Status, RuntimeConfig, UpdateRuntimeConfig and the routing of every CRI method."""
import json
import os
import re
import time

import grpc
import pytest

from conftest import TOP

CONFLIST = """{"cniVersion": "1.0.0", "name": "test",
 "plugins": [{"type": "bridge", "bridge": "cni0"}]}"""


def test_version(cri):
    v = cri.unary("Version", version="v1")
    assert v.runtime_name == "crib"
    assert v.runtime_api_version == "v1"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", v.runtime_version)


def conditions(resp):
    return {c.type: c for c in resp.status.conditions}


def test_status_runtime_ready_with_real_runc(cribd_factory, pb):
    from conftest import Cri
    c = cribd_factory('[crib.runtime.runtimes.runc]\nruntime_path = "/usr/sbin/runc"\n')
    cri = Cri(c.channel(), pb)
    st = conditions(cri.unary("Status", verbose=True))
    assert st["RuntimeReady"].status is True
    assert st["RuntimeReady"].reason == ""
    info = json.loads(cri.unary("Status", verbose=True).info["config"])
    assert info["runtimeVersion"].startswith("runc version")


def test_status_runtime_found_in_path(cri):
    st = conditions(cri.unary("Status"))
    assert st["RuntimeReady"].status is True, st["RuntimeReady"].message


def test_status_runtime_missing(cribd_factory, pb):
    from conftest import Cri
    c = cribd_factory('[crib.runtime.runtimes.runc]\nruntime_path = "/nonexistent/runc"\n')
    st = conditions(Cri(c.channel(), pb).unary("Status"))
    assert st["RuntimeReady"].status is False
    assert st["RuntimeReady"].reason == "RuntimeNotReady"
    assert "/nonexistent/runc" in st["RuntimeReady"].message


def test_status_runtime_that_fails_reports_its_stderr(cribd_factory, pb, tmp_path):
    from conftest import Cri
    script = tmp_path / "broken-runtime"
    script.write_text("#!/bin/sh\necho 'libfoo.so: cannot open shared object' >&2\nexit 3\n")
    script.chmod(0o755)
    c = cribd_factory(f'[crib.runtime.runtimes.runc]\nruntime_path = "{script}"\n')
    st = conditions(Cri(c.channel(), pb).unary("Status"))
    assert st["RuntimeReady"].status is False
    assert "exit 3" in st["RuntimeReady"].message
    assert "libfoo.so" in st["RuntimeReady"].message


def test_status_network_follows_cni_config_dir(cribd, cri):
    st = conditions(cri.unary("Status"))
    assert st["NetworkReady"].status is False
    assert st["NetworkReady"].reason == "NetworkPluginNotReady"
    assert cribd.netdir in st["NetworkReady"].message
    # A broken file does not make the network ready.
    with open(os.path.join(cribd.netdir, "05-broken.conflist"), "w") as f:
        f.write("{not json")
    st = conditions(cri.unary("Status"))
    assert st["NetworkReady"].status is False
    assert "05-broken.conflist" in st["NetworkReady"].message
    with open(os.path.join(cribd.netdir, "10-test.conflist"), "w") as f:
        f.write(CONFLIST)
    st = conditions(cri.unary("Status"))
    assert st["NetworkReady"].status is True
    assert st["NetworkReady"].message == ""


def test_status_lists_runtime_handlers(cribd_factory, pb):
    from conftest import Cri
    c = cribd_factory('[crib.runtime.runtimes.crun]\nruntime_path = "/usr/bin/crun"\n')
    resp = Cri(c.channel(), pb).unary("Status")
    assert sorted(h.name for h in resp.runtime_handlers) == ["crun", "runc"]


def test_concurrent_status_calls_share_one_probe(cribd_factory, pb, tmp_path):
    # The runtime counts its own `--version` runs and holds them until every call is waiting in
    # cribd, so the calls overlap for certain.
    from test_http1 import http_get
    probes, gate = tmp_path / "probes", tmp_path / "gate"
    wrapper = tmp_path / "runc-wrapper"
    wrapper.write_text(f"""#!/bin/sh
if [ "$1" = --version ]; then
    echo probe >> {probes}
    for i in $(seq 100); do [ -e {gate} ] && break; sleep 0.05; done
fi
exec /usr/sbin/runc "$@"
""")
    wrapper.chmod(0o755)
    c = cribd_factory(f'[crib.runtime.runtimes.runc]\nruntime_path = "{wrapper}"\n')
    ch = c.channel()
    status = ch.unary_unary("/runtime.v1.RuntimeService/Status",
                            request_serializer=pb.StatusRequest.SerializeToString,
                            response_deserializer=pb.StatusResponse.FromString)
    futures = [status.future(pb.StatusRequest(), timeout=20) for _ in range(32)]
    deadline = time.monotonic() + 10
    while json.loads(http_get(c.sock, "/info")[1])["grpc"]["calls"] < 32:
        assert time.monotonic() < deadline, "the 32 Status calls never were in flight together"
        time.sleep(0.05)
    gate.touch()
    results = [f.result() for f in futures]
    ch.close()
    assert all(conditions(r)["RuntimeReady"].status for r in results)
    n = probes.read_text().count("probe")
    assert n == 1, f"{n} runtime probes for 32 overlapping Status calls"


def test_runtime_config_reports_cgroupfs(cri, pb):
    resp = cri.unary("RuntimeConfig")
    assert resp.linux.cgroup_driver == pb.CGROUPFS


def test_runtime_config_reports_systemd_when_configured(cribd_factory, pb):
    from conftest import Cri
    c = cribd_factory('[crib.runtime]\ncgroup_manager = "systemd"\n')
    resp = Cri(c.channel(), pb).unary("RuntimeConfig")
    assert resp.linux.cgroup_driver == pb.SYSTEMD


def test_update_runtime_config_accepts_pod_cidr(cribd, cri, pb):
    cfg = pb.RuntimeConfig(network_config=pb.NetworkConfig(pod_cidr="10.88.0.0/16"))
    cri.unary("UpdateRuntimeConfig", runtime_config=cfg)
    assert "pod CIDR set to `10.88.0.0/16`" in cribd.output()


def all_methods(pb):
    for svc in pb.DESCRIPTOR.services_by_name.values():
        for m in svc.methods:
            yield svc.name, m


IMPLEMENTED = {"Version", "Status", "RuntimeConfig", "UpdateRuntimeConfig", "GetContainerEvents",
               "PullImage", "ImageStatus", "ListImages", "RemoveImage", "ImageFsInfo",
               "RunPodSandbox", "StopPodSandbox", "RemovePodSandbox", "PodSandboxStatus",
               "ListPodSandbox", "CreateContainer", "StartContainer", "StopContainer",
               "RemoveContainer", "ContainerStatus", "ListContainers", "ExecSync",
               "UpdateContainerResources", "ReopenContainerLog", "Exec", "Attach",
               "PortForward", "ContainerStats", "ListContainerStats", "PodSandboxStats",
               "ListPodSandboxStats", "StreamContainerStats", "StreamPodSandboxStats",
               "ListMetricDescriptors", "ListPodSandboxMetrics", "StreamPodSandboxMetrics"}


def test_proto_has_every_cri_method(pb):
    names = {m.name for _, m in all_methods(pb)}
    assert len(names) == 43
    for want in ("GetContainerEvents", "ListMetricDescriptors", "RuntimeConfig",
                 "UpdatePodSandboxResources", "StreamImages", "CheckpointPod"):
        assert want in names


def test_every_unimplemented_method_answers_unimplemented_naming_it(cri, pb):
    for svc, m in all_methods(pb):
        if m.name in IMPLEMENTED:
            continue
        path = f"/runtime.v1.{svc}/{m.name}"
        with pytest.raises(grpc.RpcError) as e:
            if m.server_streaming:
                fn = cri.channel.unary_stream(path)
                list(fn(b"", timeout=5))
            else:
                cri.raw(path, b"")
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED, path
        assert path in e.value.details()


def test_unknown_method_is_unimplemented(cri):
    for path in ("/runtime.v1.RuntimeService/NoSuchMethod", "/foo.Bar/Baz", "/x"):
        with pytest.raises(grpc.RpcError) as e:
            cri.raw(path, b"")
        assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert "unknown method" in e.value.details()


def test_malformed_protobuf_is_invalid_argument(cri):
    for payload in (b"\xff\xff\xff", b"\x0a\x10abc"):  # bad tag; truncated string
        with pytest.raises(grpc.RpcError) as e:
            cri.raw("/runtime.v1.RuntimeService/Version", payload)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "VersionRequest" in e.value.details()
