#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end with sipp (Debian sip-tester) against shakend on net_af_packet over veth pairs
# into network namespaces, with a SoftHSM2 token, a key made by shaken-hsm, its certificate
# issued by the test STI-CA of shaken-pki, and the certificates served over HTTPS by nginx on
# loopback (fetched by shakend's x5u fetcher, allow-listed in the config):
#
#  phase 1, the dips: shakend with a sign-redirect (192.0.2.1:5060) and a verify-redirect
#   (192.0.2.1:5070) listener on one port; namespace A (192.0.2.2) holds sipp.
#   a. sipp sends N INVITEs to sign-redirect: every answer is a 302 whose Identity verifies
#      with secsipidx -check and shaken-passport verify (attestation A: the trunk owns the TN).
#   b. INVITEs carrying Identity headers signed by secsipidx (injected from a CSV, -inf) to
#      verify-redirect: 302 with verstat=TN-Validation-Passed; tampered signatures: 302 with
#      verstat=TN-Validation-Failed and Reason: STIR;cause=438.
#  phase 2, the bump in the wire: shakend inline between two ports; namespace C (UAC,
#   198.51.100.2) and namespace D (UAS, 198.51.100.3) on one subnet through it.
#   c. whole calls (INVITE/180/200/ACK/BYE/200): INVITEs to UAS port 5080 get an Identity
#      (inline sign), INVITEs to UAS port 5090 carrying a secsipidx Identity get verstat
#      (inline verify); every other message passes untouched and every call completes.
#
# The shakend counters (--stats) are checked against the calls sent. A summary of outcomes
# and rates (sipp's statistics, shakend's counters) ends the output; SHAKEND_E2E_SUMMARY=FILE
# also writes it there (platform/demo.sh).
#   SHAKEND_BUILD   build directory (default: build)
#   E2E_CALLS       INVITEs per sipp run (default 50), E2E_RATE calls per second (default 25)
#   E2E_KEEP=1      keep the temp directory (logs, configs)
# Exit 77 when not root, without ip netns, sipp, softhsm2, nginx or secsipidx.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${SHAKEND_BUILD:-$(cd "$here/.." && pwd)/build}
shakend=$build/dataplane/shakend
sp=$build/tools/shaken-passport
pki_tool=$build/tools/shaken-pki
hsm_tool=$build/tools/shaken-hsm
module=/usr/lib/softhsm/libsofthsm2.so
calls=${E2E_CALLS:-50}
rate=${E2E_RATE:-25}
((calls >= 1 && calls <= 2000 && rate >= 1 && rate <= 500)) ||
	{ echo "FAIL: E2E_CALLS 1..2000, E2E_RATE 1..500"; exit 1; }

skip() { echo "SKIP: $*"; exit 77; }
[[ $(id -u) == 0 ]] || skip "not root"
command -v ip >/dev/null && ip netns list >/dev/null 2>&1 || skip "no ip netns"
command -v sipp >/dev/null || skip "no sipp (Debian package sip-tester)"
command -v softhsm2-util >/dev/null && [[ -r $module ]] || skip "no softhsm2"
command -v nginx >/dev/null || skip "no nginx"
command -v secsipidx >/dev/null || skip "no secsipidx"
command -v unshare >/dev/null || skip "no unshare (util-linux)"
for t in openssl python3 jq curl; do
	command -v $t >/dev/null || { echo "FAIL: $t not installed (platform/deps.sh)"; exit 1; }
done
for b in "$shakend" "$sp" "$pki_tool" "$hsm_tool"; do
	[[ -x $b ]] || { echo "FAIL: $b not built"; exit 1; }
done
# shakend's fetcher trusts the system CA store: it runs in its own mount namespace where the
# store is a copy with our TLS test CA appended (bind mount), nothing changes on the host.
unshare --mount --propagation private true 2>/dev/null || skip "cannot make a mount namespace"

# ---- names, cleanup ----------------------------------------------------------------------
p=e2e$$
nsa=${p}a nsc=${p}c nsd=${p}d
va0=${p}a0 va1=${p}a1 vc0=${p}c0 vc1=${p}c1 vd0=${p}d0 vd1=${p}d1
tmp=$(mktemp -d /tmp/e2e_sipp.XXXXXX)
chmod 755 "$tmp"
pids=()       # background helpers (nginx, UAS)
dpid=         # the running shakend
cleanup() {
	stop_shakend >/dev/null 2>&1
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
	for v in "$va0" "$vc0" "$vd0"; do ip link del "$v" 2>/dev/null; done
	for n in "$nsa" "$nsc" "$nsd"; do ip netns del "$n" 2>/dev/null; done
	if [[ ${E2E_KEEP:-0} == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$tmp"

fails=0 n=0
pass() { n=$((n + 1)); echo "ok   - $1"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL - $1"; }
expect() { # NAME CMD...: the command must succeed
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}
summary=()
note() { summary+=("$*"); }

# ---- PKI, HSM key and its certificate (as tests/hsm_cli.sh) ---------------------------------
orig=12155550101 dest=12025550100
origid=6f3c2a10-8b1e-4c5d-9e7f-0a1b2c3d4e5f
https_ip=127.0.5.1     # nginx: loopback, apart from 127.0.0.1 used by other tests
base=https://$https_ip:8443
"$pki_tool" --out pki >/dev/null || { echo "FAIL: shaken-pki"; exit 1; }
mkdir tokens
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' \
	"$tmp" >softhsm2.conf
export SOFTHSM2_CONF=$tmp/softhsm2.conf
softhsm2-util --init-token --free --label shaken --pin 4321 --so-pin 87654321 >/dev/null ||
	{ echo "FAIL: softhsm2-util --init-token"; exit 1; }
echo 4321 >pin
key="pkcs11:token=shaken;object=sp1;id=%01"
kq="$key?pin-source=file:$tmp/pin"
via=()
# ASan builds cannot load pkcs11-provider (RTLD_DEEPBIND): CSR signed --direct. (No
# "ldd | grep -q" under pipefail: grep exits early, ldd may get SIGPIPE and fail the test.)
[[ $(ldd "$hsm_tool" 2>/dev/null) == *libasan* ]] && via=(--direct)
cat >ext.cnf <<'EOF'
[v3]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
certificatePolicies = 2.16.840.1.114569.1.1.3
EOF
if "$hsm_tool" keygen --uri "$kq" >/dev/null &&
	"$hsm_tool" csr "${via[@]}" --uri "$kq" --spc 1234 \
		--subject "/C=US/O=E2E Example SP/CN=SHAKEN 1234" --out hsm.csr &&
	openssl x509 -req -in hsm.csr -CA pki/ca-root.pem -CAkey pki/ca-root.key -days 2 \
		-set_serial "0x$(openssl rand -hex 12)" -copy_extensions copyall -extfile ext.cnf \
		-extensions v3 -out hsm-leaf.pem 2>/dev/null; then
	pass "SoftHSM2 token, key sp1 by shaken-hsm, certificate from the test STI-CA"
else
	fail "HSM key and certificate"
	exit 1
fi

# ---- the certificate repository: nginx over TLS on loopback -------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout tls-ca.key \
	-out tls-ca.pem -days 2 -subj /CN=e2e-tls-ca -addext basicConstraints=critical,CA:TRUE \
	-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key \
	-out srv.csr -subj /CN=e2e-repo 2>/dev/null
printf '%s\n' "subjectAltName=IP:$https_ip" basicConstraints=CA:FALSE \
	extendedKeyUsage=serverAuth >srv.ext
openssl x509 -req -in srv.csr -CA tls-ca.pem -CAkey tls-ca.key -CAcreateserial -days 2 \
	-out srv.pem -extfile srv.ext 2>/dev/null
cat /etc/ssl/certs/ca-certificates.crt tls-ca.pem >ca-bundle.crt
mkdir -p www/sp logs
cp hsm-leaf.pem www/sp/hsm-leaf.pem
cp pki/leaf-chain.pem www/sp/leaf-chain.pem
cat >nginx.conf <<EOF
daemon off;
master_process off;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log;
events { worker_connections 64; }
http {
	access_log $tmp/logs/access.log;
	client_body_temp_path $tmp/cbt;
	proxy_temp_path $tmp/pt;
	fastcgi_temp_path $tmp/ft;
	uwsgi_temp_path $tmp/ut;
	scgi_temp_path $tmp/st;
	default_type application/x-pem-file;
	server {
		listen $https_ip:8443 ssl;
		ssl_certificate $tmp/srv.pem;
		ssl_certificate_key $tmp/srv.key;
		root $tmp/www;
		add_header Cache-Control "max-age=3600";
	}
}
EOF
nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log" 2>logs/nginx.stderr &
pids+=($!)
up=0
for _ in $(seq 50); do
	if curl -sf --cacert tls-ca.pem "$base/sp/hsm-leaf.pem" -o /dev/null 2>/dev/null; then
		up=1
		break
	fi
	sleep 0.1
done
((up)) && pass "nginx serves the certificates at $base/sp/" ||
	{ fail "nginx on $https_ip:8443: $(cat logs/error.log logs/nginx.stderr 2>/dev/null)"
	  exit 1; }

# ---- network ---------------------------------------------------------------------------
inns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
# TX checksum offload off (ETHTOOL_STXCSUM through SIOCETHTOOL): a veth passes UDP with partial
# checksums, which a real wire never carries (see tests/dp_netns.sh)
csum_off() { # NS IFACE
	inns "$1" python3 - "$2" <<'PY' || echo "warning: could not disable TX checksum offload"
import array, fcntl, socket, struct, sys
val = array.array("I", [0x17, 0])
ifr = struct.pack("16sP", sys.argv[1].encode(), val.buffer_info()[0])
fcntl.ioctl(socket.socket(), 0x8946, ifr)
PY
}
# veth ROOT_END NS NS_END ADDR/LEN: the root end is for shakend (no address, no IPv6)
mkveth() {
	ip link add "$1" type veth peer name "$3" || return 1
	ip link set "$3" netns "$2" || return 1
	sysctl -qw "net.ipv6.conf.$1.disable_ipv6=1" 2>/dev/null
	ip link set "$1" up
	inns "$2" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 2>/dev/null
	ip -n "$2" link set lo up
	ip -n "$2" addr add "$4" dev "$3"
	ip -n "$2" link set "$3" up
	csum_off "$2" "$3"
}
for ns in "$nsa" "$nsc" "$nsd"; do
	ip netns add "$ns" || skip "cannot create a network namespace"
done
mkveth "$va0" "$nsa" "$va1" 192.0.2.2/24 &&
	mkveth "$vc0" "$nsc" "$vc1" 198.51.100.2/24 &&
	mkveth "$vd0" "$nsd" "$vd1" 198.51.100.3/24 || skip "no veth"

# ---- shakend -----------------------------------------------------------------------------
tn_table() {
	printf '# e2e: the customer trunk owns the calling numbers\n'
	printf '12155550100-12155550199 acme\n'
}
tn_table >tn.txt
# config NAME LCORE IFACES LISTENERS_JSON TRUNK_PREFIX: writes NAME.json
config() {
	local name=$1 lcore=$2 ifaces=$3 listeners=$4 prefix=$5 eal ports i=0
	eal=$(printf '"--no-huge", "-m", "512", "--no-pci", "--no-shconf", "--file-prefix", "%s",
		"-l", "%s", "--log-level=*:warning"' "$p$name" "$lcore")
	ports=
	for ifc in $ifaces; do
		eal+=", \"--vdev=net_af_packet$i,iface=$ifc,framesz=8192,blocksz=8192,framecnt=512\""
		ports+="${ports:+, }{\"id\": $i, \"mtu\": 1500}"
		i=$((i + 1))
	done
	cat >"$name.json" <<EOF
{
  "eal": [$eal],
  "ports": [$ports],
  "listeners": $listeners,
  "hsm": {
    "module": "$module",
    "tokens": ["pkcs11:token=shaken"],
    "sessions": 4,
    "pin_file": "$tmp/pin",
    "deadline_ms": 1000
  },
  "credentials": [
    { "id": "sp1", "key": "$key", "x5u": "$base/sp/hsm-leaf.pem",
      "cert": "$tmp/hsm-leaf.pem", "attest": ["A", "B", "C"] }
  ],
  "verify": {
    "trust": "$tmp/pki/trust",
    "allow_hosts": ["$https_ip"],
    "freshness_s": 60,
    "fetch_timeout_ms": 2000,
    "park_timeout_ms": 3000
  },
  "sign": { "unknown_origid": "7f000000-0000-4000-8000-000000000001" },
  "trunks": [
    { "name": "acme", "prefix": "$prefix", "kind": "customer", "origid": "$origid" }
  ],
  "tn_table": "$tmp/tn.txt",
  "log": { "level": "notice", "rate_per_s": 10 }
}
EOF
}
start_shakend() { # NAME
	unshare --mount --propagation private sh -c \
		'mount --bind "$1" /etc/ssl/certs/ca-certificates.crt && shift && exec "$@"' \
		sh "$tmp/ca-bundle.crt" "$shakend" -- --config "$tmp/$1.json" --stats \
		--mbuf-size 8192 --mbufs 4095 >"logs/$1.log" 2>&1 &
	dpid=$!
	for _ in $(seq 150); do
		grep -q 'running on' "logs/$1.log" && return 0
		kill -0 "$dpid" 2>/dev/null || break
		sleep 0.1
	done
	cat "logs/$1.log"
	return 1
}
stop_shakend() { # -> exit status of shakend
	[[ -n $dpid ]] || return 0
	local rc=0
	kill -TERM "$dpid" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$dpid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$dpid" 2>/dev/null
	wait "$dpid" || rc=$?
	dpid=
	return $rc
}
# sanitizer builds: shakend's log must hold no report
san_clean() { # LOG
	if grep -q 'Sanitizer\|runtime error:' "$1"; then
		fail "sanitizer report in $1: $(grep -m 3 'Sanitizer\|runtime error:' "$1")"
	fi
}
counter() { # LOG NAME -> value (0 when absent)
	local v
	v=$(awk -v k="$2" '$1 == k { print $2 }' "$1" | tail -n 1)
	echo "${v:-0}"
}

# ---- sipp helpers --------------------------------------------------------------------------
# sipp_run NS NAME SCENARIO LOCAL_IP LOCAL_PORT TARGET CALLS [sipp args...]: a UAC run at $rate
# calls/s (at most 20 at once, 60 s overall, 5 s per answer); logs, stats and errors in NAME.*
sipp_run() {
	local ns=$1 name=$2 sf=$3 lip=$4 lport=$5 target=$6 m=$7 rc=0
	shift 7
	inns "$ns" timeout 90 sipp "$target" -sf "$here/e2e/$sf" -i "$lip" -p "$lport" -m "$m" \
		-r "$rate" -rp 1000 -l 20 -timeout 60s -timeout_error -recv_timeout 5s -nostdin \
		-key calling "$orig" -key called "$dest" -trace_logs -log_file "$tmp/$name.log" \
		-trace_stat -stf "$tmp/$name.csv" -fd 1 -trace_err -error_file "$tmp/$name.err" \
		"$@" >"$tmp/$name.screen" 2>&1 || rc=$?
	if ((rc != 0)); then
		echo "# sipp $name exited $rc:"
		tail -n 25 "$tmp/$name.screen" | sed 's/^/#   /'
		[[ -s $tmp/$name.err ]] && head -n 40 "$tmp/$name.err" | sed 's/^/#   /'
	fi
	return $rc
}
# stat NAME COLUMN: the last value of a column of sipp's statistics (NAME.csv)
stat() {
	awk -F';' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next }
		k { v = $k } END { print v }' "$tmp/$1.csv" 2>/dev/null
}
# rate_line NAME WHAT: "WHAT: S/T calls ok, R calls/s, mean answer time X ms"
rate_line() {
	local ok fail_ cr rt
	ok=$(stat "$1" 'SuccessfulCall(C)')
	fail_=$(stat "$1" 'FailedCall(C)')
	cr=$(stat "$1" 'CallRate(C)')
	rt=$(stat "$1" 'ResponseTime1(C)')
	rt=$(awk -F: -v t="$rt" 'BEGIN { n = split(t, a, ":");
		if (n != 4) { printf "?"; exit }
		ms = (a[1] * 3600 + a[2] * 60 + a[3]) * 1000 + a[4] / 1000;
		if (ms < 1) printf "< 1"; else printf "%.0f", ms }')
	printf '%s: %s ok, %s failed, %.1f calls/s (sipp), mean answer %s ms (1 ms resolution)' \
		"$2" "${ok:-?}" "${fail_:-?}" "${cr:-0}" "$rt"
}
# The Identity values sipp logged (field after IDENTITY), one per line.
logged() { # NAME FIELD
	awk -v f="$2" '{ for (i = 1; i < NF; i++) if ($i == f) print $(i + 1) }' "$tmp/$1.log"
}
# secsipidx signs one Identity for a call; CSV line "token;x5u" (tamper: signature altered)
sx_csv() { # COUNT TAMPER
	local i v tok sig c
	echo SEQUENTIAL
	for ((i = 0; i < $1; i++)); do
		v=$(secsipidx -sign-full -k pki/leaf.key -attest A -orig-tn "$orig" -dest-tn "$dest" \
			-orig-id "$origid" -x5u "$base/sp/leaf-chain.pem") || return 1
		tok=${v%%;*}
		if (($2)); then
			sig=${tok##*.}
			c=A
			[[ ${sig:5:1} == A ]] && c=B
			sig=${sig:0:5}$c${sig:6}
			tok=${tok%.*}.$sig
		fi
		printf '%s;%s\n' "$tok" "$base/sp/leaf-chain.pem"
	done
}
# check_identities NAME: every logged Identity verifies with secsipidx and shaken-passport
check_identities() {
	local name=$1 i=0 sx=0 spv=0 attA=0 v
	while read -r v; do
		[[ -n $v ]] || continue
		i=$((i + 1))
		printf '%s' "$v" >id.txt
		secsipidx -check -p hsm-leaf.pem -ca-file pki/ca-root.pem -cert-verify 5 -expire 120 \
			-fidentity id.txt >sx.out 2>&1 && grep -q ok sx.out && sx=$((sx + 1))
		if "$sp" verify --identity @id.txt --cert hsm-leaf.pem --trust pki/trust \
			--orig "$orig" --dest "$dest" --freshness 120 --json >v.json 2>/dev/null; then
			jq -e '.verstat == "TN-Validation-Passed"' v.json >/dev/null && spv=$((spv + 1))
			jq -e ".attest == \"A\" and .origid == \"$origid\"" v.json >/dev/null &&
				attA=$((attA + 1))
		fi
	done < <(logged "$name" IDENTITY)
	[[ $i -eq $calls ]] && pass "$name: $i Identity headers captured" ||
		fail "$name: $i Identity headers captured (want $calls)"
	[[ $sx -eq $calls ]] && pass "$name: all $sx verify with secsipidx -check" ||
		fail "$name: $sx/$calls verify with secsipidx -check ($(cat sx.out))"
	[[ $spv -eq $calls ]] && pass "$name: all $spv verify with shaken-passport (STI checks)" ||
		fail "$name: $spv/$calls verify with shaken-passport ($(cat v.json 2>/dev/null))"
	[[ $attA -eq $calls ]] && pass "$name: attestation A and the trunk's origid in all" ||
		fail "$name: $attA/$calls with attest A and origid $origid"
}

# =========================== phase 1: sign-redirect and verify-redirect ======================
echo "# phase 1: shakend as STI-AS and STI-VS dips on $va0 (192.0.2.1:5060 sign, :5070 verify)"
config dip 0 "$va0" '[
    { "addr": "192.0.2.1", "port": 5060, "mode": "sign-redirect" },
    { "addr": "192.0.2.1", "port": 5070, "mode": "verify-redirect" }
  ]' 192.0.2.0/24
if ! start_shakend dip; then
	if grep -qi 'EAL init failed\|cannot\|no such' logs/dip.log; then
		skip "shakend cannot start here"
	fi
	fail "shakend (dips) did not start"
	exit 1
fi
pass "shakend started (sign-redirect + verify-redirect, HSM, fetcher)"

# a. sign-redirect
t0=$(date +%s.%N)
expect "a. sipp: $calls INVITEs to sign-redirect, every answer a 302 with Identity" \
	sipp_run "$nsa" sign uac_sign.xml 192.0.2.2 5062 192.0.2.1:5060 "$calls"
t1=$(date +%s.%N)
contact_ok=$(logged sign CONTACT | grep -c "^<sip:+$dest@192.0.2.1:5060;user=phone>$")
[[ $contact_ok -eq $calls ]] && pass "a. Contact = the Request-URI in all $calls 302s" ||
	fail "a. Contact = the Request-URI in $contact_ok/$calls ($(logged sign CONTACT | head -1))"
check_identities sign
echo "# e.g. a 302's Identity: $(logged sign IDENTITY | head -n 1 | cut -c1-70)...;$(logged sign \
IDENTITY | head -n 1 | cut -d';' -f2-)"
note "$(rate_line sign 'sign-redirect  (sipp UAC -> shakend, SoftHSM2)')"

# b. verify-redirect: good and tampered
if sx_csv "$calls" 0 >good.csv && sx_csv 5 1 >bad.csv; then
	pass "b. secsipidx signed $calls Identity headers (+5 tampered)"
else
	fail "b. secsipidx -sign-full"
fi
expect "b. sipp: $calls INVITEs with secsipidx Identity to verify-redirect, 302s" \
	sipp_run "$nsa" verify uac_verify.xml 192.0.2.2 5064 192.0.2.1:5070 "$calls" \
	-inf "$tmp/good.csv"
passed=$(logged verify VERSTAT | grep -cx 'verstat=TN-Validation-Passed')
[[ $passed -eq $calls ]] && pass "b. verstat=TN-Validation-Passed in all $calls 302s" ||
	fail "b. verstat=TN-Validation-Passed in $passed/$calls ($(logged verify VERSTAT | sort |
		uniq -c | tr '\n' ' '))"
nocause=$(logged verify CAUSE | grep -c .)
[[ $nocause -eq 0 ]] && pass "b. no Reason header on success" ||
	fail "b. $nocause Reason headers on success"
cont=$(logged verify CONTACT | grep -c \
	"^<sip:+$dest@192.0.2.1:5070;user=phone?P-Asserted-Identity=.*verstat%3DTN-Validation-Passed")
[[ $cont -eq $calls ]] && pass "b. the Contact carries the PAI with verstat (RFC 3261 19.1.5)" ||
	fail "b. Contact with verstat in $cont/$calls ($(logged verify CONTACT | head -1))"
note "$(rate_line verify 'verify-redirect (secsipidx Identity, x5u fetched once then cached)')"
expect "b. sipp: 5 tampered Identity headers to verify-redirect, 302s" \
	sipp_run "$nsa" tampered uac_verify.xml 192.0.2.2 5066 192.0.2.1:5070 5 \
	-inf "$tmp/bad.csv"
failed=$(logged tampered VERSTAT | grep -cx 'verstat=TN-Validation-Failed')
c438=$(logged tampered CAUSE | grep -cx 'cause=438')
[[ $failed -eq 5 && $c438 -eq 5 ]] &&
	pass "b. tampered: verstat=TN-Validation-Failed and Reason cause=438 in all 5" ||
	fail "b. tampered: Failed $failed/5, cause=438 $c438/5"
echo "# e.g. a tampered call's 302: Contact $(logged tampered CONTACT | head -n 1)"

stop_shakend
rc=$?
[[ $rc -eq 0 ]] && pass "shakend (dips) stops cleanly on SIGTERM" || fail "shakend exit $rc"
d=logs/dip.log
san_clean $d
s_ok=$(counter $d sign_signed) s_req=$(counter $d sign_requests)
v_pass=$(counter $d verify_passed) v_fail=$(counter $d verify_failed)
[[ $s_req -ge $calls && $s_ok -eq $s_req ]] &&
	pass "counters: sign_requests $s_req = sign_signed $s_ok" ||
	fail "counters: sign_requests $s_req, sign_signed $s_ok (want >= $calls, equal)"
unsigned=$(awk '$1 ~ /^sign_unsigned_/ { t += $2 } END { print t + 0 }' $d)
[[ $unsigned -eq 0 ]] && pass "counters: no call left unsigned" ||
	fail "counters: $unsigned unsigned ($(grep sign_unsigned_ $d | tr '\n' ' '))"
[[ $v_pass -ge $calls && $v_fail -ge 5 && $(counter $d verify_code_438) -ge 5 ]] &&
	pass "counters: verify_passed $v_pass, verify_failed $v_fail, verify_code_438" ||
	fail "counters: verify_passed $v_pass, verify_failed $v_fail"
[[ $(counter $d verify_parked) -ge 1 && $(counter $d verify_park_timeout) -eq 0 ]] &&
	pass "counters: the first verification parked on the x5u fetch ($(counter $d \
verify_parked) parked, $(counter $d verify_woken) woken), none timed out" ||
	fail "counters: verify_parked $(counter $d verify_parked), park_timeout $(counter $d \
		verify_park_timeout)"
grep -q 'GET /sp/leaf-chain.pem' logs/access.log && pass "nginx served the x5u to shakend" ||
	fail "no x5u fetch in nginx's log"
[[ $(counter $d sip_drop_malformed) -eq 0 ]] || fail "counters: malformed drops"
note "shakend dips: sign_requests $s_req, sign_signed $s_ok, unsigned $unsigned; verify_requests \
$(counter $d verify_requests): passed $v_pass, failed $v_fail (438: $(counter $d \
verify_code_438)); parked on fetch $(counter $d verify_parked); ACK absorbed $(counter $d sip_ack)"

# =========================== phase 2: inline between a UAC and a UAS ========================
echo "# phase 2: shakend inline between $vc0 (port 0, UAC 198.51.100.2) and $vd0 (port 1, UAS .3)"
config bump 0 "$vc0 $vd0" '[
    { "port": 5080, "mode": "inline", "iface": 0, "peer": { "port": 1, "sign": true } },
    { "port": 5090, "mode": "inline", "iface": 0,
      "peer": { "port": 1, "sign": false, "verify": true } }
  ]' 198.51.100.0/24
if start_shakend bump; then
	pass "shakend started (inline: sign towards :5080, verify towards :5090)"
	uas() { # NAME PORT
		inns "$nsd" timeout 120 sipp -sf "$here/e2e/uas_call.xml" -i 198.51.100.3 -p "$2" \
			-m "$calls" -nostdin -trace_logs -log_file "$tmp/$1.log" -trace_err \
			-error_file "$tmp/$1.err" >"$tmp/$1.screen" 2>&1 &
		pids+=($!)
		upid=$!
		sleep 0.5
	}
	printf 'SEQUENTIAL\nnone;https://none.invalid/x\n' >none.csv
	# c. inline sign
	uas uas-sign 5080
	expect "c. sipp UAC -> shakend inline (sign) -> sipp UAS: $calls calls complete" \
		sipp_run "$nsc" call-sign uac_call.xml 198.51.100.2 5062 198.51.100.3:5080 \
		"$calls" -key idhdr X-E2E-None -inf "$tmp/none.csv"
	wait "$upid" && pass "c. the UAS saw $calls whole calls (INVITE, ACK, BYE)" ||
		fail "c. UAS (sign) exit $? $(tail -n 5 uas-sign.screen)"
	note "$(rate_line call-sign 'inline sign    (whole calls UAC -> shakend -> UAS)')"
	check_identities uas-sign
	# c. inline verify
	if sx_csv "$calls" 0 >good2.csv; then :; else fail "c. secsipidx -sign-full"; fi
	uas uas-verify 5090
	expect "c. sipp UAC -> shakend inline (verify) -> sipp UAS: $calls calls complete" \
		sipp_run "$nsc" call-verify uac_call.xml 198.51.100.2 5064 198.51.100.3:5090 \
		"$calls" -key idhdr Identity -inf "$tmp/good2.csv"
	wait "$upid" && pass "c. the UAS saw $calls whole calls (INVITE, ACK, BYE)" ||
		fail "c. UAS (verify) exit $? $(tail -n 5 uas-verify.screen)"
	pv=$(logged uas-verify PAI | grep -cx 'verstat=TN-Validation-Passed')
	fv=$(logged uas-verify FROM | grep -cx 'verstat=TN-Validation-Passed')
	[[ $pv -eq $calls && $fv -eq $calls ]] &&
		pass "c. the UAS got verstat=TN-Validation-Passed on PAI and From in all $calls" ||
		fail "c. verstat at the UAS: PAI $pv/$calls, From $fv/$calls"
	note "$(rate_line call-verify 'inline verify  (whole calls UAC -> shakend -> UAS)')"
	stop_shakend
	rc=$?
	[[ $rc -eq 0 ]] && pass "shakend (inline) stops cleanly on SIGTERM" || fail "shakend exit $rc"
	d=logs/bump.log
	san_clean $d
	s_ok=$(counter $d sign_signed) v_pass=$(counter $d verify_passed)
	pt=$(counter $d sip_passthrough)
	[[ $s_ok -ge $calls && $v_pass -ge $calls ]] &&
		pass "counters: inline sign_signed $s_ok, verify_passed $v_pass" ||
		fail "counters: inline sign_signed $s_ok, verify_passed $v_pass (want >= $calls)"
	# per call at least ACK, BYE (UAC -> UAS) are SIP to a listener port: passed untouched
	[[ $pt -ge $((4 * calls)) ]] && pass "counters: $pt non-INVITE messages passed untouched" ||
		fail "counters: sip_passthrough $pt (want >= $((4 * calls)))"
	note "shakend inline: sign_signed $s_ok, verify_passed $v_pass, passthrough $pt, frames \
forwarded $(counter $d forwarded)"
else
	fail "shakend (inline) did not start"
fi

echo
echo "== summary"
printf '  %s\n' "${summary[@]}"
[[ -n ${SHAKEND_E2E_SUMMARY:-} ]] && printf '%s\n' "${summary[@]}" >"$SHAKEND_E2E_SUMMARY"
echo "e2e_sipp: $((n - fails))/$n passed"
((fails == 0))
