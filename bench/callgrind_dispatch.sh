#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per dispatched port-I/O exit, counted by callgrind.
#
#   bench/callgrind_dispatch.sh [path/to/bench_dispatch]
#
# Runs bench_dispatch --mode <m> N under valgrind --tool=callgrind for two
# iteration counts and divides the difference in total instructions by the
# difference in iterations, so setup and teardown cancel out. Modes: "limit"
# (mock run + direct handler call + complete, no dispatcher), "1" and "64"
# registered ranges through pv_vcpu_run_once(). Prints instructions per
# dispatch and the dispatcher's share (mode minus limit). With
# CALLGRIND_ANNOTATE=1 it also prints callgrind_annotate of the 64-range run.
set -eu

BENCH=${1:-}
if [ -z "$BENCH" ]; then
	for c in build/bench/bench_dispatch ./bench_dispatch bench/bench_dispatch; do
		if [ -x "$c" ]; then BENCH=$c; break; fi
	done
fi
if [ -z "$BENCH" ] || [ ! -x "$BENCH" ]; then
	echo "callgrind_dispatch: bench_dispatch not found; pass its path" >&2
	exit 2
fi
command -v valgrind >/dev/null 2>&1 || { echo "callgrind_dispatch: SKIPPED (no valgrind)"; exit 0; }

N1=${N1:-2000}
N2=${N2:-22000}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# total instructions of one run
instr() {
	valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$1.$2" "$BENCH" --mode "$1" "$2" \
		>/dev/null 2>"$TMP/log.$1.$2"
	awk '/^(summary|totals):/ { print $2; exit }' "$TMP/cg.$1.$2"
}

per_dispatch() {
	a=$(instr "$1" "$N1")
	b=$(instr "$1" "$N2")
	awk -v a="$a" -v b="$b" -v n1="$N1" -v n2="$N2" 'BEGIN { printf "%.1f", (b - a) / (n2 - n1) }'
}

LIMIT=$(per_dispatch limit)
ONE=$(per_dispatch 1)
SIXTYFOUR=$(per_dispatch 64)
echo "callgrind_dispatch: instructions per port-I/O exit (difference of $N1 and $N2 iterations)"
awk -v l="$LIMIT" -v o="$ONE" -v s="$SIXTYFOUR" 'BEGIN {
	printf "  limit (mock run + direct call + complete): %7.1f\n", l
	printf "  dispatcher,  1 range:                      %7.1f   dispatcher share %6.1f\n", o, o - l
	printf "  dispatcher, 64 ranges:                     %7.1f   dispatcher share %6.1f\n", s, s - l
	printf "  target: dispatcher share < 200 with 64 ranges: %s\n", (s - l < 200) ? "met" : "NOT met"
}'
if [ "${CALLGRIND_ANNOTATE:-0}" = 1 ] && command -v callgrind_annotate >/dev/null 2>&1; then
	callgrind_annotate --inclusive=no "$TMP/cg.64.$N2" | head -40
fi
