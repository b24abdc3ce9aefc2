// tests/dataplane_flow/test_flow.cpp - rte_flow steering of inbound ESP (FlowSteering) on the
// test PMD net_pgflowtest, and the software-dispatch fallback on PMDs without rte_flow
// (net_pcap, net_af_packet on a veth pair that the suite creates and deletes).
//
// Suites: flow_dispatch (pure, no EAL), flow_fallback, flow_pmd. EAL is initialised once
// per process by the first suite that needs it; everything created on the machine (veth
// pair, temp dir, EAL runtime dir) is removed at suite cleanup and again at exit, and
// veths left by a crashed run are swept at the next start.
#include <rte_bus_vdev.h>
#include <rte_eal.h>
#include <rte_esp.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_flow.h>
#include <rte_ip.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "dataplane/flow_steering.hpp"
#include "tests/dataplane_flow/test_pmd.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine::dataplane;
namespace fs = std::filesystem;

namespace {

// ---- process-wide fixtures ------------------------------------------------------------

constexpr uint16_t kPmdQueues = 4;
constexpr uint16_t kNbDesc = 256;
constexpr uint32_t kPeer = RTE_IPV4(192, 0, 2, 1);     // TEST-NET-1: never leaves the process
constexpr uint32_t kSelf = RTE_IPV4(198, 51, 100, 1);  // TEST-NET-2

bool g_eal_tried = false;
bool g_eal_ok = false;
rte_mempool* g_pool = nullptr;
std::string g_runtime_dir;
std::string g_tmpdir;
std::string g_veth;  // "pgf<pid>a" (peer "...b"), empty when not created

int run(const std::string& cmd) {
    return std::system((cmd + " >/dev/null 2>&1").c_str());
}

void delete_veth() {
    if (g_veth.empty()) return;
    run("ip link del " + g_veth);
    g_veth.clear();
}

void remove_tmpdir() {
    if (g_tmpdir.empty()) return;
    std::error_code ec;
    fs::remove_all(g_tmpdir, ec);
    g_tmpdir.clear();
}

bool pid_gone(const std::string& digits) {
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return false;
    const long pid = std::strtol(digits.c_str(), nullptr, 10);
    return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

// What a run that crashed left: veths pgf<pid>a/b and temp dirs pgflow-<pid>.
void sweep_stale() {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/sys/class/net", ec)) {
        const std::string n = e.path().filename().string();
        if (n.size() < 5 || n.rfind("pgf", 0) != 0 || (n.back() != 'a' && n.back() != 'b'))
            continue;
        if (pid_gone(n.substr(3, n.size() - 4))) run("ip link del " + n);
    }
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path(), ec)) {
        const std::string n = e.path().filename().string();
        if (n.rfind("pgflow-", 0) == 0 && pid_gone(n.substr(7))) fs::remove_all(e.path(), ec);
    }
}

void at_exit() {
    if (g_eal_ok) rte_eal_cleanup();
    delete_veth();
    remove_tmpdir();
    std::error_code ec;
    if (!g_runtime_dir.empty()) fs::remove_all(g_runtime_dir, ec);
}

}  // namespace

namespace pgflowtest_env {
bool eal_up() {
    if (g_eal_tried) return g_eal_ok;
    g_eal_tried = true;
    std::atexit(at_exit);
    const std::string prefix = "pgflow" + std::to_string(getpid());
    std::vector<std::string> args = {"peregrine-test-flow",
                                     "--no-huge",
                                     "--no-pci",
                                     "-m",
                                     "512",
                                     "--file-prefix",
                                     prefix,
                                     "--no-shconf",
                                     "--no-telemetry",
                                     // lcore 0 runs the tests; 1 and 2 are the two data-plane
                                     // workers of the runtime_steering suite
                                     "--lcores",
                                     "0@0,1@1,2@1",
                                     "--log-level",
                                     "*:warning"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
        std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
        return false;
    }
    g_eal_ok = true;
    g_runtime_dir = rte_eal_get_runtime_dir();
    g_pool = rte_pktmbuf_pool_create("pgflow_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     SOCKET_ID_ANY);
    return g_pool != nullptr;
}
}  // namespace pgflowtest_env

namespace {
using pgflowtest_env::eal_up;

// Probes a vdev, configures `nb_rxq` RX queues and one TX queue, optionally starts it.
bool open_port(const std::string& name, const std::string& args, uint16_t nb_rxq, bool start,
               uint16_t& port) {
    if (rte_vdev_init(name.c_str(), args.c_str()) != 0) {
        std::fprintf(stderr, "rte_vdev_init %s,%s failed\n", name.c_str(), args.c_str());
        return false;
    }
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) return false;
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(port, nb_rxq, 1, &conf) != 0) return false;
    for (uint16_t q = 0; q < nb_rxq; ++q)
        if (rte_eth_rx_queue_setup(port, q, kNbDesc, SOCKET_ID_ANY, nullptr, g_pool) != 0)
            return false;
    if (rte_eth_tx_queue_setup(port, 0, kNbDesc, SOCKET_ID_ANY, nullptr) != 0) return false;
    return !start || rte_eth_dev_start(port) == 0;
}

void close_port(const std::string& name) {
    uint16_t port = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) == 0) rte_eth_dev_stop(port);
    rte_vdev_uninit(name.c_str());
}

// ---- packets ----------------------------------------------------------------------------

enum class Kind { esp, udp_esp, ike_4500, keepalive_4500 };

rte_mbuf* make_pkt(Kind kind, uint32_t spi, uint32_t src = kPeer, uint16_t sport = 4500) {
    rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
    if (m == nullptr) return nullptr;
    const bool udp = kind != Kind::esp;
    const uint16_t payload = kind == Kind::keepalive_4500 ? 1 : sizeof(rte_esp_hdr) + 16;
    const uint16_t l4 = (udp ? sizeof(rte_udp_hdr) : 0) + payload;
    const uint16_t total = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + l4;
    auto* b = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, total));
    std::memset(b, 0, total);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(b);
    eth->dst_addr = {{0x02, 0x70, 0x67, 0x66, 0x74, 0x00}};
    eth->src_addr = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + l4));
    ip->time_to_live = 64;
    ip->next_proto_id = udp ? IPPROTO_UDP : IPPROTO_ESP;
    ip->src_addr = rte_cpu_to_be_32(src);
    ip->dst_addr = rte_cpu_to_be_32(kSelf);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint8_t* p = reinterpret_cast<uint8_t*>(ip + 1);
    if (udp) {
        auto* uh = reinterpret_cast<rte_udp_hdr*>(p);
        uh->src_port = rte_cpu_to_be_16(sport);
        uh->dst_port = rte_cpu_to_be_16(kNatTPort);
        uh->dgram_len = rte_cpu_to_be_16(l4);
        p += sizeof(rte_udp_hdr);
    }
    if (kind == Kind::keepalive_4500) {
        p[0] = 0xff;
    } else if (kind != Kind::ike_4500) {  // IKE: the zero non-ESP marker stays
        auto* esp = reinterpret_cast<rte_esp_hdr*>(p);
        esp->spi = rte_cpu_to_be_32(spi);
        esp->seq = rte_cpu_to_be_32(1);
    }
    return m;
}

void inject(uint16_t port, Kind kind, uint32_t spi, uint32_t src = kPeer, uint16_t sport = 4500) {
    rte_mbuf* m = make_pkt(kind, spi, src, sport);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(pgflowtest_inject(port, &m, 1), 1);
}

// What queue q holds: the SPI of each packet (0 for a packet without one), in order.
struct Received {
    uint32_t spi;
    bool rss_hash;
};
std::vector<Received> drain(uint16_t port, uint16_t q) {
    std::vector<Received> out;
    rte_mbuf* pkts[32];
    for (;;) {
        const uint16_t n = rte_eth_rx_burst(port, q, pkts, 32);
        for (uint16_t i = 0; i < n; ++i) {
            const auto* ip =
                rte_pktmbuf_mtod_offset(pkts[i], const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
            const uint8_t* l4 = reinterpret_cast<const uint8_t*>(ip + 1);
            if (ip->next_proto_id == IPPROTO_UDP) l4 += sizeof(rte_udp_hdr);
            uint32_t spi = 0;
            if (rte_pktmbuf_data_len(pkts[i]) >=
                (l4 - rte_pktmbuf_mtod(pkts[i], const uint8_t*)) + 4)
                spi = rte_be_to_cpu_32(reinterpret_cast<const rte_esp_hdr*>(l4)->spi);
            out.push_back({spi, (pkts[i]->ol_flags & RTE_MBUF_F_RX_RSS_HASH) != 0});
            rte_pktmbuf_free(pkts[i]);
        }
        if (n < 32) return out;
    }
}

std::vector<uint32_t> spis_on(uint16_t port, uint16_t q) {
    std::vector<uint32_t> v;
    for (const auto& r : drain(port, q)) v.push_back(r.spi);
    return v;
}

uint64_t live_rules(uint16_t port) {
    pgflowtest::Stats st;
    CU_ASSERT_TRUE(pgflowtest::stats(port, st));
    return st.live_rules;
}

struct LogSink {
    std::vector<std::string> lines;
    FlowLogFn fn() {
        return [this](const std::string& l) { lines.push_back(l); };
    }
};

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---- flow_dispatch: the pure software-dispatch helper ---------------------------------

PG_TEST(flow_dispatch, queue_for_spi_table) {
    struct Case {
        int id;
        uint32_t spi;
        uint16_t nb;
    };
    static const Case cases[] = {
        {1, 0x100, 0},      {2, 0xffffffff, 0}, {3, 0x100, 1},        {4, 0xffffffff, 1},
        {5, 0x12345678, 2}, {6, 0x12345678, 3}, {7, 0xc0000101, 4},   {8, 0xc0000102, 4},
        {9, 0xdeadbeef, 7}, {10, 1, 16},        {11, 0x80000000, 64}, {12, 0x0badcafe, 65535},
    };
    for (const auto& c : cases) {
        const uint16_t q = queue_for_spi(c.spi, c.nb);
        if (c.nb <= 1) {
            CU_ASSERT_EQUAL(q, 0);  // nothing to choose from
        } else {
            CU_ASSERT_TRUE(q < c.nb);
        }
        CU_ASSERT_EQUAL(q, queue_for_spi(c.spi, c.nb));  // deterministic
        if (c.nb > 1 && q >= c.nb)
            std::printf("case %d: spi %#x nb %u -> %u\n", c.id, c.spi, c.nb, q);
    }
}

PG_TEST(flow_dispatch, sequential_spis_spread_evenly) {
    // IKE daemons allocate inbound SPIs sequentially; the owners must still balance.
    constexpr uint32_t kCount = 4096;
    for (const uint16_t nb : {2, 3, 4, 8}) {
        std::vector<uint32_t> per(nb, 0);
        for (uint32_t i = 0; i < kCount; ++i) ++per[queue_for_spi(0xc0000100 + i, nb)];
        const double fair = double(kCount) / nb;
        for (uint16_t q = 0; q < nb; ++q) {
            CU_ASSERT_TRUE(per[q] > fair * 0.9 && per[q] < fair * 1.1);
            if (!(per[q] > fair * 0.9 && per[q] < fair * 1.1))
                std::printf("nb %u queue %u got %u of %u\n", nb, q, per[q], kCount);
        }
    }
}

PG_TEST(flow_dispatch, status_names) {
    PG_ASSERT_STR_EQ(std::string(flow_status_name(FlowStatus::installed)), "installed");
    PG_ASSERT_STR_EQ(std::string(flow_status_name(FlowStatus::software)), "software");
    PG_ASSERT_STR_EQ(std::string(flow_status_name(FlowStatus::removed)), "removed");
    PG_ASSERT_STR_EQ(std::string(flow_status_name(FlowStatus::not_found)), "not_found");
    PG_ASSERT_STR_EQ(std::string(flow_status_name(FlowStatus::error)), "error");
}

// ---- flow_pmd: net_pgflowtest ----------------------------------------------------------

// A: 4 queues, full rte_flow; B: ESP behind UDP not matchable (udp_esp=0);
// C: no flow ops at all (flow=0).
const std::string kPortA = "net_pgflowtest0";
const std::string kPortB = "net_pgflowtest1";
const std::string kPortC = "net_pgflowtest2";
uint16_t g_a = 0, g_b = 0, g_c = 0;

int pmd_init() {
    if (!eal_up()) return -1;
    const bool ok = open_port(kPortA, "rxq=4", kPmdQueues, true, g_a) &&
                    open_port(kPortB, "rxq=4,udp_esp=0", kPmdQueues, true, g_b) &&
                    open_port(kPortC, "rxq=2,flow=0", 2, true, g_c);
    return ok ? 0 : -1;
}

int pmd_cleanup() {
    for (const auto* n : {&kPortA, &kPortB, &kPortC}) close_port(*n);
    return 0;
}

PG_SUITE_HOOKS(flow_pmd, pmd_init, pmd_cleanup);

PG_TEST(flow_pmd, probe_reports_support) {
    LogSink log;
    FlowSteering fs = FlowSteering::probe(g_a, log.fn());
    CU_ASSERT_TRUE(fs.supported());
    CU_ASSERT_EQUAL(fs.nb_queues(), kPmdQueues);
    PG_ASSERT_STR_EQ(fs.driver_name(), "net_pgflowtest");
    PG_ASSERT_STR_EQ(fs.unsupported_reason(), "");
    CU_ASSERT_EQUAL(fs.flow_count(), 0u);
    CU_ASSERT_EQUAL(live_rules(g_a), 0u);  // probing validates, never creates
    CU_ASSERT_TRUE(log.lines.empty());
}

struct SpiQueue {
    uint32_t spi;
    uint16_t queue;
};
// Numbered by position; 0xdead0000 is never installed.
const SpiQueue kTable[] = {
    {0x00001001, 1}, {0x00001002, 2}, {0x00001003, 3}, {0x00001004, 0}, {0x00002001, 1},
};
constexpr uint32_t kUnknownSpi = 0xdead0000;

PG_TEST(flow_pmd, esp_spis_reach_their_queues) {
    LogSink log;
    FlowSteering fs = FlowSteering::probe(g_a, log.fn());
    for (const auto& c : kTable) {
        const FlowResult r = fs.steer_esp_spi(c.spi, c.queue);
        CU_ASSERT_TRUE(r.installed());
        CU_ASSERT_TRUE(r.pinned());
        PG_ASSERT_STR_EQ(r.message, "");
    }
    CU_ASSERT_EQUAL(fs.flow_count(), std::size(kTable));
    CU_ASSERT_EQUAL(live_rules(g_a), std::size(kTable));

    std::map<uint16_t, std::vector<uint32_t>> want;
    for (const auto& c : kTable) {
        inject(g_a, Kind::esp, c.spi);
        want[c.queue].push_back(c.spi);
    }
    inject(g_a, Kind::esp, kUnknownSpi);  // no rule: default queue 0
    want[0].push_back(kUnknownSpi);
    inject(g_a, Kind::udp_esp, kTable[0].spi);  // same SPI behind UDP: the ESP rule does not match
    want[0].push_back(kTable[0].spi);
    for (uint16_t q = 0; q < kPmdQueues; ++q) CU_ASSERT_TRUE(spis_on(g_a, q) == want[q]);
    CU_ASSERT_TRUE(log.lines.empty());
}

PG_TEST(flow_pmd, udp_esp_spis_reach_their_queues) {
    LogSink log;
    FlowSteering fs = FlowSteering::probe(g_a, log.fn());
    for (const auto& c : kTable) {
        const FlowResult r = fs.steer_udp_esp_spi(c.spi, c.queue);
        CU_ASSERT_TRUE(r.installed());
        CU_ASSERT_TRUE(r.route == FlowRoute::queue);
    }
    CU_ASSERT_EQUAL(live_rules(g_a), std::size(kTable));

    std::map<uint16_t, std::vector<uint32_t>> want;
    for (const auto& c : kTable) {
        inject(g_a, Kind::udp_esp, c.spi, kPeer, 4500);
        inject(g_a, Kind::udp_esp, c.spi, RTE_IPV4(203, 0, 113, 9), 61000);  // behind a NAT
        want[c.queue].push_back(c.spi);
        want[c.queue].push_back(c.spi);
    }
    inject(g_a, Kind::udp_esp, kUnknownSpi);
    want[0].push_back(kUnknownSpi);
    inject(g_a, Kind::ike_4500, 0);  // non-ESP marker: IKE, not ESP
    want[0].push_back(0);
    inject(g_a, Kind::keepalive_4500, 0);  // NAT keepalive: one 0xff byte, no SPI
    want[0].push_back(0);
    inject(g_a, Kind::esp, kTable[1].spi);  // plain ESP: the UDP rule does not match
    want[0].push_back(kTable[1].spi);
    for (uint16_t q = 0; q < kPmdQueues; ++q) CU_ASSERT_TRUE(spis_on(g_a, q) == want[q]);
    CU_ASSERT_TRUE(log.lines.empty());
}

PG_TEST(flow_pmd, remove_spi_falls_back_to_default_queue) {
    FlowSteering fs = FlowSteering::probe(g_a);
    const uint32_t spi = 0x3001;
    CU_ASSERT_TRUE(fs.steer_esp_spi(spi, 2).pinned());
    CU_ASSERT_TRUE(fs.steer_udp_esp_spi(spi, 3).pinned());
    CU_ASSERT_EQUAL(live_rules(g_a), 2u);
    inject(g_a, Kind::esp, spi);
    inject(g_a, Kind::udp_esp, spi);
    CU_ASSERT_TRUE(spis_on(g_a, 2) == std::vector<uint32_t>{spi});
    CU_ASSERT_TRUE(spis_on(g_a, 3) == std::vector<uint32_t>{spi});

    const FlowResult r = fs.remove_spi(spi);
    CU_ASSERT_TRUE(r.status == FlowStatus::removed);
    CU_ASSERT_EQUAL(fs.flow_count(), 0u);
    CU_ASSERT_EQUAL(live_rules(g_a), 0u);
    inject(g_a, Kind::esp, spi);
    inject(g_a, Kind::udp_esp, spi);
    CU_ASSERT_TRUE(spis_on(g_a, 0) == (std::vector<uint32_t>{spi, spi}));
    CU_ASSERT_TRUE(spis_on(g_a, 2).empty());
    CU_ASSERT_TRUE(fs.remove_spi(spi).status == FlowStatus::not_found);
}

PG_TEST(flow_pmd, resteer_moves_the_spi) {
    FlowSteering fs = FlowSteering::probe(g_a);
    CU_ASSERT_TRUE(fs.steer_esp_spi(0x4001, 1).pinned());
    CU_ASSERT_TRUE(fs.steer_esp_spi(0x4001, 3).pinned());  // SA moved to another worker
    CU_ASSERT_EQUAL(fs.flow_count(), 1u);
    CU_ASSERT_EQUAL(live_rules(g_a), 1u);
    inject(g_a, Kind::esp, 0x4001);
    CU_ASSERT_TRUE(spis_on(g_a, 3) == std::vector<uint32_t>{0x4001});
    CU_ASSERT_TRUE(spis_on(g_a, 1).empty());
}

PG_TEST(flow_pmd, out_of_range_queue_is_an_error) {
    LogSink log;
    FlowSteering fs = FlowSteering::probe(g_a, log.fn());
    const FlowResult r = fs.steer_esp_spi(0x5001, kPmdQueues);
    CU_ASSERT_TRUE(r.status == FlowStatus::error);
    CU_ASSERT_TRUE(r.message.find("out of range") != std::string::npos);
    CU_ASSERT_EQUAL(live_rules(g_a), 0u);
    CU_ASSERT_TRUE(log.lines.empty());  // a caller bug is not a missing PMD feature
}

PG_TEST(flow_pmd, destructor_destroys_flows) {
    {
        FlowSteering outer = FlowSteering::probe(g_a);
        {
            FlowSteering fs = FlowSteering::probe(g_a);
            for (uint32_t i = 0; i < 3; ++i)
                CU_ASSERT_TRUE(fs.steer_esp_spi(0x6000 + i, i).installed());
            CU_ASSERT_EQUAL(live_rules(g_a), 3u);
            outer = std::move(fs);  // the flows move with the object
        }
        CU_ASSERT_EQUAL(live_rules(g_a), 3u);
        CU_ASSERT_EQUAL(outer.flow_count(), 3u);
    }
    CU_ASSERT_EQUAL(live_rules(g_a), 0u);
}

// rte_flow_validate straight on the PMD: what it accepts, and how it refuses the rest.
PG_TEST(flow_pmd, validate_accepts_and_rejects) {
    rte_flow_item_esp esp{}, esp_mask{};
    esp.hdr.spi = RTE_BE32(0x7001);
    esp_mask.hdr.spi = RTE_BE32(0xffffffff);
    rte_flow_item_esp esp_seq_mask = esp_mask;
    esp_seq_mask.hdr.seq = RTE_BE32(0xffffffff);
    rte_flow_item_udp udp{}, udp_mask{};
    udp.hdr.dst_port = RTE_BE16(4500);
    udp_mask.hdr.dst_port = RTE_BE16(0xffff);
    rte_flow_item_tcp tcp{};
    rte_flow_item_ipv4 ip_ttl{}, ip_ttl_mask{};
    ip_ttl_mask.hdr.time_to_live = 0xff;
    rte_flow_item_esp range_last = esp;

    using I = rte_flow_item;
    const I eth{RTE_FLOW_ITEM_TYPE_ETH, nullptr, nullptr, nullptr};
    const I ip4{RTE_FLOW_ITEM_TYPE_IPV4, nullptr, nullptr, nullptr};
    const I end{RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr};
    const I esp_i{RTE_FLOW_ITEM_TYPE_ESP, &esp, nullptr, &esp_mask};
    const I udp_i{RTE_FLOW_ITEM_TYPE_UDP, &udp, nullptr, &udp_mask};

    rte_flow_action_queue q1{1}, q9{9};
    uint16_t rss_q[] = {0, 1, 2, 3};
    rte_flow_action_rss rss{};
    rss.types = RTE_ETH_RSS_ESP;
    rss.queue_num = 4;
    rss.queue = rss_q;
    using A = rte_flow_action;
    const A a_q1[] = {{RTE_FLOW_ACTION_TYPE_QUEUE, &q1}, {RTE_FLOW_ACTION_TYPE_END, nullptr}};
    const A a_q9[] = {{RTE_FLOW_ACTION_TYPE_QUEUE, &q9}, {RTE_FLOW_ACTION_TYPE_END, nullptr}};
    const A a_rss[] = {{RTE_FLOW_ACTION_TYPE_RSS, &rss}, {RTE_FLOW_ACTION_TYPE_END, nullptr}};
    const A a_drop[] = {{RTE_FLOW_ACTION_TYPE_DROP, nullptr}, {RTE_FLOW_ACTION_TYPE_END, nullptr}};
    const A a_none[] = {{RTE_FLOW_ACTION_TYPE_END, nullptr}};

    rte_flow_attr ingress{};
    ingress.ingress = 1;
    rte_flow_attr egress{};
    egress.egress = 1;
    rte_flow_attr group1 = ingress;
    group1.group = 1;

    struct Case {
        int id;
        const char* what;
        const rte_flow_attr* attr;
        std::vector<I> items;
        const A* actions;
        bool ok;
        rte_flow_error_type type;  // when !ok
    };
    const Case cases[] = {
        {1, "ETH/IPV4/ESP -> QUEUE", &ingress, {eth, ip4, esp_i, end}, a_q1, true, {}},
        {2, "ETH/IPV4/ESP -> RSS", &ingress, {eth, ip4, esp_i, end}, a_rss, true, {}},
        {3, "ETH/IPV4/UDP/ESP -> QUEUE", &ingress, {eth, ip4, udp_i, esp_i, end}, a_q1, true, {}},
        {4, "ETH/IPV4/UDP -> RSS", &ingress, {eth, ip4, udp_i, end}, a_rss, true, {}},
        {5,
         "TCP item",
         &ingress,
         {eth, ip4, {RTE_FLOW_ITEM_TYPE_TCP, &tcp, nullptr, nullptr}, end},
         a_q1,
         false,
         RTE_FLOW_ERROR_TYPE_ITEM},
        {6,
         "queue beyond the port",
         &ingress,
         {eth, ip4, esp_i, end},
         a_q9,
         false,
         RTE_FLOW_ERROR_TYPE_ACTION_CONF},
        {7,
         "DROP action",
         &ingress,
         {eth, ip4, esp_i, end},
         a_drop,
         false,
         RTE_FLOW_ERROR_TYPE_ACTION},
        {8,
         "no fate action",
         &ingress,
         {eth, ip4, esp_i, end},
         a_none,
         false,
         RTE_FLOW_ERROR_TYPE_ACTION_NUM},
        {9,
         "egress",
         &egress,
         {eth, ip4, esp_i, end},
         a_q1,
         false,
         RTE_FLOW_ERROR_TYPE_ATTR_EGRESS},
        {10,
         "group 1",
         &group1,
         {eth, ip4, esp_i, end},
         a_q1,
         false,
         RTE_FLOW_ERROR_TYPE_ATTR_GROUP},
        {11,
         "ESP seq mask",
         &ingress,
         {eth, ip4, {RTE_FLOW_ITEM_TYPE_ESP, &esp, nullptr, &esp_seq_mask}, end},
         a_q1,
         false,
         RTE_FLOW_ERROR_TYPE_ITEM_MASK},
        {12, "ETH/IPV4 only", &ingress, {eth, ip4, end}, a_q1, false, RTE_FLOW_ERROR_TYPE_ITEM_NUM},
        {13,
         "ESP range (last)",
         &ingress,
         {eth, ip4, {RTE_FLOW_ITEM_TYPE_ESP, &esp, &range_last, &esp_mask}, end},
         a_q1,
         false,
         RTE_FLOW_ERROR_TYPE_ITEM_LAST},
        {14,
         "IPV4 TTL mask",
         &ingress,
         {eth, {RTE_FLOW_ITEM_TYPE_IPV4, &ip_ttl, nullptr, &ip_ttl_mask}, esp_i, end},
         a_q1,
         false,
         RTE_FLOW_ERROR_TYPE_ITEM_MASK},
        {15, "IPV4 first", &ingress, {ip4, eth, esp_i, end}, a_q1, false, RTE_FLOW_ERROR_TYPE_ITEM},
    };
    pgflowtest::Stats before;
    CU_ASSERT_TRUE(pgflowtest::stats(g_a, before));
    for (const auto& c : cases) {
        rte_flow_error err{};
        const int rc = rte_flow_validate(g_a, c.attr, c.items.data(), c.actions, &err);
        const bool good = c.ok ? rc == 0
                               : rc < 0 && err.type == c.type && err.message != nullptr &&
                                     std::strncmp(err.message, "pgflowtest: ", 12) == 0;
        CU_ASSERT_TRUE(good);
        if (!good)
            std::printf("case %d (%s): rc %d type %d message %s\n", c.id, c.what, rc, err.type,
                        err.message != nullptr ? err.message : "(null)");
    }
    CU_ASSERT_EQUAL(live_rules(g_a), 0u);  // validate never installs
    // On port B (udp_esp=0) ESP behind UDP is refused.
    rte_flow_error err{};
    const I udp_esp[] = {eth, ip4, udp_i, esp_i, end};
    CU_ASSERT_TRUE(rte_flow_validate(g_b, &ingress, udp_esp, a_q1, &err) < 0);
    CU_ASSERT_TRUE(err.type == RTE_FLOW_ERROR_TYPE_ITEM);
}

// The PMD's matching order: lowest priority number first, then creation order.
PG_TEST(flow_pmd, priority_then_creation_order) {
    const uint32_t spi = 0x8001;
    rte_flow_item_esp esp{}, mask{};
    esp.hdr.spi = rte_cpu_to_be_32(spi);
    mask.hdr.spi = RTE_BE32(0xffffffff);
    const rte_flow_item items[] = {{RTE_FLOW_ITEM_TYPE_ETH, nullptr, nullptr, nullptr},
                                   {RTE_FLOW_ITEM_TYPE_IPV4, nullptr, nullptr, nullptr},
                                   {RTE_FLOW_ITEM_TYPE_ESP, &esp, nullptr, &mask},
                                   {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr}};
    auto create = [&](uint32_t prio, uint16_t queue) {
        rte_flow_attr attr{};
        attr.ingress = 1;
        attr.priority = prio;
        rte_flow_action_queue q{queue};
        const rte_flow_action acts[] = {{RTE_FLOW_ACTION_TYPE_QUEUE, &q},
                                        {RTE_FLOW_ACTION_TYPE_END, nullptr}};
        rte_flow_error err{};
        rte_flow* f = rte_flow_create(g_a, &attr, items, acts, &err);
        CU_ASSERT_PTR_NOT_NULL(f);
        return f;
    };
    rte_flow* low = create(1, 1);
    rte_flow* first = create(0, 2);
    rte_flow* second = create(0, 3);
    inject(g_a, Kind::esp, spi);
    CU_ASSERT_TRUE(spis_on(g_a, 2) == std::vector<uint32_t>{spi});
    rte_flow_error err{};
    CU_ASSERT_EQUAL(rte_flow_destroy(g_a, first, &err), 0);
    inject(g_a, Kind::esp, spi);
    CU_ASSERT_TRUE(spis_on(g_a, 3) == std::vector<uint32_t>{spi});
    CU_ASSERT_EQUAL(rte_flow_destroy(g_a, second, &err), 0);
    inject(g_a, Kind::esp, spi);
    CU_ASSERT_TRUE(spis_on(g_a, 1) == std::vector<uint32_t>{spi});
    CU_ASSERT_EQUAL(rte_flow_destroy(g_a, low, &err), 0);
    CU_ASSERT_TRUE(rte_flow_destroy(g_a, low, &err) < 0);  // already gone
    CU_ASSERT_TRUE(err.type == RTE_FLOW_ERROR_TYPE_HANDLE);
    // flush drops everything
    create(0, 1);
    create(0, 2);
    CU_ASSERT_EQUAL(rte_flow_flush(g_a, &err), 0);
    CU_ASSERT_EQUAL(live_rules(g_a), 0u);
}

// Port B cannot match ESP behind UDP: UDP 4500 is spread by RSS (one shared rule), plain ESP
// is still pinned.
PG_TEST(flow_pmd, udp_esp_falls_back_to_rss) {
    LogSink log;
    FlowSteering fs = FlowSteering::probe(g_b, log.fn());
    CU_ASSERT_TRUE(fs.supported());
    const uint32_t spis[] = {0x9001, 0x9002, 0x9003};
    for (const uint32_t spi : spis) {
        const FlowResult r = fs.steer_udp_esp_spi(spi, 1);
        CU_ASSERT_TRUE(r.installed());
        CU_ASSERT_TRUE(r.route == FlowRoute::rss);
        CU_ASSERT_FALSE(r.pinned());
    }
    CU_ASSERT_TRUE(fs.steer_udp_esp_spi(spis[0], 2).route == FlowRoute::rss);  // again: no new rule
    CU_ASSERT_TRUE(fs.steer_esp_spi(0x9100, 2).pinned());
    CU_ASSERT_EQUAL(fs.flow_count(), 2u);  // the RSS rule + the ESP rule
    CU_ASSERT_EQUAL(live_rules(g_b), 2u);

    for (uint32_t i = 0; i < 32; ++i) inject(g_b, Kind::udp_esp, spis[i % 3], kPeer + i, 4500 + i);
    inject(g_b, Kind::esp, 0x9100);
    std::size_t total = 0, with_hash = 0, queues_used = 0;
    for (uint16_t q = 0; q < kPmdQueues; ++q) {
        const auto got = drain(g_b, q);
        std::size_t here = 0;
        for (const auto& r : got) {
            if (r.spi == 0x9100) {
                CU_ASSERT_EQUAL(q, 2);
                continue;
            }
            ++here;
            with_hash += r.rss_hash ? 1 : 0;
        }
        total += here;
        queues_used += here > 0 ? 1 : 0;
    }
    CU_ASSERT_EQUAL(total, 32u);
    CU_ASSERT_EQUAL(with_hash, 32u);
    CU_ASSERT_TRUE(queues_used > 1);  // spread, not pinned

    CU_ASSERT_TRUE(fs.remove_spi(spis[0]).status == FlowStatus::removed);
    CU_ASSERT_TRUE(fs.remove_spi(spis[1]).status == FlowStatus::removed);
    CU_ASSERT_EQUAL(live_rules(g_b), 2u);  // the RSS rule still has a user
    CU_ASSERT_TRUE(fs.remove_spi(spis[2]).status == FlowStatus::removed);
    CU_ASSERT_EQUAL(live_rules(g_b), 1u);
    CU_ASSERT_TRUE(log.lines.empty());
}

// Port C has no flow ops: software dispatch, one log line for any number of rules.
PG_TEST(flow_pmd, port_without_flow_ops_falls_back) {
    LogSink log;
    FlowSteering fs = FlowSteering::probe(g_c, log.fn());
    CU_ASSERT_FALSE(fs.supported());
    CU_ASSERT_EQUAL(fs.nb_queues(), 2);
    for (uint32_t spi = 0xa001; spi < 0xa005; ++spi) {
        CU_ASSERT_TRUE(fs.steer_esp_spi(spi, queue_for_spi(spi, 2)).status == FlowStatus::software);
        CU_ASSERT_TRUE(fs.steer_udp_esp_spi(spi, queue_for_spi(spi, 2)).status ==
                       FlowStatus::software);
    }
    CU_ASSERT_EQUAL(log.lines.size(), 1u);
    if (!log.lines.empty())
        PG_ASSERT_STR_EQ(log.lines[0], "port " + std::to_string(g_c) +
                                           " (net_pgflowtest): rte_flow not supported (" +
                                           fs.unsupported_reason() +
                                           "); inbound ESP uses software dispatch by SPI");
    CU_ASSERT_EQUAL(fs.flow_count(), 0u);
}

// ---- flow_fallback: PMDs without rte_flow ------------------------------------------------

const std::string kPcap = "net_pcap0";
const std::string kAfPacket = "net_af_packet0";
uint16_t g_pcap = 0, g_afp = 0;

bool write_empty_pcap(const std::string& path) {
    // pcap global header: magic, v2.4, zone 0, sigfigs 0, snaplen 65535, DLT_EN10MB.
    const uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(hdr), sizeof(hdr));
    return static_cast<bool>(f);
}

int fallback_init() {
    if (!eal_up()) return -1;
    sweep_stale();
    g_tmpdir = (fs::temp_directory_path() / ("pgflow-" + std::to_string(getpid()))).string();
    std::error_code ec;
    fs::create_directories(g_tmpdir, ec);
    if (ec || !write_empty_pcap(g_tmpdir + "/in.pcap")) return -1;
    if (!open_port(kPcap, "rx_pcap=" + g_tmpdir + "/in.pcap,tx_pcap=" + g_tmpdir + "/out.pcap", 1,
                   false, g_pcap))
        return -1;
    // A veth pair of our own, no addresses, IPv6 off: nothing is ever sent anywhere.
    const std::string a = "pgf" + std::to_string(getpid()) + "a";
    const std::string b = "pgf" + std::to_string(getpid()) + "b";
    if (run("ip link add " + a + " type veth peer name " + b) != 0) {
        std::fprintf(stderr, "cannot create veth pair %s/%s (root needed)\n", a.c_str(), b.c_str());
        return -1;
    }
    g_veth = a;
    for (const auto& n : {a, b}) {
        std::ofstream("/proc/sys/net/ipv6/conf/" + n + "/disable_ipv6") << "1\n";
        run("ip link set " + n + " up");
    }
    return open_port(kAfPacket, "iface=" + a + ",qpairs=1", 1, false, g_afp) ? 0 : -1;
}

int fallback_cleanup() {
    close_port(kPcap);
    close_port(kAfPacket);
    delete_veth();
    remove_tmpdir();
    return 0;
}

PG_SUITE_HOOKS(flow_fallback, fallback_init, fallback_cleanup);

void check_fallback(uint16_t port, const char* driver) {
    LogSink log;
    FlowSteering fs = FlowSteering::probe(port, log.fn());
    CU_ASSERT_FALSE(fs.supported());
    PG_ASSERT_STR_EQ(fs.driver_name(), driver);
    CU_ASSERT_FALSE(fs.unsupported_reason().empty());
    CU_ASSERT_TRUE(log.lines.empty());  // nothing logged until a rule is asked for
    for (uint32_t spi = 0xb001; spi < 0xb009; ++spi) {
        const uint16_t owner = queue_for_spi(spi, fs.nb_queues());
        CU_ASSERT_TRUE(owner < fs.nb_queues());
        const FlowResult e = fs.steer_esp_spi(spi, owner);
        const FlowResult u = fs.steer_udp_esp_spi(spi, owner);
        CU_ASSERT_TRUE(e.status == FlowStatus::software && e.route == FlowRoute::none);
        CU_ASSERT_TRUE(u.status == FlowStatus::software && u.route == FlowRoute::none);
        PG_ASSERT_STR_EQ(e.message, fs.unsupported_reason());
    }
    CU_ASSERT_EQUAL(log.lines.size(), 1u);
    const std::string head =
        "port " + std::to_string(port) + " (" + driver + "): rte_flow not supported (";
    if (!log.lines.empty()) {
        CU_ASSERT_TRUE(log.lines[0].rfind(head, 0) == 0);
        CU_ASSERT_TRUE(ends_with(log.lines[0], "); inbound ESP uses software dispatch by SPI"));
        std::printf("\n    logged: %s\n", log.lines[0].c_str());
    }
    CU_ASSERT_EQUAL(fs.flow_count(), 0u);
    CU_ASSERT_TRUE(fs.remove_spi(0xb001).status == FlowStatus::not_found);
}

PG_TEST(flow_fallback, pcap_uses_software_dispatch) {
    check_fallback(g_pcap, "net_pcap");
}

PG_TEST(flow_fallback, af_packet_uses_software_dispatch) {
    check_fallback(g_afp, "net_af_packet");
}

// Without a callback the line goes through RTE_LOG, still once.
PG_TEST(flow_fallback, default_log_is_one_rte_log_line) {
    char* buf = nullptr;
    size_t len = 0;
    FILE* mem = open_memstream(&buf, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mem);
    const int level = rte_log_get_level(RTE_LOGTYPE_USER1);
    rte_log_set_level(RTE_LOGTYPE_USER1, RTE_LOG_NOTICE);  // the suite runs EAL at *:warning
    rte_openlog_stream(mem);
    {
        FlowSteering fs = FlowSteering::probe(g_pcap);
        for (uint32_t spi = 0xc001; spi < 0xc005; ++spi) fs.steer_esp_spi(spi, 0);
    }
    rte_openlog_stream(nullptr);
    rte_log_set_level(RTE_LOGTYPE_USER1, static_cast<uint32_t>(level));
    std::fclose(mem);
    const std::string out(buf != nullptr ? buf : "", len);
    std::free(buf);
    std::size_t count = 0;
    for (std::size_t at = out.find("rte_flow not supported"); at != std::string::npos;
         at = out.find("rte_flow not supported", at + 1))
        ++count;
    CU_ASSERT_EQUAL(count, 1u);
}

}  // namespace
