"""The systemd cgroup driver where systemd is PID 1 (the VM lane's guest): pods as slices and
containers as scopes, the units the kubelet's systemd driver expects."""
import json
import os
import subprocess
import time

import pytest

from conftest import CGROUP_MANAGER
from test_containers import Env, cgroup_fs_path, env, layouts  # noqa: F401 (fixtures)
from test_pods import net_cribd  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(CGROUP_MANAGER != "systemd",
                                reason="needs cgroup_manager = systemd (the VM lane)")


def unit(name):
    out = subprocess.run(["systemctl", "show", name, "-p",
                          "LoadState,ActiveState,Slice,ControlGroup"],
                         capture_output=True, text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def wait_unit(name, key, want, timeout=10):
    deadline = time.monotonic() + timeout
    while (got := unit(name).get(key)) != want:
        assert time.monotonic() < deadline, f"{name}: {key}={got}, not {want}"
        time.sleep(0.1)


def test_pod_slice_and_container_scopes(env):
    uid = f"crib{os.getpid()}"
    slice_ = f"kubepods-besteffort-pod{uid}.slice"
    pod = env.pod(name="sd", linux=env.pb.LinuxPodSandboxConfig(cgroup_parent=slice_))
    cid = env.run(pod, ["/bin/sleep", "60"], name="sleeper")
    scope = f"crib-{cid}.scope"
    u = unit(scope)
    assert u["ActiveState"] == "active" and u["Slice"] == slice_, u
    path = cgroup_fs_path(f"{slice_}:crib:{cid}")
    assert u["ControlGroup"] == path
    assert path == (f"/kubepods.slice/kubepods-besteffort.slice/{slice_}/{scope}")
    pid = json.loads(env.cli.unary("ContainerStatus", container_id=cid,
                                   verbose=True).info["info"])["pid"]
    assert str(pid) in open(f"/sys/fs/cgroup{path}/cgroup.procs").read().split()
    assert unit(slice_)["ActiveState"] == "active"
    env.stop(cid, 0)
    env.cli.unary("RemoveContainer", container_id=cid, timeout=30)
    wait_unit(scope, "ActiveState", "inactive")
    assert not os.path.exists(f"/sys/fs/cgroup{path}")
    env.cli.unary("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=60)
    env.pods.remove(pod[0])
