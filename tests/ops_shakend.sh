#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Operations of a running shakend (net_null port, no hugepages): /metrics over HTTP, the
# DPDK telemetry commands, a reload over the control socket with a changed trunk table (reply
# and new generation), SIGHUP with a broken config (the old one stays, the error names the
# field), a clean SIGTERM stop that removes the socket.
# Usage: ops_shakend.sh path/to/shakend. Exit 77 (skip) when EAL cannot start here.
set -u
SHAKEND=${1:?usage: ops_shakend.sh SHAKEND}
command -v curl >/dev/null && command -v python3 >/dev/null || { echo "skip: curl, python3"; exit 77; }
[ -x "$SHAKEND" ] || { echo "skip: no $SHAKEND"; exit 77; }

T=$(mktemp -d /tmp/ops_shakend.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	echo "--- stderr"; tail -n 30 "$T/err.log"
	exit 1
}

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PREFIX=opstest$$
SOCK=$T/run/control.sock

# $1: trunk prefix
write_cfg() {
	cat >"$T/cfg.json" <<EOF
{"eal": ["--no-huge", "-m", "256", "--no-pci", "-l", "0", "--vdev=net_null0",
         "--file-prefix=$PREFIX"],
 "ports": [{"id": 0}],
 "listeners": [{"addr": "192.0.2.1", "port": 5060, "mode": "sign-redirect"}],
 "credentials": [{"id": "main", "key": "/nonexistent/key.pem",
                  "x5u": "https://cr.example.net/sp1.pem"}],
 "trunks": [{"name": "acme", "prefix": "$1", "kind": "customer",
             "origid": "11111111-2222-4333-8444-555555555555"}],
 "telemetry": {"prometheus": "127.0.0.1:$PORT"},
 "control": {"socket": "$SOCK"},
 "log": {"level": "notice", "rate_per_s": 10}}
EOF
}

# One request line to the control socket; prints the reply line.
ctl() {
	python3 - "$SOCK" "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    d = s.recv(65536)
    if not d:
        break
    buf += d
sys.stdout.write(buf.decode())
EOF
}

# A JSON field of a reply: jget 'json' key
jget() {
	python3 -c 'import json,sys; v=json.loads(sys.argv[1]); [v:=v[k] for k in sys.argv[2].split(".")]; print(v)' "$1" "$2"
}

metric() {  # the value of one sample line of /metrics
	curl -s "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n { print $2 }'
}

write_cfg 198.51.100.0/24
"$SHAKEND" -- --config "$T/cfg.json" >"$T/out.log" 2>"$T/err.log" &
PID=$!
for _ in $(seq 200); do
	grep -q "running on" "$T/out.log" && curl -sf "http://127.0.0.1:$PORT/metrics" >/dev/null &&
		break
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
if ! kill -0 "$PID" 2>/dev/null; then
	if grep -q "EAL init failed\|Cannot init\|No available" "$T/err.log"; then
		echo "skip: EAL cannot start"; PID=; exit 77
	fi
	PID=; fail "shakend exited"
fi

# ---- /metrics ----
M=$(curl -sf "http://127.0.0.1:$PORT/metrics") || fail "GET /metrics"
for want in 'shakend_build_info{version=' 'shakend_lcores 1' \
	    'shakend_rx_frames_total{lcore="0"} ' \
	    'shakend_sign_unsigned_total{lcore="0",reason="timeout"} 0' \
	    'shakend_verify_failures_total{lcore="0",code="436"} 0' \
	    'shakend_sip_drops_total{lcore="0",reason="malformed"} 0' \
	    'shakend_cache_lookups_total{result="hit"} 0' \
	    'shakend_log_ring_dropped_total{lcore="0"} 0' \
	    'shakend_config_generation 1' '# TYPE shakend_signed_total counter'; do
	grep -qF "$want" <<<"$M" || fail "/metrics lacks: $want"
done
for _ in $(seq 50); do
	RX=$(metric 'shakend_rx_frames_total{lcore="0"}')
	[ "${RX:-0}" -gt 0 ] && break
	sleep 0.1
done
[ "${RX:-0}" -gt 0 ] || fail "rx frames not counted ($RX)"
CT=$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "http://127.0.0.1:$PORT/metrics")
[ "$CT" = "200 text/plain; version=0.0.4; charset=utf-8" ] || fail "content type: $CT"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")" = 404 ] || fail "404"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/metrics")" = 405 ] ||
	fail "405"

# ---- telemetry ----
TEL=$(python3 - "$PREFIX" <<'EOF'
import glob, json, os, socket, sys
paths = glob.glob("/var/run/dpdk/%s/dpdk_telemetry.v2" % sys.argv[1]) + \
        glob.glob(os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "dpdk", sys.argv[1],
                               "dpdk_telemetry.v2"))
if not paths:
    print("none"); sys.exit(0)
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(paths[0])
json.loads(s.recv(16384))
out = {}
for c in ("/shakend/stats", "/shakend/cache", "/shakend/hsm"):
    s.send(c.encode())
    out.update(json.loads(s.recv(65536)))
st = out["/shakend/stats"]
print("ok" if st["lcores"] == 1 and st["rx_frames"] > 0 and "sign_unsigned_timeout" in st
      and "cache_lookups_hit" in out["/shakend/cache"] and out["/shakend/hsm"] == {} else out)
EOF
)
case $TEL in
ok) ;;
none) echo "note: no telemetry socket found (skipped that part)" ;;
*) fail "telemetry: $TEL" ;;
esac

# ---- control socket ----
R=$(ctl '{"cmd":"version"}')
[ "$(jget "$R" ok)" = True ] && [ "$(jget "$R" generation)" = 1 ] || fail "version: $R"
R=$(ctl '{"cmd":"stats"}')
[ "$(jget "$R" generation)" = 1 ] && [ "$(jget "$R" counters.lcores)" = 1 ] || fail "stats: $R"
R=$(ctl '{"cmd":"cache-stats"}')
[ "$(jget "$R" counters.cache_entries)" = 0 ] || fail "cache-stats: $R"
R=$(ctl '{"cmd":"launch"}')
[ "$(jget "$R" ok)" = False ] && grep -q 'unknown command' <<<"$R" || fail "bad cmd: $R"

# reload with a changed trunk table: live, new generation
write_cfg 203.0.113.0/24
R=$(ctl '{"cmd":"reload"}')
[ "$R" = '{"ok":true,"cmd":"reload","generation":2,"trust_reloaded":false,"restart_needed":[]}' ] ||
	fail "reload: $R"
R=$(ctl '{"cmd":"stats"}')
[ "$(jget "$R" generation)" = 2 ] && [ "$(jget "$R" reloads)" = 1 ] || fail "stats after reload: $R"
[ "$(metric shakend_config_generation)" = 2 ] || fail "metrics generation"
[ "$(metric 'shakend_config_reloads_total{result="ok"}')" = 1 ] || fail "metrics reloads"

# SIGHUP with a broken config: refused, generation 2 stays, the error names the field
write_cfg 203.0.113.0/33
kill -HUP "$PID"
for _ in $(seq 50); do
	[ "$(metric 'shakend_config_reloads_total{result="error"}')" = 1 ] && break
	sleep 0.1
done
kill -0 "$PID" || fail "shakend died on SIGHUP"
R=$(ctl '{"cmd":"stats"}')
[ "$(jget "$R" generation)" = 2 ] && [ "$(jget "$R" reload_errors)" = 1 ] || fail "after HUP: $R"
grep -q 'trunks\[0\]\.prefix' <<<"$(jget "$R" last_error)" || fail "error field: $R"
grep -q 'reload refused: .*trunks\[0\]\.prefix' "$T/err.log" || fail "no log of the refusal"
# the same over the socket: the reply carries the error
R=$(ctl '{"cmd":"reload"}')
[ "$(jget "$R" ok)" = False ] && grep -q 'trunks\[0\]\.prefix' <<<"$R" || fail "reload err: $R"

# ---- stop ----
kill -TERM "$PID"
wait "$PID"
RC=$?
PID=
[ "$RC" = 0 ] || fail "exit status $RC"
[ ! -e "$SOCK" ] || fail "control socket left behind"
echo "ops-shakend: ok"
