#!/bin/bash
# Debian 12's own kernel, every run: boot the newest linux-image-6.1.0-NN-amd64
# in QEMU (make vmtest's harness) and run t_redirect there, scaled down:
# shunt loads with the fexit read counter and redirects IPv4, IPv6 and
# v4-mapped streams, every byte checked.  `make vmtest` runs the rest.
source "$(dirname "$0")/lib.sh"
[ -z "${SHUNT_VMTEST:-}" ] || skip "already inside a make vmtest guest"
command -v qemu-system-x86_64 >/dev/null || skip "no qemu-system-x86_64 (bash scripts/deps.sh installs it)"
out=$(KERNEL=debian-6.1 ONLY='^integ/t_(redirect|features)$' SHUNT_SCALE=16 VMTEST_TIMEOUT=900 \
	bash "$ROOT/scripts/vmtest.sh" 2>&1) && rc=0 || rc=$?
echo "$out" >&2
# Offline, with no cached image: nothing to boot (a fetch, not shunt, failed).
if echo "$out" | grep -qE '^vmtest: (apt-get download .* failed|no linux-image-6.1 generic package)'; then
	skip "cannot fetch Debian's 6.1 kernel image: $(echo "$out" | grep -m1 '^vmtest: ')"
fi
[ "$rc" -eq 0 ] || fail "debian-6.1 guest: runner exit $rc"
echo "$out" | grep -q '^integ/t_redirect  *ok' || fail "t_redirect did not pass in the guest"
echo "$out" | grep -q 'read counter fexit' || fail "the guest did not load the fexit read counter"
echo "$out" | grep -q '^2 passed, 0 failed, 0 skipped$' || fail "unexpected guest summary"
echo "report: $(echo "$out" | grep '^vmtest: kernel .*runner exit')"
