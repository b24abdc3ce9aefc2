// control/punt.hpp - what the control core does with punted packets and events.
//
//   ARP request for one of our addresses   -> ARP reply (the appliance's ARP responder)
//   ARP request/reply from a host           -> learn the sender as a neighbour
//   ICMP echo request to one of our addresses -> echo reply (ping the appliance)
//   packet too big for the tunnel, DF set   -> ICMP fragmentation needed to its sender
//                                              (RFC 1191 next-hop MTU), at most
//                                              kFragNeededPerSecond per second
//   event no_neighbour(port, ip)            -> ARP request for ip on port
//   event no_sa(entry)                      -> notify the IKE layer (callback)
//   IKE and anything else                   -> counted and freed (IKE: callback)
// Runs on the control core only; bounded work per poll() call.
#pragma once

#include <cstdint>
#include <functional>

#include "dataplane/runtime.hpp"

namespace peregrine::control {

struct PuntCounters {
    uint64_t arp_replies_sent = 0, arp_requests_sent = 0, arp_learned = 0;
    uint64_t icmp_echo_replies = 0, ike_packets = 0, no_sa_events = 0, dropped = 0;
    uint64_t icmp_frag_needed = 0, icmp_frag_needed_limited = 0;
};

class PuntHandler {
public:
    explicit PuntHandler(dataplane::Runtime& rt) : rt_(rt) {}
    // Drain up to `budget` packets and events; returns how many were handled.
    unsigned poll(unsigned budget = 256);
    void on_no_sa(std::function<void(uint32_t entry)> fn) { no_sa_ = std::move(fn); }
    const PuntCounters& counters() const { return c_; }
    // Send an ARP request for `ip` out of appliance port `port`.
    bool arp_request(uint16_t port, uint32_t ip);

private:
    void handle(rte_mbuf* m);
    bool handle_arp(rte_mbuf* m, uint16_t port);
    bool handle_icmp(rte_mbuf* m, uint16_t port);
    bool frag_needed(rte_mbuf* m, uint16_t port, uint16_t mtu);
    uint64_t frag_window_ms_ = 0;
    unsigned frag_in_window_ = 0;
    dataplane::Runtime& rt_;
    std::function<void(uint32_t)> no_sa_;
    PuntCounters c_;
};

}  // namespace peregrine::control
