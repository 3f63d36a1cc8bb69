"""cribd as a real systemd service (the VM lane's guest, systemd driver): packaging/crib.service
installed with a drop-in that names the test's configuration; started, stopped and restarted with
systemctl while a pod (a kubepods-*.slice) runs a container (its crib-<id>.scope) that writes on."""
import os
import subprocess
import time

import pytest

from conftest import CGROUP_MANAGER, TOP
from test_containers import Env, layouts, lines  # noqa: F401 (fixture)
import test_keeper
from test_keeper import COUNTER, ctr_pid
from test_pods import net_cribd  # noqa: F401 (fixture)
from test_systemd import unit, wait_unit

pytestmark = pytest.mark.skipif(
    open("/proc/1/comm").read().strip() != "systemd" or CGROUP_MANAGER != "systemd",
    reason="needs systemd as PID 1 and cgroup_manager = systemd (the VM lane)")

UNIT = "/etc/systemd/system/crib.service"


def systemctl(*args, check=True):
    r = subprocess.run(["systemctl", *args], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 or not check, f"systemctl {' '.join(args)}: {r.stdout}{r.stderr}"
    return r


@pytest.fixture
def service(net_cribd, pb, layouts, tmp_path):
    # The images are loaded while the test's cribd runs as the fixtures start it; then it stops
    # and the same configuration runs as the service.
    c = net_cribd()
    e = Env(c, pb, layouts, str(tmp_path))
    assert c.stop() == 0
    c.shutdown()
    with open(os.path.join(TOP, "packaging", "crib.service")) as src, open(UNIT, "w") as dst:
        dst.write(src.read())
    os.makedirs(UNIT + ".d", exist_ok=True)
    with open(UNIT + ".d/50-test.conf", "w") as f:
        f.write(f"[Service]\nExecStart=\nExecStart={c.binary} --config {c.config}\n")
    systemctl("daemon-reload")
    try:
        yield e
    finally:
        e.close()
        systemctl("stop", "crib", check=False)
        c.shutdown()  # the keeper that stayed behind
        os.unlink(UNIT + ".d/50-test.conf")
        os.rmdir(UNIT + ".d")
        os.unlink(UNIT)
        systemctl("daemon-reload")
        systemctl("reset-failed", check=False)


def reconnect(e):
    test_keeper.reconnect(e, own_process=False)


def main_pid():
    return int(systemctl("show", "crib", "-p", "MainPID", "--value").stdout)


def service_procs():
    cg = systemctl("show", "crib", "-p", "ControlGroup", "--value").stdout.strip()
    with open(f"/sys/fs/cgroup{cg}/cgroup.procs") as f:
        return {int(p) for p in f.read().split()}


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def counted(e, pod, name):
    got = [int(x) for x in lines(e.log_records(pod, name), "stdout")]
    assert got == list(range(len(got))), "lines lost or repeated"
    return len(got)


def wait_more(e, pod, name, than, timeout=20):
    deadline = time.monotonic() + timeout
    while (n := counted(e, pod, name)) <= than:
        assert time.monotonic() < deadline, f"the log stayed at {n} lines"
        time.sleep(0.1)
    return n


def test_service_start_stop_restart_keeps_containers(service):
    e = service
    systemctl("start", "crib")  # Type=notify: back once the daemon serves
    assert unit("crib.service")["ActiveState"] == "active"
    assert comm(main_pid()) == "cribd"  # the front
    reconnect(e)
    uid = f"svc{os.getpid()}"
    slice_ = f"kubepods-besteffort-pod{uid}.slice"
    pod = e.pod(name="svc", uid=uid,
                linux=e.pb.LinuxPodSandboxConfig(cgroup_parent=slice_))
    cid = e.run(pod, COUNTER, name="counter")
    scope = f"crib-{cid}.scope"
    assert unit(scope)["ActiveState"] == "active" and unit(scope)["Slice"] == slice_
    status = systemctl("status", "--no-pager", scope).stdout
    assert slice_ in status and "crib" in status, status
    assert unit(slice_)["ActiveState"] == "active"
    pid = ctr_pid(e, cid)
    n = wait_more(e, pod, "counter", 5)

    # Stopped: the container runs on in its scope; the keeper stays in the service's cgroup
    # (KillMode=process) and holds its output.
    systemctl("stop", "crib")
    assert unit("crib.service")["ActiveState"] in ("inactive", "deactivating")
    keeper = [p for p in service_procs() if comm(p) == "cribd-keeper"]
    assert len(keeper) == 1, service_procs()
    time.sleep(1)
    assert os.path.exists(f"/proc/{pid}") and unit(scope)["ActiveState"] == "active"

    # Started: the same keeper, the container re-adopted, what it wrote meanwhile logged.
    systemctl("start", "crib")
    reconnect(e)
    assert [p for p in service_procs() if comm(p) == "cribd-keeper"] == keeper
    assert e.status(cid).state == e.pb.CONTAINER_RUNNING and ctr_pid(e, cid) == pid
    n = wait_more(e, pod, "counter", n + 50)  # 1 s of writes while stopped, and more

    # Restarted: the same again in one step.
    systemctl("restart", "crib")
    reconnect(e)
    assert e.status(cid).state == e.pb.CONTAINER_RUNNING and ctr_pid(e, cid) == pid
    wait_more(e, pod, "counter", n + 10)

    e.stop(cid, 0)
    e.cli.unary("RemoveContainer", container_id=cid, timeout=30)
    wait_unit(scope, "ActiveState", "inactive")
    e.cli.unary("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=60)
    e.pods.remove(pod[0])
