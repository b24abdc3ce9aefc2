// dataplane/ports.hpp - DPDK ports of the appliance (PCI devices or vdevs).
//
// Each port gets one RX and one TX queue per worker (queue id = worker index), so
// every queue has a single writer/reader and no locks are needed. The control core
// never touches a queue: it hands packets to worker 0 through a ring (punt.hpp).
// Inside ports use RSS when there is more than one worker and the PMD offers it.
#pragma once

#include <rte_ether.h>
#include <rte_mempool.h>

#include <cstdint>
#include <string>
#include <vector>

namespace peregrine::dataplane {

struct PortSpec {
    std::string name;    // appliance name ("inside0")
    std::string device;  // PCI address or vdev string ("net_pcap0,rx_pcap=in.pcap")
    bool inside = true;
    uint32_t address = 0;  // host order
    uint8_t prefix_len = 0;
    uint16_t mtu = 1500;
};

struct PortRuntime {
    PortSpec spec;
    uint16_t port_id = 0;
    rte_ether_addr mac{};
    uint16_t nb_queues = 0;
    bool rss = false;
};

// Probe (vdev strings through rte_dev_probe unless EAL already has them), configure,
// start. Returns false with `err` set ("port 'inside0' (net_pcap0,...): ...").
bool setup_ports(const std::vector<PortSpec>& specs, uint16_t nb_workers, rte_mempool* pool,
                 std::vector<PortRuntime>& out, std::string& err);
void stop_ports(std::vector<PortRuntime>& ports);

// The DPDK device name of a device string: "net_pcap0,iface=x" -> "net_pcap0".
std::string device_name(const std::string& device);

}  // namespace peregrine::dataplane
