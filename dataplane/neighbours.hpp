// dataplane/neighbours.hpp - IPv4 -> MAC table for next hops (ARP results).
//
// Immutable once published: the control core learns from ARP replies/requests it
// receives through the punt path, builds a new table and publishes it through RCU.
// Workers only look up (open addressing, linear probing, power-of-two size).
#pragma once

#include <rte_ether.h>

#include <cstdint>
#include <vector>

namespace peregrine::dataplane {

class NeighbourTable {
public:
    struct Entry {
        uint32_t ip = 0;  // host order; 0 = empty slot (0.0.0.0 is never a next hop)
        uint16_t port = 0;
        rte_ether_addr mac{};
    };

    NeighbourTable() : slots_(kMinSlots) {}
    // Copy with one more (or an updated) entry: what the control core publishes.
    NeighbourTable with(uint32_t ip, uint16_t port, const rte_ether_addr& mac) const;

    const Entry* lookup(uint32_t ip) const {
        const size_t mask = slots_.size() - 1;
        for (size_t i = hash(ip) & mask, n = 0; n < slots_.size(); i = (i + 1) & mask, ++n) {
            if (slots_[i].ip == ip) return &slots_[i];
            if (slots_[i].ip == 0) return nullptr;
        }
        return nullptr;
    }
    size_t size() const { return used_; }
    const std::vector<Entry>& slots() const { return slots_; }

private:
    static constexpr size_t kMinSlots = 64;  // load factor kept <= 1/2
    static size_t hash(uint32_t ip) { return (ip * 0x9E3779B1u) >> 7; }
    void insert(const Entry& e);
    std::vector<Entry> slots_;
    size_t used_ = 0;
};

}  // namespace peregrine::dataplane
