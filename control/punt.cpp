// control/punt.cpp
#include "control/punt.hpp"

#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include <time.h>

#include <algorithm>
#include <cstring>

#include "dataplane/fragment.hpp"
#include "dataplane/pkt_parse.hpp"

namespace peregrine::control {

using dataplane::ParsedPkt;
using dataplane::PktClass;

namespace {
constexpr unsigned kBatch = 32;
constexpr unsigned kFragNeededPerSecond = 100;  // RFC 1812 4.3.2.8: rate-limit ICMP errors

uint64_t now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

uint32_t be32(rte_be32_t v) { return rte_be_to_cpu_32(v); }

const dataplane::PortRuntime* port_of(const dataplane::Runtime& rt, uint16_t index) {
    return index < rt.ports().size() ? &rt.ports()[index] : nullptr;
}

bool in_subnet(const dataplane::PortSpec& s, uint32_t ip) {
    const uint32_t mask = s.prefix_len ? ~0u << (32 - s.prefix_len) : 0;
    return (ip & mask) == (s.address & mask);
}
}  // namespace

unsigned PuntHandler::poll(unsigned budget) {
    unsigned done = 0;
    rte_mbuf* pkts[kBatch];
    while (done < budget) {
        const unsigned n = rt_.dequeue_punted(pkts, kBatch);
        for (unsigned i = 0; i < n; ++i) handle(pkts[i]);
        done += n;
        if (n < kBatch) break;
    }
    dataplane::Event ev[kBatch];
    const unsigned ne = rt_.dequeue_events(ev, kBatch);
    for (unsigned i = 0; i < ne; ++i) {
        if (ev[i].type == dataplane::EventType::no_neighbour) {
            arp_request(ev[i].port, ev[i].value);
        } else {
            ++c_.no_sa_events;
            if (no_sa_) no_sa_(ev[i].value);
        }
    }
    return done + ne;
}

void PuntHandler::handle(rte_mbuf* m) {
    const uint16_t port = m->port;  // the worker stored the appliance port index
    uint16_t mtu = 0;
    if (dataplane::is_too_big(m, mtu)) {
        frag_needed(m, port, mtu);  // the worker counted the drop; we only answer
        rte_pktmbuf_free(m);
        return;
    }
    const ParsedPkt p = dataplane::parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
    bool consumed = false;
    if (p.cls == PktClass::arp) {
        consumed = handle_arp(m, port);
    } else if (p.cls == PktClass::icmp) {
        consumed = handle_icmp(m, port);
    } else if (p.cls == PktClass::ike) {
        ++c_.ike_packets;  // no IKE responder yet: counted, dropped
    }
    if (!consumed) {
        ++c_.dropped;
        rte_pktmbuf_free(m);
    }
}

bool PuntHandler::handle_arp(rte_mbuf* m, uint16_t port) {
    const dataplane::PortRuntime* pr = port_of(rt_, port);
    if (!pr || m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) return false;
    auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) return false;  // VLAN: not ours
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    const uint32_t sip = be32(arp->arp_data.arp_sip);
    const uint32_t tip = be32(arp->arp_data.arp_tip);
    // Learn the sender (requests and replies alike) when it is on the port's network.
    if (sip != 0 && in_subnet(pr->spec, sip) && sip != pr->spec.address) {
        if (!rt_.neighbours()->lookup(sip)) ++c_.arp_learned;
        rt_.learn_neighbour(sip, port, arp->arp_data.arp_sha);
    }
    if (arp->arp_opcode != rte_cpu_to_be_16(RTE_ARP_OP_REQUEST) || tip != pr->spec.address)
        return false;
    // Turn the request into the reply in place.
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
    arp->arp_data.arp_tha = arp->arp_data.arp_sha;
    arp->arp_data.arp_tip = arp->arp_data.arp_sip;
    arp->arp_data.arp_sha = pr->mac;
    arp->arp_data.arp_sip = rte_cpu_to_be_32(pr->spec.address);
    eth->dst_addr = eth->src_addr;
    eth->src_addr = pr->mac;
    if (rt_.send(port, m)) ++c_.arp_replies_sent;
    return true;
}

bool PuntHandler::handle_icmp(rte_mbuf* m, uint16_t port) {
    const dataplane::PortRuntime* pr = port_of(rt_, port);
    if (!pr) return false;
    const ParsedPkt p = dataplane::parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
    if (p.icmp_type != RTE_IP_ICMP_ECHO_REQUEST || p.fragment || p.vlan) return false;
    uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(frame);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame + p.l3_off);
    auto* icmp = reinterpret_cast<rte_icmp_hdr*>(frame + p.l4_off);
    const rte_be32_t src = ip->src_addr;
    ip->src_addr = ip->dst_addr;
    ip->dst_addr = src;
    ip->time_to_live = 64;
    ip->hdr_checksum = 0;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
    icmp->icmp_cksum = 0;
    const size_t icmp_len = p.l3_len - (p.l4_off - p.l3_off);
    icmp->icmp_cksum = uint16_t(~rte_raw_cksum(icmp, icmp_len));
    eth->dst_addr = eth->src_addr;
    eth->src_addr = pr->mac;
    m->data_len = uint16_t(p.l3_off + p.l3_len);
    m->pkt_len = m->data_len;
    if (rt_.send(port, m)) ++c_.icmp_echo_replies;
    return true;
}

// ICMP destination unreachable, fragmentation needed (type 3 code 4, RFC 792/1191)
// to the sender of the frame in `m`, out of the port it came in on, to the MAC it
// came from. Carries the original IP header + 8 bytes.
bool PuntHandler::frag_needed(rte_mbuf* m, uint16_t port, uint16_t mtu) {
    const dataplane::PortRuntime* pr = port_of(rt_, port);
    if (!pr) return false;
    const uint64_t now = now_ms();
    if (now - frag_window_ms_ >= 1000) {
        frag_window_ms_ = now;
        frag_in_window_ = 0;
    }
    if (frag_in_window_ >= kFragNeededPerSecond) {
        ++c_.icmp_frag_needed_limited;
        return false;
    }
    const ParsedPkt p = dataplane::parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
    if (p.cls == PktClass::malformed || p.cls == PktClass::non_ip || p.vlan) return false;
    const uint8_t* frame = rte_pktmbuf_mtod(m, const uint8_t*);
    const uint8_t* oip = frame + p.l3_off;
    const uint16_t ihl = uint16_t((oip[0] & 0x0f) * 4);
    const uint16_t quote = uint16_t(std::min<uint32_t>(p.l3_len, ihl + 8u));
    rte_mbuf* r = rte_pktmbuf_alloc(rt_.pool());
    if (!r) return false;
    const uint16_t len = uint16_t(sizeof(rte_ether_hdr) + 20 + 8 + quote);
    auto* out = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(r, len));
    auto* eth = reinterpret_cast<rte_ether_hdr*>(out);
    const auto* in_eth = reinterpret_cast<const rte_ether_hdr*>(frame);
    eth->dst_addr = in_eth->src_addr;
    eth->src_addr = pr->mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(out + sizeof(rte_ether_hdr));
    std::memset(ip, 0, 20);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(uint16_t(20 + 8 + quote));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_ICMP;
    ip->src_addr = rte_cpu_to_be_32(pr->spec.address);
    std::memcpy(&ip->dst_addr, oip + 12, 4);  // the original source
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint8_t* icmp = out + sizeof(rte_ether_hdr) + 20;
    icmp[0] = 3;  // destination unreachable
    icmp[1] = 4;  // fragmentation needed and DF set
    icmp[2] = icmp[3] = icmp[4] = icmp[5] = 0;
    icmp[6] = uint8_t(mtu >> 8);
    icmp[7] = uint8_t(mtu);
    std::memcpy(icmp + 8, oip, quote);
    const uint16_t ck = uint16_t(~rte_raw_cksum(icmp, 8u + quote));
    std::memcpy(icmp + 2, &ck, 2);
    if (!rt_.send(port, r)) return false;
    ++frag_in_window_;
    ++c_.icmp_frag_needed;
    return true;
}

bool PuntHandler::arp_request(uint16_t port, uint32_t ip) {
    const dataplane::PortRuntime* pr = port_of(rt_, port);
    if (!pr) return false;
    rte_mbuf* m = rte_pktmbuf_alloc(rt_.pool());
    if (!m) return false;
    const uint16_t len = sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(m, len));
    auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
    memset(&eth->dst_addr, 0xff, sizeof eth->dst_addr);
    eth->src_addr = pr->mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
    arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
    arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    arp->arp_hlen = RTE_ETHER_ADDR_LEN;
    arp->arp_plen = 4;
    arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
    arp->arp_data.arp_sha = pr->mac;
    arp->arp_data.arp_sip = rte_cpu_to_be_32(pr->spec.address);
    memset(&arp->arp_data.arp_tha, 0, sizeof arp->arp_data.arp_tha);
    arp->arp_data.arp_tip = rte_cpu_to_be_32(ip);
    if (!rt_.send(port, m)) return false;
    ++c_.arp_requests_sent;
    return true;
}

}  // namespace peregrine::control
