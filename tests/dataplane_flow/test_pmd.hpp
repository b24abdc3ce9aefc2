// tests/dataplane_flow/test_pmd.hpp - net_pgflowtest, a test-only PMD with rte_flow.
//
// A vdev driver registered in the test binary: "net_pgflowtest<N>[,rxq=R][,udp_esp=0|1]
// [,flow=0|1]" gives a port with R RX queues (default 4, at most 16) and up to 16 TX queues (all freeing). It has
// no wire: packets enter through pgflowtest_inject(), which applies the installed rte_flow
// rules the way a NIC would and puts each packet on the RX queue they choose, so that
// rte_eth_rx_burst() on each queue returns what was steered to it. TX frees the packets.
//
// rte_flow (flow_ops_get; flow=0 gives a port without flow ops):
//   validate / create accept
//     ETH / IPV4 / ESP(spi)              -> QUEUE or RSS
//     ETH / IPV4 / UDP(ports) / ESP(spi) -> QUEUE or RSS     (not with udp_esp=0)
//     ETH / IPV4 / UDP(ports)            -> QUEUE or RSS
//   (ETH: no match on MAC; IPV4: src/dst/next_proto; UDP: src/dst port; ESP: SPI only; attr
//   ingress, group 0, priority 0..7; VOID items/actions skipped) and reject anything else
//   with rte_flow_error_set(): the error type points at the offending attribute, item or
//   action, the message says what is wrong.
//   destroy / flush remove rules.
// Matching: the rule with the lowest priority wins, ties by creation order; no match ->
// queue 0. RSS picks a queue of the action's list by a hash of the addresses and ports (or
// the SPI for plain ESP) and sets mbuf hash.rss / RTE_MBUF_F_RX_RSS_HASH.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

namespace pgflowtest {

struct Stats {
    uint64_t validate_calls = 0;  // validate and create both validate
    uint64_t rejected = 0;        // rules refused by validate/create
    uint64_t created = 0;
    uint64_t destroyed = 0;  // by destroy, flush or close
    uint64_t live_rules = 0;
    uint64_t injected = 0;
    uint64_t matched = 0;  // injected packets that matched a rule
    uint64_t dropped = 0;  // RX queue full or port stopped
};

// The packets steered, in order; returns how many were queued (the others were freed).
// Takes ownership of all n mbufs.
uint16_t inject(uint16_t port_id, rte_mbuf** pkts, uint16_t n);

// false if port_id is not a net_pgflowtest port.
bool stats(uint16_t port_id, Stats& out);

}  // namespace pgflowtest

// The name the issue gives it.
inline uint16_t pgflowtest_inject(uint16_t port_id, rte_mbuf** pkts, uint16_t n) {
    return pgflowtest::inject(port_id, pkts, n);
}
