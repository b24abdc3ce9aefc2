// tests/dataplane/test_replay_window.cpp - anti-replay window: numbered edge-case tables
// (in the spirit of WireGuard's replay-counter selftest) and a randomized property check
// against a naive std::set model.
#include <algorithm>
#include <cstdio>
#include <iterator>
#include <random>
#include <set>

#include "dataplane/replay_window.hpp"
#include "tests/harness/pgtest.hpp"

using peregrine::dataplane::ReplayVerdict;
using peregrine::dataplane::ReplayWindow;
using V = ReplayVerdict;

namespace {

// One step: check(seq32); expect verdict (and seq64 when given); if ok and `apply`,
// update() with the inferred number and expect it to return true.
struct Step {
    int n;
    uint32_t seq;
    V verdict;
    uint64_t seq64 = 0;  // 0 = do not compare
    bool apply = true;   // false = "ICV failed": check only
};

bool run_steps(ReplayWindow& w, const Step* steps, size_t count, const char* table) {
    bool all = true;
    for (size_t i = 0; i < count; ++i) {
        const Step& s = steps[i];
        const uint64_t top_before = w.top();
        const auto c = w.check(s.seq);
        bool good = c.verdict == s.verdict && (s.seq64 == 0 || c.seq == s.seq64);
        if (good && c.ok() && s.apply) good = w.update(c.seq);
        if (good && (!c.ok() || !s.apply)) good = w.top() == top_before;  // check never moves
        if (!good) {
            std::printf("\n  %s step %d: seq %#x -> %s seq64 %#llx (want %s %#llx)", table, s.n,
                        s.seq, to_string(c.verdict), static_cast<unsigned long long>(c.seq),
                        to_string(s.verdict), static_cast<unsigned long long>(s.seq64));
            all = false;
        }
    }
    return all;
}

constexpr uint32_t W64 = 64;

}  // namespace

// Window 64, no ESN.
PG_TEST(replay, table_64_no_esn) {
    ReplayWindow w(64, false);
    const Step t[] = {
        {1, 0, V::zero_seq},
        {2, 1, V::ok, 1},
        {3, 1, V::replayed, 1},
        {4, 9, V::ok, 9},
        {5, 8, V::ok, 8},
        {6, 7, V::ok},
        {7, 7, V::replayed},
        {8, 2, V::ok},                 // reordered, still inside
        {9, W64 + 1, V::ok},           // top 65: window [2, 65]
        {10, 1, V::too_old},           // 65 - 1 == 64: just left of the window
        {11, 2, V::replayed},          // the oldest slot still remembers
        {12, 3, V::ok},
        {13, W64 + 2, V::ok},          // top 66: 2 falls out
        {14, 2, V::too_old},
        {15, 3, V::replayed},
        {16, 4, V::ok},                // oldest in window, never seen
        {17, 64 + 2 + 10000, V::ok},   // far jump: the whole bitmap is cleared
        {18, 66, V::too_old},
        {19, 10066, V::replayed},
        {20, 10066 - 63, V::ok},       // window edge
        {21, 10066 - 64, V::too_old},  // one past the edge
        {22, 10066 - 1, V::ok},
        {23, 10066 - 63, V::replayed},
        {24, 0xffffffffu, V::ok},      // last number of a non-ESN SA
        {25, 0xffffffffu, V::replayed},
        {26, 0xffffffffu - 63, V::ok},
        {27, 0xffffffffu - 64, V::too_old},
        {28, 0, V::zero_seq},
        {29, 1, V::too_old},           // no ESN: no wrap, 1 is ancient now
    };
    CU_ASSERT_TRUE(run_steps(w, t, std::size(t), "table_64_no_esn"));
}

// RFC 6479 block boundaries: top on the first / last bit of a block, window reaching
// into the spare block.
PG_TEST(replay, table_block_edges) {
    ReplayWindow w(128, false);
    const Step t[] = {
        {1, 128, V::ok},   // top = block 2, bit 0
        {2, 1, V::ok},     // 128 - 1 = 127 < 128: oldest slot, block 0
        {3, 0 + 1, V::replayed},
        {4, 63, V::ok},    {5, 64, V::ok}, {6, 127, V::ok},
        {7, 191, V::ok},   // top = block 2, bit 63: window [64, 191], block 0 cleared
        {8, 63, V::too_old},
        {9, 64, V::replayed},   // block 1 survived
        {10, 127, V::replayed},
        {11, 65, V::ok},
        {12, 192, V::ok},  // top = block 3 bit 0: slides one block, clears only that block
        {13, 64, V::too_old},
        {14, 65, V::replayed},  // 192 - 65 = 127: in window, accepted at step 11
        {15, 66, V::ok},
        {16, 191, V::replayed},
        {17, 192 + 128 * 3, V::ok},  // jump of exactly nblocks-ish blocks
        {18, 192 + 128 * 3 - 127, V::ok},
        {19, 192 + 128 * 3 - 128, V::too_old},
    };
    CU_ASSERT_TRUE(run_steps(w, t, std::size(t), "table_block_edges"));
}

// ESN (RFC 4303 A2.2): crossing 2^32 forwards, late packets from the previous epoch,
// guesses of the next epoch that fail the ICV must not move the window.
PG_TEST(replay, table_64_esn_wrap) {
    ReplayWindow w(64, true);
    constexpr uint64_t E1 = uint64_t{1} << 32;
    const Step t[] = {
        {1, 0, V::zero_seq},                           // 64-bit 0 is never sent
        {2, 0xfffffff0u, V::too_old, 0, false},        // case B at top 0: "previous epoch"
        {3, 0x80000000u, V::ok, 0x80000000u},
        {4, 0xfffffff0u, V::ok, 0xfffffff0u},          // case A, same epoch
        {5, 2, V::ok, E1 + 2},                         // case A, below Tl-W+1: next epoch
        {6, 0xfffffff5u, V::ok, 0xfffffff5u},          // case B: previous epoch, in window
        {7, 0xfffffff0u, V::replayed, 0xfffffff0u},
        {8, 0xffffffc3u, V::ok, 0xffffffc3u},          // top-63: window edge
        {9, 0xffffffc3u, V::replayed, 0xffffffc3u},
        {10, 0xffffffc2u, V::ok, E1 + 0xffffffc2u, false},  // guessed epoch 1: ICV fails
        {11, 0, V::ok, E1 + 0, true},                  // low half 0 is valid with ESN (epoch 1)
        {12, 0, V::replayed, E1},
        {13, 1, V::ok, E1 + 1},
        {14, 2, V::replayed, E1 + 2},
        {15, 0x7fffffffu, V::ok, E1 + 0x7fffffffu},    // big jump inside epoch 1
        {16, 2, V::ok, 2 * E1 + 2, false},             // far below: taken as epoch 2, ICV fails
        {17, 0x7fffffffu - 63, V::ok, E1 + 0x7fffffffu - 63},
        {18, 0x7fffffffu - 64, V::ok, 2 * E1 + 0x7fffffffu - 64, false},  // epoch 2 guess
    };
    CU_ASSERT_TRUE(run_steps(w, t, std::size(t), "table_64_esn_wrap"));
    CU_ASSERT_EQUAL(w.top(), E1 + 0x7fffffffu);
}

// ESN at the end of the 64-bit space: the next epoch does not exist.
PG_TEST(replay, esn_64bit_exhaustion) {
    ReplayWindow w(64, true);
    // update() takes any larger number (the ICV vouched for it): jump to the end.
    CU_ASSERT_TRUE(w.update(0xffffffff'fffffff0ull));
    CU_ASSERT_EQUAL(w.check(5).verdict, V::too_old);  // would be epoch 2^32
    CU_ASSERT_EQUAL(w.check(0xfffffff1u).seq, 0xffffffff'fffffff1ull);
}

// Every valid size: edges relative to a top far from 0, and block-aligned/unaligned tops.
PG_TEST(replay, sizes_64_to_4096) {
    for (uint32_t W = 64; W <= 4096; W <<= 1) {
        for (uint32_t top : {10 * W, 10 * W + 1, 10 * W + 63, 10 * W + 64, 10 * W + W - 1}) {
            ReplayWindow w(W, false);
            CU_ASSERT_EQUAL(w.size(), W);
            CU_ASSERT_TRUE(w.update(top));
            CU_ASSERT_EQUAL(w.check(top).verdict, V::replayed);
            CU_ASSERT_EQUAL(w.check(top + 1).verdict, V::ok);
            CU_ASSERT_EQUAL(w.check(top - W + 1).verdict, V::ok);
            CU_ASSERT_EQUAL(w.check(top - W).verdict, V::too_old);
            // Fill the whole window, every number must be accepted exactly once.
            uint32_t accepted = 0;
            for (uint32_t s = top - W + 1; s < top; ++s) accepted += w.update(s) ? 1 : 0;
            CU_ASSERT_EQUAL(accepted, W - 1);
            uint32_t replays = 0;
            for (uint32_t s = top - W + 1; s <= top; ++s)
                replays += w.check(s).verdict == V::replayed ? 1 : 0;
            CU_ASSERT_EQUAL(replays, W);
            // Slide by one: exactly the oldest falls out, the rest is still remembered.
            CU_ASSERT_TRUE(w.update(top + 1));
            CU_ASSERT_EQUAL(w.check(top - W + 1).verdict, V::too_old);
            CU_ASSERT_EQUAL(w.check(top - W + 2).verdict, V::replayed);
            // Slide by a whole window: everything old is gone, nothing new is marked.
            CU_ASSERT_TRUE(w.update(top + 1 + W));
            CU_ASSERT_EQUAL(w.check(top + 1).verdict, V::too_old);
            CU_ASSERT_EQUAL(w.check(top + 2).verdict, V::ok);
            CU_ASSERT_EQUAL(w.check(top + W).verdict, V::ok);
        }
    }
}

PG_TEST(replay, size_validation) {
    CU_ASSERT_TRUE(ReplayWindow::valid_size(64));
    CU_ASSERT_TRUE(ReplayWindow::valid_size(4096));
    CU_ASSERT_FALSE(ReplayWindow::valid_size(0));
    CU_ASSERT_FALSE(ReplayWindow::valid_size(32));
    CU_ASSERT_FALSE(ReplayWindow::valid_size(96));
    CU_ASSERT_FALSE(ReplayWindow::valid_size(8192));
    CU_ASSERT_EQUAL(ReplayWindow(0).size(), 64u);
    CU_ASSERT_EQUAL(ReplayWindow(100).size(), 128u);
    CU_ASSERT_EQUAL(ReplayWindow(100000).size(), 4096u);
}

// check() is const and pure: many checks, no update, nothing moves.
PG_TEST(replay, check_without_update_does_not_move) {
    ReplayWindow w(64, false);
    CU_ASSERT_TRUE(w.update(100));
    for (uint32_t s = 1; s < 100000; s += 7) (void)w.check(s);
    CU_ASSERT_EQUAL(w.top(), 100u);
    CU_ASSERT_EQUAL(w.check(99).verdict, V::ok);
    CU_ASSERT_EQUAL(w.check(37).verdict, V::ok);
    CU_ASSERT_EQUAL(w.check(36).verdict, V::too_old);
    CU_ASSERT_EQUAL(w.check(100).verdict, V::replayed);
}

// Two copies of one packet in the same burst both pass check(); only one update() wins.
// A packet that passed check() but fell out of the window before its update() loses.
PG_TEST(replay, update_revalidates) {
    ReplayWindow w(64, false);
    const auto a = w.check(5), b = w.check(5);
    CU_ASSERT_TRUE(a.ok() && b.ok());
    CU_ASSERT_TRUE(w.update(a.seq));
    CU_ASSERT_FALSE(w.update(b.seq));
    const auto old = w.check(6);
    CU_ASSERT_TRUE(w.update(1000));
    CU_ASSERT_TRUE(old.ok());
    CU_ASSERT_FALSE(w.update(old.seq));
    CU_ASSERT_FALSE(w.update(0));
    CU_ASSERT_FALSE(w.update(uint64_t{1} << 32));  // no ESN: out of range
    w.reset();
    CU_ASSERT_EQUAL(w.top(), 0u);
    CU_ASSERT_EQUAL(w.check(5).verdict, V::ok);
}

// Anti-replay disabled: every number passes, repeatedly, and update never refuses.
PG_TEST(replay, disabled_accepts_everything) {
    ReplayWindow w = ReplayWindow::disabled();
    CU_ASSERT_FALSE(w.enabled());
    CU_ASSERT_TRUE(ReplayWindow(64).enabled());
    for (int round = 0; round < 3; ++round) {
        for (uint32_t s : {5u, 1u, 5u, 100000u, 2u, 0u, UINT32_MAX}) {
            const auto c = w.check(s);
            CU_ASSERT_TRUE(c.ok());
            CU_ASSERT_EQUAL(c.seq, s);
            CU_ASSERT_TRUE(w.update(c.seq));
        }
    }
    // while an enabled window refuses the same sequence
    ReplayWindow on(64);
    CU_ASSERT_TRUE(on.update(on.check(5).seq));
    CU_ASSERT_EQUAL(on.check(5).verdict, ReplayVerdict::replayed);
}

PG_TEST(replay, verdict_names) {
    PG_ASSERT_STR_EQ(to_string(V::ok), "ok");
    PG_ASSERT_STR_EQ(to_string(V::replayed), "replayed");
    PG_ASSERT_STR_EQ(to_string(V::too_old), "too_old");
    PG_ASSERT_STR_EQ(to_string(V::zero_seq), "zero_seq");
}

// Property: random arrival orders (reordering, duplicates, jumps, epoch wraps with ESN)
// against a naive model keeping every accepted number in a std::set. The "ICV" accepts
// only the true sequence number, as a real receiver would.
PG_TEST(replay, property_vs_naive_set) {
    std::mt19937_64 rng(0x5eed'0001);
    for (uint32_t W : {64u, 128u, 1024u, 4096u}) {
        for (bool esn : {false, true}) {
            ReplayWindow w(W, esn);
            std::set<uint64_t> seen;
            uint64_t top = 0;
            // ESN: start just below an epoch boundary so that wraps happen often.
            uint64_t sender = esn ? 0xffffff00ull - 4 * W : 1;
            uint64_t mismatches = 0, accepted = 0;
            for (int op = 0; op < 200000; ++op) {
                // Sender advances; the network reorders within ~3 windows, duplicates,
                // and sometimes jumps far ahead (long loss).
                const unsigned dice = rng() % 1000;
                uint64_t s;
                if (dice < 5) {
                    sender += rng() % (uint64_t{1} << (esn ? 30 : 20));
                    s = sender;
                } else if (dice < 100 && !seen.empty()) {
                    const uint64_t back = rng() % (2 * W);  // duplicates / old
                    if (back >= *seen.rbegin()) continue;
                    s = *seen.rbegin() - back;
                } else {
                    sender += 1 + rng() % 3;
                    const uint64_t back = rng() % (3 * W);
                    s = sender > back ? sender - back : sender;
                }
                if (!esn && s > 0xffffffffull) break;  // a non-ESN SA would have rekeyed
                if (s == 0) continue;
                // Model.
                const bool model_ok = s > top || (top - s < W && !seen.count(s));
                // Window (receiver only sees the low 32 bits).
                const auto c = w.check(static_cast<uint32_t>(s));
                bool got_ok = false;
                if (c.ok() && c.seq == s) got_ok = w.update(c.seq);  // ICV passes
                if (got_ok != model_ok) {
                    if (++mismatches <= 5)
                        std::printf("\n  W=%u esn=%d seq %#llx top %#llx: model %d window %d (%s)",
                                    W, esn, static_cast<unsigned long long>(s),
                                    static_cast<unsigned long long>(top), model_ok, got_ok,
                                    to_string(c.verdict));
                }
                if (model_ok) {
                    ++accepted;
                    seen.insert(s);
                    if (s > top) top = s;
                    while (!seen.empty() && *seen.begin() + W < top) seen.erase(seen.begin());
                }
                if (w.top() != top) ++mismatches;
            }
            CU_ASSERT_EQUAL(mismatches, 0u);
            CU_ASSERT_TRUE(accepted > 1000);
        }
    }
}
