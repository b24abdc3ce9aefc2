// dataplane/runtime.hpp - the data plane as the control core sees it.
//
// Owns the ports, the mbuf pool, the workers (one lcore each, run to completion),
// the RCU variable and every runtime table. All methods are for the control core
// (one thread); workers only read what is published here.
//
// Published through RCU (Published<T>, rcu.hpp):
//   tables_      classifier (outbound + mirrored inbound) and routes; per config
//   neighbours_  next-hop MACs; republished when ARP learns something
//   sa_in_       SPI -> inbound SA; republished when an SA is added or removed
//   entries_[i]  per crypto map entry: the active peer and its outbound SA. The
//                failover/failback swap is ONE publish() of a new EntryState:
//                packets in flight finish on the old one, new packets use the new
//                one, the old SA is destroyed after the grace period.
//
// Workers own nothing the control core writes in place, with one exception by
// design: an inbound SA's replay window, written only by the worker that receives
// the SA's packets (RSS/rte_flow keep one SA on one queue).
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/esp_transform.hpp"
#include "dataplane/classifier.hpp"
#include "dataplane/counters.hpp"
#include "dataplane/esp_codec.hpp"
#include "dataplane/flow_steering.hpp"
#include "dataplane/neighbours.hpp"
#include "dataplane/ports.hpp"
#include "dataplane/rcu.hpp"
#include "dataplane/replay_window.hpp"
#include "dataplane/routes.hpp"


namespace peregrine::dataplane {

inline constexpr uint32_t kMaxSas = 4096;       // SA slots (counters are per slot)
inline constexpr uint32_t kMaxEntries = 4096;   // crypto map entries
// rx/tx burst. 64, not l3fwd's 32: AES-CBC+HMAC runs on multi-buffer lanes that each burst
// must drain, and a longer burst halves that tail (bench: CBC-SHA256 64 B 1.11x -> 1.17x
// ipsec-secgw, IMIX 0.81x -> 0.95x) for ~3% of AES-GCM 64 B (docs/PERFORMANCE.md).
inline constexpr uint16_t kBurst = 64;
inline constexpr int kNoSaSlot = int(kMaxSas);  // set_active(entry, nullopt) succeeded

struct DataplaneSpec {
    std::vector<PortSpec> ports;          // index = appliance port index
    std::vector<RouteSpec> routes;        // RouteSpec::port = appliance port index
    std::vector<MapEntrySpec> entries;    // every crypto map entry, in evaluation order
    std::vector<uint16_t> entry_port;     // per entry: the outside port index it sends on
    std::vector<unsigned> worker_lcores;  // one worker per lcore
    uint32_t mbufs = 16383;
    // Workers busy-poll (0, the appliance default). > 0: after kIdleSpins empty loop
    // iterations a worker sleeps this many microseconds per further empty iteration,
    // so that labs and shared machines keep a core for the kernel and other processes.
    uint32_t idle_sleep_us = 0;
};

// One SA as the control core installs it (static or negotiated).
struct SaSpec {
    crypto::Transform transform{};
    std::vector<uint8_t> enc_key;   // wiped by install
    std::vector<uint8_t> auth_key;  // wiped by install
    uint32_t spi = 0;
    uint32_t local = 0;  // outer source (outbound) / our address (inbound)
    uint32_t peer = 0;   // outer destination (outbound) / the sender (inbound)
    bool udp_encap = false;
    bool esn = false;
    uint32_t replay_window = 64;  // 0 = anti-replay disabled (inbound)
    uint32_t entry = 0;  // crypto map entry index
    uint16_t mtu = 1500; // outbound: path MTU of the outside port
};

// Punt path messages (worker -> control).
enum class EventType : uint8_t { no_sa, no_neighbour };
struct Event {
    EventType type;
    uint16_t port;
    uint32_t value;  // entry index (no_sa) or next-hop IPv4 (no_neighbour)
};

struct SaStats {
    uint64_t packets = 0, bytes = 0, last_used_tsc = 0;
};
struct PortStats {
    uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0;
};
struct Stats {
    uint64_t rx = 0, tx = 0, injected = 0, protected_out = 0, decrypted_in = 0, bypass = 0, punted = 0;
    uint64_t handoff = 0;  // inbound ESP a worker passed to the SA's owning worker (software dispatch)
    uint64_t fragments = 0;  // packets added by fragmentation before encryption
    uint64_t iterations = 0;  // worker loop iterations (liveness: grows while workers run)
    uint64_t reassembly_held = 0;    // received fragments waiting in the reassembly tables
    uint64_t reassembly_merged = 0;  // fragments merged into a completed datagram (k - 1 each)
    // rx + injected + fragments
    //   == tx + total_drops() + punted + reassembly_held + reassembly_merged, once idle
    uint64_t drops[kDropReasons] = {};
    uint64_t total_drops() const;
};

class Runtime {
public:
    struct Worker;      // dataplane/worker.cpp
    struct Tables;      // classifiers + routes
    struct EntryState;  // active peer + outbound SA
    struct InboundSa;
    struct SaInTable;

    // After rte_eal_init. nullptr with `err` on failure.
    static std::unique_ptr<Runtime> create(const DataplaneSpec& spec, std::string& err);
    ~Runtime();
    Runtime(const Runtime&) = delete;
    Runtime& operator=(const Runtime&) = delete;

    bool start(std::string& err);  // launch the workers
    void stop();                    // stop and join the workers (idempotent)

    // --- SAs and the atomic peer swap ---
    // Install an inbound SA (looked up by SPI). Returns the SA slot or -1.
    int add_inbound_sa(SaSpec spec, std::string& err);
    bool remove_inbound_sa(uint32_t spi);
    // Make `peer` with outbound SA `sa` the entry's active peer, atomically; nullopt
    // = no active peer (protected traffic is dropped and reported). Returns the new
    // outbound SA slot (kNoSaSlot after a successful nullopt), or -1 on error (the entry
    // keeps its state).
    int set_active(uint32_t entry, std::optional<SaSpec> sa, std::string& err);
    uint32_t active_peer(uint32_t entry) const;

    // --- reconfiguration ---
    // Replace the crypto ACLs of every entry (same number of entries, in evaluation
    // order). The classifiers are built here, on the calling (control) thread, while the
    // workers keep forwarding with the old ones; the new tables are published with one
    // pointer store and the old ones freed after the grace period. The entries' active
    // SAs are untouched. False with `err` (old tables stay) when a build fails.
    bool set_entries(const std::vector<MapEntrySpec>& entries, std::string& err);

    // --- punt path ---
    // Packets for the control core (ARP, IKE, ICMP to us): dequeue up to n.
    unsigned dequeue_punted(rte_mbuf** out, unsigned n);
    unsigned dequeue_events(Event* out, unsigned n);
    // Send a packet (complete Ethernet frame) on a port through worker 0. Takes the
    // mbuf; false (and freed) if the ring is full.
    bool send(uint16_t port_index, rte_mbuf* m);
    void learn_neighbour(uint32_t ip, uint16_t port_index, const rte_ether_addr& mac);
    const NeighbourTable* neighbours() const { return neighbours_.read(); }

    // --- tests and fuzz targets ---
    // Run frames received on appliance port `port_index` through worker 0's pipeline on
    // the calling thread, then flush its TX buffers. Only while the workers are not
    // running (before start() or after stop()); the packets are consumed. Returns false
    // (nothing done) when the workers run or the port index is out of range.
    bool run_inline(uint16_t port_index, rte_mbuf** pkts, uint16_t n);

    // --- periodic housekeeping (RCU reclamation); call from the control loop ---
    void housekeeping() { rcu_->reclaim(); }
    void quiesce() { rcu_->drain(); }  // tests / shutdown

    Stats stats() const;
    SaStats sa_stats(int slot) const;
    PortStats port_stats(uint16_t port_index) const;  // summed over workers
    const std::vector<PortRuntime>& ports() const { return ports_; }
    rte_mempool* pool() const { return pool_; }
    uint16_t worker_count() const { return uint16_t(workers_.size()); }
    // Inbound ESP steering per outside port (nullptr for inside ports): rte_flow rules
    // where the PMD has them, software dispatch by SPI (queue_for_spi) where not.
    const FlowSteering* flow_steering(uint16_t port_index) const {
        return port_index < flows_.size() ? flows_[port_index].get() : nullptr;
    }
    // The worker that owns (alone writes the replay window and counters of) an SPI.
    uint16_t sa_owner(uint32_t spi) const { return queue_for_spi(spi, worker_count()); }
    size_t rcu_pending() const { return rcu_->pending(); }

    // --- worker-side readers (valid until the worker's next quiescent report) ---
    const EntryState* entry_state(uint32_t entry) const { return entries_[entry].read(); }
    const SaInTable* sa_in_table() const { return sa_in_.read(); }
    uint32_t spec_entry_count() const { return entry_count_; }  // fixed at create (workers read it)
    inline rte_ring* handoff_ring(uint16_t worker) const;  // runtime_internal.hpp


private:
    Runtime() = default;
    int alloc_sa_slot();
    void free_sa_slot(int slot);

    DataplaneSpec spec_;    // control side only (set_entries rewrites spec_.entries)
    uint32_t entry_count_ = 0;
    uint32_t tables_generation_ = 0;  // Tables::generation of the last build
    std::vector<PortRuntime> ports_;
    rte_mempool* pool_ = nullptr;
    std::unique_ptr<Rcu> rcu_;
    std::vector<std::unique_ptr<Worker>> workers_;
    bool running_ = false;
    std::atomic<bool> stop_flag_{false};

    Published<Tables> tables_;
    Published<NeighbourTable> neighbours_;
    Published<SaInTable> sa_in_;
    std::unique_ptr<Published<EntryState>[]> entries_;
    std::vector<uint32_t> entry_peer_;  // control-side mirror of the active peers
    std::vector<int> free_slots_;
    std::vector<std::unique_ptr<InboundSa>> in_sas_;  // control-owned; table points here
    rte_ring* control_tx_ = nullptr;  // control -> worker 0 (mbuf, port in m->port)
    std::vector<std::unique_ptr<FlowSteering>> flows_;  // per port index; null for inside ports
    void steer_spi(uint32_t spi, bool udp_encap);
    void unsteer_spi(uint32_t spi);

    void publish_sa_in();
    bool build_tables(const std::vector<MapEntrySpec>& entries, std::string& err);
    friend int worker_main(void*);
};

}  // namespace peregrine::dataplane
