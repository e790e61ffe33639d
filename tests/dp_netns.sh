#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# End to end over a veth pair: shakend on net_af_packet on the root side, a network namespace
# on the other side pings it, resolves it (ARP and ND) and sends a SIP OPTIONS (python3 UDP
# socket), expecting 200 OK; then a 3000-byte OPTIONS: the kernel fragments it, af_packet
# hands it over reassembled (fanout defrag), shakend's 200 OK goes back in IPv4 fragments.
# Usage: dp_netns.sh [path/to/shakend]. Exit 77 when not root or without ip netns.
set -uo pipefail
shakend=${1:-${SHAKEND_BUILD:-build}/dataplane/shakend}
[[ $(id -u) == 0 ]] || { echo "SKIP: not root"; exit 77; }
command -v ip >/dev/null && ip netns list >/dev/null 2>&1 || { echo "SKIP: no ip netns"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }
[[ -x $shakend ]] || { echo "SKIP: no shakend at $shakend"; exit 77; }

ns=shk$$
va=shka$$
vb=shkb$$
log=$(mktemp /tmp/dp_netns.XXXXXX)
pid=
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	ip link del "$va" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -f "$log"
}
trap cleanup EXIT

ip netns add "$ns" || { echo "SKIP: cannot create a namespace"; exit 77; }
ip link add "$va" type veth peer name "$vb" || { echo "SKIP: no veth"; exit 77; }
ip link set "$vb" netns "$ns"
ip link set "$va" up
# no IP on the root side: the kernel stays out of it, shakend answers
sysctl -qw "net.ipv6.conf.$va.disable_ipv6=1" 2>/dev/null
ip -n "$ns" link set lo up
ip -n "$ns" addr add 192.0.2.2/24 dev "$vb"
ip -n "$ns" addr add 2001:db8::2/64 dev "$vb" nodad
ip -n "$ns" link set "$vb" up
# veth hands af_packet UDP with partial (offloaded) checksums; a real wire never carries those:
# turn TX checksum offload off in the namespace (ETHTOOL_STXCSUM through SIOCETHTOOL)
ip netns exec "$ns" python3 - "$vb" <<'PY' || echo "warning: could not disable TX checksum offload"
import array, fcntl, socket, struct, sys
val = array.array("I", [0x17, 0])  # ETHTOOL_STXCSUM, off
ifr = struct.pack("16sP", sys.argv[1].encode(), val.buffer_info()[0])
fcntl.ioctl(socket.socket(), 0x8946, ifr)
PY

# The af_packet PMD joins a PACKET_FANOUT group with the defrag flag: the kernel reassembles
# IPv4 fragments before the PMD sees them, so frames (and mbufs) must hold a whole datagram.
"$shakend" --no-huge -m 512 --no-pci --no-shconf -l 0 --log-level='*:warning' \
	--vdev="net_af_packet0,iface=$va,framesz=8192,blocksz=8192,framecnt=512" -- \
	--addr 192.0.2.1 --addr 2001:db8::1 --port 5060 --mbuf-size 8192 --mbufs 4095 \
	--stats >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do
	grep -q 'running on' "$log" && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if ! grep -q 'running on' "$log"; then
	cat "$log"
	if grep -qi 'cannot\|failed\|no such' "$log"; then echo "SKIP: shakend cannot start"; exit 77; fi
	echo "FAIL: shakend did not start"; exit 1
fi

fail=0
check() {
	local what=$1; shift
	if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; fail=1; fi
}
inns() { ip netns exec "$ns" "$@"; }

ping_() {  # family addr: ping(8) when installed, else an ICMP echo from python3
	if command -v ping >/dev/null; then
		inns ping -"$1" -c 2 -i 0.2 -W 2 -q "$2"
		return
	fi
	inns python3 - "$@" <<'PY'
import os, socket, struct, sys
v6 = sys.argv[1] == "6"
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW,
                  socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
s.settimeout(2)
def csum(b):
    b += b"\0" * (len(b) % 2)
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff
ident, data = os.getpid() & 0xffff, b"shakend-ping-payload"
msg = struct.pack("!BBHHH", 128 if v6 else 8, 0, 0, ident, 1) + data
if not v6:
    msg = msg[:2] + struct.pack("!H", csum(msg)) + msg[4:]
for attempt in range(3):  # a loaded machine (sanitizer builds) may need a retry
    s.sendto(msg, (sys.argv[2], 0))
    try:
        while True:
            pkt = s.recv(2048)
            icmp = pkt if v6 else pkt[(pkt[0] & 15) * 4:]
            if icmp[0] == (129 if v6 else 0) and icmp[4:6] == struct.pack("!H", ident):
                sys.exit(0 if icmp[8:] == data else 1)
    except socket.timeout:
        continue
sys.exit(1)
PY
}
check "ping 192.0.2.1" ping_ 4 192.0.2.1
check "ARP entry" bash -c "ip -n $ns neigh show 192.0.2.1 | grep -qi '$(cat /sys/class/net/$va/address)'"
check "ping 2001:db8::1" ping_ 6 2001:db8::1
check "ND entry" bash -c "ip -n $ns -6 neigh show 2001:db8::1 | grep -qi '$(cat /sys/class/net/$va/address)'"

sip_options() {  # family addr pad
	inns python3 - "$@" <<'PY'
import socket, sys
fam, addr, pad = sys.argv[1], sys.argv[2], int(sys.argv[3])
af = socket.AF_INET6 if fam == "6" else socket.AF_INET
host = "[%s]" % addr if fam == "6" else addr
s = socket.socket(af, socket.SOCK_DGRAM)
s.settimeout(2)
s.bind(("", 5062))
msg = ("OPTIONS sip:%s SIP/2.0\r\n"
       "Via: SIP/2.0/UDP %s:5062;branch=z9hG4bK%s\r\n"
       "Max-Forwards: 70\r\nFrom: <sip:probe@example.net>;tag=p1\r\n"
       "To: <sip:%s>\r\nCall-ID: netns-%d@example.net\r\nCSeq: 1 OPTIONS\r\n"
       "Content-Length: 0\r\n\r\n") % (host, "192.0.2.2" if fam == "4" else "[2001:db8::2]",
                                      "x" * pad, host, pad)
for attempt in range(3):
    s.sendto(msg.encode(), (addr, 5060))
    try:
        data, peer = s.recvfrom(65535)
    except socket.timeout:
        continue
    text = data.decode(errors="replace")
    ok = text.startswith("SIP/2.0 200 OK\r\n") and ("branch=z9hG4bK" + "x" * pad) in text \
        and ";tag=" in text.split("\r\nTo:", 1)[1].split("\r\n", 1)[0]
    print(text.split("\r\n", 1)[0], len(data), "bytes")
    sys.exit(0 if ok else 1)
sys.exit(1)
PY
}
check "OPTIONS over IPv4 -> 200 OK" sip_options 4 192.0.2.1 8
check "3000-byte OPTIONS -> 200 OK in fragments" sip_options 4 192.0.2.1 3000
check "OPTIONS over IPv6 -> 200 OK" sip_options 6 2001:db8::1 8

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "shakend stops cleanly on SIGTERM" test "$rc" = 0
echo "--- shakend counters"
cat "$log"
grep -q '^sip_options_ok 3$' "$log" || { echo "FAIL: want 3 OPTIONS answered"; fail=1; }
grep -q '^frag_out [1-9]' "$log" || { echo "FAIL: no fragment sent"; fail=1; }
exit $fail
