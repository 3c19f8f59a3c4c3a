#!/bin/bash
# The Debian packages that hold the shared libraries of the given binaries,
# as a Depends: value (make deb).  ldd reports /lib/... while merged-/usr
# packages may have registered /usr/lib/... (or the other way round).
set -euo pipefail
for b in "$@"; do ldd "$b" | awk '$3 ~ /^\// { print $3 }'; done | sort -u | while read -r p; do
	dpkg -S "$p" 2>/dev/null || dpkg -S "/usr$p" 2>/dev/null || dpkg -S "${p#/usr}" 2>/dev/null ||
		{ echo "deb-depends: no package holds $p" >&2; exit 1; }
done | cut -d: -f1 | sort -u | paste -sd, | sed 's/,/, /g'
