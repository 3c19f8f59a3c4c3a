#!/bin/bash
# Runs shunt's tests: cmocka unit tests (no root), then every
# tests/integ/t_*.sh with a timeout.  Exit 77 = skipped.  A test whose header
# says `# xfail: REASON` is expected to hit a named kernel bug and exit 66
# when it does: that counts as xfail, apart from passed and failed; if such
# a test passes, the run fails so the mark gets removed.  A mark can depend
# on the kernel's behaviour: `# xfail-unless: FEATURE` drops it where
# `shunt features` (the probe `shunt load` uses) finds FEATURE present, and
# there the test must pass.
# The last line is exactly `N passed, N failed, N skipped` (CI reads it).
#   ONLY=regex   run only tests whose name matches
#   TIMEOUT=s    per-test timeout (default 600)
#   FUZZ_SECONDS=s  time per fuzz target (default 15)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUTPUT:-$ROOT/.output}
ONLY=${ONLY:-.}
TIMEOUT=${TIMEOUT:-600}
pass=0 failn=0 skipn=0
failed=() skipped=() xfails=()

run_one() {
	local name=$1 xfail=$2
	shift 2
	[[ $name =~ $ONLY ]] || return 0
	local start=$SECONDS rc
	printf '%-34s ' "$name"
	local logf
	logf=$(mktemp /tmp/shunt-test-log.XXXXXX)
	timeout --kill-after=10 "$TIMEOUT" "$@" >"$logf" 2>&1
	rc=$?
	local dur=$((SECONDS - start))
	if [ -n "$xfail" ] && [ $rc -eq 66 ]; then
		echo "xfail (${dur}s): $xfail"
		xfails+=("$name ($xfail)")
	elif [ -n "$xfail" ] && [ $rc -eq 0 ]; then
		echo "FAIL (${dur}s): passed but marked xfail ($xfail): remove the mark"
		failed+=("$name")
		failn=$((failn + 1))
	elif [ $rc -eq 0 ]; then
		echo "ok (${dur}s)"
		# what a passing test reports (probes: t_features, t_vsock_probe)
		sed -n 's/^report: /    > /p' "$logf"
		pass=$((pass + 1))
	elif [ $rc -eq 77 ]; then
		echo "skipped: $(grep -m1 '^SKIP' "$logf" | sed 's/^SKIP: //')"
		skipped+=("$name")
		skipn=$((skipn + 1))
	else
		[ $rc -eq 124 ] && echo "FAIL (timeout after ${TIMEOUT}s)" || echo "FAIL (rc=$rc, ${dur}s)"
		sed 's/^/    | /' "$logf" | tail -40
		failed+=("$name")
		failn=$((failn + 1))
	fi
	rm -f "$logf"
}

echo "== unit tests"
for t in "$OUT"/tests/test_*; do
	[ -x "$t" ] || continue
	run_one "unit/$(basename "$t")" "" "$t"
done

echo "== unit tests under ASan and UBSan"
for t in "$OUT"/asan/test_*; do
	[ -x "$t" ] || continue
	run_one "asan/$(basename "$t")" "" "$t"
done

echo "== fuzzing, bounded (make fuzz runs longer)"
for f in "$OUT"/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=$(basename "$f")
	corpus=$(mktemp -d /tmp/shunt-fuzz.XXXXXX)
	run_one "fuzz/$n" "" "$f" -max_total_time="${FUZZ_SECONDS:-15}" -artifact_prefix="$corpus/" \
		"$corpus" "$ROOT/tests/fuzz/corpus/$n"
	rm -rf "$corpus"
done

echo "== integration tests"
feats=$("$OUT/shunt" features --json 2>/dev/null) || feats='{"features": []}'
for t in "$ROOT"/tests/integ/t_*.sh; do
	name=integ/$(basename "$t" .sh)
	xf=$(sed -n 's/^# xfail: //p' "$t" | head -1)
	unless=$(sed -n 's/^# xfail-unless: //p' "$t" | head -1)
	if [ -n "$xf" ] && [ -n "$unless" ] && jq -e --arg n "$unless" \
		'.features[] | select(.name == $n) | .present' <<< "$feats" >/dev/null; then
		xf=
	fi
	run_one "$name" "$xf" bash "$t"
done

echo
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
for x in "${xfails[@]}"; do echo "xfail: $x"; done
echo "$pass passed, $failn failed, $skipn skipped"
[ $failn -eq 0 ]
