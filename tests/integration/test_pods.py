"""Pod sandboxes with the real CNI bridge, host-local and portmap plugins: pinned namespaces,
pod files, lifecycle, cleanup, restarts, filters and bad input."""
import concurrent.futures
import itertools
import json
import os
import subprocess
import time

import grpc
import pytest

from conftest import Cri

_nets = itertools.count(1)


def conflist(tmp, n, extra_plugins=()):
    plugins = [{"type": "bridge", "bridge": f"cribt{n}", "isGateway": True, "ipMasq": False,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": f"10.99.{n}.0/24"}]],
                         "dataDir": f"{tmp}/ipam"}},
               {"type": "portmap", "capabilities": {"portMappings": True}}]
    plugins += list(extra_plugins)
    return {"cniVersion": "1.0.0", "name": f"crib-test-{n}", "plugins": plugins}


@pytest.fixture
def net_cribd(cribd_factory, tmp_path):
    def make(plugin_dirs=("/usr/lib/cni",), extra_plugins=(), subdir=None, extra_config="",
             env=None, binary=None, args=()):
        n = next(_nets) + (os.getpid() % 100)
        dirs = ", ".join(f'"{d}"' for d in plugin_dirs)
        c = cribd_factory(f"[crib.network]\nplugin_dirs = [{dirs}]\n{extra_config}", start=False,
                          subdir=subdir or f"net{n}", env=env, binary=binary, args=args)
        with open(os.path.join(c.netdir, "10-test.conflist"), "w") as f:
            json.dump(conflist(c.dir, n, extra_plugins), f)
        c.net_n = n
        c.start()
        made.append(n)
        return c
    made = []
    yield make
    for n in made:  # the bridge plugin leaves its bridge behind
        subprocess.run(["ip", "link", "del", f"cribt{n}"], capture_output=True)


def pod_config(pb, name="pod", ns="default", uid=None, attempt=0, **kw):
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=name, namespace=ns, uid=uid or f"uid-{name}",
                                       attempt=attempt),
        hostname=kw.pop("hostname", name), log_directory="/tmp", **kw)


def run(cli, cfg, handler=""):
    return cli.unary("RunPodSandbox", config=cfg, runtime_handler=handler,
                     timeout=60).pod_sandbox_id


def status(cli, pid, verbose=False):
    return cli.unary("PodSandboxStatus", pod_sandbox_id=pid, verbose=verbose)


def pod_dir(c, pid):
    return os.path.join(c.dir, "run", "pods", pid)


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [l.split()[4] for l in f if l.split()[4].startswith(path)]


def nsenter(c, pid, kind, *cmd):
    return subprocess.run(["nsenter", f"--{kind}={pod_dir(c, pid)}/ns/{kind}", *cmd],
                          capture_output=True, text=True, timeout=10)


def links():
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {l.split(":")[1].strip().split("@")[0] for l in out.splitlines()}


def test_pod_lifecycle_with_network_files_and_cleanup(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    links_before = links()
    cfg = pod_config(pb, "web", hostname="web-0",
                     dns_config=pb.DNSConfig(servers=["10.0.0.10"], searches=["svc.local"],
                                             options=["ndots:5"]),
                     labels={"app": "web"}, annotations={"a": "b"})
    pid = run(cli, cfg)
    st = status(cli, pid).status
    assert st.state == pb.SANDBOX_READY
    assert st.network.ip.startswith(f"10.99.{c.net_n}.")
    assert st.metadata.name == "web" and st.labels["app"] == "web"
    assert st.annotations["a"] == "b"
    ip = st.network.ip
    assert subprocess.run(["ping", "-c", "1", "-W", "5", ip], capture_output=True).returncode == 0
    assert nsenter(c, pid, "uts", "hostname").stdout.strip() == "web-0"
    addrs = nsenter(c, pid, "net", "ip", "-o", "addr").stdout
    assert ip in addrs and "127.0.0.1" in addrs
    d = pod_dir(c, pid)
    assert open(f"{d}/hostname").read() == "web-0\n"
    assert f"{ip}\tweb-0" in open(f"{d}/hosts").read()
    resolv = open(f"{d}/resolv.conf").read()
    assert "nameserver 10.0.0.10" in resolv and "search svc.local" in resolv
    assert "options ndots:5" in resolv
    assert f"{d}/shm" in mounts_under(d)
    info = json.loads(status(cli, pid, verbose=True).info["info"])
    assert info["cniNetwork"] == f"crib-test-{c.net_n}"
    assert info["namespaces"]["net"] == f"{d}/ns/net"
    ipam = os.path.join(c.dir, "ipam", f"crib-test-{c.net_n}")
    assert ip in os.listdir(ipam)

    cli.unary("StopPodSandbox", pod_sandbox_id=pid)
    assert status(cli, pid).status.state == pb.SANDBOX_NOTREADY
    cli.unary("StopPodSandbox", pod_sandbox_id=pid)  # idempotent
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid)
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid)  # idempotent
    with pytest.raises(grpc.RpcError) as e:
        status(cli, pid)
    assert e.value.code() == grpc.StatusCode.NOT_FOUND
    assert mounts_under(d) == [] and not os.path.exists(d)
    assert ip not in os.listdir(ipam)
    assert not (links() - links_before - {f"cribt{c.net_n}"})
    assert not os.path.exists(os.path.join(c.dir, "root", "pods", f"{pid}.json"))


def test_remove_of_a_ready_pod_stops_it_first(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    pid = run(cli, pod_config(pb, "quick"))
    d = pod_dir(c, pid)
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid[:12])  # a unique prefix will do
    assert mounts_under(d) == [] and not os.path.exists(d)


def test_host_network_pod(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    sec = pb.LinuxSandboxSecurityContext(namespace_options=pb.NamespaceOption(network=pb.NODE))
    pid = run(cli, pod_config(pb, "hostnet", linux=pb.LinuxPodSandboxConfig(security_context=sec)))
    st = status(cli, pid).status
    assert st.state == pb.SANDBOX_READY
    assert st.network.ip == ""
    assert st.linux.namespaces.options.network == pb.NODE
    d = pod_dir(c, pid)
    assert not os.path.exists(f"{d}/ns/net") and os.path.exists(f"{d}/ns/ipc")
    assert open(f"{d}/hostname").read().strip() == os.uname().nodename
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid)
    assert not os.path.exists(d)


def test_30_pods_started_concurrently_get_distinct_ips(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(30) as ex:
        ids = list(ex.map(lambda i: run(cli, pod_config(pb, f"p{i}")), range(30)))
    wall = time.monotonic() - t0
    ips = [status(cli, pid).status.network.ip for pid in ids]
    assert len(set(ips)) == 30 and all(ips)
    print(f"\n30 concurrent RunPodSandbox: {wall:.2f} s wall")
    with concurrent.futures.ThreadPoolExecutor(30) as ex:
        list(ex.map(lambda pid: cli.unary("RemovePodSandbox", pod_sandbox_id=pid, timeout=60),
                    ids))
    assert list(cli.unary("ListPodSandbox").items) == []
    assert os.listdir(os.path.join(c.dir, "run", "pods")) == []


def test_failing_cni_plugin_leaves_nothing(net_cribd, pb, tmp_path):
    plugdir = tmp_path / "plugins"
    plugdir.mkdir()
    failing = plugdir / "failing"
    failing.write_text('#!/bin/sh\ncat >/dev/null\n'
                       'echo \'{"cniVersion": "1.0.0", "code": 7, "msg": "no more addresses",'
                       ' "details": "the pool is exhausted"}\'\nexit 1\n')
    failing.chmod(0o755)
    c = net_cribd(plugin_dirs=(str(plugdir), "/usr/lib/cni"), extra_plugins=[{"type": "failing"}])
    cli = Cri(c.channel(), pb)
    links_before = links()
    with pytest.raises(grpc.RpcError) as e:
        run(cli, pod_config(pb, "doomed"))
    assert "no more addresses" in e.value.details()
    assert "failing" in e.value.details()
    assert list(cli.unary("ListPodSandbox").items) == []
    assert os.listdir(os.path.join(c.dir, "run", "pods")) == []
    assert mounts_under(os.path.join(c.dir, "run")) == []
    ipam = os.path.join(c.dir, "ipam", f"crib-test-{c.net_n}")
    assert [f for f in os.listdir(ipam) if f.startswith("10.")] == []
    assert not (links() - links_before - {f"cribt{c.net_n}"})


def test_restart_between_run_and_stop(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    pid = run(cli, pod_config(pb, "survivor"))
    ip = status(cli, pid).status.network.ip
    assert c.stop() == 0
    c.start()
    cli = Cri(c.channel(), pb)
    st = status(cli, pid).status
    assert st.state == pb.SANDBOX_READY and st.network.ip == ip
    assert subprocess.run(["ping", "-c", "1", "-W", "5", ip], capture_output=True).returncode == 0
    cli.unary("StopPodSandbox", pod_sandbox_id=pid)
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid)
    ipam = os.path.join(c.dir, "ipam", f"crib-test-{c.net_n}")
    assert ip not in os.listdir(ipam)
    assert mounts_under(os.path.join(c.dir, "run")) == []


def test_list_pod_sandbox_filters(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    a = run(cli, pod_config(pb, "a", labels={"tier": "front", "app": "x"}))
    b = run(cli, pod_config(pb, "b", labels={"tier": "back", "app": "x"}))
    cli.unary("StopPodSandbox", pod_sandbox_id=b)
    ids = lambda **f: sorted(p.id for p in cli.unary(
        "ListPodSandbox", filter=pb.PodSandboxFilter(**f)).items)
    assert ids() == sorted([a, b])
    assert ids(id=a) == [a] and ids(id=a[:10]) == [a]
    assert ids(state=pb.PodSandboxStateValue(state=pb.SANDBOX_READY)) == [a]
    assert ids(state=pb.PodSandboxStateValue(state=pb.SANDBOX_NOTREADY)) == [b]
    assert ids(label_selector={"app": "x"}) == sorted([a, b])
    assert ids(label_selector={"tier": "back"}) == [b]
    assert ids(label_selector={"tier": "back", "app": "y"}) == []
    for pid in (a, b):
        cli.unary("RemovePodSandbox", pod_sandbox_id=pid)


def test_unknown_runtime_handler_lists_the_known_ones(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    with pytest.raises(grpc.RpcError) as e:
        run(cli, pod_config(pb, "h"), handler="kata")
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "kata" in e.value.details() and "runc" in e.value.details()


def test_sysctls_namespaced_applied_others_refused(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    good = pb.LinuxPodSandboxConfig(sysctls={"net.ipv4.ip_unprivileged_port_start": "80",
                                             "kernel.shmmni": "2048"})
    pid = run(cli, pod_config(pb, "tuned", linux=good))
    out = nsenter(c, pid, "net", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start").stdout
    assert out.strip() == "80"
    assert nsenter(c, pid, "ipc", "cat", "/proc/sys/kernel/shmmni").stdout.strip() == "2048"
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid)
    for bad, why in (({"kernel.panic": "1"}, "not namespaced"),
                     ({"../../etc/x": "1"}, "invalid sysctl"),
                     ({"net.ipv4.ip_forward": "1"}, "node's")):
        linux = pb.LinuxPodSandboxConfig(sysctls=bad)
        if why == "node's":
            linux.security_context.namespace_options.network = pb.NODE
        with pytest.raises(grpc.RpcError) as e:
            run(cli, pod_config(pb, "bad", linux=linux))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert why in e.value.details()
    assert list(cli.unary("ListPodSandbox").items) == []


def test_missing_metadata_and_duplicates(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    with pytest.raises(grpc.RpcError) as e:
        cli.unary("RunPodSandbox", config=pb.PodSandboxConfig())
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    pid = run(cli, pod_config(pb, "dup"))
    with pytest.raises(grpc.RpcError) as e:
        run(cli, pod_config(pb, "dup"))
    assert e.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert pid in e.value.details()
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid)


def test_shared_pid_namespace_gets_an_infra_process(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    sec = pb.LinuxSandboxSecurityContext(namespace_options=pb.NamespaceOption(pid=pb.POD))
    pid = run(cli, pod_config(pb, "sharedpid", linux=pb.LinuxPodSandboxConfig(security_context=sec)))
    info = json.loads(status(cli, pid, verbose=True).info["info"])
    infra = info["infraPid"]
    with open(f"/proc/{infra}/status") as f:
        nspid = [l.split()[1:] for l in f if l.startswith("NSpid:")][0]
    assert nspid == [str(infra), "1"]  # PID 1 of a namespace of its own
    assert open(f"/proc/{infra}/comm").read().strip() == "crib-infra"
    cli.unary("StopPodSandbox", pod_sandbox_id=pid)
    # cribd is the child subreaper: it reaps the orphaned infra process, no zombie stays.
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{infra}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{infra}")
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid)


def cgroup_dirs(rel):
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return [f"/sys/fs/cgroup{rel}"]
    return [f"/sys/fs/cgroup/{c}{rel}" for c in ("memory", "cpu", "pids")
            if os.path.isdir(f"/sys/fs/cgroup/{c}")]


def test_cgroup_parent_created_and_removed(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    parent = f"/crib-test-{c.net_n}/pod-uid-1"
    pid = run(cli, pod_config(pb, "cg", linux=pb.LinuxPodSandboxConfig(cgroup_parent=parent)))
    dirs = cgroup_dirs(parent)
    assert dirs and all(os.path.isdir(d) for d in dirs)
    info = json.loads(status(cli, pid, verbose=True).info["info"])
    assert info["cgroupParent"] == parent
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid)
    assert not any(os.path.exists(d) for d in cgroup_dirs(f"/crib-test-{c.net_n}"))
    with pytest.raises(grpc.RpcError) as e:
        run(cli, pod_config(pb, "cgbad", linux=pb.LinuxPodSandboxConfig(cgroup_parent="/a/../b")))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "cgroup parent" in e.value.details()


def test_a_changed_cni_config_is_used_without_a_restart(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    a = run(cli, pod_config(pb, "before"))
    assert status(cli, a).status.network.ip.startswith(f"10.99.{c.net_n}.")
    m = c.net_n + 100
    with open(os.path.join(c.netdir, "10-test.conflist"), "w") as f:
        json.dump(conflist(c.dir, m), f)
    deadline = time.monotonic() + 5
    while True:
        b = run(cli, pod_config(pb, f"after-{time.monotonic_ns()}"))
        ip = status(cli, b).status.network.ip
        cli.unary("RemovePodSandbox", pod_sandbox_id=b)
        if ip.startswith(f"10.99.{m}.") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ip.startswith(f"10.99.{m}.")
    # The first pod is torn down with the configuration it was set up with.
    cli.unary("RemovePodSandbox", pod_sandbox_id=a)
    ipam = os.path.join(c.dir, "ipam", f"crib-test-{c.net_n}")
    assert [f for f in os.listdir(ipam) if f.startswith("10.")] == []
    subprocess.run(["ip", "link", "del", f"cribt{m}"], capture_output=True)


RECORDER = """#!/usr/bin/python3
import json, os, sys
conf = json.load(sys.stdin)
out = os.path.join("RECORD_DIR", os.environ["CNI_COMMAND"] + ".json")
with open(out, "w") as f:
    json.dump({"stdin": conf, "args": os.environ.get("CNI_ARGS"),
               "netns": os.environ.get("CNI_NETNS"), "ifname": os.environ.get("CNI_IFNAME")}, f)
if os.environ["CNI_COMMAND"] == "ADD":
    print(json.dumps(conf["prevResult"]))
"""


def test_cni_gets_capability_args_and_k8s_args(net_cribd, pb, tmp_path):
    plugdir = tmp_path / "plugins"
    plugdir.mkdir()
    record = tmp_path / "record"
    record.mkdir()
    # Plugins get only the CNI environment: the recorder knows its directory by heart.
    (plugdir / "record").write_text(RECORDER.replace("RECORD_DIR", str(record)))
    (plugdir / "record").chmod(0o755)
    caps = {"portMappings": True, "bandwidth": True, "ipRanges": True}
    c = net_cribd(plugin_dirs=(str(plugdir), "/usr/lib/cni"),
                  extra_plugins=[{"type": "record", "capabilities": caps}])
    cli = Cri(c.channel(), pb)
    cli.unary("UpdateRuntimeConfig", runtime_config=pb.RuntimeConfig(
        network_config=pb.NetworkConfig(pod_cidr="10.244.7.0/24")))
    cfg = pod_config(pb, "caps", ns="team", uid="u-123",
                     port_mappings=[pb.PortMapping(protocol=pb.UDP, container_port=53,
                                                   host_port=15353)],
                     annotations={"kubernetes.io/ingress-bandwidth": "10M",
                                  "kubernetes.io/egress-bandwidth": "1Mi"})
    pid = run(cli, cfg)
    add = json.load(open(record / "ADD.json"))
    rc = add["stdin"]["runtimeConfig"]
    assert rc["portMappings"] == [{"hostPort": 15353, "containerPort": 53, "protocol": "udp"}]
    assert rc["bandwidth"]["ingressRate"] == 10000000
    assert rc["bandwidth"]["egressRate"] == 1048576
    assert rc["ipRanges"] == [[{"subnet": "10.244.7.0/24"}]]
    assert add["stdin"]["prevResult"]["ips"]
    assert add["stdin"]["name"] == f"crib-test-{c.net_n}"
    assert "capabilities" not in add["stdin"]
    assert "K8S_POD_NAMESPACE=team" in add["args"] and "K8S_POD_NAME=caps" in add["args"]
    assert f"K8S_POD_INFRA_CONTAINER_ID={pid}" in add["args"] and "K8S_POD_UID=u-123" in add["args"]
    assert add["netns"] == f"{pod_dir(c, pid)}/ns/net" and add["ifname"] == "eth0"
    cli.unary("StopPodSandbox", pod_sandbox_id=pid)
    dele = json.load(open(record / "DEL.json"))
    assert dele["stdin"]["prevResult"] == add["stdin"]["prevResult"]
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid)


def test_cni_check_after_a_restart(net_cribd, pb, tmp_path):
    plugdir = tmp_path / "plugins"
    plugdir.mkdir()
    record = tmp_path / "record"
    record.mkdir()
    (plugdir / "record").write_text(RECORDER.replace("RECORD_DIR", str(record)))
    (plugdir / "record").chmod(0o755)
    c = net_cribd(plugin_dirs=(str(plugdir), "/usr/lib/cni"), extra_plugins=[{"type": "record"}])
    cli = Cri(c.channel(), pb)
    pid = run(cli, pod_config(pb, "checked"))
    assert not (record / "CHECK.json").exists()
    assert c.stop() == 0
    c.start()
    deadline = time.monotonic() + 10
    while not (record / "CHECK.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    check = json.load(open(record / "CHECK.json"))
    add = json.load(open(record / "ADD.json"))
    assert check["stdin"]["prevResult"] == add["stdin"]["prevResult"]
    assert check["netns"] == add["netns"]
    cli = Cri(c.channel(), pb)
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid)


def test_pod_without_hostname_gets_the_nodes_even_with_a_long_name(net_cribd, pb):
    c = net_cribd()
    cli = Cri(c.channel(), pb)
    long_name = "create-PodSandbox-for-container-" + "x" * 60
    cfg = pod_config(pb, long_name, hostname="")
    pid = run(cli, cfg)
    assert nsenter(c, pid, "uts", "hostname").stdout.strip() == os.uname().nodename
    with pytest.raises(grpc.RpcError) as e:
        run(cli, pod_config(pb, "toolong", hostname="h" * 65))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "longer than 64" in e.value.details()
    cli.unary("RemovePodSandbox", pod_sandbox_id=pid, timeout=60)


# ---- pods with containers (the containers' helpers come from test_containers, which imports
# this module: they are imported late, inside the fixture) ----

@pytest.fixture
def ctr_env(net_cribd, pb, tmp_path, request):
    from registry import busybox_layer
    from test_containers import IMAGE, STOPSIG_IMAGE, Env
    from test_image_load import write_layout
    layer = busybox_layer()
    write_layout(f"{tmp_path}/layouts/busybox", [layer], ref_name=IMAGE)
    write_layout(f"{tmp_path}/layouts/stopsig", [layer], ref_name=STOPSIG_IMAGE,
                 config={"StopSignal": "SIGUSR1"})
    boot_file = None
    if getattr(request, "param", None) == "boot_id":  # a boot id of the test's, to play a reboot
        boot_file = str(tmp_path / "boot_id")
        with open(boot_file, "w") as f:
            f.write("11111111-1111-1111-1111-111111111111\n")
    c = net_cribd(env={"CRIB_BOOT_ID_FILE": boot_file} if boot_file else None)
    e = Env(c, pb, f"{tmp_path}/layouts", str(tmp_path))
    e.boot_file = boot_file
    yield e
    e.close()


def exec_out(env, cid, *cmd):
    req = env.pb.ExecSyncRequest(container_id=cid, cmd=list(cmd), timeout=10)
    r = env.cli.unary("ExecSync", req=req, timeout=20)
    assert r.exit_code == 0, (cmd, r.stdout, r.stderr)
    return r.stdout.decode()


def proc_status_fields(text):
    return {l.split(":")[0]: l.split(":", 1)[1].split() for l in text.splitlines() if ":" in l}


def test_shared_pid_infra_process_holds_nothing_a_ptracer_could_use(ctr_env):
    env, pb = ctr_env, ctr_env.pb
    sec = pb.LinuxSandboxSecurityContext(namespace_options=pb.NamespaceOption(pid=pb.POD))
    pod = env.pod("ptraced", linux=pb.LinuxPodSandboxConfig(security_context=sec))
    infra = json.loads(status(env.cli, pod[0], verbose=True).info["info"])["infraPid"]
    ptrace = pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(
        capabilities=pb.Capability(add_capabilities=["SYS_PTRACE"])))
    app = env.run(pod, ["/bin/sleep", "601"], name="app")
    dbg = env.run(pod, ["/bin/sleep", "602"], name="debug", linux=ptrace)
    # The node's root is not behind PID 1's root or working directory.
    for link in ("root", "cwd"):
        names = exec_out(env, dbg, "/bin/ls", "-a", f"/proc/1/{link}/").split()
        assert set(names) <= {".", ".."}, names
    st = proc_status_fields(exec_out(env, dbg, "/bin/cat", "/proc/1/status"))
    assert st["Name"] == ["crib-infra"]
    for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(st[caps][0], 16) == 0, (caps, st[caps])
    assert st["Uid"] == ["65534"] * 4 and st["Gid"] == ["65534"] * 4
    assert st["Groups"] == []
    assert st["NoNewPrivs"] == ["1"] and st["Seccomp"] == ["2"]
    # No fd of the daemon's or the launcher's.
    assert exec_out(env, dbg, "/bin/ls", "/proc/1/fd/").split() == []
    # In the pod's namespaces (not the node's), in a mount namespace of its own.
    for ns in ("net", "ipc", "uts"):
        assert exec_out(env, dbg, "/bin/readlink", f"/proc/1/ns/{ns}") == \
            exec_out(env, dbg, "/bin/readlink", f"/proc/self/ns/{ns}")
    assert os.readlink(f"/proc/{infra}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    # The pod still works: its containers see each other's processes.
    ps = exec_out(env, app, "/bin/ps", "-o", "pid,args")
    assert "sleep 601" in ps and "sleep 602" in ps and "crib-infra" not in ps.split("\n")[0]
    env.cli.unary("StopPodSandbox", pod_sandbox_id=pod[0])
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{infra}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{infra}")
    assert env.status(app).state == pb.CONTAINER_EXITED
    env.cli.unary("RemovePodSandbox", pod_sandbox_id=pod[0])
    assert not os.path.exists(pod_dir(env.c, pod[0]))
    assert mounts_under(pod_dir(env.c, pod[0])) == []


def target_pid_ns(pb, target):
    return pb.LinuxContainerConfig(security_context=pb.LinuxContainerSecurityContext(
        namespace_options=pb.NamespaceOption(pid=pb.TARGET, target_id=target)))


def test_target_pid_namespace_only_of_a_container_of_the_same_pod(ctr_env):
    env, pb = ctr_env, ctr_env.pb
    a, b = env.pod("a"), env.pod("b")
    target = env.run(a, ["/bin/sleep", "603"], name="target")
    with pytest.raises(grpc.RpcError) as e:
        env.create(b, ["/bin/ps"], name="intruder", linux=target_pid_ns(pb, target))
    assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert target in e.value.details() and "not in this pod" in e.value.details()
    assert [c.id for c in env.cli.unary("ListContainers").containers] == [target]
    # In the same pod it works, through our own fd of the namespace, not a pid's path.
    dbg = env.create(a, ["/bin/sleep", "604"], name="debug", linux=target_pid_ns(pb, target))
    spec = json.load(open(os.path.join(env.c.dir, "run", "containers", dbg, "config.json")))
    path = [n["path"] for n in spec["linux"]["namespaces"] if n["type"] == "pid"][0]
    assert path.startswith(f"/proc/{env.c.daemon_pid()}/fd/"), path
    env.start(dbg)
    ps = exec_out(env, dbg, "/bin/ps", "-o", "args")
    assert "sleep 603" in ps and "sleep 604" in ps
    # A target that is not running is refused too.
    env.stop(target, 5)
    with pytest.raises(grpc.RpcError) as e:
        env.create(a, ["/bin/ps"], name="late", linux=target_pid_ns(pb, target))
    assert e.value.code() == grpc.StatusCode.NOT_FOUND and "not running" in e.value.details()


def restart(env):
    env.ch.close()
    assert env.c.stop() == 0
    env.c.start()
    env.ch = env.c.channel()
    env.cli = Cri(env.ch, env.pb)


def kill_as_a_reboot_would(env, cid):
    """The container's process and the runtime's state (under /run) go."""
    subprocess.run(["runc", "delete", "--force", cid], capture_output=True, timeout=30)


def check_reboot_seen(env, pod, cid, ip):
    pb = env.pb
    assert status(env.cli, pod[0]).status.state == pb.SANDBOX_NOTREADY
    assert [p.id for p in env.cli.unary("ListPodSandbox", filter=pb.PodSandboxFilter(
        state=pb.PodSandboxStateValue(state=pb.SANDBOX_READY))).items] == []
    st = env.status(cid)
    assert st.state == pb.CONTAINER_EXITED and st.exit_code == 255
    assert st.reason == "Error" and "rebooted" in st.message
    assert "rebooted" in env.c.output() or "gone" in env.c.output()
    # The kubelet's clean-up still works, and releases the pod's address.
    env.cli.unary("StopPodSandbox", pod_sandbox_id=pod[0], timeout=60)
    env.cli.unary("RemoveContainer", container_id=cid, timeout=30)
    env.cli.unary("RemovePodSandbox", pod_sandbox_id=pod[0], timeout=60)
    assert list(env.cli.unary("ListContainers").containers) == []
    assert list(env.cli.unary("ListPodSandbox").items) == []
    ipam = os.path.join(env.c.dir, "ipam", f"crib-test-{env.c.net_n}")
    assert ip not in os.listdir(ipam)
    assert mounts_under(os.path.join(env.c.dir, "run")) == []


def test_pods_not_ready_after_the_run_root_is_cleared(ctr_env):
    env = ctr_env
    pod = env.pod("rebooted")
    ip = status(env.cli, pod[0]).status.network.ip
    cid = env.run(pod, ["/bin/sleep", "605"], name="app")
    env.ch.close()
    assert env.c.stop() == 0
    # As a reboot would: the processes, the mounts and the files under the run root are gone.
    kill_as_a_reboot_would(env, cid)
    run_root = os.path.join(env.c.dir, "run")
    for m in sorted(mounts_under(run_root), reverse=True):
        subprocess.run(["umount", "-l", m], check=True)
    subprocess.run(["rm", "-rf", run_root], check=True)
    env.c.start()
    env.ch = env.c.channel()
    env.cli = Cri(env.ch, env.pb)
    check_reboot_seen(env, pod, cid, ip)


@pytest.mark.parametrize("ctr_env", ["boot_id"], indirect=True)
def test_pods_not_ready_after_the_boot_id_changed(ctr_env):
    env = ctr_env
    pod = env.pod("rebooted")
    ip = status(env.cli, pod[0]).status.network.ip
    cid = env.run(pod, ["/bin/sleep", "606"], name="app")
    restart(env)  # the same boot: nothing changes
    assert status(env.cli, pod[0]).status.state == env.pb.SANDBOX_READY
    assert env.status(cid).state == env.pb.CONTAINER_RUNNING
    env.ch.close()
    assert env.c.stop() == 0
    kill_as_a_reboot_would(env, cid)
    with open(env.boot_file, "w") as f:
        f.write("22222222-2222-2222-2222-222222222222\n")
    env.c.start()
    env.ch = env.c.channel()
    env.cli = Cri(env.ch, env.pb)
    check_reboot_seen(env, pod, cid, ip)


ORPHANER = """#!/usr/bin/python3
import json, subprocess, sys
conf = json.load(sys.stdin)
# A grandchild left behind (as a plugin's double-forked helper is): it ends soon after the
# plugin, orphaned, so it reaches cribd, the child subreaper.
subprocess.Popen(["sleep", "0.3"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
print(json.dumps(conf.get("prevResult", {"cniVersion": conf["cniVersion"]})))
"""


def children_of(pid):
    """{pid: (comm, state)} of pid's children, from /proc."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
        if int(ppid) == pid:
            out[int(d)] = (comm, state)
    return out


def test_orphans_reaching_the_daemon_are_reaped(net_cribd, pb, tmp_path):
    plugdir = tmp_path / "plugins"
    plugdir.mkdir()
    (plugdir / "orphaner").write_text(ORPHANER)
    (plugdir / "orphaner").chmod(0o755)
    c = net_cribd(plugin_dirs=(str(plugdir), "/usr/lib/cni"), extra_plugins=[{"type": "orphaner"}])
    cli = Cri(c.channel(), pb)
    pids = [run(cli, pod_config(pb, f"orphans{i}")) for i in range(3)]
    # The orphans do reach cribd...
    deadline = time.monotonic() + 5
    daemon = c.daemon_pid()
    while not any(comm == "sleep" for comm, _ in children_of(daemon).values()):
        assert time.monotonic() < deadline, "no orphan reached cribd"
        time.sleep(0.01)
    # ...and once they have ended, none stays a zombie.
    deadline = time.monotonic() + 15
    while True:
        zombies = {p: v for p, v in children_of(daemon).items() if v[1] == "Z"}
        if not zombies or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert zombies == {}
    # The daemon's own children still report their exits: pods stop and go as usual.
    for pid in pids:
        cli.unary("RemovePodSandbox", pod_sandbox_id=pid, timeout=60)
    assert list(cli.unary("ListPodSandbox").items) == []
