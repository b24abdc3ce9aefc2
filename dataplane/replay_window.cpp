// dataplane/replay_window.cpp - see replay_window.hpp for the model.
#include "dataplane/replay_window.hpp"

namespace peregrine::dataplane {

namespace {
constexpr const char* kVerdictNames[] = {
#define PG_X(id, name) name,
    PG_REPLAY_VERDICTS(PG_X)
#undef PG_X
};
constexpr uint32_t kBlockShift = 6;  // log2(kBlockBits)
static_assert((1u << kBlockShift) == ReplayWindow::kBlockBits);
}  // namespace

const char* to_string(ReplayVerdict v) {
    const auto i = static_cast<unsigned>(v);
    return i < sizeof(kVerdictNames) / sizeof(kVerdictNames[0]) ? kVerdictNames[i] : "?";
}

ReplayWindow::ReplayWindow(uint32_t bits, bool esn) noexcept
    : bits_(effective_size(bits)), nblocks_(effective_size(bits) / kBlockBits + 1), esn_(esn) {}

void ReplayWindow::reset() noexcept {
    top_ = 0;
    top_slot_ = 0;
    for (auto& b : bitmap_) b = 0;
}

uint32_t ReplayWindow::slot_of(uint64_t s) const noexcept {
    // Block distance from top's block: at most bits_/64 (< nblocks_) inside the window.
    const auto back = static_cast<uint32_t>((top_ >> kBlockShift) - (s >> kBlockShift));
    return top_slot_ >= back ? top_slot_ - back : top_slot_ + nblocks_ - back;
}

ReplayCheck ReplayWindow::check(uint32_t seq32) const noexcept {
    if (off_) return {ReplayVerdict::ok, seq32};
    uint64_t s = seq32;
    if (esn_) {
        // RFC 4303 A2.2: Tl/Th = low/high half of top, W = window size.
        const auto tl = static_cast<uint32_t>(top_);
        const auto th = static_cast<uint32_t>(top_ >> 32);
        const uint32_t bottom = tl - (bits_ - 1);  // Tl - W + 1 (mod 2^32)
        uint32_t sh;
        if (tl >= bits_ - 1) {  // case A: the window does not straddle a 2^32 boundary
            if (seq32 >= bottom) {
                sh = th;
            } else {  // wrapped forward into the next epoch
                if (th == UINT32_MAX) return {ReplayVerdict::too_old, 0};  // 2^64 exhausted
                sh = th + 1;
            }
        } else {  // case B: the window reaches back into the previous epoch
            if (seq32 >= bottom) {
                if (th == 0) return {ReplayVerdict::too_old, 0};  // before the SA started
                sh = th - 1;
            } else {
                sh = th;
            }
        }
        s = (uint64_t{sh} << 32) | seq32;
    }
    if (s == 0) return {ReplayVerdict::zero_seq, 0};
    if (s > top_) return {ReplayVerdict::ok, s};
    if (top_ - s >= bits_) return {ReplayVerdict::too_old, s};
    const uint64_t bit = uint64_t{1} << (s & (kBlockBits - 1));
    if (bitmap_[slot_of(s)] & bit) return {ReplayVerdict::replayed, s};
    return {ReplayVerdict::ok, s};
}

bool ReplayWindow::update(uint64_t s) noexcept {
    if (off_) return true;
    if (s == 0) return false;
    if (!esn_ && s > UINT32_MAX) return false;
    const uint64_t bit = uint64_t{1} << (s & (kBlockBits - 1));
    if (s > top_) {
        const uint64_t ahead = (s >> kBlockShift) - (top_ >> kBlockShift);
        if (ahead >= nblocks_) {  // far jump: nothing of the old window survives
            for (uint32_t i = 0; i < nblocks_; ++i) bitmap_[i] = 0;
            top_slot_ = 0;
        } else {  // clear only the blocks the window slides onto
            for (uint64_t i = 0; i < ahead; ++i) {
                top_slot_ = top_slot_ + 1 == nblocks_ ? 0 : top_slot_ + 1;
                bitmap_[top_slot_] = 0;
            }
        }
        top_ = s;
        bitmap_[top_slot_] |= bit;
        return true;
    }
    if (top_ - s >= bits_) return false;
    uint64_t& block = bitmap_[slot_of(s)];
    if (block & bit) return false;
    block |= bit;
    return true;
}

}  // namespace peregrine::dataplane
