// tests/runtime/test_runtime_inline.cpp - the data-plane runtime, frames through
// worker 0's real pipeline with Runtime::run_inline() on net_null ports:
//   reconfigure: Runtime::set_entries (crypto ACLs rebuilt on the control thread and
//     published by RCU) and the workers' flow cache of outbound classification results:
//     a new crypto map set takes effect for flows the cache already knows, on the
//     rte_acl path (> Classifier::kLinearMaxAces ACEs) and the linear one;
//   reassembly: received IPv4 fragments are reassembled before classification.
#include <rte_dev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/runtime.hpp"
#include "dataplane/runtime_internal.hpp"
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

// Entries as entries(n, 0); only entry 5 has an (outbound GCM) SA, to kPeer.
std::unique_ptr<Runtime> make_runtime(uint32_t n_entries, const char* tag) {
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
    if (!rt) return nullptr;
    rt->learn_neighbour(kPeer, 1, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x02}});
    SaSpec sa;
    sa.transform = crypto::Transform::aes128_gcm16;
    sa.enc_key.assign(20, 0x42);
    sa.spi = 0x3005;
    sa.local = RTE_IPV4(198, 51, 100, 1);
    sa.peer = kPeer;
    sa.entry = 5;
    if (rt->set_active(5, sa, err) < 0) return nullptr;
    return rt;
}

uint16_t run(uint32_t n_entries, const char* tag) {  // returns the inside DPDK port id
    std::string err;
    auto rt = make_runtime(n_entries, tag);
    if (!rt) {
        CU_FAIL("make_runtime");
        return 0;
    }

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
    // The protected flow arriving in clear on the outside port (a spoofed inside source
    // hairpinning back out): the map applies to what leaves by its interface, so it is
    // dropped, never forwarded in clear.
    {
        const Stats before = rt->stats();
        rte_mbuf* spoof = frame(rt->pool(), 5);
        CU_ASSERT_TRUE(rt->run_inline(1, &spoof, 1));
        const Stats after = rt->stats();
        CU_ASSERT_EQUAL(after.drops[size_t(Drop::clear_must_be_protected)] -
                            before.drops[size_t(Drop::clear_must_be_protected)],
                        1u);
        CU_ASSERT_EQUAL(after.bypass, before.bypass);
        CU_ASSERT_EQUAL(after.tx, before.tx);
    }
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

// A fragment of the UDP datagram 192.0.2.10 -> 203.0.113.`host` (id 77) whose IP
// payload is `total` bytes: payload bytes [off, off + len), MF unless it is the last.
rte_mbuf* fragment(rte_mempool* pool, uint8_t host, uint16_t total, uint16_t off, uint16_t len) {
    std::vector<uint8_t> payload(total);
    for (size_t i = 0; i < total; ++i) payload[i] = uint8_t(i * 13);
    payload[0] = 0x30, payload[1] = 0x39, payload[2] = 0x13, payload[3] = 0x88;  // UDP header
    payload[4] = uint8_t(total >> 8), payload[5] = uint8_t(total), payload[6] = payload[7] = 0;
    std::vector<uint8_t> f(14 + 20 + len, 0);
    f[0] = 0x02, f[5] = 0x01, f[6] = 0x02, f[11] = 0x0a, f[12] = 0x08;
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(f.data() + 14);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(uint16_t(20 + len));
    ip->packet_id = rte_cpu_to_be_16(77);
    const bool more = off + len < total;
    ip->fragment_offset = rte_cpu_to_be_16(uint16_t((off / 8) | (more ? RTE_IPV4_HDR_MF_FLAG : 0)));
    ip->time_to_live = 64;
    ip->next_proto_id = 17;
    ip->src_addr = rte_cpu_to_be_32(RTE_IPV4(192, 0, 2, 10));
    ip->dst_addr = rte_cpu_to_be_32(RTE_IPV4(203, 0, 113, host));
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    std::memcpy(f.data() + 34, payload.data() + off, len);
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m) return nullptr;
    char* d = rte_pktmbuf_append(m, uint16_t(f.size()));
    if (!d) return nullptr;
    std::memcpy(d, f.data(), f.size());
    return m;
}

int suite_init() { return pgtest::dataplane::eal_init_once(); }
int suite_cleanup() { return 0; }

}  // namespace

PG_SUITE_HOOKS(reconfigure, suite_init, suite_cleanup);
PG_SUITE_HOOKS(reassembly, suite_init, suite_cleanup);

// A host's 1808-byte UDP datagram, fragmented by the host (DF clear) and arriving last
// fragment first, is reassembled, classified by its ports into entry 5, too big for
// the tunnel so fragmented again before encryption: two ESP packets. A fragment whose
// datagram never completes stays held and is accounted for.
PG_TEST(reassembly, fragments_reassembled_then_protected) {
    auto rt = make_runtime(20, "f");
    CU_ASSERT_FATAL(rt != nullptr);
    rte_mbuf* last = fragment(rt->pool(), 5, 1808, 1480, 328);
    CU_ASSERT_TRUE(rt->run_inline(0, &last, 1));
    Stats s = rt->stats();
    CU_ASSERT_EQUAL(s.reassembly_held, 1u);
    CU_ASSERT_EQUAL(s.protected_out, 0u);
    rte_mbuf* first = fragment(rt->pool(), 5, 1808, 0, 1480);
    CU_ASSERT_TRUE(rt->run_inline(0, &first, 1));
    s = rt->stats();
    CU_ASSERT_EQUAL(s.reassembly_held, 0u);
    CU_ASSERT_EQUAL(s.reassembly_merged, 1u);
    CU_ASSERT_EQUAL(s.protected_out, 2u);  // 1828-byte inner packet: two fragments, two ESP
    CU_ASSERT_EQUAL(s.fragments, 1u);
    CU_ASSERT_EQUAL(s.tx, 2u);
    CU_ASSERT_EQUAL(s.total_drops(), 0u);
    // A lone first fragment of another datagram (to an unprotected host): held.
    rte_mbuf* lone = fragment(rt->pool(), 200, 1808, 0, 1480);
    CU_ASSERT_TRUE(rt->run_inline(0, &lone, 1));
    s = rt->stats();
    CU_ASSERT_EQUAL(s.reassembly_held, 1u);
    CU_ASSERT_EQUAL(s.rx + s.fragments,
                    s.tx + s.total_drops() + s.punted + s.reassembly_held + s.reassembly_merged);
}

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

// The workers' flow cache (runtime_internal.hpp): two ways per set, the most recent
// insert in way 0; a third flow of a set evicts the least recent; a new table
// generation misses everything.
PG_TEST(flow_cache, two_ways_least_recent_evicted) {
    auto fc = std::make_unique<FlowCache>();  // value-initialised: every slot empty
    const FlowKey k0 = make_flow_key(17, 0xc0000201, 0xcb007101, 1000, 2000);
    const uint32_t set = FlowCache::set_of(k0);
    CU_ASSERT_EQUAL(set % FlowCache::kWays, 0u);
    CU_ASSERT(set < FlowCache::kSlots);
    std::vector<FlowKey> same;  // other flows of k0's set
    FlowKey other{};            // a flow of another set
    bool have_other = false;
    for (uint32_t d = 2; same.size() < 2 && d < 2000000; ++d) {
        const FlowKey k = make_flow_key(17, 0xc0000201, 0xcb007100 + d, 1000, 2000);
        if (FlowCache::set_of(k) == set)
            same.push_back(k);
        else if (!have_other)
            other = k, have_other = true;
    }
    CU_ASSERT_EQUAL_FATAL(same.size(), 2u);
    CU_ASSERT_FATAL(have_other);

    CU_ASSERT_PTR_NULL(fc->find(set, k0, 1));
    fc->insert(set, k0, 10, 1);
    fc->insert(FlowCache::set_of(other), other, 40, 1);
    fc->insert(set, same[0], 11, 1);
    const FlowCache::Slot* e0 = fc->find(set, k0, 1);
    const FlowCache::Slot* e1 = fc->find(set, same[0], 1);
    CU_ASSERT_FATAL(e0 && e1);
    CU_ASSERT_EQUAL(e0->result, 10u);
    CU_ASSERT_EQUAL(e1->result, 11u);
    fc->insert(set, same[1], 12, 1);  // k0 is the least recent: evicted
    CU_ASSERT_PTR_NULL(fc->find(set, k0, 1));
    CU_ASSERT_FATAL(fc->find(set, same[0], 1) && fc->find(set, same[1], 1));
    CU_ASSERT_EQUAL(fc->find(set, same[1], 1)->result, 12u);
    CU_ASSERT_EQUAL(fc->find(FlowCache::set_of(other), other, 1)->result, 40u);  // untouched
    // A republished table (generation 2) misses; inserting into the stale set keeps way 1.
    CU_ASSERT_PTR_NULL(fc->find(set, same[1], 2));
    fc->insert(set, k0, 20, 2);
    CU_ASSERT_EQUAL(fc->find(set, k0, 2)->result, 20u);
    CU_ASSERT_PTR_NULL(fc->find(set, same[0], 2));
}
