#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Every project header compiles alone, twice in a row (its guard works), in C17 with the
# project's warnings: a header that leans on an include made by whoever included it first fails.
set -euo pipefail
src=${SHAKEND_SOURCE:?}
cc=${CC:-cc}
flags=(-std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -fsyntax-only -I"$src")
# third-party include paths, from pkg-config as the build finds them
read -ra extra <<<"$(pkg-config --cflags openssl jansson libcurl p11-kit-1 liburcu 2>/dev/null || true)"
# DPDK's flags apart: without libdpdk the dataplane's DPDK headers (dataplane/dp*.h) are skipped.
dpdk=()
have_dpdk=0
if pkg-config --exists libdpdk 2>/dev/null; then
	read -ra dpdk <<<"$(pkg-config --cflags libdpdk)"
	have_dpdk=1
fi
fail=0 n=0
while IFS= read -r h; do
	rel=${h#"$src"/}
	[[ $have_dpdk == 0 && $rel == dataplane/dp*.h ]] && continue
	n=$((n + 1))
	if ! printf '#include "%s"\n#include "%s"\n' "$rel" "$rel" |
		"$cc" "${flags[@]}" "${extra[@]}" "${dpdk[@]}" -x c - 2>/tmp/check_includes.$$; then
		echo "FAIL: $rel does not compile alone"
		cat /tmp/check_includes.$$
		fail=1
	fi
done < <(find "$src/crypto" "$src/dataplane" "$src/tools" "$src/bench" "$src/hsm" "$src/control" \
	-name '*.h' 2>/dev/null | sort)
rm -f /tmp/check_includes.$$
echo "check_includes: $n headers"
((n > 0)) || { echo "no header found under $src"; exit 1; }
exit $fail
