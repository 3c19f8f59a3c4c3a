#!/bin/bash
# A real application across partitions: PostgreSQL 15 in B, pgbench and psql
# in A.  pgbench loads scale 5 (COPY of 500,000 rows) and runs 8 clients x 500
# TPC-B-like transactions; then the balances must agree with the history
# (sum(abalance) = sum(tbalance) = sum(bbalance) = sum(delta)) and the
# history must hold exactly 4,000 rows.  shunt's counters prove the
# connections were redirected.
source "$(dirname "$0")/lib.sh"
PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/postgres" ] || skip "postgresql 15 not installed (scripts/deps.sh)"
command -v pgbench >/dev/null || skip "pgbench not installed (scripts/deps.sh)"
id postgres >/dev/null 2>&1 || skip "no postgres user"
pair_setup

PGD=$TMPD/pgdata
chmod 711 "$TMPD"		# postgres must reach its directories under it
mkdir "$PGD" "$TMPD/pgsock"
chown postgres: "$PGD" "$TMPD/pgsock"
runuser -u postgres -- "$PGBIN/initdb" -D "$PGD" -U postgres --auth=trust --locale=C -E UTF8 \
	> "$TMPD/initdb.log" 2>&1 || { cat "$TMPD/initdb.log" >&2; fail "initdb failed"; }
echo "host all all 10.10.0.0/24 trust" >> "$PGD/pg_hba.conf"

# On any exit, stop postgres cleanly (a killed postmaster leaves its SysV
# shared memory segment behind) and wait until CGB is empty (lib.sh's cleanup
# checks cgroup.procs with -s, always false on cgroupfs, so it can rmdir CGB
# before a killed server has exited), then lib.sh's cleanup.
pg_stop() {
	local pid
	pid=$(head -1 "$PGD/postmaster.pid" 2>/dev/null) || return 0
	kill -INT "$pid" 2>/dev/null || return 0
	for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
}
test_cleanup() { pg_stop; }

# fsync off: this is about the transport, not the disk.
bg "$NSB" "$CGB" "$TMPD/postgres.log" runuser -u postgres -- "$PGBIN/postgres" -D "$PGD" \
	-c listen_addresses=10.10.0.2 -c port=5433 -c unix_socket_directories="$TMPD/pgsock" \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=30
PG=(-h 10.10.0.2 -p 5433 -U postgres)
for i in $(seq 200); do
	in_ns "$NSA" "$CGA" "$PGBIN/pg_isready" -q "${PG[@]}" && break
	[ $i -lt 200 ] || { cat "$TMPD/postgres.log" >&2; fail "postgres did not become ready"; }
	sleep 0.05
done
sql() { in_ns "$NSA" "$CGA" "$PGBIN/psql" "${PG[@]}" -X -q -t -A -v ON_ERROR_STOP=1 -c "$1" postgres; }

before=$(counter connections_redirected)
in_ns "$NSA" "$CGA" pgbench "${PG[@]}" -i -s 5 -q postgres > "$TMPD/init.log" 2>&1 \
	|| { cat "$TMPD/init.log" >&2; fail "pgbench -i failed"; }
[ "$(sql 'SELECT count(*) FROM pgbench_accounts')" = 500000 ] || fail "pgbench_accounts does not hold 500000 rows"
in_ns "$NSA" "$CGA" pgbench "${PG[@]}" -c 8 -j 2 -t 500 postgres > "$TMPD/bench.log" 2>&1 \
	|| { cat "$TMPD/bench.log" >&2; fail "pgbench failed"; }
grep -E '^(number of transactions actually processed|number of failed|tps)' "$TMPD/bench.log" >&2
grep -q '^number of transactions actually processed: 4000/4000$' "$TMPD/bench.log" \
	|| fail "pgbench did not process 4000/4000 transactions"

[ "$(sql 'SELECT count(*) FROM pgbench_history')" = 4000 ] || fail "pgbench_history does not hold 4000 rows"
sums=$(sql 'SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers),
	(SELECT sum(bbalance) FROM pgbench_branches), (SELECT sum(delta) FROM pgbench_history)')
log "sums (accounts|tellers|branches|history): $sums"
IFS='|' read -r a t b h <<< "$sums"
[ -n "$h" ] && [ "$a" = "$h" ] && [ "$t" = "$h" ] && [ "$b" = "$h" ] \
	|| fail "balances and history disagree: $sums"
after=$(counter connections_redirected)
[ $((after - before)) -ge 8 ] || fail "only $((after - before)) connections were redirected, expected at least pgbench's 8"
log "connections redirected: $((after - before)), bytes redirected: $(counter bytes_redirected)," \
	"detoured: $(counter bytes_detoured)"
echo "postgres ok"
