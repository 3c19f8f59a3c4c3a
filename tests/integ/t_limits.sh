#!/bin/bash
# Limits: a full sockhash leaves new connections on TCP, counted as
# tcp_map_full, with every byte still correct; an endpoint table over its
# size is refused whole; 10,000 concurrent redirected connections work and
# leave no map entries behind.
source "$(dirname "$0")/lib.sh"
NSA=$(mk_ns a); NSB=$(mk_ns b)
link_ns "$NSA" 10.10.0.1 "$NSB" 10.10.0.2
CGA=$(mk_cgroup a); CGB=$(mk_cgroup b)

# 1. Room for 8 sockets (4 connections): 10 concurrent connections.
shunt load --max-sockets 8 >/dev/null
for cg in "$CGA" "$CGB"; do shunt attach "$cg"; done
shunt endpoint add ea 10.10.0.1 --netns "$NSA"
shunt endpoint add eb 10.10.0.2 --netns "$NSB"
server "$NSB" "$CGB" "$TMPD/s.log" -a 10.10.0.2 -p 7950 -m stream -b 16M -n 10 -E -q -t 60
in_ns "$NSA" "$CGA" "$TRAFFIC" client -a 10.10.0.2 -p 7950 -m stream -b 16M -n 10 -c 10 -E -q -t 60 \
	|| fail "a stream broke with the sockhash full"
wait "$SERVER_PID" || fail "server failed with the sockhash full"
full=$(counter tcp_map_full)
redir=$(counter connections_redirected)
log "sockhash of 8: $redir connections redirected, $full sockets left on TCP (map full)"
[ "$full" -ge 1 ] || fail "no socket was counted tcp_map_full"
[ "$redir" -ge 1 ] && [ "$redir" -le 4 ] || fail "$redir connections redirected with room for 4"

# 2. Endpoint table: one more than the maximum is refused, the old one stays.
python3 -c 'import json
print(json.dumps({"endpoints": [{"name": "e%d" % i, "addresses": ["10.%d.%d.%d" % (100 + i // 65536, i // 256 % 256, i % 256)]} for i in range(4097)]}))' > "$TMPD/big.json"
if shunt endpoint load "$TMPD/big.json" 2> "$TMPD/err"; then fail "a 4097-endpoint table was accepted"; fi
grep -q "endpoint table full (4096 endpoints)" "$TMPD/err" || fail "unclear error: $(cat "$TMPD/err")"
[ "$(shunt endpoint list --json | jq '.endpoints | length')" = 2 ] || fail "the old table did not survive"
shunt unload >/dev/null

# 3. 10,000 connections open at once, all redirected.
MANY=$(scaled 10000)
shunt load >/dev/null
for cg in "$CGA" "$CGB"; do shunt attach "$cg"; done
shunt endpoint add ea 10.10.0.1 --netns "$NSA"
shunt endpoint add eb 10.10.0.2 --netns "$NSB"
bg "$NSB" "$CGB" "$TMPD/m.log" python3 "$ROOT/tests/integ/py/many.py" server 10.10.0.2 7951 "$MANY"
wait_ready "$TMPD/m.log"
in_ns "$NSA" "$CGA" timeout 120 python3 "$ROOT/tests/integ/py/many.py" client 10.10.0.2 7951 "$MANY" \
	|| fail "$MANY concurrent connections: bad data"
wait "$LAST_PID" || fail "many-connections server failed"
redir=$(counter connections_redirected)
log "$MANY concurrent connections: $redir redirected"
[ "$redir" -ge $((MANY * 95 / 100)) ] || fail "only $redir of $MANY redirected"
for i in $(seq 50); do [ "$(status_field sockets)" -eq 0 ] && break; sleep 0.1; done
[ "$(status_field sockets)" -eq 0 ] || fail "sockets left in the sockhash"
[ "$(map_len shunt_conns)" -eq 0 ] || fail "entries left in shunt_conns"
echo "limits ok"
