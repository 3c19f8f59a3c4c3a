#!/bin/bash
# Requirement 2: isolation.  Two independent pairs of partitions use the very
# same addresses and ports at the same time (10.10.0.1:41001 -> 10.10.0.2:7100),
# registered as two networks; streams seeded differently per pair must each
# arrive intact at their own peer.  Then an address spoofed from another
# partition (its netns is not the one registered) stays on TCP.
source "$(dirname "$0")/lib.sh"

shunt load >/dev/null
for p in 1 2; do
	a=$(mk_ns a$p); b=$(mk_ns b$p)
	link_ns "$a" 10.10.0.1 "$b" 10.10.0.2
	cga=$(mk_cgroup a$p); cgb=$(mk_cgroup b$p)
	shunt attach "$cga"; shunt attach "$cgb"
	shunt endpoint add a$p 10.10.0.1 --netns "$a" --network net$p
	shunt endpoint add b$p 10.10.0.2 --netns "$b" --network net$p
	eval "NSA$p=$a NSB$p=$b CGA$p=$cga CGB$p=$cgb"
done

for round in 1 2 3; do
	server "$NSB1" "$CGB1" "$TMPD/s1.log" -a 10.10.0.2 -p 7100 -m stream -b 32M -S 1$round -E -q
	S1=$SERVER_PID
	server "$NSB2" "$CGB2" "$TMPD/s2.log" -a 10.10.0.2 -p 7100 -m stream -b 32M -S 2$round -E -q
	S2=$SERVER_PID
	in_ns "$NSA1" "$CGA1" "$TRAFFIC" client -a 10.10.0.2 -p 7100 -B 10.10.0.1 -P 41001 -m stream -b 32M -S 1$round -E -q > "$TMPD/c1.log" 2>&1 &
	C1=$!
	in_ns "$NSA2" "$CGA2" "$TRAFFIC" client -a 10.10.0.2 -p 7100 -B 10.10.0.1 -P 41001 -m stream -b 32M -S 2$round -E -q > "$TMPD/c2.log" 2>&1 &
	C2=$!
	for p in $C1 $C2 $S1 $S2; do
		wait $p || { cat "$TMPD"/*.log >&2; fail "round $round: a stream was cross-delivered or broken"; }
	done
	sleep 1.1	# TIME_WAIT on 41001 is per netns; SO_REUSEADDR handles it
done
redir=$(counter connections_redirected)
[ "$redir" -eq 6 ] || fail "want 6 redirected connections (3 rounds x 2 pairs), got $redir"

# Spoof: register 10.10.0.1 of net1 to another namespace; the socket in NSA1
# that really holds 10.10.0.1 no longer matches and must stay on TCP.
X=$(mk_ns x)
shunt endpoint del a1
shunt endpoint add a1 10.10.0.1 --netns "$X" --network net1
before=$(counter tcp_no_local_endpoint)
server "$NSB1" "$CGB1" "$TMPD/s3.log" -a 10.10.0.2 -p 7101 -m stream -b 4M -S 5 -E -q
in_ns "$NSA1" "$CGA1" "$TRAFFIC" client -a 10.10.0.2 -p 7101 -m stream -b 4M -S 5 -E -q || fail "spoof case: TCP stream broken"
wait "$SERVER_PID" || fail "spoof case: server failed"
[ "$(counter connections_redirected)" -eq "$redir" ] || fail "a spoofed address was redirected"
[ $(( $(counter tcp_no_local_endpoint) - before )) -ge 1 ] || fail "spoofed socket not counted as tcp_no_local_endpoint"
echo "isolation ok"
