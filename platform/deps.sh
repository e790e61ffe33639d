#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs, from Debian 12's archive, what shakend needs to build, test and run its demo.
# Idempotent: installs only what is missing. Needs root (or sudo) when something is missing.
set -euo pipefail

packages=(
	# build
	meson ninja-build pkg-config gcc clang libclang-rt-14-dev llvm
	libssl-dev openssl libjansson-dev liburcu-dev libcurl4-openssl-dev
	# tests
	libcriterion-dev python3 jq ca-certificates
	# HSM: the PKCS#11 header (p11-kit), SoftHSM2 as the test token, pkcs11-tool, libp11
	libp11-kit-dev softhsm2 opensc libengine-pkcs11-openssl
	# real peers used by the tests and the demo
	secsipidx nginx
)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]})); then
	echo "deps: installing ${missing[*]}"
	sudo=""
	[[ $(id -u) -ne 0 ]] && sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null
fi
# nginx is only run by the tests, as an unprivileged foreground process with its own config.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
	systemctl stop nginx || true
fi
echo "deps: all present"
