// dataplane/pkt_parse.cpp - see pkt_parse.hpp. Every read below is preceded by a length
// check against `len` (frame) or `l3_end` (IPv4 total length), never the other way round.
#include "dataplane/pkt_parse.hpp"

#include <cstring>
#include <iterator>

namespace peregrine::dataplane {

namespace {

constexpr const char* kClassNames[] = {
#define PG_X(id) #id,
    PG_PKT_CLASSES(PG_X)
#undef PG_X
};
constexpr const char* kReasonIds[] = {
#define PG_X(id, text) #id,
    PG_MALFORMED_REASONS(PG_X)
#undef PG_X
};
constexpr const char* kReasonTexts[] = {
#define PG_X(id, text) text,
    PG_MALFORMED_REASONS(PG_X)
#undef PG_X
};

constexpr uint16_t kIpv4FlagMf = 0x2000;        // "more fragments"
constexpr uint16_t kIpv4FragOffMask = 0x1fff;   // fragment offset, 8-byte units
constexpr uint16_t kArpHtypeEthernet = 1;

inline uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t rd32(const uint8_t* p) {
    return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

inline ParsedPkt& bad(ParsedPkt& r, MalformedReason why) {
    r.cls = PktClass::malformed;
    r.reason = why;
    return r;
}

// UDP payload classification (dport 500 / 4500). `p`..`end` is the UDP payload.
void classify_udp_payload(ParsedPkt& r, const uint8_t* frame, size_t off, size_t end) {
    const size_t n = end - off;
    if (r.dport == wire::kPortIke) {
        r.cls = PktClass::ike;
        return;
    }
    if (r.dport != wire::kPortIkeNatT) {
        r.cls = PktClass::ipv4_other;
        return;
    }
    if (r.fragment) {  // a first fragment: the payload is partial, classify what we see
        if (n == 0) {
            r.cls = PktClass::ipv4_other;
            return;
        }
    }
    if (n == 1 && frame[off] == wire::kNatKeepalive) {
        r.cls = PktClass::nat_keepalive;
        return;
    }
    if (n >= wire::kNonEspMarkerLen && rd32(frame + off) == 0) {
        r.cls = PktClass::ike;
        r.payload_off = static_cast<uint16_t>(off + wire::kNonEspMarkerLen);
        return;
    }
    if (n < wire::kEspHdrLen) {
        bad(r, MalformedReason::udp_encap_truncated);
        return;
    }
    r.cls = PktClass::esp_in_udp;
    r.spi = rd32(frame + off);  // != 0, the marker case is handled above
    r.esp_seq = rd32(frame + off + 4);
}

}  // namespace

const char* to_string(PktClass c) {
    const auto i = static_cast<size_t>(c);
    return i < std::size(kClassNames) ? kClassNames[i] : "?";
}
const char* to_string(MalformedReason r) {
    const auto i = static_cast<size_t>(r);
    return i < std::size(kReasonIds) ? kReasonIds[i] : "?";
}
const char* describe(MalformedReason r) {
    const auto i = static_cast<size_t>(r);
    return i < std::size(kReasonTexts) ? kReasonTexts[i] : "?";
}

uint16_t ipv4_header_checksum(const uint8_t* hdr, size_t len) noexcept {
    // Ones'-complement sum in 32-bit words, folded at the end (RFC 1071: the sum is
    // byte-order independent, so native loads are summed and the result swapped back).
    uint64_t sum = 0;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t w;
        std::memcpy(&w, hdr + i, 4);
        sum += w;
    }
    for (; i + 1 < len; i += 2) {
        uint16_t w;
        std::memcpy(&w, hdr + i, 2);
        sum += w;
    }
    if (len & 1) {
        const uint8_t tail[2] = {hdr[len - 1], 0};
        uint16_t w;
        std::memcpy(&w, tail, 2);
        sum += w;
    }
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    const auto folded = static_cast<uint16_t>(~sum);
    uint8_t b[2];
    std::memcpy(b, &folded, 2);
    return static_cast<uint16_t>(b[0] << 8 | b[1]);  // native -> network -> host value
}

namespace {

// The common case, or false (r untouched) for the general parser to decide.
inline bool parse_common(const uint8_t* frame, size_t len, ParsedPkt& r) noexcept {
    using namespace wire;
    constexpr size_t kL3 = kEthHdrLen, kL4 = kEthHdrLen + kIpv4MinHdrLen;
    if (frame == nullptr || len < kL4 + kEspHdrLen) return false;
    const uint8_t* ip = frame + kL3;
    if (rd16(frame + 12) != kEtherTypeIpv4 || ip[0] != 0x45) return false;
    const uint16_t total = rd16(ip + 2);
    if (total < kIpv4MinHdrLen + kEspHdrLen || total > len - kL3) return false;
    if ((rd16(ip + 6) & (kIpv4FlagMf | kIpv4FragOffMask)) != 0) return false;
    uint64_t sum = 0;
    for (size_t i = 0; i < kIpv4MinHdrLen; i += 4) {
        uint32_t w;
        std::memcpy(&w, ip + i, 4);
        sum += w;
    }
    sum = (sum & 0xffffffff) + (sum >> 32);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    if (sum != 0xffff) return false;
    const uint8_t* l4 = frame + kL4;
    const size_t avail = total - kIpv4MinHdrLen;
    const uint8_t proto = ip[9];
    uint16_t payload_off;
    uint16_t sport = 0, dport = 0;
    uint32_t spi = 0, seq = 0;
    PktClass cls = PktClass::ipv4_other;
    if (proto == kProtoUdp) {
        sport = rd16(l4);
        dport = rd16(l4 + 2);
        const uint16_t ulen = rd16(l4 + 4);
        if (dport == kPortIke || dport == kPortIkeNatT || ulen < kUdpHdrLen || ulen > avail) return false;
        payload_off = kL4 + kUdpHdrLen;
    } else if (proto == kProtoTcp) {
        if (avail < kTcpMinHdrLen) return false;
        const size_t doff = size_t{static_cast<uint8_t>(l4[12] >> 4)} * 4;
        if (doff < kTcpMinHdrLen || doff > avail) return false;
        sport = rd16(l4);
        dport = rd16(l4 + 2);
        payload_off = static_cast<uint16_t>(kL4 + doff);
    } else if (proto == kProtoEsp) {
        spi = rd32(l4);
        if (spi == 0) return false;
        seq = rd32(l4 + 4);
        payload_off = kL4;
        cls = PktClass::esp;
    } else {
        return false;
    }
    r.cls = cls;
    r.ip_proto = proto;
    r.ethertype = kEtherTypeIpv4;
    r.l3_off = kL3;
    r.l4_off = kL4;
    r.payload_off = payload_off;
    r.l3_len = total;
    r.src_ip = rd32(ip + 12);
    r.dst_ip = rd32(ip + 16);
    r.sport = sport;
    r.dport = dport;
    r.spi = spi;
    r.esp_seq = seq;
    return true;
}

}  // namespace

ParsedPkt parse_frame(const uint8_t* frame, size_t len) noexcept {
    ParsedPkt r;
    if (parse_common(frame, len, r)) return r;
    return parse_frame_general(frame, len);
}

ParsedPkt parse_frame_general(const uint8_t* frame, size_t len) noexcept {
    using namespace wire;
    ParsedPkt r;
    if (frame == nullptr || len < kEthHdrLen) return bad(r, MalformedReason::eth_truncated);

    size_t off = 12;  // EtherType after the two MAC addresses
    uint16_t et = rd16(frame + off);
    off += 2;
    if (et == kEtherTypeVlan) {
        if (len < off + kVlanTagLen) return bad(r, MalformedReason::vlan_truncated);
        r.vlan = true;
        r.vlan_tci = rd16(frame + off);
        et = rd16(frame + off + 2);
        off += kVlanTagLen;
    }
    r.ethertype = et;
    r.l3_off = static_cast<uint16_t>(off);

    if (et == kEtherTypeArp) {
        if (len - off < kArpLen) return bad(r, MalformedReason::arp_truncated);
        const uint8_t* a = frame + off;
        if (rd16(a) != kArpHtypeEthernet || rd16(a + 2) != kEtherTypeIpv4 || a[4] != 6 ||
            a[5] != 4)
            return bad(r, MalformedReason::arp_unsupported);
        r.src_ip = rd32(a + 14);  // sender protocol address
        r.dst_ip = rd32(a + 24);  // target protocol address
        r.cls = PktClass::arp;
        return r;
    }
    if (et != kEtherTypeIpv4) {
        r.cls = PktClass::non_ip;  // IPv6, LLDP, a second VLAN tag (QinQ), ...
        return r;
    }

    // ---- IPv4
    if (len - off < kIpv4MinHdrLen) return bad(r, MalformedReason::ipv4_truncated);
    const uint8_t* ip = frame + off;
    if ((ip[0] >> 4) != 4) return bad(r, MalformedReason::ipv4_version);
    const size_t ihl = size_t{ip[0] & 0x0fu} * 4;
    if (ihl < kIpv4MinHdrLen || ihl > len - off) return bad(r, MalformedReason::ipv4_ihl);
    const uint16_t total = rd16(ip + 2);
    if (total < ihl) return bad(r, MalformedReason::ipv4_total_length_short);
    if (total > len - off) return bad(r, MalformedReason::ipv4_total_length_frame);
    if (ihl == kIpv4MinHdrLen) {  // the common header: five words, no loop
        uint64_t sum = 0;
        for (size_t i = 0; i < kIpv4MinHdrLen; i += 4) {
            uint32_t w;
            std::memcpy(&w, ip + i, 4);
            sum += w;
        }
        sum = (sum & 0xffffffff) + (sum >> 32);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        if (sum != 0xffff) return bad(r, MalformedReason::ipv4_checksum);
    } else if (ipv4_header_checksum(ip, ihl) != 0) {
        return bad(r, MalformedReason::ipv4_checksum);
    }

    r.l3_len = total;
    r.ip_proto = ip[9];
    r.src_ip = rd32(ip + 12);
    r.dst_ip = rd32(ip + 16);
    const uint16_t frag = rd16(ip + 6);
    const uint16_t frag_off = frag & kIpv4FragOffMask;
    r.fragment = (frag & kIpv4FlagMf) != 0 || frag_off != 0;
    r.first_fragment = r.fragment && frag_off == 0;

    const size_t l4 = off + ihl;
    const size_t l3_end = off + total;  // <= len, checked above
    r.cls = PktClass::ipv4_other;
    if (frag_off != 0) return r;  // non-first fragment: no L4 header here
    r.l4_off = static_cast<uint16_t>(l4);
    const size_t avail = l3_end - l4;

    switch (r.ip_proto) {
        case kProtoUdp: {
            if (avail < kUdpHdrLen) return bad(r, MalformedReason::udp_truncated);
            const uint8_t* u = frame + l4;
            r.sport = rd16(u);
            r.dport = rd16(u + 2);
            const uint16_t ulen = rd16(u + 4);
            size_t udp_end = l3_end;
            if (!r.fragment) {
                if (ulen < kUdpHdrLen || ulen > avail) return bad(r, MalformedReason::udp_length);
                udp_end = l4 + ulen;  // bytes past the UDP length are ignored (RFC 768)
            }
            r.payload_off = static_cast<uint16_t>(l4 + kUdpHdrLen);
            classify_udp_payload(r, frame, l4 + kUdpHdrLen, udp_end);
            return r;
        }
        case kProtoTcp: {
            if (avail < kTcpMinHdrLen) return bad(r, MalformedReason::tcp_truncated);
            const uint8_t* t = frame + l4;
            r.sport = rd16(t);
            r.dport = rd16(t + 2);
            const size_t doff = size_t{static_cast<uint8_t>(t[12] >> 4)} * 4;
            if (doff < kTcpMinHdrLen || doff > avail)
                return bad(r, MalformedReason::tcp_data_offset);
            r.payload_off = static_cast<uint16_t>(l4 + doff);
            return r;
        }
        case kProtoIcmp: {
            if (avail < kIcmpHdrLen) return bad(r, MalformedReason::icmp_truncated);
            r.icmp_type = frame[l4];
            r.icmp_code = frame[l4 + 1];
            r.payload_off = static_cast<uint16_t>(l4 + kIcmpHdrLen);
            r.cls = PktClass::icmp;
            return r;
        }
        case kProtoEsp: {
            if (avail < kEspHdrLen) return bad(r, MalformedReason::esp_truncated);
            r.spi = rd32(frame + l4);
            if (r.spi == 0) return bad(r, MalformedReason::esp_spi_zero);
            r.esp_seq = rd32(frame + l4 + 4);
            r.payload_off = static_cast<uint16_t>(l4);
            r.cls = PktClass::esp;
            return r;
        }
        default:
            return r;
    }
}

}  // namespace peregrine::dataplane
