#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The whole test suite: installs what is missing, builds, runs every test in three builds
# (optimized, ASan+UBSan, libFuzzer smoke runs). Exits non-zero on any failure.
#   FUZZ_SECONDS=N   seconds per fuzz target (default 30; 0 skips the fuzz campaign)
#   BUILD_ROOT=DIR   where the build trees go (default: ./build-test)
set -uo pipefail
cd "$(dirname "$0")/.."
src=$PWD
root=${BUILD_ROOT:-$src/build-test}
fuzz_seconds=${FUZZ_SECONDS:-30}
failures=0
summary=()

bash platform/deps.sh || exit 1
mkdir -p "$root"

# run_suite NAME BUILDDIR MESON-ARGS...: configure, build, run meson tests, tally.
# TESTS (a global array) names the meson tests to run; empty runs them all.
TESTS=()
run_suite() {
	local name=$1 dir=$2
	shift 2
	echo "=== $name: configure and build"
	if [[ ! -f $dir/build.ninja ]]; then
		meson setup "$dir" "$src" "$@" >"$root/$name-setup.log" 2>&1 ||
			{ cat "$root/$name-setup.log"; failures=$((failures + 1)); summary+=("$name: setup failed"); return; }
	fi
	if ! ninja -C "$dir" >"$root/$name-build.log" 2>&1; then
		tail -50 "$root/$name-build.log"
		failures=$((failures + 1)); summary+=("$name: build failed"); return
	fi
	echo "=== $name: tests"
	meson test -C "$dir" --print-errorlogs --num-processes 2 --no-rebuild "${TESTS[@]}" ||
		true
	local counts
	counts=$(python3 "$src/platform/testlog_summary.py" "$dir/meson-logs/testlog.json")
	echo "$name: $counts"
	summary+=("$name: $counts")
	[[ $counts == *" 0 failed"* ]] || failures=$((failures + 1))
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1

run_suite release "$root/release"
run_suite sanitize "$root/sanitize" -Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug
# ThreadSanitizer for the concurrent parts. Criterion cannot start under TSan
# (Snaipe/Criterion#274), so the concurrency tests that matter are plain C programs. clang:
# gcc 12 refuses atomic_thread_fence under -fsanitize=thread (-Werror=tsan).
TESTS=(hsm-stress cache-stress policy-stress)
CC=clang run_suite tsan "$root/tsan" -Db_sanitize=thread -Db_lundef=false -Dtests=disabled
TESTS=()

# libFuzzer: a short campaign per target on a scratch copy of its seed corpus.
if ((fuzz_seconds > 0)); then
	fdir=$root/fuzz
	echo "=== fuzz: configure and build (clang, libFuzzer, ASan+UBSan)"
	if [[ ! -f $fdir/build.ninja ]]; then
		CC=clang meson setup "$fdir" "$src" -Dfuzzing=true -Dtests=disabled \
			-Db_sanitize=address,undefined -Db_lundef=false >"$root/fuzz-setup.log" 2>&1 ||
			{ cat "$root/fuzz-setup.log"; failures=$((failures + 1)); }
	fi
	fuzz_ok=0 fuzz_bad=0
	if ninja -C "$fdir" >"$root/fuzz-build.log" 2>&1; then
		for corpus in "$src"/tests/fuzz/corpus/*/; do
			t=$(basename "$corpus")
			work=$(mktemp -d)
			cp -r "$corpus". "$work/"
			echo "--- fuzz_$t: ${fuzz_seconds}s"
			if (cd "$work" && "$fdir/tests/fuzz/fuzz_$t" -max_total_time="$fuzz_seconds" \
				-rss_limit_mb=2048 -print_final_stats=1 "$work" >"$root/fuzz-$t.log" 2>&1); then
				grep -E 'stat::number_of_executed_units' "$root/fuzz-$t.log" || true
				fuzz_ok=$((fuzz_ok + 1))
			else
				tail -40 "$root/fuzz-$t.log"
				cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$root/" 2>/dev/null || true
				fuzz_bad=$((fuzz_bad + 1))
			fi
			rm -rf "$work"
		done
	else
		tail -50 "$root/fuzz-build.log"
		fuzz_bad=$((fuzz_bad + 1))
	fi
	summary+=("fuzz: $fuzz_ok passed, $fuzz_bad failed")
	failures=$((failures + fuzz_bad))
fi

echo "=== summary"
printf '%s\n' "${summary[@]}"
python3 - "${summary[@]}" <<'PY'
import re, sys
p = f = 0
for line in sys.argv[1:]:
    m = re.search(r"(\d+) passed, (\d+) failed", line)
    if m:
        p += int(m.group(1)); f += int(m.group(2))
print(f"{p} passed, {f} failed")
PY
((failures == 0))
