#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The x5u fetcher (dataplane/certcache/fetch.h) against real HTTPS repositories: nginx
# (unprivileged, own prefix, HTTP/1.1 and HTTP/2) on 127.0.0.1:8443 with a TLS certificate
# from a test CA made here, a python3 TLS server that answers too late on 127.0.0.1:8444, and
# a test STI PKI from shaken-pki (with an intermediate, and a CRL distribution point on
# nginx). Then runs test_fetch_nginx, which drives the fetcher and the cache against them.
# Exit 77 when nginx, python3, openssl or shaken-pki is missing.
set -euo pipefail
. "$(dirname "$0")/lib/https.sh"

build=${SHAKEND_BUILD:-$(cd "$(dirname "$0")/.." && pwd)/build}
exe=$build/tests/test_fetch_nginx
pki_tool=$build/tools/shaken-pki
for t in nginx python3 openssl; do
	command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not installed"; exit 77; }
done
[[ -x $pki_tool ]] || { echo "SKIP: $pki_tool not built"; exit 77; }
[[ -x $exe ]] || { echo "FAIL: $exe not built"; exit 1; }

tmp=$(mktemp -d /tmp/certfetch.XXXXXX)
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
cd "$tmp"

# ---- TLS for the repository ------------------------------------------------------------
https_tls_ca tls-ca
https_tls_server tls-ca

# ---- STI PKI and the repository's content ------------------------------------------------
"$pki_tool" --out pki --intermediate --crl-url https://127.0.0.1:8443/crl/sti-pa.crl >/dev/null
mkdir -p www/sp www/crl www/maxage www/nostore www/plain www/flight www/exp www/refresh logs
for f in pki/*-chain.pem; do
	cp "$f" www/sp/
done
cp pki/sti-pa.crl www/crl/sti-pa.crl
for d in maxage nostore plain flight exp refresh; do
	cp pki/leaf-chain.pem "www/$d/leaf-chain.pem"
done
head -c 70000 /dev/urandom | base64 >www/big.pem
printf 'not a certificate\n' >www/notcert.txt

{
	https_nginx_head 256
	echo 'http {'
	cat <<CONF
	log_format fetch '\$request_uri \$server_protocol \$status';
	access_log $tmp/logs/access.log fetch;
CONF
	https_nginx_temp_paths
	cat <<CONF
	server {
		listen 127.0.0.1:8443 ssl http2;
		ssl_certificate $tmp/srv.pem;
		ssl_certificate_key $tmp/srv.key;
		root $tmp/www;
		location /maxage/ { add_header Cache-Control "max-age=120"; }
		location /exp/ { add_header Cache-Control "max-age=120"; }
		location /refresh/ { add_header Cache-Control "max-age=120"; }
		location /nostore/ { add_header Cache-Control "no-store"; }
		location = /redirect.pem { return 302 https://127.0.0.1:8443/sp/leaf-chain.pem; }
		location = /redirect-rel.pem { return 302 /sp/leaf-chain.pem; }
		location = /redirect-http.pem { return 302 http://127.0.0.1:8443/sp/leaf-chain.pem; }
		location = /redirect-twice.pem { return 302 https://127.0.0.1:8443/redirect.pem; }
	}
}
CONF
} >nginx.conf
https_nginx_start
https_slow_start 8444

wait_port() { # port
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "FAIL: nothing listens on 127.0.0.1:$1"
	cat "$tmp/logs/error.log" "$tmp/logs/nginx.stderr" 2>/dev/null || true
	exit 1
}
wait_port 8443
wait_port 8444

CERTFETCH_DIR=$tmp "$exe" --jobs=1 "$@"
