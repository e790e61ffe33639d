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
	# the dataplane: DPDK 22.11 (virtual devices, no hugepages needed), iproute2 for namespaces
	libdpdk-dev dpdk iproute2
	# real peers used by the tests and the demo
	secsipidx nginx sip-tester tshark
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
# OpenSSL's pkcs11-provider (CSRs signed by an HSM key, shaken-hsm csr) is in Debian 12's
# bookworm-backports only: add that source (once) when the package is missing.
if ! dpkg-query -W -f='${Status}' pkcs11-provider 2>/dev/null | grep -q 'install ok installed'
then
	echo "deps: installing pkcs11-provider from bookworm-backports"
	sudo=""
	[[ $(id -u) -ne 0 ]] && sudo="sudo"
	if ! grep -rqs '^[^#]*bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/
	then
		echo 'deb http://deb.debian.org/debian bookworm-backports main' |
			$sudo tee /etc/apt/sources.list.d/backports.list >/dev/null
	fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
		-t bookworm-backports pkcs11-provider >/dev/null
fi
# nginx is only run by the tests, as an unprivileged foreground process with its own config.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
	systemctl stop nginx || true
fi
echo "deps: all present"
