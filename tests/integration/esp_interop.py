#!/usr/bin/python3
"""ESP interop: Peregrine's ESP codec (through pg-esp-codec-tool) against scapy's
independent implementation (scapy.layers.ipsec.SecurityAssociation, python3-cryptography).

usage: /usr/bin/python3 esp_interop.py PATH/TO/pg-esp-codec-tool [--packets N] [--seed S]

For every transform x {ESP, ESP-in-UDP/4500} x {ESN off, on}:
  1. tool encap  -> scapy decrypt: inner packets byte-identical, outer headers right
  2. scapy encrypt -> tool decap : inner packets byte-identical
  3. tampered / truncated packets are rejected by the tool with the right reason
One line per case; exit status 1 on any mismatch.

scapy 2.5 does not include ESN-high in the HMAC of ESP (it only does for AH, and for
GCM in the AAD). For CBC+HMAC with ESN this script therefore computes/verifies the
ICV itself with Python's hmac over ESP||ESN-high (RFC 4303 2.2.1), and uses scapy for
everything else (framing, padding, encryption, decryption).
"""
import hashlib
import hmac
import os
import random
import struct
import subprocess
import sys
import tempfile

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.packet import Raw

LINKTYPE_RAW = 101
SRC, DST = "192.0.2.1", "198.51.100.7"
SPI = 0x8A3F0C21

# tool name: (scapy crypt algo, enc keymat bytes incl. salt, scapy auth algo, auth key bytes, icv, hash)
TRANSFORMS = {
    "aes128-gcm16": ("AES-GCM", 20, "NULL", 0, 16, None),
    "aes256-gcm16": ("AES-GCM", 36, "NULL", 0, 16, None),
    "aes128-sha1": ("AES-CBC", 16, "HMAC-SHA1-96", 20, 12, hashlib.sha1),
    "aes256-sha1": ("AES-CBC", 32, "HMAC-SHA1-96", 20, 12, hashlib.sha1),
    "aes128-sha256": ("AES-CBC", 16, "SHA2-256-128", 32, 16, hashlib.sha256),
    "aes256-sha256": ("AES-CBC", 32, "SHA2-256-128", 32, 16, hashlib.sha256),
}


def gen_traffic(rng, n):
    """Mixed IPv4 traffic: many flows, TCP/UDP/ICMP, total sizes 64..1500."""
    pkts = []
    sizes = [64, 65, 1500, 1499, 576, 1420] + [rng.randint(64, 1500) for _ in range(n - 6)]
    for size in sizes[:n]:
        src = "10.1.%d.%d" % (rng.randint(0, 255), rng.randint(1, 254))
        dst = "10.2.%d.%d" % (rng.randint(0, 255), rng.randint(1, 254))
        kind = rng.choice(("tcp", "udp", "icmp"))
        ip = IP(src=src, dst=dst, ttl=rng.randint(2, 255), tos=rng.choice((0, 0x10, 0xb8, 0x02)),
                id=rng.randint(0, 0xFFFF))
        if kind == "tcp":
            l4 = TCP(sport=rng.randint(1024, 65535), dport=rng.choice((80, 443, 22, 8080)),
                     seq=rng.getrandbits(32), flags="PA")
            hl = 20
        elif kind == "udp":
            l4 = UDP(sport=rng.randint(1024, 65535), dport=rng.choice((53, 123, 5060, 4789)))
            hl = 8
        else:
            l4 = ICMP(type=8, id=rng.randint(0, 0xFFFF), seq=rng.randint(0, 0xFFFF))
            hl = 8
        payload = bytes(rng.getrandbits(8) for _ in range(size - 20 - hl))
        raw = bytes(ip / l4 / Raw(payload))
        assert len(raw) == size, (len(raw), size)
        pkts.append(raw)
    return pkts


def write_pcap(path, pkts):
    """Classic pcap, LINKTYPE_RAW, microsecond timestamps (written here, not by scapy,
    so that both sides of the test share no pcap code)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, LINKTYPE_RAW))
        for i, p in enumerate(pkts):
            f.write(struct.pack("<IIII", 1700000000 + i, i, len(p), len(p)))
            f.write(p)


def read_pcap(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    magic, _, _, _, _, _, linktype = struct.unpack("<IHHiIII", data[:24])
    assert magic == 0xA1B2C3D4 and linktype == LINKTYPE_RAW, (hex(magic), linktype)
    out, off = [], 24
    while off < len(data):
        _, _, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out


def make_sa(name, enc_key, auth_key, udp, esn):
    crypt, _, auth, _, _, _ = TRANSFORMS[name]
    return SecurityAssociation(
        ESP, spi=SPI, crypt_algo=crypt, crypt_key=enc_key, auth_algo=auth, auth_key=auth_key or None,
        tunnel_header=IP(src=SRC, dst=DST),
        nat_t_header=UDP(sport=4500, dport=4500) if udp else None,
        esn_en=esn, esn=0)


def esp_span(outer, udp):
    """Offset and bytes of the ESP header..ICV inside an outer IPv4 packet."""
    hl = (outer[0] & 0x0F) * 4 + (8 if udp else 0)
    total = struct.unpack("!H", outer[2:4])[0]
    return hl, outer[hl:total]


def esn_icv(name, auth_key, esp_wo_icv, esn_hi):
    _, _, _, _, icv_len, h = TRANSFORMS[name]
    return hmac.new(auth_key, esp_wo_icv + struct.pack("!L", esn_hi), h).digest()[:icv_len]


def run_tool(tool, mode, name, enc_key, auth_key, udp, esn, seq, src, dst):
    cmd = [tool, mode, "--transform", name, "--enc-key", enc_key.hex(), "--spi", hex(SPI),
           "--src", SRC, "--dst", DST, "--seq", str(seq), "-i", src, "-o", dst]
    if auth_key:
        cmd += ["--auth-key", auth_key.hex()]
    if udp:
        cmd.append("--udp-encap")
    if esn:
        cmd.append("--esn")
    return subprocess.run(cmd, capture_output=True, text=True)


def ipv4_csum_ok(hdr):
    s = sum(struct.unpack("!10H", hdr[:20]))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF


class Case:
    def __init__(self, label):
        self.label = label
        self.errors = []

    def check(self, cond, msg):
        if not cond and len(self.errors) < 5:
            self.errors.append(msg)
        return cond


def case_tool_to_scapy(tool, tmp, name, keys, udp, esn, plain, seq0):
    c = Case("tool->scapy")
    enc_key, auth_key = keys
    pin, pout = os.path.join(tmp, "plain.pcap"), os.path.join(tmp, "esp.pcap")
    write_pcap(pin, plain)
    r = run_tool(tool, "encap", name, enc_key, auth_key, udp, esn, seq0, pin, pout)
    if not c.check(r.returncode == 0, "tool encap failed (%d): %s" % (r.returncode, r.stderr.strip()[:200])):
        return c
    out = read_pcap(pout)
    c.check(len(out) == len(plain), "tool wrote %d of %d packets" % (len(out), len(plain)))
    sa = make_sa(name, enc_key, auth_key, udp, esn)
    cbc_esn = esn and TRANSFORMS[name][0] == "AES-CBC"
    icv_len = TRANSFORMS[name][4]
    for i, (o, p) in enumerate(zip(out, plain)):
        seq = seq0 + i
        c.check(ipv4_csum_ok(o), "pkt %d: bad outer IPv4 checksum" % i)
        c.check(o[9] == (17 if udp else 50), "pkt %d: outer protocol %d" % (i, o[9]))
        c.check(o[12:20] == IP(src=SRC, dst=DST).build()[12:20], "pkt %d: outer addresses" % i)
        if udp:
            sport, dport, ulen, ucs = struct.unpack("!HHHH", o[20:28])
            c.check((sport, dport, ulen, ucs) == (4500, 4500, len(o) - 20, 0), "pkt %d: UDP header" % i)
        off, esp = esp_span(o, udp)
        spi, lo = struct.unpack("!LL", esp[:8])
        c.check(spi == SPI and lo == seq & 0xFFFFFFFF, "pkt %d: SPI/seq %x/%d" % (i, spi, lo))
        try:
            sa.esn = seq >> 32
            pkt = IP(o)
            if cbc_esn:
                c.check(hmac.compare_digest(esp[-icv_len:], esn_icv(name, auth_key, esp[:-icv_len], seq >> 32)),
                        "pkt %d: ESN ICV mismatch" % i)
                inner = sa.decrypt(pkt, verify=False)
            else:
                inner = sa.decrypt(pkt)
            c.check(bytes(inner) == p, "pkt %d: inner packet differs" % i)
        except Exception as e:  # noqa: BLE001 - report, don't crash the run
            c.check(False, "pkt %d: scapy decrypt: %s" % (i, e))
    return c


def case_scapy_to_tool(tool, tmp, name, keys, udp, esn, plain, seq0):
    c = Case("scapy->tool")
    enc_key, auth_key = keys
    sa = make_sa(name, enc_key, auth_key, udp, esn)
    cbc_esn = esn and TRANSFORMS[name][0] == "AES-CBC"
    icv_len = TRANSFORMS[name][4]
    esp_pkts = []
    for i, p in enumerate(plain):
        seq = seq0 + i
        sa.esn = seq >> 32
        sa.seq_num = seq & 0xFFFFFFFF
        e = bytearray(bytes(sa.encrypt(IP(p), seq_num=seq & 0xFFFFFFFF)))
        if cbc_esn:  # scapy leaves ESN-high out of the ESP ICV: put the RFC 4303 ICV in
            off, esp = esp_span(bytes(e), udp)
            e[off + len(esp) - icv_len:off + len(esp)] = esn_icv(name, auth_key, esp[:-icv_len], seq >> 32)
        esp_pkts.append(bytes(e))
    pin, pout = os.path.join(tmp, "scapy-esp.pcap"), os.path.join(tmp, "decap.pcap")
    write_pcap(pin, esp_pkts)
    r = run_tool(tool, "decap", name, enc_key, auth_key, udp, esn, seq0, pin, pout)
    c.check(r.returncode == 0, "tool decap failed (%d): %s" % (r.returncode, r.stderr.strip()[:200]))
    out = read_pcap(pout)
    c.check(len(out) == len(plain), "tool wrote %d of %d packets" % (len(out), len(plain)))
    for i, (o, p) in enumerate(zip(out, plain)):
        c.check(o == p, "pkt %d: inner packet differs" % i)
    return c, esp_pkts


def case_tamper(tool, tmp, name, keys, udp, esn, esp_pkts, seq0, rng):
    """Every 3rd packet tampered (flip a bit anywhere in ESP) or truncated; the rest pass."""
    c = Case("tamper")
    enc_key, auth_key = keys
    bad = {}
    pkts = []
    for i, e in enumerate(esp_pkts):
        e = bytearray(e)
        off, esp = esp_span(bytes(e), udp)
        if i % 3 == 1:
            pos = off + rng.randrange(len(esp))
            if pos - off < 4:  # SPI bytes: a wrong SPI is bad_spi, not an ICV failure
                want = "bad_spi"
            else:
                want = "icv_mismatch"
            e[pos] ^= 1 << rng.randrange(8)
            bad[i + 1] = {want}
        elif i % 3 == 2:
            cut = rng.randint(1, len(esp) - 1)
            total = len(e) - cut
            e = e[:total]
            e[2:4] = struct.pack("!H", total)
            e[10:12] = b"\0\0"
            e[10:12] = struct.pack("!H", (~_csum(bytes(e[:20]))) & 0xFFFF)
            if udp:
                e[24:26] = struct.pack("!H", total - 20)
            bad[i + 1] = {"truncated", "bad_len", "icv_mismatch"}
        pkts.append(bytes(e))
    pin, pout = os.path.join(tmp, "tampered.pcap"), os.path.join(tmp, "tampered-out.pcap")
    write_pcap(pin, pkts)
    r = run_tool(tool, "decap", name, enc_key, auth_key, udp, esn, seq0, pin, pout)
    c.check(r.returncode == 1, "tool exit %d, want 1" % r.returncode)
    reported = {}
    for line in r.stderr.splitlines():
        if line.startswith("packet "):
            n, why = line[len("packet "):].split(": ", 1)
            reported[int(n)] = why
    c.check(set(reported) == set(bad), "rejected %s, want %s" % (sorted(reported)[:8], sorted(bad)[:8]))
    for n, why in reported.items():
        c.check(why in bad.get(n, ()), "packet %d rejected as %s, want %s" % (n, why, bad.get(n)))
    out = read_pcap(pout)
    c.check(len(out) == len(pkts) - len(bad), "passed %d, want %d" % (len(out), len(pkts) - len(bad)))
    return c


def _csum(hdr):
    s = sum(struct.unpack("!10H", hdr[:20]))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    tool = args[0]
    n, seed = 200, 4303
    if "--packets" in args:
        n = int(args[args.index("--packets") + 1])
    if "--seed" in args:
        seed = int(args[args.index("--seed") + 1])
    rng = random.Random(seed)
    plain = gen_traffic(rng, n)
    failed = 0
    total = 0
    with tempfile.TemporaryDirectory(prefix="pg-esp-interop-") as tmp:
        for name, (_, enc_len, _, auth_len, _, _) in TRANSFORMS.items():
            keys = (bytes(rng.getrandbits(8) for _ in range(enc_len)),
                    bytes(rng.getrandbits(8) for _ in range(auth_len)))
            for udp in (False, True):
                for esn in (False, True):
                    # ESN: start below 2^32 so the run crosses into ESN-high 1.
                    seq0 = (1 << 32) - n // 2 if esn else rng.randint(1, 1 << 20)
                    tag = "%-14s %-8s %-7s" % (name, "udp4500" if udp else "esp", "esn" if esn else "no-esn")
                    c1 = case_tool_to_scapy(tool, tmp, name, keys, udp, esn, plain, seq0)
                    c2, esp_pkts = case_scapy_to_tool(tool, tmp, name, keys, udp, esn, plain, seq0)
                    c3 = case_tamper(tool, tmp, name, keys, udp, esn, esp_pkts, seq0, rng)
                    for c in (c1, c2, c3):
                        total += 1
                        ok = not c.errors
                        failed += not ok
                        print("%s %-12s %4d pkts  %s%s" % (tag, c.label, len(plain), "ok" if ok else "FAIL",
                                                            "" if ok else ": " + "; ".join(c.errors)))
    print("esp-interop: %d cases, %d failed" % (total, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
