#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Instruction counts per operation of `shaken-bench crypto`'s cases and their baselines, with
# valgrind's callgrind: deterministic for a given binary and input, whatever else the machine
# is doing, so the case/baseline ratio holds where timed rates are too noisy.
#   bench/callgrind.sh [BUILD_DIR] [COUNT]     (defaults: build, 2000)
# Prints, per pair, instructions per operation and the ratio baseline/case (comparable with the
# timed ratio: higher is better, 1.0 means no overhead over the baseline).
set -euo pipefail
build=${1:-build}
count=${2:-2000}
bench=$build/bench/shaken-bench
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind is not installed" >&2; exit 2; }
[[ -x $bench ]] || { echo "callgrind.sh: $bench not built" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# instr FN: instructions per call of FN (inclusive), over COUNT calls.
instr() {
	valgrind --tool=callgrind --toggle-collect="$1" --callgrind-out-file="$tmp/$1.out" \
		"$bench" crypto --count "$count" --json >/dev/null 2>"$tmp/$1.err" ||
		{ cat "$tmp/$1.err" >&2; exit 1; }
	local total
	total=$(awk '/^totals:/ {print $2} /^summary:/ {print $2}' "$tmp/$1.out" | tail -1)
	echo $((total / count))
}

printf '%-22s %14s   %-22s %14s   %s\n' case instr/op baseline instr/op ratio
for pair in pp_build_sign:raw_sign pp_verify_call:raw_verify; do
	c=${pair%%:*} b=${pair##*:}
	ic=$(instr "$c")
	ib=$(instr "$b")
	printf '%-22s %14d   %-22s %14d   %.3f\n' "$c" "$ic" "$b" "$ib" \
		"$(awk -v b="$ib" -v c="$ic" 'BEGIN {print b / c}')"
done
