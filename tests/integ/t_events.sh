#!/bin/bash
# shunt events (issue 11): a redirected and an unmatched connection show
# their decisions and reasons; two readers at once both get them; a reader
# killed with -9 leaves nothing stuck: the next reader gets events, and the
# dead reader's ring is no longer written (its losses stop growing while
# thousands of events pass), which is also what "nothing is reserved while
# nobody listens" means.
source "$(dirname "$0")/lib.sh"
pair_setup
ip -n "$NSB" addr add 10.10.0.3/24 dev "$(ip -n "$NSB" -o link show type veth | awk -F'[ :@]+' '{print $2; exit}')"

events_reader a
RA=$R
events_reader b
RB=$R

server "$NSB" "$CGB" "$TMPD/s1.log" -a 10.10.0.2 -p 7500 -m stream -b 1M -S 1 -q -E -D 50
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7500 -m stream -b 1M -S 1 -q -E -D 50 || fail "redirected stream broken"
wait "$SERVER_PID"
server "$NSB" "$CGB" "$TMPD/s2.log" -a 10.10.0.3 -p 7501 -m stream -b 1M -S 2 -q -E
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.3 -p 7501 -m stream -b 1M -S 2 -q -E || fail "TCP stream broken"
wait "$SERVER_PID"
sleep 0.6	# a poll interval

for r in a b; do
	ev=$TMPD/$r.ev
	jq -e -s 'map(select(.event == "classified" and (has("reason") | not) and .local.endpoint == "ea"
		and .remote.endpoint == "eb" and .remote.port == 7500 and .network == "default")) | length == 1' "$ev" >/dev/null ||
		{ cat "$ev" >&2; fail "reader $r: no candidate event for the redirected connection's active end"; }
	jq -e -s 'map(select(.event == "classified" and .local.endpoint == "eb" and .role == "passive")) | length == 1' "$ev" >/dev/null ||
		fail "reader $r: no event for the passive end"
	jq -e -s 'map(select(.event == "redirected" and (.remote.port == 7500 or .local.port == 7500))) | length == 1' "$ev" >/dev/null ||
		{ cat "$ev" >&2; fail "reader $r: no redirected event"; }
	jq -e -s 'map(select(.event == "classified" and .reason == "no_peer_endpoint" and .local.endpoint == "ea"
		and .remote.address == "10.10.0.3" and .remote.port == 7501)) | length == 1' "$ev" >/dev/null ||
		{ cat "$ev" >&2; fail "reader $r: no TCP event with reason no_peer_endpoint"; }
	jq -e -s 'map(select(.event == "classified" and .reason == "no_local_endpoint" and .local.address == "10.10.0.3")) | length == 1' "$ev" >/dev/null ||
		fail "reader $r: the unmatched connection's passive end not reported"
	! jq -e -s 'map(select(.event == "lost")) | length > 0' "$ev" >/dev/null || fail "reader $r lost events"
done
# What the text form says.
"$SHUNT_BIN" --pin-dir "$PIN" events --count 1 > "$TMPD/text.ev" 2>/dev/null &
T1=$!
sleep 0.5
server "$NSB" "$CGB" "$TMPD/s3.log" -a 10.10.0.3 -p 7502 -m stream -b 1K -S 2 -q
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.3 -p 7502 -m stream -b 1K -S 2 -q
wait "$SERVER_PID"
wait "$T1" || fail "events --count 1 did not end"
grep -Eq '^classified +no_peer_endpoint +default +ea 10.10.0.1:[0-9]+ -> - 10.10.0.3:7502' "$TMPD/text.ev" ||
	{ cat "$TMPD/text.ev" >&2; fail "text event"; }

# Kill a reader with -9: its slot's heartbeat stops, BPF stops writing there.
slot_a=$(sed -n 's/.*(slot \([0-9]*\)).*/\1/p' "$TMPD/a.err")
kill -9 "$RA"
sleep 2.5	# past SHUNT_EV_HEARTBEAT_NS
lost() { bpftool map dump pinned "$PIN/maps/shunt_ev_lost" -j | jq --argjson s "$1" '.[] | select(.key == $s or .formatted.key == $s) | (.formatted.value // .value)' ; }
lost_a=$(lost "$slot_a")
n_b=$(wc -l < "$TMPD/b.ev")
N=$(scaled 3000)
server "$NSB" "$CGB" "$TMPD/s4.log" -a 10.10.0.2 -p 7503 -m records -r 1 -n "$N" -q -E
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7503 -m records -r 1 -n "$N" -c 4 -q -E || fail "records broken"
wait "$SERVER_PID"
sleep 0.6
[ "$(lost "$slot_a")" = "$lost_a" ] || fail "the killed reader's ring is still written ($lost_a -> $(lost "$slot_a") lost)"
# The live reader got them (3 or more events per connection), or counted what it lost.
got=$(( $(wc -l < "$TMPD/b.ev") - n_b ))
lostb=$(jq -s 'map(select(.event == "lost") | .count) | add // 0' "$TMPD/b.ev")
[ $((got + lostb)) -ge $((3 * N)) ] || fail "reader b saw $got events and $lostb lost for $N connections"
log "reader b: $got events, $lostb lost, for $N connections"
# The next reader takes a slot (the killed one's, or another) and gets events.
events_reader c --count 2
RC=$R
server "$NSB" "$CGB" "$TMPD/s5.log" -a 10.10.0.3 -p 7504 -m stream -b 1K -S 2 -q
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.3 -p 7504 -m stream -b 1K -S 2 -q
wait "$SERVER_PID"
wait "$RC" || fail "reader c failed"
[ "$(wc -l < "$TMPD/c.ev")" = 2 ] || fail "reader c got $(wc -l < "$TMPD/c.ev") events"
# A reader that ends normally frees its slot at once.
kill "$RB"
wait "$RB" 2>/dev/null || true
hb=$(bpftool map dump pinned "$PIN/maps/shunt_ev_readers" -j | jq '[.[] | (.formatted.value // .value) | select(. != 0)] | length')
[ "$hb" -le 1 ] || fail "slots still beating after their readers ended: $hb"
echo "events ok"
