// dataplane/classifier.hpp - crypto-map classifier on rte_acl (outbound and mirrored inbound).
//
// Semantics (crypto map): entries in sequence order, ACEs of an entry in list order, first
// matching ACE of an entry decides for that entry:
//   permit -> PROTECT with this entry (result = entry index)
//   deny   -> this entry does not protect; continue with the next entry
//   no ACE of any entry matches -> BYPASS (forward in clear)
//
// Category scheme (why one highest-priority lookup is not enough: a deny in entry E must
// not hide a permit of a later entry). Every entry holding a deny ACE defines a *resume
// point* "the entry after it". Resume point 0 is the first entry. rte_acl category c of a
// context holds the rules of all entries from resume point c on, with priorities from the
// global (entry, ACE) position, so one classify call returns, for every resume point, the
// first match of the suffix starting there. Walk: r = 0; loop { m = result[r];
// none -> BYPASS; permit -> entry; deny in E -> r = resume point after E }.
// rte_acl allows 16 categories per context: resume points 16k..16k+15 live in context k;
// a packet that walks past context k is classified again (gathered per chunk) against
// context k+1. Typical configs (<= 15 deny-bearing entries) need exactly one classify.
//
// Direction::inbound builds the MIRRORED rules (source/destination prefixes and port
// ranges swapped): the same FlowKey of a packet received from outside then answers
// "would the peer have protected this?" -- used to drop clear-text packets that must
// arrive protected, and (with entry_permits) to check a decrypted inner packet against
// its SA's entry.
//
// Build (and destruction) happen on the control core only; classify_* are hot-path
// functions: no allocation, locks, syscalls, exceptions or logging.
#pragma once

#include <bit>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dataplane/pkt_parse.hpp"

struct rte_acl_ctx;

namespace peregrine::dataplane {

struct Ipv4Prefix {
    uint32_t addr = 0;  // host byte order; host bits are ignored
    uint8_t len = 0;    // 0..32
};

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 65535;
    bool any() const { return lo == 0 && hi == 65535; }
};

enum class AceAction : uint8_t { permit, deny };

struct AceSpec {
    AceAction action = AceAction::permit;
    uint8_t proto = 0;  // 0 = any protocol; port ranges only with 6 (tcp) / 17 (udp)
    Ipv4Prefix src;
    Ipv4Prefix dst;
    PortRange sport;
    PortRange dport;
};

struct MapEntrySpec {
    uint32_t seq = 0;            // crypto map sequence number; unique per map
    std::vector<AceSpec> aces;   // in ACL order
};

enum class Direction : uint8_t {
    outbound,  // rules as written: inside -> outside traffic
    inbound,   // mirrored: traffic arriving from the peer
};

// rte_acl input: all fields in network byte order. Ports are 0 for packets without a
// TCP/UDP header (ICMP, other protocols, non-first fragments).
struct FlowKey {
    uint8_t proto = 0;
    uint8_t pad[3] = {0, 0, 0};
    uint32_t src = 0;
    uint32_t dst = 0;
    uint16_t sport = 0;
    uint16_t dport = 0;
};
static_assert(sizeof(FlowKey) == 16, "FlowKey layout is the rte_acl field layout");

// Host-order values -> key.
inline FlowKey make_flow_key(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sport,
                             uint16_t dport) noexcept {
    // Built as two 64-bit words and inline (the worker makes one per packet): field by
    // field through a call, GCC stored the bytes to the stack and reloaded them as the
    // return registers, a store-forwarding stall per packet (~4% of a worker in the
    // 1,000-SA benchmark, perf).
    static_assert(std::endian::native == std::endian::little, "FlowKey words assume little endian");
    struct Words {
        uint64_t lo, hi;
    };
    const uint64_t lo = uint64_t(proto) | (uint64_t(__builtin_bswap32(src)) << 32);
    const uint64_t hi = uint64_t(__builtin_bswap32(dst)) | (uint64_t(__builtin_bswap16(sport)) << 32) |
                        (uint64_t(__builtin_bswap16(dport)) << 48);
    return std::bit_cast<FlowKey>(Words{lo, hi});
}
// Ports only for TCP and UDP (zero otherwise, as the ACEs' port ranges are).
inline FlowKey make_flow_key(const ParsedPkt& p) noexcept {
    const bool ports = p.ip_proto == wire::kProtoTcp || p.ip_proto == wire::kProtoUdp;
    return make_flow_key(p.ip_proto, p.src_ip, p.dst_ip, ports ? p.sport : 0, ports ? p.dport : 0);
}

// How a classifier matches. `automatic`: a linear walk over the ACEs when there are
// at most Classifier::kLinearMaxAces of them (a branch-light loop is several times
// cheaper than an rte_acl trie walk for a handful of rules: docs/PERFORMANCE.md),
// rte_acl otherwise. Tests force each implementation to cross-check them.
enum class ClassifierImpl : uint8_t { automatic, acl, linear };

struct ClassifierStats {
    uint32_t entries = 0;         // crypto map entries
    uint32_t aces = 0;            // ACEs over all entries
    uint32_t deny_entries = 0;    // entries holding at least one deny ACE
    uint32_t resume_points = 0;   // 1 + deny-bearing entries that have a successor
    uint32_t contexts = 0;        // rte_acl contexts built (ceil(resume_points / 16)); 0 if linear
    bool linear = false;          // matched by the linear walk, not rte_acl
    uint32_t acl_rules = 0;       // rules added over all contexts (a rule repeats per context)
    uint64_t build_ns = 0;        // wall time of build()
    size_t memory_bytes = 0;      // DPDK heap growth during build (rte_malloc stats)
};

class Classifier {
public:
    static constexpr uint32_t kBypass = 0xffffffffu;  // no entry protects: forward in clear
    static constexpr uint32_t kError = 0xfffffffeu;   // rte_acl refused: caller must drop
    static constexpr uint32_t kChunk = 64;            // keys per rte_acl call: bounds stack use
    static constexpr uint32_t kCatsPerContext = 16;   // RTE_ACL_MAX_CATEGORIES
    // Linear walk up to this many ACEs: ~10 instructions per ACE per packet against
    // ~200 for an rte_acl classify of a burst, per packet (callgrind, pg-prof-worker).
    static constexpr uint32_t kLinearMaxAces = 16;

    struct BuildResult {
        std::unique_ptr<Classifier> classifier;  // null on error
        std::string error;
    };
    // Control core only. Entries in any order (sorted here by seq; duplicates rejected).
    // Results name entries by their index in `entries`.
    static BuildResult build(std::span<const MapEntrySpec> entries, Direction dir,
                             int socket_id = -1 /* SOCKET_ID_ANY */,
                             ClassifierImpl impl = ClassifierImpl::automatic);

    // out[i] = entry index, kBypass or kError. Hot path.
    void classify_burst(const FlowKey* const keys[], uint32_t n, uint32_t out[]) const noexcept;
    uint32_t classify(const FlowKey& key) const noexcept;

    // The linear walk straight from a parsed packet's host-order fields (no FlowKey),
    // for maps with stats().linear; the same result as classify(make_flow_key(p)).
    uint32_t classify_linear(const ParsedPkt& p) const noexcept;

    // First match within entry `entry` alone is a permit (inner-packet check of an SA).
    bool entry_permits(const FlowKey& key, uint32_t entry) const noexcept;
    // The same from a parsed packet's host-order fields (the worker's inner check).
    bool entry_permits(const ParsedPkt& p, uint32_t entry) const noexcept;

    const ClassifierStats& stats() const { return stats_; }
    Direction direction() const { return dir_; }
    uint32_t entry_count() const { return static_cast<uint32_t>(entry_seq_.size()); }
    uint32_t entry_seq(uint32_t entry) const { return entry_seq_[entry]; }
    void dump() const;  // rte_acl_dump of every context (to DPDK's log stream)

    ~Classifier();
    Classifier(const Classifier&) = delete;
    Classifier& operator=(const Classifier&) = delete;

    struct Passkey {
    private:
        Passkey() = default;
        friend class Classifier;
    };
    explicit Classifier(Passkey) {}

private:
    struct AclCtxDeleter {
        void operator()(rte_acl_ctx* c) const noexcept;
    };
    struct Context {
        std::unique_ptr<rte_acl_ctx, AclCtxDeleter> acl;  // null if the suffix has no rules
        uint32_t categories = 1;  // as passed to rte_acl_classify: 1 or a multiple of 4
    };
    // Per ACE, indexed by rte_acl userdata - 1 (userdata 0 means "no match").
    struct RuleInfo {
        uint32_t entry;        // index in the caller's entries
        uint32_t next_resume;  // deny: resume point after this entry (kNoResume: none)
        bool permit;
    };
    // Host-order copy of an ACE (already mirrored for inbound) for entry_permits.
    struct HostAce {
        uint32_t src, src_mask, dst, dst_mask;
        uint16_t sport_lo, sport_hi, dport_lo, dport_hi;
        uint8_t proto;
        bool permit;
    };
    static constexpr uint32_t kNoResume = 0xffffffffu;
    uint32_t classify_linear(const FlowKey& key) const noexcept;
    uint32_t linear_walk(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp) const noexcept;
    bool permits(uint8_t proto, uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
                 uint32_t entry) const noexcept;

    Direction dir_ = Direction::outbound;
    bool linear_ = false;
    std::vector<Context> contexts_;
    std::vector<RuleInfo> rules_;
    std::vector<HostAce> host_aces_;
    std::vector<uint32_t> entry_first_ace_;  // per caller entry: [first, first+count)
    std::vector<uint32_t> entry_ace_count_;
    std::vector<uint32_t> entry_seq_;
    ClassifierStats stats_;
};

}  // namespace peregrine::dataplane
