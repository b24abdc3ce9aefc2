#!/usr/bin/python3
"""Read ethdev counters of a running DPDK primary process through its telemetry
socket (/var/run/dpdk/<prefix>/dpdk_telemetry.v2): the same way for Peregrine,
ipsec-secgw and dpdk-testpmd. Ports are named by device name (net_null0, net_pcap0),
resolved with /ethdev/list + /ethdev/info, so port numbering does not matter.

rate mode (default): wait until the sink port transmits, sleep WARMUP, sample,
sleep DURATION, sample; print one JSON line: packets out of the sink port
(tx_pkts, tx_mpps), packets taken from the source port (rx_pkts, rx_mpps), the
measured window, plus --tag k=v fields.
--wait-count N: return once the sink port has transmitted >= N packets (finite
verification runs), printing {"tx_pkts": n}.
Exit status 2 with an "error" field when the process died or nothing flowed.
(Adapted from /work/shared/bench/secgw-baseline.sh's telemetry_rate.py.)
"""
import argparse
import json
import socket
import sys
import time


def alive(pid):
    if pid is None:
        return True
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(') ', 1)[1][0] not in 'ZX'
    except OSError:
        return False


def fail(msg, tags):
    d = dict(tags)
    d['error'] = msg
    print(json.dumps(d))
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--sock', required=True)
    ap.add_argument('--pid', type=int)
    ap.add_argument('--tx-name', required=True, help='sink device name (packets out)')
    ap.add_argument('--rx-name', help='source device name (packets in)')
    ap.add_argument('--warmup', type=float, default=2.0)
    ap.add_argument('--duration', type=float, default=10.0)
    ap.add_argument('--timeout', type=float, default=60.0)
    ap.add_argument('--wait-count', type=int)
    ap.add_argument('--tag', action='append', default=[])
    a = ap.parse_args()
    tags = {}
    for t in a.tag:
        k, v = t.split('=', 1)
        tags[k] = int(v) if v.isdigit() else v
    deadline = time.monotonic() + a.timeout
    s = None
    while s is None:
        if not alive(a.pid):
            fail('process exited before telemetry came up', tags)
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(a.sock)
            s.recv(65536)
        except OSError:
            s.close()
            s = None
            if time.monotonic() > deadline:
                fail('telemetry socket not reachable', tags)
            time.sleep(0.2)

    def q(cmd):
        t0 = time.monotonic()
        s.send(cmd.encode())
        r = json.loads(s.recv(1 << 20).decode())
        t1 = time.monotonic()
        return (t0 + t1) / 2, r[cmd.split(',')[0]]

    def port_id(name):
        while True:
            for p in q('/ethdev/list')[1] or []:
                info = q('/ethdev/info,%d' % p)[1]
                if info and info.get('name') == name:
                    return p
            if time.monotonic() > deadline or not alive(a.pid):
                fail('no port named %s' % name, tags)
            time.sleep(0.2)

    txp = port_id(a.tx_name)
    rxp = port_id(a.rx_name) if a.rx_name else None
    target = a.wait_count if a.wait_count is not None else 1
    while True:
        _, st = q('/ethdev/stats,%d' % txp)
        if st and st['opackets'] >= target:
            break
        if time.monotonic() > deadline or not alive(a.pid):
            fail('%s transmitted only %d packets' % (a.tx_name, st['opackets'] if st else 0), tags)
        time.sleep(0.1)
    if a.wait_count is not None:
        d = dict(tags)
        d['tx_pkts'] = st['opackets']
        print(json.dumps(d))
        return

    time.sleep(a.warmup)

    def sample():
        t, tx = q('/ethdev/stats,%d' % txp)
        rx = q('/ethdev/stats,%d' % rxp)[1] if rxp is not None else None
        return t, tx, rx
    t0, tx0, rx0 = sample()
    time.sleep(a.duration)
    t1, tx1, rx1 = sample()
    if not alive(a.pid):
        fail('process died during the window', tags)
    dt = t1 - t0
    d = dict(tags)
    d.update(window_s=round(dt, 4), tx_pkts=tx1['opackets'] - tx0['opackets'],
             tx_errors=tx1['oerrors'] - tx0['oerrors'])
    d['tx_mpps'] = d['tx_pkts'] / dt / 1e6
    if rx0 is not None:
        d['rx_pkts'] = rx1['ipackets'] - rx0['ipackets']
        d['rx_mpps'] = d['rx_pkts'] / dt / 1e6
        d['rx_nombuf'] = rx1['rx_nombuf'] - rx0['rx_nombuf']
    print(json.dumps(d))


main()
