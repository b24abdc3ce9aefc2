#!/usr/bin/python3
"""Seed corpus of tests/fuzz/fuzz_esp_inbound.cpp -> tests/fixtures/fuzz/esp_inbound/.

usage: /usr/bin/python3 tests/fuzz/gen_esp_inbound_seeds.py [OUTDIR]

Deterministic: running it again rewrites the same bytes. Valid ESP frames are made with
scapy's independent ESP implementation (scapy.layers.ipsec, python3-cryptography); the
'sealed' records carry plaintext that the target encrypts itself. The input format, the
addresses and the SAs are described at the top of fuzz_esp_inbound.cpp; the keys here
must stay in step with it (pattern(), the seeds 0x11 / 0x22 / 0x33).

scapy 2.5 leaves ESN-high out of the HMAC of CBC+HMAC ESP, so for SA B (ESN) the ICV is
recomputed here over ESP || ESN-high (RFC 4303 2.2.1), as tests/integration/esp_interop.py does.
"""
import hashlib
import hmac
import os
import struct
import sys

from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.layers.l2 import ARP, Dot1Q, Ether
from scapy.packet import Raw

INSIDE, HOST = "192.0.2.1", "192.0.2.10"
OUTSIDE, PEER = "198.51.100.1", "198.51.100.2"
REMOTE = "203.0.113.5"
OUT_MAC, PEER_MAC, HOST_MAC = "02:00:00:00:00:01", "02:00:5e:00:00:02", "02:00:00:00:00:0a"
SPI_A, SPI_B = 0x0000A001, 0x0000B002


def pattern(n, seed):
    return bytes((seed + i * 7) & 0xFF for i in range(n))


# SA A: aes128-gcm16 (key 16 + salt 4), plain ESP.  SA B: aes128-cbc + hmac-sha1-96, ESN, UDP.
KEY_A = pattern(20, 0x11)
KEY_B, AUTH_B = pattern(16, 0x22), pattern(20, 0x22 + 100)


def sa_a():
    return SecurityAssociation(ESP, spi=SPI_A, crypt_algo="AES-GCM", crypt_key=KEY_A,
                               tunnel_header=IP(src=PEER, dst=OUTSIDE))


def sa_b():
    return SecurityAssociation(ESP, spi=SPI_B, crypt_algo="AES-CBC", crypt_key=KEY_B,
                               auth_algo="HMAC-SHA1-96", auth_key=AUTH_B,
                               tunnel_header=IP(src=PEER, dst=OUTSIDE),
                               nat_t_header=UDP(sport=4500, dport=4500), esn_en=True, esn=0)


def inner(src=REMOTE, dst=HOST, ttl=64, payload=b"peregrine fuzz seed", proto="udp"):
    ip = IP(src=src, dst=dst, ttl=ttl, id=0x1234)
    if proto == "udp":
        return ip / UDP(sport=5000, dport=5001) / Raw(payload)
    if proto == "tcp":
        return ip / TCP(sport=40000, dport=443, flags="PA", seq=1) / Raw(payload)
    return ip / ICMP(type=8, id=7, seq=1) / Raw(payload)


def esp_a(pkt, seq):
    return bytes(sa_a().encrypt(pkt, seq_num=seq, iv=struct.pack("!Q", seq)))


def esp_b(pkt, seq):
    """UDP-encapsulated ESP of SA B with the RFC 4303 ESN ICV (ESN-high 0)."""
    e = bytearray(bytes(sa_b().encrypt(pkt, seq_num=seq, iv=pattern(16, seq & 0xFF))))
    esp_off = 20 + 8
    icv = hmac.new(AUTH_B, bytes(e[esp_off:-12]) + struct.pack("!L", 0), hashlib.sha1).digest()[:12]
    e[-12:] = icv
    e[24:26] = struct.pack("!H", len(e) - 20)  # scapy 2.5 leaves the NAT-T UDP length at 8
    return bytes(e)


def eth(ip_bytes, src=PEER_MAC, dst=OUT_MAC):
    return bytes(Ether(src=src, dst=dst, type=0x0800)) + ip_bytes


def rec(ctl, body):
    return bytes([ctl]) + struct.pack("!H", len(body)) + body


RAW, ESPHDR, SEALED, SEALED_RAW = 0, 1, 2, 3
SA_B, UDP_ENCAP, INSIDE_OR_FIX, SPI_FROM_BODY = 4, 8, 16, 32


def seq8(seq, hi=0):
    return struct.pack("!LL", hi, seq)


def seeds():
    s = {}
    ok_a = eth(esp_a(inner(), 1))
    ok_b = eth(esp_b(inner(proto="tcp"), 1))
    # --- valid ESP (scapy), forwarded to the host ---
    s["raw_esp_a_valid"] = rec(RAW, ok_a)
    s["raw_udp_esp_b_esn_valid"] = rec(RAW, ok_b)
    s["raw_esp_a_icmp_valid"] = rec(RAW, eth(esp_a(inner(proto="icmp"), 7)))
    s["raw_esp_a_then_b"] = rec(RAW, ok_a) + rec(RAW, ok_b)
    s["raw_esp_a_vlan"] = rec(RAW, bytes(Ether(src=PEER_MAC, dst=OUT_MAC) / Dot1Q(vlan=5, type=0x0800)) +
                              esp_a(inner(), 3))
    s["raw_esp_a_big"] = rec(RAW, eth(esp_a(inner(payload=bytes(range(256)) * 5), 9)))
    frags = fragment(IP(esp_a(inner(payload=b"F" * 300), 11)), fragsize=160)
    s["raw_esp_a_fragmented"] = b"".join(rec(RAW, eth(bytes(f))) for f in frags)
    # --- rejected after the SA lookup ---
    s["raw_esp_a_replayed"] = rec(RAW, ok_a) + rec(RAW, ok_a)
    s["raw_esp_a_old_seq"] = rec(RAW, eth(esp_a(inner(), 500))) + rec(RAW, eth(esp_a(inner(), 2)))
    bad_icv = bytearray(ok_a)
    bad_icv[-1] ^= 0x01
    s["raw_esp_a_bad_icv"] = rec(RAW, bytes(bad_icv))
    bad_b = bytearray(ok_b)
    bad_b[-3] ^= 0x80
    s["raw_udp_esp_b_bad_icv"] = rec(RAW, bytes(bad_b))
    s["raw_esp_a_truncated"] = rec(RAW, eth(bytes(IP(src=PEER, dst=OUTSIDE, proto=50) /
                                                  Raw(struct.pack("!LL", SPI_A, 1) + b"\x00" * 6))))
    s["raw_esp_a_policy"] = rec(RAW, eth(esp_a(inner(src="10.9.9.9"), 4)))
    s["raw_esp_a_ttl1"] = rec(RAW, eth(esp_a(inner(ttl=1), 5)))
    s["raw_esp_a_no_neighbour"] = rec(RAW, eth(esp_a(inner(dst="192.0.2.77"), 6)))
    s["raw_esp_unknown_spi"] = rec(RAW, eth(bytes(IP(src=PEER, dst=OUTSIDE) /
                                                  ESP(spi=0xDEAD, seq=1, data=b"\x11" * 40))))
    s["raw_esp_transit"] = rec(RAW, eth(bytes(IP(src=PEER, dst="198.51.100.9") /
                                                   ESP(spi=SPI_A, seq=1, data=b"\x22" * 40))))
    # --- ESP header + arbitrary body (mode 1) ---
    s["esphdr_a_garbage"] = rec(ESPHDR, struct.pack("!L", 1) + pattern(60, 0x55))
    s["esphdr_b_udp_bad_len"] = rec(ESPHDR | SA_B | UDP_ENCAP, struct.pack("!L", 1) + pattern(45, 0x66))
    s["esphdr_spi_from_body"] = rec(ESPHDR | SPI_FROM_BODY, struct.pack("!LL", 0x1234, 1) + pattern(40, 1))
    # --- sealed by the target (modes 2 and 3) ---
    good = bytes(inner())
    s["sealed_a_valid"] = rec(SEALED, seq8(1) + b"\x04" + good)
    s["sealed_a_udp_valid"] = rec(SEALED | UDP_ENCAP, seq8(2) + b"\x04" + good)
    s["sealed_b_udp_esn_valid"] = rec(SEALED | SA_B | UDP_ENCAP, seq8(3) + b"\x04" + bytes(inner(proto="icmp")))
    s["sealed_a_fixup"] = rec(SEALED | INSIDE_OR_FIX, seq8(4) + b"\x04" + good[:10] + b"\0\0" + good[12:] + b"xyz")
    s["sealed_a_dummy"] = rec(SEALED, seq8(5) + b"\x3b" + b"\x00" * 16)
    s["sealed_b_bad_next_header"] = rec(SEALED | SA_B, seq8(6) + b"\x06" + good)
    s["sealed_a_inner_garbage"] = rec(SEALED, seq8(7) + b"\x04" + pattern(33, 9))
    s["sealed_b_esn_high"] = rec(SEALED | SA_B | UDP_ENCAP, seq8(8, hi=1) + b"\x04" + good)
    pad = bytes([1, 2, 3, 4, 5, 6])
    s["sealedraw_a_valid"] = rec(SEALED_RAW, seq8(9) + good + pad + bytes([len(pad), 4]))
    s["sealedraw_a_bad_padding"] = rec(SEALED_RAW, seq8(10) + good + bytes([1, 2, 9, 4, 5, 6, 6, 4]))
    s["sealedraw_b_pad_too_long"] = rec(SEALED_RAW | SA_B, seq8(11) + good + b"\x01" + bytes([250, 4]))
    # --- not ESP ---
    s["raw_ike"] = rec(RAW, eth(bytes(IP(src=PEER, dst=OUTSIDE) / UDP(sport=500, dport=500) /
                                      Raw(b"\x11" + b"\x00" * 16 + b"\x20\x22" + b"\x00" * 9))))
    s["raw_keepalive"] = rec(RAW, eth(bytes(IP(src=PEER, dst=OUTSIDE) / UDP(sport=4500, dport=4500) /
                                            Raw(b"\xff"))))
    s["raw_arp"] = rec(RAW, bytes(Ether(src=PEER_MAC, dst="ff:ff:ff:ff:ff:ff") /
                                  ARP(op=1, hwsrc=PEER_MAC, psrc=PEER, pdst=OUTSIDE)))
    s["raw_ipv6"] = rec(RAW, bytes(Ether(src=PEER_MAC, dst=OUT_MAC) / IPv6() / UDP() / Raw(b"x")))
    s["raw_short"] = rec(RAW, bytes.fromhex("020000000001"))
    s["raw_bad_checksum"] = rec(RAW, eth(bytes(IP(src=PEER, dst=OUTSIDE, chksum=0x1234) / ESP(spi=SPI_A, seq=1))))
    s["raw_clear_must_be_protected"] = rec(RAW, eth(bytes(inner())))
    s["raw_clear_bypass"] = rec(RAW, eth(bytes(inner(src="198.51.100.7"))))
    # --- from inside0 ---
    s["inside_protected"] = rec(RAW | INSIDE_OR_FIX, eth(bytes(inner(src=HOST, dst=REMOTE)), src=HOST_MAC))
    s["inside_big_df_clear"] = rec(RAW | INSIDE_OR_FIX,
                                   eth(bytes(inner(src=HOST, dst=REMOTE, payload=b"B" * 1450)), src=HOST_MAC))
    s["inside_no_neighbour"] = rec(RAW | INSIDE_OR_FIX, eth(bytes(inner(src=HOST, dst="192.0.2.99")), src=HOST_MAC))
    # --- a mix in one input ---
    s["mix"] = (rec(SEALED, seq8(20) + b"\x04" + good) + rec(RAW, ok_a) +
                rec(RAW | INSIDE_OR_FIX, eth(bytes(inner(src=HOST, dst=REMOTE)), src=HOST_MAC)) +
                rec(SEALED | SA_B | UDP_ENCAP, seq8(21) + b"\x04" + good) + rec(ESPHDR, pattern(30, 3)))
    s["tiny"] = b"\x00\x00"
    return s


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "fuzz", "esp_inbound")
    os.makedirs(out, exist_ok=True)
    for name, data in sorted(seeds().items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    print("%d seeds in %s" % (len(seeds()), os.path.normpath(out)))


if __name__ == "__main__":
    main()
