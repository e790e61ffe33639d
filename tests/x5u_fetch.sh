#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# x5u fetcher against real HTTPS servers: nginx (unprivileged, foreground, own prefix) on
# 127.0.0.1:8443 with a certificate from a test CA made here, and a small python3 TLS server
# for the slow endpoint. Checks the ATIS-1000074 rules and the SSRF guard of dataplane/certcache/x5u_fetch.c
# through `shaken-passport fetch`. Exit 77 when nginx, python3 or openssl is missing.
set -euo pipefail
. "$(dirname "$0")/lib/https.sh"

build=${SHAKEND_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
sp=$build/tools/shaken-passport
for t in nginx python3 openssl; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not installed"; exit 77; }
done
[[ -x $sp ]] || { echo "FAIL: $sp not built"; exit 1; }

tmp=$(mktemp -d /tmp/x5u_fetch.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT

fails=0 n=0
pass() { n=$((n + 1)); echo "ok   - $1"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "FAIL - $1"; }

# ---- test PKI for TLS --------------------------------------------------------------------
cd "$tmp"
https_tls_ca x5u-test-ca
https_tls_ca other-ca
https_tls_server x5u-test-ca

mkdir -p www logs
cp other-ca.pem www/cert.pem                    # any PEM certificate will do as the x5u
head -c 70000 /dev/urandom | base64 >www/big.pem # over the 64 KiB cap
printf 'tiny\n' >www/small.txt

{
	https_nginx_head 64
	echo 'http {'
	echo '	access_log off;'
	https_nginx_temp_paths
	cat <<EOF
	server {
		listen 127.0.0.1:8443 ssl;
		ssl_certificate $tmp/srv.pem;
		ssl_certificate_key $tmp/srv.key;
		root $tmp/www;
		location = /redirect.pem { return 302 https://127.0.0.1:8443/cert.pem; }
	}
}
EOF
} >nginx.conf
https_nginx_start
https_slow_start 8444

wait_port() { # port
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "FAIL: nothing listens on 127.0.0.1:$1"
	cat "$tmp/logs/error.log" 2>/dev/null || true
	exit 1
}
wait_port 8443
wait_port 8444

base=https://127.0.0.1:8443
ok_args=(--allow-host 127.0.0.1 --ca-file "$tmp/x5u-test-ca.pem")

# expect_ok NAME URL ARGS... : exit 0 and body equal to www/cert.pem
expect_ok() {
	local name=$1 url=$2
	shift 2
	if "$sp" fetch "$url" "$@" >out.bin 2>err.txt && cmp -s out.bin www/cert.pem; then
		pass "$name"
	else
		fail "$name: $(cat err.txt)"
	fi
}
# expect_kind NAME KIND URL ARGS... : exit 1 and stderr starting with "KIND:"
expect_kind() {
	local name=$1 kind=$2 url=$3 rc=0
	shift 3
	"$sp" fetch "$url" "$@" >out.bin 2>err.txt || rc=$?
	if [[ $rc -eq 1 ]] && grep -q "^$kind:" err.txt; then
		pass "$name ($(head -c 120 err.txt))"
	else
		fail "$name: expected $kind, exit $rc: $(cat err.txt)"
	fi
}

# ---- fetches over the network ------------------------------------------------------------
expect_ok "fetch with --allow-host 127.0.0.1 and the test CA" "$base/cert.pem" "${ok_args[@]}"
expect_ok "fetch by name (localhost) with --allow-host localhost" \
	https://localhost:8443/cert.pem --allow-host localhost --ca-file "$tmp/x5u-test-ca.pem"
expect_kind "loopback literal refused without --allow-host" blocked "$base/cert.pem" \
	--ca-file "$tmp/x5u-test-ca.pem"
expect_kind "name resolving to loopback refused at connect time" blocked \
	https://localhost:8443/cert.pem --ca-file "$tmp/x5u-test-ca.pem"
expect_kind "allow-list names another host" blocked "$base/cert.pem" --allow-host localhost \
	--ca-file "$tmp/x5u-test-ca.pem"
expect_kind "404 fails" http-status "$base/missing.pem" "${ok_args[@]}"
expect_kind "redirect refused (not followed)" http-status "$base/redirect.pem" "${ok_args[@]}"
grep -q 302 err.txt && pass "redirect reports status 302" || fail "redirect status: $(cat err.txt)"
expect_kind "body over the 64 KiB cap" too-large "$base/big.pem" "${ok_args[@]}"
expect_kind "body over --max-body" too-large "$base/cert.pem" "${ok_args[@]}" --max-body 100
expect_kind "server certificate from an unknown CA" tls "$base/cert.pem" --allow-host 127.0.0.1 \
	--ca-file "$tmp/other-ca.pem"
expect_kind "system store does not trust the test CA" tls "$base/cert.pem" --allow-host 127.0.0.1
expect_kind "http:// refused" bad-url http://127.0.0.1:8443/cert.pem "${ok_args[@]}"
expect_kind "port 8444 not allowed by default" bad-url https://127.0.0.1:8444/x.pem "${ok_args[@]}"
start=$(date +%s%N)
expect_kind "slow endpoint times out" timeout https://127.0.0.1:8444/x.pem "${ok_args[@]}" \
	--port 8444
ms=$((($(date +%s%N) - start) / 1000000))
((ms < 4000)) && pass "timeout after ${ms} ms (< 4 s)" || fail "timeout took ${ms} ms"
expect_kind "--timeout-ms honoured" timeout https://127.0.0.1:8444/x.pem "${ok_args[@]}" \
	--port 8444 --timeout-ms 300
expect_kind "nothing listening" connect https://127.0.0.1:443/cert.pem "${ok_args[@]}"

# ---- verify fetching x5u from nginx --------------------------------------------------------
if [[ -x $build/tools/shaken-pki ]] && command -v jq >/dev/null 2>&1; then
	"$build/tools/shaken-pki" --out pki >/dev/null
	mkdir -p www/sp
	cp pki/leaf-chain.pem www/sp/leaf-chain.pem
	vcase() { # NAME WANT_RC JQ X5U ARGS...
		local name=$1 want=$2 q=$3 url=$4 rc=0
		shift 4
		"$sp" sign --key pki/leaf.key --x5u "$url" --attest A --orig 12155551212 \
			--dest 12125551213 >id.txt
		"$sp" verify --identity @id.txt --trust pki/trust --json "$@" >v.json 2>err.txt ||
			rc=$?
		if [[ $rc -eq $want ]] && jq -e "$q" v.json >/dev/null; then
			pass "$name"
		else
			fail "$name: exit $rc $(cat err.txt) $(cat v.json)"
		fi
	}
	vcase "verify fetches x5u over HTTPS and passes" 0 \
		'.verstat == "TN-Validation-Passed" and .cert.source == "x5u" and
		 .cert.spc == "1234"' \
		"$base/sp/leaf-chain.pem" "${ok_args[@]}"
	vcase "verify: x5u on loopback without --allow-host -> No-TN-Validation 436" 1 \
		'.verstat == "No-TN-Validation" and .code == 436 and .cert.fetch == "blocked"' \
		"$base/sp/leaf-chain.pem" --ca-file "$tmp/x5u-test-ca.pem"
	vcase "verify: x5u 404 -> No-TN-Validation 436" 1 \
		'.code == 436 and .check == "cert-fetch" and .cert.fetch == "http-status"' \
		"$base/sp/missing.pem" "${ok_args[@]}"
	vcase "verify: x5u body is not a certificate -> 437" 1 \
		'.code == 437 and .check == "cert-invalid"' "$base/small.txt" "${ok_args[@]}"
fi

# ---- URL rules (no network) --------------------------------------------------------------
check() { # NAME EXPECT(ok|bad-url|blocked) URL ARGS...
	local name=$1 want=$2 url=$3 rc=0 got
	shift 3
	"$sp" fetch --check-only "$url" "$@" >out.txt 2>err.txt || rc=$?
	if [[ $rc -eq 0 ]]; then got=ok; else got=$(cut -d: -f1 err.txt); fi
	if [[ $got == "$want" ]]; then pass "$name: $url -> $want"; else
		fail "$name: $url -> $got (want $want) $(cat err.txt)"
	fi
}
for u in http://cert.example.com/c.pem ftp://cert.example.com/c.pem cert.example.com/c.pem \
	https://user@cert.example.com/c.pem https://u:p@cert.example.com/c.pem \
	'https://cert.example.com/c.pem?x=1' 'https://cert.example.com/c.pem#f' \
	https://cert.example.com:8080/c.pem https://cert.example.com:0/c.pem \
	https://cert.example.com:99999/c.pem https://cert.example.com: https://cert.example.com \
	'https://cert.example.com/a b.pem' 'https://cert.example.com/%zz' https:///c.pem \
	https://cert..example.com/c.pem https://-cert.example.com/c.pem \
	'https://cert_x.example.com/c.pem' 'https://[fe80::1%25eth0]/c.pem' \
	https://127.1/c.pem https://2130706433/c.pem https://0x7f000001/c.pem \
	https://017.0.0.1/c.pem https://127.0.0.1.5/c.pem 'https://[::1/c.pem'; do
	check "URL rule" bad-url "$u"
done
for h in 0.0.0.0 10.1.2.3 100.64.0.1 100.127.255.254 127.0.0.1 169.254.169.254 172.16.0.1 \
	172.31.255.255 192.0.0.8 192.0.2.1 192.88.99.1 192.168.1.1 198.18.0.1 198.19.255.255 \
	198.51.100.7 203.0.113.9 224.0.0.1 239.255.255.250 240.0.0.1 255.255.255.255 \
	'[::]' '[::1]' '[::ffff:127.0.0.1]' '[::ffff:10.0.0.1]' '[64:ff9b::a00:1]' '[100::1]' \
	'[2001:db8::1]' '[2001::1]' '[2002:c000:201::1]' '[3fff::1]' '[fc00::1]' '[fd12:3456::1]' \
	'[fe80::1]' '[fec0::1]' '[ff02::1]' '[5f00::1]' '[::127.0.0.1]'; do
	check "special address" blocked "https://$h/c.pem"
done
for h in 8.8.8.8 1.1.1.1 100.128.0.1 172.32.0.1 192.169.0.1 '[2606:4700:4700::1111]' \
	'[::ffff:8.8.8.8]' '[64:ff9b::808:808]' cert.example.com CERT.Example.COM; do
	check "public address" ok "https://$h/c.pem"
done
check "port 8443" ok https://cert.example.com:8443/c.pem
check "--port list" ok https://cert.example.com:9443/c.pem --port 9443
check "--port list replaces defaults" bad-url https://cert.example.com/c.pem --port 9443
check "allow-host literal" ok https://10.1.2.3/c.pem --allow-host 10.1.2.3
check "allow-host IPv6 with brackets" ok 'https://[::1]/c.pem' --allow-host '[::1]'
check "allow-host IPv6 bare" ok 'https://[::1]/c.pem' --allow-host ::1
check "percent-encoded path" ok https://cert.example.com/a%20b/c.pem
check "path characters" ok "https://cert.example.com/sti/~sp-1/c_2.pem;v=1"

echo "x5u_fetch: $((n - fails))/$n passed"
((fails == 0))
