#!/bin/bash
# One source for help (issue 12): the command table makes `shunt --help`,
# `shunt help VERB` and the man page; README's manual is written by hand.
# All four must list the same commands, and each command the same options.
# Also: an unknown verb is an error whatever follows it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
S=${OUTPUT:-$ROOT/.output}/shunt
MAN=${OUTPUT:-$ROOT/.output}/shunt.8
fail() { echo "FAIL: $*" >&2; exit 1; }

# The commands, as "name" or "name sub", from the table through --help.
mapfile -t cmds < <("$S" --help | sed -n 's/^  shunt \([a-z-]*\)\( [a-z]*\)\?.*/\1\2/p' |
	awk '{ if ($1 == "endpoint") print $1 " " $2; else print $1 }')
[ "${#cmds[@]}" -ge 10 ] || fail "--help lists only ${#cmds[@]} commands"
readme=$(awk '/^## Manual/ { m = 1 } m && /^```/ { n++; next } m && n == 1' "$ROOT/README.md")
man=$(sed 's/\\-/-/g' "$MAN")	# roff's \- is a plain -

for c in "${cmds[@]}"; do
	# README: a line "shunt CMD" (then space or end), options on it or its continuation.
	block=$(awk -v c="shunt $c" 'index($0, c) == 1 && (length($0) == length(c) || substr($0, length(c) + 1, 1) == " ") { p = 1; print; next }
		p && /^shunt / { p = 0 } p' <<< "$readme")
	[ -n "$block" ] || fail "README's manual lacks 'shunt $c'"
	grep -qF "\\fBshunt $c\\fR" <<< "$man" || fail "the man page lacks 'shunt $c'"
	# shellcheck disable=SC2086
	opts=$("$S" help $c | awk '/^Options:/ { o = 1; next } /^$/ { o = 0 } o { print $1 }')
	for o in $opts; do
		grep -qF -- "$o" <<< "$block" || fail "README's manual: 'shunt $c' does not mention $o"
		grep -qF -- "$o" <<< "$man" || fail "the man page lacks $o"
	done
done
# Nothing in README's manual that the table lacks.
while read -r line; do
	c=$(awk '{ if ($2 == "endpoint") print $2 " " $3; else print $2 }' <<< "$line")
	printf '%s\n' "${cmds[@]}" | grep -qxF "$c" || fail "README's manual has 'shunt $c', which shunt does not know"
done < <(grep '^shunt [a-z]' <<< "$readme" | grep -v '^shunt \[')
# Global options in all three.
for o in --pin-dir --json --verbose --help --version; do
	"$S" --help | grep -qF -- "$o" || fail "--help lacks $o"
	grep -qF -- "$o" <<< "$man" || fail "the man page lacks $o"
	grep -qF -- "$o" <<< "$readme" || fail "README's manual lacks $o"
done
# An unknown verb is an error, also with --help after it.
out=$("$S" frob --help 2>&1) && fail "'shunt frob --help' exited 0"
grep -q "unknown command 'frob'" <<< "$out" || fail "unclear: $out"
"$S" endpoint add --help | grep -q '^Examples:' || fail "'shunt endpoint add --help' shows no examples"
"$S" --version | grep -Eq '^shunt .+ \(bpf object [0-9a-f]{16}\)$' || fail "--version: $("$S" --version)"
man -l "$MAN" > /dev/null 2>&1 || [ ! -x /usr/bin/man ] || fail "the man page does not render"
echo "docs agree: ${#cmds[@]} commands"
