#!/usr/bin/python3
"""tools/bench/bench.py - the logic half of tools/bench/run (which does processes).

  bench.py plan                       selected cases (env CASES, SIZES, NFLOWS, SCALE_SAS)
  bench.py frames --plan P            distinct frame sizes of the plan
  bench.py transforms --plan P        Peregrine names of the plan's transforms
  bench.py pcaps --plan P --dir D     write every input pcap of the plan (tools/mkpcap.py)
  bench.py config --impl pg|secgw ... Peregrine / ipsec-secgw configuration of a case
  bench.py verify ...                 check one finite run's output against its input
  bench.py pgstats LOG                Peregrine's exit counters as one JSON object
  bench.py report --results R --plan P --out DIR   table.txt + results.json

Both gateways get the same SAs, keys, SPIs and addresses:
  inside hosts 192.0.2.0/24, remote networks 203.0.113.0/24 (mkpcap.py's flows),
  gateway outside 198.51.100.1, peer 198.51.100.2, SA k: outbound SPI 0x2000 + k,
  inbound SPI 0x1000 + k (decimal in ipsec-secgw's files), tunnel mode, no ESN,
  anti-replay off. Peregrine's inside port is 198.18.0.1/24 (RFC 2544 benchmark
  range) with 192.0.2.0/24 routed via 198.18.0.2, so that every inside host is
  reached through one static neighbour.
"""
import argparse
import collections
import importlib.util
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("mkpcap", os.path.join(HERE, "..", "mkpcap.py"))
mkpcap = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mkpcap)

LOCAL, PEER = "198.51.100.1", "198.51.100.2"
SPI_IN, SPI_OUT = 0x1000, 0x2000
AES_KEY = "2b7e151628aed2a6abf7158809cf4f3c"
GCM_SALT = "deadbeef"
HMAC_KEY = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

# bench name -> everything each side needs. One table; the rest derives from it.
TRANSFORMS = {
    "gcm128": {
        "mkpcap": "aes128-gcm16", "pg_tool": "aes128-gcm16", "label": "AES-GCM-128",
        "pg_esp": "aes-gcm-128", "pg_integ": None, "enc": AES_KEY + GCM_SALT, "auth": "",
        "scapy": ("AES-GCM", None),
        "secgw": "aead_algo aes-128-gcm aead_key %s" % ":".join(
            re.findall("..", AES_KEY + GCM_SALT)),
        "cperf": "--optype aead --aead-algo aes-gcm --aead-op encrypt --aead-key-sz 16 "
                 "--aead-iv-sz 12 --aead-aad-sz 8 --digest-sz 16",
    },
    "cbc-sha256": {
        "mkpcap": "aes128-cbc-sha256", "pg_tool": "aes128-sha256",
        "label": "AES-CBC-128 + HMAC-SHA-256-128",
        "pg_esp": "aes-cbc-128", "pg_integ": "hmac-sha256-128", "enc": AES_KEY, "auth": HMAC_KEY,
        "scapy": ("AES-CBC", "SHA2-256-128"),
        "secgw": "cipher_algo aes-128-cbc cipher_key %s auth_algo sha256-hmac auth_key %s" % (
            ":".join(re.findall("..", AES_KEY)), ":".join(re.findall("..", HMAC_KEY))),
        "cperf": "--optype cipher-then-auth --cipher-algo aes-cbc --cipher-op encrypt "
                 "--cipher-key-sz 16 --cipher-iv-sz 16 --auth-algo sha2-256-hmac --auth-op generate "
                 "--auth-key-sz 32 --digest-sz 16",
    },
}
# ipsec-secgw modes (as in /work/shared/bench/secgw-baseline.sh): SA type, app flag
SECGW_MODES = {
    "lsnone": ("", ""),                     # lookaside-none, legacy path
    "lsnone_lib": ("", "-l"),               # lookaside-none, librte_ipsec path
    "cpu_lib": (" type cpu-crypto", "-l"),  # cpu-crypto, librte_ipsec path
}
IMIX_WEIGHTS = ((mkpcap.IMIX_SMALL, 7), (mkpcap.IMIX_MEDIUM, 4), (mkpcap.IMIX_LARGE, 1))
PLAN_FIELDS = ("case", "dir", "transform", "size", "sas", "flows", "pcap")


# ------------------------------------------------------------------ plan
def frames_of(size):
    """Distinct frame sizes behind a size name (imix: its three sizes)."""
    return [s for s, _ in IMIX_WEIGHTS] if size == "imix" else [int(size)]


def pcap_name(direction, transform, size, sas, flows):
    if direction == "out":
        return "plain_%s_f%d_s%d.pcap" % (size, flows, sas)
    return "esp_%s_%s_f%d_s%d.pcap" % (transform, size, flows, sas)


def all_cases(sizes, nflows, scale_sas):
    cases = []
    for d in ("out", "in"):
        for t in TRANSFORMS:
            for s in sizes:
                cases.append(("%s-%s-%s" % (d, t, s), d, t, s, 1, nflows))
    for d in ("out", "in"):
        cases.append(("scale-%s-gcm128-64" % d, d, "gcm128", "64", scale_sas, scale_sas))
    return [dict(zip(PLAN_FIELDS, c + (pcap_name(c[1], c[2], c[3], c[4], c[5]),))) for c in cases]


def cmd_plan(_a):
    sizes = os.environ.get("SIZES", "64 512 1420 imix").split()
    for s in sizes:
        if s != "imix" and not s.isdigit():
            sys.exit("SIZES: '%s' is not a frame size" % s)
    nflows = int(os.environ.get("NFLOWS", "512"))
    scale_sas = int(os.environ.get("SCALE_SAS", "1000"))
    sel = os.environ.get("CASES", "out in scale").split()
    for c in all_cases(sizes, nflows, scale_sas):
        if any(c["case"] == w or c["case"].startswith(w + "-") for w in sel):
            print("\t".join(str(c[f]) for f in PLAN_FIELDS))


def cmd_frames(a):
    """Distinct plaintext frame sizes of the plan (for the crypto ceiling tools)."""
    frames = set()
    for c in read_plan(a.plan):
        frames.update(frames_of(c["size"]))
    print(" ".join(str(f) for f in sorted(frames)))


def cmd_transforms(a):
    """Peregrine transform names of the plan's transforms (pg-bench-crypto --transforms)."""
    names = sorted({TRANSFORMS[c["transform"]]["pg_tool"] for c in read_plan(a.plan)})
    print(",".join(names))


def read_plan(path):
    out = []
    for line in open(path):
        if line.strip():
            c = dict(zip(PLAN_FIELDS, line.rstrip("\n").split("\t")))
            c["sas"], c["flows"] = int(c["sas"]), int(c["flows"])
            out.append(c)
    return out


# ------------------------------------------------------------------ pcaps
def cmd_pcaps(a):
    done = set()
    for c in read_plan(a.plan):
        if c["pcap"] in done:
            continue
        done.add(c["pcap"])
        path = os.path.join(a.dir, c["pcap"])
        args = ["--out", path, "--size", c["size"], "--flows", str(c["flows"]), "--sas", str(c["sas"])]
        if c["dir"] == "out":
            rc = mkpcap.main(["plain"] + args)
        else:
            t = TRANSFORMS[c["transform"]]
            rc = mkpcap.main(["esp"] + args + [
                "--transform", t["mkpcap"], "--enc-key", t["enc"], "--auth-key", t["auth"],
                "--spi", str(SPI_IN), "--src", PEER, "--dst", LOCAL])
        if rc:
            sys.exit("mkpcap failed for %s" % path)


# ------------------------------------------------------------------ configs
def selector(k, sas):
    """(ACL destination, destination port or None) of SA k: mkpcap.py's flows."""
    if sas <= 1:
        return "203.0.113.0/24", None
    dst, dport = mkpcap.sa_selector(k)
    return dst + "/32", dport


def pg_config(a):
    t = TRANSFORMS[a.transform]
    L = []
    L.append("# Peregrine benchmark config (tools/bench): %s, %s, %d SA(s)" % (
        "outbound" if a.dir == "out" else "inbound", a.transform, a.sas))
    L.append("ports = (")
    L.append('  { name = "inside0";  device = "%s"; role = "inside";  address = "198.18.0.1/24"; },'
             % a.inside)
    L.append('  { name = "outside0"; device = "%s"; role = "outside"; address = "%s/24"; }'
             % (a.outside, LOCAL))
    L.append(");")
    L.append('routes = ( { prefix = "203.0.113.0/24"; via = "%s"; port = "outside0"; },' % PEER)
    L.append('           { prefix = "192.0.2.0/24"; via = "198.18.0.2"; port = "inside0"; } );')
    L.append('neighbours = ( { address = "%s"; mac = "%s"; port = "outside0"; },'
             % (PEER, mkpcap.PEER_MAC))
    L.append('               { address = "198.18.0.2"; mac = "%s"; port = "inside0"; } );'
             % mkpcap.HOST_MAC)
    L.append("access-lists = (")
    acls = []
    for k in range(a.sas):
        dst, dport = selector(k, a.sas)
        if dport is None:
            ace = ('{ action = "permit"; protocol = "ip"; source = "192.0.2.0/24"; '
                   'destination = "%s"; }' % dst)
        else:
            ace = ('{ action = "permit"; protocol = "udp"; source = "192.0.2.0/24"; '
                   'destination = "host %s"; destination-port = "%d"; }' % (dst[:-3], dport))
        acls.append('  { name = "sa%d"; entries = ( %s ); }' % (k, ace))
    L.append(",\n".join(acls))
    L.append(");")
    integ = ' integrity = "%s";' % t["pg_integ"] if t["pg_integ"] else ""
    L.append('transform-sets = ( { name = "ts"; esp = "%s";%s } );' % (t["pg_esp"], integ))
    L.append('crypto-maps = ( { name = "bench"; interface = "outside0"; entries = (')
    ents = []
    ikey = ' integrity-key = "%s";' % t["auth"] if t["auth"] else ""
    for k in range(a.sas):
        ents.append(
            '  { seq = %d; type = "ipsec-manual"; match-address = "sa%d"; peers = ( "%s" ); '
            'transform-sets = [ "ts" ];%s\n'
            '    inbound  = { spi = 0x%x; cipher-key = "%s";%s };\n'
            '    outbound = { spi = 0x%x; cipher-key = "%s";%s }; }'
            % (k + 1, k, PEER, "" if a.no_anti_replay else " anti-replay = false;",
               SPI_IN + k, t["enc"], ikey, SPI_OUT + k, t["enc"], ikey))
    L.append(",\n".join(ents))
    L.append(") } );")
    return "\n".join(L) + "\n"


def secgw_config(a):
    t = TRANSFORMS[a.transform]
    sa_type, _ = SECGW_MODES[a.mode]
    L = ["# ipsec-secgw benchmark config (tools/bench): %s, %d SA(s), mode %s"
         % (a.transform, a.sas, a.mode),
         "# port 0 = protected (inside), port 1 = unprotected (outside, -u 0x2)"]
    for k in range(a.sas):
        dst, dport = selector(k, a.sas)
        dp = "%d:%d" % (dport, dport) if dport is not None else "0:65535"
        L.append("sp ipv4 out esp protect %d pri %d src 192.0.2.0/24 dst %s sport 0:65535 dport %s"
                 % (SPI_OUT + k, k + 1, dst, dp))
        L.append("sp ipv4 in esp protect %d pri %d src %s dst 192.0.2.0/24 sport %s dport 0:65535"
                 % (SPI_IN + k, k + 1, dst, dp))
    for k in range(a.sas):
        L.append("sa out %d %s mode ipv4-tunnel src %s dst %s%s"
                 % (SPI_OUT + k, t["secgw"], LOCAL, PEER, sa_type))
        L.append("sa in %d %s mode ipv4-tunnel src %s dst %s%s"
                 % (SPI_IN + k, t["secgw"], PEER, LOCAL, sa_type))
    L.append("rt ipv4 dst 198.51.100.0/24 port 1")
    L.append("rt ipv4 dst 192.0.2.0/24 port 0")
    return "\n".join(L) + "\n"


def cmd_config(a):
    text = pg_config(a) if a.impl == "pg" else secgw_config(a)
    with open(a.out, "w") as f:
        f.write(text)
    if a.impl == "secgw":
        print(SECGW_MODES[a.mode][1])  # the app flag the mode needs ("" or "-l")


# ------------------------------------------------------------------ verify
def norm(ip):
    """Inner IPv4 bytes with TTL and header checksum zeroed (gateways decrement TTL)."""
    b = bytearray(bytes(ip))
    b[8] = 0
    b[10:12] = b"\0\0"
    return bytes(b)


def read_frames(paths):
    from scapy.utils import RawPcapReader
    out = []
    for p in paths:
        if os.path.exists(p) and os.path.getsize(p) > 0:
            out += [bytes(d) for d, _ in RawPcapReader(p)]
    return out


def cmd_verify(a):
    from scapy.all import Ether, IP, UDP
    from scapy.layers.ipsec import SecurityAssociation, ESP
    t = TRANSFORMS[a.transform]
    res = {"kind": "verify", "impl": a.impl, "case": a.case, "mode": a.mode}
    inner_by_frame = []
    for f, frame in mkpcap.frame_sizes(a.size, a.flows):
        inner_by_frame.append((f, mkpcap.plain_ip(f, frame, a.sas, reverse=(a.dir == "in"))))
    want = collections.Counter(norm(ip) for _, ip in inner_by_frame)
    sa_of = {norm(ip): f % a.sas for f, ip in inner_by_frame}
    out = read_frames(a.output)
    ok = bad = 0
    errors = []
    ttl_dec = set()
    ttl_in = {norm(ip): ip.ttl for _, ip in inner_by_frame}
    sas = {}
    for fr in out:
        try:
            ip = Ether(fr)[IP]
            if a.dir == "out":
                if ip.proto != 50:
                    raise ValueError("clear-text packet on the tunnel side")
                if (ip.src, ip.dst) != (LOCAL, PEER):
                    raise ValueError("outer %s -> %s" % (ip.src, ip.dst))
                spi = ip[ESP].spi
                k = spi - SPI_OUT
                if not 0 <= k < a.sas:
                    raise ValueError("unexpected SPI 0x%x" % spi)
                if k not in sas:
                    algo, aalgo = t["scapy"]
                    sas[k] = SecurityAssociation(
                        ESP, spi=spi, crypt_algo=algo, crypt_key=bytes.fromhex(t["enc"]),
                        auth_algo=aalgo, auth_key=bytes.fromhex(t["auth"]) if t["auth"] else None,
                        tunnel_header=IP(src=LOCAL, dst=PEER))
                inner = IP(bytes(sas[k].decrypt(ip)))  # raises on a bad ICV
            else:
                if ip.proto == 50 or (ip.haslayer(UDP) and ip[UDP].dport == 4500):
                    raise ValueError("ESP packet on the inside")
                inner = ip
                k = None
            chk = inner.chksum
            fixed = IP(bytes(inner))
            del fixed.chksum
            if IP(bytes(fixed)).chksum != chk:
                raise ValueError("inner IPv4 header checksum wrong")
            n = norm(inner)
            if want[n] <= 0:
                raise ValueError("packet not in the input (or duplicated)")
            if k is not None and sa_of[n] != k:
                raise ValueError("flow of SA %d encrypted with SA %d" % (sa_of[n], k))
            want[n] -= 1
            ttl_dec.add(ttl_in[n] - inner.ttl)
            ok += 1
        except Exception as e:  # noqa: BLE001 - every failure is a finding
            bad += 1
            if len(errors) < 3:
                errors.append(repr(e)[:200])
    res.update(expected=len(inner_by_frame), ok=ok, bad=bad, missing=sum(want.values()),
               ttl_decrement=sorted(ttl_dec), errors=errors)
    res["valid"] = ok == len(inner_by_frame) and bad == 0
    print(json.dumps(res))


# ------------------------------------------------------------------ Peregrine counters
def cmd_pgstats(a):
    d = {"drops": {}}
    for line in open(a.log, errors="replace"):
        m = re.match(r"stats: rx (\d+) tx (\d+) protected (\d+) decrypted (\d+) clear (\d+)", line)
        if m:
            d.update(zip(("rx", "tx", "protected", "decrypted", "clear"), map(int, m.groups())))
        m = re.match(r"stats: drop (\S+)\s+(\d+)", line)
        if m and int(m.group(2)):
            d["drops"][m.group(1)] = int(m.group(2))
    print(json.dumps(d))


# ------------------------------------------------------------------ report
def med(v):
    return statistics.median(v) if v else None


def fmt(v, p=2):
    return "-" if v is None else ("%." + str(p) + "f") % v


def pct(v):
    return "-" if v is None else "%.0f%%" % (100 * v)


def cmd_report(a):
    plan = read_plan(a.plan)
    rows = [json.loads(l) for l in open(a.results) if l.strip()]
    meta = next((r for r in rows if r.get("kind") == "meta"), {})
    errors = [r for r in rows if "error" in r]
    runs = collections.defaultdict(list)    # (impl, case, mode) -> [mpps]
    src = collections.defaultdict(list)     # pcap -> [mpps]
    cry = collections.defaultdict(list)     # (pg_tool, dir, frame) -> [mpps]
    cperf = collections.defaultdict(list)   # (transform, buffer) -> [mops]
    probes = collections.defaultdict(dict)  # case -> mode -> mpps
    verify = {}
    pgstats = collections.defaultdict(list)
    acl = []
    for r in rows:
        k = r.get("kind")
        if "error" in r:
            continue
        if k == "run":
            runs[(r["impl"], r["case"], r.get("mode", ""))].append(r["tx_mpps"])
        elif k == "source":
            src[r["pcap"]].append(r["tx_mpps"])
        elif k == "crypto":
            cry[(r["transform"], r["dir"], r["frame"])].append(r["mpps"])
        elif k == "cperf":
            cperf[(r["transform"], r["buffer"])].append(r["mops"])
        elif k == "probe":
            probes[r["case"]][r["mode"]] = r["tx_mpps"]
        elif k == "verify":
            verify[(r["impl"], r["case"], r.get("mode") or "")] = r
        elif k == "pgstats":
            pgstats[r["case"]].append(r)
        elif k == "acl":
            acl.append(r)

    def crypto_ceiling(c):
        t = TRANSFORMS[c["transform"]]["pg_tool"]
        d = "encrypt" if c["dir"] == "out" else "decrypt"
        if c["size"] == "imix":
            parts = [(med(cry.get((t, d, s), [])), w) for s, w in IMIX_WEIGHTS]
            if any(p is None or p <= 0 for p, _ in parts):
                return None
            return sum(w for _, w in parts) / sum(w / p for p, w in parts)
        return med(cry.get((t, d, int(c["size"])), []))

    def crypto_mixed(c):
        """The engine on bursts that really mix the IMIX sizes (pg-bench-crypto imix)."""
        if c["size"] != "imix":
            return None
        t = TRANSFORMS[c["transform"]]["pg_tool"]
        return med(cry.get((t, "encrypt" if c["dir"] == "out" else "decrypt", "imix"), []))

    cases = []
    for c in plan:
        pg = med(runs.get(("pg", c["case"], ""), []))
        modes = {m: med(v) for (i, cc, m), v in runs.items() if i == "secgw" and cc == c["case"]}
        best_mode = max(modes, key=lambda m: modes[m]) if modes else None
        sg = modes[best_mode] if best_mode else None
        s_ceil = med(src.get(c["pcap"], []))
        c_ceil = crypto_ceiling(c)
        serial = 1 / (1 / s_ceil + 1 / c_ceil) if s_ceil and c_ceil else None
        drops = collections.Counter()
        for st in pgstats.get(c["case"], []):
            drops.update(st.get("drops", {}))
        cases.append({
            "case": c["case"], "dir": c["dir"], "transform": c["transform"], "size": c["size"],
            "sas": c["sas"], "flows": c["flows"], "pcap": c["pcap"],
            "peregrine_mpps": pg, "peregrine_runs": runs.get(("pg", c["case"], ""), []),
            "secgw_mpps": sg, "secgw_mode": best_mode,
            "secgw_runs": {m: runs[("secgw", c["case"], m)] for m in modes},
            "secgw_probe": probes.get(c["case"]),
            "ratio": pg / sg if pg and sg else None,
            "source_mpps": s_ceil, "crypto_mpps": c_ceil, "serial_limit_mpps": serial,
            "crypto_mixed_burst_mpps": crypto_mixed(c),
            "peregrine_share": pg / serial if pg and serial else None,
            "secgw_share": sg / serial if sg and serial else None,
            "verify_peregrine": verify.get(("pg", c["case"], "")),
            "verify_secgw": verify.get(("secgw", c["case"], best_mode or "")),
            "verify_secgw_modes": {m: v for (i, cc, m), v in verify.items()
                                   if i == "secgw" and cc == c["case"]},
            "peregrine_drops": dict(drops),
        })

    def vflag(v):
        return "-" if v is None else ("ok" if v.get("valid") else "BAD")

    hdr = ("case", "SAs", "Peregrine", "secgw", "mode", "ratio", "PG share", "secgw share",
           "source", "crypto", "serial", "valid pg/sg")
    lines = [hdr]
    for c in cases:
        lines.append((c["case"], str(c["sas"]), fmt(c["peregrine_mpps"], 3), fmt(c["secgw_mpps"], 3),
                      c["secgw_mode"] or "-", fmt(c["ratio"]),
                      pct(c["peregrine_share"]), pct(c["secgw_share"]),
                      fmt(c["source_mpps"]), fmt(c["crypto_mpps"]), fmt(c["serial_limit_mpps"]),
                      vflag(c["verify_peregrine"]) + "/" + vflag(c["verify_secgw"])))
    out = []
    out.append("Peregrine vs ipsec-secgw, one worker core (lcore 1), Mpps = packets out of the "
               "net_null sink, medians of %s alternating runs" % meta.get("reps", "?"))
    out.append("  %s" % " ".join("%s=%s" % (k, meta[k]) for k in sorted(meta) if k != "kind"))
    out.append("")
    out += table(lines)
    out.append("")
    out.append("ratio = Peregrine / ipsec-secgw (its best mode of those run); share = median / serial "
               "limit, serial = 1/(1/source + 1/crypto);")
    out.append("source = dpdk-testpmd io forwarding of the same pcap into net_null; crypto = "
               "pg-bench-crypto (Peregrine's crypto::Engine,")
    out.append("encrypt for out-*, decrypt for in-*; imix = 7:4:1 harmonic mix of %d/%d/%d B); "
               "sizes are plaintext L2 frames (no FCS)."
               % tuple(s for s, _ in IMIX_WEIGHTS))
    if any(c["sas"] > 1 for c in cases):
        n = max(c["sas"] for c in cases)
        line = ("scale: scale-* rows are %d SAs behind %d crypto map entries of one ACE each "
                "(ipsec-secgw: %d SP + SA rules), one flow per SA" % (n, n, n))
        for d in ("out", "in"):
            one = next((c for c in cases if c["case"] == "%s-gcm128-64" % d), None)
            if one:
                line += "; 1 SA x %d flows = %s-gcm128-64" % (one["flows"], d)
        out.append(line + ".")
    drops = [(c["case"], c["peregrine_drops"]) for c in cases if c["peregrine_drops"]]
    if drops:
        out.append("")
        out.append("Peregrine drop counters (summed over the measured runs, whole process life):")
        for name, d in drops:
            out.append("  %-26s %s" % (name, ", ".join("%s %d" % kv for kv in sorted(d.items()))))
    # ceilings
    cl = [("transform", "frame", "payload", "encrypt", "decrypt", "crypto-perf enc (Mops)")]
    for t, tv in TRANSFORMS.items():
        frames = sorted({f for (tt, _, f) in cry if tt == tv["pg_tool"]},
                        key=lambda f: (isinstance(f, str), str(f) if isinstance(f, str) else f))
        for f in frames:
            pay = next((r["payload"] for r in rows if r.get("kind") == "crypto"
                        and r["transform"] == tv["pg_tool"] and r["frame"] == f), None)
            cl.append((t, str(f), str(pay), fmt(med(cry.get((tv["pg_tool"], "encrypt", f), []))),
                       fmt(med(cry.get((tv["pg_tool"], "decrypt", f), []))),
                       fmt(med(cperf.get((t, pay), [])))))
    if len(cl) > 1:
        out.append("")
        bursts = sorted({r.get("burst") for r in rows if r.get("kind") == "crypto" and r.get("burst")})
        out.append("Raw crypto ceiling, one core, Mpps (pg-bench-crypto: IPsec-MB burst API via "
                   "crypto::Engine, bursts of %s; crypto-perf: aesni_mb PMD, encrypt)"
                   % "/".join(str(b) for b in bursts))
        if any(f == "imix" for (_, _, f) in cry):
            out.append("  imix row: bursts that mix 64/570/%d-B frames in the pcap's 7:4:1 order (each "
                       "burst ends with a flush of the" % IMIX_WEIGHTS[2][0])
            out.append("  multi-buffer lanes); the serial limit above uses the harmonic mix of the "
                       "single-size rows instead.")
        out += table(cl)
    sl = [("source pcap", "Mpps")] + [(p, fmt(med(v), 2)) for p, v in sorted(src.items())]
    if len(sl) > 1:
        out.append("")
        out.append("Source-only ceiling (dpdk-testpmd io, net_pcap infinite_rx -> net_null)")
        out += table(sl)
    if acl:
        al = [("ACEs", "shape", "direction", "build ms", "build CPU ms", "heap MB", "RSS MB",
               "lookup ns/pkt", "contexts")]
        for r in acl:
            if "error" in r:
                continue
            al.append((str(r["aces"]), r["shape"], r["dir"], fmt(r["build_ms"], 1),
                       fmt(r.get("build_cpu_ms"), 1), fmt(r["memory_bytes"] / 1e6, 2),
                       fmt(r["rss_delta_bytes"] / 1e6, 2), fmt(r.get("lookup_ns"), 1),
                       str(r["contexts"])))
        out.append("")
        out.append("Crypto-map classifier (rte_acl) build: N entries x 1 permit ACE "
                   "(pg-bench-acl, median of its reps)")
        out += table(al)
    bad = [v for v in verify.values() if not v.get("valid")]
    out.append("")
    out.append("Output validity (finite run into a pcap, checked with scapy): %d checked, %d bad"
               % (len(verify), len(bad)))
    for v in bad:
        out.append("  BAD %s %s %s: %d/%d ok, %d bad, %d missing %s" % (
            v["impl"], v["case"], v.get("mode") or "", v["ok"], v["expected"], v["bad"],
            v["missing"], "; ".join(v["errors"])))
    for e in errors:
        out.append("ERROR: %s" % json.dumps(e))
    text = "\n".join(out) + "\n"
    with open(os.path.join(a.out, "table.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "cases": cases,
                   "crypto": [r for r in rows if r.get("kind") == "crypto"],
                   "cperf": [r for r in rows if r.get("kind") == "cperf"],
                   "source": {p: {"median_mpps": med(v), "runs": v} for p, v in src.items()},
                   "acl": acl, "verify": list(verify.values()), "errors": errors}, f, indent=1)
    sys.stdout.write(text)


def table(lines):
    w = [max(len(l[i]) for l in lines) for i in range(len(lines[0]))]
    out = []
    for n, l in enumerate(lines):
        out.append("  ".join(c.ljust(w[j]) if j == 0 else c.rjust(w[j]) for j, c in enumerate(l)))
        if n == 0:
            out.append("  ".join("-" * x for x in w))
    return out


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("plan")
    p = sub.add_parser("frames")
    p.add_argument("--plan", required=True)
    p = sub.add_parser("transforms")
    p.add_argument("--plan", required=True)
    p = sub.add_parser("pcaps")
    p.add_argument("--plan", required=True)
    p.add_argument("--dir", required=True)
    p = sub.add_parser("config")
    p.add_argument("--impl", choices=("pg", "secgw"), required=True)
    p.add_argument("--dir", choices=("out", "in"), required=True)
    p.add_argument("--transform", choices=sorted(TRANSFORMS), required=True)
    p.add_argument("--sas", type=int, default=1)
    p.add_argument("--mode", choices=sorted(SECGW_MODES), default="lsnone")
    p.add_argument("--inside", help="Peregrine inside port device")
    p.add_argument("--outside", help="Peregrine outside port device")
    p.add_argument("--no-anti-replay", action="store_true",
                   help="leave 'anti-replay = false;' out (Peregrine without the setting)")
    p.add_argument("--out", required=True)
    p = sub.add_parser("verify")
    p.add_argument("--impl", required=True)
    p.add_argument("--case", required=True)
    p.add_argument("--mode", default="")
    p.add_argument("--dir", choices=("out", "in"), required=True)
    p.add_argument("--transform", choices=sorted(TRANSFORMS), required=True)
    p.add_argument("--size", required=True)
    p.add_argument("--sas", type=int, default=1)
    p.add_argument("--flows", type=int, required=True)
    p.add_argument("--output", nargs="+", required=True, help="the gateway's output pcaps")
    p = sub.add_parser("pgstats")
    p.add_argument("log")
    p = sub.add_parser("report")
    p.add_argument("--results", required=True)
    p.add_argument("--plan", required=True)
    p.add_argument("--out", required=True)
    a = ap.parse_args()
    {"plan": cmd_plan, "frames": cmd_frames, "transforms": cmd_transforms, "pcaps": cmd_pcaps, "config": cmd_config, "verify": cmd_verify,
     "pgstats": cmd_pgstats, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
