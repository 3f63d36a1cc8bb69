#!/bin/sh
# Build (or find in the cache) the Debian 12 guest of the VM lane: a bookworm root file system
# with systemd as PID 1, the cloud kernel and its initramfs, and what cribd and its tests need
# (tests/vm/packages), as an ext4 image. Prints the cache directory holding image.ext4, vmlinuz
# and initrd.img. The cache is keyed by this script and the package list.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${CRIB_VM_CACHE:-/var/cache/crib-vm}
MIRROR=${CRIB_VM_MIRROR:-http://deb.debian.org/debian}
key=$(cat "$HERE/build-image.sh" "$HERE/packages" | sha256sum | cut -c1-16)
out="$CACHE/$key"
if [ -f "$out/image.ext4" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
    echo "$out"
    exit 0
fi
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/build.XXXXXX")
trap 'umount -R "$work/root" 2>/dev/null || true; rm -rf "$work"' EXIT
root="$work/root"
pkgs=$(tr -s ' \n' ',' < "$HERE/packages" | sed 's/^,//; s/,$//')
echo "vm: debootstrap bookworm ($MIRROR)" >&2
debootstrap --variant=minbase --include="$pkgs" bookworm "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -30 "$work/debootstrap.log" >&2; exit 1; }

# The guest: root on the first disk, the run's payload (binaries, tests, results) on the second.
cat >"$root/etc/fstab" <<'FSTAB'
/dev/vda / ext4 rw,relatime 0 1
/dev/vdb /payload ext4 rw,relatime,nofail 0 2
FSTAB
mkdir -p "$root/payload"
echo crib-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 crib-vm\n' >"$root/etc/hosts"
# No login prompt on the console: the serial line carries the lane's output.
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@ttyS0.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@tty1.service"
# The lane's unit: runs the payload's guest.sh once the system is up, then powers off.
cat >"$root/etc/systemd/system/crib-vm.service" <<'UNIT'
[Unit]
Description=crib VM lane
After=multi-user.target
RequiresMountsFor=/payload

[Service]
Type=oneshot
ExecStart=/bin/sh -c 'sh /payload/guest.sh >/dev/ttyS0 2>&1; echo "CRIB-VM-RESULT $?" >/dev/ttyS0'
ExecStartPost=/bin/systemctl poweroff --no-block
StandardOutput=tty
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/crib-vm.service "$root/etc/systemd/system/multi-user.target.wants/crib-vm.service"

cp -L "$root/vmlinuz" "$work/vmlinuz"
cp -L "$root/initrd.img" "$work/initrd.img"
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*
echo "vm: mkfs.ext4 of $(du -sm "$root" | cut -f1) MB" >&2
truncate -s 3G "$work/image.ext4"
mkfs.ext4 -q -F -L crib-vm -d "$root" "$work/image.ext4"
mkdir -p "$out"
mv "$work/image.ext4" "$work/vmlinuz" "$work/initrd.img" "$out/"
echo "$out"
