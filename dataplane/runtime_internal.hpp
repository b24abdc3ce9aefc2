// dataplane/runtime_internal.hpp - runtime objects shared by runtime.cpp (control
// side) and worker.cpp (hot path). Not part of the public API.
#pragma once

#include <rte_cycles.h>
#include <rte_hash_crc.h>
#include <rte_ip_frag.h>

#include <bit>
#include <cstring>

#include "dataplane/runtime.hpp"

namespace peregrine::dataplane {

// Per config: classifiers, routes and the port facts a worker needs per packet.
struct Runtime::Tables {
    uint32_t generation = 0;          // != 0, new per publish: tags the workers' flow caches
    std::unique_ptr<Classifier> out;  // crypto ACLs as written
    std::unique_ptr<Classifier> in;   // mirrored: what must arrive protected
    std::unique_ptr<RouteTable> routes;
    uint16_t nb_ports = 0;
    uint16_t port_id[kMaxPorts] = {};
    uint32_t own_addr[kMaxPorts] = {};
    bool inside[kMaxPorts] = {};
    rte_ether_addr mac[kMaxPorts] = {};
    uint16_t mtu[kMaxPorts] = {};

    // Appliance port index owning `addr`, or -1.
    int own(uint32_t addr) const {
        for (uint16_t i = 0; i < nb_ports; ++i)
            if (own_addr[i] == addr) return i;
        return -1;
    }
};

// An outbound SA: hot codec state first, control facts after.
struct OutboundSa {
    EspSa esp;  // alignas(64); next_seq on its own line
    std::unique_ptr<crypto::KeySchedule> keys;
    int slot = -1;
    uint32_t peer = 0;
};

struct Runtime::EntryState {
    uint32_t peer = 0;                // 0 = no active peer
    std::unique_ptr<OutboundSa> sa;   // null = no SA: drop + no_sa event
};

struct Runtime::InboundSa {
    EspSa esp;            // keys/transform for decap (outer fields unused)
    ReplayWindow window;  // written by the one worker receiving this SA
    std::unique_ptr<crypto::KeySchedule> keys;
    uint32_t spi = 0;
    uint32_t entry = 0;
    uint32_t peer = 0;
    int slot = -1;
    uint16_t owner = 0;  // the worker that processes it (Runtime::sa_owner)
};

// SPI -> inbound SA, open addressing, immutable once published.
struct Runtime::SaInTable {
    struct Slot {
        uint32_t spi = 0;  // 0 = empty (SPI 0 is reserved, RFC 4303 2.1)
        InboundSa* sa = nullptr;
    };
    std::vector<Slot> slots;  // power of two, load <= 1/2
    InboundSa* find(uint32_t spi) const {
        if (slots.empty()) return nullptr;
        const size_t mask = slots.size() - 1;
        for (size_t i = (spi * 0x9E3779B1u) & mask, n = 0; n < slots.size(); i = (i + 1) & mask, ++n) {
            if (slots[i].spi == spi) return slots[i].sa;
            if (slots[i].spi == 0) return nullptr;
        }
        return nullptr;
    }
};

inline constexpr uint16_t kTxBuf = 2 * kBurst;  // per port; flushed when full and per loop

// IPv4 reassembly of received fragments (transit traffic must be classified by its
// ports, and a peer's ESP may arrive fragmented): one rte_ip_frag table per worker.
// At most kReasmMaxFlows datagrams x RTE_LIBRTE_IP_FRAG_MAX_FRAG fragments are held
// (2048 mbufs), well inside the pool; incomplete ones are freed after kReasmTimeoutMs.
inline constexpr uint32_t kReasmBuckets = 64;
inline constexpr uint32_t kReasmBucketEntries = 4;
inline constexpr uint32_t kReasmMaxFlows = kReasmBuckets * kReasmBucketEntries;
inline constexpr uint64_t kReasmTimeoutMs = 2000;

// Per-worker cache of outbound classification results (the idea of VPP's SPD flow
// cache): 2-way set associative by a CRC of the flow key, each slot tagged with the
// generation of the tables it was computed from, so a republished crypto map set
// invalidates every slot at once. Used only when the classifier is rte_acl (the linear
// walk of a small map is cheaper than a probe). A hit costs a hash and a 16-byte compare
// instead of an rte_acl trie walk (~200 instructions per packet, callgrind). Size and
// ways from the 1,000-flow benchmark (flows sent round robin, so flows that outnumber
// their set's ways miss on every packet): direct-mapped 4,096 slots left 14% of the
// flows in such sets, 2 x 2,048 left 7%, 2 x 8,192 none (scale-out +5%).
struct alignas(64) FlowCache {
    // 512 KiB per worker, of which only the sets of live flows are ever touched.
    static constexpr uint32_t kSlots = 16384;
    static constexpr uint32_t kWays = 2;      // one set = one cache line
    static constexpr uint32_t kSets = kSlots / kWays;
    static_assert(std::has_single_bit(kSets), "FlowCache: kSets must be a power of two");
    struct alignas(32) Slot {
        FlowKey key;
        uint32_t result;
        uint32_t generation;  // 0 = empty (table generations start at 1)
    };
    static_assert(sizeof(Slot) == 32, "FlowCache::Slot: two slots per cache line");
    Slot slots[kSlots];
    // First slot of the key's set.
    static uint32_t set_of(const FlowKey& k) {
        uint64_t a, b;
        std::memcpy(&a, &k, 8);
        std::memcpy(&b, reinterpret_cast<const uint8_t*>(&k) + 8, 8);
        return (rte_hash_crc_8byte(b, rte_hash_crc_8byte(a, 0)) & (kSets - 1)) * kWays;
    }
    // The slot holding `k` for `generation`, or nullptr.
    const Slot* find(uint32_t set, const FlowKey& k, uint32_t generation) const {
        for (uint32_t w = 0; w < kWays; ++w) {
            const Slot& e = slots[set + w];
            if (e.generation == generation && std::memcmp(&e.key, &k, sizeof(FlowKey)) == 0) return &e;
        }
        return nullptr;
    }
    // Insert as the set's most recent entry: way 0, the older one moving to way 1 (its
    // previous occupant, the least recent, is evicted) unless way 0 is stale.
    void insert(uint32_t set, const FlowKey& k, uint32_t result, uint32_t generation) {
        if (slots[set].generation == generation) slots[set + 1] = slots[set];
        slots[set] = Slot{k, result, generation};
    }
};
static_assert(sizeof(FlowCache) == FlowCache::kSlots * 32 && alignof(FlowCache) == 64,
              "FlowCache: sets must not straddle cache lines");

struct alignas(64) Runtime::Worker {
    WorkerCounters counters;  // first: its own cache lines
    Runtime* rt = nullptr;
    uint16_t index = 0;
    unsigned lcore = 0;
    bool sole_sender = false;  // the runtime's only worker: no other thread encrypts on its SAs
    std::unique_ptr<crypto::Engine> engine;
    SaCounters* sa_counters = nullptr;  // kMaxSas, rte_zmalloc'd
    uint64_t* no_sa_last = nullptr;     // kMaxEntries: tsc of the last no_sa event
    uint64_t nh_last[256] = {};         // tsc of the last no_neighbour event per hash
    uint64_t event_interval = 0;        // tsc ticks between events of one kind/key
    std::unique_ptr<FlowCache> flow_cache;  // outbound classification results
    rte_ip_frag_tbl* frag_tbl = nullptr;    // IPv4 reassembly (runtime.cpp owns it)
    rte_ip_frag_death_row death_row{};      // fragments the table gave up: freed per burst
    rte_ring* punt = nullptr;           // worker -> control: mbufs
    rte_ring* events = nullptr;         // worker -> control: Event
    rte_ring* handoff = nullptr;        // other workers -> this one: inbound ESP it owns (MP/SC)
    rte_mbuf* tx[kMaxPorts][kTxBuf] = {};
    uint16_t txn[kMaxPorts] = {};
};
static_assert(alignof(Runtime::Worker) == 64, "Worker must start on a cache line");

inline rte_ring* Runtime::handoff_ring(uint16_t worker) const { return workers_[worker]->handoff; }

int worker_main(void* arg);

}  // namespace peregrine::dataplane
