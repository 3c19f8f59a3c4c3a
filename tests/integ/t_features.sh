#!/bin/bash
# The feature probe and the loader agree: `shunt features` names the read
# counter `shunt load` then runs (status, and the links it pinned), every
# required part is present wherever load succeeds, and the JSON and text
# forms say the same.  Prints the probe as report lines (make vmtest shows
# them per kernel: README, Kernels).
source "$(dirname "$0")/lib.sh"
"$SHUNT_BIN" features > "$TMPD/f.txt" || fail "shunt features failed"
"$SHUNT_BIN" features --json > "$TMPD/f.json" || fail "shunt features --json failed"
sed 's/^/report: /' "$TMPD/f.txt"
want=$(jq -r .read_counter "$TMPD/f.json")
[ "$(jq '[.features[] | select(.required and (.present | not))] | length' "$TMPD/f.json")" = 0 ] ||
	fail "a required feature is missing, yet the tests got here: $(grep MISSING "$TMPD/f.txt")"
n_txt=$(grep -cE '^.{38} (ok|MISSING|yes|no) ' "$TMPD/f.txt")
[ "$n_txt" = "$(jq '.features | length' "$TMPD/f.json")" ] || fail "text and JSON list different features"

shunt load >/dev/null
[ "$(status_field read_counter)" = "$want" ] ||
	fail "features says read counter '$want', the loaded instance runs '$(status_field read_counter)'"
case $want in
tracepoint) links="shunt_recv" ;;
fexit) links="shunt_recv4 shunt_recv6" ;;
none) links="" ;;
*) fail "unknown read counter '$want'" ;;
esac
for l in shunt_recv shunt_recv4 shunt_recv6; do
	if [[ " $links " == *" $l "* ]]; then
		[ -e "$PIN/links/$l" ] || fail "read counter $want: link $l not pinned"
	else
		[ ! -e "$PIN/links/$l" ] || fail "read counter $want: unexpected link $l"
	fi
done
log "read counter: $want (links: ${links:-none})"
echo "report: kernel $(uname -r): read counter $want"
