// dataplane/routes.hpp - static IPv4 routes on rte_lpm (longest prefix match).
//
// Built on the control core from a route list, published to workers as an immutable
// table (rebuild + publish on change; no in-place updates under readers). A lookup
// yields a next-hop index into next_hops(): {port, gateway}; gateway 0 = directly
// connected (the packet's own destination is the neighbour to resolve).
// rte_lpm takes depths 1..32 only: the default route (/0) is kept beside it and is
// what a miss resolves to.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct rte_lpm;

namespace peregrine::dataplane {

struct RouteSpec {
    uint32_t prefix = 0;   // host byte order; host bits are ignored
    uint8_t len = 0;       // 0..32 (0 = default route)
    uint16_t port = 0;     // DPDK port id
    uint32_t gateway = 0;  // host byte order; 0 = connected
};

struct NextHop {
    uint16_t port = 0;
    uint32_t gateway = 0;
    friend bool operator==(const NextHop&, const NextHop&) = default;
};

class RouteTable {
public:
    static constexpr uint32_t kNoRoute = 0xffffffffu;  // lookup miss
    static constexpr uint32_t kMaxNextHops = 1u << 24;  // rte_lpm stores 24-bit next hops
    static constexpr uint32_t kBulk = 32;                // addresses per rte_lpm bulk call

    struct BuildResult {
        std::unique_ptr<RouteTable> table;  // null on error
        std::string error;
    };
    // Control core only. Duplicate prefixes (same network and length) are an error.
    static BuildResult build(std::span<const RouteSpec> routes, int socket_id = -1);

    // Hot path. dst in host byte order. Returns a next-hop index or kNoRoute.
    uint32_t lookup(uint32_t dst) const noexcept;
    // Hot path. out[i] = next-hop index or kNoRoute.
    void lookup_bulk(const uint32_t dst[], uint32_t n, uint32_t out[]) const noexcept;

    const NextHop& next_hop(uint32_t index) const { return next_hops_[index]; }
    std::span<const NextHop> next_hops() const { return next_hops_; }
    uint32_t route_count() const { return routes_; }

    ~RouteTable();
    RouteTable(const RouteTable&) = delete;
    RouteTable& operator=(const RouteTable&) = delete;

    struct Passkey {
    private:
        Passkey() = default;
        friend class RouteTable;
    };
    explicit RouteTable(Passkey) {}

private:
    struct LpmDeleter {
        void operator()(rte_lpm* l) const noexcept;
    };
    std::unique_ptr<rte_lpm, LpmDeleter> lpm_;  // null when there are no /1../32 routes
    std::vector<NextHop> next_hops_;             // deduplicated
    uint32_t default_nh_ = kNoRoute;             // the /0 route (rte_lpm depth is 1..32)
    uint32_t routes_ = 0;
};

}  // namespace peregrine::dataplane
