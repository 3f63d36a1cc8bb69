#!/bin/sh
# Install crib's Debian 12 dependencies: what building and running cribd needs, and with --test
# also what the test suite needs (the VM lane's too), with --demo what packaging/demo.py needs,
# with --bench what `make bench` needs,
# with --vm what the VM lane alone needs. Run as root.
set -eu
BUILD="build-essential autoconf automake libtool pkg-config curl
    libuv1-dev libprotobuf-c-dev protobuf-c-compiler libnghttp2-dev node-llhttp libcjson-dev
    libssl-dev zlib1g-dev libcurl4-openssl-dev libarchive-dev libzstd-dev libseccomp-dev libcap-dev
    libwslay-dev runc
    containernetworking-plugins iptables"
TEST="libcmocka-dev clang libclang-rt-14-dev clang-format protobuf-compiler
    docker-registry busybox-static apache2-utils openssl zstd iproute2 iputils-ping util-linux systemd conmon
    python3-cryptography prometheus
    python3 python3-pytest python3-grpcio python3-protobuf python3-h2 python3-websocket nodejs"
# What packaging/demo.py needs: a CRI client and busybox-static to build its image from.
DEMO="busybox-static protobuf-compiler python3 python3-grpcio python3-protobuf"
# What `make bench` (bench/bench.py) needs: containerd to run beside cribd, a CRI client's
# python packages, busybox-static for the image.
BENCH="containerd busybox-static protobuf-compiler python3 python3-grpcio python3-protobuf"
# What the VM lane (tests/vm/run.sh) needs on the host to build and boot its guest.
VM="debootstrap qemu-system-x86 qemu-utils e2fsprogs"
PKGS="$BUILD"
if [ "${1:-}" = "--test" ]; then
    PKGS="$BUILD $TEST $VM"
elif [ "${1:-}" = "--demo" ]; then
    PKGS="$BUILD $DEMO"
elif [ "${1:-}" = "--bench" ]; then
    PKGS="$BUILD $BENCH"
elif [ "${1:-}" = "--vm" ]; then
    PKGS="$VM"
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi
