// tests/runtime/test_reconfigure.cpp - Runtime::set_entries (crypto ACLs rebuilt
// on the control thread and published by RCU) and the workers' flow cache of outbound
// classification results: a new crypto map set must take effect for flows the cache
// already knows, on the rte_acl path (> Classifier::kLinearMaxAces ACEs) and the linear
// one. Frames go through worker 0's real pipeline with Runtime::run_inline().
#include <rte_dev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstring>
#include <string>
#include <vector>

#include "dataplane/runtime.hpp"
#include "tests/dataplane/eal_env.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine;
using namespace peregrine::dataplane;

namespace {

constexpr uint32_t kPeer = RTE_IPV4(198, 51, 100, 2);

// Entry k permits UDP 192.0.2.0/24 -> 203.0.113.(k + shift)/32.
std::vector<MapEntrySpec> entries(uint32_t n, uint32_t shift) {
    std::vector<MapEntrySpec> v;
    for (uint32_t k = 0; k < n; ++k) {
        AceSpec a;
        a.proto = 17;
        a.src = {RTE_IPV4(192, 0, 2, 0), 24};
        a.dst = {RTE_IPV4(203, 0, 113, 0) + k + shift, 32};
        v.push_back({k + 1, {a}});
    }
    return v;
}

// One UDP frame 192.0.2.10 -> 203.0.113.`host`, in a fresh mbuf; `size` bytes, DF on
// request.
rte_mbuf* frame(rte_mempool* pool, uint8_t host, uint16_t size = 64, bool df = false) {
    std::vector<uint8_t> fv(size, 0);
    uint8_t* f = fv.data();
    f[0] = 0x02, f[5] = 0x01, f[6] = 0x02, f[11] = 0x0a, f[12] = 0x08;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f + 14);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(uint16_t(size - 14));
    if (df) ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = 64;
    ip->next_proto_id = 17;
    ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(192, 0, 2, 10));
    ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(203, 0, 113, host));
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    uint8_t* udp = f + 34;
    udp[0] = 0x30, udp[1] = 0x39, udp[2] = 0x13, udp[3] = 0x88;
    udp[4] = uint8_t((size - 34) >> 8), udp[5] = uint8_t(size - 34);
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m) return nullptr;
    char* d = rte_pktmbuf_append(m, size);
    if (!d) return nullptr;
    std::memcpy(d, f, size);
    return m;
}

struct Counts {
    uint64_t protected_out, no_sa, bypass;
};
Counts counts(const Runtime& rt) {
    const Stats s = rt.stats();
    return {s.protected_out, s.drops[size_t(Drop::no_sa)], s.bypass};
}

// Send `n` frames to 203.0.113.`host`; return how the counters moved.
Counts send(Runtime& rt, uint8_t host, unsigned n) {
    const Counts a = counts(rt);
    std::vector<rte_mbuf*> m;
    for (unsigned i = 0; i < n; ++i) m.push_back(frame(rt.pool(), host));
    CU_ASSERT_TRUE(rt.run_inline(0, m.data(), uint16_t(m.size())));
    const Counts b = counts(rt);
    return {b.protected_out - a.protected_out, b.no_sa - a.no_sa, b.bypass - a.bypass};
}

uint16_t run(uint32_t n_entries, const char* tag) {  // returns the inside DPDK port id
    DataplaneSpec spec;
    spec.ports.push_back({"inside0", std::string("net_null_rc_i") + tag + ",no-rx=1", true,
                          RTE_IPV4(192, 0, 2, 1), 24, 1500});
    spec.ports.push_back({"outside0", std::string("net_null_rc_o") + tag + ",no-rx=1", false,
                          RTE_IPV4(198, 51, 100, 1), 24, 1500});
    spec.routes.push_back({RTE_IPV4(203, 0, 113, 0), 24, 1, kPeer});
    spec.entries = entries(n_entries, 0);
    spec.entry_port.assign(n_entries, 1);
    spec.worker_lcores.push_back(1);  // never started: run_inline drives worker 0
    spec.mbufs = 2047;
    std::string err;
    auto rt = Runtime::create(spec, err);
    if (!rt) {
        CU_FAIL("Runtime::create");
        return 0;
    }
    rt->learn_neighbour(kPeer, 1, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x02}});
    SaSpec sa;
    sa.transform = crypto::Transform::aes128_gcm16;
    sa.enc_key.assign(20, 0x42);
    sa.spi = 0x3005;
    sa.local = RTE_IPV4(198, 51, 100, 1);
    sa.peer = kPeer;
    sa.entry = 5;
    CU_ASSERT_FATAL(rt->set_active(5, sa, err) >= 0);  // only entry 5 has an SA

    // 203.0.113.5 is entry 5's: protected, the first burst fills the cache, the rest hit.
    for (int round = 0; round < 3; ++round) {
        const Counts c = send(*rt, 5, 8);
        CU_ASSERT_EQUAL(c.protected_out, 8u);
        CU_ASSERT_EQUAL(c.no_sa, 0u);
    }
    // The same flow now belongs to entry 4 (no SA): dropped, never sent in clear.
    CU_ASSERT_TRUE_FATAL(rt->set_entries(entries(n_entries, 1), err));
    Counts c = send(*rt, 5, 8);
    CU_ASSERT_EQUAL(c.protected_out, 0u);
    CU_ASSERT_EQUAL(c.no_sa, 8u);
    CU_ASSERT_EQUAL(c.bypass, 0u);
    // ... and a flow no entry covers any more leaves in clear (203.0.113.0).
    c = send(*rt, 0, 4);
    CU_ASSERT_EQUAL(c.bypass, 4u);
    // Back to the first map: protected again.
    CU_ASSERT_TRUE_FATAL(rt->set_entries(entries(n_entries, 0), err));
    c = send(*rt, 5, 8);
    CU_ASSERT_EQUAL(c.protected_out, 8u);
    CU_ASSERT_EQUAL(c.no_sa, 0u);
    // A set of another size is refused and changes nothing.
    CU_ASSERT_FALSE(rt->set_entries(entries(n_entries + 1, 0), err));
    c = send(*rt, 5, 2);
    CU_ASSERT_EQUAL(c.protected_out, 2u);
    // Too big for the tunnel with DF: punted for ICMP frag-needed, tagged with the
    // appliance port index it arrived on (0), not the PMD's port id.
    rte_mbuf* big = frame(rt->pool(), 5, 1514, true);
    CU_ASSERT_TRUE(rt->run_inline(0, &big, 1));
    rte_mbuf* got[4];
    CU_ASSERT_EQUAL_FATAL(rt->dequeue_punted(got, 4), 1u);
    CU_ASSERT_EQUAL(got[0]->port, 0);
    rte_pktmbuf_free(got[0]);
    // The replaced tables are reclaimed after the grace period.
    rt->quiesce();
    CU_ASSERT_EQUAL(rt->rcu_pending(), 0u);
    const Stats s = rt->stats();
    CU_ASSERT_EQUAL(s.rx, s.tx + s.total_drops() + s.punted);
    return rt->ports()[0].port_id;
}

int reconfigure_init() { return pgtest::dataplane::eal_init_once(); }
int reconfigure_cleanup() { return 0; }

}  // namespace

PG_SUITE_HOOKS(reconfigure, reconfigure_init, reconfigure_cleanup);

// 20 entries: above kLinearMaxAces, so rte_acl with the workers' flow cache.
PG_TEST(reconfigure, acl_and_flow_cache_follow_set_entries) {
    run(20, "a");
}

// 8 entries: the linear walk (no cache).
PG_TEST(reconfigure, linear_follows_set_entries) {
    // An extra port probed first takes DPDK port id 0, so this runtime's inside port has
    // another id than its appliance index 0: the frag-needed punt checks the index.
    CU_ASSERT_EQUAL(rte_dev_probe("net_null_rc_pad0,no-rx=1"), 0);
    CU_ASSERT_NOT_EQUAL(run(8, "l"), 0);
}
