#!/bin/bash
# make install puts exactly the files README's Install section lists, the
# installed binary works (load, endpoint add, status, unload against this
# test's pin dir), make uninstall removes them; the Debian package installs
# with apt and purges cleanly (issue 12).
source "$(dirname "$0")/lib.sh"
[ -z "${SHUNT_VMTEST:-}" ] || skip "not in make vmtest guests (their root is the host's, read-only)"
D=$TMPD/root
cd "$ROOT"
make --no-print-directory -s install DESTDIR="$D" > "$TMPD/install.log" 2>&1 || { cat "$TMPD/install.log" >&2; fail "make install"; }

# README: the block after "make install puts" lists one path per line.
want=$(awk '/^<!-- install-files -->/ { f = 1; next } f && /^```$/ { n++; if (n == 2) exit; next } f && n == 1' README.md | sort)
[ -n "$want" ] || fail "README's Install section has no file list"
got=$(cd "$D" && find . -type f | sed 's|^\.||' | sort)
diff <(echo "$want") <(echo "$got") >&2 || fail "make install's files differ from README's list (< README, > installed)"

# The installed binary, against this test's instance.
B=$D/usr/local/sbin/shunt
"$B" --version | grep -q '^shunt ' || fail "installed --version"
NS=$(mk_ns a)
"$B" --pin-dir "$PIN" load >/dev/null
"$B" --pin-dir "$PIN" endpoint add web 10.70.0.2 --netns "$NS"
"$B" --pin-dir "$PIN" status --json | jq -e '.endpoints == 1 and .bpf_object == .this_binary_bpf_object' >/dev/null ||
	fail "installed binary: status"
"$B" --pin-dir "$PIN" unload >/dev/null
[ ! -e "$PIN" ] || fail "installed binary did not unload"
man -l "$D/usr/local/share/man/man8/shunt.8" > /dev/null 2>&1 || [ ! -x /usr/bin/man ] || fail "installed man page"
bash -n "$D/usr/local/share/bash-completion/completions/shunt" || fail "completion script has a syntax error"
for f in "$D"/usr/local/share/shunt/hooks.d/*.json; do jq -e '.version == "1.0.0" and (.hook.path | test("/sbin/shunt$"))' "$f" >/dev/null || fail "$f"; done

# An operator's own configuration survives install and uninstall.
echo '{"endpoints": [{"name": "mine", "addresses": ["10.70.0.9"]}]}' > "$D/etc/shunt/endpoints.json"
make --no-print-directory -s install DESTDIR="$D" > /dev/null
grep -q mine "$D/etc/shunt/endpoints.json" || fail "install overwrote an operator's endpoints.json"
make --no-print-directory -s uninstall DESTDIR="$D" > /dev/null
left=$(cd "$D" && find . -type f | sed 's|^\.||')
[ "$left" = /etc/shunt/endpoints.json ] || fail "uninstall left: $left"

# The package: apt installs it, the files are where dpkg says, purge removes them.
dpkg -s shunt >/dev/null 2>&1 && skip "a shunt package is already installed on this machine"
make --no-print-directory -s deb > "$TMPD/deb.log" 2>&1 || { cat "$TMPD/deb.log" >&2; fail "make deb"; }
DEB=$(ls "$OUT"/shunt_*.deb)
test_cleanup() { dpkg -s shunt >/dev/null 2>&1 && apt-get -o DPkg::Lock::Timeout=600 purge -y -qq shunt >/dev/null 2>&1; true; }
apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$DEB" > "$TMPD/apt.log" 2>&1 || { cat "$TMPD/apt.log" >&2; fail "apt install"; }
/usr/sbin/shunt --version | grep -q '^shunt ' || fail "packaged shunt --version"
[ -x /usr/lib/cni/shunt-cni ] && [ -f /lib/systemd/system/shunt.service ] && [ -f /etc/shunt/cgroups ] || fail "package files missing"
grep -q '^ExecStart=/usr/sbin/shunt restore' /lib/systemd/system/shunt.service || fail "packaged unit names the wrong binary"
files=$(dpkg -L shunt | while read -r f; do [ -f "$f" ] && echo "$f"; done)
apt-get -o DPkg::Lock::Timeout=600 purge -y -qq shunt > "$TMPD/apt.log" 2>&1 || { cat "$TMPD/apt.log" >&2; fail "apt purge"; }
for f in $files; do [ ! -e "$f" ] || fail "purge left $f"; done
echo "install, uninstall and the package ok"
