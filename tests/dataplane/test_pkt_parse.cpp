// tests/dataplane/test_pkt_parse.cpp - frame parser: numbered tables of good and malformed
// frames, every truncation of every good frame, and name tables.
#include <cstdio>
#include <cstring>
#include <iterator>
#include <memory>
#include <random>
#include <string>

#include "dataplane/pkt_parse.hpp"
#include "tests/dataplane/frames.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine::dataplane;
using namespace pgtest::dataplane;

namespace {

constexpr uint32_t kPeer = ip4(198, 51, 100, 7);
constexpr uint32_t kSelf = ip4(203, 0, 113, 1);

struct GoodCase {
    int n;
    const char* what;
    Bytes frame;
    PktClass cls;
    uint16_t sport = 0, dport = 0;
    uint32_t spi = 0;
    uint16_t payload_off = 0;  // 0 = do not compare
    bool fragment = false;
};

std::vector<GoodCase> good_cases() {
    const FrameOpts vlan{.vlan = true};
    Bytes marker_ike = {0, 0, 0, 0};
    const Bytes ikeh = ike_header();
    marker_ike.insert(marker_ike.end(), ikeh.begin(), ikeh.end());
    return {
        {1, "ESP", ipv4_frame(50, kPeer, kSelf, esp(0x1000, 1)), PktClass::esp, 0, 0, 0x1000, 34},
        {2, "ESP in VLAN", ipv4_frame(50, kPeer, kSelf, esp(0xdeadbeef, 7), vlan), PktClass::esp,
         0, 0, 0xdeadbeef, 38},
        {3, "ESP-in-UDP", ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, esp(0x2000, 9))),
         PktClass::esp_in_udp, 4500, 4500, 0x2000, 42},
        {4, "ESP-in-UDP from NAT port", ipv4_frame(17, kPeer, kSelf, udp(61000, 4500, esp(0x300, 1))),
         PktClass::esp_in_udp, 61000, 4500, 0x300, 42},
        {5, "IKE on 4500 (non-ESP marker)", ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, marker_ike)),
         PktClass::ike, 4500, 4500, 0, 46},
        {6, "IKE on 500", ipv4_frame(17, kPeer, kSelf, udp(500, 500, ikeh)), PktClass::ike, 500, 500,
         0, 42},
        {7, "NAT keepalive", ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, {0xff})),
         PktClass::nat_keepalive, 4500, 4500},
        {8, "ARP", arp_frame(), PktClass::arp},
        {9, "ARP in VLAN", arp_frame(true), PktClass::arp},
        {10, "ICMP echo", ipv4_frame(1, kPeer, kSelf, icmp_echo()), PktClass::icmp},
        {11, "TCP", ipv4_frame(6, ip4(10, 1, 1, 1), ip4(10, 2, 2, 2), tcp(40000, 443)),
         PktClass::ipv4_other, 40000, 443, 0, 54},
        {12, "TCP with options", ipv4_frame(6, ip4(10, 1, 1, 1), ip4(10, 2, 2, 2), tcp(1, 2, 8)),
         PktClass::ipv4_other, 1, 2, 0, 66},
        {13, "UDP DNS", ipv4_frame(17, ip4(10, 1, 1, 1), ip4(10, 2, 2, 2), udp(5353, 53, {1, 2, 3})),
         PktClass::ipv4_other, 5353, 53, 0, 42},
        {14, "GRE (other proto)", ipv4_frame(47, kPeer, kSelf, {0, 0, 8, 0}), PktClass::ipv4_other},
        {15, "IPv4 options (IHL 6)",
         ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, esp(0x4000, 1)), {.ihl_words = 6}),
         PktClass::esp_in_udp, 4500, 4500, 0x4000, 46},
        {16, "IHL 15", ipv4_frame(50, kPeer, kSelf, esp(5, 5), {.ihl_words = 15}), PktClass::esp, 0,
         0, 5, 74},
        {17, "Ethernet padding after a small packet",
         ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, {0xff}), {.l2_padding = 17}),
         PktClass::nat_keepalive, 4500, 4500},
        {18, "non-first fragment of ESP", ipv4_frame(50, kPeer, kSelf, {1, 2, 3}, {.frag = 0x0010}),
         PktClass::ipv4_other, 0, 0, 0, 0, true},
        {19, "first fragment of ESP-in-UDP",
         ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, esp(0x77, 1, 64), 0), {.frag = 0x2000}),
         PktClass::esp_in_udp, 4500, 4500, 0x77, 42, true},
        {20, "first fragment, UDP length covers the whole datagram",
         ipv4_frame(17, kPeer, kSelf, udp(1000, 2000, Bytes(16, 1), 1000), {.frag = 0x2000}),
         PktClass::ipv4_other, 1000, 2000, 0, 42, true},
        {21, "UDP/500 payload empty (transit or bad IKE: the caller decides)",
         ipv4_frame(17, kPeer, kSelf, udp(500, 500, {})), PktClass::ike, 500, 500},
        {22, "UDP/4500 source only (not for us as NAT-T)",
         ipv4_frame(17, kPeer, kSelf, udp(4500, 80, {1, 2})), PktClass::ipv4_other, 4500, 80},
        {23, "IPv6", [] {
             Bytes f = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x86, 0xdd, 0x60, 0, 0, 0};
             return f;
         }(), PktClass::non_ip},
        {24, "QinQ (second tag) is not handled", [] {
             Bytes f = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x81, 0, 0, 1, 0x81, 0, 0, 2,
                        0x08, 0};
             return f;
         }(), PktClass::non_ip},
        {25, "UDP length shorter than the IP payload (trailing bytes ignored)",
         ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, {0xff, 0, 0, 0}, -3)),
         PktClass::nat_keepalive, 4500, 4500},
    };
}

struct BadCase {
    int n;
    const char* what;
    Bytes frame;
    MalformedReason reason;
};

std::vector<BadCase> bad_cases() {
    Bytes ipv4_short = ipv4_frame(50, kPeer, kSelf, esp(1, 1));
    ipv4_short.resize(14 + 19);
    Bytes ihl4 = ipv4_frame(50, kPeer, kSelf, esp(1, 1), {.ihl_words = 4});
    Bytes ihl_beyond = ipv4_frame(50, kPeer, kSelf, {}, {.ihl_words = 15});
    ihl_beyond.resize(14 + 40);
    return {
        {1, "empty", {}, MalformedReason::eth_truncated},
        {2, "13 bytes", Bytes(13, 0), MalformedReason::eth_truncated},
        {3, "VLAN tag cut", {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0, 0, 1},
         MalformedReason::vlan_truncated},
        {4, "ARP 27 bytes", [] { Bytes f = arp_frame(); f.pop_back(); return f; }(),
         MalformedReason::arp_truncated},
        {5, "ARP htype 6", arp_frame(false, 6), MalformedReason::arp_unsupported},
        {6, "IPv4 19 bytes", ipv4_short, MalformedReason::ipv4_truncated},
        {7, "version 6 in an IPv4 EtherType", ipv4_frame(50, kPeer, kSelf, esp(1, 1), {.version = 6}),
         MalformedReason::ipv4_version},
        {8, "IHL 4", ihl4, MalformedReason::ipv4_ihl},
        {9, "IHL beyond frame", ihl_beyond, MalformedReason::ipv4_ihl},
        {10, "total length < IHL", ipv4_frame(50, kPeer, kSelf, esp(1, 1), {.total_len_adjust = -30}),
         MalformedReason::ipv4_total_length_short},
        {11, "total length > frame", ipv4_frame(50, kPeer, kSelf, esp(1, 1), {.total_len_adjust = 1}),
         MalformedReason::ipv4_total_length_frame},
        {12, "bad header checksum", ipv4_frame(50, kPeer, kSelf, esp(1, 1), {.bad_checksum = true}),
         MalformedReason::ipv4_checksum},
        {13, "UDP header cut by total length", ipv4_frame(17, kPeer, kSelf, {0x11, 0x94, 0x11, 0x94, 0, 8, 0}),
         MalformedReason::udp_truncated},
        {14, "UDP length 7", ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, {0xff}, -2)),
         MalformedReason::udp_length},
        {15, "UDP length beyond IP payload", ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, {0xff}, 1)),
         MalformedReason::udp_length},
        {16, "TCP 19 bytes", [] { Bytes t = tcp(1, 2); t.pop_back(); return ipv4_frame(6, kPeer, kSelf, t); }(),
         MalformedReason::tcp_truncated},
        {17, "TCP data offset 4", ipv4_frame(6, kPeer, kSelf, tcp(1, 2, 4)),
         MalformedReason::tcp_data_offset},
        {18, "TCP data offset beyond payload",
         [] { Bytes t = tcp(1, 2, 8); t.resize(24); return ipv4_frame(6, kPeer, kSelf, t); }(),
         MalformedReason::tcp_data_offset},
        {19, "ICMP 7 bytes", ipv4_frame(1, kPeer, kSelf, {8, 0, 0, 0, 0, 0, 0}),
         MalformedReason::icmp_truncated},
        {20, "ESP 7 bytes", ipv4_frame(50, kPeer, kSelf, {0, 0, 0, 1, 0, 0, 0}),
         MalformedReason::esp_truncated},
        {21, "ESP SPI 0", ipv4_frame(50, kPeer, kSelf, esp(0, 1)), MalformedReason::esp_spi_zero},
        {22, "UDP/4500 empty", ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, {})),
         MalformedReason::udp_encap_truncated},
        {23, "UDP/4500 one byte not 0xFF", ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, {0xfe})),
         MalformedReason::udp_encap_truncated},
        {24, "UDP/4500 marker cut (3 zero bytes)", ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, {0, 0, 0})),
         MalformedReason::udp_encap_truncated},
        {25, "UDP/4500 ESP 7 bytes", ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, {0, 0, 1, 0, 0, 0, 1})),
         MalformedReason::udp_encap_truncated},
        {26, "keepalive padded to 2 bytes", ipv4_frame(17, kPeer, kSelf, udp(4500, 4500, {0xff, 0})),
         MalformedReason::udp_encap_truncated},
    };
}

// Parse from an exactly-sized heap copy so that ASan sees any over-read.
ParsedPkt parse_exact(const Bytes& f, size_t len) {
    if (len == 0) return parse_frame(nullptr, 0);
    auto buf = std::make_unique<uint8_t[]>(len);
    std::memcpy(buf.get(), f.data(), len);
    return parse_frame(buf.get(), len);
}

}  // namespace

PG_TEST(parse, good_frames) {
    for (const GoodCase& c : good_cases()) {
        const ParsedPkt p = parse_exact(c.frame, c.frame.size());
        bool ok = p.cls == c.cls && p.reason == MalformedReason::none && p.sport == c.sport &&
                  p.dport == c.dport && p.spi == c.spi && p.fragment == c.fragment &&
                  (c.payload_off == 0 || p.payload_off == c.payload_off);
        if (!ok)
            std::printf("\n  good %d (%s): class %s reason %s sport %u dport %u spi %#x off %u frag %d",
                        c.n, c.what, to_string(p.cls), to_string(p.reason), p.sport, p.dport, p.spi,
                        p.payload_off, p.fragment);
        CU_ASSERT_TRUE(ok);
    }
}

PG_TEST(parse, good_frame_fields) {
    const Bytes f = ipv4_frame(50, kPeer, kSelf, esp(0x01020304, 0x0a0b0c0d), {.vlan = true, .tci = 0x0123});
    const ParsedPkt p = parse_frame(f.data(), f.size());
    CU_ASSERT_EQUAL(p.cls, PktClass::esp);
    CU_ASSERT_TRUE(p.vlan);
    CU_ASSERT_EQUAL(p.vlan_tci, 0x0123);
    CU_ASSERT_EQUAL(p.ethertype, wire::kEtherTypeIpv4);
    CU_ASSERT_EQUAL(p.l3_off, 18);
    CU_ASSERT_EQUAL(p.l4_off, 38);
    CU_ASSERT_EQUAL(p.l3_len, 20 + 8 + 16);
    CU_ASSERT_EQUAL(p.ip_proto, 50);
    CU_ASSERT_EQUAL(p.src_ip, kPeer);
    CU_ASSERT_EQUAL(p.dst_ip, kSelf);
    CU_ASSERT_EQUAL(p.spi, 0x01020304u);
    CU_ASSERT_EQUAL(p.esp_seq, 0x0a0b0c0du);
    const Bytes i = ipv4_frame(1, kSelf, kPeer, {0, 0, 0, 0, 0, 0, 0, 0});
    const ParsedPkt q = parse_frame(i.data(), i.size());
    CU_ASSERT_EQUAL(q.cls, PktClass::icmp);
    CU_ASSERT_EQUAL(q.icmp_type, 0);
    const Bytes a = arp_frame();
    const ParsedPkt r = parse_frame(a.data(), a.size());
    CU_ASSERT_EQUAL(r.src_ip, ip4(192, 0, 2, 1));
    CU_ASSERT_EQUAL(r.dst_ip, ip4(192, 0, 2, 254));
}

PG_TEST(parse, malformed_frames) {
    for (const BadCase& c : bad_cases()) {
        const ParsedPkt p = parse_exact(c.frame, c.frame.size());
        const bool ok = p.cls == PktClass::malformed && p.reason == c.reason;
        if (!ok)
            std::printf("\n  bad %d (%s): class %s reason %s, want %s", c.n, c.what,
                        to_string(p.cls), to_string(p.reason), to_string(c.reason));
        CU_ASSERT_TRUE(ok);
    }
}

// Every good frame that is parsed down to its last byte (not padding, not unparsed L2),
// cut at every length, must be malformed -- and must not read past the cut.
PG_TEST(parse, truncated_at_every_offset) {
    unsigned cuts = 0;
    for (const GoodCase& c : good_cases()) {
        const ParsedPkt full = parse_frame(c.frame.data(), c.frame.size());
        if (full.cls == PktClass::non_ip) continue;  // nothing after L2 is parsed
        for (size_t len = 0; len < c.frame.size(); ++len) {
            const ParsedPkt p = parse_exact(c.frame, len);
            // Cutting Ethernet padding only (case 17) leaves a valid frame.
            const bool padding_only = full.cls != PktClass::arp &&
                                      len >= size_t{full.l3_off} + full.l3_len;
            if (padding_only) continue;
            ++cuts;
            if (p.cls != PktClass::malformed) {
                std::printf("\n  good %d (%s) cut at %zu: class %s", c.n, c.what, len,
                            to_string(p.cls));
                CU_FAIL("truncated frame not malformed");
            }
        }
    }
    CU_ASSERT_TRUE(cuts > 500);
}

// Random bit flips of good frames: never crash (ASan/UBSan watch), class stays in range.
PG_TEST(parse, random_mutations) {
    std::mt19937 rng(1234);
    const auto cases = good_cases();
    for (int i = 0; i < 200000; ++i) {
        Bytes f = cases[rng() % cases.size()].frame;
        const unsigned flips = 1 + rng() % 4;
        for (unsigned k = 0; k < flips && !f.empty(); ++k) f[rng() % f.size()] ^= 1u << (rng() % 8);
        if (rng() % 4 == 0 && !f.empty()) f.resize(rng() % f.size());
        const ParsedPkt p = parse_exact(f, f.size());
        CU_ASSERT_FATAL(static_cast<unsigned>(p.cls) <= static_cast<unsigned>(PktClass::malformed));
        if (p.cls != PktClass::malformed) CU_ASSERT_FATAL(p.reason == MalformedReason::none);
    }
}

PG_TEST(parse, name_tables) {
    PG_ASSERT_STR_EQ(to_string(PktClass::esp_in_udp), "esp_in_udp");
    PG_ASSERT_STR_EQ(to_string(PktClass::malformed), "malformed");
    PG_ASSERT_STR_EQ(to_string(MalformedReason::udp_length), "udp_length");
    PG_ASSERT_STR_EQ(describe(MalformedReason::esp_spi_zero), "ESP SPI 0 (reserved, never sent)");
    PG_ASSERT_STR_EQ(to_string(static_cast<PktClass>(200)), "?");
    // Every reason has an id and a text.
    for (unsigned r = 0; r <= static_cast<unsigned>(MalformedReason::udp_encap_truncated); ++r) {
        CU_ASSERT_STRING_NOT_EQUAL(to_string(static_cast<MalformedReason>(r)), "?");
        CU_ASSERT_STRING_NOT_EQUAL(describe(static_cast<MalformedReason>(r)), "?");
    }
}

PG_TEST(parse, ipv4_checksum_known_answer) {
    // RFC 1071-style example header (Wikipedia's classic): checksum 0xb861.
    const uint8_t h[20] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                           0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    CU_ASSERT_EQUAL(ipv4_header_checksum(h, sizeof(h)), 0xb861);
}

// The word-at-a-time checksum equals the textbook 16-bit big-endian sum for every
// length (odd ones included) and random contents.
PG_TEST(parse, ipv4_checksum_matches_naive_sum) {
    std::mt19937 rng(1071);
    uint8_t h[64];
    for (int round = 0; round < 20000; ++round) {
        const size_t len = size_t(rng() % sizeof h);
        for (auto& b : h) b = uint8_t(rng() >> (round % 3 == 0 ? 31 : 0));  // also near-all-zero/0xff
        if (round % 5 == 0) std::memset(h, 0xff, sizeof h);
        uint32_t sum = 0;
        for (size_t i = 0; i + 1 < len; i += 2) sum += uint32_t(h[i] << 8 | h[i + 1]);
        if (len & 1) sum += uint32_t(h[len - 1]) << 8;
        while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
        if (ipv4_header_checksum(h, len) != uint16_t(~sum)) {
            CU_FAIL("checksum differs from the naive sum");
            return;
        }
    }
    CU_PASS("20000 random headers");
}

// parse_frame's common-case short path against the general parser: random frames of
// every kind (UDP to any port, TCP with any data offset, ESP with SPI 0 too, ICMP, GRE;
// fragments, bad checksums, options, VLAN tags, wrong lengths, padding), some with a
// random byte changed or cut short. Every field must agree, and enough frames must be
// common ones for the short path to be exercised.
PG_TEST(parse, common_path_equals_general) {
    using namespace pgtest::dataplane;
    std::mt19937 rng(4303);
    unsigned common = 0, total = 0, mismatches = 0;
    for (int round = 0; round < 200000; ++round) {
        Bytes l4;
        uint8_t proto;
        switch (rng() % 5) {
            case 0: {
                const uint16_t ports[] = {500, 4500, 53, 5000, uint16_t(rng())};
                proto = 17;
                Bytes pay(rng() % 40, uint8_t(rng()));
                if (rng() % 4 == 0 && pay.size() >= 4) std::memset(pay.data(), 0, 4);
                l4 = udp(uint16_t(rng()), ports[rng() % 5], pay, rng() % 8 == 0 ? int(rng() % 7) - 3 : 0);
                break;
            }
            case 1: proto = 6; l4 = tcp(uint16_t(rng()), uint16_t(rng()), uint8_t(rng() % 8 == 0 ? rng() % 16 : 5)); break;
            case 2: proto = 50; l4 = esp(rng() % 8 == 0 ? 0 : uint32_t(rng()), uint32_t(rng()), rng() % 40); break;
            case 3: proto = 1; l4 = icmp_echo(); break;
            default: proto = 47; l4 = Bytes(rng() % 30, 1); break;
        }
        FrameOpts o;
        if (rng() % 10 == 0) o.vlan = true;
        if (rng() % 10 == 0) o.ihl_words = uint8_t(rng() % 10 == 0 ? 4 : 6);
        if (rng() % 10 == 0) o.total_len_adjust = int(rng() % 9) - 4;
        if (rng() % 8 == 0) o.frag = uint16_t(rng() % 3 == 0 ? 0x4000 : rng() % 2 ? 0x2000 : rng() & 0x3fff);
        if (rng() % 20 == 0) o.bad_checksum = true;
        if (rng() % 5 == 0) o.l2_padding = rng() % 20;
        if (rng() % 30 == 0) o.version = 6;
        Bytes f = ipv4_frame(proto, uint32_t(rng()), uint32_t(rng()), l4, o);
        if (rng() % 6 == 0 && !f.empty()) f[rng() % f.size()] ^= uint8_t(1 + rng() % 255);
        if (rng() % 6 == 0) f.resize(rng() % (f.size() + 1));
        const ParsedPkt a = parse_frame(f.data(), f.size());
        const ParsedPkt b = parse_frame_general(f.data(), f.size());
        ++total;
        if (!(a == b) && ++mismatches <= 3) std::printf("\n    round %d: parse_frame differs from the general parser", round);
        if (!b.vlan && !b.fragment && b.l3_off == 14 && b.l4_off == 34 &&
            (b.cls == PktClass::esp || (b.cls == PktClass::ipv4_other && (b.ip_proto == 6 || b.ip_proto == 17))))
            ++common;
    }
    CU_ASSERT_EQUAL(mismatches, 0u);
    std::printf("\n    %u of %u frames take the common path ", common, total);
    CU_ASSERT_TRUE(common > total / 8);
}
