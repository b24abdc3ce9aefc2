// dataplane/ports.cpp
#include "dataplane/ports.hpp"

#include <rte_dev.h>
#include <rte_ethdev.h>

namespace peregrine::dataplane {

namespace {
constexpr uint16_t kRxDesc = 1024;  // deep enough to absorb a control-core hiccup
constexpr uint16_t kTxDesc = 1024;

std::string ctx(const PortSpec& s) { return "port '" + s.name + "' (" + s.device + "): "; }
}  // namespace

std::string device_name(const std::string& device) { return device.substr(0, device.find(',')); }

bool setup_ports(const std::vector<PortSpec>& specs, uint16_t nb_workers, rte_mempool* pool,
                 std::vector<PortRuntime>& out, std::string& err) {
    for (const auto& s : specs) {
        PortRuntime p;
        p.spec = s;
        const std::string name = device_name(s.device);
        if (rte_eth_dev_get_port_by_name(name.c_str(), &p.port_id) != 0) {
            // Not probed by EAL (no --vdev / -a for it): probe it now.
            if (rte_dev_probe(s.device.c_str()) != 0 ||
                rte_eth_dev_get_port_by_name(name.c_str(), &p.port_id) != 0) {
                err = ctx(s) + "cannot probe the device";
                return false;
            }
        }
        rte_eth_dev_info info{};
        if (rte_eth_dev_info_get(p.port_id, &info) != 0) {
            err = ctx(s) + "cannot read device info";
            return false;
        }
        if (info.max_rx_queues < nb_workers || info.max_tx_queues < nb_workers) {
            err = ctx(s) + "has " + std::to_string(info.max_rx_queues) + " rx / " +
                  std::to_string(info.max_tx_queues) + " tx queues, " +
                  std::to_string(nb_workers) + " workers need one each";
            return false;
        }
        rte_eth_conf conf{};
        const uint64_t rss_hf =
            (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads;
        if (s.inside && nb_workers > 1 && rss_hf != 0) {
            conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
            p.rss = true;
        }
        if (rte_eth_dev_configure(p.port_id, nb_workers, nb_workers, &conf) != 0) {
            err = ctx(s) + "rte_eth_dev_configure failed";
            return false;
        }
        // MTU: best effort; many vdevs do not implement it and need none.
        rte_eth_dev_set_mtu(p.port_id, s.mtu);
        const int socket = rte_eth_dev_socket_id(p.port_id);
        for (uint16_t q = 0; q < nb_workers; ++q) {
            if (rte_eth_rx_queue_setup(p.port_id, q, kRxDesc, socket, nullptr, pool) != 0 ||
                rte_eth_tx_queue_setup(p.port_id, q, kTxDesc, socket, nullptr) != 0) {
                err = ctx(s) + "queue setup failed";
                return false;
            }
        }
        if (rte_eth_dev_start(p.port_id) != 0) {
            err = ctx(s) + "rte_eth_dev_start failed";
            return false;
        }
        rte_eth_promiscuous_enable(p.port_id);  // best effort (af_packet on veths needs it)
        rte_eth_macaddr_get(p.port_id, &p.mac);
        p.nb_queues = nb_workers;
        out.push_back(p);
    }
    return true;
}

void stop_ports(std::vector<PortRuntime>& ports) {
    for (auto& p : ports) {
        rte_eth_dev_stop(p.port_id);
        rte_eth_dev_close(p.port_id);
    }
    ports.clear();
}

}  // namespace peregrine::dataplane
