// tests/control/test_peer_policy_property.cpp - randomized property test of the peer
// policy: >= 100,000 random events over random entry configurations, checked against
// invariants by an independent model built only from the emitted Actions.
//
// Deterministic: fixed seed, printed; override with PG_SEED=<n>.
//
// Invariants:
//   I1 the current peer is always in the list
//   I2 never two active peers: the data-plane view (SetActivePeer / ClearActivePeer)
//      has at most one peer, matches active(), and no DeleteSas hits the active SAs
//   I3 failback never swaps before hold-down: the standby negotiation starts only after
//      the default answered continuously for the effective hold-down (>= hold_down_s)
//   I4 with a default peer, the first attempt after a DPD failure goes to the default
//   I5 at most one own attempt in flight; every result/cancel refers to a known handle
//   I6 only legal transitions; StateChanged/PhaseChanged chain from the actual state;
//      failback phase only while up/rekeying on a backup
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>

#include "tests/control/policy_test_util.hpp"
#include "tests/harness/pgtest.hpp"

using namespace pptest;

namespace {

constexpr uint64_t kDefaultSeed = 0x9E3779B97F4A7C15ull;
constexpr int kConfigs = 125;
constexpr int kEventsPerConfig = 1000;  // 125,000 events in all

struct Rng {
    std::mt19937_64 g;
    explicit Rng(uint64_t seed) : g(seed) {}
    uint32_t below(uint32_t n) { return static_cast<uint32_t>(g() % n); }
    bool chance(uint32_t percent) { return below(100) < percent; }
};

PolicyConfig random_config(Rng& rng, FakeResolver& res) {
    PolicyConfig c;
    const uint32_t n = 1 + rng.below(4);
    for (uint32_t i = 0; i < n; ++i) {
        PolicyPeer p;
        const uint32_t kind = rng.below(3);
        if (kind == 0) {
            p.ip = 0x0A000001 + i;
            p.host = "10.0.0." + std::to_string(i + 1);
        } else {
            p.host = "peer" + std::to_string(i) + ".example";
            p.dynamic = kind == 2;
            res.table[p.host] = rng.chance(85) ? std::optional<uint32_t>(0x0B000001 + i) : std::nullopt;
        }
        c.peers.push_back(p);
    }
    c.peers[0].is_default = rng.chance(65);
    if (rng.chance(50)) c.idle_time = PolicyIdleTime{60 + 30 * rng.below(3), rng.chance(60)};
    c.global_idle_s = rng.chance(40) ? 90 : 0;
    if (c.has_default() && rng.chance(70)) {
        PolicyFailback f;
        f.probe_interval_s = 1 + rng.below(10);
        f.hold_down_s = rng.below(4) * 10;
        f.max_hold_down_s = f.hold_down_s + rng.below(4) * 20;
        f.stable_s = rng.chance(50) ? 0 : 30 + rng.below(120);
        c.failback = f;
    }
    c.retry_backoff_initial_ms = 500;
    c.retry_backoff_max_ms = 8000;
    return c;
}

struct Checker {
    explicit Checker(const PeerPolicy& policy) : p(policy) {}
    const PeerPolicy& p;
    uint32_t n = 0;
    bool has_default = false;
    uint32_t hold_down_ms = 0;
    // data-plane view
    std::optional<std::pair<PeerIndex, uint32_t>> active;
    // handles in flight
    std::set<AttemptId> attempts, probes, standbys;
    State state = State::down;
    Phase phase = Phase::off;
    bool expect_default = false;  // I4
    std::optional<Millis> run_start;  // I3, the model's own answering run
    std::optional<Millis> standby_run_start;
    uint64_t violations = 0;
    int event = -1;  // last event kind, for the failure message

    void fail(const char* what, Millis now) {
        if (violations++ < 10)
            std::printf("\n  invariant violated at t=%" PRId64 " ms after event %d: %s "
                        "(state %s, phase %s, current %u, active %d)\n",
                        static_cast<int64_t>(now.count()), event, what, to_string(p.state()),
                        to_string(p.phase()), p.current(), p.active() ? int(*p.active()) : -1);
    }
    void check(bool ok, const char* what, Millis now) {
        if (!ok) fail(what, now);
    }

    void reset_for(const PolicyConfig& c) {
        n = static_cast<uint32_t>(c.peers.size());
        has_default = c.has_default();
        hold_down_ms = c.failback ? c.failback->hold_down_s * 1000 : 0;
    }

    void apply(const Decision& d, Millis now) {
        for (const Action& a : d.actions) {
            if (const auto* x = std::get_if<action::Initiate>(&a)) {
                check(x->peer < n, "Initiate to a peer outside the list", now);
                check(attempts.empty(), "I5 two own attempts in flight", now);
                if (expect_default) check(x->peer == 0, "I4 first attempt after DPD not to default", now);
                expect_default = false;
                attempts.insert(x->id);
            } else if (const auto* x = std::get_if<action::ResolveFailed>(&a)) {
                if (expect_default) check(x->peer == 0, "I4 first attempt after DPD not to default", now);
                expect_default = false;
                if (phase == Phase::probing) run_start.reset();
            } else if (const auto* x = std::get_if<action::Cancel>(&a)) {
                const size_t erased = attempts.erase(x->id) + standbys.erase(x->id) + probes.erase(x->id);
                check(erased == 1, "I5 Cancel of an unknown handle", now);
                run_start.reset();
            } else if (const auto* x = std::get_if<action::SetActivePeer>(&a)) {
                check(x->peer < n, "SetActivePeer outside the list", now);
                active = std::make_pair(x->peer, x->addr);
            } else if (std::get_if<action::ClearActivePeer>(&a)) {
                active.reset();
            } else if (const auto* x = std::get_if<action::DeleteSas>(&a)) {
                check(!active || *active != std::make_pair(x->peer, x->addr),
                      "I2 DeleteSas of the active peer's SAs", now);
            } else if (const auto* x = std::get_if<action::Probe>(&a)) {
                check(x->peer == 0 && phase == Phase::probing, "Probe outside probing", now);
                probes.insert(x->id);
            } else if (const auto* x = std::get_if<action::NegotiateStandby>(&a)) {
                check(x->peer == 0, "standby not with the default", now);
                // I3: the run the model saw must cover the hold-down in force.
                check(run_start.has_value() && now - *run_start >= Millis{hold_down_ms} &&
                          now - *run_start >= p.effective_hold_down(now),
                      "I3 standby negotiation before hold-down", now);
                check(p.answering_since() == run_start, "I3 run start disagrees with model", now);
                standby_run_start = run_start;
                standbys.insert(x->id);
            } else if (const auto* x = std::get_if<action::StateChanged>(&a)) {
                check(x->from == state, "StateChanged does not chain", now);
                state = x->to;
            } else if (const auto* x = std::get_if<action::PhaseChanged>(&a)) {
                check(x->from == phase, "PhaseChanged does not chain", now);
                phase = x->to;
                run_start.reset();
            }
        }
        invariants(now);
    }

    void invariants(Millis now) {
        check(p.current() < n, "I1 current peer not in the list", now);
        const auto pa = p.active();
        check(pa.has_value() == active.has_value() && (!pa || *pa == active->first),
              "I2 active() differs from the data-plane view", now);
        const bool up = p.state() == State::up || p.state() == State::rekeying;
        check(up == pa.has_value(), "I2 active peer iff up/rekeying", now);
        check(!pa || *pa == p.current(), "I2 active peer is not the current peer", now);
        check(p.phase() == Phase::off || (up && p.current() != 0 && has_default),
              "I6 failback phase outside up-on-backup", now);
        check(p.illegal_transitions() == 0, "I6 illegal transition", now);
        check(p.state() == state && p.phase() == phase, "I6 transitions not all reported", now);
        check(attempts.size() <= 1, "I5 more than one attempt", now);
        check(attempts.empty() || p.state() == State::connecting || p.state() == State::rekeying,
              "I5 attempt in flight while not connecting/rekeying", now);
    }
};

template <class T>
T pick(Rng& rng, const std::set<T>& s) {
    auto it = s.begin();
    std::advance(it, rng.below(static_cast<uint32_t>(s.size())));
    return *it;
}

}  // namespace

PG_TEST(peer_policy_property, random_events_keep_invariants) {
    uint64_t seed = kDefaultSeed;
    if (const char* env = std::getenv("PG_SEED")) seed = std::strtoull(env, nullptr, 0);
    std::printf("\n  PG_SEED=%" PRIu64 " (%d configurations x %d events)\n", seed, kConfigs,
                kEventsPerConfig);
    Rng rng(seed);
    uint64_t events = 0, violations = 0, swaps = 0, dpd_default = 0, standbys = 0;
    for (int ci = 0; ci < kConfigs; ++ci) {
        FakeResolver res;
        PolicyConfig cfg = random_config(rng, res);
        Millis now{static_cast<int64_t>(rng.below(1000000))};
        auto p = make(cfg, res, now);
        Checker ck{p};
        ck.reset_for(cfg);
        for (int ei = 0; ei < kEventsPerConfig; ++ei, ++events) {
            now += Millis{rng.below(rng.chance(5) ? 200000 : 4000)};
            if (auto dl = p.next_deadline(); dl && *dl <= now) ck.apply(p.tick(now), now);
            const uint32_t n = ck.n;
            Decision d;
            ck.event = static_cast<int>(rng.below(15));
            bool check_swap = false;
            switch (ck.event) {
            case 0:
            case 1:
                d = p.need(now, NeedReason::traffic);
                break;
            case 2:
                d = p.need(now, NeedReason::rekey);
                break;
            case 3:
            case 4:
                if (!ck.attempts.empty()) {
                    const AttemptId id = *ck.attempts.begin();
                    ck.attempts.erase(id);
                    d = p.attempt_result(now, id, rng.chance(40),
                                         static_cast<FailReason>(rng.below(5)));
                    ck.check(!d.ignored, "I5 in-flight attempt result ignored", now);
                }
                break;
            case 5:
                if (!ck.standbys.empty()) {
                    const AttemptId id = *ck.standbys.begin();
                    ck.standbys.erase(id);
                    const bool ok = rng.chance(60);
                    d = p.attempt_result(now, id, ok);
                    ck.check(!d.ignored, "standby result ignored", now);
                    check_swap = ok;
                } else {  // a stale handle (never a live one)
                    const AttemptId id = 1 + rng.below(50);
                    if (!ck.attempts.count(id)) {
                        d = p.attempt_result(now, id, rng.chance(50));
                        ck.check(d.ignored, "stale result not ignored", now);
                    }
                }
                break;
            case 6: {
                const PeerIndex peer = rng.chance(70) ? p.current() : rng.below(n);
                d = p.dpd_dead(now, peer);
                if (!d.ignored && ck.has_default) {
                    ck.expect_default = true;
                    ++dpd_default;
                }
                break;
            }
            case 7:
                d = p.idle(now, rng.chance(80) ? p.current() : rng.below(n),
                           Millis{1000 * (30 + rng.below(120))});
                break;
            case 8: {
                const PeerIndex peer = rng.below(n + 1);  // n = not listed
                d = p.heard_from(now, peer, 0x0C000000 + rng.below(3),
                                 rng.chance(50) ? HeardKind::traffic : HeardKind::negotiation);
                if (!d.ignored) ck.expect_default = false;
                break;
            }
            case 9:
            case 10:
            case 11:
                if (!ck.probes.empty()) {
                    const AttemptId id = pick(rng, ck.probes);
                    ck.probes.erase(id);
                    const bool answered = rng.chance(85);
                    d = p.probe_result(now, id, answered);
                    ck.check(!d.ignored, "probe result ignored", now);
                    if (answered && !ck.run_start) ck.run_start = now;
                    if (!answered) ck.run_start.reset();
                } else if (auto dl = p.next_deadline()) {
                    now = std::max(now, *dl);
                    d = p.tick(now);
                }
                break;
            case 12: {  // the DNS changes under dynamic names
                auto it = res.table.begin();
                if (!res.table.empty()) {
                    std::advance(it, rng.below(static_cast<uint32_t>(res.table.size())));
                    it->second = rng.chance(80) ? std::optional<uint32_t>(0x0D000000 + rng.below(4))
                                                : std::nullopt;
                }
                break;
            }
            case 13:
                d = p.tick(now);
                break;
            case 14:
                if (rng.chance(10)) {  // reconfigure (R7), sometimes invalid (R8)
                    PolicyConfig nc = random_config(rng, res);
                    const bool invalid = nc.peers.size() > 1 && rng.chance(30);
                    if (invalid) nc.peers.back().is_default = true;
                    auto r = p.reconfigure(now, nc);
                    if (invalid) {
                        ck.check(std::holds_alternative<PolicyError>(r), "R8 invalid accepted", now);
                    } else {
                        ck.check(std::holds_alternative<Decision>(r), "valid rejected", now);
                        d = std::get<Decision>(std::move(r));
                        ck.apply(d, now);  // handles of the old config are cancelled here
                        ck.reset_for(nc);
                        ck.check(p.current() == 0, "R7 reconfigure did not reset", now);
                        d = Decision{};
                    }
                }
                break;
            }
            ck.apply(d, now);
            if (check_swap) {
                ++swaps;
                ck.check(ck.standby_run_start && now - *ck.standby_run_start >= Millis{ck.hold_down_ms},
                         "I3 swap before hold-down", now);
                ck.check(ck.active && ck.active->first == 0, "swap not to the default", now);
            }
        }
        violations += ck.violations;
        // Leftover handles are fine; no Cancel must have been missing for a dropped state.
    }
    std::printf("  %" PRIu64 " events, %" PRIu64 " DPD-with-default, %" PRIu64
                " failback swaps, violations %" PRIu64 "\n",
                events, dpd_default, swaps, violations);
    (void)standbys;
    CU_ASSERT_TRUE(events >= 100000);
    CU_ASSERT_TRUE(swaps > 0);
    CU_ASSERT_TRUE(dpd_default > 0);
    CU_ASSERT_EQUAL(violations, 0u);
}
