# SPDX-License-Identifier: BSD-3-Clause
# Shared by the integration tests that need HTTPS x5u repositories on loopback (sourced, not
# run): a TLS test CA and server certificate, the common head of an unprivileged nginx
# configuration, and a TLS server that answers too late. The caller has cd'ed into its temp
# directory $tmp and keeps the background processes in the array pids (killed by its trap).

# https_tls_ca NAME: a self-signed EC P-256 CA as NAME.pem / NAME.key.
https_tls_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}

# https_tls_server CA: srv.pem / srv.key for localhost and 127.0.0.1, issued by CA.pem.
https_tls_server() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key \
		-out srv.csr -subj /CN=localhost 2>/dev/null
	printf '%s\n' subjectAltName=IP:127.0.0.1,DNS:localhost basicConstraints=CA:FALSE \
		extendedKeyUsage=serverAuth >srv.ext
	openssl x509 -req -in srv.csr -CA "$1.pem" -CAkey "$1.key" -CAcreateserial -days 2 \
		-out srv.pem -extfile srv.ext 2>/dev/null
}

# https_nginx_head CONNECTIONS: the part of nginx.conf before the http block's servers.
https_nginx_head() {
	cat <<CONF
daemon off;
master_process off;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log;
events { worker_connections $1; }
CONF
}

# https_nginx_temp_paths: nginx's temp paths inside $tmp (inside an http block).
https_nginx_temp_paths() {
	cat <<CONF
	client_body_temp_path $tmp/cbt;
	proxy_temp_path $tmp/pt;
	fastcgi_temp_path $tmp/ft;
	uwsgi_temp_path $tmp/ut;
	scgi_temp_path $tmp/st;
	default_type application/x-pem-file;
CONF
}

# https_nginx_start: runs nginx on $tmp/nginx.conf in the foreground, in the background.
https_nginx_start() {
	nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log" 2>"$tmp/logs/nginx.stderr" &
	pids+=($!)
}

# https_slow_start PORT: a TLS server (srv.pem) on 127.0.0.1:PORT that answers after 5 s.
https_slow_start() {
	cat >slow.py <<'PY'
import http.server, ssl, sys, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(5)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"late\n")
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
srv.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
PY
	python3 slow.py "$1" srv.pem srv.key 2>logs/slow.log &
	pids+=($!)
}
