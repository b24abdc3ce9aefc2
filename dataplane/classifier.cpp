// dataplane/classifier.cpp - see classifier.hpp for the semantics and the category scheme.
#include "dataplane/classifier.hpp"

#include <rte_acl.h>
#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_memory.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <numeric>

namespace peregrine::dataplane {

namespace {

enum : uint8_t { kFieldProto, kFieldSrc, kFieldDst, kFieldSport, kFieldDport, kNumFields };

RTE_ACL_RULE_DEF(PgAclRule, kNumFields);

// Field layout of FlowKey; rte_acl consumes the first byte alone, then 4-byte groups
// (input_index): proto | src | dst | sport+dport.
rte_acl_config make_acl_config(uint32_t categories) {
    rte_acl_config cfg{};
    cfg.num_categories = categories;
    cfg.num_fields = kNumFields;
    cfg.defs[kFieldProto] = {RTE_ACL_FIELD_TYPE_BITMASK, sizeof(uint8_t), kFieldProto, 0,
                             offsetof(FlowKey, proto)};
    cfg.defs[kFieldSrc] = {RTE_ACL_FIELD_TYPE_MASK, sizeof(uint32_t), kFieldSrc, 1,
                           offsetof(FlowKey, src)};
    cfg.defs[kFieldDst] = {RTE_ACL_FIELD_TYPE_MASK, sizeof(uint32_t), kFieldDst, 2,
                           offsetof(FlowKey, dst)};
    cfg.defs[kFieldSport] = {RTE_ACL_FIELD_TYPE_RANGE, sizeof(uint16_t), kFieldSport, 3,
                             offsetof(FlowKey, sport)};
    cfg.defs[kFieldDport] = {RTE_ACL_FIELD_TYPE_RANGE, sizeof(uint16_t), kFieldDport, 3,
                             offsetof(FlowKey, dport)};
    cfg.max_size = 0;  // no limit on the run-time structures
    return cfg;
}

// rte_acl context names must be unique in the process (they live in a global tailq).
std::atomic<uint32_t> g_ctx_serial{0};

constexpr uint32_t prefix_mask(uint8_t len) {
    return len == 0 ? 0 : len >= 32 ? 0xffffffffu : ~(0xffffffffu >> len);
}

size_t dpdk_heap_allocated() {
    size_t total = 0;
    for (unsigned i = 0; i < rte_socket_count(); ++i) {
        rte_malloc_socket_stats s{};
        if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &s) == 0)
            total += s.heap_allocsz_bytes;
    }
    return total;
}

// The ACE as the classifier sees it: mirrored for inbound.
AceSpec oriented(const AceSpec& a, Direction dir) {
    if (dir == Direction::outbound) return a;
    AceSpec m = a;
    std::swap(m.src, m.dst);
    std::swap(m.sport, m.dport);
    return m;
}

}  // namespace

void Classifier::AclCtxDeleter::operator()(rte_acl_ctx* c) const noexcept { rte_acl_free(c); }

Classifier::~Classifier() = default;

Classifier::BuildResult Classifier::build(std::span<const MapEntrySpec> entries, Direction dir,
                                          int socket_id, ClassifierImpl impl) {
    const auto t0 = std::chrono::steady_clock::now();
    const size_t heap0 = dpdk_heap_allocated();
    BuildResult res;
    auto fail = [&res](std::string msg) {
        res.classifier.reset();
        res.error = std::move(msg);
        return std::move(res);
    };

    // ---- validate, order entries by sequence number
    const auto n_entries = static_cast<uint32_t>(entries.size());
    std::vector<uint32_t> order(n_entries);
    std::iota(order.begin(), order.end(), 0u);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return entries[a].seq < entries[b].seq; });
    size_t total_aces = 0;
    for (uint32_t i = 0; i < n_entries; ++i) {
        const MapEntrySpec& e = entries[order[i]];
        if (i > 0 && entries[order[i - 1]].seq == e.seq)
            return fail("crypto map entry seq " + std::to_string(e.seq) + ": duplicate sequence number");
        for (size_t j = 0; j < e.aces.size(); ++j) {
            const AceSpec& a = e.aces[j];
            const std::string where =
                "crypto map entry seq " + std::to_string(e.seq) + " ACE " + std::to_string(j + 1);
            if (a.src.len > 32 || a.dst.len > 32) return fail(where + ": prefix length > 32");
            if (a.sport.lo > a.sport.hi || a.dport.lo > a.dport.hi)
                return fail(where + ": port range lo > hi");
            if ((!a.sport.any() || !a.dport.any()) && a.proto != wire::kProtoTcp &&
                a.proto != wire::kProtoUdp)
                return fail(where + ": port range on protocol " + std::to_string(a.proto) +
                            " (only tcp/udp have ports)");
        }
        total_aces += e.aces.size();
    }
    // Priorities count down from the top, one per ACE.
    if (total_aces >= static_cast<size_t>(RTE_ACL_MAX_PRIORITY - RTE_ACL_MIN_PRIORITY))
        return fail("too many ACEs (" + std::to_string(total_aces) + ")");

    auto self = std::make_unique<Classifier>(Passkey{});
    Classifier& c = *self;
    c.dir_ = dir;
    c.entry_seq_.resize(n_entries);
    c.entry_first_ace_.resize(n_entries);
    c.entry_ace_count_.resize(n_entries);
    for (uint32_t i = 0; i < n_entries; ++i) c.entry_seq_[i] = entries[i].seq;

    // ---- resume points: R[0] = position 0; a deny-bearing entry at position p adds p + 1
    std::vector<uint32_t> resume{0};                   // positions in sequence order
    std::vector<uint32_t> resume_after(n_entries, kNoResume);  // by position
    uint32_t deny_entries = 0;
    for (uint32_t p = 0; p < n_entries; ++p) {
        const auto& aces = entries[order[p]].aces;
        const bool has_deny = std::any_of(aces.begin(), aces.end(), [](const AceSpec& a) {
            return a.action == AceAction::deny;
        });
        if (!has_deny) continue;
        ++deny_entries;
        if (p + 1 < n_entries) {
            resume_after[p] = static_cast<uint32_t>(resume.size());
            resume.push_back(p + 1);
        }
    }

    // ---- per-ACE info (global position = userdata - 1) and host-order copies
    c.rules_.reserve(total_aces);
    c.host_aces_.reserve(total_aces);
    for (uint32_t p = 0; p < n_entries; ++p) {
        const uint32_t ei = order[p];
        c.entry_first_ace_[ei] = static_cast<uint32_t>(c.rules_.size());
        c.entry_ace_count_[ei] = static_cast<uint32_t>(entries[ei].aces.size());
        for (const AceSpec& raw : entries[ei].aces) {
            const AceSpec a = oriented(raw, dir);
            const bool permit = a.action == AceAction::permit;
            c.rules_.push_back({ei, permit ? kNoResume : resume_after[p], permit});
            const uint32_t sm = prefix_mask(a.src.len), dm = prefix_mask(a.dst.len);
            c.host_aces_.push_back({a.src.addr & sm, sm, a.dst.addr & dm, dm, a.sport.lo,
                                    a.sport.hi, a.dport.lo, a.dport.hi, a.proto, permit});
        }
    }

    // ---- one rte_acl context per 16 resume points (none for the linear walk)
    c.linear_ = impl == ClassifierImpl::linear ||
                (impl == ClassifierImpl::automatic && total_aces <= kLinearMaxAces);
    const auto n_resume = static_cast<uint32_t>(resume.size());
    const uint32_t n_ctx = c.linear_ ? 0 : (n_resume + kCatsPerContext - 1) / kCatsPerContext;
    c.contexts_.resize(n_ctx);
    uint32_t acl_rules = 0;
    std::vector<PgAclRule> acl;
    for (uint32_t k = 0; k < n_ctx; ++k) {
        const uint32_t first_r = k * kCatsPerContext;
        const uint32_t cats = std::min(kCatsPerContext, n_resume - first_r);
        Context& ctx = c.contexts_[k];
        ctx.categories = cats == 1 ? 1
                                   : (cats + RTE_ACL_RESULTS_MULTIPLIER - 1) /
                                         RTE_ACL_RESULTS_MULTIPLIER * RTE_ACL_RESULTS_MULTIPLIER;
        acl.clear();
        const uint32_t first_pos = resume[first_r];
        for (uint32_t p = first_pos; p < n_entries; ++p) {
            uint32_t mask = 0;
            for (uint32_t cat = 0; cat < cats; ++cat)
                if (p >= resume[first_r + cat]) mask |= 1u << cat;
            const uint32_t ei = order[p];
            for (uint32_t j = 0; j < c.entry_ace_count_[ei]; ++j) {
                const uint32_t g = c.entry_first_ace_[ei] + j;  // global ACE position
                const HostAce& h = c.host_aces_[g];
                PgAclRule r{};
                r.data.category_mask = mask;
                r.data.priority = static_cast<int32_t>(RTE_ACL_MAX_PRIORITY - g);
                r.data.userdata = g + 1;
                r.field[kFieldProto].value.u8 = h.proto;
                r.field[kFieldProto].mask_range.u8 = h.proto == 0 ? 0 : 0xff;
                r.field[kFieldSrc].value.u32 = h.src;
                r.field[kFieldSrc].mask_range.u32 = static_cast<uint32_t>(std::popcount(h.src_mask));
                r.field[kFieldDst].value.u32 = h.dst;
                r.field[kFieldDst].mask_range.u32 = static_cast<uint32_t>(std::popcount(h.dst_mask));
                r.field[kFieldSport].value.u16 = h.sport_lo;
                r.field[kFieldSport].mask_range.u16 = h.sport_hi;
                r.field[kFieldDport].value.u16 = h.dport_lo;
                r.field[kFieldDport].mask_range.u16 = h.dport_hi;
                acl.push_back(r);
            }
        }
        if (acl.empty()) continue;  // nothing to match from here on: every walk ends in BYPASS

        char name[RTE_ACL_NAMESIZE];
        std::snprintf(name, sizeof(name), "pgacl-%u-%u", g_ctx_serial.fetch_add(1), k);
        rte_acl_param prm{};
        prm.name = name;
        prm.socket_id = socket_id;
        prm.rule_size = RTE_ACL_RULE_SZ(kNumFields);
        prm.max_rule_num = static_cast<uint32_t>(acl.size());
        ctx.acl.reset(rte_acl_create(&prm));
        if (!ctx.acl) return fail(std::string("rte_acl_create ") + name + " failed (rte_errno " +
                                  std::to_string(rte_errno) + ")");
        int rc = rte_acl_add_rules(ctx.acl.get(), reinterpret_cast<const rte_acl_rule*>(acl.data()),
                                   static_cast<uint32_t>(acl.size()));
        if (rc != 0) return fail("rte_acl_add_rules: error " + std::to_string(rc));
        const rte_acl_config cfg = make_acl_config(ctx.categories);
        rc = rte_acl_build(ctx.acl.get(), &cfg);
        if (rc != 0) return fail("rte_acl_build: error " + std::to_string(rc));
        acl_rules += static_cast<uint32_t>(acl.size());
    }

    c.stats_.entries = n_entries;
    c.stats_.aces = static_cast<uint32_t>(total_aces);
    c.stats_.deny_entries = deny_entries;
    c.stats_.resume_points = n_resume;
    c.stats_.contexts = n_ctx;
    c.stats_.linear = c.linear_;
    c.stats_.acl_rules = acl_rules;
    const size_t heap1 = dpdk_heap_allocated();
    c.stats_.memory_bytes = heap1 > heap0 ? heap1 - heap0 : 0;
    c.stats_.build_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
            .count());
    res.classifier = std::move(self);
    return res;
}

// The semantics spelled out: ACEs in global (sequence, then list) order; the first
// match of an entry decides it: permit -> that entry; deny -> skip to the next entry.
uint32_t Classifier::classify_linear(const FlowKey& key) const noexcept {
    return linear_walk(key.proto, rte_be_to_cpu_32(key.src), rte_be_to_cpu_32(key.dst),
                       rte_be_to_cpu_16(key.sport), rte_be_to_cpu_16(key.dport));
}

uint32_t Classifier::classify_linear(const ParsedPkt& p) const noexcept {
    const bool ports = p.ip_proto == wire::kProtoTcp || p.ip_proto == wire::kProtoUdp;
    return linear_walk(p.ip_proto, p.src_ip, p.dst_ip, ports ? p.sport : 0, ports ? p.dport : 0);
}

uint32_t Classifier::linear_walk(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sp,
                                 uint16_t dp) const noexcept {
    const auto n = static_cast<uint32_t>(host_aces_.size());
    for (uint32_t g = 0; g < n;) {
        const HostAce& a = host_aces_[g];
        if ((a.proto == 0 || a.proto == proto) && (src & a.src_mask) == a.src &&
            (dst & a.dst_mask) == a.dst && sp >= a.sport_lo && sp <= a.sport_hi &&
            dp >= a.dport_lo && dp <= a.dport_hi) {
            const RuleInfo& r = rules_[g];
            if (r.permit) return r.entry;
            g = entry_first_ace_[r.entry] + entry_ace_count_[r.entry];
            continue;
        }
        ++g;
    }
    return kBypass;
}

void Classifier::classify_burst(const FlowKey* const keys[], uint32_t n,
                                uint32_t out[]) const noexcept {
    if (linear_) {
        for (uint32_t i = 0; i < n; ++i) out[i] = classify_linear(*keys[i]);
        return;
    }
    const auto n_ctx = static_cast<uint32_t>(contexts_.size());
    for (uint32_t base = 0; base < n; base += kChunk) {
        const uint32_t m = std::min(kChunk, n - base);
        uint32_t resume[kChunk];  // per key: current resume point, kNoResume once decided
        const uint8_t* data[kChunk];
        uint32_t sel[kChunk];
        uint32_t results[kChunk * kCatsPerContext];
        for (uint32_t i = 0; i < m; ++i) resume[i] = 0;
        if (n_ctx == 0)
            for (uint32_t i = 0; i < m; ++i) out[base + i] = kBypass, resume[i] = kNoResume;

        // Resume points only grow, so each context is visited once per chunk, in order.
        for (uint32_t k = 0; k < n_ctx; ++k) {
            uint32_t cnt = 0;
            for (uint32_t i = 0; i < m; ++i)
                if (resume[i] != kNoResume && resume[i] / kCatsPerContext == k) {
                    sel[cnt] = i;
                    data[cnt] = reinterpret_cast<const uint8_t*>(keys[base + i]);
                    ++cnt;
                }
            if (cnt == 0) continue;
            const Context& ctx = contexts_[k];
            if (!ctx.acl) {  // no rules at or after this context's first resume point
                for (uint32_t t = 0; t < cnt; ++t) {
                    out[base + sel[t]] = kBypass;
                    resume[sel[t]] = kNoResume;
                }
                continue;
            }
            if (rte_acl_classify(ctx.acl.get(), data, results, cnt, ctx.categories) != 0) {
                for (uint32_t t = 0; t < cnt; ++t) {  // fail closed
                    out[base + sel[t]] = kError;
                    resume[sel[t]] = kNoResume;
                }
                continue;
            }
            for (uint32_t t = 0; t < cnt; ++t) {
                const uint32_t i = sel[t];
                uint32_t r = resume[i];
                for (;;) {
                    const uint32_t u = results[t * ctx.categories + r % kCatsPerContext];
                    if (u == 0) {  // nothing matches from this resume point on
                        out[base + i] = kBypass;
                        r = kNoResume;
                        break;
                    }
                    const RuleInfo& ri = rules_[u - 1];
                    if (ri.permit) {
                        out[base + i] = ri.entry;
                        r = kNoResume;
                        break;
                    }
                    r = ri.next_resume;  // deny: this entry does not protect
                    if (r == kNoResume) {
                        out[base + i] = kBypass;
                        break;
                    }
                    if (r / kCatsPerContext != k) break;  // continue in a later context
                }
                resume[i] = r;
            }
        }
    }
}

uint32_t Classifier::classify(const FlowKey& key) const noexcept {
    const FlowKey* keys[1] = {&key};
    uint32_t out = kError;
    classify_burst(keys, 1, &out);
    return out;
}

bool Classifier::entry_permits(const FlowKey& key, uint32_t entry) const noexcept {
    return permits(key.proto, rte_be_to_cpu_32(key.src), rte_be_to_cpu_32(key.dst),
                   rte_be_to_cpu_16(key.sport), rte_be_to_cpu_16(key.dport), entry);
}

bool Classifier::entry_permits(const ParsedPkt& p, uint32_t entry) const noexcept {
    const bool ports = p.ip_proto == wire::kProtoTcp || p.ip_proto == wire::kProtoUdp;
    return permits(p.ip_proto, p.src_ip, p.dst_ip, ports ? p.sport : 0, ports ? p.dport : 0, entry);
}

bool Classifier::permits(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
                         uint32_t entry) const noexcept {
    if (entry >= entry_ace_count_.size()) return false;
    const uint32_t first = entry_first_ace_[entry];
    for (uint32_t j = 0; j < entry_ace_count_[entry]; ++j) {
        const HostAce& a = host_aces_[first + j];
        if ((a.proto == 0 || a.proto == proto) && (src & a.src_mask) == a.src &&
            (dst & a.dst_mask) == a.dst && sp >= a.sport_lo && sp <= a.sport_hi &&
            dp >= a.dport_lo && dp <= a.dport_hi)
            return a.permit;
    }
    return false;
}

void Classifier::dump() const {
    for (const Context& ctx : contexts_)
        if (ctx.acl) rte_acl_dump(ctx.acl.get());
}

}  // namespace peregrine::dataplane
