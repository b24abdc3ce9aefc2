// tests/dataplane_flow/test_pmd.cpp - net_pgflowtest, see test_pmd.hpp.
//
// Driver-side DPDK types come from <rte_flow_driver.h> (shipped) and, where Debian lacks the
// driver SDK, from dpdk_sdk/ (see dpdk_sdk/README.md).
#include "tests/dataplane_flow/test_pmd.hpp"

#include <bus_vdev_driver.h>
#include <rte_flow_driver.h>

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_esp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_kvargs.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

// The opaque rte_flow handle of this PMD: one parsed rule.
struct rte_flow {
    uint32_t priority = 0;
    uint64_t seq = 0;  // creation order, breaks priority ties
    // IPv4 (network order values and masks)
    uint32_t src = 0, src_mask = 0, dst = 0, dst_mask = 0;
    // UDP
    bool udp = false;
    uint16_t sport = 0, sport_mask = 0, dport = 0, dport_mask = 0;
    // ESP (behind IPv4 or behind UDP)
    bool esp = false;
    uint32_t spi = 0, spi_mask = 0;
    // fate
    bool rss = false;
    std::vector<uint16_t> queues;  // QUEUE: one entry; RSS: the list
};

namespace pgflowtest {
namespace {

constexpr uint16_t kDefaultRxq = 4;
constexpr uint16_t kMaxRxq = 16;
constexpr unsigned kRingSize = 1024;  // per RX queue; inject() drops beyond
constexpr uint32_t kMaxPriority = 7;
constexpr uint8_t kProtoEsp = IPPROTO_ESP;
constexpr uint8_t kProtoUdp = IPPROTO_UDP;
constexpr uint16_t kNatT = 4500;

struct RxQueue {
    rte_ring* ring = nullptr;
    ~RxQueue() {
        void* m = nullptr;
        while (rte_ring_dequeue(ring, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(ring);
    }
};

struct Port {
    uint16_t port_id = 0;
    uint16_t max_rxq = kDefaultRxq;
    bool udp_esp = true;
    bool flow = true;
    bool started = false;
    std::array<std::unique_ptr<RxQueue>, kMaxRxq> rxq;
    std::mutex mu;  // rules and stats: rte_flow calls vs inject()
    std::list<std::unique_ptr<rte_flow>> rules;
    uint64_t next_seq = 0;
    Stats st;
};

std::array<std::unique_ptr<Port>, RTE_MAX_ETHPORTS> g_ports;
std::atomic<unsigned> g_ring_serial{0};
char g_tx_queue;  // the TX queue has no state; its address stands for it

Port* port_of(const rte_eth_dev* dev) {
    return g_ports[dev->data->port_id].get();
}

// ---- parsing a rule -------------------------------------------------------------------

template <typename T>
bool all_zero(const T* p) {
    if (p == nullptr) return true;
    const auto* b = reinterpret_cast<const uint8_t*>(p);
    for (std::size_t i = 0; i < sizeof(T); ++i)
        if (b[i] != 0) return false;
    return true;
}

// rte_flow.h's default item masks are C-only (#ifndef __cplusplus): the same values here.
const rte_flow_item_ipv4 kIpv4Mask = [] {
    rte_flow_item_ipv4 m{};
    m.hdr.src_addr = RTE_BE32(0xffffffff);
    m.hdr.dst_addr = RTE_BE32(0xffffffff);
    return m;
}();
const rte_flow_item_udp kUdpMask = [] {
    rte_flow_item_udp m{};
    m.hdr.src_port = RTE_BE16(0xffff);
    m.hdr.dst_port = RTE_BE16(0xffff);
    return m;
}();
const rte_flow_item_esp kEspMask = [] {
    rte_flow_item_esp m{};
    m.hdr.spi = RTE_BE32(0xffffffff);
    return m;
}();

int fail(rte_flow_error* e, int code, rte_flow_error_type type, const void* cause,
         const char* msg) {
    return rte_flow_error_set(e, code, type, cause, msg);
}

int parse_attr(const rte_flow_attr* attr, rte_flow& r, rte_flow_error* e) {
    if (attr == nullptr)
        return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ATTR, nullptr, "pgflowtest: no attributes");
    if (attr->egress)
        return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ATTR_EGRESS, attr,
                    "pgflowtest: egress rules not supported");
    if (attr->transfer)
        return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ATTR_TRANSFER, attr,
                    "pgflowtest: transfer rules not supported");
    if (!attr->ingress)
        return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ATTR_INGRESS, attr,
                    "pgflowtest: only ingress rules");
    if (attr->group != 0)
        return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ATTR_GROUP, attr, "pgflowtest: only group 0");
    if (attr->priority > kMaxPriority)
        return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ATTR_PRIORITY, attr,
                    "pgflowtest: priority above 7");
    r.priority = attr->priority;
    return 0;
}

// The items of a rule: ETH / IPV4 / (ESP | UDP [/ ESP]) / END, VOIDs anywhere.
int parse_items(const Port& p, const rte_flow_item* items, rte_flow& r, rte_flow_error* e) {
    if (items == nullptr)
        return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM_NUM, nullptr, "pgflowtest: no pattern");
    enum Stage { want_eth, want_ipv4, want_l4, after_udp, want_end } stage = want_eth;
    bool proto_masked = false;
    uint8_t proto = 0;
    for (const rte_flow_item* it = items;; ++it) {
        if (it->type == RTE_FLOW_ITEM_TYPE_VOID) continue;
        if (it->type == RTE_FLOW_ITEM_TYPE_END) break;
        if (it->last != nullptr)
            return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_LAST, it,
                        "pgflowtest: item ranges (last) not supported");
        switch (it->type) {
            case RTE_FLOW_ITEM_TYPE_ETH: {
                if (stage != want_eth) break;
                const auto* m = static_cast<const rte_flow_item_eth*>(it->mask);
                if (it->spec != nullptr && (m == nullptr || !all_zero(m)))
                    return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_MASK, it,
                                "pgflowtest: ETH: no match on Ethernet fields");
                stage = want_ipv4;
                continue;
            }
            case RTE_FLOW_ITEM_TYPE_IPV4: {
                if (stage != want_ipv4) break;
                const auto* s = static_cast<const rte_flow_item_ipv4*>(it->spec);
                const auto* m = static_cast<const rte_flow_item_ipv4*>(it->mask);
                if (s != nullptr) {
                    if (m == nullptr) m = &kIpv4Mask;
                    rte_flow_item_ipv4 rest = *m;
                    rest.hdr.src_addr = rest.hdr.dst_addr = 0;
                    rest.hdr.next_proto_id = 0;
                    if (!all_zero(&rest))
                        return fail(
                            e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_MASK, it,
                            "pgflowtest: IPV4: only src, dst and next_proto can be matched");
                    r.src = s->hdr.src_addr & m->hdr.src_addr;
                    r.src_mask = m->hdr.src_addr;
                    r.dst = s->hdr.dst_addr & m->hdr.dst_addr;
                    r.dst_mask = m->hdr.dst_addr;
                    if (m->hdr.next_proto_id != 0) {
                        if (m->hdr.next_proto_id != 0xff)
                            return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_MASK, it,
                                        "pgflowtest: IPV4: next_proto mask must be 0 or 0xff");
                        proto_masked = true;
                        proto = s->hdr.next_proto_id;
                    }
                }
                stage = want_l4;
                continue;
            }
            case RTE_FLOW_ITEM_TYPE_UDP: {
                if (stage != want_l4) break;
                if (proto_masked && proto != kProtoUdp)
                    return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, it,
                                "pgflowtest: UDP after IPV4 next_proto != 17");
                const auto* s = static_cast<const rte_flow_item_udp*>(it->spec);
                const auto* m = static_cast<const rte_flow_item_udp*>(it->mask);
                if (s != nullptr) {
                    if (m == nullptr) m = &kUdpMask;
                    rte_flow_item_udp rest = *m;
                    rest.hdr.src_port = rest.hdr.dst_port = 0;
                    if (!all_zero(&rest))
                        return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_MASK, it,
                                    "pgflowtest: UDP: only ports can be matched");
                    r.sport = s->hdr.src_port & m->hdr.src_port;
                    r.sport_mask = m->hdr.src_port;
                    r.dport = s->hdr.dst_port & m->hdr.dst_port;
                    r.dport_mask = m->hdr.dst_port;
                }
                r.udp = true;
                stage = after_udp;
                continue;
            }
            case RTE_FLOW_ITEM_TYPE_ESP: {
                if (stage != want_l4 && stage != after_udp) break;
                if (stage == want_l4 && proto_masked && proto != kProtoEsp)
                    return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ITEM, it,
                                "pgflowtest: ESP after IPV4 next_proto != 50");
                if (stage == after_udp && !p.udp_esp)
                    return fail(
                        e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it,
                        "pgflowtest: ESP behind UDP not supported on this port (udp_esp=0)");
                const auto* s = static_cast<const rte_flow_item_esp*>(it->spec);
                const auto* m = static_cast<const rte_flow_item_esp*>(it->mask);
                if (s != nullptr) {
                    if (m == nullptr) m = &kEspMask;
                    if (m->hdr.seq != 0)
                        return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_MASK, it,
                                    "pgflowtest: ESP: only the SPI can be matched");
                    r.spi = s->hdr.spi & m->hdr.spi;
                    r.spi_mask = m->hdr.spi;
                }
                r.esp = true;
                stage = want_end;
                continue;
            }
            default:
                return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it,
                            "pgflowtest: item type not supported (ETH, IPV4, UDP, ESP only)");
        }
        return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM, it,
                    "pgflowtest: pattern must be ETH / IPV4 / (ESP | UDP [/ ESP])");
    }
    if (stage == want_eth || stage == want_ipv4 || stage == want_l4)
        return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ITEM_NUM, nullptr,
                    "pgflowtest: pattern needs ETH / IPV4 and then UDP or ESP");
    return 0;
}

int parse_actions(const rte_eth_dev* dev, const rte_flow_action* actions, rte_flow& r,
                  rte_flow_error* e) {
    if (actions == nullptr)
        return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_NUM, nullptr, "pgflowtest: no actions");
    const uint16_t nb_rxq = dev->data->nb_rx_queues;
    bool fate = false;
    for (const rte_flow_action* a = actions; a->type != RTE_FLOW_ACTION_TYPE_END; ++a) {
        if (a->type == RTE_FLOW_ACTION_TYPE_VOID) continue;
        if (fate)
            return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ACTION, a,
                        "pgflowtest: one fate action only");
        if (a->type == RTE_FLOW_ACTION_TYPE_QUEUE) {
            const auto* q = static_cast<const rte_flow_action_queue*>(a->conf);
            if (q == nullptr)
                return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a,
                            "pgflowtest: QUEUE without conf");
            if (q->index >= nb_rxq)
                return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a,
                            "pgflowtest: QUEUE index beyond the configured RX queues");
            r.queues.assign(1, q->index);
        } else if (a->type == RTE_FLOW_ACTION_TYPE_RSS) {
            const auto* rss = static_cast<const rte_flow_action_rss*>(a->conf);
            if (rss == nullptr || rss->queue_num == 0 || rss->queue == nullptr)
                return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a,
                            "pgflowtest: RSS needs a queue list");
            if (rss->level > 1)
                return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a,
                            "pgflowtest: RSS on inner headers not supported");
            r.queues.clear();
            for (uint32_t i = 0; i < rss->queue_num; ++i) {
                if (rss->queue[i] >= nb_rxq)
                    return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_CONF, a,
                                "pgflowtest: RSS queue beyond the configured RX queues");
                r.queues.push_back(rss->queue[i]);
            }
            r.rss = true;
        } else {
            return fail(e, ENOTSUP, RTE_FLOW_ERROR_TYPE_ACTION, a,
                        "pgflowtest: action not supported (QUEUE, RSS only)");
        }
        fate = true;
    }
    if (!fate)
        return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_ACTION_NUM, nullptr,
                    "pgflowtest: no fate action (QUEUE or RSS)");
    return 0;
}

int parse(rte_eth_dev* dev, const rte_flow_attr* attr, const rte_flow_item items[],
          const rte_flow_action actions[], rte_flow& r, rte_flow_error* e) {
    Port* p = port_of(dev);
    if (p == nullptr)
        return fail(e, ENODEV, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr, "pgflowtest: port gone");
    std::lock_guard lock(p->mu);
    ++p->st.validate_calls;
    int rc = parse_attr(attr, r, e);
    if (rc == 0) rc = parse_items(*p, items, r, e);
    if (rc == 0) rc = parse_actions(dev, actions, r, e);
    if (rc != 0) ++p->st.rejected;
    return rc;
}

// ---- rte_flow ops ---------------------------------------------------------------------

int flow_validate(rte_eth_dev* dev, const rte_flow_attr* attr, const rte_flow_item items[],
                  const rte_flow_action actions[], rte_flow_error* e) {
    rte_flow r;
    return parse(dev, attr, items, actions, r, e);
}

rte_flow* flow_create(rte_eth_dev* dev, const rte_flow_attr* attr, const rte_flow_item items[],
                      const rte_flow_action actions[], rte_flow_error* e) {
    auto r = std::make_unique<rte_flow>();
    if (parse(dev, attr, items, actions, *r, e) != 0) return nullptr;
    Port* p = port_of(dev);
    std::lock_guard lock(p->mu);
    r->seq = p->next_seq++;
    p->rules.push_back(std::move(r));
    ++p->st.created;
    ++p->st.live_rules;
    return p->rules.back().get();
}

int flow_destroy(rte_eth_dev* dev, rte_flow* flow, rte_flow_error* e) {
    Port* p = port_of(dev);
    if (p == nullptr)
        return fail(e, ENODEV, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr, "pgflowtest: port gone");
    std::lock_guard lock(p->mu);
    for (auto it = p->rules.begin(); it != p->rules.end(); ++it) {
        if (it->get() != flow) continue;
        p->rules.erase(it);
        ++p->st.destroyed;
        --p->st.live_rules;
        return 0;
    }
    return fail(e, EINVAL, RTE_FLOW_ERROR_TYPE_HANDLE, flow, "pgflowtest: unknown flow handle");
}

int flow_flush(rte_eth_dev* dev, rte_flow_error* e) {
    Port* p = port_of(dev);
    if (p == nullptr)
        return fail(e, ENODEV, RTE_FLOW_ERROR_TYPE_UNSPECIFIED, nullptr, "pgflowtest: port gone");
    std::lock_guard lock(p->mu);
    p->st.destroyed += p->rules.size();
    p->st.live_rules = 0;
    p->rules.clear();
    return 0;
}

rte_flow_ops make_flow_ops() {
    rte_flow_ops ops{};
    ops.validate = flow_validate;
    ops.create = flow_create;
    ops.destroy = flow_destroy;
    ops.flush = flow_flush;
    return ops;
}
const rte_flow_ops g_flow_ops = make_flow_ops();

// ---- ethdev ops -----------------------------------------------------------------------

uint16_t rx_burst(void* q, rte_mbuf** pkts, uint16_t n) {
    return static_cast<uint16_t>(rte_ring_dequeue_burst(
        static_cast<RxQueue*>(q)->ring, reinterpret_cast<void**>(pkts), n, nullptr));
}

uint16_t tx_burst(void*, rte_mbuf** pkts, uint16_t n) {
    rte_pktmbuf_free_bulk(pkts, n);  // no wire
    return n;
}

int dev_configure(rte_eth_dev*) {
    return 0;
}

int link_update(rte_eth_dev* dev, int) {
    Port* p = port_of(dev);
    rte_eth_link link{};
    link.link_speed = RTE_ETH_SPEED_NUM_10G;
    link.link_duplex = RTE_ETH_LINK_FULL_DUPLEX;
    link.link_status = p != nullptr && p->started ? RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN;
    link.link_autoneg = RTE_ETH_LINK_FIXED;
    dev->data->dev_link = link;
    return 0;
}

int dev_start(rte_eth_dev* dev) {
    if (Port* p = port_of(dev)) p->started = true;
    for (uint16_t q = 0; q < dev->data->nb_rx_queues; ++q)
        dev->data->rx_queue_state[q] = RTE_ETH_QUEUE_STATE_STARTED;
    for (uint16_t q = 0; q < dev->data->nb_tx_queues; ++q)
        dev->data->tx_queue_state[q] = RTE_ETH_QUEUE_STATE_STARTED;
    return link_update(dev, 0);
}

int dev_stop(rte_eth_dev* dev) {
    if (Port* p = port_of(dev)) p->started = false;
    for (uint16_t q = 0; q < dev->data->nb_rx_queues; ++q)
        dev->data->rx_queue_state[q] = RTE_ETH_QUEUE_STATE_STOPPED;
    for (uint16_t q = 0; q < dev->data->nb_tx_queues; ++q)
        dev->data->tx_queue_state[q] = RTE_ETH_QUEUE_STATE_STOPPED;
    return link_update(dev, 0);
}

int dev_close(rte_eth_dev* dev) {
    const uint16_t id = dev->data->port_id;
    for (uint16_t q = 0; q < dev->data->nb_rx_queues; ++q) dev->data->rx_queues[q] = nullptr;
    for (uint16_t q = 0; q < dev->data->nb_tx_queues; ++q) dev->data->tx_queues[q] = nullptr;
    g_ports[id].reset();  // rules and RX rings go with the port
    return 0;
}

int dev_infos_get(rte_eth_dev* dev, rte_eth_dev_info* info) {
    const Port* p = port_of(dev);
    info->max_mac_addrs = 1;
    info->max_rx_pktlen = 9018;
    info->max_rx_queues = p != nullptr ? p->max_rxq : 1;
    info->max_tx_queues = 16;  // TX frees: any number of queues share the one sink
    info->flow_type_rss_offloads =
        RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_ESP;
    info->min_rx_bufsize = 64;
    return 0;
}

void rx_queue_release(rte_eth_dev* dev, uint16_t q) {
    if (Port* p = port_of(dev); p != nullptr && q < kMaxRxq) p->rxq[q].reset();
    dev->data->rx_queues[q] = nullptr;
}

int rx_queue_setup(rte_eth_dev* dev, uint16_t q, uint16_t, unsigned int socket,
                   const rte_eth_rxconf*, rte_mempool*) {
    Port* p = port_of(dev);
    if (p == nullptr || q >= p->max_rxq) return -EINVAL;
    const std::string name = "pgft" + std::to_string(g_ring_serial++);
    rte_ring* ring = rte_ring_create(name.c_str(), kRingSize, static_cast<int>(socket),
                                     RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (ring == nullptr) return -rte_errno;
    p->rxq[q] = std::make_unique<RxQueue>();
    p->rxq[q]->ring = ring;
    dev->data->rx_queues[q] = p->rxq[q].get();
    return 0;
}

void tx_queue_release(rte_eth_dev* dev, uint16_t q) {
    dev->data->tx_queues[q] = nullptr;
}

int tx_queue_setup(rte_eth_dev* dev, uint16_t q, uint16_t, unsigned int, const rte_eth_txconf*) {
    dev->data->tx_queues[q] = &g_tx_queue;
    return 0;
}

int stats_get(rte_eth_dev* dev, rte_eth_stats* s) {
    Port* p = port_of(dev);
    if (p == nullptr) return -ENODEV;
    std::lock_guard lock(p->mu);
    s->imissed = p->st.dropped;
    return 0;
}

int flow_ops_get(rte_eth_dev* dev, const rte_flow_ops** ops) {
    const Port* p = port_of(dev);
    *ops = p != nullptr && p->flow ? &g_flow_ops : nullptr;  // NULL: ethdev answers ENOSYS
    return 0;
}

eth_dev_ops make_dev_ops() {
    eth_dev_ops ops{};
    ops.dev_configure = dev_configure;
    ops.dev_start = dev_start;
    ops.dev_stop = dev_stop;
    ops.dev_close = dev_close;
    ops.link_update = link_update;
    ops.stats_get = stats_get;
    ops.dev_infos_get = dev_infos_get;
    ops.rx_queue_setup = rx_queue_setup;
    ops.rx_queue_release = rx_queue_release;
    ops.tx_queue_setup = tx_queue_setup;
    ops.tx_queue_release = tx_queue_release;
    ops.flow_ops_get = flow_ops_get;
    return ops;
}
const eth_dev_ops g_dev_ops = make_dev_ops();

// ---- vdev probe / remove ------------------------------------------------------------

int kv_u16(const char*, const char* value, void* out) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(value, &end, 10);
    if (end == value || *end != '\0' || v > 0xffff) return -EINVAL;
    *static_cast<uint16_t*>(out) = static_cast<uint16_t>(v);
    return 0;
}

int probe(rte_vdev_device* vdev) {
    const char* name = rte_dev_name(&vdev->device);
    const rte_devargs* da = rte_dev_devargs(&vdev->device);
    uint16_t rxq = kDefaultRxq, udp_esp = 1, flow = 1;
    if (da != nullptr && da->args != nullptr && da->args[0] != '\0') {
        static const char* const keys[] = {"rxq", "udp_esp", "flow", nullptr};
        rte_kvargs* kv = rte_kvargs_parse(da->args, keys);
        if (kv == nullptr) return -EINVAL;
        const int rc = rte_kvargs_process(kv, "rxq", kv_u16, &rxq) |
                       rte_kvargs_process(kv, "udp_esp", kv_u16, &udp_esp) |
                       rte_kvargs_process(kv, "flow", kv_u16, &flow);
        rte_kvargs_free(kv);
        if (rc != 0 || rxq == 0 || rxq > kMaxRxq) return -EINVAL;
    }
    rte_eth_dev* dev = rte_eth_dev_allocate(name);
    if (dev == nullptr) return -ENOMEM;
    const auto port_id = static_cast<uint16_t>(dev - rte_eth_devices);
    // The driver-side layouts (dpdk_sdk/) must agree with the running ethdev library.
    if (dev->data == nullptr || dev->data->port_id != port_id ||
        std::strncmp(dev->data->name, name, RTE_ETH_NAME_MAX_LEN) != 0) {
        RTE_LOG(ERR, USER1, "net_pgflowtest: ethdev layout mismatch, not probing %s\n", name);
        rte_eth_dev_release_port(dev);
        return -ENOTSUP;
    }
    auto* mac = static_cast<rte_ether_addr*>(rte_zmalloc(nullptr, sizeof(rte_ether_addr), 0));
    if (mac == nullptr) {
        rte_eth_dev_release_port(dev);
        return -ENOMEM;
    }
    // Locally administered, unicast: 02:70:67:66:74:<port>
    const uint8_t bytes[RTE_ETHER_ADDR_LEN] = {0x02, 0x70, 0x67,
                                               0x66, 0x74, static_cast<uint8_t>(port_id)};
    std::memcpy(mac->addr_bytes, bytes, sizeof(bytes));
    auto port = std::make_unique<Port>();
    port->port_id = port_id;
    port->max_rxq = rxq;
    port->udp_esp = udp_esp != 0;
    port->flow = flow != 0;
    g_ports[port_id] = std::move(port);

    dev->data->mac_addrs = mac;
    dev->data->dev_private = nullptr;
    dev->data->numa_node = rte_dev_numa_node(&vdev->device);
    dev->device = &vdev->device;
    dev->dev_ops = &g_dev_ops;
    dev->rx_pkt_burst = rx_burst;
    dev->tx_pkt_burst = tx_burst;
    rte_eth_dev_probing_finish(dev);
    return 0;
}

int vdev_remove(rte_vdev_device* vdev) {
    rte_eth_dev* dev = rte_eth_dev_allocated(rte_dev_name(&vdev->device));
    if (dev == nullptr) return 0;  // the application closed the port already
    const uint16_t id = dev->data->port_id;
    if (g_ports[id] != nullptr && g_ports[id]->started) rte_eth_dev_stop(id);
    return rte_eth_dev_close(id);
}

// Constant-initialised: RTE_INIT registers it before main(), in no set order with dynamic
// initialisers.
rte_vdev_driver g_driver = {.next = {},
                            .driver = {},
                            .probe = probe,
                            .remove = vdev_remove,
                            .dma_map = nullptr,
                            .dma_unmap = nullptr,
                            .drv_flags = 0};

// ---- the "wire": packet parsing and rule matching -----------------------------------

struct Headers {
    bool ipv4 = false;
    uint32_t src = 0, dst = 0;  // network order
    uint8_t proto = 0;
    bool l4 = false;  // not a fragment, L4 header present
    uint16_t sport = 0, dport = 0;
    bool esp = false;  // ESP header (plain or behind UDP 4500)
    uint32_t spi = 0;  // network order
};

Headers parse_packet(const rte_mbuf* m) {
    Headers h;
    const uint32_t len = rte_pktmbuf_data_len(m);
    const auto* base = rte_pktmbuf_mtod(m, const uint8_t*);
    if (len < sizeof(rte_ether_hdr)) return h;
    const auto* eth = reinterpret_cast<const rte_ether_hdr*>(base);
    if (eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)) return h;
    uint32_t off = sizeof(rte_ether_hdr);
    if (len < off + sizeof(rte_ipv4_hdr)) return h;
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(base + off);
    const uint32_t ihl = (ip->version_ihl & 0x0f) * 4u;
    if ((ip->version_ihl >> 4) != 4 || ihl < sizeof(rte_ipv4_hdr) || len < off + ihl) return h;
    h.ipv4 = true;
    h.src = ip->src_addr;
    h.dst = ip->dst_addr;
    h.proto = ip->next_proto_id;
    if ((rte_be_to_cpu_16(ip->fragment_offset) &
         (RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0)
        return h;  // fragments carry no (or a partial) L4 header
    off += ihl;
    if (h.proto == kProtoEsp && len >= off + sizeof(rte_esp_hdr)) {
        h.l4 = true;
        h.esp = true;
        h.spi = reinterpret_cast<const rte_esp_hdr*>(base + off)->spi;
    } else if (h.proto == kProtoUdp && len >= off + sizeof(rte_udp_hdr)) {
        const auto* udp = reinterpret_cast<const rte_udp_hdr*>(base + off);
        h.l4 = true;
        h.sport = udp->src_port;
        h.dport = udp->dst_port;
        off += sizeof(rte_udp_hdr);
        // RFC 3948: on 4500 a non-zero first word is an SPI; zero is the non-ESP marker (IKE)
        // and a single 0xff byte a NAT keepalive.
        if (h.dport == RTE_BE16(kNatT) && len >= off + sizeof(rte_esp_hdr)) {
            const auto* esp = reinterpret_cast<const rte_esp_hdr*>(base + off);
            if (esp->spi != 0) {
                h.esp = true;
                h.spi = esp->spi;
            }
        }
    }
    return h;
}

bool matches(const rte_flow& r, const Headers& h) {
    if (!h.ipv4 || (h.src & r.src_mask) != r.src || (h.dst & r.dst_mask) != r.dst) return false;
    if (!h.l4) return false;
    if (r.udp) {
        if (h.proto != kProtoUdp || (h.sport & r.sport_mask) != r.sport ||
            (h.dport & r.dport_mask) != r.dport)
            return false;
    } else if (h.proto != kProtoEsp) {
        return false;
    }
    if (r.esp && (!h.esp || (h.spi & r.spi_mask) != r.spi)) return false;
    return true;
}

uint32_t rss_hash(const Headers& h) {
    // Stand-in for a NIC's Toeplitz hash: addresses and ports for UDP, the SPI for ESP.
    uint64_t x = (static_cast<uint64_t>(h.src) << 32) ^ h.dst;
    x ^= h.proto == kProtoUdp
             ? (static_cast<uint64_t>(h.sport) << 16 | h.dport) * 0x9E3779B97F4A7C15ull
             : static_cast<uint64_t>(h.spi) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 31;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 29;
    return static_cast<uint32_t>(x);
}

}  // namespace

uint16_t inject(uint16_t port_id, rte_mbuf** pkts, uint16_t n) {
    Port* p = port_id < RTE_MAX_ETHPORTS ? g_ports[port_id].get() : nullptr;
    if (p == nullptr) {
        rte_pktmbuf_free_bulk(pkts, n);
        return 0;
    }
    std::lock_guard lock(p->mu);
    uint16_t queued = 0;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        ++p->st.injected;
        const Headers h = parse_packet(m);
        const rte_flow* best = nullptr;
        for (const auto& r : p->rules)
            if (matches(*r, h) && (best == nullptr || r->priority < best->priority ||
                                   (r->priority == best->priority && r->seq < best->seq)))
                best = r.get();
        uint16_t q = 0;
        if (best != nullptr) {
            ++p->st.matched;
            if (best->rss) {
                const uint32_t hash = rss_hash(h);
                q = best->queues[hash % best->queues.size()];
                m->hash.rss = hash;
                m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
            } else {
                q = best->queues[0];
            }
        }
        m->port = port_id;
        RxQueue* rxq = q < kMaxRxq ? p->rxq[q].get() : nullptr;
        if (!p->started || rxq == nullptr || rte_ring_enqueue(rxq->ring, m) != 0) {
            ++p->st.dropped;
            rte_pktmbuf_free(m);
            continue;
        }
        ++queued;
    }
    return queued;
}

bool stats(uint16_t port_id, Stats& out) {
    Port* p = port_id < RTE_MAX_ETHPORTS ? g_ports[port_id].get() : nullptr;
    if (p == nullptr) return false;
    std::lock_guard lock(p->mu);
    out = p->st;
    return true;
}

}  // namespace pgflowtest

RTE_PMD_REGISTER_VDEV(net_pgflowtest, pgflowtest::g_driver);
