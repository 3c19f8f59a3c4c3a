#!/bin/bash
# A capability probe, not a shunt test: what can this kernel's sockmap do with
# AF_VSOCK stream sockets (vsock_loopback, CID 1; the QEMU guests of
# scripts/vmtest.sh load it)?  One `report:` line per question (tests/run.sh
# shows them under the result):
#   vsock sockmap insert / vsock sockhash insert: a connected vsock socket into
#     a map from user space (bpf_map_update_elem with the fd): yes | no (ERRNO)
#   sk_skb redirect tcp->vsock egress, vsock->tcp egress: bytes arriving on
#     one socket, redirected by a BPF_SK_SKB_VERDICT program with
#     bpf_sk_redirect_map(skb, map, idx, 0), come out at the target's peer
#   sk_skb redirect tcp->vsock ingress, vsock->tcp ingress: the same with
#     BPF_F_INGRESS, into the target's own receive queue
# A "yes" needs every byte of the pattern, in order (sha256 against the
# pattern); "no" says why (insert refused, or the helper's SK_DROP).  Exit 1
# when a path lost or corrupted data (e.g. SK_PASS, then nothing arrived) or
# the probe broke; 77 without a vsock transport.  Helper:
# tests/tools/vsock-probe.c; program: tests/bpf/vsock_probe.bpf.c.
source "$(dirname "$0")/lib.sh"

VP=$OUT/vsock-probe
OBJ=$OUT/tests/vsock_probe.bpf.o
{ [ -x "$VP" ] && [ -r "$OBJ" ]; } || skip "vsock-probe not built: make all"

# Only CID 1 through the loopback transport: where vsock_loopback is absent
# a connect to CID 1 goes to the guest-to-host transport (this repo's 6.18
# host has virtio_transport and no peer), so do not even try it there.
grep -qE ' vsock_loopback_' /proc/kallsyms ||
	skip "no vsock transport (vsock_loopback): not loaded (no vsock_loopback_* in /proc/kallsyms)"
why=$("$VP" transport 2>&1) && rc=0 || rc=$?
[ "$rc" -eq 77 ] && skip "no vsock transport (vsock_loopback): $why"
[ "$rc" -eq 0 ] || fail "vsock-probe transport: rc=$rc: $why"

NS=$(mk_ns p)
SIZE=$(scaled 1048576)
bad=0

# vp ARGS...: the helper in this test's namespace (TCP over its loopback;
# vsock is not namespaced), bounded in time.
vp() { ip netns exec "$NS" timeout --kill-after=5 240 "$VP" "$@"; }

# field LINE KEY: a key=value field of the helper's line.
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

ins=$(vp insert) || fail "vsock-probe insert failed (rc=$?)"
for m in sockmap sockhash; do
	v=$(field "$ins" "$m")
	[ -n "$v" ] || fail "no $m result in: $ins"
	if [ "$v" = yes ]; then echo "report: vsock $m insert: yes"; else echo "report: vsock $m insert: no ($v)"; fi
done

vp pattern "$SIZE" > "$TMPD/pattern"
want=$(sha256sum < "$TMPD/pattern" | cut -d' ' -f1)

# redir DIR MODE LABEL: one redirect path, judged on the bytes that arrived.
redir() {
	local dir=$1 mode=$2 label="sk_skb redirect $3 $2" out=$TMPD/rx-$1-$2 line rc got pass drop
	line=$(vp redir "$OBJ" "$dir" "$mode" "$SIZE" "$out") && rc=0 || rc=$?
	[ "$rc" -eq 0 ] || { echo "report: $label: PROBE BROKEN (vsock-probe rc=$rc)"; bad=1; return; }
	log "$dir $mode: $line"
	if [ "$(field "$line" insert_src)" != yes ] || [ "$(field "$line" insert_dst)" != yes ]; then
		echo "report: $label: no (map insert refused: source $(field "$line" insert_src), target $(field "$line" insert_dst))"
		return
	fi
	got=$(field "$line" received)
	pass=$(field "$line" pass)
	drop=$(field "$line" drop)
	[[ "$got$pass$drop$(field "$line" src_leak)" =~ ^[0-9]+$ ]] ||
		{ echo "report: $label: PROBE BROKEN (bad helper output: $line)"; bad=1; return; }
	if [ "$got" -eq "$SIZE" ] && [ "$(sha256sum < "$out" | cut -d' ' -f1)" = "$want" ]; then
		if [ "$drop" -eq 0 ] && [ "$(field "$line" src_leak)" -eq 0 ]; then
			echo "report: $label: yes ($got bytes, sha256 ok; $pass skbs redirected)"
		else
			echo "report: $label: BROKEN (all $got bytes arrived, but drop=$drop src_leak=$(field "$line" src_leak))"
			bad=1
		fi
	elif [ "$got" -eq 0 ] && [ "$pass" -eq 0 ] && [ "$drop" -gt 0 ]; then
		echo "report: $label: no (bpf_sk_redirect_map returned SK_DROP: $drop skbs, $(field "$line" drop_bytes) bytes dropped; writer sent $(field "$line" written))"
	elif [ "$got" -eq 0 ] && [ "$pass" -eq 0 ]; then
		echo "report: $label: PROBE BROKEN (the verdict never ran: $line)"
		bad=1
	elif [ "$got" -eq 0 ]; then
		echo "report: $label: BROKEN (SK_PASS for $pass skbs, $(field "$line" pass_bytes) bytes, but nothing arrived: data lost)"
		bad=1
	else
		local diff
		diff=$(cmp "$TMPD/pattern" "$out" 2>&1 | head -1) || true
		echo "report: $label: BROKEN ($got of $SIZE bytes arrived, pass=$pass drop=$drop; ${diff:-prefix matches, rest lost})"
		bad=1
	fi
}

redir tcp2vsock egress "tcp->vsock"
redir vsock2tcp egress "vsock->tcp"
redir tcp2vsock ingress "tcp->vsock"
redir vsock2tcp ingress "vsock->tcp"

[ "$bad" -eq 0 ] || fail "a redirect path lost or corrupted data, or the probe broke (lines above)"
