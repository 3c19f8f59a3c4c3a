#!/bin/bash
# Install what shunt needs to build, test and demo, from Debian's archive.
# Idempotent: installs only the packages that are missing.
set -euo pipefail

PKGS=(
	clang llvm libclang-rt-14-dev libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make gcc
	libcmocka-dev libjson-c-dev libmnl-dev libmicrohttpd-dev prometheus iproute2 procps jq python3 util-linux
	redis-server redis-tools
	runc podman containernetworking-plugins conmon netavark aardvark-dns iptables
	nginx curl wrk iperf3 memcached libmemcached-tools postgresql
	qemu-system-x86 busybox-static cpio kmod xz-utils
)

# `deps.sh bench`: also what make bench needs for its chart.
[ "${1:-}" = bench ] && PKGS+=(gnuplot-nox)
# `deps.sh vmtest`: what KERNEL=src-6.12 needs to build Debian's 6.12 source
# (QEMU and the initramfs tools are in the base list: make test's t_vm_smoke
# boots Debian's 6.1).
[ "${1:-}" = vmtest ] && PKGS+=(linux-source-6.12 build-essential bc bison flex libelf-dev
	libssl-dev dwarves)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages (${missing[*]}); run as root or install them" >&2
	exit 1
fi

echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The servers (redis, nginx, memcached, postgresql) are only run by the tests,
# each in its own namespace: keep their packages from starting system
# instances (policy-rc.d 101 = "action forbidden"), unless one is in place.
policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	policy=1
fi
trap '[ -n "$policy" ] && rm -f /usr/sbin/policy-rc.d' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
