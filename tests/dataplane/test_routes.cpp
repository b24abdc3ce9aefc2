// tests/dataplane/test_routes.cpp - static routes on rte_lpm: longest prefix match table,
// next-hop dedup, errors, bulk vs single vs a naive reference.
#include <cstdio>
#include <random>
#include <vector>

#include "dataplane/routes.hpp"
#include "tests/dataplane/eal_env.hpp"
#include "tests/dataplane/frames.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine::dataplane;
using pgtest::dataplane::ip4;

PG_SUITE_HOOKS(routes, pgtest::dataplane::eal_init_once, nullptr);

namespace {

constexpr uint32_t NONE = RouteTable::kNoRoute;

std::unique_ptr<RouteTable> must_build(const std::vector<RouteSpec>& r) {
    auto b = RouteTable::build(r);
    if (!b.table) std::printf("\n  build failed: %s", b.error.c_str());
    return std::move(b.table);
}

// Naive LPM: the longest matching prefix, NONE if none.
const RouteSpec* naive(const std::vector<RouteSpec>& routes, uint32_t dst) {
    const RouteSpec* best = nullptr;
    for (const auto& r : routes) {
        const bool hit = r.len == 0 || ((dst ^ r.prefix) >> (32 - r.len)) == 0;
        if (hit && (!best || r.len > best->len)) best = &r;
    }
    return best;
}

}  // namespace

PG_TEST(routes, longest_prefix_table) {
    const std::vector<RouteSpec> rt = {
        {0, 0, 1, ip4(203, 0, 113, 254)},              // 1 default via outside gw
        {ip4(10, 0, 0, 0), 8, 0, ip4(10, 255, 0, 1)},   // 2
        {ip4(10, 1, 0, 0), 16, 0, 0},                   // 3 connected
        {ip4(10, 1, 2, 0), 24, 2, 0},                   // 4
        {ip4(10, 1, 2, 128), 25, 3, 0},                 // 5 needs a tbl8 group
        {ip4(10, 1, 2, 200), 32, 3, ip4(10, 1, 2, 1)},  // 6 host route
        {ip4(10, 1, 2, 202), 31, 2, 0},                 // 7
    };
    auto t = must_build(rt);
    CU_ASSERT_FATAL(t != nullptr);
    struct Probe {
        int n;
        uint32_t dst;
        NextHop want;
    } probes[] = {
        {1, ip4(8, 8, 8, 8), {1, ip4(203, 0, 113, 254)}},
        {2, ip4(10, 9, 9, 9), {0, ip4(10, 255, 0, 1)}},
        {3, ip4(10, 1, 9, 9), {0, 0}},
        {4, ip4(10, 1, 2, 3), {2, 0}},
        {5, ip4(10, 1, 2, 127), {2, 0}},
        {6, ip4(10, 1, 2, 128), {3, 0}},
        {7, ip4(10, 1, 2, 200), {3, ip4(10, 1, 2, 1)}},
        {8, ip4(10, 1, 2, 201), {3, 0}},
        {9, ip4(10, 1, 2, 202), {2, 0}},
        {10, ip4(10, 1, 2, 203), {2, 0}},
        {11, ip4(10, 1, 2, 204), {3, 0}},
        {12, ip4(255, 255, 255, 255), {1, ip4(203, 0, 113, 254)}},
    };
    for (const auto& p : probes) {
        const uint32_t idx = t->lookup(p.dst);
        const bool ok = idx != NONE && t->next_hop(idx) == p.want;
        if (!ok) std::printf("\n  probe %d: index %d", p.n, static_cast<int>(idx));
        CU_ASSERT_TRUE(ok);
    }
    CU_ASSERT_EQUAL(t->route_count(), 7u);
    CU_ASSERT_EQUAL(t->next_hops().size(), 6u);  // route 7 reuses route 4's {2, connected}
}

PG_TEST(routes, no_default_misses) {
    auto t = must_build({{ip4(192, 168, 0, 0), 16, 0, 0}});
    CU_ASSERT_FATAL(t != nullptr);
    CU_ASSERT_EQUAL(t->lookup(ip4(192, 169, 0, 1)), NONE);
    CU_ASSERT_NOT_EQUAL(t->lookup(ip4(192, 168, 255, 255)), NONE);
    auto empty = must_build({});
    CU_ASSERT_FATAL(empty != nullptr);
    CU_ASSERT_EQUAL(empty->lookup(ip4(1, 2, 3, 4)), NONE);
    uint32_t dst[3] = {1, 2, 3}, out[3] = {0, 0, 0};
    empty->lookup_bulk(dst, 3, out);
    CU_ASSERT_TRUE(out[0] == NONE && out[1] == NONE && out[2] == NONE);
    // Only a default route: rte_lpm has no depth 0, the table answers it beside the LPM.
    auto dflt = must_build({{0, 0, 5, ip4(192, 0, 2, 1)}});
    CU_ASSERT_FATAL(dflt != nullptr);
    dflt->lookup_bulk(dst, 3, out);
    CU_ASSERT_TRUE(out[0] == 0 && out[1] == 0 && out[2] == 0);
    CU_ASSERT_TRUE(dflt->next_hop(dflt->lookup(ip4(9, 9, 9, 9))) == (NextHop{5, ip4(192, 0, 2, 1)}));
}

PG_TEST(routes, next_hops_deduplicated_and_host_bits_ignored) {
    auto t = must_build({{ip4(10, 0, 0, 1), 8, 4, ip4(1, 1, 1, 1)},  // host bits set: 10/8
                         {ip4(11, 0, 0, 0), 8, 4, ip4(1, 1, 1, 1)},
                         {ip4(12, 0, 0, 0), 8, 4, 0}});
    CU_ASSERT_FATAL(t != nullptr);
    CU_ASSERT_EQUAL(t->next_hops().size(), 2u);
    CU_ASSERT_EQUAL(t->lookup(ip4(10, 200, 0, 0)), t->lookup(ip4(11, 0, 0, 1)));
    CU_ASSERT_NOT_EQUAL(t->lookup(ip4(12, 0, 0, 1)), t->lookup(ip4(11, 0, 0, 1)));
}

PG_TEST(routes, build_errors) {
    auto dup = RouteTable::build(std::vector<RouteSpec>{{ip4(10, 0, 0, 0), 8, 0, 0},
                                                        {ip4(10, 1, 0, 0), 8, 1, 0}});
    CU_ASSERT_TRUE(dup.table == nullptr);
    PG_ASSERT_STR_EQ(dup.error, "duplicate route 10.0.0.0/8");
    auto len = RouteTable::build(std::vector<RouteSpec>{{0, 33, 0, 0}});
    CU_ASSERT_TRUE(len.table == nullptr);
    PG_ASSERT_STR_EQ(len.error, "route prefix length 33 > 32");
}

// Many random routes (lots of /25../32 needing tbl8 groups): bulk == single == naive.
PG_TEST(routes, bulk_matches_naive_random) {
    std::mt19937 rng(77);
    std::vector<RouteSpec> rt;
    std::vector<std::pair<uint32_t, uint8_t>> seen;
    while (rt.size() < 2000) {
        const uint8_t len = static_cast<uint8_t>(rng() % 33);
        const uint32_t mask = len == 0 ? 0 : len == 32 ? 0xffffffffu : ~(0xffffffffu >> len);
        const uint32_t net = (ip4(10, 0, 0, 0) | (rng() & 0x00ffffffu)) & mask;
        bool dup = false;
        for (auto& s : seen) dup |= s.first == net && s.second == len;
        if (dup) continue;
        seen.emplace_back(net, len);
        rt.push_back({net, len, static_cast<uint16_t>(rng() % 4), static_cast<uint32_t>(rng() % 3 ? rng() : 0)});
    }
    auto t = must_build(rt);
    CU_ASSERT_FATAL(t != nullptr);
    std::vector<uint32_t> dst(20000), bulk(dst.size());
    for (auto& d : dst) d = rng() % 2 ? (ip4(10, 0, 0, 0) | (rng() & 0x00ffffffu)) : rng();
    t->lookup_bulk(dst.data(), static_cast<uint32_t>(dst.size()), bulk.data());
    unsigned mismatches = 0, hits = 0;
    for (size_t i = 0; i < dst.size(); ++i) {
        const RouteSpec* want = naive(rt, dst[i]);
        const uint32_t single = t->lookup(dst[i]);
        if (single != bulk[i]) ++mismatches;
        if (!want) {
            if (single != NONE) ++mismatches;
            continue;
        }
        ++hits;
        if (single == NONE || !(t->next_hop(single) == NextHop{want->port, want->gateway}))
            ++mismatches;
    }
    CU_ASSERT_EQUAL(mismatches, 0u);
    CU_ASSERT_TRUE(hits > 5000);
}
