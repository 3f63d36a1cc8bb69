#!/usr/bin/python3
"""The README's demo, offline: build an image from busybox-static, load it into a running cribd,
run a pod (host network, so no CNI configuration is needed) with one container, print its CRI
log lines, and remove everything again.

Usage: packaging/demo.py [SOCKET] (default /run/crib/crib.sock); cribd must be running."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.parse

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOCK = sys.argv[1] if len(sys.argv) > 1 else "/run/crib/crib.sock"
IMAGE = "localhost/demo/busybox:latest"


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def busybox_tar():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for d in ("bin", "etc", "tmp", "proc", "sys", "dev"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
            t.addfile(ti)
        with open("/bin/busybox", "rb") as f:
            bb = f.read()
        ti = tarfile.TarInfo("bin/busybox")
        ti.size, ti.mode = len(bb), 0o755
        t.addfile(ti, io.BytesIO(bb))
        for applet in ("sh", "echo", "uname", "hostname", "id", "sleep", "cat"):
            ti = tarfile.TarInfo(f"bin/{applet}")
            ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
            t.addfile(ti)
        passwd = b"root:x:0:0:root:/root:/bin/sh\n"
        ti = tarfile.TarInfo("etc/passwd")
        ti.size = len(passwd)
        t.addfile(ti, io.BytesIO(passwd))
    return buf.getvalue()


def oci_layout(d):
    tar = busybox_tar()
    gz = gzip.compress(tar, mtime=0)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [sha(tar)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": sha(gz), "size": len(gz)}]}).encode()
    os.makedirs(f"{d}/blobs/sha256")
    for blob in (gz, config, manifest):
        with open(f"{d}/blobs/sha256/{sha(blob)[7:]}", "wb") as f:
            f.write(blob)
    with open(f"{d}/oci-layout", "w") as f:
        f.write('{"imageLayoutVersion": "1.0.0"}')
    with open(f"{d}/index.json", "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(manifest),
            "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": IMAGE}}]},
            f)


def main():
    work = tempfile.mkdtemp(prefix="crib-demo-")
    subprocess.run(["protoc", f"-I{TOP}/proto", f"--python_out={work}",
                    f"{TOP}/proto/runtime.proto"], check=True)
    sys.path.insert(0, work)
    import grpc
    import runtime_pb2 as pb

    oci_layout(f"{work}/layout")
    subprocess.run(["curl", "-sf", "--unix-socket", SOCK, "-X", "POST",
                    "http://localhost/images/load?path=" +
                    urllib.parse.quote(f"{work}/layout")], check=True, stdout=subprocess.DEVNULL)
    print(f"loaded {IMAGE} (busybox-static, built offline)")
    ch = grpc.insecure_channel(f"unix://{SOCK}")

    def call(method, req, resp):
        return ch.unary_unary(f"/runtime.v1.RuntimeService/{method}",
                              request_serializer=req.SerializeToString,
                              response_deserializer=getattr(pb, resp).FromString)(req, timeout=60)

    host = pb.NamespaceOption(network=pb.NODE)
    pcfg = pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name="demo", namespace="default", uid="demo-uid"),
        log_directory=f"{work}/logs",
        linux=pb.LinuxPodSandboxConfig(
            security_context=pb.LinuxSandboxSecurityContext(namespace_options=host)))
    pod = call("RunPodSandbox", pb.RunPodSandboxRequest(config=pcfg),
               "RunPodSandboxResponse").pod_sandbox_id
    print(f"pod {pod[:12]} ready")
    ccfg = pb.ContainerConfig(
        metadata=pb.ContainerMetadata(name="hello"), image=pb.ImageSpec(image=IMAGE),
        command=["/bin/sh", "-c", "echo hello from crib; uname -sr; id; echo to stderr >&2"],
        log_path="hello.log")
    cid = call("CreateContainer", pb.CreateContainerRequest(pod_sandbox_id=pod, config=ccfg,
                                                            sandbox_config=pcfg),
               "CreateContainerResponse").container_id
    call("StartContainer", pb.StartContainerRequest(container_id=cid), "StartContainerResponse")
    for _ in range(200):
        st = call("ContainerStatus", pb.ContainerStatusRequest(container_id=cid),
                  "ContainerStatusResponse").status
        if st.state == pb.CONTAINER_EXITED:
            break
        time.sleep(0.05)
    print(f"container {cid[:12]} exited with {st.exit_code} ({st.reason}); its log:")
    with open(f"{work}/logs/hello.log") as f:
        sys.stdout.write(f.read())
    call("RemovePodSandbox", pb.RemovePodSandboxRequest(pod_sandbox_id=pod),
         "RemovePodSandboxResponse")
    return 0 if st.exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
