// dataplane/rcu.cpp
#include "dataplane/rcu.hpp"

#include <rte_malloc.h>


namespace peregrine::dataplane {

std::unique_ptr<Rcu> Rcu::create(uint32_t max_threads) {
    const size_t sz = rte_rcu_qsbr_get_memsize(max_threads);
    auto* q = static_cast<rte_rcu_qsbr*>(rte_zmalloc("pg_rcu", sz, RTE_CACHE_LINE_SIZE));
    if (!q || rte_rcu_qsbr_init(q, max_threads) != 0) {
        rte_free(q);
        return nullptr;
    }
    return std::unique_ptr<Rcu>(new Rcu(q));
}

Rcu::~Rcu() {
    // Objects still retired are destroyed: by now no worker runs (the runtime
    // stops workers before destroying the Rcu).
    for (auto& r : retired_) r.destroy();
    retired_.clear();
    rte_free(qsbr_);
}

void Rcu::register_thread(uint32_t tid) { rte_rcu_qsbr_thread_register(qsbr_, tid); }

void Rcu::retire(std::function<void()> destroy) {
    // rte_rcu_qsbr_start: the grace period begins after the unpublishing store
    // (it has release semantics), so readers that saw the old pointer are
    // exactly those that have not reported quiescence since.
    retired_.push_back({rte_rcu_qsbr_start(qsbr_), std::move(destroy)});
}

size_t Rcu::reclaim() {
    size_t n = 0;
    while (!retired_.empty() && rte_rcu_qsbr_check(qsbr_, retired_.front().token, false) == 1) {
        retired_.front().destroy();
        retired_.pop_front();
        ++n;
    }
    return n;
}

void Rcu::drain() {
    while (!retired_.empty()) {
        rte_rcu_qsbr_check(qsbr_, retired_.front().token, true);
        retired_.front().destroy();
        retired_.pop_front();
    }
}

}  // namespace peregrine::dataplane
