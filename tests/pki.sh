#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# shaken-pki output checked independently with the openssl CLI: chains verify, the TNAuthList
# extension holds the DER we asked for, the CRLs verify and list the revoked leaf, the SPC token
# verifies under the STI-PA key, private keys are mode 0600, serials are unique.
# Exit 77 (skipped) when a needed tool is missing.
set -euo pipefail

build=${SHAKEND_BUILD:-}
pki=${build:+$build/tools/shaken-pki}
for t in openssl basenc base64 od stat xxd; do
	command -v "$t" >/dev/null || { echo "SKIP: $t not found"; exit 77; }
done
[[ -n $pki && -x $pki ]] || { echo "SKIP: shaken-pki not built (SHAKEND_BUILD=$build)"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # check DESCRIPTION COMMAND...
	local what=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/     /' "$tmp/out"; fi
}
refuse() { # refuse DESCRIPTION COMMAND...: the command must fail
	local what=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then bad "$what (unexpectedly succeeded)"; else ok "$what"; fi
}
hexof() { od -An -v -tx1 | tr -d ' \n'; }
b64u_dec() { # base64url (no padding) on stdin to bytes on stdout
	local s
	s=$(cat)
	case $((${#s} % 4)) in 2) s+="==" ;; 3) s+="=" ;; esac
	printf '%s' "$s" | basenc --base64url -d
}
# hex of the TNAuthList extension value (the DER inside the OCTET STRING) of a certificate
tnauth_hex() {
	openssl asn1parse -in "$1" | awk '/:1\.3\.6\.1\.5\.5\.7\.1\.26/ { want = 1; next }
		want && /OCTET STRING/ { sub(/.*\[HEX DUMP\]:/, ""); print tolower($0); exit }'
}

d=$tmp/pki
start=$(date +%s%N)
check "shaken-pki runs" "$pki" --out "$d" --spc 5678 --intermediate --tn 12155551000 \
	--range 12155552000:100 --days 10 --crl-url http://crl.test/sti.crl
echo "     ($(( ($(date +%s%N) - start) / 1000000 )) ms)"
cd "$d"

# chains
check "leaf chains to the root through the intermediate" \
	openssl verify -CAfile ca-root.pem -untrusted ca-int.pem leaf.pem
check "leaf-tn chains" openssl verify -CAfile ca-root.pem -untrusted ca-int.pem leaf-tn.pem
refuse "leaf without its intermediate does not chain" openssl verify -CAfile ca-root.pem leaf.pem
refuse "leaf-untrusted does not chain to the STI-CA root" \
	openssl verify -CAfile ca-root.pem -untrusted ca-int.pem leaf-untrusted.pem
check "leaf-untrusted chains to untrusted-root.pem" \
	openssl verify -CAfile untrusted-root.pem leaf-untrusted.pem
refuse "leaf-expired fails verification" \
	openssl verify -CAfile ca-root.pem -untrusted ca-int.pem leaf-expired.pem
refuse "leaf-notyet fails verification" \
	openssl verify -CAfile ca-root.pem -untrusted ca-int.pem leaf-notyet.pem
check "chain.pem holds leaf then intermediate" \
	bash -c '[[ $(grep -c "BEGIN CERTIFICATE" chain.pem) == 2 ]] &&
		diff <(openssl x509 -in chain.pem) <(openssl x509 -in leaf.pem)'

# extensions of the good leaf
openssl x509 -in leaf.pem -noout -text >"$tmp/leaf.txt"
check "leaf: TNAuthList OID present" grep -q "1.3.6.1.5.5.7.1.26" "$tmp/leaf.txt"
check "leaf: SHAKEN policy OID" grep -q "Policy: 2.16.840.1.114569.1.1.3" "$tmp/leaf.txt"
check "leaf: keyUsage critical digitalSignature" \
	grep -A1 -q "Key Usage: critical" "$tmp/leaf.txt"
check "leaf: digitalSignature only" bash -c "grep -A1 'Key Usage: critical' '$tmp/leaf.txt' |
	tail -1 | grep -qx ' *Digital Signature'"
check "leaf: basicConstraints critical CA:FALSE" \
	bash -c "grep -A1 'Basic Constraints: critical' '$tmp/leaf.txt' | grep -q CA:FALSE"
check "leaf: CRL distribution point" grep -q "URI:http://crl.test/sti.crl" "$tmp/leaf.txt"
check "leaf: subject and authority key ids" bash -c "grep -q 'Subject Key Identifier' \
	'$tmp/leaf.txt' && grep -q 'Authority Key Identifier' '$tmp/leaf.txt'"
check "leaf: EC P-256" grep -q "NIST CURVE: P-256" "$tmp/leaf.txt"
# SEQUENCE { [0] "5678", [2] "12155551000", [1] { "12155552000", 100 } }
want=302ba006160435363738a20d160b3132313535353531303030a1123010160b31323135353535323030300201
want+=64
check "leaf: TNAuthList DER" test "$(tnauth_hex leaf.pem)" = "$want"
check "leaf-revoked: TNAuthList DER is SPC 5678 only" \
	test "$(tnauth_hex leaf-revoked.pem)" = 3008a006160435363738
check "leaf-notnauth: no TNAuthList" \
	bash -c '! openssl x509 -in leaf-notnauth.pem -noout -text | grep -q 1.3.6.1.5.5.7.1.26'
check "leaf-p384: EC P-384" bash -c \
	'openssl x509 -in leaf-p384.pem -noout -text | grep -q "NIST CURVE: P-384"'
check "leaf-nopolicy: no certificatePolicies" bash -c \
	'! openssl x509 -in leaf-nopolicy.pem -noout -text | grep -q "Certificate Policies"'
check "leaf-wrongpolicy: another policy" bash -c \
	'openssl x509 -in leaf-wrongpolicy.pem -noout -text | grep -q "Policy: 1.3.6.1.4.1.99999.1"'
check "leaf-ca: CA:TRUE" bash -c \
	'openssl x509 -in leaf-ca.pem -noout -text | grep -q "CA:TRUE"'
check "root is a CA" bash -c 'openssl x509 -in ca-root.pem -noout -text | grep -q "CA:TRUE"'

# CRLs
rev=$(openssl x509 -in leaf-revoked.pem -noout -serial | cut -d= -f2)
check "sti-pa.crl signature verifies with the STI-PA certificate" \
	bash -c 'openssl crl -in sti-pa.crl -CAfile sti-pa.pem -noout 2>&1 | grep -q "verify OK"'
refuse "sti-pa.crl does not verify with the STI-CA root" \
	bash -c 'openssl crl -in sti-pa.crl -CAfile ca-root.pem -noout 2>&1 | grep -q "verify OK"'
check "sti-pa.crl lists leaf-revoked ($rev)" \
	bash -c "openssl crl -in sti-pa.crl -noout -text | grep -q 'Serial Number: $rev'"
check "trust/ca.crl lists leaf-revoked" \
	bash -c "openssl crl -in trust/ca.crl -noout -text | grep -q 'Serial Number: $rev'"
refuse "CRL check rejects leaf-revoked" openssl verify -crl_check -CRLfile trust/ca.crl \
	-CAfile ca-root.pem -untrusted ca-int.pem leaf-revoked.pem
check "CRL check accepts leaf" openssl verify -crl_check -CRLfile trust/ca.crl \
	-CAfile ca-root.pem -untrusted ca-int.pem leaf.pem

# file modes, serials
keymodes=$(stat -c '%a' ./*.key | sort -u)
check "private keys are mode 0600 ($(ls ./*.key | wc -l) keys)" test "$keymodes" = 600
check "certificates are mode 0644" test "$(stat -c '%a' leaf.pem ca-root.pem)" = "644
644"
for f in ./*.pem; do
	[[ $f == *-chain.pem || $f == ./chain.pem ]] && continue
	openssl x509 -in "$f" -noout -serial
done | sort >"$tmp/serials"
check "serials unique ($(wc -l <"$tmp/serials") certificates)" \
	test -z "$(uniq -d "$tmp/serials")"

# SPC token: header, claims, ES256 signature by the STI-PA
IFS=. read -r th tc ts <spc-token.jwt
hdr=$(printf '%s' "$th" | b64u_dec)
claims=$(printf '%s' "$tc" | b64u_dec)
check "SPC token header" test "$hdr" = \
	'{"alg":"ES256","typ":"JWT","x5u":"https://sti-pa.example.org/sti-pa.pem"}'
check "SPC token tktype TNAuthList, ca false" \
	bash -c "grep -q '\"atc\":{\"ca\":false,' <<<'$claims' &&
		grep -q '\"tktype\":\"TNAuthList\"' <<<'$claims'"
tkvalue=$(sed 's/.*"tkvalue":"\([^"]*\)".*/\1/' <<<"$claims")
check "SPC token tkvalue is the SPC TNAuthList" \
	test "$(printf '%s' "$tkvalue" | base64 -d | hexof)" = 3008a006160435363738
fp=$(openssl pkey -in sp-account.key -pubout -outform DER | openssl dgst -sha256 -r |
	cut -d' ' -f1 | tr a-f A-F | sed 's/../&:/g; s/:$//')
check "SPC token fingerprint is the account key's" grep -q "\"fingerprint\":\"SHA256 $fp\"" \
	<<<"$claims"
exp=$(sed 's/.*"exp":\([0-9]*\).*/\1/' <<<"$claims")
check "SPC token exp in the future" test "$exp" -gt "$(date +%s)"
# raw r||s to a DER ECDSA-Sig-Value
sig=$(printf '%s' "$ts" | b64u_dec | hexof)
derint() { # minimal DER INTEGER of a 32-byte hex value
	local v=$1
	while [[ ${v:0:2} == 00 && ${#v} -gt 2 ]]; do v=${v:2}; done
	(( 16#${v:0:1} >= 8 )) && v=00$v
	printf '02%02x%s' $((${#v} / 2)) "$v"
}
body=$(derint "${sig:0:64}")$(derint "${sig:64:64}")
printf '30%02x%s' $((${#body} / 2)) "$body" | xxd -r -p >"$tmp/sig.der"
printf '%s.%s' "$th" "$tc" >"$tmp/input"
openssl x509 -in sti-pa.pem -pubkey -noout >"$tmp/pa.pub"
check "SPC token ES256 signature verifies with the STI-PA key" \
	openssl dgst -sha256 -verify "$tmp/pa.pub" -signature "$tmp/sig.der" "$tmp/input"
openssl x509 -in ca-root.pem -pubkey -noout >"$tmp/ca.pub"
refuse "SPC token does not verify with the STI-CA key" \
	openssl dgst -sha256 -verify "$tmp/ca.pub" -signature "$tmp/sig.der" "$tmp/input"

# without an intermediate, the leaf is issued by the root
check "shaken-pki without --intermediate" "$pki" --out "$tmp/flat"
check "flat: leaf chains to the root directly" \
	openssl verify -CAfile "$tmp/flat/ca-root.pem" "$tmp/flat/leaf.pem"
check "flat: no intermediate written" test ! -e "$tmp/flat/ca-int.pem"
check "flat: default SPC 1234" test "$(tnauth_hex "$tmp/flat/leaf.pem")" = 3008a006160431323334

# usage errors
refuse "no --out" "$pki"
refuse "range count 1" "$pki" --out "$tmp/x" --range 12155551000:1
refuse "bad TN" "$pki" --out "$tmp/x" --tn 12ab
refuse "bad policy OID" "$pki" --out "$tmp/x" --policy-oid not.an.oid
refuse "SPC with a quote" "$pki" --out "$tmp/x" --spc 'a"b'

echo "pki: $fails failure(s)"
((fails == 0))
