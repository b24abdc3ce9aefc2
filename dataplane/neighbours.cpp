// dataplane/neighbours.cpp
#include "dataplane/neighbours.hpp"

namespace peregrine::dataplane {

void NeighbourTable::insert(const Entry& e) {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash(e.ip) & mask;; i = (i + 1) & mask) {
        if (slots_[i].ip == e.ip) {
            slots_[i] = e;
            return;
        }
        if (slots_[i].ip == 0) {
            slots_[i] = e;
            ++used_;
            return;
        }
    }
}

NeighbourTable NeighbourTable::with(uint32_t ip, uint16_t port, const rte_ether_addr& mac) const {
    NeighbourTable t;
    size_t want = slots_.size();
    while ((used_ + 1) * 2 > want) want *= 2;
    t.slots_.assign(want, Entry{});
    for (const auto& e : slots_)
        if (e.ip != 0) t.insert(e);
    if (ip != 0) t.insert(Entry{ip, port, mac});
    return t;
}

}  // namespace peregrine::dataplane
