// dataplane/replay_window.hpp - ESP anti-replay window (RFC 4303 3.4.3, RFC 6479 layout).
//
// Split API, used by the inbound worker that owns the SA (single writer):
//
//   rx burst ─► check(seq32) ──ok──► ICV verify + decrypt ──ok──► update(seq64) ──true──► deliver
//                  │ replayed/too_old/zero_seq                │ ICV bad           │ false
//                  ▼                                          ▼                   ▼
//                 drop (counter)                         drop (the window    drop (replayed inside
//                                                        did not move)       the same burst)
//
// check() never modifies the window, so a forged packet (bad ICV) cannot move it.
// update() re-validates: two copies of one packet in the same burst both pass check(),
// only the first update() returns true.
//
// Layout (RFC 6479): the window is a ring of 64-bit blocks; advancing the window clears
// the blocks it skips, it never shifts the whole bitmap. A window of W bits needs W/64 + 1
// blocks (one redundant block, so the W sequence numbers [top-W+1, top] always fit while
// `top` is not block-aligned). Storage is fixed for the largest window (4096 bits + one
// block); nothing is allocated.
//
// ESN (RFC 4303 Appendix A2.2): only the low 32 bits travel on the wire; check() infers the
// high 32 bits from the window's top. The inferred 64-bit number is what the ICV must cover
// (the caller appends the high half to the ICV input) and what update() takes.
#pragma once

#include <cstdint>

namespace peregrine::dataplane {

#define PG_REPLAY_VERDICTS(X)                                                    \
    X(ok, "ok")                                                                  \
    X(replayed, "replayed")          /* inside the window, already received */   \
    X(too_old, "too_old")            /* left of the window (or before the SA) */ \
    X(zero_seq, "zero_seq")          /* sequence number 0 is never sent */

enum class ReplayVerdict : uint8_t {
#define PG_X(id, name) id,
    PG_REPLAY_VERDICTS(PG_X)
#undef PG_X
};

const char* to_string(ReplayVerdict v);

struct ReplayCheck {
    ReplayVerdict verdict = ReplayVerdict::ok;
    uint64_t seq = 0;  // the full (ESN-inferred) sequence number when verdict == ok
    bool ok() const { return verdict == ReplayVerdict::ok; }
};

class alignas(64) ReplayWindow {
public:
    static constexpr uint32_t kBlockBits = 64;     // one uint64_t per bitmap block
    static constexpr uint32_t kMinBits = 64;       // one block: smaller windows are useless
    static constexpr uint32_t kMaxBits = 4096;     // the fixed storage; larger = config error
    static constexpr uint32_t kMaxBlocks = kMaxBits / kBlockBits + 1;  // + RFC 6479 spare

    // True for 64, 128, 256, ..., 4096 (power-of-two multiple of 64).
    static constexpr bool valid_size(uint32_t bits) {
        return bits >= kMinBits && bits <= kMaxBits && (bits & (bits - 1)) == 0;
    }
    // The control plane validates sizes; an invalid one is rounded up to the next valid
    // size (clamped to [kMinBits, kMaxBits]) so that construction cannot fail.
    static constexpr uint32_t effective_size(uint32_t bits) {
        uint32_t s = kMinBits;
        while (s < bits && s < kMaxBits) s <<= 1;
        return s;
    }

    explicit ReplayWindow(uint32_t bits = kMinBits, bool esn = false) noexcept;

    // Anti-replay disabled for the SA (Cisco `set security-association replay disable`):
    // check() accepts every number and update() always succeeds; ESN is not supported
    // without a window (the configuration rejects the combination).
    static ReplayWindow disabled() noexcept {
        ReplayWindow w;
        w.off_ = true;
        return w;
    }

    // Before the ICV check. Does not modify the window.
    ReplayCheck check(uint32_t seq32) const noexcept;

    // After a successful ICV check, with ReplayCheck::seq. Returns false (and changes
    // nothing) if the number is meanwhile replayed or left of the window, i.e. the
    // packet must be dropped after all.
    bool update(uint64_t seq64) noexcept;

    // Back to the state of a fresh SA (nothing received).
    void reset() noexcept;

    uint64_t top() const { return top_; }   // highest authenticated sequence number, 0 = none
    uint32_t size() const { return bits_; }
    bool esn() const { return esn_; }
    bool enabled() const { return !off_; }

private:
    // 64-bit number -> (block slot, bit) for a number within the window (top-s < bits_).
    uint32_t slot_of(uint64_t s) const noexcept;

    uint64_t top_ = 0;
    uint32_t bits_ = kMinBits;
    uint32_t nblocks_ = kMinBits / kBlockBits + 1;
    uint32_t top_slot_ = 0;  // ring slot of top_'s block
    bool esn_ = false;
    bool off_ = false;  // anti-replay disabled: every number passes
    uint64_t bitmap_[kMaxBlocks] = {};
};

static_assert(alignof(ReplayWindow) == 64, "ReplayWindow must start on a cache line");
static_assert(sizeof(ReplayWindow) <= 640,
              "ReplayWindow grew: keep the hot header in the first cache line, bitmap after");

}  // namespace peregrine::dataplane
