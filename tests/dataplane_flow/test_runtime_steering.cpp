// tests/dataplane_flow/test_runtime_steering.cpp - the data-plane runtime with two
// workers on net_pgflowtest ports: inbound SAs are steered to their owning worker by
// rte_flow where the port has it, and handed to the owner in software where it has not.
// Either way only the owner processes an SA (its replay window has one writer), every
// packet decrypts, and the counters balance.
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "crypto/esp_transform.hpp"
#include "dataplane/esp_codec.hpp"
#include "dataplane/runtime.hpp"
#include "tests/dataplane_flow/test_pmd.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine;
using namespace peregrine::dataplane;

namespace pgflowtest_env {
bool eal_up();  // test_flow.cpp
}

namespace {

constexpr uint32_t kInside = RTE_IPV4(192, 0, 2, 1);
constexpr uint32_t kHost = RTE_IPV4(192, 0, 2, 10);
constexpr uint32_t kOutA = RTE_IPV4(198, 51, 100, 1);    // port with rte_flow
constexpr uint32_t kOutB = RTE_IPV4(198, 51, 100, 129);  // port without (flow=0)
constexpr uint32_t kPeer = RTE_IPV4(198, 51, 100, 2);
constexpr uint32_t kRemote = RTE_IPV4(203, 0, 113, 5);
constexpr unsigned kPerSpiPerPort = 40;

std::vector<uint8_t> key_bytes(uint8_t seed) {
    std::vector<uint8_t> k(20);
    for (size_t i = 0; i < k.size(); ++i) k[i] = uint8_t(seed * 31 + i);
    return k;
}

// One ESP frame (Ethernet + outer IPv4 + ESP) from the peer to `dst`, inner UDP
// kRemote -> kHost, encrypted with the peer's copy of the SA.
std::vector<uint8_t> esp_frame(EspSa& sa, crypto::Engine& eng, uint16_t id) {
    std::vector<uint8_t> buf(512, 0);
    const uint32_t head = 128;
    uint8_t* ip = buf.data() + head;
    const uint16_t inner_len = 20 + 8 + 32;
    ip[0] = 0x45;
    ip[2] = uint8_t(inner_len >> 8);
    ip[3] = uint8_t(inner_len);
    ip[4] = uint8_t(id >> 8);
    ip[5] = uint8_t(id);
    ip[8] = 64;
    ip[9] = 17;
    for (int i = 0; i < 4; ++i) {
        ip[12 + i] = uint8_t(kRemote >> (24 - 8 * i));
        ip[16 + i] = uint8_t(kHost >> (24 - 8 * i));
    }
    auto* h = reinterpret_cast<rte_ipv4_hdr*>(ip);
    h->hdr_checksum = rte_ipv4_cksum(h);
    ip[20] = 0x13, ip[21] = 0x88, ip[22] = 0x13, ip[23] = 0x89, ip[25] = 40;
    EspBuf b{};
    b.data = ip;
    b.len = inner_len;
    b.headroom = head;
    b.tailroom = uint32_t(buf.size() - head - inner_len);
    EspBuf* list[1] = {&b};
    if (esp_encap_burst(sa, eng, std::span<EspBuf*>(list, 1)) != 1) return {};
    std::vector<uint8_t> frame(14 + b.len);
    frame[12] = 0x08;
    frame[0] = 0x02, frame[6] = 0x02, frame[11] = 0x02;
    std::memcpy(frame.data() + 14, b.data, b.len);
    return frame;
}

int steering_init() { return pgflowtest_env::eal_up() ? 0 : -1; }
int steering_cleanup() { return 0; }
PG_SUITE_HOOKS(runtime_steering, steering_init, steering_cleanup);

PG_TEST(runtime_steering, inbound_sas_reach_their_owner_by_flow_or_software) {
    if (rte_lcore_count() < 3) {
        CU_FAIL("EAL needs 3 lcores for two workers");
        return;
    }
    DataplaneSpec spec;
    spec.ports = {{"inside0", "net_pgflowtest30,rxq=2", true, kInside, 24, 1500},
                  {"outA", "net_pgflowtest31,rxq=2", false, kOutA, 25, 1500},
                  {"outB", "net_pgflowtest32,rxq=2,flow=0", false, kOutB, 25, 1500}};
    MapEntrySpec e;
    e.seq = 0;
    AceSpec ace;
    ace.src = {RTE_IPV4(192, 0, 2, 0), 24};
    ace.dst = {RTE_IPV4(203, 0, 113, 0), 24};
    e.aces.push_back(ace);
    spec.entries = {e};
    spec.entry_port = {1};
    unsigned lc = rte_get_next_lcore(-1, 1, 0);
    spec.worker_lcores.push_back(lc);
    spec.worker_lcores.push_back(rte_get_next_lcore(lc, 1, 0));
    spec.mbufs = 4095;
    std::string err;
    auto rt = Runtime::create(spec, err);
    CU_ASSERT_FATAL(rt != nullptr);
    if (!rt) {
        std::printf("\n%s\n", err.c_str());
        return;
    }
    CU_ASSERT_EQUAL(rt->worker_count(), 2);
    rt->learn_neighbour(kHost, 0, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x0a}});
    CU_ASSERT(rt->flow_steering(0) == nullptr);  // inside ports are not steered
    CU_ASSERT_FATAL(rt->flow_steering(1) != nullptr && rt->flow_steering(2) != nullptr);
    CU_ASSERT(rt->flow_steering(1)->supported());
    CU_ASSERT(!rt->flow_steering(2)->supported());

    // Two SPIs owned by each worker.
    std::vector<uint32_t> spis;
    unsigned per_owner[2] = {0, 0};
    for (uint32_t spi = 0x1000; spis.size() < 4; ++spi) {
        const uint16_t o = rt->sa_owner(spi);
        if (per_owner[o] < 2) {
            ++per_owner[o];
            spis.push_back(spi);
        }
    }
    auto eng = crypto::Engine::create();
    CU_ASSERT_FATAL(eng != nullptr);
    std::vector<int> slots;
    std::vector<std::unique_ptr<crypto::KeySchedule>> peer_keys;
    std::vector<std::unique_ptr<EspSa>> peer_sa;  // the peer's outbound copies
    for (size_t i = 0; i < spis.size(); ++i) {
        SaSpec s;
        s.transform = crypto::Transform::aes128_gcm16;
        s.enc_key = key_bytes(uint8_t(i + 1));
        s.spi = spis[i];
        s.local = kOutA;
        s.peer = kPeer;
        s.entry = 0;
        slots.push_back(rt->add_inbound_sa(std::move(s), err));
        CU_ASSERT(slots.back() >= 0);
        const auto k = key_bytes(uint8_t(i + 1));
        peer_keys.push_back(crypto::KeySchedule::create(crypto::Transform::aes128_gcm16, k, {}).keys);
        CU_ASSERT_FATAL(peer_keys.back() != nullptr);
        EspSaConfig c;
        c.transform = crypto::Transform::aes128_gcm16;
        c.keys = peer_keys.back().get();
        c.spi = spis[i];
        c.outer_src = kPeer;
        c.outer_dst = kOutA;
        peer_sa.push_back(std::make_unique<EspSa>());
        CU_ASSERT_FATAL(esp_sa_init(*peer_sa.back(), c));
    }
    // Port A pinned every SPI to its owner's queue; port B could not and said so once.
    CU_ASSERT_EQUAL(rt->flow_steering(1)->flow_count(), spis.size());
    CU_ASSERT_EQUAL(rt->flow_steering(2)->flow_count(), 0u);
    CU_ASSERT(rt->flow_steering(2)->fallback_logged());

    CU_ASSERT_FATAL(rt->start(err));
    // The same SAs arrive on both ports (sequence numbers stay increasing per SA).
    unsigned expect_handoff = 0, total = 0;
    for (uint16_t port_index : {uint16_t(1), uint16_t(2)}) {
        const uint16_t port_id = rt->ports()[port_index].port_id;
        for (unsigned n = 0; n < kPerSpiPerPort; ++n) {
            for (size_t i = 0; i < spis.size(); ++i) {
                const auto f = esp_frame(*peer_sa[i], *eng, uint16_t(total));
                CU_ASSERT_FATAL(!f.empty());
                rte_mbuf* m = rte_pktmbuf_alloc(rt->pool());
                CU_ASSERT_FATAL(m != nullptr);
                std::memcpy(rte_pktmbuf_append(m, uint16_t(f.size())), f.data(), f.size());
                CU_ASSERT_EQUAL(pgflowtest_inject(port_id, &m, 1), 1);
                ++total;
                // without rte_flow everything lands on queue 0 = worker 0
                if (port_index == 2 && rt->sa_owner(spis[i]) != 0) ++expect_handoff;
            }
            // pace the injection below the RX ring size
            while (rt->stats().rx + 64 < total) std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (rt->stats().tx + rt->stats().total_drops() < total && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    rt->stop();
    const Stats st = rt->stats();
    CU_ASSERT_EQUAL(st.rx, total);
    CU_ASSERT_EQUAL(st.decrypted_in, total);
    CU_ASSERT_EQUAL(st.tx, total);
    CU_ASSERT_EQUAL(st.total_drops(), 0u);
    CU_ASSERT_EQUAL(st.handoff, expect_handoff);
    CU_ASSERT(expect_handoff > 0);
    for (size_t d = 0; d < kDropReasons; ++d)
        if (st.drops[d]) std::printf("\n  drop %s = %lu", kDropNames[d], (unsigned long)st.drops[d]);
    for (int slot : slots) CU_ASSERT_EQUAL(rt->sa_stats(slot).packets, 2u * kPerSpiPerPort);
    // the replay windows saw every packet exactly once: replaying one is refused
    rt->quiesce();
}

}  // namespace
