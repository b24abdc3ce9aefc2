// dataplane/counters.hpp - per-worker counters: one writer (the worker), any reader.
//
// Every dropped packet increments exactly one drop reason. Workers store with
// relaxed ordering (single writer: load + store, no locked RMW on the hot path);
// the control core reads relaxed and sums over workers. A reader may see a
// counter a few packets behind, never a torn value.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace peregrine::dataplane {

// X(name, help) - the table every printer and test derives from.
#define PG_DROP_REASONS(X)                                                         \
    X(malformed, "frame or IPv4 header failed the parser's checks")               \
    X(not_ipv4, "neither IPv4 nor ARP")                                            \
    X(ttl_exceeded, "TTL <= 1 on a forwarded packet")                              \
    X(no_route, "no route to the destination")                                     \
    X(no_neighbour, "next hop not resolved (ARP request sent)")                    \
    X(no_sa, "crypto ACL says protect, but the entry has no established SA")       \
    X(too_big, "outer packet over the MTU with DF set (ICMP frag-needed sent)")    \
    X(frag_failed, "DF clear but too many fragments or no mbufs to fragment")      \
    X(encap_failed, "no room in the mbuf for ESP headers/trailer")                 \
    X(seq_overflow, "outbound SA exhausted its sequence numbers")                  \
    X(unknown_spi, "inbound ESP with an SPI of no installed SA")                   \
    X(replay, "inbound ESP sequence number replayed or too old")                   \
    X(icv, "inbound ESP integrity check failed")                                   \
    X(bad_esp, "inbound ESP truncated, bad padding or next header")                \
    X(policy, "decrypted packet does not match the SA's traffic selectors")        \
    X(clear_must_be_protected, "clear text that a permit ACE says must be ESP")    \
    X(punt_full, "punt ring to the control core full")                             \
    X(handoff_full, "hand-off ring to the SA's owning worker full")                \
    X(tx_full, "TX queue full")                                                    \
    X(not_for_us, "ESP/IKE/ICMP for an address that is not ours")                  \
    X(reassembly, "IPv4 fragment timed out, overlapped, or found the reassembly table full") \
    X(reassembled_too_big, "reassembled IPv4 datagram larger than one mbuf")

enum class Drop : uint8_t {
#define PG_X(name, help) name,
    PG_DROP_REASONS(PG_X)
#undef PG_X
        count_
};
inline constexpr size_t kDropReasons = static_cast<size_t>(Drop::count_);

inline constexpr const char* kDropNames[kDropReasons] = {
#define PG_X(name, help) #name,
    PG_DROP_REASONS(PG_X)
#undef PG_X
};
inline constexpr const char* kDropHelp[kDropReasons] = {
#define PG_X(name, help) help,
    PG_DROP_REASONS(PG_X)
#undef PG_X
};

// A single-writer counter: the owner adds with a plain load/store pair.
struct Counter {
    std::atomic<uint64_t> v{0};
    void add(uint64_t n) { v.store(v.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
    uint64_t get() const { return v.load(std::memory_order_relaxed); }
};
static_assert(sizeof(Counter) == 8, "Counter must stay one word: it is summed across workers");

inline constexpr size_t kMaxPorts = 8;  // appliance ports; RTE_MAX_ETHPORTS is far larger

struct alignas(64) PortCounters {
    Counter rx_packets, rx_bytes, tx_packets, tx_bytes;
};

// Outbound = packets this worker encrypted with the SA; inbound = decrypted OK.
struct SaCounters {
    Counter packets, bytes;
    std::atomic<uint64_t> last_used_tsc{0};  // rte_rdtsc() of the last packet, 0 = never
};
static_assert(sizeof(SaCounters) == 24, "SaCounters layout changed: update the control summing");

struct alignas(64) WorkerCounters {
    // Per worker, once idle:
    //   rx + injected + handoff_in + fragments
    //     == tx + sum(drops) + punted + handoff_out + reasm_merged + held (see below).
    // Summed over workers handoff_in == handoff_out. `fragments` counts the packets that
    // fragmentation before encryption added (a packet cut in 3 adds 2).
    Counter rx, tx, injected, protected_out, decrypted_in, bypass, punted, iterations;
    Counter handoff_out, handoff_in;  // inbound ESP passed to / received from the SA's owner
    Counter fragments;                // packets added by fragmentation before encryption
    // Received IPv4 fragments the reassembly table took; a completed datagram of k
    // fragments goes on as one packet, so k - 1 count as reasm_merged. Fragments the
    // table frees (timeout, overlap, full) count as drops[reassembly] too; the ones
    // still held are reasm_taken - reasm_merged - drops[reassembly].
    Counter reasm_taken, reasm_merged;
    Counter drops[kDropReasons];
    PortCounters ports[kMaxPorts];
};
static_assert(alignof(WorkerCounters) == 64, "WorkerCounters must start on its own cache line");

}  // namespace peregrine::dataplane
