#!/usr/bin/env bash
# tests/integration/lab_static.sh - two Peregrine gateways back to back with static SAs.
#
#   usage: lab_static.sh [--narrate] PATH/TO/peregrine
#
#   hosta ------------ gwa ======== wan ======== gwb ------------ hostb
#   192.0.2.10/24    Peregrine A   (bridge,    Peregrine B    203.0.113.10/24
#   via 192.0.2.1    in: 192.0.2.1  tcpdump)   out: 198.51.100.2  via 203.0.113.1
#                    out: 198.51.100.1         in: 203.0.113.1
#
# Five network namespaces; each gateway namespace runs one real `peregrine` process
# whose two ports are af_packet vdevs on that namespace's veths (examples/lab/gw-a.cfg,
# gw-b.cfg: ipsec-manual entries with mirrored SPIs and AES-GCM-128 keys). The kernel
# side of the gateways' veths has no address: ARP, ping and ICMP errors for the
# gateway addresses come from Peregrine.
#
# Checks (each counted): the gateways start and install their SAs; hosts ping their
# gateway's inside and outside addresses; ping, TCP (larger than one segment, so path
# MTU discovery through Peregrine's ICMP fragmentation-needed must work) and UDP pass
# both ways, byte for byte; a capture on the wan bridge holds only ESP and ARP and
# never the payloads' marker string (which a capture on hosta's link does hold);
# Peregrine's counters show protected and decrypted packets and no drop other than the
# expected ones (too_big for PMTU discovery, no_neighbour before ARP resolves); both
# gateways stop cleanly on SIGINT.
#
# Lab artefacts, not Peregrine's: DPDK's af_packet PMD joins a PACKET_FANOUT group
# with PACKET_FANOUT_FLAG_DEFRAG, so the kernel reassembles IPv4 fragments before
# Peregrine sees them (a NIC would not; Peregrine drops transit fragments), and a
# reassembled datagram over the PMD's 2048-byte frame arrives truncated (counted as
# malformed). So the UDP checks stay within the tunnel MTU (1418-byte payloads).
#
# Needs root (namespaces, af_packet), ip, tcpdump, ethtool, ping, /usr/bin/python3.
# --narrate explains each step as it goes (tools/demo). Ends with
# "lab-static: N passed, M failed"; exits non-zero on any failure.
set -u

NAME=lab-static
NARRATE=0
if [ "${1:-}" = "--narrate" ]; then
    NARRATE=1
    shift
fi
PEREGRINE=${1:-}
SRC_DIR=$(cd "$(dirname "$0")/../.." && pwd)
CFG_A=$SRC_DIR/examples/lab/gw-a.cfg
CFG_B=$SRC_DIR/examples/lab/gw-b.cfg

PASS=0
FAIL=0

finish() {
    [ "$NARRATE" -eq 1 ] || echo "-- [${SECONDS}s] done"
    echo "$NAME: $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit $?
}

give_up() {  # a precondition failed: nothing below can run
    echo "$NAME: $*"
    FAIL=$((FAIL + 1))
    finish
}

if [ -z "$PEREGRINE" ] || [ ! -x "$PEREGRINE" ]; then
    give_up "usage: $0 [--narrate] PATH/TO/peregrine (got '${PEREGRINE}', not an executable)"
fi
if [ "$(id -u)" -ne 0 ]; then
    give_up "SKIPPED, counted as a failure: the lab needs root (network namespaces, af_packet); CI runs it as root"
fi
PY=/usr/bin/python3
for t in ip nsenter tcpdump ethtool ping timeout "$PY"; do
    command -v "$t" >/dev/null || give_up "missing tool '$t' (tools/install-deps.sh installs it)"
done

# ---- output -----------------------------------------------------------------------

say() {  # narration: only with --narrate
    if [ "$NARRATE" -eq 1 ]; then printf '%s\n' "$@"; fi
}
step() {  # a numbered section title in narrate mode, a short one otherwise
    STEP=$((${STEP:-0} + 1))
    if [ "$NARRATE" -eq 1 ]; then
        printf '\n=== %d. %s\n' "$STEP" "$1"
    else
        printf -- '-- [%3ds] %s\n' "$SECONDS" "$1"
    fi
}
TUNNEL_UP=1
tcheck() {  # like check, for checks that need the tunnel: fail at once when it is down
    if [ "$TUNNEL_UP" -eq 1 ]; then
        check "$@"
    else
        FAIL=$((FAIL + 1))
        echo "  FAIL $1 (not run: the tunnel is down)"
    fi
}
check() {  # check "what" command...: counts one pass or one failure
    local what=$1 t0=${EPOCHREALTIME/[.,]/} rc=0 took
    shift
    "$@" || rc=1
    took=$(((${EPOCHREALTIME/[.,]/} - t0) / 100000))  # tenths of a second
    ((took >= 30)) && what="$what  [$((took / 10)).$((took % 10)) s]"  # slow: say so
    if ((rc == 0)); then
        PASS=$((PASS + 1))
        echo "  ok   $what"
    else
        FAIL=$((FAIL + 1))
        echo "  FAIL $what"
    fi
    return $rc
}

# ---- topology and cleanup ---------------------------------------------------------

P=pgl$$                    # namespace prefix: unique per run
NS_HA=$P-hosta NS_GA=$P-gwa NS_WAN=$P-wan NS_GB=$P-gwb NS_HB=$P-hostb
ALL_NS=("$NS_HA" "$NS_GA" "$NS_WAN" "$NS_GB" "$NS_HB")
T=$(mktemp -d /tmp/pg-lab-static.XXXXXX)
PIDS=()                    # every background process this script started
PID_A="" PID_B=""

# Commands enter a namespace with nsenter (network namespace only), not `ip netns
# exec` or `ip -n`: those also build a private mount namespace (to remount /sys), and
# on a saturated machine tearing it down at each command's exit took up to 70 s (the
# process hangs after exit_group); the lab then crawled. nsenter execs the command: for background
# jobs, $! is the command's own PID, so signals reach it.
in_ns() {  # in_ns NS command...
    local ns=$1
    shift
    nsenter --net="/run/netns/$ns" "$@"
}

stop_pid() {  # SIGINT (Peregrine prints its final stats), then SIGKILL after 10 s
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -INT "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

cleanup() {
    local pid ns
    for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
    for ns in "${ALL_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "/var/run/dpdk/$NS_GA" "/var/run/dpdk/$NS_GB"  # EAL's runtime dirs (our --file-prefix)
    if [ "$FAIL" -ne 0 ]; then
        for f in "$T"/gwa.log "$T"/gwb.log; do
            [ -f "$f" ] && { echo "---- $(basename "$f") (last 40 lines)"; tail -n 40 "$f"; }
        done
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step "topology: five network namespaces"
for ns in "${ALL_NS[@]}"; do
    ip netns add "$ns" || give_up "cannot create network namespace $ns"
    # no IPv6: nothing but the lab's own IPv4 traffic (and ARP) on any link
    in_ns "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    in_ns "$ns" ip link set lo up
done
ip link add hosta-eth0 netns "$NS_HA" type veth peer name gwa-in netns "$NS_GA" &&
ip link add gwa-out netns "$NS_GA" type veth peer name wan-a netns "$NS_WAN" &&
ip link add gwb-out netns "$NS_GB" type veth peer name wan-b netns "$NS_WAN" &&
ip link add gwb-in netns "$NS_GB" type veth peer name hostb-eth0 netns "$NS_HB" ||
    give_up "cannot create the veth pairs"
in_ns "$NS_WAN" ip link add br0 type bridge forward_delay 0 stp_state 0 mcast_snooping 0
# No multicast either (set before the links come up): the kernels would send IGMP
# reports (TTL 1, which a router drops as ttl_exceeded), the bridge would join the
# snoopers' group, and the wan capture must hold nothing but ESP and ARP.
for l in gwa-in gwa-out; do in_ns "$NS_GA" ip link set "$l" multicast off; done
for l in gwb-in gwb-out; do in_ns "$NS_GB" ip link set "$l" multicast off; done
for l in br0 wan-a wan-b; do in_ns "$NS_WAN" ip link set "$l" multicast off; done
in_ns "$NS_HA" ip link set hosta-eth0 multicast off
in_ns "$NS_HB" ip link set hostb-eth0 multicast off
in_ns "$NS_WAN" ip link set wan-a master br0
in_ns "$NS_WAN" ip link set wan-b master br0
for l in br0 wan-a wan-b; do in_ns "$NS_WAN" ip link set "$l" up; done
for l in gwa-in gwa-out; do in_ns "$NS_GA" ip link set "$l" up; done
for l in gwb-in gwb-out; do in_ns "$NS_GB" ip link set "$l" up; done
in_ns "$NS_HA" ip addr add 192.0.2.10/24 dev hosta-eth0
in_ns "$NS_HA" ip link set hosta-eth0 up
in_ns "$NS_HA" ip route add default via 192.0.2.1
in_ns "$NS_HB" ip addr add 203.0.113.10/24 dev hostb-eth0
in_ns "$NS_HB" ip link set hostb-eth0 up
in_ns "$NS_HB" ip route add default via 203.0.113.1
# A veth's TX checksum offload leaves TCP/UDP checksums to "the hardware"
# (CHECKSUM_PARTIAL); af_packet hands Peregrine the frame as it is, so the hosts
# must compute real checksums (and, without TX checksumming, no TSO either).
in_ns "$NS_HA" ethtool -K hosta-eth0 tx off >/dev/null &&
in_ns "$NS_HB" ethtool -K hostb-eth0 tx off >/dev/null || give_up "ethtool -K tx off failed on a host veth"
say "  $NS_HA: hosta-eth0 192.0.2.10/24, default via 192.0.2.1 (gateway A)" \
    "  $NS_GA: gwa-in, gwa-out - no kernel addresses; Peregrine A owns them through af_packet" \
    "  $NS_WAN: bridge br0 joining wan-a and wan-b: the untrusted link, where tcpdump listens" \
    "  $NS_GB: gwb-out, gwb-in - Peregrine B" \
    "  $NS_HB: hostb-eth0 203.0.113.10/24, default via 203.0.113.1 (gateway B)"

# ---- captures ---------------------------------------------------------------------

start_capture() {  # start_capture NS IFACE FILE: returns once tcpdump listens
    local ns=$1 ifc=$2 out=$3 i
    nsenter --net="/run/netns/$ns" tcpdump -i "$ifc" -nn -U -Z root -s 0 -w "$out" >"$out.err" 2>&1 &
    PIDS+=($!)
    for ((i = 0; i < 100; i++)); do
        grep -q "listening on" "$out.err" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
step "captures: tcpdump on the wan bridge (what an attacker sees) and on hosta's link"
check "tcpdump listens on the wan bridge" start_capture "$NS_WAN" br0 "$T/wan.pcap"
check "tcpdump listens on hosta's link" start_capture "$NS_HA" hosta-eth0 "$T/hosta.pcap"
say "  Both run before the gateways start, so the wan capture covers their whole life."

# ---- the gateways -----------------------------------------------------------------

# Two DPDK processes on two cores: A's worker polls lcore 1, B's lcore 0 (each control
# lcore sleeps in its event loop; --idle-sleep makes idle workers sleep too).
start_gw() {  # start_gw NS CFG MAIN_LCORE LOG
    local ns=$1 cfg=$2 main=$3 log=$4
    nsenter --net="/run/netns/$ns" "$PEREGRINE" -l 0,1 --main-lcore "$main" --no-huge -m 512 --no-pci \
        --file-prefix "$ns" --log-level '*:error' --no-telemetry \
        -- -f "$cfg" --idle-sleep 200 >"$log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
}
wait_running() {  # wait_running PID LOG: until the workers run (or the process died)
    local pid=$1 log=$2 i
    for ((i = 0; i < 300; i++)); do
        grep -q "worker(s) running" "$log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
step "gateways: Peregrine A in $NS_GA, Peregrine B in $NS_GB"
say "  $PEREGRINE -l 0,1 --main-lcore 0 --no-huge -m 512 --no-pci --file-prefix $NS_GA \\" \
    "      --log-level '*:error' --no-telemetry -- -f examples/lab/gw-a.cfg --idle-sleep 200" \
    "  (B: --main-lcore 1 and gw-b.cfg, so the two workers poll different cores)"
check_config() { "$PEREGRINE" --check-config -f "$1" >"$T/check.out" 2>&1 || { cat "$T/check.out"; return 1; }; }
check "--check-config accepts examples/lab/gw-a.cfg" check_config "$CFG_A"
check "--check-config accepts examples/lab/gw-b.cfg" check_config "$CFG_B"
start_gw "$NS_GA" "$CFG_A" 0 "$T/gwa.log"
PID_A=$LAST_PID
start_gw "$NS_GB" "$CFG_B" 1 "$T/gwb.log"
PID_B=$LAST_PID
check "Peregrine A is running" wait_running "$PID_A" "$T/gwa.log" || GW_DOWN=1
check "Peregrine B is running" wait_running "$PID_B" "$T/gwb.log" || GW_DOWN=1
if [ -n "${GW_DOWN:-}" ]; then
    FAIL=$((FAIL + 1))
    echo "  FAIL the traffic, counter and wire checks (not run: a gateway did not start)"
    finish
fi
check "A installed its static SAs (in 0x1001, out 0x2001)" \
    grep -q "seq 10: static SAs installed, peer 198.51.100.2, spi in 0x1001 out 0x2001" "$T/gwa.log"
check "B installed its static SAs (in 0x2001, out 0x1001)" \
    grep -q "seq 10: static SAs installed, peer 198.51.100.1, spi in 0x2001 out 0x1001" "$T/gwb.log"
if [ "$NARRATE" -eq 1 ]; then
    echo "  Peregrine A says:"
    grep -E "^(port|crypto map|peregrine:)" "$T/gwa.log" | sed 's/^/    /'
    echo "  Peregrine B says:"
    grep -E "^(port|crypto map|peregrine:)" "$T/gwb.log" | sed 's/^/    /'
    echo "  The crypto map behind A's SAs (peregrine --check-config -f examples/lab/gw-a.cfg):"
    "$PEREGRINE" --check-config -f "$CFG_A" | sed -n '/^crypto map/,$p' | sed 's/^/    /'
fi

# ---- traffic ----------------------------------------------------------------------

MARKER=PGLAB-$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')  # 16 bytes, unique per run
MARKER_HEX=$(printf '%s' "$MARKER" | od -An -tx1 | tr -d ' \n')

ping_ok() {  # ping_ok NS DST COUNT [ping args]: every echo answered
    local ns=$1 dst=$2 count=$3
    shift 3
    in_ns "$ns" ping -n -q -c "$count" -i 0.2 -W 2 "$@" "$dst" >"$T/ping.out" 2>&1 &&
        grep -q " $count received" "$T/ping.out"
}
ping_retry() {  # ping_retry NS DST: one answered echo within ~20 s (readiness)
    local i
    for ((i = 0; i < 40; i++)); do
        in_ns "$1" ping -n -q -c 1 -W 0.5 "$2" >/dev/null 2>&1 && return 0
    done
    return 1
}

step "the gateways answer ARP and ping for their own addresses"
say "  hosta pings 192.0.2.1 (A's inside port) and 198.51.100.1 (A's outside address," \
    "  reached through the inside port): Peregrine's control core answers ARP and ICMP echo."
check "hosta -> 192.0.2.1 (gateway A inside)" ping_retry "$NS_HA" 192.0.2.1
check "hosta -> 198.51.100.1 (gateway A outside)" ping_ok "$NS_HA" 198.51.100.1 3
check "hostb -> 203.0.113.1 (gateway B inside)" ping_retry "$NS_HB" 203.0.113.1
check "hostb -> 198.51.100.2 (gateway B outside)" ping_ok "$NS_HB" 198.51.100.2 3

step "ping through the tunnel"
say "  The first packets wait for ARP on the wan (A resolves 198.51.100.2, B 198.51.100.1);" \
    "  then every echo is encrypted by one gateway and decrypted by the other." \
    "  The payload carries the marker '$MARKER' (ping -p $MARKER_HEX)."
check "tunnel up: hosta reaches hostb" ping_retry "$NS_HA" 203.0.113.10 || TUNNEL_UP=0
tcheck "ping hosta -> hostb, 5/5 with the marker payload" ping_ok "$NS_HA" 203.0.113.10 5 -p "$MARKER_HEX"
tcheck "ping hostb -> hosta, 5/5 with the marker payload" ping_ok "$NS_HB" 192.0.2.10 5 -p "$MARKER_HEX"
tcheck "ping hosta -> hostb, 1400-byte echoes (fit the tunnel MTU)" ping_ok "$NS_HA" 203.0.113.10 3 -s 1372 -p "$MARKER_HEX"

# TCP and UDP: an echo server on one host, a client on the other that checks the
# echo byte for byte; the server reports a digest of what it received.
cat >"$T/lab_io.py" <<'PYEOF'
import hashlib, os, socket, sys

def tcp_server(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(1); s.settimeout(30)
    print("ready", flush=True)
    c, _ = s.accept(); c.settimeout(30)
    n = int.from_bytes(recv_exact(c, 8), "big")
    data = recv_exact(c, n)
    c.sendall(data)
    c.close()
    print("received %d sha256 %s" % (len(data), hashlib.sha256(data).hexdigest()), flush=True)

def recv_exact(c, n):
    buf = bytearray()
    while len(buf) < n:
        b = c.recv(min(65536, n - len(buf)))
        if not b:
            raise SystemExit("connection closed after %d of %d bytes" % (len(buf), n))
        buf += b
    return bytes(buf)

def payload(marker, n):  # random bytes with the marker every 700 bytes
    data = bytearray(os.urandom(n))
    m = marker.encode()
    for off in range(0, n - len(m) + 1, 700):
        data[off:off + len(m)] = m
    return bytes(data)

def tcp_client(host, port, marker, n):
    data = payload(marker, n)
    c = socket.create_connection((host, port), timeout=10)
    c.sendall(len(data).to_bytes(8, "big") + data)
    back = recv_exact(c, len(data))
    c.close()
    ok = back == data
    print("sent %d sha256 %s echo %s" % (len(data), hashlib.sha256(data).hexdigest(),
                                          "identical" if ok else "DIFFERENT"), flush=True)
    sys.exit(0 if ok else 1)

def udp_server(port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", port)); s.settimeout(30)
    print("ready", flush=True)
    seen = set()
    while len(seen) < count:
        d, a = s.recvfrom(65535)
        s.sendto(d, a)
        seen.add(hashlib.sha256(d).hexdigest())
    print("received %d distinct datagrams" % len(seen), flush=True)

def udp_client(host, port, marker, sizes):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    bad = silent = 0
    for i, size in enumerate(sizes):
        d = (b"%04d" % i + payload(marker, size))[:size]
        for attempt in range(4):
            s.sendto(d, (host, port))
            try:
                back, _ = s.recvfrom(65535)
            except socket.timeout:
                continue
            if back != d:
                print("datagram %d (%d bytes): echo differs" % (i, size)); bad += 1
            silent = 0
            break
        else:
            print("datagram %d (%d bytes): no echo" % (i, size)); bad += 1; silent += 1
            if silent == 3:
                print("udp: three datagrams in a row without echo, giving up"); break
    print("udp: %d of %d datagrams sent, %d bad" % (i + 1, len(sizes), bad), flush=True)
    sys.exit(1 if bad else 0)

try:
    cmd = sys.argv[1]
    if cmd == "tcp-server": tcp_server(int(sys.argv[2]))
    elif cmd == "tcp-client": tcp_client(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]))
    elif cmd == "udp-server": udp_server(int(sys.argv[2]), int(sys.argv[3]))
    elif cmd == "udp-client": udp_client(sys.argv[2], int(sys.argv[3]), sys.argv[4], [int(x) for x in sys.argv[5:]])
except OSError as e:  # timeouts, refused or reset connections: one line, exit 1
    print("%s: %s" % (sys.argv[1], e), flush=True)
    sys.exit(1)
PYEOF

start_server() {  # start_server NS OUT args...: returns once it listens
    local ns=$1 out=$2 i
    shift 2
    nsenter --net="/run/netns/$ns" timeout 60 "$PY" "$T/lab_io.py" "$@" >"$out" 2>&1 &
    PIDS+=($!)
    SERVER_PID=$!
    for ((i = 0; i < 100; i++)); do
        grep -q ready "$out" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

TCP_BYTES=300000  # ~200 full-size segments
tcp_both_ways() {  # tcp_both_ways SERVER_NS SERVER_IP CLIENT_NS TAG
    local sns=$1 sip=$2 cns=$3 tag=$4 sent got
    start_server "$sns" "$T/tcp-$tag.srv" tcp-server 5001 || return 1
    in_ns "$cns" timeout 60 "$PY" "$T/lab_io.py" tcp-client "$sip" 5001 "$MARKER" "$TCP_BYTES" \
        >"$T/tcp-$tag.cli" 2>&1 || { cat "$T/tcp-$tag.cli"; return 1; }
    wait "$SERVER_PID" 2>/dev/null
    sent=$(sed -n 's/^sent \([0-9]*\) sha256 \([0-9a-f]*\) echo identical$/\1 \2/p' "$T/tcp-$tag.cli")
    got=$(sed -n 's/^received \([0-9]*\) sha256 \([0-9a-f]*\)$/\1 \2/p' "$T/tcp-$tag.srv")
    [ -n "$sent" ] && [ "$sent" = "$got" ] || { cat "$T/tcp-$tag.cli" "$T/tcp-$tag.srv"; return 1; }
}
UDP_SIZES=(1 28 64 200 512 999 1000 1200 1400 1418)  # 1418: the largest that fits (IP 1446)
udp_both_ways() {  # udp_both_ways SERVER_NS SERVER_IP CLIENT_NS TAG
    local sns=$1 sip=$2 cns=$3 tag=$4
    start_server "$sns" "$T/udp-$tag.srv" udp-server 5002 "${#UDP_SIZES[@]}" || return 1
    in_ns "$cns" timeout 60 "$PY" "$T/lab_io.py" udp-client "$sip" 5002 "$MARKER" "${UDP_SIZES[@]}" \
        >"$T/udp-$tag.cli" 2>&1 || { cat "$T/udp-$tag.cli"; return 1; }
    wait "$SERVER_PID" 2>/dev/null
    grep -q "received ${#UDP_SIZES[@]} distinct datagrams" "$T/udp-$tag.srv"
}

step "TCP and UDP through the tunnel, both ways"
say "  TCP: $TCP_BYTES bytes each way over one connection, echoed back and compared byte for" \
    "  byte. The hosts' MTU is 1500 but the tunnel carries at most 1446-byte inner packets" \
    "  (1500 - outer IPv4 20 - ESP header 8 - IV 8 - ICV 16, padded): the first full-size" \
    "  segment (DF set) is answered by the gateway with ICMP fragmentation-needed, mtu 1446," \
    "  and the host's path MTU discovery shrinks its segments."
tcheck "TCP hosta -> hostb, $TCP_BYTES bytes echoed identically" tcp_both_ways "$NS_HB" 203.0.113.10 "$NS_HA" ab
tcheck "TCP hostb -> hosta, $TCP_BYTES bytes echoed identically" tcp_both_ways "$NS_HA" 192.0.2.10 "$NS_HB" ba
tcheck "hosta learned path MTU 1446 to hostb (from A's ICMP frag-needed)" \
    bash -c "nsenter --net=/run/netns/$NS_HA ip route get 203.0.113.10 | grep -q 'mtu 1446'"
tcheck "hostb learned path MTU 1446 to hosta (from B's ICMP frag-needed)" \
    bash -c "nsenter --net=/run/netns/$NS_HB ip route get 192.0.2.10 | grep -q 'mtu 1446'"
if [ "$NARRATE" -eq 1 ]; then
    say "  The gateway's answer to the first full-size segment, on hosta's link:"
    tcpdump -r "$T/hosta.pcap" -nn -c 1 'icmp[0] == 3 and icmp[1] == 4' 2>/dev/null | sed 's/^/    /'
fi
say "  UDP: datagrams of ${UDP_SIZES[*]} bytes, each echoed and compared."
tcheck "UDP hosta -> hostb, ${#UDP_SIZES[@]} datagrams echoed identically" udp_both_ways "$NS_HB" 203.0.113.10 "$NS_HA" ab
tcheck "UDP hostb -> hosta, ${#UDP_SIZES[@]} datagrams echoed identically" udp_both_ways "$NS_HA" 192.0.2.10 "$NS_HB" ba

# ---- counters ---------------------------------------------------------------------

stats_of() {  # stats_of PID LOG OUT: SIGUSR1, then the block of stats lines it printed
    local pid=$1 log=$2 out=$3 before i
    before=$(grep -c "^stats: crypto map" "$log")  # the last line of a block
    kill -USR1 "$pid" 2>/dev/null || return 1
    for ((i = 0; i < 50; i++)); do
        [ "$(grep -c "^stats: crypto map" "$log")" -gt "$before" ] && break
        sleep 0.1
    done
    awk '/^stats: rx /{n++} {line[NR] = $0; blk[NR] = n} END {for (i = 1; i <= NR; i++) if (blk[i] == n && line[i] ~ /^stats:/) print line[i]}' \
        "$log" >"$out"
    grep -q "^stats: crypto map" "$out"
}
counter() {  # counter FILE NAME: the value after NAME on the "stats: rx" line
    awk -v k="$2" '/^stats: rx /{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' "$1"
}
control_counter() {
    awk -v k="$2" '/^stats: control /{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' "$1"
}
unexpected_drops() {  # prints drop lines other than too_big and no_neighbour
    grep "^stats: drop " "$1" | grep -Ev "^stats: drop (too_big|no_neighbour) "
}
counters_ok() {  # counters_ok FILE TAG
    local f=$1 prot dec
    prot=$(counter "$f" protected)
    dec=$(counter "$f" decrypted)
    [ "${prot:-0}" -gt 0 ] && [ "${dec:-0}" -gt 0 ] || { echo "    $2: protected=$prot decrypted=$dec"; return 1; }
}
no_unexpected_drops() {
    if unexpected_drops "$1" >/dev/null; then
        unexpected_drops "$1" | sed 's/^/    /'
        return 1
    fi
}
frag_needed_sent() { [ "$(control_counter "$1" frag-needed)" -gt 0 ] 2>/dev/null; }
not_more_decrypted() {  # B cannot decrypt more than A protected, and vice versa
    [ "$(counter "$2" decrypted)" -le "$(counter "$1" protected)" ] 2>/dev/null
}

step "Peregrine's counters (SIGUSR1)"
check "A prints its counters" stats_of "$PID_A" "$T/gwa.log" "$T/stats-a"
check "B prints its counters" stats_of "$PID_B" "$T/gwb.log" "$T/stats-b"
check "A protected and decrypted packets" counters_ok "$T/stats-a" A
check "B protected and decrypted packets" counters_ok "$T/stats-b" B
check "B decrypted no more than A protected" not_more_decrypted "$T/stats-a" "$T/stats-b"
check "A decrypted no more than B protected" not_more_decrypted "$T/stats-b" "$T/stats-a"
check "A sent ICMP frag-needed (path MTU discovery)" frag_needed_sent "$T/stats-a"
check "B sent ICMP frag-needed (path MTU discovery)" frag_needed_sent "$T/stats-b"
check "A: no drops but too_big / no_neighbour" no_unexpected_drops "$T/stats-a"
check "B: no drops but too_big / no_neighbour" no_unexpected_drops "$T/stats-b"
if [ "$NARRATE" -eq 1 ]; then
    say "  protected = encrypted into ESP, decrypted = ESP accepted and delivered inside;" \
        "  too_big = full-size DF packets answered with frag-needed; no_neighbour = packets" \
        "  that arrived before ARP had resolved the next hop."
    echo "  Peregrine A:"
    sed 's/^/    /' "$T/stats-a"
    echo "  Peregrine B:"
    sed 's/^/    /' "$T/stats-b"
fi

# ---- the wire ---------------------------------------------------------------------

# Let tcpdump write out what it holds, then read the captures.
sleep 0.3
pcap_count() {  # pcap_count FILE FILTER
    tcpdump -r "$1" -nn "$2" 2>/dev/null | wc -l
}
only_esp_and_arp() {
    local other
    other=$(pcap_count "$T/wan.pcap" "not (ip proto 50 or arp)")
    [ "$other" -eq 0 ] || { tcpdump -r "$T/wan.pcap" -nn "not (ip proto 50 or arp)" 2>/dev/null | head -5; return 1; }
}
esp_seen() { [ "$(pcap_count "$T/wan.pcap" "ip proto 50")" -ge 400 ]; }
esp_between_gateways() {  # every ESP packet is 198.51.100.1 <-> 198.51.100.2
    [ "$(pcap_count "$T/wan.pcap" "ip proto 50 and not ((src 198.51.100.1 and dst 198.51.100.2) or (src 198.51.100.2 and dst 198.51.100.1))")" -eq 0 ]
}
marker_in() { grep -aqF "$MARKER" "$1"; }
marker_not_in() { ! grep -aqF "$MARKER" "$1"; }

step "what the wire shows"
check "the wan capture holds only ESP (IP protocol 50) and ARP" only_esp_and_arp
check "the wan capture holds the tunnel's ESP (>= 400 packets)" esp_seen
check "all ESP is between the two gateways' outside addresses" esp_between_gateways
check "the marker is on hosta's link (clear text there; the search works)" marker_in "$T/hosta.pcap"
check "the marker never appears on the wan" marker_not_in "$T/wan.pcap"
if [ "$NARRATE" -eq 1 ]; then
    say "  $(pcap_count "$T/wan.pcap" "ip proto 50") ESP and $(pcap_count "$T/wan.pcap" arp) ARP packets on the wan," \
        "  $(pcap_count "$T/wan.pcap" "not (ip proto 50 or arp)") others. The ARP exchange between the gateways:"
    tcpdump -r "$T/wan.pcap" -nn -c 2 arp 2>/dev/null | sed 's/^/    /'
    say "  A few ESP packets as tcpdump decodes them - SPI and sequence number, nothing inside:"
    tcpdump -r "$T/wan.pcap" -nn -c 6 'ip proto 50' 2>/dev/null | sed 's/^/    /'
    say "  The first TCP segment that fit the tunnel, on hosta's link (the marker in clear):"
    tcpdump -r "$T/hosta.pcap" -nn -X -c 1 'tcp dst port 5001 and greater 1000 and less 1460' 2>/dev/null |
        head -n 6 | sed 's/^/    /'
    say "  A full-size ESP packet from A on the wan: after the SPI and sequence number, noise:"
    tcpdump -r "$T/wan.pcap" -nn -X -c 1 'ip proto 50 and src 198.51.100.1 and greater 1500' 2>/dev/null |
        head -n 6 | sed 's/^/    /'
    say "  grep for '$MARKER': $(grep -acF "$MARKER" "$T/hosta.pcap") hits in hosta's capture," \
        "  $(grep -acF "$MARKER" "$T/wan.pcap") in the wan capture."
fi

# ---- shutdown ---------------------------------------------------------------------

stopped_cleanly() {  # stopped_cleanly PID LOG: SIGINT -> exit 0 with final stats
    local pid=$1 log=$2 rc i
    kill -INT "$pid" 2>/dev/null || return 1
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && return 1
    wait "$pid"
    rc=$?
    [ "$rc" -eq 0 ] && grep -q "signal 2, stopping" "$log" && tail -n 1 "$log" | grep -q "^stats: crypto map"
}
step "shutdown"
check "A stops on SIGINT, exit 0, final stats printed" stopped_cleanly "$PID_A" "$T/gwa.log"
check "B stops on SIGINT, exit 0, final stats printed" stopped_cleanly "$PID_B" "$T/gwb.log"
say "  Namespaces, captures and processes are removed on exit."

finish
