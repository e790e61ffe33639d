#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# shaken-passport sign / verify / decode round trips over a test STI PKI written by shaken-pki:
# the --json verdict checked with jq, exit codes 0/1/2, and one negative case per kind of
# failure (PASSporT checks and STI certificate checks), each asserting verstat and code.
set -euo pipefail

build=${SHAKEND_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
sp=$build/tools/shaken-passport
pki=$build/tools/shaken-pki
command -v jq >/dev/null 2>&1 || { echo "FAIL: jq not installed (platform/deps.sh)"; exit 1; }
for b in "$sp" "$pki"; do
	[[ -x $b ]] || { echo "FAIL: $b not built"; exit 1; }
done

tmp=$(mktemp -d /tmp/passport_cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
"$pki" --out pki >/dev/null

fails=0 n=0
pass() { n=$((n + 1)); echo "ok   - $1"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL - $1"; }

orig=12155551212
dest=12125551213
x5u=https://cert.example.com/sp/leaf-chain.pem
now=$(date +%s)
uuid=0b7d6f2e-4a4e-4c63-9f3e-6d1f2a3b4c5d

b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# sign_as NAME KEY [extra sign args...] -> Identity value in file NAME.id
sign_as() {
	local name=$1 key=$2
	shift 2
	"$sp" sign --key "pki/$key" --x5u "$x5u" --attest A --orig "+1-215-555-1212" \
		--dest "$dest" --origid "$uuid" --iat "$now" "$@" >"$name.id"
}

# expect NAME EXIT VERSTAT CODE CHECK [CERT_FAILURE] -- verify args...
# Runs verify --json, asserts the exit status and the JSON fields.
expect() {
	local name=$1 want_rc=$2 verstat=$3 code=$4 check=$5 certfail="" rc=0
	shift 5
	if [[ ${1:-} != -- ]]; then
		certfail=$1
		shift
	fi
	shift
	"$sp" verify --json "$@" >out.json 2>err.txt || rc=$?
	if [[ $rc -ne $want_rc ]]; then
		fail "$name: exit $rc (want $want_rc): $(cat err.txt) $(cat out.json)"
		return
	fi
	if ! jq -e --arg v "$verstat" --argjson c "$code" --arg k "$check" \
		'.verstat == $v and .code == $c and .check == $k' out.json >/dev/null; then
		fail "$name: got $(jq -c '[.verstat, .code, .check, .detail]' out.json)," \
			"want [$verstat, $code, $check]"
		return
	fi
	if [[ -n $certfail ]] && ! jq -e --arg f "$certfail" '.cert.failure == $f' out.json \
		>/dev/null; then
		fail "$name: cert failure $(jq -c .cert out.json), want $certfail"
		return
	fi
	pass "$name: $verstat $code $check${certfail:+ ($certfail)}"
}

trust=(--trust pki/trust)
tns=(--orig "$orig" --dest "$dest")

# ---- round trips ---------------------------------------------------------------------------
sign_as good leaf.key
expect "sign -> verify with STI checks" 0 TN-Validation-Passed 200 ok -- \
	--identity @good.id --cert pki/leaf-chain.pem "${trust[@]}" "${tns[@]}" --now "$now"
if jq -e --arg o "$orig" --arg d "$dest" --arg u "$uuid" --argjson i "$now" --arg x "$x5u" \
	'.attest == "A" and .orig == $o and .dest == [$d] and .origid == $u and .iat == $i and
	 .x5u == $x and .reason == "OK" and .cert.checked == true and .cert.spc == "1234" and
	 .cert.source == "file" and (has("warning") | not)' out.json >/dev/null; then
	pass "verdict JSON fields (attest orig dest origid iat x5u reason cert.spc)"
else
	fail "verdict JSON fields: $(cat out.json)"
fi

expect "verify without --trust (signature only)" 0 TN-Validation-Passed 200 ok -- \
	--identity @good.id --cert pki/leaf-chain.pem "${tns[@]}" --now "$now"
if jq -e '.cert.checked == false and (.warning | length > 0)' out.json >/dev/null &&
	grep -q 'warning: no --trust' err.txt; then
	pass "without --trust: warning on stderr and in the JSON"
else
	fail "without --trust warning: $(cat err.txt) $(cat out.json)"
fi

for a in A B C; do
	"$sp" sign --key pki/leaf.key --x5u "$x5u" --attest "$a" --orig "$orig" \
		--dest 12125551213,12125551214 --dest +1-212-555-1215 >multi.id
	expect "attest $a, three dest TNs, called TN is the third" 0 TN-Validation-Passed 200 ok \
		-- --identity @multi.id --cert pki/leaf-chain.pem "${trust[@]}" --orig "$orig" \
		--dest 12125551215
	jq -e --arg a "$a" '.attest == $a and (.dest | length) == 3' out.json >/dev/null &&
		pass "attest $a reported" || fail "attest $a: $(cat out.json)"
done
if jq -e '.origid | test("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")' \
	out.json >/dev/null; then
	pass "default origid is a random UUID v4"
else
	fail "default origid: $(jq .origid out.json)"
fi

# Identity value given as a whole header line, and verify with no TN to compare
printf 'Identity: %s\r\n' "$(cat good.id)" >line.id
expect "value read from a header line in a file" 0 TN-Validation-Passed 200 ok -- \
	--identity @line.id --cert pki/leaf-chain.pem --now "$now"

# SIP INVITE in, Identity header inserted, then verified from the whole message
cat >invite.sip <<'EOF'
INVITE sip:+12125551213@sbc.example.net;user=phone SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-1
Max-Forwards: 70
From: <sip:+12155551212@198.51.100.7;user=phone>;tag=1
To: <sip:+12125551213@sbc.example.net;user=phone>
Call-ID: cli-1@192.0.2.10
CSeq: 1 INVITE
P-Asserted-Identity: <tel:+1-215-555-1212>
Content-Length: 0

EOF
sed -i 's/$/\r/' invite.sip
"$sp" sign --key pki/leaf.key --x5u "$x5u" --attest A --sip @invite.sip --emit-sip >signed.sip
grep -q '^Identity: ' signed.sip && pass "sign --sip --emit-sip inserts Identity" ||
	fail "no Identity header in signed.sip"
expect "verify --sip (TNs from PAI and To)" 0 TN-Validation-Passed 200 ok -- \
	--sip @signed.sip --cert pki/leaf-chain.pem "${trust[@]}"
jq -e '.calling_tn == "12155551212" and .called_tn == "12125551213"' out.json >/dev/null &&
	pass "calling/called TN taken from the INVITE" || fail "TNs: $(cat out.json)"
expect "--sip without Identity: No-TN-Validation 428" 1 No-TN-Validation 428 no-identity -- \
	--sip @invite.sip --cert pki/leaf-chain.pem
sed 's/^To: .*/To: <sip:+12125559999@sbc.example.net;user=phone>\r/' signed.sip >retarget.sip
expect "--sip with To changed after signing" 1 TN-Validation-Failed 438 dest -- \
	--sip @retarget.sip --cert pki/leaf-chain.pem

# decode
"$sp" decode @good.id >dec.json
if jq -e --arg x "$x5u" --arg o "$orig" '.header.alg == "ES256" and .header.ppt == "shaken" and
	.header.x5u == $x and .claims.orig.tn == $o and .claims.attest == "A" and
	.parameters.info == $x and .parameters.ppt == "shaken" and .signature_bytes == 64 and
	.strict == "ok" and .compact == false' dec.json >/dev/null; then
	pass "decode prints header, claims and parameters"
else
	fail "decode: $(cat dec.json)"
fi
"$sp" decode "$(cut -d';' -f1 good.id)" | jq -e '.claims.dest.tn == ["12125551213"]' \
	>/dev/null && pass "decode of a bare token" || fail "decode of a bare token"

# ---- exit status 2: usage errors -----------------------------------------------------------
usage() { # NAME args...
	local name=$1 rc=0
	shift
	"$sp" "$@" >/dev/null 2>err.txt || rc=$?
	[[ $rc -eq 2 ]] && pass "usage error: $name" || fail "usage error $name: exit $rc"
}
usage "no command"
usage "unknown command" frobnicate
usage "unknown option" verify --bogus
usage "verify without --identity" verify --cert pki/leaf.pem
usage "identity file missing" verify --identity @/nonexistent --cert pki/leaf.pem
usage "sign without --key" sign --x5u "$x5u" --attest A --orig "$orig" --dest "$dest"
usage "attest D" sign --key pki/leaf.key --x5u "$x5u" --attest D --orig "$orig" --dest "$dest"
usage "orig not a TN" sign --key pki/leaf.key --x5u "$x5u" --attest A --orig abc --dest "$dest"
usage "x5u over http" sign --key pki/leaf.key --x5u http://cert.example.com/c.pem --attest A \
	--orig "$orig" --dest "$dest"
# A PKCS#11 key without any PIN source is refused before anything is signed (tests/hsm_cli.sh
# signs through a real SoftHSM2 token).
unset SHAKEND_HSM_PIN
usage "pkcs11 key without a PIN" sign --key "pkcs11:token=sp;object=leaf" \
	--x5u "$x5u" --attest A --orig "$orig" --dest "$dest"
grep -qi 'pkcs#11' err.txt && pass "pkcs11: URI gets a clear message" || fail "pkcs11 message"
usage "P-384 key refused for ES256" sign --key pki/leaf-p384.key --x5u "$x5u" --attest A \
	--orig "$orig" --dest "$dest"
usage "--now not a number" verify --identity @good.id --now soon
usage "--crl without --trust" verify --identity @good.id --cert pki/leaf.pem --crl pki/sti-pa.crl
usage "decode without a value" decode
"$sp" --help >/dev/null && pass "--help exits 0" || fail "--help"

# ---- PASSporT failures ---------------------------------------------------------------------
value=$(cat good.id)
tok=${value%%;*}
params=${value#*;}
hdr=${tok%%.*}
rest=${tok#*.}
claims=${rest%%.*}
sig=${rest#*.}

tampered_claims=$("$sp" decode @good.id | jq -c '.claims.dest.tn = ["12125559999"]' |
	jq -cj .claims | b64u)
echo "$hdr.$tampered_claims.$sig;$params" >tampered.id
expect "tampered claims" 1 TN-Validation-Failed 438 signature -- --identity @tampered.id \
	--cert pki/leaf-chain.pem "${trust[@]}" --orig "$orig" --dest 12125559999 --now "$now"
flip=${sig:0:10}$([[ ${sig:10:1} == A ]] && echo B || echo A)${sig:11}
echo "$hdr.$claims.$flip;$params" >badsig.id
expect "tampered signature" 1 TN-Validation-Failed 438 signature -- --identity @badsig.id \
	--cert pki/leaf-chain.pem "${tns[@]}" --now "$now"
expect "signed by another key than the x5u certificate's" 1 TN-Validation-Failed 438 \
	signature -- --identity @good.id --cert pki/leaf-notnauth-chain.pem "${tns[@]}" \
	--now "$now"
expect "stale iat (--now iat+61)" 1 TN-Validation-Failed 403 stale -- --identity @good.id \
	--cert pki/leaf-chain.pem "${tns[@]}" --now $((now + 61))
jq -e '.reason == "Stale Date"' out.json >/dev/null && pass "403 reason Stale Date" ||
	fail "403 reason: $(jq .reason out.json)"
expect "--freshness 120 accepts iat+61" 0 TN-Validation-Passed 200 ok -- \
	--identity @good.id --cert pki/leaf-chain.pem "${tns[@]}" --now $((now + 61)) \
	--freshness 120
expect "iat in the future" 1 TN-Validation-Failed 403 future -- --identity @good.id \
	--cert pki/leaf-chain.pem "${tns[@]}" --now $((now - 60))
expect "orig mismatch" 1 TN-Validation-Failed 438 orig -- --identity @good.id \
	--cert pki/leaf-chain.pem --orig 12155550000 --dest "$dest" --now "$now"
expect "dest mismatch" 1 TN-Validation-Failed 438 dest -- --identity @good.id \
	--cert pki/leaf-chain.pem --orig "$orig" --dest 12125550000 --now "$now"
echo "$tok;info=<https://other.example.com/leaf.pem>;alg=ES256;ppt=shaken" >wronginfo.id
expect "x5u differs from info" 1 TN-Validation-Failed 436 x5u-info -- \
	--identity @wronginfo.id --cert pki/leaf-chain.pem "${tns[@]}" --now "$now"
echo "$tok;info=<http://cert.example.com/sp/leaf-chain.pem>;alg=ES256;ppt=shaken" >httpinfo.id
expect "info not https" 1 TN-Validation-Failed 436 info -- --identity @httpinfo.id \
	--cert pki/leaf-chain.pem "${tns[@]}" --now "$now"
echo "$tok;alg=ES256;ppt=shaken" >noinfo.id
expect "info absent" 1 TN-Validation-Failed 436 info -- --identity @noinfo.id \
	--cert pki/leaf-chain.pem "${tns[@]}" --now "$now"
echo "$tok;info=<$x5u>;alg=RS256;ppt=shaken" >alg.id
expect "alg RS256" 1 TN-Validation-Failed 438 alg -- --identity @alg.id \
	--cert pki/leaf-chain.pem "${tns[@]}" --now "$now"
echo "not a token" >garbage.id
expect "garbage Identity value" 1 TN-Validation-Failed 438 syntax -- --identity @garbage.id \
	--cert pki/leaf-chain.pem "${tns[@]}" --now "$now"

# x5u fetched (no --cert): loopback refused by the SSRF guard, nothing validated
"$sp" sign --key pki/leaf.key --x5u https://127.0.0.1/sp/leaf-chain.pem --attest A \
	--orig "$orig" --dest "$dest" --iat "$now" >loop.id
expect "x5u on loopback refused (no --allow-host)" 1 No-TN-Validation 436 cert-fetch fetch \
	-- --identity @loop.id "${tns[@]}" --now "$now"
jq -e '.cert.fetch == "blocked" and .cert.source == "x5u"' out.json >/dev/null &&
	pass "fetch failure kind reported (blocked)" || fail "fetch kind: $(jq -c .cert out.json)"

# ---- STI certificate failures (--trust) ----------------------------------------------------
cert_case() { # NAME VARIANT FAILURE [extra verify args]
	local name=$1 variant=$2 failure=$3
	shift 3
	sign_as "$variant" "$variant.key"
	expect "$name" 1 TN-Validation-Failed 437 cert-invalid "$failure" -- \
		--identity "@$variant.id" --cert "pki/$variant-chain.pem" "${trust[@]}" \
		"${tns[@]}" --now "$now" "$@"
}
cert_case "expired certificate" leaf-expired expired
cert_case "not-yet-valid certificate" leaf-notyet not-yet-valid
cert_case "untrusted certificate" leaf-untrusted untrusted
cert_case "revoked certificate (CA CRL)" leaf-revoked revoked --crl pki/trust/ca.crl
cert_case "revoked certificate (STI-PA CRL)" leaf-revoked revoked --crl pki/sti-pa.crl \
	--crl-signer pki/sti-pa.pem
cert_case "certificate without TNAuthList" leaf-notnauth no-tnauthlist
cert_case "certificate without the SHAKEN policy" leaf-nopolicy policy
cert_case "certificate with another policy" leaf-wrongpolicy policy
cert_case "CA certificate as leaf" leaf-ca ca-leaf
cert_case "keyUsage without digitalSignature" leaf-ku key-usage
expect "P-384 certificate for an ES256 PASSporT" 1 TN-Validation-Failed 437 cert-invalid key \
	-- --identity @good.id --cert pki/leaf-p384-chain.pem "${trust[@]}" "${tns[@]}" --now "$now"
"$sp" sign --key pki/leaf-tn.key --x5u "$x5u" --attest A --orig 12155551350 --dest "$dest" \
	--iat "$now" >tnrange.id
expect "TNAuthList range covers orig" 0 TN-Validation-Passed 200 ok -- --identity @tnrange.id \
	--cert pki/leaf-tn-chain.pem "${trust[@]}" --orig 12155551350 --dest "$dest" --now "$now"
"$sp" sign --key pki/leaf-tn.key --x5u "$x5u" --attest A --orig 12155559999 --dest "$dest" \
	--iat "$now" >tnout.id
expect "TNAuthList does not cover orig" 1 TN-Validation-Failed 437 cert-invalid \
	tn-not-covered -- --identity @tnout.id --cert pki/leaf-tn-chain.pem "${trust[@]}" \
	--orig 12155559999 --dest "$dest" --now "$now"
sign_as revoked leaf-revoked.key
expect "revoked certificate passes when no CRL is loaded" 0 TN-Validation-Passed 200 ok -- \
	--identity @revoked.id --cert pki/leaf-revoked-chain.pem --trust pki/ca-root.pem \
	"${tns[@]}" --now "$now"
expect "trust directory brings its CRL along" 1 TN-Validation-Failed 437 cert-invalid revoked \
	-- --identity @revoked.id --cert pki/leaf-revoked-chain.pem "${trust[@]}" "${tns[@]}" \
	--now "$now"

echo "passport_cli: $((n - fails))/$n passed"
((fails == 0))
