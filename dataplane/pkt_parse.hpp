// dataplane/pkt_parse.hpp - frame parser for classification (pure, no DPDK runtime).
//
// parse_frame(bytes, len) walks Ethernet [+ one 802.1Q tag] -> ARP | IPv4 -> UDP/TCP/ICMP/ESP
// and says what the frame is plus where its headers are. Every read is length-checked;
// a frame that is cut short or inconsistent is `malformed` with a precise reason.
//
// The class says what the frame would be *if it is addressed to the appliance*: the caller
// compares ParsedPkt::dst_ip with its own addresses (e.g. UDP/500 to another host is transit
// traffic, ICMP to self is punted, ICMP in transit is forwarded).
//
//   esp            IPv4 proto 50, ESP header (SPI, seq) present, SPI != 0
//   esp_in_udp     UDP dport 4500, first 4 payload bytes (SPI) != 0, >= 8 bytes (RFC 3948)
//   ike            UDP dport 500, or UDP dport 4500 with the 4-byte non-ESP marker
//   nat_keepalive  UDP dport 4500 with the single byte 0xFF (RFC 3948 2.3)
//   arp            Ethernet/IPv4 ARP
//   icmp           IPv4 proto 1 (type/code extracted)
//   ipv4_other     any other IPv4 packet (TCP/UDP ports extracted when present)
//   non_ip         other EtherTypes (IPv6, LLDP, QinQ / a second VLAN tag, ...)
//   malformed      see MalformedReason
//
// Fragments: `fragment` is set for any fragment. A non-first fragment has no L4 header:
// it is `ipv4_other` whatever its protocol (even 50), with ports 0; a first fragment is classified from its L4 header but the L4 length is
// not checked against the (partial) IP payload. The caller decides what to do with them
// (the classifier sees ports 0 for non-first fragments; see docs/DATAPLANE-BLOCKS.md).
#pragma once

#include <cstddef>
#include <cstdint>

namespace peregrine::dataplane {

#define PG_PKT_CLASSES(X) \
    X(esp)                \
    X(esp_in_udp)         \
    X(ike)                \
    X(nat_keepalive)      \
    X(arp)                \
    X(icmp)               \
    X(ipv4_other)         \
    X(non_ip)             \
    X(malformed)

enum class PktClass : uint8_t {
#define PG_X(id) id,
    PG_PKT_CLASSES(PG_X)
#undef PG_X
};

#define PG_MALFORMED_REASONS(X)                                                     \
    X(none, "not malformed")                                                        \
    X(eth_truncated, "frame shorter than the Ethernet header")                      \
    X(vlan_truncated, "frame shorter than the 802.1Q tag")                          \
    X(arp_truncated, "ARP shorter than 28 bytes")                                   \
    X(arp_unsupported, "ARP not Ethernet/IPv4 (htype/ptype/hlen/plen)")             \
    X(ipv4_truncated, "frame shorter than the IPv4 header")                         \
    X(ipv4_version, "IP version is not 4")                                          \
    X(ipv4_ihl, "IPv4 IHL < 5 or beyond the frame")                                 \
    X(ipv4_total_length_short, "IPv4 total length < header length")                 \
    X(ipv4_total_length_frame, "IPv4 total length beyond the frame")                \
    X(ipv4_checksum, "IPv4 header checksum mismatch")                               \
    X(udp_truncated, "UDP header beyond the IP payload")                            \
    X(udp_length, "UDP length < 8 or beyond the IP payload")                        \
    X(tcp_truncated, "TCP header beyond the IP payload")                            \
    X(tcp_data_offset, "TCP data offset < 5 or beyond the IP payload")              \
    X(icmp_truncated, "ICMP header beyond the IP payload")                          \
    X(esp_truncated, "ESP header (SPI, sequence) beyond the IP payload")            \
    X(esp_spi_zero, "ESP SPI 0 (reserved, never sent)")                             \
    X(udp_encap_truncated, "UDP/4500 payload neither keepalive, marker nor ESP")

enum class MalformedReason : uint8_t {
#define PG_X(id, text) id,
    PG_MALFORMED_REASONS(PG_X)
#undef PG_X
};

const char* to_string(PktClass c);
const char* to_string(MalformedReason r);         // short identifier, e.g. "udp_length"
const char* describe(MalformedReason r);          // one-line explanation for logs/CLI

// Wire constants the parser (and its users) share.
namespace wire {
constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeArp = 0x0806;
constexpr uint16_t kEtherTypeVlan = 0x8100;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kProtoTcp = 6;
constexpr uint8_t kProtoUdp = 17;
constexpr uint8_t kProtoEsp = 50;
constexpr uint16_t kPortIke = 500;        // RFC 7296
constexpr uint16_t kPortIkeNatT = 4500;   // RFC 3948 / RFC 7296 2.23
constexpr size_t kEthHdrLen = 14;
constexpr size_t kVlanTagLen = 4;
constexpr size_t kArpLen = 28;            // Ethernet/IPv4 ARP body
constexpr size_t kIpv4MinHdrLen = 20;
constexpr size_t kUdpHdrLen = 8;
constexpr size_t kTcpMinHdrLen = 20;
constexpr size_t kIcmpHdrLen = 8;
constexpr size_t kEspHdrLen = 8;          // SPI + sequence number
constexpr size_t kNonEspMarkerLen = 4;    // four zero bytes before IKE on port 4500
constexpr uint8_t kNatKeepalive = 0xFF;   // the one-byte NAT-keepalive payload
}  // namespace wire

struct ParsedPkt {
    PktClass cls = PktClass::malformed;
    MalformedReason reason = MalformedReason::none;
    bool vlan = false;        // one 802.1Q tag present (vlan_tci valid)
    bool fragment = false;    // MF set or fragment offset != 0
    bool first_fragment = false;  // fragment with offset 0 (L4 header present)
    uint8_t ip_proto = 0;
    uint8_t icmp_type = 0;
    uint8_t icmp_code = 0;
    uint16_t vlan_tci = 0;
    uint16_t ethertype = 0;   // the (inner) EtherType
    uint16_t l3_off = 0;      // IPv4 / ARP header
    uint16_t l4_off = 0;      // UDP/TCP/ICMP/ESP header; 0 if none
    uint16_t payload_off = 0; // after UDP/TCP header; ESP header for esp/esp_in_udp;
                              // IKE header for ike (after the marker on 4500)
    uint16_t l3_len = 0;      // IPv4 total length (frame bytes past it are L2 padding)
    uint32_t src_ip = 0;      // host byte order
    uint32_t dst_ip = 0;      // host byte order
    uint16_t sport = 0;       // host byte order; 0 unless TCP/UDP with a header
    uint16_t dport = 0;
    uint32_t spi = 0;         // esp / esp_in_udp, host byte order
    uint32_t esp_seq = 0;     // esp / esp_in_udp, host byte order (low 32 bits)
};

inline bool operator==(const ParsedPkt& a, const ParsedPkt& b) {
    return a.cls == b.cls && a.reason == b.reason && a.vlan == b.vlan && a.fragment == b.fragment &&
           a.first_fragment == b.first_fragment && a.ip_proto == b.ip_proto &&
           a.icmp_type == b.icmp_type && a.icmp_code == b.icmp_code && a.vlan_tci == b.vlan_tci &&
           a.ethertype == b.ethertype && a.l3_off == b.l3_off && a.l4_off == b.l4_off &&
           a.payload_off == b.payload_off && a.l3_len == b.l3_len && a.src_ip == b.src_ip &&
           a.dst_ip == b.dst_ip && a.sport == b.sport && a.dport == b.dport && a.spi == b.spi &&
           a.esp_seq == b.esp_seq;
}

// Never reads outside [frame, frame + len). frame may be null when len == 0.
// The common frame (untagged IPv4, 20-byte header, not a fragment, UDP not to 500/4500,
// TCP or ESP) takes a short path; everything else, and every malformed frame, the
// general one. Both give the same ParsedPkt (a differential test and the parser's fuzz
// target check it).
ParsedPkt parse_frame(const uint8_t* frame, size_t len) noexcept;
// The general parser alone (tests and the fuzz target compare it with parse_frame).
ParsedPkt parse_frame_general(const uint8_t* frame, size_t len) noexcept;

// RFC 1071 ones' complement sum over a header (used for the IPv4 header check).
uint16_t ipv4_header_checksum(const uint8_t* hdr, size_t len) noexcept;

}  // namespace peregrine::dataplane
