#!/bin/sh
# The VM lane: the integration tests that touch cgroups, systemd and journald, run in a Debian 12
# guest with systemd as PID 1 and the unified cgroup v2 hierarchy (qemu; TCG unless
# CRIB_VM_ACCEL=kvm). Usage: tests/vm/run.sh [BUILD_DIR] (default build/gcc, holding cribd and
# cribd-keeper built on this Debian 12). The guest image is cached (tests/vm/build-image.sh);
# the binaries and tests go in on a second disk, and the results come back on the serial line.
set -eu
cd "$(dirname "$0")/../.."
TOP=$(pwd)
BIN=$(cd "${1:-build/gcc}" && pwd)
TIMEOUT=${CRIB_VM_TIMEOUT:-1200}
ACCEL=${CRIB_VM_ACCEL:-tcg}
for f in cribd cribd-keeper; do
    [ -x "$BIN/$f" ] || { echo "vm: no $BIN/$f: build first" >&2; exit 1; }
done
packaging/install-deps.sh --vm
start=$(date +%s)
img=$(tests/vm/build-image.sh)
echo "vm: guest image $img ($(($(date +%s) - start)) s)"

work=$(mktemp -d /var/tmp/crib-vm-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
p="$work/payload"
mkdir -p "$p/bin" "$p/src/tests" "$p/src/proto"
cp "$BIN/cribd" "$BIN/cribd-keeper" "$p/bin/"
cp -r tests/integration "$p/src/tests/"
cp -r packaging "$p/src/"
cp proto/runtime.proto "$p/src/proto/"
cp tests/vm/guest.sh tests/vm/tests-cgroupfs tests/vm/tests-systemd "$p/"
truncate -s 1G "$work/payload.ext4"
mkfs.ext4 -q -F -d "$p" "$work/payload.ext4"
qemu-img create -q -f qcow2 -b "$img/image.ext4" -F raw "$work/root.qcow2"

echo "vm: booting ($ACCEL, 2 vCPUs, 3 GiB; at most $TIMEOUT s)"
rc=0
timeout "$TIMEOUT" qemu-system-x86_64 -accel "$ACCEL" -machine q35 -cpu max -smp 2 -m 3G \
    -display none -monitor none -serial "file:$work/console.log" -no-reboot \
    -kernel "$img/vmlinuz" -initrd "$img/initrd.img" \
    -append "root=/dev/vda rw console=ttyS0 quiet systemd.unified_cgroup_hierarchy=1 panic=-1" \
    -drive "file=$work/root.qcow2,if=virtio,format=qcow2" \
    -drive "file=$work/payload.ext4,if=virtio,format=raw" \
    -nic user,model=virtio-net-pci || rc=$?
# The guest's output: from our unit's first line on.
sed -n '/^CRIB-VM-BEGIN/,$p' "$work/console.log" | tr -d '\r'
echo "vm: $(($(date +%s) - start)) s in all"
if [ "$rc" != 0 ]; then
    echo "vm: qemu ended with $rc (124: the guest did not come back within $TIMEOUT s)"
    tail -40 "$work/console.log" | tr -d '\r'
    exit 1
fi
result=$(sed -n 's/^CRIB-VM-RESULT \([0-9]*\).*/\1/p' "$work/console.log" | tail -1)
[ -n "$result" ] || { echo "vm: the guest gave no result"; tail -40 "$work/console.log"; exit 1; }
[ "$result" = 0 ] || { echo "vm: the tests failed in the guest ($result)"; exit 1; }
echo "vm: passed"
