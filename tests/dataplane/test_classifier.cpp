// tests/dataplane/test_classifier.cpp - crypto-map classifier on rte_acl: numbered tables of
// configs vs packets (outbound and mirrored inbound), big configs (1000 entries, 20
// deny-bearing entries -> chained contexts), and a cross-check against a naive linear
// reference over 100k random packets.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "dataplane/classifier.hpp"
#include "tests/dataplane/eal_env.hpp"
#include "tests/dataplane/frames.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine::dataplane;
using pgtest::dataplane::ip4;

PG_SUITE_HOOKS(classifier, pgtest::dataplane::eal_init_once, nullptr);

namespace {

constexpr uint32_t BYPASS = Classifier::kBypass;
constexpr Ipv4Prefix kAny{0, 0};
constexpr PortRange kAllPorts{0, 65535};

Ipv4Prefix pfx(uint32_t a, uint8_t len) { return {a, len}; }
Ipv4Prefix host(uint32_t a) { return {a, 32}; }

AceSpec permit(uint8_t proto, Ipv4Prefix s, Ipv4Prefix d, PortRange sp = kAllPorts,
               PortRange dp = kAllPorts) {
    return {AceAction::permit, proto, s, d, sp, dp};
}
AceSpec deny(uint8_t proto, Ipv4Prefix s, Ipv4Prefix d, PortRange sp = kAllPorts,
             PortRange dp = kAllPorts) {
    return {AceAction::deny, proto, s, d, sp, dp};
}

struct Pkt {
    uint8_t proto;
    uint32_t src, dst;
    uint16_t sport = 0, dport = 0;
    FlowKey key() const { return make_flow_key(proto, src, dst, sport, dport); }
    FlowKey mirrored_key() const { return make_flow_key(proto, dst, src, dport, sport); }
};

// ---- naive reference: the crypto-map rule, written as plainly as possible.
bool ace_matches(const AceSpec& a, const Pkt& p) {
    auto in = [](const Ipv4Prefix& x, uint32_t addr) {
        return x.len == 0 || ((addr ^ x.addr) >> (32 - x.len)) == 0;
    };
    return (a.proto == 0 || a.proto == p.proto) && in(a.src, p.src) && in(a.dst, p.dst) &&
           p.sport >= a.sport.lo && p.sport <= a.sport.hi && p.dport >= a.dport.lo &&
           p.dport <= a.dport.hi;
}
// First permit entry in sequence order; a deny ends only its own entry.
uint32_t reference(const std::vector<MapEntrySpec>& entries, const Pkt& p) {
    std::vector<uint32_t> order(entries.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return entries[a].seq < entries[b].seq; });
    for (uint32_t e : order)
        for (const AceSpec& a : entries[e].aces)
            if (ace_matches(a, p)) {
                if (a.action == AceAction::permit) return e;
                break;  // deny: next entry
            }
    return BYPASS;
}
bool reference_entry_permits(const MapEntrySpec& e, const Pkt& p) {
    for (const AceSpec& a : e.aces)
        if (ace_matches(a, p)) return a.action == AceAction::permit;
    return false;
}

// The implementation the table and cross-check tests are running against.
ClassifierImpl g_impl = ClassifierImpl::automatic;

std::unique_ptr<Classifier> must_build(const std::vector<MapEntrySpec>& cfg, Direction d) {
    auto r = Classifier::build(cfg, d, -1, g_impl);
    if (r.classifier && g_impl != ClassifierImpl::automatic &&
        r.classifier->stats().linear != (g_impl == ClassifierImpl::linear)) {
        std::printf("\n  build ignored the forced implementation");
        return nullptr;
    }
    if (!r.classifier) std::printf("\n  build failed: %s", r.error.c_str());
    return std::move(r.classifier);
}

struct Probe {
    Pkt pkt;
    uint32_t expect;  // entry index or BYPASS
};
struct Case {
    int n;
    const char* what;
    std::vector<MapEntrySpec> cfg;
    std::vector<Probe> probes;
};

constexpr uint8_t ANY = 0, ICMP = 1, TCP = 6, UDP = 17, ESP = 50;
const uint32_t A = ip4(10, 0, 0, 5), B = ip4(20, 0, 0, 9), C = ip4(10, 0, 1, 7),
               D = ip4(30, 0, 0, 1);

std::vector<Case> cases() {
    return {
        {1, "empty config: everything bypasses", {}, {{{TCP, A, B, 1, 2}, BYPASS}}},
        {2, "entry without ACEs", {{10, {}}}, {{{TCP, A, B, 1, 2}, BYPASS}}},
        {3, "permit ip any any", {{10, {permit(ANY, kAny, kAny)}}},
         {{{TCP, A, B, 1, 2}, 0}, {{ICMP, D, A}, 0}, {{ESP, B, A}, 0}}},
        {4, "deny then a later entry permits",
         {{10, {deny(ANY, host(A), host(B)), permit(ANY, pfx(A, 8), pfx(B, 8))}},
          {20, {permit(ANY, host(A), host(B))}}},
         {{{TCP, A, B, 1, 2}, 1}, {{TCP, C, B, 1, 2}, 0}, {{TCP, A, D, 1, 2}, BYPASS}}},
        {5, "entries sorted by seq, not by list position",
         {{20, {permit(ANY, kAny, kAny)}}, {10, {permit(ANY, pfx(A, 8), kAny)}}},
         {{{UDP, A, B, 1, 2}, 1}, {{UDP, B, A, 1, 2}, 0}}},
        {6, "ACE order inside an entry: first match wins",
         {{10, {deny(TCP, kAny, kAny, kAllPorts, {22, 22}), permit(ANY, kAny, kAny)}},
          {20, {permit(TCP, kAny, kAny)}}},
         {{{TCP, A, B, 5000, 22}, 1}, {{TCP, A, B, 5000, 23}, 0}, {{UDP, A, B, 5000, 22}, 0}}},
        {7, "port ranges, edges included",
         {{10, {permit(TCP, kAny, kAny, kAllPorts, {1000, 2000})}}},
         {{{TCP, A, B, 9, 999}, BYPASS}, {{TCP, A, B, 9, 1000}, 0}, {{TCP, A, B, 9, 2000}, 0},
          {{TCP, A, B, 9, 2001}, BYPASS}, {{UDP, A, B, 9, 1500}, BYPASS}}},
        {8, "source port range", {{10, {permit(UDP, kAny, kAny, {500, 500}, kAllPorts)}}},
         {{{UDP, A, B, 500, 7}, 0}, {{UDP, A, B, 501, 7}, BYPASS}}},
        {9, "any protocol covers icmp, esp, gre",
         {{10, {permit(ANY, pfx(A, 8), pfx(B, 8))}}},
         {{{ICMP, A, B}, 0}, {{ESP, A, B}, 0}, {{47, A, B}, 0}, {{ICMP, B, A}, BYPASS}}},
        {10, "deny in the last entry: bypass", {{10, {deny(ANY, kAny, kAny)}}},
         {{{TCP, A, B, 1, 2}, BYPASS}}},
        {11, "only denies, then a catch-all",
         {{1, {deny(ANY, host(A), kAny)}}, {2, {deny(ANY, kAny, host(B))}},
          {3, {permit(ANY, kAny, kAny)}}},
         {{{TCP, A, B, 1, 2}, 2}, {{TCP, A, D, 1, 2}, 2}, {{TCP, C, D, 1, 2}, 2}}},
        {12, "deny-bearing entry that does not match does not matter",
         {{1, {deny(ANY, host(D), kAny), permit(ANY, pfx(A, 24), kAny)}},
          {2, {permit(ANY, kAny, kAny)}}},
         {{{TCP, A, B, 1, 2}, 0}, {{TCP, C, B, 1, 2}, 1}, {{TCP, D, B, 1, 2}, 1}}},
        {13, "specific protocol only",
         {{5, {permit(ESP, kAny, kAny)}}, {6, {permit(ICMP, host(A), kAny)}}},
         {{{ESP, B, D}, 0}, {{ICMP, A, D}, 1}, {{ICMP, C, D}, BYPASS}}},
        {14, "prefix lengths /0 /1 /31 /32",
         {{1, {permit(ANY, pfx(0x80000000u, 1), kAny)}}, {2, {permit(ANY, pfx(A & ~1u, 31), kAny)}}},
         {{{TCP, 0x80000001u, A, 1, 1}, 0}, {{TCP, A, B, 1, 1}, 1}, {{TCP, A ^ 1u, B, 1, 1}, 1},
          {{TCP, A ^ 2u, B, 1, 1}, BYPASS}}},
    };
}

void run_case(const Case& c) {
    auto out = must_build(c.cfg, Direction::outbound);
    auto in = must_build(c.cfg, Direction::inbound);
    CU_ASSERT_FATAL(out && in);
    for (size_t i = 0; i < c.probes.size(); ++i) {
        const Probe& pr = c.probes[i];
        const uint32_t got_out = out->classify(pr.pkt.key());
        const uint32_t got_in = in->classify(pr.pkt.mirrored_key());  // the reply direction
        const uint32_t ref = reference(c.cfg, pr.pkt);
        if (got_out != pr.expect || got_in != pr.expect || ref != pr.expect)
            std::printf("\n  case %d (%s) probe %zu: out %d in %d reference %d want %d", c.n,
                        c.what, i + 1, static_cast<int>(got_out), static_cast<int>(got_in),
                        static_cast<int>(ref), static_cast<int>(pr.expect));
        CU_ASSERT_EQUAL(got_out, pr.expect);
        CU_ASSERT_EQUAL(got_in, pr.expect);
        CU_ASSERT_EQUAL(ref, pr.expect);
    }
}

}  // namespace

PG_TEST(classifier, table) {
    for (ClassifierImpl impl : {ClassifierImpl::acl, ClassifierImpl::linear, ClassifierImpl::automatic}) {
        g_impl = impl;
        for (const Case& c : cases()) run_case(c);
    }
    g_impl = ClassifierImpl::automatic;
}

// Small rule sets take the linear walk, large ones rte_acl, unless forced.
PG_TEST(classifier, automatic_choice) {
    std::vector<MapEntrySpec> cfg;
    for (uint32_t i = 0; i < Classifier::kLinearMaxAces; ++i)
        cfg.push_back({i + 1, {permit(ANY, host(ip4(10, 1, 0, uint8_t(i))), kAny)}});
    auto small = Classifier::build(cfg, Direction::outbound);
    CU_ASSERT_FATAL(small.classifier != nullptr);
    CU_ASSERT_TRUE(small.classifier->stats().linear);
    CU_ASSERT_EQUAL(small.classifier->stats().contexts, 0u);
    cfg.push_back({100, {permit(ANY, kAny, kAny)}});
    auto large = Classifier::build(cfg, Direction::outbound);
    CU_ASSERT_FATAL(large.classifier != nullptr);
    CU_ASSERT_FALSE(large.classifier->stats().linear);
    CU_ASSERT_EQUAL(large.classifier->stats().contexts, 1u);
    auto forced = Classifier::build(cfg, Direction::outbound, -1, ClassifierImpl::linear);
    CU_ASSERT_TRUE(forced.classifier && forced.classifier->stats().linear);
    CU_ASSERT_EQUAL(large.classifier->classify(make_flow_key(TCP, ip4(10, 1, 0, 3), D, 1, 2)), 3u);
    CU_ASSERT_EQUAL(forced.classifier->classify(make_flow_key(TCP, ip4(10, 1, 0, 3), D, 1, 2)), 3u);
    CU_ASSERT_EQUAL(forced.classifier->classify(make_flow_key(TCP, D, D, 1, 2)), 16u);
}

PG_TEST(classifier, build_errors) {
    struct Bad {
        std::vector<MapEntrySpec> cfg;
        const char* error;
    };
    const std::vector<Bad> bad = {
        {{{10, {}}, {10, {}}}, "crypto map entry seq 10: duplicate sequence number"},
        {{{10, {permit(ANY, pfx(A, 33), kAny)}}}, "crypto map entry seq 10 ACE 1: prefix length > 32"},
        {{{10, {permit(TCP, kAny, kAny), permit(TCP, kAny, kAny, {5, 4})}}},
         "crypto map entry seq 10 ACE 2: port range lo > hi"},
        {{{7, {permit(ANY, kAny, kAny, kAllPorts, {80, 80})}}},
         "crypto map entry seq 7 ACE 1: port range on protocol 0 (only tcp/udp have ports)"},
        {{{7, {permit(ICMP, kAny, kAny, {1, 1})}}},
         "crypto map entry seq 7 ACE 1: port range on protocol 1 (only tcp/udp have ports)"},
    };
    for (const Bad& b : bad) {
        auto r = Classifier::build(b.cfg, Direction::outbound);
        CU_ASSERT_TRUE(r.classifier == nullptr);
        PG_ASSERT_STR_EQ(r.error, b.error);
    }
}

// A decrypted inner packet is checked against its SA's entry alone (mirrored).
PG_TEST(classifier, entry_permits_inner_check) {
    const std::vector<MapEntrySpec> cfg = {
        {10, {deny(TCP, kAny, kAny, kAllPorts, {22, 22}), permit(ANY, pfx(A, 8), pfx(B, 8))}},
        {20, {permit(ANY, pfx(A, 8), kAny)}},
    };
    auto in = must_build(cfg, Direction::inbound);
    CU_ASSERT_FATAL(in != nullptr);
    // From the peer: B -> A is the reply direction of entry 10's A -> B.
    CU_ASSERT_TRUE(in->entry_permits(make_flow_key(UDP, B, A, 53, 4000), 0));
    CU_ASSERT_FALSE(in->entry_permits(make_flow_key(TCP, B, A, 22, 4000), 0));  // mirrored deny (ACE 1)
    CU_ASSERT_TRUE(in->entry_permits(make_flow_key(TCP, B, A, 4000, 22), 0));   // mirrored: sport 22 only
    CU_ASSERT_FALSE(in->entry_permits(make_flow_key(TCP, A, B, 4000, 80), 0));  // wrong direction
    CU_ASSERT_TRUE(in->entry_permits(make_flow_key(TCP, D, A, 4000, 22), 1));
    CU_ASSERT_FALSE(in->entry_permits(make_flow_key(TCP, D, A, 4000, 22), 0));
    CU_ASSERT_FALSE(in->entry_permits(make_flow_key(TCP, D, A, 4000, 22), 99));  // no such entry
    // Clear-text drop rule: a packet the mirrored map would protect must not arrive in clear.
    CU_ASSERT_EQUAL(in->classify(make_flow_key(UDP, B, A, 53, 4000)), 0u);
    CU_ASSERT_EQUAL(in->classify(make_flow_key(UDP, A, D, 53, 4000)), BYPASS);
}

// 1000 entries with one host-pair ACE each: one context, any entry is found.
PG_TEST(classifier, thousand_entries) {
    std::vector<MapEntrySpec> cfg;
    for (uint32_t i = 0; i < 1000; ++i)
        cfg.push_back({10 * (1000 - i),  // listed in reverse sequence order on purpose
                       {permit(ANY, host(ip4(10, 1, i / 256, i % 256)), pfx(ip4(172, 16, i / 256, 0), 24))}});
    auto c = must_build(cfg, Direction::outbound);
    CU_ASSERT_FATAL(c != nullptr);
    const ClassifierStats& s = c->stats();
    CU_ASSERT_EQUAL(s.entries, 1000u);
    CU_ASSERT_EQUAL(s.contexts, 1u);
    CU_ASSERT_EQUAL(s.resume_points, 1u);
    std::printf("\n    1000 entries: build %.2f ms, %zu KiB DPDK heap, %u acl rules ",
                static_cast<double>(s.build_ns) / 1e6, s.memory_bytes / 1024, s.acl_rules);
    std::vector<FlowKey> keys;
    std::vector<uint32_t> want;
    for (uint32_t i = 0; i < 1000; i += 7) {
        keys.push_back(make_flow_key(TCP, ip4(10, 1, i / 256, i % 256), ip4(172, 16, i / 256, 9), 1, 2));
        want.push_back(i);
        keys.push_back(make_flow_key(TCP, ip4(10, 1, i / 256, i % 256), ip4(172, 17, 0, 9), 1, 2));
        want.push_back(BYPASS);
    }
    std::vector<const FlowKey*> ptrs;
    for (auto& k : keys) ptrs.push_back(&k);
    std::vector<uint32_t> got(keys.size());
    c->classify_burst(ptrs.data(), static_cast<uint32_t>(ptrs.size()), got.data());
    CU_ASSERT_TRUE(got == want);
}

// 20 deny-bearing entries: 21 resume points -> 2 chained rte_acl contexts.
PG_TEST(classifier, twenty_deny_entries_chain_contexts) {
    std::vector<MapEntrySpec> cfg;
    for (uint32_t i = 0; i < 20; ++i)
        cfg.push_back({i + 1, {permit(ANY, pfx(ip4(10, 0, 0, 0), 24), pfx(ip4(172, 16, i, 0), 24)),
                               deny(ANY, pfx(ip4(10, 0, 0, 0), 24), kAny)}});
    cfg.push_back({100, {permit(ANY, pfx(ip4(10, 0, 0, 0), 16), kAny)}});
    for (Direction dir : {Direction::outbound, Direction::inbound}) {
        auto c = must_build(cfg, dir);
        CU_ASSERT_FATAL(c != nullptr);
        CU_ASSERT_EQUAL(c->stats().deny_entries, 20u);
        CU_ASSERT_EQUAL(c->stats().resume_points, 21u);
        CU_ASSERT_EQUAL(c->stats().contexts, 2u);
        if (dir == Direction::outbound)
            std::printf("\n    20 deny entries: build %.2f ms, %zu KiB DPDK heap, %u acl rules ",
                        static_cast<double>(c->stats().build_ns) / 1e6,
                        c->stats().memory_bytes / 1024, c->stats().acl_rules);
        for (uint32_t i = 0; i < 20; ++i) {
            const Pkt p{TCP, ip4(10, 0, 0, 5), ip4(172, 16, i, 1), 1, 2};
            const FlowKey k = dir == Direction::outbound ? p.key() : p.mirrored_key();
            CU_ASSERT_EQUAL(c->classify(k), i);
        }
        const Pkt far{TCP, ip4(10, 0, 0, 5), ip4(8, 8, 8, 8), 1, 2};  // denied by all 20
        const Pkt other{TCP, ip4(10, 0, 1, 5), ip4(8, 8, 8, 8), 1, 2};  // no deny matches
        const Pkt none{TCP, ip4(11, 0, 0, 5), ip4(8, 8, 8, 8), 1, 2};
        auto k = [dir](const Pkt& p) { return dir == Direction::outbound ? p.key() : p.mirrored_key(); };
        CU_ASSERT_EQUAL(c->classify(k(far)), 20u);
        CU_ASSERT_EQUAL(c->classify(k(other)), 20u);
        CU_ASSERT_EQUAL(c->classify(k(none)), BYPASS);
    }
    // 40 deny-bearing entries without a catch-all: three contexts, last walk ends in BYPASS.
    cfg.pop_back();
    for (uint32_t i = 20; i < 40; ++i)
        cfg.push_back({i + 1, {permit(ANY, pfx(ip4(10, 0, 0, 0), 24), pfx(ip4(172, 16, i, 0), 24)),
                               deny(ANY, pfx(ip4(10, 0, 0, 0), 24), kAny)}});
    auto c = must_build(cfg, Direction::outbound);
    CU_ASSERT_FATAL(c != nullptr);
    CU_ASSERT_EQUAL(c->stats().contexts, 3u);
    for (uint32_t i = 0; i < 40; ++i)
        CU_ASSERT_EQUAL(c->classify(make_flow_key(UDP, ip4(10, 0, 0, 1), ip4(172, 16, i, 1), 1, 2)), i);
    CU_ASSERT_EQUAL(c->classify(make_flow_key(UDP, ip4(10, 0, 0, 1), ip4(8, 8, 8, 8), 1, 2)), BYPASS);
}

// Random configs x random packets against the naive reference, both directions, bursts
// of random sizes (crossing the 64-key chunk), plus the per-entry inner check.
PG_TEST(classifier, cross_check_random_200k) {
    std::mt19937 rng(0xc1a55);
    // Small pools so that rules and packets collide often.
    const uint32_t nets[] = {ip4(10, 0, 0, 0), ip4(10, 0, 1, 0), ip4(10, 1, 0, 0),
                             ip4(192, 168, 0, 0), ip4(172, 16, 5, 0), ip4(0, 0, 0, 0)};
    const uint8_t lens[] = {0, 8, 16, 24, 28, 32};
    const uint8_t protos[] = {ANY, TCP, UDP, ICMP, ESP};
    auto rnd_prefix = [&] {
        const uint32_t base = nets[rng() % std::size(nets)] | (rng() % 64);
        const uint8_t len = lens[rng() % std::size(lens)];
        return Ipv4Prefix{base, len};
    };
    auto rnd_range = [&] {
        switch (rng() % 4) {
            case 0: { const uint16_t p = static_cast<uint16_t>(rng() % 40); return PortRange{p, p}; }
            case 1: { const uint16_t a = static_cast<uint16_t>(rng() % 40);
                      return PortRange{a, static_cast<uint16_t>(a + rng() % 20)}; }
            default: return kAllPorts;
        }
    };
    auto rnd_addr = [&] {
        return static_cast<uint32_t>(nets[rng() % std::size(nets)] | (rng() % 64) | ((rng() % 3) << 8));
    };
    const unsigned entry_counts[] = {1, 3, 8, 16, 17, 25, 40, 60, 5, 33};
    uint64_t checked = 0, mismatches = 0;
    // Every config twice: once on rte_acl, once on the linear walk.
    for (unsigned round = 0; round < 2 * std::size(entry_counts); ++round) {
        g_impl = round < std::size(entry_counts) ? ClassifierImpl::acl : ClassifierImpl::linear;
        std::vector<MapEntrySpec> cfg;
        for (unsigned e = 0; e < entry_counts[round % std::size(entry_counts)]; ++e) {
            MapEntrySpec m{static_cast<uint32_t>(rng() % 100000), {}};
            const unsigned n_aces = rng() % 5;  // 0..4 ACEs, some entries empty
            for (unsigned j = 0; j < n_aces; ++j) {
                const uint8_t proto = protos[rng() % std::size(protos)];
                const bool ports = proto == TCP || proto == UDP;
                const AceAction act = rng() % 3 == 0 ? AceAction::deny : AceAction::permit;
                m.aces.push_back({act, proto, rnd_prefix(), rnd_prefix(),
                                  ports ? rnd_range() : kAllPorts, ports ? rnd_range() : kAllPorts});
            }
            cfg.push_back(std::move(m));
        }
        // Make sequence numbers unique.
        for (unsigned e = 0; e < cfg.size(); ++e) cfg[e].seq = cfg[e].seq * 64 + e;
        auto out = must_build(cfg, Direction::outbound);
        auto in = must_build(cfg, Direction::inbound);
        CU_ASSERT_FATAL(out && in);
        std::vector<Pkt> pkts(10000);
        for (auto& p : pkts) {
            const uint8_t proto = protos[1 + rng() % (std::size(protos) - 1)];
            const bool ports = proto == TCP || proto == UDP;
            p = {proto, rnd_addr(), rnd_addr(), static_cast<uint16_t>(ports ? rng() % 64 : 0),
                 static_cast<uint16_t>(ports ? rng() % 64 : 0)};
        }
        std::vector<FlowKey> ko(pkts.size()), ki(pkts.size());
        std::vector<const FlowKey*> po(pkts.size()), pi(pkts.size());
        for (size_t i = 0; i < pkts.size(); ++i) {
            ko[i] = pkts[i].key();
            ki[i] = pkts[i].mirrored_key();
            po[i] = &ko[i];
            pi[i] = &ki[i];
        }
        std::vector<uint32_t> ro(pkts.size()), ri(pkts.size());
        for (size_t base = 0; base < pkts.size();) {
            const auto n = static_cast<uint32_t>(std::min<size_t>(1 + rng() % 200, pkts.size() - base));
            out->classify_burst(po.data() + base, n, ro.data() + base);
            in->classify_burst(pi.data() + base, n, ri.data() + base);
            base += n;
        }
        for (size_t i = 0; i < pkts.size(); ++i) {
            const uint32_t ref = reference(cfg, pkts[i]);
            ++checked;
            if (ro[i] != ref || ri[i] != ref) {
                if (++mismatches <= 5)
                    std::printf("\n  round %u pkt %zu: out %d in %d reference %d", round, i,
                                static_cast<int>(ro[i]), static_cast<int>(ri[i]), static_cast<int>(ref));
            }
            if (g_impl == ClassifierImpl::linear) {  // the worker's path: parsed fields, no key
                ParsedPkt pp;
                pp.ip_proto = pkts[i].proto;
                pp.src_ip = pkts[i].src;
                pp.dst_ip = pkts[i].dst;
                pp.sport = uint16_t(rng());  // ignored unless TCP/UDP (the key zeroes them)
                pp.dport = uint16_t(rng());
                if (pkts[i].proto == TCP || pkts[i].proto == UDP) pp.sport = pkts[i].sport, pp.dport = pkts[i].dport;
                if (out->classify_linear(pp) != ref) ++mismatches;
            }
            {  // the inner check from parsed fields, as the worker calls it
                ParsedPkt pi;
                pi.ip_proto = pkts[i].proto;
                pi.src_ip = pkts[i].dst;  // the mirrored packet: from the peer's side
                pi.dst_ip = pkts[i].src;
                if (pkts[i].proto == TCP || pkts[i].proto == UDP) pi.sport = pkts[i].dport, pi.dport = pkts[i].sport;
                const uint32_t e2 = rng() % static_cast<uint32_t>(cfg.size());
                if (in->entry_permits(pi, e2) != reference_entry_permits(cfg[e2], pkts[i])) ++mismatches;
            }
            const uint32_t e = rng() % static_cast<uint32_t>(cfg.size());
            if (in->entry_permits(ki[i], e) != reference_entry_permits(cfg[e], pkts[i])) ++mismatches;
        }
    }
    g_impl = ClassifierImpl::automatic;
    CU_ASSERT_EQUAL(checked, 200000u);
    CU_ASSERT_EQUAL(mismatches, 0u);
}

PG_TEST(classifier, flow_key_from_parsed_packet) {
    using namespace pgtest::dataplane;
    const Bytes f = ipv4_frame(17, A, B, udp(1234, 4321, {1, 2, 3}));
    const ParsedPkt p = parse_frame(f.data(), f.size());
    const FlowKey k = make_flow_key(p);
    const FlowKey want = make_flow_key(UDP, A, B, 1234, 4321);
    CU_ASSERT_EQUAL(std::memcmp(&k, &want, sizeof(k)), 0);
    const Bytes g = ipv4_frame(1, A, B, icmp_echo());
    const FlowKey ki = make_flow_key(parse_frame(g.data(), g.size()));
    CU_ASSERT_EQUAL(ki.sport, 0);
    CU_ASSERT_EQUAL(ki.dport, 0);
    CU_ASSERT_EQUAL(ki.proto, ICMP);
}

// Contexts are freed by RAII and names never collide: build/destroy many times.
PG_TEST(classifier, many_builds_unique_names) {
    const std::vector<MapEntrySpec> cfg = {{1, {deny(ANY, host(A), kAny)}}, {2, {permit(ANY, kAny, kAny)}}};
    g_impl = ClassifierImpl::acl;  // rte_acl contexts are what is named and freed
    for (int i = 0; i < 200; ++i) {
        auto c = must_build(cfg, i % 2 ? Direction::inbound : Direction::outbound);
        CU_ASSERT_FATAL(c != nullptr);
        CU_ASSERT_EQUAL(c->classify(make_flow_key(TCP, C, B, 1, 2)), 1u);
    }
    g_impl = ClassifierImpl::automatic;
}
