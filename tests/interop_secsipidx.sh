#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Interoperability with secsipidx (asipto, the Go library behind Kamailio's secsipid module),
# both ways, for attest A, B and C and with one and several dest TNs:
#   secsipidx signs      -> shaken-passport verify (STI checks with --trust) passes;
#   shaken-passport signs -> secsipidx -check (signature, time validity, custom root CA) passes;
#   a tampered value fails in both. Exit 77 only when secsipidx is not installed.
set -euo pipefail

command -v secsipidx >/dev/null 2>&1 || { echo "SKIP: secsipidx not installed"; exit 77; }
command -v jq >/dev/null 2>&1 || { echo "FAIL: jq not installed (platform/deps.sh)"; exit 1; }
build=${SHAKEND_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
sp=$build/tools/shaken-passport
pki=$build/tools/shaken-pki
for b in "$sp" "$pki"; do
	[[ -x $b ]] || { echo "FAIL: $b not built"; exit 1; }
done

tmp=$(mktemp -d /tmp/interop_secsipidx.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
"$pki" --out pki >/dev/null

fails=0 n=0
pass() { n=$((n + 1)); echo "ok   - $1"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL - $1"; }

orig=12155551212
x5u=https://cert.example.com/sp/leaf-chain.pem
# secsipidx -check: -p takes the certificate (its key), -cert-verify 5 = time validity (1)
# + custom root CA file (4), -expire = freshness of iat in seconds.
sx_check=(-check -p pki/leaf.pem -ca-file pki/ca-root.pem -cert-verify 5 -expire 60)
sp_verify=(verify --cert pki/leaf-chain.pem --trust pki/trust --orig "$orig")

# Flips the first character of the signature of an Identity value read on stdin.
tamper_sig() {
	local v tok params sig
	v=$(cat)
	tok=${v%%;*}
	params=${v#*;}
	sig=${tok##*.}
	if [[ ${sig:5:1} == A ]]; then sig=${sig:0:5}B${sig:6}; else sig=${sig:0:5}A${sig:6}; fi
	printf '%s.%s;%s' "${tok%.*}" "$sig" "$params"
}
# mkclaims ATTEST ORIG IAT ORIGID DEST... : SHAKEN claims JSON on one line
mkclaims() {
	local a=$1 o=$2 i=$3 id=$4
	shift 4
	jq -nc --arg a "$a" --arg o "$o" --argjson i "$i" --arg id "$id" \
		'{attest: $a, dest: {tn: $ARGS.positional}, iat: $i, orig: {tn: $o}, origid: $id}' \
		--args "$@"
}
b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
# Replaces the claims of an Identity value (stdin) by the JSON in $1, keeping the signature.
tamper_claims() {
	local v tok params hdr sig
	v=$(cat)
	tok=${v%%;*}
	params=${v#*;}
	hdr=${tok%%.*}
	sig=${tok##*.}
	printf '%s.%s.%s;%s' "$hdr" "$(printf '%s' "$1" | b64u)" "$sig" "$params"
}

sp_expect() { # NAME WANT_RC FILE DEST [JQ]
	local name=$1 want=$2 file=$3 dest=$4 rc=0
	"$sp" "${sp_verify[@]}" --dest "$dest" --identity "@$file" --json >out.json 2>err.txt ||
		rc=$?
	if [[ $rc -eq $want ]] && { [[ -z ${5:-} ]] || jq -e "$5" out.json >/dev/null; }; then
		pass "$name"
	else
		fail "$name: exit $rc (want $want) $(cat err.txt) $(cat out.json)"
	fi
}
sx_expect() { # NAME WANT(ok|not-ok) FILE
	local name=$1 want=$2 file=$3 rc=0 out
	out=$(secsipidx "${sx_check[@]}" -fidentity "$file" 2>&1) || rc=$?
	if [[ $want == ok && $rc -eq 0 && $out == *ok* ]] ||
		[[ $want == not-ok && $rc -ne 0 ]]; then
		pass "$name"
	else
		fail "$name: secsipidx exit $rc: $out"
	fi
}

for attest in A B C; do
	# ---- secsipidx signs, shaken-passport verifies ----------------------------------
	# one dest: the full Identity header straight from secsipidx
	secsipidx -sign-full -k pki/leaf.key -attest "$attest" -orig-tn "$orig" \
		-dest-tn 12125551213 -orig-id "interop-$attest" -x5u "$x5u" >sx1.id
	sp_expect "secsipidx -sign-full attest $attest -> shaken-passport verify" 0 sx1.id \
		12125551213 ".attest == \"$attest\" and .origid == \"interop-$attest\""
	tamper_sig <sx1.id >sx1-bad.id
	sp_expect "secsipidx attest $attest, signature tampered -> verify fails 438" 1 sx1-bad.id \
		12125551213 '.code == 438 and .check == "signature"'
	tamper_claims "$(mkclaims "$attest" 12155550000 "$(date +%s)" x 12125551213)" \
		<sx1.id >sx1-claims.id
	sp_expect "secsipidx attest $attest, claims replaced -> verify fails 438" 1 \
		sx1-claims.id 12125551213 '.code == 438'

	# several dest TNs: secsipidx -sign over explicit header and payload JSON
	printf '{"alg":"ES256","ppt":"shaken","typ":"passport","x5u":"%s"}' "$x5u" >hdr.json
	mkclaims "$attest" "$orig" "$(date +%s)" "multi-$attest" 12125551213 12125551214 \
		12125551215 | tr -d '\n' >payload.json
	tok=$(secsipidx -sign -k pki/leaf.key -fheader hdr.json -fpayload payload.json |
		tr -d '\r\n')
	printf '%s;info=<%s>;alg=ES256;ppt=shaken' "$tok" "$x5u" >sx3.id
	for d in 12125551213 12125551214 12125551215; do
		sp_expect "secsipidx -sign attest $attest, 3 dest TNs -> verify for dest $d" 0 \
			sx3.id "$d" '(.dest | length) == 3'
	done
	sp_expect "secsipidx 3 dest TNs, called TN not among them -> 438 dest" 1 sx3.id \
		12125559999 '.check == "dest"'

	# ---- shaken-passport signs, secsipidx checks ------------------------------------
	"$sp" sign --key pki/leaf.key --x5u "$x5u" --attest "$attest" --orig "$orig" \
		--dest 12125551213 >sp1.id
	sx_expect "shaken-passport sign attest $attest -> secsipidx -check" ok sp1.id
	"$sp" sign --key pki/leaf.key --x5u "$x5u" --attest "$attest" --orig "$orig" \
		--dest 12125551213,12125551214,12125551215 >sp3.id
	sx_expect "shaken-passport sign attest $attest, 3 dest TNs -> secsipidx -check" ok \
		sp3.id
	tamper_sig <sp1.id >sp1-bad.id
	sx_expect "shaken-passport attest $attest, signature tampered -> secsipidx fails" \
		not-ok sp1-bad.id
	tamper_claims "$(mkclaims A "$orig" "$(date +%s)" x 12125559999)" <sp3.id >sp3-claims.id
	sx_expect "shaken-passport attest $attest, claims replaced -> secsipidx fails" not-ok \
		sp3-claims.id
done

# freshness and certificate validity are judged alike
# (secsipidx -sign-full ignores -iat: sign explicit JSON instead)
mkclaims A "$orig" $(($(date +%s) - 3600)) old 12125551213 | tr -d '\n' >payload.json
tok=$(secsipidx -sign -k pki/leaf.key -fheader hdr.json -fpayload payload.json | tr -d '\r\n')
printf '%s;info=<%s>;alg=ES256;ppt=shaken' "$tok" "$x5u" >old.id
sp_expect "secsipidx iat an hour old -> shaken-passport 403 stale" 1 old.id 12125551213 \
	'.code == 403 and .check == "stale"'
sx_expect "secsipidx -check also refuses that iat" not-ok old.id
"$sp" sign --key pki/leaf-expired.key --x5u "$x5u" --attest A --orig "$orig" \
	--dest 12125551213 >expired.id
if out=$(secsipidx -check -p pki/leaf-expired.pem -ca-file pki/ca-root.pem -cert-verify 5 \
	-expire 60 -fidentity expired.id 2>&1); then
	fail "secsipidx accepted an expired certificate: $out"
else
	pass "expired certificate refused by secsipidx too"
fi
"$sp" verify --cert pki/leaf-expired-chain.pem --trust pki/trust --orig "$orig" \
	--dest 12125551213 --identity @expired.id --json >out.json 2>/dev/null || true
jq -e '.code == 437 and .cert.failure == "expired"' out.json >/dev/null &&
	pass "expired certificate refused by shaken-passport (437)" ||
	fail "expired certificate: $(cat out.json)"

echo "interop_secsipidx: $((n - fails))/$n passed"
((fails == 0))
