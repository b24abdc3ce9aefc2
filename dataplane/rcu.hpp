// dataplane/rcu.hpp - publish-don't-share: RCU (rte_rcu_qsbr) for runtime tables.
//
// Workers read immutable objects through Published<T>::read() (acquire load) and
// report a quiescent state once per loop iteration. The control core builds a new
// object, publishes it with one release store, and retires the old one; it is
// destroyed only after every online worker has reported quiescence since the
// retirement (token from rte_rcu_qsbr_start, checked without blocking by
// Rcu::reclaim(), which the control loop calls on every tick).
#pragma once

#include <rte_rcu_qsbr.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>

namespace peregrine::dataplane {

class Rcu {
public:
    // nullptr when the QSBR variable cannot be allocated (EAL memory).
    static std::unique_ptr<Rcu> create(uint32_t max_threads);
    ~Rcu();
    Rcu(const Rcu&) = delete;
    Rcu& operator=(const Rcu&) = delete;

    // --- worker side (thread id = worker index) ---
    void register_thread(uint32_t tid);
    void online(uint32_t tid) { rte_rcu_qsbr_thread_online(qsbr_, tid); }
    void offline(uint32_t tid) { rte_rcu_qsbr_thread_offline(qsbr_, tid); }
    void quiescent(uint32_t tid) { rte_rcu_qsbr_quiescent(qsbr_, tid); }

    // --- control side ---
    // Take ownership of an object no longer reachable by new readers.
    void retire(std::function<void()> destroy);
    template <class T>
    void retire(std::unique_ptr<T> old) {
        if (!old) return;
        T* raw = old.release();
        retire([raw] { std::unique_ptr<T> p(raw); });
    }
    // Destroy what every reader has finished with; never blocks. Returns how many.
    size_t reclaim();
    // Block until everything retired so far is destroyed (shutdown, tests).
    void drain();
    size_t pending() const { return retired_.size(); }

private:
    struct Retired {
        uint64_t token;
        std::function<void()> destroy;
    };
    explicit Rcu(rte_rcu_qsbr* q) : qsbr_(q) {}
    rte_rcu_qsbr* qsbr_ = nullptr;
    std::deque<Retired> retired_;
};

// One RCU-protected pointer. Readers: read(); writer (control core only): publish().
template <class T>
class Published {
public:
    Published() = default;
    ~Published() { std::unique_ptr<T> last(ptr_.load(std::memory_order_relaxed)); }
    Published(const Published&) = delete;
    Published& operator=(const Published&) = delete;

    // Acquire pairs with publish()'s release: a reader that sees the pointer sees
    // the fully built object behind it.
    const T* read() const { return ptr_.load(std::memory_order_acquire); }

    // Swap in `next` atomically; the previous object goes to the RCU retire list.
    void publish(std::unique_ptr<T> next, Rcu& rcu) {
        std::unique_ptr<T> old(ptr_.exchange(next.release(), std::memory_order_acq_rel));
        rcu.retire(std::move(old));
    }

private:
    std::atomic<T*> ptr_{nullptr};
};

}  // namespace peregrine::dataplane
