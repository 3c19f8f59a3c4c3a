#!/bin/bash
# PID 1 inside a scripts/vmtest.sh guest, on the host's root shared read-only
# over 9p.  Makes the dirs tests write to writable, mounts the kernel
# filesystems, loads modules, runs tests/run.sh and writes its log and exit
# status to the "result" 9p share, then powers off.  Reads its settings from
# the share's params.env (written by vmtest.sh): VM_ROOT, VM_MODDIR, VM_PATH,
# VM_OVERLAY, ONLY, TIMEOUT, SHUNT_SCALE, FUZZ_SECONDS.
set -uo pipefail

RES=/run/vmtest-result
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "vmtest-init: $*" > /dev/console 2>/dev/null || echo "vmtest-init: $*"; }

off() {
	sync
	# systemctl's poweroff needs systemd: use busybox's, then sysrq.
	busybox poweroff -f 2>/dev/null
	echo o > /proc/sysrq-trigger 2>/dev/null
	sleep 5
	exit 1 # PID 1 exiting panics the kernel; panic=-1 and -no-reboot end QEMU
}

# writable DIR: overlay a tmpfs upper over DIR's (9p) contents (works over
# 9p on Debian's 6.1 and 6.12); if overlayfs refuses, a plain tmpfs holding a
# copy of DIR (without /var/cache: kernels and builds live there).
writable() {
	local d=$1 n c
	[ -d "$d" ] || return 0
	n=$(echo "$d" | tr / _)
	mkdir -p "/run/vmtest-ovl/$n/u" "/run/vmtest-ovl/$n/w"
	if [ "${VM_OVERLAY:-1}" = 1 ] && mount -t overlay overlay -o "lowerdir=$d,upperdir=/run/vmtest-ovl/$n/u,workdir=/run/vmtest-ovl/$n/w" "$d"; then
		echo "writable $d: overlay"
		return 0
	fi
	c=/run/vmtest-ovl/$n/copy
	mkdir -p "$c"
	if [ "$d" = /var ]; then
		# /var/cache (read-only) stays visible: the kernels' modules are there
		tar -C "$d" --exclude=./cache -cf - . 2>/dev/null | tar -C "$c" -xf -
		mkdir -p "$c/cache" /run/vmtest-ovl/varcache
		mount --bind /var/cache /run/vmtest-ovl/varcache
	else
		cp -a "$d/." "$c/"
	fi
	if mount -t tmpfs -o mode=0755 tmpfs "$d" && cp -a "$c/." "$d/"; then
		[ "$d" = /var ] && mount --move /run/vmtest-ovl/varcache /var/cache
		echo "writable $d: tmpfs copy (no overlay)"
	else
		echo "writable $d: FAILED"
	fi
	rm -rf "$c"
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p "$RES"
if ! mount -t 9p -o trans=virtio,version=9p2000.L,cache=none result "$RES"; then
	say "cannot mount the result share"
	off
fi
# shellcheck disable=SC1091
source "$RES/params.env"
export PATH=$VM_PATH HOME=/root TERM=dumb LANG=C.UTF-8
exec > "$RES/init.log" 2>&1
echo "kernel $(uname -r)"

# A tree under /tmp (a clean clone in /tmp/x) would vanish under the
# guest's tmpfs: hold it on a bind mount and put it back at its path.
case $VM_ROOT/ in
/tmp/*) mkdir -p /run/vmtest-tree && mount --bind "$VM_ROOT" /run/vmtest-tree ;;
esac
mount -t tmpfs -o mode=1777 tmpfs /tmp
if mountpoint -q /run/vmtest-tree 2>/dev/null; then
	mkdir -p "$VM_ROOT" && mount --bind /run/vmtest-tree "$VM_ROOT" && umount /run/vmtest-tree
	echo "tree $VM_ROOT: kept over the guest's /tmp"
fi
if [ -n "${VM_MODDIR:-}" ]; then
	for m in overlay veth sch_netem sch_tbf vsock_loopback; do
		if modprobe -d "$VM_MODDIR" "$m"; then echo "module $m: loaded"; else echo "module $m: FAILED to load"; fi
	done
else
	echo "modules: built-in kernel, none loaded"
fi
for d in /var "$VM_ROOT/.output"; do writable "$d"; done
mkdir -p /var/tmp /var/lib /var/log
[ -L /var/run ] || { rm -rf /var/run 2>/dev/null; ln -sfn /run /var/run; }
mkdir -p /run/lock
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
hostname vmtest
ip link set lo up
ulimit -l unlimited
ulimit -n 65536

cp /proc/mounts "$RES/mounts"
echo "python3: $(command -v python3)"

cd "$VM_ROOT" || off
# SHUNT_VMTEST: tests that start guests themselves (t_vm_smoke) skip inside one.
export ONLY TIMEOUT SHUNT_SCALE FUZZ_SECONDS SHUNT_VMTEST=1
bash tests/run.sh > "$RES/log" 2>&1 < /dev/null
rc=$?
echo "$rc" > "$RES/status.tmp" && mv "$RES/status.tmp" "$RES/status"
echo "runner exit $rc"
off
