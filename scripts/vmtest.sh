#!/bin/bash
# make vmtest: boot a chosen kernel in QEMU (TCG: never KVM here) with the
# host's root read-only over virtio-9p, run tests/run.sh inside the guest and
# bring its log and exit status back over a second, writable 9p share.
# Prints the runner's output, the kernel and scale; exits with the runner's
# status (2 if the guest never wrote one: crash, hang, timeout; 1 on bad
# settings or a failed kernel fetch/build).
#   KERNEL=debian-6.1|debian-6.12|src-6.12|host   (default debian-6.12)
#   KVER=6.1.0-57-amd64   pin a Debian kernel (default: newest in apt)
#   ONLY=regex            tests to run (default $CORE_ONLY below)
#   TIMEOUT=s             per-test timeout (default 1200)
#   SHUNT_SCALE=n         divide test sizes by n (default 16; 1 for host)
#   FUZZ_SECONDS=s        passed through if set
#   VMTEST_TIMEOUT=s      whole QEMU run (default 2400)
#   VMTEST_CACHE=dir      kernels and builds (default /var/cache/shunt-vmtest)
#   VMTEST_MEM=MiB, VMTEST_SMP=n   guest size (default 2048, 2)
#   VMTEST_OVERLAY=0      tmpfs copies instead of overlayfs for /var, .output
#   VMTEST_APPEND=...     extra kernel command line (e.g. init=/bin/false
#                         to check that a crashed guest fails the run)
# Measured on the 2-core dev VM (QEMU TCG, boot + the core subset, scale 16):
#   debian-6.12 4m36s, debian-6.1 6m14s, src-6.12 3m56s (its build: 5-10 min,
#   once per src.config/source version), host 1m11s (scale 1); boot alone
#   ~5-10 s, first fetch of a Debian kernel ~10 s.  One test ~30 s in a guest.
#   Guest userspace is ~19x slower than the host: keep ONLY small.
set -euo pipefail

# The core subset guests run by default: edit here.
CORE_ONLY='^integ/t_(features|redirect|ordering|isolation|unmatched|halfclose|cli_errors|flowcontrol|faults|redis|sem_fionread|vsock_probe|bpftool)$'

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VMDIR=$ROOT/scripts/vmtest
KERNEL=${KERNEL:-debian-6.12}
CACHE=${VMTEST_CACHE:-/var/cache/shunt-vmtest}
VMTEST_TIMEOUT=${VMTEST_TIMEOUT:-2400}
MEM=${VMTEST_MEM:-2048}
SMP=${VMTEST_SMP:-2}
ROOTFLAGS=trans=virtio,version=9p2000.L,cache=loose,msize=262144
TMP=

die() { echo "vmtest: $*" >&2; exit 1; }
say() { echo "vmtest: $*"; }
# noresult MSG: the guest never wrote a status (crash, hang, timeout): exit 2.
noresult() { echo "vmtest: $*" >&2; exit 2; }

cleanup() {
	[ -n "${QPID:-}" ] && kill "$QPID" 2>/dev/null && wait "$QPID" 2>/dev/null
	[ -n "${TAILPID:-}" ] && kill "$TAILPID" 2>/dev/null
	[ -n "$TMP" ] && rm -rf "$TMP"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# newest_pkg REGEX: the newest package name matching REGEX, by version sort.
newest_pkg() {
	apt-cache search --names-only "$1" | awk '{ print $1 }' | sort -V | tail -1
}

# prep_debian SERIES: fetch, unpack and depmod Debian's generic kernel of
# SERIES (6.1 or 6.12) into $CACHE/KVER; build its initramfs.  Sets KIMAGE,
# INITRD, MODDIR.
prep_debian() {
	local series=$1 pkg dir dl
	if [ -z "${KVER:-}" ]; then
		case $series in
		6.1) pkg=$(newest_pkg '^linux-image-6\.1\.0-[0-9]+-amd64$') ;;
		6.12) pkg=$(newest_pkg '^linux-image-6\.12\.[0-9]+\+deb12-amd64$') ;;
		esac
		[ -n "$pkg" ] || die "no linux-image-$series generic package in apt (run apt-get update)"
		KVER=${pkg#linux-image-}
	fi
	case $KVER in
	"$series".*-amd64) ;;
	*) die "KVER=$KVER is not a generic $series amd64 kernel (e.g. $([ "$series" = 6.1 ] && echo 6.1.0-57-amd64 || echo 6.12.117+deb12-amd64))" ;;
	esac
	pkg=linux-image-$KVER
	dir=$CACHE/$KVER
	if [ ! -e "$dir/.done" ]; then
		command -v qemu-system-x86_64 > /dev/null || die "qemu-system-x86_64 missing: bash scripts/deps.sh vmtest"
		say "fetching $pkg into $dir"
		rm -rf "$dir"
		mkdir -p "$dir/dl"
		dl=$dir/dl
		chown _apt "$dl" 2>/dev/null || true
		(cd "$dl" && apt-get download -q "$pkg" > /dev/null) || die "apt-get download $pkg failed"
		dpkg -x "$dl"/*.deb "$dir/root"
		rm -rf "$dl"
		depmod -b "$dir/root" "$KVER"
		mk_initramfs "$dir"
		touch "$dir/.done"
	fi
	# an edited initramfs-init rebuilds the initramfs
	[ "$VMDIR/initramfs-init" -nt "$dir/initrd.img" ] && mk_initramfs "$dir"
	KIMAGE=$dir/root/boot/vmlinuz-$KVER
	INITRD=$dir/initrd.img
	MODDIR=$dir/root
	[ -r "$KIMAGE" ] || die "no kernel image at $KIMAGE (remove $dir to refetch)"
}

# mk_initramfs DIR: busybox + the modules for a 9p root (and their
# dependencies, in load order), decompressed for busybox's insmod.
mk_initramfs() {
	local dir=$1 ir=$1/initramfs f n
	rm -rf "$ir"
	mkdir -p "$ir/bin" "$ir/lib/mod" "$ir/proc" "$ir/dev" "$ir/sys" "$ir/newroot"
	cp /bin/busybox "$ir/bin/busybox"
	cp "$VMDIR/initramfs-init" "$ir/init"
	chmod +x "$ir/init"
	: > "$ir/modules"
	for f in $(modprobe -d "$dir/root" -S "$KVER" -a --show-depends virtio_pci 9pnet_virtio 9p overlay |
		awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++'); do
		n=$(basename "$f")
		case $n in
		*.xz) xz -dc "$f" > "$ir/lib/mod/${n%.xz}"; n=${n%.xz} ;;
		*.zst) zstd -qdc "$f" > "$ir/lib/mod/${n%.zst}"; n=${n%.zst} ;;
		*) cp "$f" "$ir/lib/mod/$n" ;;
		esac
		echo "$n" >> "$ir/modules"
	done
	[ -s "$ir/modules" ] || die "no 9p/virtio modules found for $KVER"
	(cd "$ir" && find . | cpio -o -H newc --quiet | gzip -1) > "$dir/initrd.img"
	rm -rf "$ir"
}

# prep_src: build Debian's linux-source-6.12 with tinyconfig + src.config;
# the bzImage is cached by a hash of the fragment and the source version.
prep_src() {
	local tar=/usr/src/linux-source-6.12.tar.xz ver key dir b missing
	[ -r "$tar" ] || die "no $tar: bash scripts/deps.sh vmtest"
	ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	key=$( (echo "$ver"; cat "$VMDIR/src.config") | sha256sum | cut -c1-12)
	dir=$CACHE/src-6.12-$key
	KIMAGE=$dir/bzImage
	INITRD=
	MODDIR=
	KVER="6.12 from linux-source-6.12 $ver, config $key"
	[ -e "$KIMAGE" ] && return 0
	b=$CACHE/build-src-6.12
	say "building linux-source-6.12 $ver (config $key) in $b: ~5 min"
	if [ ! -e "$b/.unpacked-$ver" ]; then
		rm -rf "$b"
		mkdir -p "$b"
		tar -xJf "$tar" -C "$b" --strip-components=1
		touch "$b/.unpacked-$ver"
	fi
	(
		cd "$b"
		make -s tinyconfig > /dev/null
		scripts/kconfig/merge_config.sh -m .config "$VMDIR/src.config" > /dev/null
		make -s olddefconfig > /dev/null
		missing=$(grep '^CONFIG_.*=y' "$VMDIR/src.config" | while read -r l; do
			grep -qx "$l" .config || echo "${l%=y}"; done)
		[ -z "$missing" ] || echo "vmtest: not set after olddefconfig (dependencies?):" $missing >&2
		make -s -j"$(nproc)" bzImage > "$b/build.log" 2>&1 || { tail -20 "$b/build.log" >&2; exit 1; }
	) || die "kernel build failed (log: $b/build.log)"
	mkdir -p "$dir"
	cp "$b/arch/x86/boot/bzImage" "$KIMAGE.tmp"
	cp "$b/.config" "$dir/config"
	mv "$KIMAGE.tmp" "$KIMAGE"
}

# guest_path: the host's PATH for tests, with python3's real location first
# (a pyenv shim would run pyenv on every call in the slow guest).
guest_path() {
	local p=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin py real
	py=$(command -v python3 || true)
	if [ -n "$py" ]; then
		real=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)
		p=$(dirname "$py"):$p
		[ -n "$real" ] && p=$(dirname "$real"):$p
	fi
	echo "$p"
}

run_host() {
	local rc
	say "kernel host $(uname -r), SHUNT_SCALE=$SHUNT_SCALE, ONLY=$ONLY"
	SECONDS=0
	set +e
	(cd "$ROOT" && ONLY=$ONLY TIMEOUT=$TIMEOUT SHUNT_SCALE=$SHUNT_SCALE bash tests/run.sh)
	rc=$?
	set -e
	say "kernel host $(uname -r), SHUNT_SCALE=$SHUNT_SCALE: runner exit $rc (${SECONDS}s)"
	exit $rc
}

run_guest() {
	local res rc append qemu_rc
	TMP=$(mktemp -d /tmp/shunt-vmtest.XXXXXX)
	res=$TMP/result
	mkdir -p "$res"
	{
		printf 'VM_ROOT=%q\n' "$ROOT"
		printf 'VM_MODDIR=%q\n' "${MODDIR:-}"
		printf 'VM_PATH=%q\n' "$(guest_path)"
		printf 'VM_OVERLAY=%q\n' "${VMTEST_OVERLAY:-1}"
		printf 'ONLY=%q\nTIMEOUT=%q\nSHUNT_SCALE=%q\n' "$ONLY" "$TIMEOUT" "$SHUNT_SCALE"
		printf 'FUZZ_SECONDS=%q\n' "${FUZZ_SECONDS:-15}"
	} > "$res/params.env"
	append="console=ttyS0 root=root rootfstype=9p rootflags=$ROOTFLAGS ro init=$VMDIR/init.sh"
	append+=" panic=-1 oops=panic quiet ${VMTEST_APPEND:-}"
	say "kernel $KERNEL ($KVER), SHUNT_SCALE=$SHUNT_SCALE, ONLY=$ONLY, TIMEOUT=$TIMEOUT, VMTEST_TIMEOUT=$VMTEST_TIMEOUT"
	: > "$res/log"
	SECONDS=0
	timeout --kill-after=10 "$VMTEST_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp "$SMP" -m "$MEM" \
		-nodefaults -no-reboot -display none -monitor none -serial "file:$TMP/console.log" \
		-kernel "$KIMAGE" ${INITRD:+-initrd "$INITRD"} -append "$append" \
		-fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
		-device virtio-9p-pci,fsdev=root,mount_tag=root \
		-fsdev "local,id=result,path=$res,security_model=none" \
		-device virtio-9p-pci,fsdev=result,mount_tag=result &
	QPID=$!
	# The runner's log, live from the result share; tail ends after QEMU.
	tail -n +1 -F --pid="$QPID" "$res/log" 2>/dev/null &
	TAILPID=$!
	set +e
	wait "$QPID"
	qemu_rc=$?
	set -e
	QPID=
	wait "$TAILPID" 2>/dev/null || true
	TAILPID=
	# Keep the guest's logs for a look afterwards (small: logs only).
	LAST=$CACHE/last-$KERNEL
	rm -rf "$LAST" && mkdir -p "$LAST" && cp -r "$res/." "$TMP/console.log" "$LAST/" 2>/dev/null || true
	if [ ! -s "$res/status" ]; then
		echo "---- guest console (last 40 lines) ----" >&2
		tail -40 "$TMP/console.log" >&2
		[ -e "$res/init.log" ] && { echo "---- guest init log (last 20 lines) ----" >&2; tail -20 "$res/init.log" >&2; }
		[ $qemu_rc -eq 124 ] && noresult "kernel $KERNEL ($KVER): no result: QEMU timed out after ${VMTEST_TIMEOUT}s (logs in $LAST)"
		noresult "kernel $KERNEL ($KVER): no result: the guest stopped without writing one (QEMU exit $qemu_rc, ${SECONDS}s; logs in $LAST)"
	fi
	rc=$(cat "$res/status")
	grep '^module ' "$res/init.log" | grep -v ': loaded$' >&2 || true
	grep '^writable ' "$res/init.log" | grep -v ': overlay$' >&2 || true
	say "kernel $KERNEL ($(sed -n 's/^kernel //p' "$res/init.log")), SHUNT_SCALE=$SHUNT_SCALE: runner exit $rc (boot+run ${SECONDS}s; guest logs in $LAST)"
	[[ $rc =~ ^[0-9]+$ ]] || die "bad status '$rc' from the guest"
	exit "$rc"
}

main() {
	ONLY=${ONLY:-$CORE_ONLY}
	TIMEOUT=${TIMEOUT:-1200}
	case $KERNEL in
	host)
		SHUNT_SCALE=${SHUNT_SCALE:-1}
		run_host
		;;
	debian-6.1 | debian-6.12 | src-6.12) SHUNT_SCALE=${SHUNT_SCALE:-16} ;;
	*) die "unknown KERNEL=$KERNEL (debian-6.1, debian-6.12, src-6.12 or host)" ;;
	esac
	[ "$(id -u)" -eq 0 ] || die "must run as root (the guest runs the tests as root on the host's files)"
	[ -x "$ROOT/.output/shunt" ] || die "no $ROOT/.output/shunt: make all first"
	command -v qemu-system-x86_64 > /dev/null || die "qemu-system-x86_64 missing: bash scripts/deps.sh vmtest"
	mkdir -p "$CACHE"
	case $KERNEL in
	debian-6.1) prep_debian 6.1 ;;
	debian-6.12) prep_debian 6.12 ;;
	src-6.12) prep_src ;;
	esac
	run_guest
}

main "$@"
