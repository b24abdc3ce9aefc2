// tests/dataplane/frames.hpp - tiny frame builder for parser/classifier tests.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/pkt_parse.hpp"

namespace pgtest::dataplane {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
}
inline void put32(Bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
}

constexpr uint32_t ip4(unsigned a, unsigned b, unsigned c, unsigned d) {
    return a << 24 | b << 16 | c << 8 | d;
}

struct FrameOpts {
    bool vlan = false;
    uint16_t tci = 100;
    uint16_t frag = 0;       // IPv4 flags+fragment offset field
    uint8_t ihl_words = 5;   // > 5 adds zero option bytes
    int total_len_adjust = 0;
    bool bad_checksum = false;
    uint8_t version = 4;
    size_t l2_padding = 0;   // bytes after the IP packet (Ethernet padding)
};

// Ethernet [+ 802.1Q] + IPv4 header + `l4` bytes.
inline Bytes ipv4_frame(uint8_t proto, uint32_t src, uint32_t dst, const Bytes& l4,
                        const FrameOpts& o = {}) {
    Bytes f = {0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2};
    if (o.vlan) {
        put16(f, peregrine::dataplane::wire::kEtherTypeVlan);
        put16(f, o.tci);
    }
    put16(f, peregrine::dataplane::wire::kEtherTypeIpv4);
    const size_t ip_off = f.size();
    const size_t ihl = size_t{o.ihl_words} * 4;
    f.push_back(static_cast<uint8_t>(o.version << 4 | (o.ihl_words & 0x0f)));
    f.push_back(0);
    put16(f, static_cast<uint16_t>(static_cast<int>(ihl + l4.size()) + o.total_len_adjust));
    put16(f, 0x1234);  // id
    put16(f, o.frag);
    f.push_back(64);   // ttl
    f.push_back(proto);
    put16(f, 0);       // checksum, below
    put32(f, src);
    put32(f, dst);
    while (f.size() < ip_off + ihl) f.push_back(0);  // options (NOPs would be 1; zero = EOL)
    uint16_t ck = peregrine::dataplane::ipv4_header_checksum(f.data() + ip_off, ihl);
    if (o.bad_checksum) ck ^= 0x0101;
    f[ip_off + 10] = static_cast<uint8_t>(ck >> 8);
    f[ip_off + 11] = static_cast<uint8_t>(ck);
    f.insert(f.end(), l4.begin(), l4.end());
    f.insert(f.end(), o.l2_padding, 0);
    return f;
}

inline Bytes udp(uint16_t sport, uint16_t dport, const Bytes& payload, int len_adjust = 0) {
    Bytes u;
    put16(u, sport);
    put16(u, dport);
    put16(u, static_cast<uint16_t>(static_cast<int>(8 + payload.size()) + len_adjust));
    put16(u, 0);  // checksum not used (optional in IPv4)
    u.insert(u.end(), payload.begin(), payload.end());
    return u;
}

inline Bytes tcp(uint16_t sport, uint16_t dport, uint8_t data_off_words = 5) {
    Bytes t;
    put16(t, sport);
    put16(t, dport);
    put32(t, 1);  // seq
    put32(t, 0);  // ack
    t.push_back(static_cast<uint8_t>(data_off_words << 4));
    t.push_back(0x02);  // SYN
    put16(t, 65535);
    put16(t, 0);
    put16(t, 0);
    while (t.size() < size_t{data_off_words} * 4) t.push_back(1);
    return t;
}

inline Bytes icmp_echo() { return {8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'}; }

inline Bytes esp(uint32_t spi, uint32_t seq, size_t body = 16) {
    Bytes e;
    put32(e, spi);
    put32(e, seq);
    e.insert(e.end(), body, 0xab);
    return e;
}

inline Bytes ike_header() {
    Bytes h(28, 0);
    h[0] = 0x11;   // initiator SPI byte, nonzero
    h[17] = 0x20;  // version 2.0
    h[18] = 34;    // IKE_SA_INIT
    return h;
}

inline Bytes arp_frame(bool vlan = false, uint16_t htype = 1) {
    Bytes f = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 2};
    if (vlan) {
        put16(f, peregrine::dataplane::wire::kEtherTypeVlan);
        put16(f, 7);
    }
    put16(f, peregrine::dataplane::wire::kEtherTypeArp);
    put16(f, htype);
    put16(f, 0x0800);
    f.push_back(6);
    f.push_back(4);
    put16(f, 1);  // request
    f.insert(f.end(), {0x02, 0, 0, 0, 0, 2});
    put32(f, ip4(192, 0, 2, 1));
    f.insert(f.end(), 6, 0);
    put32(f, ip4(192, 0, 2, 254));
    return f;
}

}  // namespace pgtest::dataplane
