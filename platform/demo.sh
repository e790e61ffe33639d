#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# shakend demo, from a fresh Debian 12: install the dependencies, build, make a test STI PKI,
# sign a SHAKEN PASSporT for the sample INVITE (platform/demo/invite.sip), insert the Identity
# header, verify it, then show a tampered and a stale one failing (offline part, steps 1-8).
# Then live (step 9, tests/e2e_sipp.sh): a SoftHSM2 token with a key made by shaken-hsm and
# its certificate from the test STI-CA, served by nginx on loopback; shakend on net_af_packet
# over veth pairs into network namespaces; sipp calls signed (sign-redirect), verified
# (verify-redirect, secsipidx-signed, plus tampered ones) and carried through shakend inline
# between a sipp UAC and a sipp UAS; a summary of outcomes, rates and shakend's counters.
# The live part needs root and ip netns; without them it is skipped (said so, exit 0).
# Exits non-zero when any expectation fails.
#   SHAKEND_DEMO_NO_DEPS=1  skip platform/deps.sh (dependencies already installed)
#   SHAKEND_DEMO_BUILD=DIR  build directory (default: build-demo)
#   SHAKEND_DEMO_NO_BUILD=1 use the tools already built in that directory
#   SHAKEND_DEMO_NO_LIVE=1  skip the live part
#   SHAKEND_DEMO_CALLS=N    calls per sipp run in the live part (default 50, at 25 calls/s)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
builddir=${SHAKEND_DEMO_BUILD:-build-demo}

if [[ -t 1 ]]; then
	B=$'\e[1m' G=$'\e[32m' R=$'\e[31m' N=$'\e[0m'
else
	B='' G='' R='' N=''
fi
step() { printf '\n%s==> %s%s\n' "$B" "$*" "$N"; }
good() { printf '%s  OK  %s%s\n' "$G" "$*" "$N"; }
bad() { printf '%s  FAILED  %s%s\n' "$R" "$*" "$N"; failures=$((failures + 1)); }
failures=0

step "1. Dependencies (platform/deps.sh)"
if [[ ${SHAKEND_DEMO_NO_DEPS:-0} == 1 ]]; then
	echo "skipped (SHAKEND_DEMO_NO_DEPS=1)"
else
	bash platform/deps.sh
fi

step "2. Build ($builddir)"
if [[ ${SHAKEND_DEMO_NO_BUILD:-0} == 1 ]]; then
	echo "skipped (SHAKEND_DEMO_NO_BUILD=1)"
else
	if [[ ! -d $builddir ]]; then
		meson setup "$builddir" >/dev/null
	fi
	ninja -C "$builddir" | tail -n 1
fi
sp=$root/$builddir/tools/shaken-passport
pki=$root/$builddir/tools/shaken-pki
shakend=$root/$builddir/dataplane/shakend

tmp=$(mktemp -d /tmp/shakend-demo.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

step "3. A test STI PKI (shaken-pki): STI-PA, STI-CA root, SP certificate with TNAuthList"
"$pki" --out "$tmp/pki" | head -n 1
openssl x509 -in "$tmp/pki/leaf.pem" -noout -subject -issuer -enddate | sed 's/^/    /'

invite=platform/demo/invite.sip
x5u=https://cert.sp.example.com/sti/leaf-chain.pem

step "4. The sample INVITE ($invite)"
tr -d '\r' <"$invite" | sed 's/^/    /'

step "5. Sign: TNs taken from the INVITE (P-Asserted-Identity, To), attest A"
"$sp" sign --key "$tmp/pki/leaf.key" --x5u "$x5u" --attest A --sip "@$invite" --emit-sip \
	>"$tmp/signed.sip"
identity=$(tr -d '\r' <"$tmp/signed.sip" | sed -n 's/^Identity: //p')
if [[ -n $identity ]]; then
	good "Identity header inserted"
else
	bad "no Identity header in the signed INVITE"
fi
tr -d '\r' <"$tmp/signed.sip" | sed -E 's/^(Identity: .{60}).*(;info=.*)$/\1...\2/' |
	sed 's/^/    /'
echo "  The PASSporT inside (shaken-passport decode):"
"$sp" decode "$identity" | jq -c '{header, claims}' | sed 's/^/    /'

# verify_case TITLE EXPECT_VERSTAT EXPECT_CODE SIPFILE [brief]
verify_case() {
	local title=$1 want_verstat=$2 want_code=$3 file=$4 brief=${5:-} rc=0 verstat code
	"$sp" verify --sip "@$file" --cert "$tmp/pki/leaf-chain.pem" --trust "$tmp/pki/trust" \
		--json >"$tmp/verdict.json" 2>"$tmp/err.txt" || rc=$?
	if [[ $rc -gt 1 ]]; then
		bad "$title: verify could not run: $(cat "$tmp/err.txt")"
		return
	fi
	if [[ -n $brief ]]; then
		jq -c '{verstat, code, reason, check, detail, attest, iat, now}' \
			"$tmp/verdict.json" | sed 's/^/    /'
	else
		jq . "$tmp/verdict.json" | sed 's/^/    /'
	fi
	verstat=$(jq -r .verstat "$tmp/verdict.json")
	code=$(jq -r .code "$tmp/verdict.json")
	if [[ $verstat == "$want_verstat" && $code == "$want_code" ]]; then
		good "$title: $verstat, $code $(jq -r .reason "$tmp/verdict.json")" \
			"- $(jq -r .detail "$tmp/verdict.json")"
	else
		bad "$title: got $verstat $code, expected $want_verstat $want_code"
	fi
}

step "6. Verify the signed INVITE (STI-VS checks + STI certificate checks)"
verify_case "signed INVITE" TN-Validation-Passed 200 "$tmp/signed.sip"

step "7. Tampered: attestation changed from B to A after signing"
"$sp" sign --key "$tmp/pki/leaf.key" --x5u "$x5u" --attest B --sip "@$invite" \
	>"$tmp/b.id"
b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
value=$(cat "$tmp/b.id")
tok=${value%%;*}
claims=$("$sp" decode "$value" | jq -cj '.claims | .attest = "A"' | b64u)
forged="${tok%%.*}.$claims.${tok##*.};${value#*;}"
awk -v id="Identity: $forged" '/^\r?$/ && !done { printf "%s\r\n", id; done = 1 } { print }' \
	"$invite" >"$tmp/tampered.sip"
echo "  claims now: $("$sp" decode "$forged" | jq -c .claims)"
verify_case "tampered PASSporT" TN-Validation-Failed 438 "$tmp/tampered.sip" brief

step "8. Stale: a PASSporT signed 5 minutes ago (replayed INVITE)"
"$sp" sign --key "$tmp/pki/leaf.key" --x5u "$x5u" --attest A --sip "@$invite" --emit-sip \
	--iat $(($(date +%s) - 300)) >"$tmp/stale.sip"
verify_case "stale PASSporT" TN-Validation-Failed 403 "$tmp/stale.sip" brief

step "9. Live: shakend on veth pairs, sipp calls signed and verified (tests/e2e_sipp.sh)"
live_skip=
if [[ ${SHAKEND_DEMO_NO_LIVE:-0} == 1 ]]; then
	live_skip="SHAKEND_DEMO_NO_LIVE=1"
elif [[ $(id -u) != 0 ]]; then
	live_skip="not root (network namespaces and af_packet need it): run the demo with sudo"
elif ! { command -v ip >/dev/null && ip netns list >/dev/null 2>&1; }; then
	live_skip="no ip netns here (a container without CAP_SYS_ADMIN?)"
elif [[ ! -x $shakend ]]; then
	live_skip="shakend was not built in $builddir (DPDK missing? see platform/deps.sh)"
fi
if [[ -n $live_skip ]]; then
	printf '%s  SKIPPED  the live part: %s%s\n' "$B" "$live_skip" "$N"
else
	cat <<EOF
  Namespaces and veth pairs (all addresses from the documentation ranges, nothing leaves
  this host): 192.0.2.2 (sipp) -- shakend 192.0.2.1 :5060 sign-redirect, :5070 verify-redirect;
  198.51.100.2 (sipp UAC) -- shakend inline (2 ports) -- 198.51.100.3 (sipp UAS).
  Certificates fetched by shakend over HTTPS from nginx on 127.0.5.1:8443.
EOF
	live_rc=0
	SHAKEND_BUILD=$root/$builddir E2E_CALLS=${SHAKEND_DEMO_CALLS:-50} E2E_RATE=25 \
		SHAKEND_E2E_SUMMARY=$tmp/live-summary.txt bash tests/e2e_sipp.sh 2>&1 |
		sed 's/^/    /' || live_rc=$?
	case $live_rc in
	0) good "live: every call signed, verified and completed as expected" ;;
	77) printf '%s  SKIPPED  the live part (see the SKIP line above)%s\n' "$B" "$N"
	    live_skip="a prerequisite is missing" ;;
	*) bad "live: tests/e2e_sipp.sh reported failures (exit $live_rc)" ;;
	esac
fi

echo
step "Summary"
echo "  offline: sign, verify, tampered (438) and stale (403) with shaken-passport"
if [[ -n $live_skip ]]; then
	echo "  live:    skipped ($live_skip)"
elif [[ -s $tmp/live-summary.txt ]]; then
	echo "  live:    outcomes and rates (sipp's statistics; shakend's --stats counters)"
	sed 's/^/    /' "$tmp/live-summary.txt"
fi

echo
if ((failures == 0)); then
	printf '%sdemo: every expectation met%s\n' "$G$B" "$N"
else
	printf '%sdemo: %d expectation(s) failed%s\n' "$R$B" "$failures" "$N"
	exit 1
fi
