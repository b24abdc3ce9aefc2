// dataplane/routes.cpp - see routes.hpp.
#include "dataplane/routes.hpp"

#include <rte_errno.h>
#include <rte_lpm.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <set>
#include <utility>

namespace peregrine::dataplane {

namespace {
// rte_lpm object names must be unique in the process (global tailq).
std::atomic<uint32_t> g_lpm_serial{0};

constexpr uint32_t prefix_mask(uint8_t len) {
    return len == 0 ? 0 : len >= 32 ? 0xffffffffu : ~(0xffffffffu >> len);
}
constexpr uint8_t kTbl24Depth = 24;  // prefixes longer than this need a tbl8 group
constexpr uint32_t kLpmNextHopMask = 0x00ffffffu;  // rte_lpm next hops are 24 bits
}  // namespace

void RouteTable::LpmDeleter::operator()(rte_lpm* l) const noexcept { rte_lpm_free(l); }

RouteTable::~RouteTable() = default;

RouteTable::BuildResult RouteTable::build(std::span<const RouteSpec> routes, int socket_id) {
    BuildResult res;
    auto t = std::make_unique<RouteTable>(Passkey{});
    std::set<std::pair<uint32_t, uint8_t>> seen;
    std::set<uint32_t> tbl8_groups;  // distinct /24s covering prefixes longer than /24
    for (const RouteSpec& r : routes) {
        if (r.len > 32) {
            res.error = "route prefix length " + std::to_string(r.len) + " > 32";
            return res;
        }
        const uint32_t net = r.prefix & prefix_mask(r.len);
        if (!seen.emplace(net, r.len).second) {
            char buf[64];
            std::snprintf(buf, sizeof(buf), "duplicate route %u.%u.%u.%u/%u", net >> 24,
                          (net >> 16) & 0xff, (net >> 8) & 0xff, net & 0xff, r.len);
            res.error = buf;
            return res;
        }
        if (r.len > kTbl24Depth) tbl8_groups.insert(net >> 8);
    }
    t->routes_ = static_cast<uint32_t>(routes.size());
    auto nh_index = [&t](const RouteSpec& r) -> uint32_t {
        const NextHop nh{r.port, r.gateway};
        auto it = std::find(t->next_hops_.begin(), t->next_hops_.end(), nh);
        if (it != t->next_hops_.end()) return static_cast<uint32_t>(it - t->next_hops_.begin());
        if (t->next_hops_.size() >= kMaxNextHops) return kNoRoute;
        t->next_hops_.push_back(nh);
        return static_cast<uint32_t>(t->next_hops_.size() - 1);
    };
    const size_t lpm_routes =
        routes.size() - static_cast<size_t>(std::count_if(routes.begin(), routes.end(),
                                                          [](const RouteSpec& r) { return r.len == 0; }));
    for (const RouteSpec& r : routes)
        if (r.len == 0) t->default_nh_ = nh_index(r);
    if (lpm_routes == 0) {
        res.table = std::move(t);
        return res;
    }

    char name[RTE_LPM_NAMESIZE];
    std::snprintf(name, sizeof(name), "pglpm-%u", g_lpm_serial.fetch_add(1));
    rte_lpm_config cfg{};
    cfg.max_rules = static_cast<uint32_t>(lpm_routes);
    cfg.number_tbl8s = static_cast<uint32_t>(tbl8_groups.size()) + 1;
    cfg.flags = 0;
    t->lpm_.reset(rte_lpm_create(name, socket_id, &cfg));
    if (!t->lpm_) {
        res.error = std::string("rte_lpm_create ") + name + " failed (rte_errno " +
                    std::to_string(rte_errno) + ")";
        return res;
    }
    for (const RouteSpec& r : routes) {
        if (r.len == 0) continue;
        const uint32_t idx = nh_index(r);
        if (idx == kNoRoute) {
            res.error = "too many distinct next hops";
            return res;
        }
        const int rc = rte_lpm_add(t->lpm_.get(), r.prefix & prefix_mask(r.len), r.len, idx);
        if (rc != 0) {
            res.error = "rte_lpm_add failed: error " + std::to_string(rc);
            return res;
        }
    }
    res.table = std::move(t);
    return res;
}

uint32_t RouteTable::lookup(uint32_t dst) const noexcept {
    uint32_t nh = 0;
    if (!lpm_ || rte_lpm_lookup(lpm_.get(), dst, &nh) != 0) return default_nh_;
    return nh;
}

void RouteTable::lookup_bulk(const uint32_t dst[], uint32_t n, uint32_t out[]) const noexcept {
    if (!lpm_) {
        for (uint32_t i = 0; i < n; ++i) out[i] = default_nh_;
        return;
    }
    for (uint32_t base = 0; base < n; base += kBulk) {
        const uint32_t m = std::min(kBulk, n - base);
        rte_lpm_lookup_bulk(lpm_.get(), dst + base, out + base, m);
        for (uint32_t i = base; i < base + m; ++i)
            out[i] = (out[i] & RTE_LPM_LOOKUP_SUCCESS) ? (out[i] & kLpmNextHopMask) : default_nh_;
    }
}

}  // namespace peregrine::dataplane
