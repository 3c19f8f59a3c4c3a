#!/bin/bash
# shunt conns and per-endpoint counters (issue 11) against connections
# whose bytes the test knows: a held connection with 3 MiB sent and 1 MiB
# read shows network, endpoints, netns, addresses, the redirect path, 3 MiB
# sent and 2 MiB queued; a connection to an unregistered address is listed
# under --all with its reason while it lives, and neither is after close;
# `status --endpoint` counts the bytes each way exactly, and an endpoint's
# counters go when it goes.
source "$(dirname "$0")/lib.sh"
pair_setup
HOLD=$ROOT/tests/integ/py/hold.py
# 10.10.0.3 lives in NSB but is no endpoint: connections to it stay TCP.
ip -n "$NSB" addr add 10.10.0.3/24 dev "$(ip -n "$NSB" -o link show type veth | awk -F'[ :@]+' '{print $2; exit}')"

M=$((1 << 20))
bg "$NSB" "$CGB" "$TMPD/s1.log" python3 "$HOLD" server 10.10.0.2 7400 $M "$TMPD/go1"
wait_ready "$TMPD/s1.log"
bg "$NSA" "$CGA" "$TMPD/c1.log" python3 "$HOLD" client 10.10.0.2 7400 $((3 * M)) "$TMPD/go1"
C1=$LAST_PID
# and one the other way: eb connects to ea and sends 1 MiB, all read
bg "$NSA" "$CGA" "$TMPD/s4.log" python3 "$HOLD" server 10.10.0.1 7403 $M "$TMPD/go1"
wait_ready "$TMPD/s4.log"
bg "$NSB" "$CGB" "$TMPD/c4.log" python3 "$HOLD" client 10.10.0.1 7403 $M "$TMPD/go1"
C4=$LAST_PID
bg "$NSB" "$CGB" "$TMPD/s2.log" python3 "$HOLD" server 10.10.0.3 7401 100 "$TMPD/go2"
wait_ready "$TMPD/s2.log"
bg "$NSA" "$CGA" "$TMPD/c2.log" python3 "$HOLD" client 10.10.0.3 7401 100 "$TMPD/go2"
C2=$LAST_PID
# "read N", not "ready": every server has read its bytes (each client sent).
for i in $(seq 200); do
	grep -q '^read [0-9]' "$TMPD/s1.log" && grep -q '^sent' "$TMPD/c1.log" &&
		grep -q '^read [0-9]' "$TMPD/s2.log" && grep -q '^read [0-9]' "$TMPD/s4.log" && break
	sleep 0.05
done
for s in 1 2 4; do
	grep -q "^read [0-9]" "$TMPD/s$s.log" ||
		{ cat "$TMPD"/s$s.log "$TMPD"/c$s.log >&2; fail "server $s did not read its bytes in 10 s"; }
done
grep -q "^read 1048576" "$TMPD/s1.log" || { cat "$TMPD"/s1.log "$TMPD"/c1.log >&2; fail "server 1 did not read its 1 MiB"; }
sleep 0.2	# the read counter runs after the read returns

shunt conns --json > "$TMPD/conns.json"
jq -e 'length == 2' "$TMPD/conns.json" >/dev/null || { cat "$TMPD/conns.json" >&2; fail "want two connections without --all"; }
jq -e --arg a "$NSA" --arg b "$NSB" 'map(select(.passive.port == 7400))[0] |
	.network == "default" and .tcp_only == false and
	.active.endpoint == "ea" and .active.address == "10.10.0.1" and .active.netns == $a and
	.passive.endpoint == "eb" and .passive.address == "10.10.0.2" and .passive.port == 7400 and
	.passive.netns == $b and
	.directions[0].path == "redirect" and .directions[0].bytes == 3145728 and
	.directions[0].queued == 2097152 and .directions[1].path == "undecided" and .age_s >= 0' \
	"$TMPD/conns.json" >/dev/null || { cat "$TMPD/conns.json" >&2; fail "the held connection is shown wrong"; }
shunt conns --all --json > "$TMPD/all.json"
jq -e 'map(select(.tcp_only)) | length == 1 and (.[0] | .reason == "no_peer_endpoint" and
	.active.endpoint == "ea" and .passive.address == "10.10.0.3" and .passive.port == 7401 and
	.directions[0].path == "tcp")' "$TMPD/all.json" >/dev/null ||
	{ cat "$TMPD/all.json" >&2; fail "--all does not show the TCP connection with its reason"; }
# Filters, as ss takes them.
[ "$(shunt conns --all --json dst 10.10.0.3 | jq length)" = 1 ] || fail "dst filter"
[ "$(shunt conns --all --json dst 10.10.0.2:7400 | jq length)" = 1 ] || fail "dst:port filter"
[ "$(shunt conns --all --json src 10.10.0.9 | jq length)" = 0 ] || fail "src filter"
[ "$(shunt conns --json --endpoint eb | jq length)" = 2 ] || fail "--endpoint filter"
[ "$(shunt conns --json src 10.10.0.2 | jq length)" = 1 ] || fail "src filter"
shunt conns --all | grep -q 'no_peer_endpoint' || fail "text output lacks the reason"

touch "$TMPD/go1" "$TMPD/go2"
wait "$C1" || { cat "$TMPD/c1.log" >&2; fail "held connection: data not intact"; }
wait "$C2" || { cat "$TMPD/c2.log" >&2; fail "TCP connection: data not intact"; }
wait "$C4" || { cat "$TMPD/c4.log" >&2; fail "reverse held connection: data not intact"; }
for i in $(seq 50); do [ "$(shunt conns --all --json | jq length)" = 0 ] && break; sleep 0.1; done
[ "$(shunt conns --all --json | jq length)" = 0 ] || { shunt conns --all >&2; fail "closed connections still listed"; }

# Per endpoint, exactly: ea sent 3 MiB to eb, eb 1 MiB to ea; the replies
# ("ok N") came after a shutdown, by TCP.  Together: every redirected byte.
ea=$(shunt status --json | jq '.endpoint_counters[] | select(.name == "ea")')
eb=$(shunt status --json | jq '.endpoint_counters[] | select(.name == "eb")')
total=$(counter bytes_redirected)
jq -e '.bytes_sent == 3145728 and .bytes_received == 1048576 and .connections_redirected == 2 and
	.tcp_reasons.no_peer_endpoint == 1' <<< "$ea" >/dev/null || { echo "$ea" >&2; fail "ea's counters"; }
jq -e '.bytes_sent == 1048576 and .bytes_received == 3145728 and .connections_redirected == 2' <<< "$eb" >/dev/null ||
	{ echo "$eb" >&2; fail "eb's counters"; }
[ "$total" = $((4 * M)) ] || fail "global bytes_redirected $total is not the endpoints' 4 MiB"
shunt status --endpoint ea | grep -q "bytes:       3145728 sent, 1048576 received" || fail "status --endpoint text"
out=$(shunt status --endpoint nope 2>&1) && fail "unknown endpoint accepted"
grep -q 'no endpoint "nope"' <<< "$out" || fail "unknown endpoint: $out"
# Its counters go when it goes (and a new endpoint never inherits them).
id=$(shunt endpoint list --json | jq '.endpoints[] | select(.name == "ea") | .id')
shunt endpoint del ea
bpftool map dump pinned "$PIN/maps/shunt_ep_stats" -j | jq -e --argjson id "$id" 'map(select(.key == ($id | tostring) or .formatted.key == $id)) | length == 0' >/dev/null ||
	fail "ea's counters outlived it"
shunt endpoint add ea 10.10.0.1 --netns "$NSA"
jq -e '.bytes_sent == 0' <<< "$(shunt status --json | jq '.endpoint_counters[] | select(.name == "ea")')" >/dev/null ||
	fail "a new ea inherited the old one's counters"
echo "conns and per-endpoint counters ok"
