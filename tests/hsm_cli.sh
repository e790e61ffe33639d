#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# HSM keys from the command line, end to end, on a SoftHSM2 token created in a temp dir:
#   shaken-hsm keygen / list / pubkey / csr (signed on the token through pkcs11-provider) /
#   destroy; a certificate issued from that CSR by the test STI-CA of shaken-pki;
#   shaken-passport sign --key pkcs11:... (the signing engine) -> shaken-passport verify with
#   the STI checks, and secsipidx -check. Exit 77 only when softhsm2-util is not installed.
set -euo pipefail

command -v softhsm2-util >/dev/null 2>&1 || { echo "SKIP: softhsm2-util not installed"; exit 77; }
module=/usr/lib/softhsm/libsofthsm2.so
for t in jq openssl secsipidx xxd; do
	command -v $t >/dev/null 2>&1 ||
		{ echo "FAIL: $t not installed (platform/deps.sh)"; exit 1; }
done
[[ -r $module ]] || { echo "FAIL: $module missing (platform/deps.sh)"; exit 1; }
build=${SHAKEND_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
sp=$build/tools/shaken-passport
pki=$build/tools/shaken-pki
hsm=$build/tools/shaken-hsm
for b in "$sp" "$pki" "$hsm"; do
	[[ -x $b ]] || { echo "FAIL: $b not built"; exit 1; }
done

tmp=$(mktemp -d /tmp/hsm_cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
exec </dev/null   # nothing may prompt for a PIN
unset SHAKEND_HSM_PIN OPENSSL_CONF PKCS11_PROVIDER_MODULE
mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$tmp" >softhsm2.conf
export SOFTHSM2_CONF=$tmp/softhsm2.conf
softhsm2-util --init-token --free --label shaken --pin 4321 --so-pin 87654321 >/dev/null
echo 4321 >pin
"$pki" --out pki >/dev/null

fails=0 n=0
pass() { n=$((n + 1)); echo "ok   - $1"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL - $1"; }
# check NAME CMD...: the command must succeed
check() {
	local name=$1
	shift
	if "$@" >out.txt 2>err.txt; then pass "$name"; else fail "$name: $(cat err.txt)"; fi
}
# refuse NAME WANT_RC CMD...: the command must fail with WANT_RC
refuse() {
	local name=$1 want=$2 rc=0
	shift 2
	"$@" >out.txt 2>err.txt || rc=$?
	if [[ $rc -eq $want ]]; then pass "$name"; else fail "$name: exit $rc (want $want)"; fi
}

q="?pin-source=file:$tmp/pin"
tok="pkcs11:token=shaken$q"
key="pkcs11:token=shaken;object=sp-1234;id=%01$q"
key2="pkcs11:token=shaken;object=other$q"
orig=12155551212
dest=12125551213
x5u=https://cert.example.com/sp/hsm-leaf.pem

# ---- key lifecycle --------------------------------------------------------------------------
check "keygen sp-1234 on the token" "$hsm" keygen --uri "$key"
[[ $(cat out.txt) == "pkcs11:token=shaken;object=sp-1234;id=%01;type=private" ]] &&
	pass "keygen prints the key's URI" || fail "keygen printed $(cat out.txt)"
check "keygen a second key (random id)" "$hsm" keygen --uri "$key2"
refuse "keygen refuses an existing label" 1 "$hsm" keygen --uri "$key"
refuse "keygen without object= is a usage error" 2 "$hsm" keygen --uri "$tok"
check "list" "$hsm" list --uri "$tok"
if grep -qx 'pkcs11:token=shaken;object=sp-1234;id=%01;type=private' out.txt &&
	grep -q '^pkcs11:token=shaken;object=other;id=%' out.txt && [[ $(wc -l <out.txt) -eq 2 ]]
then
	pass "list shows both keys"
else
	fail "list: $(cat out.txt)"
fi
refuse "list without a PIN fails (no prompt)" 1 "$hsm" list --uri "pkcs11:token=shaken"
grep -q SHAKEND_HSM_PIN err.txt && pass "the missing PIN is explained" ||
	fail "no-PIN message: $(cat err.txt)"
SHAKEND_HSM_PIN=4321 check "list with the PIN from \$SHAKEND_HSM_PIN" \
	"$hsm" list --uri "pkcs11:token=shaken"
refuse "a wrong PIN is refused" 1 env SHAKEND_HSM_PIN=0000 "$hsm" list \
	--uri "pkcs11:token=shaken"
refuse "pin-value= in a URI is refused (usage)" 2 "$hsm" list \
	--uri "pkcs11:token=shaken;pin-value=4321"
check "pubkey --pem" "$hsm" pubkey --uri "$key" --pem --out key.pub.pem
check "pubkey DER" "$hsm" pubkey --uri "$key" --out key.pub.der
if openssl pkey -pubin -in key.pub.pem -noout -text 2>/dev/null | grep -q 'NIST CURVE: P-256' &&
	cmp -s key.pub.der <(openssl pkey -pubin -in key.pub.pem -outform DER); then
	pass "public key: P-256, DER and PEM agree"
else
	fail "public key export"
fi
refuse "pubkey of a missing key" 1 "$hsm" pubkey --uri "pkcs11:token=shaken;object=none$q"

# ---- CSR signed on the token (pkcs11-provider) -------------------------------------------------
# pkcs11-provider dlopens the PKCS#11 module with RTLD_DEEPBIND, which ASan refuses: sanitizer
# builds take the direct path (C_Sign through our own code) for every CSR check below.
via=()
if [[ $(ldd "$hsm" 2>/dev/null) == *libasan* ]]; then
	via=(--direct)
	echo "# ASan build: CSRs via --direct (the provider cannot be loaded under ASan)"
else
	check "csr --direct (no provider) verifies" "$hsm" csr --direct --uri "$key" \
		--spc 1234 --subject "/CN=direct" --out direct.pem
	openssl req -in direct.pem -verify -noout >/dev/null 2>&1 &&
		pass "the --direct CSR verifies" || fail "the --direct CSR does not verify"
fi
check "csr --spc 1234 ${via[*]}" "$hsm" csr "${via[@]}" --uri "$key" --spc 1234 \
	--subject "/C=US/O=Example SP/CN=SHAKEN 1234" --out csr.pem
if openssl req -in csr.pem -verify -noout 2>&1 | grep -q 'verify OK'; then
	pass "openssl req -verify: the CSR's signature verifies"
else
	fail "openssl req -verify: $(openssl req -in csr.pem -verify -noout 2>&1)"
fi
if cmp -s <(openssl req -in csr.pem -pubkey -noout | openssl pkey -pubin -outform DER) \
	key.pub.der; then
	pass "the CSR's public key is the token key's SPKI"
else
	fail "the CSR's public key differs from the token key"
fi
# extension: OID 1.3.6.1.5.5.7.1.26, OCTET STRING { SEQUENCE { [0] { IA5String "1234" } } }
if openssl req -in csr.pem -outform DER | xxd -p | tr -d '\n' |
	grep -q '06082b0601050507011a040a3008a006160431323334'; then
	pass "the CSR carries TNAuthList SPC 1234"
else
	fail "TNAuthList missing: $(openssl req -in csr.pem -noout -text)"
fi
openssl req -in csr.pem -noout -subject | grep -q 'CN = SHAKEN 1234' &&
	pass "CSR subject" || fail "CSR subject: $(openssl req -in csr.pem -noout -subject)"
SHAKEND_HSM_PIN=4321 check "csr with the PIN from \$SHAKEND_HSM_PIN, DER" \
	"$hsm" csr "${via[@]}" --uri "pkcs11:token=shaken;id=%01" --subject "/CN=x" --der \
	--out csr.der
openssl req -inform DER -in csr.der -verify -noout >/dev/null 2>&1 &&
	pass "DER CSR verifies" || fail "DER CSR does not verify"
refuse "csr without a PIN fails (no prompt)" 1 "$hsm" csr "${via[@]}" \
	--uri "pkcs11:token=shaken;id=%01" \
	--subject "/CN=x" --out x.pem
refuse "csr with a bad subject" 2 "$hsm" csr --uri "$key" --subject "CN=x" --out x.pem
refuse "csr with a bad SPC" 2 "$hsm" csr --uri "$key" --subject "/CN=x" --spc "" --out x.pem

# ---- a certificate for the token key from the test STI-CA ---------------------------------------
cat >ext.cnf <<'EOF'
[v3]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
certificatePolicies = 2.16.840.1.114569.1.1.3
EOF
check "STI-CA issues a certificate from the CSR (TNAuthList copied)" \
	openssl x509 -req -in csr.pem -CA pki/ca-root.pem -CAkey pki/ca-root.key -days 30 \
	-set_serial "0x$(openssl rand -hex 12)" -copy_extensions copyall -extfile ext.cnf \
	-extensions v3 -out hsm-leaf.pem

# ---- shaken-passport sign through the HSM ------------------------------------------------------
check "shaken-passport sign --key pkcs11:" "$sp" sign --key "$key" --x5u "$x5u" --attest A \
	--orig "$orig" --dest "$dest"
cp out.txt hsm.id
rc=0
"$sp" verify --identity @hsm.id --cert hsm-leaf.pem --trust pki/trust --orig "$orig" \
	--dest "$dest" --json >out.json 2>err.txt || rc=$?
if [[ $rc -eq 0 ]] && jq -e '.verstat == "TN-Validation-Passed" and .cert.checked == true and
	.cert.spc == "1234" and .attest == "A"' out.json >/dev/null; then
	pass "shaken-passport verify (STI checks) passes the HSM-signed PASSporT"
else
	fail "verify: exit $rc $(cat err.txt) $(cat out.json)"
fi
if out=$(secsipidx -check -p hsm-leaf.pem -ca-file pki/ca-root.pem -cert-verify 5 -expire 60 \
	-fidentity hsm.id 2>&1) && [[ $out == *ok* ]]; then
	pass "secsipidx -check passes the HSM-signed PASSporT"
else
	fail "secsipidx -check: $out"
fi
SHAKEND_HSM_PIN=4321 check "sign with the PIN from \$SHAKEND_HSM_PIN, key by id=" \
	"$sp" sign --key "pkcs11:token=shaken;id=%01" --x5u "$x5u" --attest B --orig "$orig" \
	--dest "$dest"
cp out.txt env.id
"$sp" verify --identity @env.id --cert hsm-leaf.pem --orig "$orig" --dest "$dest" \
	>/dev/null 2>&1 && pass "that signature verifies" || fail "env-PIN signature"
check "sign with the other key" "$sp" sign --key "$key2" --x5u "$x5u" --attest A \
	--orig "$orig" --dest "$dest"
cp out.txt other.id
rc=0
"$sp" verify --identity @other.id --cert hsm-leaf.pem --orig "$orig" --dest "$dest" --json \
	>out.json 2>/dev/null || rc=$?
[[ $rc -eq 1 ]] && jq -e '.check == "signature"' out.json >/dev/null &&
	pass "another token key's signature fails against this certificate" ||
	fail "wrong key accepted: $(cat out.json)"
refuse "sign without a PIN fails (no prompt)" 2 "$sp" sign --key "pkcs11:token=shaken;id=%01" \
	--x5u "$x5u" --attest A --orig "$orig" --dest "$dest"
refuse "sign with a key that does not exist" 2 "$sp" sign \
	--key "pkcs11:token=shaken;object=none$q" --x5u "$x5u" --attest A --orig "$orig" \
	--dest "$dest"
refuse "sign on a token that does not exist" 2 "$sp" sign \
	--key "pkcs11:token=nope;object=sp-1234$q" --x5u "$x5u" --attest A --orig "$orig" \
	--dest "$dest"

# ---- destroy -----------------------------------------------------------------------------------
check "destroy the other key" "$hsm" destroy --uri "$key2"
grep -q 'destroyed 2 objects' out.txt && pass "both halves destroyed" ||
	fail "destroy: $(cat out.txt)"
refuse "destroy again: no such key" 1 "$hsm" destroy --uri "$key2"
refuse "destroy needs object= or id=" 2 "$hsm" destroy --uri "$tok"
check "list after destroy" "$hsm" list --uri "$tok"
[[ $(wc -l <out.txt) -eq 1 ]] && grep -q 'object=sp-1234;' out.txt &&
	pass "only sp-1234 is left" || fail "list after destroy: $(cat out.txt)"
refuse "sign with the destroyed key fails" 2 "$sp" sign --key "$key2" --x5u "$x5u" \
	--attest A --orig "$orig" --dest "$dest"

echo "hsm_cli: $((n - fails))/$n passed"
((fails == 0))
