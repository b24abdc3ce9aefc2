// dataplane/esp_codec.hpp - ESP tunnel mode (RFC 4303) on contiguous buffers.
//
// Buffer level: the caller hands a pointer to the packet plus the headroom before it
// and the tailroom after it (the mbuf wrapper maps this onto rte_pktmbuf_prepend /
// rte_pktmbuf_append / rte_pktmbuf_adj / rte_pktmbuf_trim). No EAL needed.
//
// Outbound packet built by esp_encap_burst() (docs/ESP.md has the full picture):
//
//   | outer IPv4 (20) | [UDP 4500->4500 (8), csum 0] | SPI | seq | IV | inner IPv4 ... |
//   | padding 1,2,3.. | pad len | next hdr = 4 | ICV |
//
//   payload || padding || 2  is a multiple of info(transform).pad_align.
//
// Inbound: esp_decap_burst() takes the ESP header (the caller has parsed and removed
// the outer IPv4 [+UDP] header, and looked the SA up by SPI), verifies the ICV,
// decrypts in place, checks padding and next header, and returns the inner packet.
// Anti-replay is the caller's: it reads the 32-bit sequence number (esp_peek_seq),
// checks its window and infers ESN-high BEFORE the call, updates the window only for
// packets this function accepts.
//
// Both burst functions follow STYLE.md rule 3: pointers + count in, number of good
// packets out; good packets first (in input order), failures moved to the tail (in
// input order) with EspBuf::reason set. No allocation, exceptions, logging or locks.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/esp_transform.hpp"

namespace peregrine::dataplane {

// Per-packet reason codes. X-macro: the enum and its name table come from one list.
#define PG_ESP_REASONS(X)                                                             \
    X(ok)              /* accepted */                                                 \
    X(no_headroom)     /* encap: not enough room before the inner packet */           \
    X(no_tailroom)     /* encap: not enough room after it for padding + ICV */        \
    X(too_big)         /* encap: outer packet would exceed the SA's max_outer_len */  \
    X(bad_inner)       /* encap: not an IPv4 packet / total length disagrees;         \
                          decap: decrypted inner IPv4 header malformed */             \
    X(seq_overflow)    /* encap: sequence number space exhausted, SA needs a rekey */ \
    X(truncated)       /* decap: shorter than header + IV + 2 + ICV */                \
    X(bad_len)         /* decap: ciphertext not a multiple of the cipher block */     \
    X(bad_spi)         /* decap: header SPI is not the SA's */                        \
    X(icv_mismatch)    /* decap: integrity check failed */                            \
    X(bad_padding)     /* decap: pad length too long or pad bytes not 1,2,3,... */    \
    X(bad_next_header) /* decap: next header is not 4 (IPv4) */                       \
    X(dummy)           /* decap: next header 59, a TFC dummy packet: drop silently */ \
    X(crypto_error)    /* engine rejected the operation (a bug) */

enum class EspReason : uint8_t {
#define PG_ESP_ENUM(n) n,
    PG_ESP_REASONS(PG_ESP_ENUM)
#undef PG_ESP_ENUM
};

inline constexpr std::array kEspReasonNames = {
#define PG_ESP_NAME(n) std::string_view(#n),
    PG_ESP_REASONS(PG_ESP_NAME)
#undef PG_ESP_NAME
};
inline constexpr size_t kEspReasonCount = kEspReasonNames.size();
constexpr std::string_view esp_reason_name(EspReason r) {
    return static_cast<size_t>(r) < kEspReasonCount ? kEspReasonNames[static_cast<size_t>(r)] : "?";
}

inline constexpr uint16_t kNatTPort = 4500;  // RFC 3948
inline constexpr uint8_t kNextHeaderIpv4 = 4;
inline constexpr uint8_t kNextHeaderNone = 59;  // RFC 4303 2.6 dummy packet
inline constexpr uint8_t kIpProtoEsp = 50;
inline constexpr uint8_t kIpProtoUdp = 17;

// Cold parameters the control core turns into an EspSa (addresses in host order).
struct EspSaConfig {
    crypto::Transform transform{};
    const crypto::KeySchedule* keys = nullptr;  // must outlive the EspSa
    uint32_t spi = 0;
    bool esn = false;
    bool udp_encap = false;  // RFC 3948 UDP encapsulation, 4500 -> 4500
    uint32_t outer_src = 0;
    uint32_t outer_dst = 0;
    uint8_t ttl = 64;
    uint8_t tos = 0;                  // used when copy_tos is false
    bool copy_tos = true;             // outer TOS = inner TOS (DSCP copy, RFC 6040 ECN normal mode)
    bool df = false;                  // set DF on the outer header
    uint16_t max_outer_len = 0xffff;  // larger packets fail with too_big (path MTU)
    uint64_t first_seq = 1;           // RFC 4303: the first packet carries 1 (tests start higher)
};

// Hot per-SA state read by workers for every packet. Built by esp_sa_init() on the
// control core and published; only next_seq is written afterwards.
struct alignas(64) EspSa {
    // --- cache line 0: read-only after publication ---
    const crypto::KeySchedule* keys;
    uint32_t spi_be;         // network order, ready to store
    uint32_t csum_partial;   // ones'-complement sum of the constant template words
    uint16_t outer_hdr_len;  // 20, or 28 with UDP encapsulation
    uint16_t max_outer_len;
    crypto::Transform transform;
    uint8_t iv_len;
    uint8_t icv_len;
    uint8_t pad_align;
    uint8_t block_size;
    bool esn;
    bool udp_encap;
    bool copy_tos;
    uint8_t outer_tmpl[28];  // IPv4 header (+ UDP header) with length/id/csum zero
    // --- cache line 1: written by every worker that sends on this SA ---
    // Next sequence number to hand out (64-bit even without ESN, so overflow is
    // detectable). Workers reserve a range per burst with fetch_add (relaxed: the
    // value orders nothing else, it only has to be unique); a sole sender with a
    // relaxed load and store.
    // mutable: the one field written after publication, through `const EspSa*`.
    alignas(64) mutable std::atomic<uint64_t> next_seq;
};
static_assert(offsetof(EspSa, outer_tmpl) + sizeof(EspSa::outer_tmpl) <= 64,
              "EspSa: the read-only fields outgrew cache line 0; move cold ones to EspSaConfig");
static_assert(offsetof(EspSa, next_seq) == 64,
              "EspSa: next_seq must start cache line 1 (it is written per burst; keep it off the "
              "read-only line)");
static_assert(sizeof(EspSa) == 128, "EspSa: expected exactly two cache lines; check padding");
static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "EspSa: next_seq must be a lock-free atomic on this target");

// Fill sa from cfg (template, checksum partial, sizes). Returns false if cfg.keys is
// null or does not match cfg.transform.
bool esp_sa_init(EspSa& sa, const EspSaConfig& cfg);

// Bytes encap adds in front of the inner packet (outer IP [+UDP] + ESP header + IV)
// and the most it adds behind it (padding + pad len + next header + ICV).
constexpr uint32_t esp_encap_headroom(const EspSa& sa) {
    return sa.outer_hdr_len + 8u + sa.iv_len;
}
constexpr uint32_t esp_encap_max_tailroom(const EspSa& sa) {
    return sa.pad_align - 1u + 2u + sa.icv_len;
}

// One packet in a burst.
struct EspBuf {
    uint8_t* data;        // encap in: inner IPv4 packet; out: outer IPv4 header
                          // decap in: ESP header;          out: inner IPv4 packet
    uint32_t len;         // bytes at data (in and out)
    uint32_t headroom;    // bytes the codec may use before data
    uint32_t tailroom;    // bytes the codec may use after data + len
    const EspSa* sa;      // the SA (decap: found by SPI; encap: any mix, runs share a
                          // sequence-number reservation)
    uint32_t esn_hi;      // decap in: ESN-high inferred by the caller's replay window
    uint64_t seq;         // encap out: sequence number used; decap out: header's 32-bit seq
    uint8_t next_header;  // decap out
    EspReason reason;     // out: ok, or why the packet was moved to the tail
    void* cookie;         // the caller's (e.g. the mbuf); travels with the buffer when
                          // the burst functions reorder the pointers
};

// The largest inner packet whose ESP packet fits the SA's max_outer_len: the tunnel
// MTU the ICMP "fragmentation needed" reports and the fragment size before encryption.
inline uint32_t esp_max_inner_len(const EspSa& sa) {
    const uint32_t front = uint32_t(sa.outer_hdr_len) + 8 + sa.iv_len;
    if (sa.max_outer_len < front + sa.icv_len + sa.pad_align + 2) return 0;
    const uint32_t room = sa.max_outer_len - front - sa.icv_len;  // payload + padding + 2
    return room / sa.pad_align * sa.pad_align - 2;
}

// Sequence number carried in an ESP header (host order), for the replay check.
inline uint32_t esp_peek_seq(const uint8_t* esp_hdr) {
    return (uint32_t(esp_hdr[4]) << 24) | (uint32_t(esp_hdr[5]) << 16) |
           (uint32_t(esp_hdr[6]) << 8) | esp_hdr[7];
}
inline uint32_t esp_peek_spi(const uint8_t* esp_hdr) {
    return (uint32_t(esp_hdr[0]) << 24) | (uint32_t(esp_hdr[1]) << 16) |
           (uint32_t(esp_hdr[2]) << 8) | esp_hdr[3];
}

// Encapsulate pkts, each with its own EspBuf::sa, with the worker's engine. Returns the
// number of good packets, which are pkts[0..ret); pkts[ret..] failed with reason set.
// Consecutive packets of one SA reserve their sequence numbers with one atomic add.
// sole_sender: the caller is the only thread that ever encrypts with these SAs (a
// runtime with one worker): the reservation is a plain load and store instead of a
// locked read-modify-write (which costs a full barrier per SA switch).
uint32_t esp_encap_burst(crypto::Engine& eng, std::span<EspBuf*> pkts, bool sole_sender = false) noexcept;
// The same with every packet's sa set to `sa` first.
uint32_t esp_encap_burst(EspSa& sa, crypto::Engine& eng, std::span<EspBuf*> pkts) noexcept;

// Decapsulate pkts (each with its own sa). Same return convention.
uint32_t esp_decap_burst(crypto::Engine& eng, std::span<EspBuf*> pkts) noexcept;

}  // namespace peregrine::dataplane
