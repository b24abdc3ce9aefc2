// tests/dataplane_flow/ring_port.hpp - an ethdev made of two rte_rings the test owns
// (rte_eth_from_rings): the test enqueues frames the port "receives" on `rx` and dequeues
// what the data plane transmitted from `tx`. Give `name` to a Runtime as PortSpec::device;
// dataplane/ports.cpp attaches to the existing port by name, configures and starts it
// (one queue: one worker), and closes it when the Runtime is destroyed.
//
// Destroy the RingPort after the Runtime that used it: the destructor frees the leftover
// mbufs, removes the vdev and frees the rings.
#pragma once

#include <rte_bus_vdev.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <string>

namespace pgtest {

class RingPort {
public:
    RingPort() = default;
    RingPort(const RingPort&) = delete;
    RingPort& operator=(const RingPort&) = delete;
    ~RingPort() { destroy(); }

    // The ethdev (and vdev) name is what rte_eth_from_rings makes of `name` (DPDK 22.11
    // prefixes "net_ring_"): read it back with name(). Both rings are single-producer/single-consumer: one worker on the data-plane side,
    // one test thread on the other. Sizes are powers of two.
    bool create(const std::string& name, unsigned rx_size, unsigned tx_size) {
        rx = rte_ring_create((name + "_rx").c_str(), rx_size, SOCKET_ID_ANY,
                             RING_F_SP_ENQ | RING_F_SC_DEQ);
        tx = rte_ring_create((name + "_tx").c_str(), tx_size, SOCKET_ID_ANY,
                             RING_F_SP_ENQ | RING_F_SC_DEQ);
        if (!rx || !tx) return false;
        const int port = rte_eth_from_rings(name.c_str(), &rx, 1, &tx, 1, SOCKET_ID_ANY);
        if (port < 0) return false;
        created_ = true;
        port_id = uint16_t(port);
        char dev[RTE_ETH_NAME_MAX_LEN];
        if (rte_eth_dev_get_name_by_port(port_id, dev) != 0) return false;
        name_ = dev;
        return true;
    }

    const std::string& name() const { return name_; }

    // Free every mbuf left in a ring; returns how many there were.
    static unsigned drain(rte_ring* r) {
        unsigned n = 0;
        void* m;
        while (r && rte_ring_dequeue(r, &m) == 0) {
            rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
            ++n;
        }
        return n;
    }

    void destroy() {
        // The Runtime closed (and released) the ethdev; the vdev itself stays on the bus
        // until uninit. rte_eth_from_rings attached our rings: the PMD never frees them.
        if (created_) rte_vdev_uninit(name_.c_str());
        created_ = false;
        drain(rx);
        drain(tx);
        rte_ring_free(rx);
        rte_ring_free(tx);
        rx = tx = nullptr;
    }

    rte_ring* rx = nullptr;  // frames the port receives (test -> data plane)
    rte_ring* tx = nullptr;  // frames the port sent (data plane -> test)
    uint16_t port_id = 0;

private:
    std::string name_;
    bool created_ = false;
};

}  // namespace pgtest
