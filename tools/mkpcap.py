#!/usr/bin/python3
"""mkpcap.py - Peregrine's pcap writer for benchmarks, load tests and pktgen profiles.

Run it with Debian's /usr/bin/python3 (it has scapy and python3-cryptography).

  mkpcap.py plain --out F --size 64|512|1420|imix|N --flows N [--sas N]
  mkpcap.py esp   --out F --size 64|512|1420|imix|N --flows N
                  --transform aes128-gcm16|aes128-cbc-sha256
                  --enc-key HEX [--auth-key HEX] --spi N [--sas N]
                  --src 198.51.100.2 --dst 198.51.100.1 [--udp-encap]

Frames (all addresses are documentation ranges, RFC 5737)
  Ethernet + IPv4 + UDP, no FCS. --size is the *plaintext* L2 frame size (Ethernet
  header included): 64, 512, 1420, any N in 60..1514, or "imix".
  Flow f (0 <= f < --flows) is the 5-tuple
      src   192.0.2.(2 + f % 253)       (never .1: that is where gateways live)
      sport 1024 + f
      proto UDP
  and, with one SA (--sas 1, the default):
      dst   203.0.113.(1 + (37 f + f // 254) % 254),  dport 5000 + f % 64
  with --sas N > 1, flow f belongs to SA k = f % N, and SA k's traffic is
      dst   203.0.113.(1 + k % 254) (a /32),          dport 10000 + k
  so the crypto ACL of SA k is one ACE:
      permit udp 192.0.2.0/24 host 203.0.113.(1 + k % 254) eq 10000+k
  (ipsec-secgw: sp ipv4 out esp protect SPI src 192.0.2.0/24
   dst 203.0.113.(1+k%254)/32 sport 0:65535 dport 10000+k:10000+k).
  --flows must be >= --sas (every SA gets traffic); --sas <= 55535.

  Fixed sizes: one packet per flow, in flow order (--flows packets).
  imix: the classic 7:4:1 mix of 64, 570 and 1518-byte frames, in a 12-packet
  pattern (64 570 64 L 64 570 64 64 570 64 570 64), lcm(--flows, 12) packets,
  packet j is flow j % --flows. The large size is capped: 1518 (with FCS, i.e. a
  1500-byte IP packet) does not fit a 1500-byte tunnel MTU once encapsulated, so L =
  %(imix_large)d bytes, the largest plaintext frame whose tunnel-mode ESP packet still
  fits 1500 bytes with every transform here, UDP encapsulation included
  (AES-CBC + HMAC-SHA-256 in UDP: 20 + 8 + 8 + 16 + 1424 + 16 = 1492).
  Payload bytes are a deterministic pattern; IPv4 DF is clear, TTL 64.
  Ethernet: plain frames 02:00:00:00:00:0a -> 02:00:00:00:00:01 (the gateway's
  inside port), ESP frames 02:00:00:00:00:02 (the peer) -> 02:00:00:00:00:01 (the
  gateway's outside port). Gateways that check the destination MAC need it set to
  that or promiscuous mode.

esp: what a tunnel peer sends to the gateway
  Each plaintext frame's IPv4 packet, *reversed* (source and destination addresses
  and ports swapped, checksums recomputed: the return traffic of flow f, which is
  what passes the gateway's inbound policy check for the ACL above), is encrypted
  by scapy's SecurityAssociation as tunnel-mode ESP with outer header --src ->
  --dst (TTL 64), SPI --spi + k for SA k, sequence numbers 1, 2, ... per SA in
  packet order, no ESN. --enc-key is the ESP encryption keying material as the
  gateway configures it: AES-GCM-128 key || 4-byte salt (20 bytes, RFC 4106), or
  the AES-CBC-128 key (16 bytes) with --auth-key the HMAC-SHA-256 key (32 bytes,
  ICV truncated to 128 bits, RFC 4868). GCM's explicit IV is the sequence number;
  CBC IVs come from a fixed-seed generator (the files are reproducible).
  --udp-encap wraps ESP in UDP 4500 -> 4500 (RFC 3948, UDP checksum 0).
  All SAs share the keys (benchmark data, not a keying scheme).

Replaying an ESP pcap in a loop repeats sequence numbers: turn anti-replay off on
the receiver (Peregrine: anti-replay = false; ipsec-secgw: replay window 0).

Prints one summary line (packets, sizes, flows, SAs) to stdout.
"""
import argparse
import math
import random
import sys

IMIX_PATTERN = ("s", "m", "s", "l", "s", "m", "s", "s", "m", "s", "m", "s")  # 7:4:1
IMIX_SMALL, IMIX_MEDIUM = 64, 570
MTU = 1500
GW_MAC, HOST_MAC, PEER_MAC = "02:00:00:00:00:01", "02:00:00:00:00:0a", "02:00:00:00:00:02"
# transform name -> (scapy crypt_algo, enc key bytes, scapy auth_algo, auth key bytes,
#                    iv bytes, icv bytes, pad alignment)
TRANSFORMS = {
    "aes128-gcm16": ("AES-GCM", 20, None, 0, 8, 16, 4),
    "aes128-cbc-sha256": ("AES-CBC", 16, "SHA2-256-128", 32, 16, 16, 16),
}


def esp_ip_len(inner_ip_len, transform, udp_encap):
    """Outer IPv4 length of the tunnel-mode ESP packet carrying inner_ip_len bytes."""
    _, _, _, _, iv, icv, align = TRANSFORMS[transform]
    padded = (inner_ip_len + 2 + align - 1) // align * align
    return 20 + (8 if udp_encap else 0) + 8 + iv + padded + icv


def imix_large():
    """Largest plaintext frame whose ESP packet fits MTU with every transform, in UDP."""
    frame = 1514
    while any(esp_ip_len(frame - 14, t, True) > MTU for t in TRANSFORMS):
        frame -= 1
    return frame


IMIX_LARGE = imix_large()


def sa_selector(k):
    """(destination address, UDP destination port) of SA k's traffic when --sas > 1."""
    return "203.0.113.%d" % (1 + k % 254), 10000 + k


def flow_tuple(f, sas):
    """(src, dst, sport, dport) of flow f, as the inside host sends it."""
    src = "192.0.2.%d" % (2 + f % 253)
    sport = 1024 + f
    if sas <= 1:
        return src, "203.0.113.%d" % (1 + (f * 37 + f // 254) % 254), sport, 5000 + f % 64
    dst, dport = sa_selector(f % sas)
    return src, dst, sport, dport


def frame_sizes(size, nflows):
    """List of (flow, frame size) in file order."""
    if size == "imix":
        big = {"s": IMIX_SMALL, "m": IMIX_MEDIUM, "l": IMIX_LARGE}
        n = nflows * len(IMIX_PATTERN) // math.gcd(nflows, len(IMIX_PATTERN))
        return [(j % nflows, big[IMIX_PATTERN[j % len(IMIX_PATTERN)]]) for j in range(n)]
    return [(f, int(size)) for f in range(nflows)]


def plain_ip(f, frame, sas, reverse=False):
    from scapy.all import IP, UDP, Raw
    src, dst, sport, dport = flow_tuple(f, sas)
    if reverse:
        src, dst, sport, dport = dst, src, dport, sport
    hdr = IP(src=src, dst=dst, ttl=64, id=f & 0xffff) / UDP(sport=sport, dport=dport)
    plen = frame - 14 - len(hdr)
    if plen < 0:
        raise SystemExit("mkpcap: frame size %d is too small for Ethernet/IPv4/UDP" % frame)
    return IP(bytes(hdr / Raw(bytes((f + j) & 0xff for j in range(plen)))))


def parse_size(s):
    if s == "imix":
        return s
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError("size must be 64, 512, 1420, imix or 60..1514")
    if not 60 <= v <= 1514:
        raise argparse.ArgumentTypeError("size must be 60..1514 (plaintext L2 frame, no FCS)")
    return s


def parse_int(s):
    return int(s, 0)


def write(out, frames):
    from scapy.utils import RawPcapWriter
    w = RawPcapWriter(out, linktype=1, sync=False)
    w.write_header(None)
    for i, fr in enumerate(frames):
        w.write_packet(fr, sec=i // 1000000, usec=i % 1000000)
    w.close()


def cmd_plain(a):
    from scapy.all import Ether
    frames = []
    for f, frame in frame_sizes(a.size, a.flows):
        b = bytes(Ether(src=HOST_MAC, dst=GW_MAC) / plain_ip(f, frame, a.sas))
        assert len(b) == frame, (len(b), frame)
        frames.append(b)
    write(a.out, frames)
    return frames


def fix_nat_udp(ip_bytes):
    """scapy leaves the NAT-T UDP length at 8; set it (RFC 3948 checksum 0)."""
    b = bytearray(ip_bytes)
    ihl = (b[0] & 15) * 4
    b[ihl + 4:ihl + 6] = (len(b) - ihl).to_bytes(2, "big")
    b[ihl + 6:ihl + 8] = b"\0\0"
    return bytes(b)


def cmd_esp(a):
    from scapy.all import Ether, IP, UDP
    from scapy.layers.ipsec import SecurityAssociation, ESP
    algo, klen, aalgo, alen, ivlen, _, _ = TRANSFORMS[a.transform]
    key = bytes.fromhex(a.enc_key)
    akey = bytes.fromhex(a.auth_key) if a.auth_key else b""
    if len(key) != klen:
        raise SystemExit("mkpcap: --enc-key is %d bytes, %s needs %d" % (len(key), a.transform, klen))
    if len(akey) != alen:
        raise SystemExit("mkpcap: --auth-key is %d bytes, %s needs %d" % (len(akey), a.transform, alen))
    nat = UDP(sport=4500, dport=4500) if a.udp_encap else None
    sas = [SecurityAssociation(ESP, spi=a.spi + k, crypt_algo=algo, crypt_key=key, auth_algo=aalgo,
                               auth_key=akey or None, tunnel_header=IP(src=a.src, dst=a.dst, ttl=64),
                               nat_t_header=nat)
           for k in range(a.sas)]
    seq = [0] * a.sas
    rnd = random.Random(0x5eed)
    frames = []
    for f, frame in frame_sizes(a.size, a.flows):
        k = f % a.sas
        seq[k] += 1
        inner = plain_ip(f, frame, a.sas, reverse=True)
        iv = seq[k].to_bytes(8, "big") if ivlen == 8 else bytes(rnd.getrandbits(8) for _ in range(16))
        e = bytes(sas[k].encrypt(inner, seq_num=seq[k], iv=iv))
        if a.udp_encap:
            e = fix_nat_udp(e)
        e = bytes(IP(e))  # recompute nothing, but validate the bytes parse
        frames.append(bytes(Ether(src=PEER_MAC, dst=GW_MAC, type=0x0800)) + e)  # no payload: say IPv4
        want = esp_ip_len(frame - 14, a.transform, a.udp_encap)
        assert len(e) == want, (len(e), want)
    write(a.out, frames)
    return frames


def main(argv):
    ap = argparse.ArgumentParser(
        prog="mkpcap.py", description=__doc__.replace("%(imix_large)d", str(IMIX_LARGE)),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--out", required=True, help="pcap file to write")
        p.add_argument("--size", required=True, type=parse_size,
                       help="plaintext L2 frame size: 64, 512, 1420, 60..1514 or imix")
        p.add_argument("--flows", required=True, type=parse_int, help="distinct 5-tuples")
        p.add_argument("--sas", type=parse_int, default=1, help="SAs (distinct ACL selectors), default 1")

    common(sub.add_parser("plain", help="plaintext IPv4/UDP frames, as the inside hosts send them"))
    e = sub.add_parser("esp", help="tunnel-mode ESP frames, as the peer sends them")
    common(e)
    e.add_argument("--transform", required=True, choices=sorted(TRANSFORMS))
    e.add_argument("--enc-key", required=True, help="hex; GCM: key || 4-byte salt")
    e.add_argument("--auth-key", default="", help="hex HMAC key (CBC transforms)")
    e.add_argument("--spi", required=True, type=parse_int, help="SPI of SA 0; SA k uses SPI + k")
    e.add_argument("--src", required=True, help="outer source: the peer, e.g. 198.51.100.2")
    e.add_argument("--dst", required=True, help="outer destination: the gateway, e.g. 198.51.100.1")
    e.add_argument("--udp-encap", action="store_true", help="ESP in UDP 4500 (RFC 3948)")
    a = ap.parse_args(argv)
    if a.flows < 1 or a.flows > 64511:
        ap.error("--flows must be 1..64511")
    if a.sas < 1 or a.sas > 55535 or a.sas > a.flows:
        ap.error("--sas must be 1..55535 and <= --flows")
    if a.cmd == "esp" and not 256 <= a.spi <= 0xffffffff - a.sas:
        ap.error("--spi must be >= 256 and leave room for --sas SPIs")
    frames = cmd_plain(a) if a.cmd == "plain" else cmd_esp(a)
    sizes = sorted({len(f) for f in frames})
    print("%s: %s, %d packets, frame sizes %s, %d flows, %d SA(s)" % (
        a.out, a.cmd, len(frames), "/".join(map(str, sizes)), a.flows, a.sas))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
