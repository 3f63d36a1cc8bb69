"""A container's resources in its cgroup's files, on the v1 host and on v2 (the VM lane's guest,
with either driver): as created, after UpdateContainerResources, and what v2 alone takes."""
import json

import grpc
import pytest

from test_containers import Env, cgroup_fs_path, cgroup_v2, layouts  # noqa: F401 (fixtures)
from test_pods import net_cribd  # noqa: F401 (fixture)

SLEEP = ["/bin/sleep", "60"]


@pytest.fixture
def env(net_cribd, pb, layouts, tmp_path):
    e = Env(net_cribd(extra_config="[crib.runtime]\npids_limit = 123\n"), pb, layouts,
            str(tmp_path))
    yield e
    e.close()


def cgroup_file(env, cid, controller, name):
    """The container's cgroup file: v2 has one directory, v1 one per controller."""
    info = env.cli.unary("ContainerStatus", container_id=cid, verbose=True).info["info"]
    cg = cgroup_fs_path(json.loads(info)["cgroupsPath"])
    if cgroup_v2():
        return f"/sys/fs/cgroup{cg}/{name}"
    return f"/sys/fs/cgroup/{controller}{cg}/{name}"


def read(env, cid, controller, name):
    return open(cgroup_file(env, cid, controller, name)).read().strip()


def cpu_files(env, cid):
    """(weight or shares, quota and period) as the cgroup has them, v2's format either way."""
    if cgroup_v2():
        return read(env, cid, "cpu", "cpu.weight"), read(env, cid, "cpu", "cpu.max")
    return (read(env, cid, "cpu", "cpu.shares"),
            f'{read(env, cid, "cpu", "cpu.cfs_quota_us")} {read(env, cid, "cpu", "cpu.cfs_period_us")}')


def memory_max(env, cid):
    return int(read(env, cid, "memory", "memory.max" if cgroup_v2() else "memory.limit_in_bytes"))


def test_resources_in_the_cgroup_files(env):
    pod = env.pod()
    res = env.pb.LinuxContainerResources(cpu_shares=512, cpu_quota=50000, cpu_period=100000,
                                         memory_limit_in_bytes=64 << 20, cpuset_cpus="0")
    cid = env.run(pod, SLEEP, linux=env.pb.LinuxContainerConfig(resources=res))
    # v2 takes a weight (1..10000) where v1 took shares (2..262144): 512 shares are weight 20.
    assert cpu_files(env, cid) == (("20", "50000 100000") if cgroup_v2() else
                                   ("512", "50000 100000"))
    assert memory_max(env, cid) == 64 << 20
    assert read(env, cid, "cpuset", "cpuset.cpus") == "0"
    assert read(env, cid, "pids", "pids.max") == "123"

    new = env.pb.LinuxContainerResources(cpu_shares=1024, cpu_quota=20000, cpu_period=100000,
                                         memory_limit_in_bytes=96 << 20)
    env.cli.unary("UpdateContainerResources", container_id=cid, linux=new)
    assert cpu_files(env, cid) == (("39", "20000 100000") if cgroup_v2() else
                                   ("1024", "20000 100000"))
    assert memory_max(env, cid) == 96 << 20
    got = env.status(cid).resources.linux
    assert (got.cpu_shares, got.cpu_quota, got.memory_limit_in_bytes) == (1024, 20000, 96 << 20)


def test_container_sees_its_own_cgroup_as_root(env):
    # v2: a cgroup namespace of its own, its limits at its /sys/fs/cgroup; v1 has none (the
    # container's root there would be one it cannot use).
    pod = env.pod()
    res = env.pb.LinuxContainerResources(memory_limit_in_bytes=64 << 20)
    cid = env.run(pod, SLEEP, linux=env.pb.LinuxContainerConfig(resources=res))
    r = env.cli.unary("ExecSync", container_id=cid, cmd=["/bin/cat", "/proc/self/cgroup"],
                      timeout=10)
    assert r.exit_code == 0, r
    if cgroup_v2():
        assert r.stdout == b"0::/\n", r.stdout
        r = env.cli.unary("ExecSync", container_id=cid,
                          cmd=["/bin/cat", "/sys/fs/cgroup/memory.max"], timeout=10)
        assert (r.exit_code, r.stdout) == (0, b"%d\n" % (64 << 20)), r
    else:
        assert b"\n0::/\n" not in b"\n" + r.stdout and cid.encode() in r.stdout, r.stdout


def test_unified_settings(env):
    pod = env.pod()
    res = env.pb.LinuxContainerResources(memory_limit_in_bytes=64 << 20,
                                         unified={"memory.high": str(48 << 20),
                                                  "io.weight": "default 200"})
    linux = env.pb.LinuxContainerConfig(resources=res)
    if not cgroup_v2():
        with pytest.raises(grpc.RpcError) as e:
            env.create(pod, SLEEP, linux=linux)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "need cgroup v2" in e.value.details()
        return
    cid = env.run(pod, SLEEP, linux=linux)
    assert int(read(env, cid, "memory", "memory.high")) == 48 << 20
    assert read(env, cid, "io", "io.weight").startswith("default 200")
    env.cli.unary("UpdateContainerResources", container_id=cid,
                  linux=env.pb.LinuxContainerResources(unified={"memory.high": str(40 << 20)}))
    assert int(read(env, cid, "memory", "memory.high")) == 40 << 20


@pytest.mark.parametrize("key,say", [("../../cgroup.procs", "not a controller's file name"),
                                     ("cgroup.subtree_control", "cgroup.* files")])
def test_unified_keys_that_are_not_resources_are_refused(env, key, say):
    pod = env.pod()
    bad = env.pb.LinuxContainerResources(unified={key: "1"})
    with pytest.raises(grpc.RpcError) as e:
        env.create(pod, SLEEP, linux=env.pb.LinuxContainerConfig(resources=bad))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and say in e.value.details()
    cid = env.run(pod, SLEEP)
    with pytest.raises(grpc.RpcError) as e:
        env.cli.unary("UpdateContainerResources", container_id=cid, linux=bad)
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT and say in e.value.details()
    assert env.cli.unary("ListContainers").containers[0].id == cid  # nothing else was made
