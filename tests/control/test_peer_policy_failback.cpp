// tests/control/test_peer_policy_failback.cpp - preemptive failback and dampening, rows
// F1..F7 of the transition table in control/peer_policy.hpp (Peregrine extension).
#include "tests/control/policy_test_util.hpp"
#include "tests/harness/pgtest.hpp"

using namespace pptest;

namespace {

constexpr uint32_t A = 0x0A010101, B = 0x0A020202;

// [A default, B], failback: probe 5 s, hold-down 30 s, max 120 s, stable = max.
PolicyConfig cfg() {
    PolicyConfig c;
    c.peers = {ip_peer(A, true), ip_peer(B)};
    c.failback = PolicyFailback{5, 30, 120, 0};
    return c;
}

// Up on the backup B at `now` (A's attempt failed).
void up_on_backup(PeerPolicy& p, Millis now) {
    Decision d = p.need(now, NeedReason::traffic);
    d = p.attempt_result(now, find<action::Initiate>(d)->id, false, FailReason::no_response);
    auto i = find<action::Initiate>(d);
    CU_ASSERT_TRUE_FATAL(i.has_value());
    CU_ASSERT_EQUAL(i->peer, 1u);
    p.attempt_result(now, i->id, true);
    CU_ASSERT_EQUAL(p.current(), 1u);
}

// tick at t: expect a Probe to the default; answer it.
Decision probe(PeerPolicy& p, Millis t, bool answered) {
    Decision d = p.tick(t);
    auto pr = find<action::Probe>(d);
    CU_ASSERT_TRUE_FATAL(pr.has_value());
    CU_ASSERT_EQUAL(pr->peer, 0u);
    CU_ASSERT_EQUAL(pr->addr, A);
    return p.probe_result(t, pr->id, answered);
}

// Probe every 5 s from `from` until a NegotiateStandby appears; returns its time.
Millis run_until_standby(PeerPolicy& p, Millis from, Millis limit, AttemptId* id) {
    for (Millis t = from; t <= limit; t += 5000ms) {
        Decision d = probe(p, t, true);
        if (auto n = find<action::NegotiateStandby>(d)) {
            *id = n->id;
            return t;
        }
    }
    return Millis{-1};
}

}  // namespace

// F1 While the current peer is not the default, probe the default every probe interval;
// on the default there is no probing.
PG_TEST(peer_policy_failback, f01_probe_every_interval_on_backup) {
    FakeResolver r;
    auto p = make(cfg(), r);
    up_on_backup(p, 0ms);
    CU_ASSERT_EQUAL(p.phase(), Phase::probing);
    CU_ASSERT_EQUAL(p.next_deadline().value(), 5000ms);
    CU_ASSERT_TRUE(p.tick(4999ms).ignored);
    probe(p, 5000ms, true);
    CU_ASSERT_EQUAL(p.next_deadline().value(), 10000ms);
    probe(p, 10000ms, true);
    // on the default: no probing
    auto q = make(cfg(), r);
    Decision d = q.need(0ms, NeedReason::traffic);
    q.attempt_result(0ms, find<action::Initiate>(d)->id, true);
    CU_ASSERT_EQUAL(q.phase(), Phase::off);
    CU_ASSERT_FALSE(q.next_deadline().has_value());
    // without failback configured: no probing on the backup either
    PolicyConfig c = cfg();
    c.failback.reset();
    auto s = make(c, r);
    up_on_backup(s, 0ms);
    CU_ASSERT_EQUAL(s.phase(), Phase::off);
    CU_ASSERT_FALSE(s.next_deadline().has_value());
}

// F2 Once the default has answered continuously for hold-down, negotiate SAs with it;
// never before. A negative or missed probe restarts the run.
PG_TEST(peer_policy_failback, f02_hold_down_continuous_answers) {
    FakeResolver r;
    auto p = make(cfg(), r);
    up_on_backup(p, 0ms);
    AttemptId id = 0;
    // first answer at 5 s: the run starts there, 30 s later (35 s) the standby starts
    CU_ASSERT_EQUAL(run_until_standby(p, 5000ms, 100000ms, &id), 35000ms);
    CU_ASSERT_EQUAL(p.phase(), Phase::standby);
    // negative answer breaks the run
    auto q = make(cfg(), r);
    up_on_backup(q, 0ms);
    probe(q, 5000ms, true);
    probe(q, 10000ms, false);
    CU_ASSERT_FALSE(q.answering_since().has_value());
    CU_ASSERT_EQUAL(run_until_standby(q, 15000ms, 100000ms, &id), 45000ms);
    // missed answer (no result before the next probe) breaks the run too
    auto m = make(cfg(), r);
    up_on_backup(m, 0ms);
    probe(m, 5000ms, true);
    Decision d = m.tick(10000ms);  // probe sent, never answered
    CU_ASSERT_TRUE(find<action::Probe>(d).has_value());
    d = m.tick(15000ms);
    CU_ASSERT_TRUE(find<action::Cancel>(d).has_value());  // the unanswered probe is dropped
    CU_ASSERT_FALSE(m.answering_since().has_value());
    auto pr = find<action::Probe>(d);
    m.probe_result(15000ms, pr->id, true);
    CU_ASSERT_EQUAL(run_until_standby(m, 20000ms, 100000ms, &id), 45000ms);
    // hold-down 0: the first answer starts the standby negotiation
    PolicyConfig z = cfg();
    z.failback->hold_down_s = 0;
    auto h = make(z, r);
    up_on_backup(h, 0ms);
    CU_ASSERT_TRUE(find<action::NegotiateStandby>(probe(h, 5000ms, true)).has_value());
}

// F3 Make-before-break: traffic keeps flowing on the backup while SAs with the default
// are negotiated; then one atomic swap, then the backup's SAs are deleted.
PG_TEST(peer_policy_failback, f03_make_before_break_swap) {
    FakeResolver r;
    auto p = make(cfg(), r);
    up_on_backup(p, 0ms);
    AttemptId id = 0;
    const Millis t = run_until_standby(p, 5000ms, 100000ms, &id);
    CU_ASSERT_EQUAL(*p.active(), 1u);  // still on the backup
    CU_ASSERT_EQUAL(p.current(), 1u);
    Decision d = p.attempt_result(t + 1000ms, id, true);
    CU_ASSERT_EQUAL(count<action::ClearActivePeer>(d), 0);  // never without an SA
    const int set = index_of<action::SetActivePeer>(d);
    const int del = index_of<action::DeleteSas>(d);
    CU_ASSERT_TRUE(set >= 0 && del > set);
    CU_ASSERT_EQUAL(std::get<action::SetActivePeer>(d.actions[set]).peer, 0u);
    CU_ASSERT_EQUAL(std::get<action::SetActivePeer>(d.actions[set]).addr, A);
    CU_ASSERT_EQUAL(std::get<action::DeleteSas>(d.actions[del]).peer, 1u);
    CU_ASSERT_EQUAL(p.current(), 0u);
    CU_ASSERT_EQUAL(p.phase(), Phase::off);
    CU_ASSERT_EQUAL(p.last_failback().value(), t + 1000ms);
    // While the backup was being rekeyed: the rekey is cancelled by the swap.
    auto q = make(cfg(), r);
    up_on_backup(q, 0ms);
    const Millis t2 = run_until_standby(q, 5000ms, 100000ms, &id);
    auto rk = find<action::Initiate>(q.need(t2 + 1ms, NeedReason::rekey));
    CU_ASSERT_TRUE_FATAL(rk.has_value());
    d = q.attempt_result(t2 + 2ms, id, true);
    CU_ASSERT_EQUAL(find<action::Cancel>(d)->id, rk->id);
    CU_ASSERT_EQUAL(q.state(), State::up);
    CU_ASSERT_EQUAL(q.illegal_transitions(), 0u);
}

// F4 A failed standby negotiation keeps the backup, restarts the run and counts as a
// dampening penalty (hold-down doubles).
PG_TEST(peer_policy_failback, f04_standby_failure_back_to_probing) {
    FakeResolver r;
    auto p = make(cfg(), r);
    up_on_backup(p, 0ms);
    AttemptId id = 0;
    const Millis t = run_until_standby(p, 5000ms, 100000ms, &id);
    Decision d = p.attempt_result(t, id, false, FailReason::auth_failed);
    CU_ASSERT_EQUAL(count<action::SetActivePeer>(d) + count<action::DeleteSas>(d), 0);
    CU_ASSERT_EQUAL(p.phase(), Phase::probing);
    CU_ASSERT_EQUAL(*p.active(), 1u);
    CU_ASSERT_EQUAL(p.effective_hold_down(t), 60000ms);
    CU_ASSERT_EQUAL(run_until_standby(p, t + 5000ms, t + 200000ms, &id), t + 65000ms);
}

// F5 Dampening: a default peer that fails within stable_s (= max_hold_down_s when 0)
// after a failback doubles the hold-down, capped at max_hold_down_s; the hold-down
// halves for every stable_s without a penalty, never below hold_down_s.
PG_TEST(peer_policy_failback, f05_dampening_double_cap_decay) {
    FakeResolver r;
    auto p = make(cfg(), r);
    Millis t = 0ms;
    AttemptId id = 0;
    const Millis expected[] = {60000ms, 120000ms, 120000ms};
    for (Millis want : expected) {
        up_on_backup(p, t);
        const Millis probe_from = t + 5000ms;
        const Millis s = run_until_standby(p, probe_from, t + 1000000ms, &id);
        // never before the hold-down that was in force
        CU_ASSERT_TRUE(s - probe_from >= p.effective_hold_down(s));
        p.attempt_result(s, id, true);  // failback
        t = s + 10000ms;
        p.dpd_dead(t, 0);               // the default fails 10 s later: flap
        CU_ASSERT_EQUAL(p.effective_hold_down(t), want);
        CU_ASSERT_EQUAL(p.current(), 0u);  // R3 still: next attempt to the default
    }
    // decay: 120 -> 60 after 120 s, -> 30 (floor) after 240 s
    CU_ASSERT_EQUAL(p.effective_hold_down(t + 119999ms), 120000ms);
    CU_ASSERT_EQUAL(p.effective_hold_down(t + 120000ms), 60000ms);
    CU_ASSERT_EQUAL(p.effective_hold_down(t + 240000ms), 30000ms);
    CU_ASSERT_EQUAL(p.effective_hold_down(t + 2400000ms), 30000ms);
    // A failure after the stable period is not a flap.
    auto q = make(cfg(), r);
    up_on_backup(q, 0ms);
    const Millis s = run_until_standby(q, 5000ms, 100000ms, &id);
    q.attempt_result(s, id, true);
    q.dpd_dead(s + 120000ms, 0);
    CU_ASSERT_EQUAL(q.effective_hold_down(s + 120000ms), 30000ms);
    // With hold-down 0 the first penalty uses the probe interval.
    PolicyConfig z = cfg();
    z.failback->hold_down_s = 0;
    auto h = make(z, r);
    up_on_backup(h, 0ms);
    Decision d = probe(h, 5000ms, true);
    h.attempt_result(5000ms, find<action::NegotiateStandby>(d)->id, true);
    h.dpd_dead(6000ms, 0);
    CU_ASSERT_EQUAL(h.effective_hold_down(6000ms), 5000ms);
}

// F6 Heard from the default while on the backup: R2 (the spec) wins over hold-down; the
// switch is immediate and counts as a failback for dampening.
PG_TEST(peer_policy_failback, f06_heard_from_default_wins) {
    FakeResolver r;
    auto p = make(cfg(), r);
    up_on_backup(p, 0ms);
    Decision d = p.tick(5000ms);
    auto pr = find<action::Probe>(d);
    d = p.heard_from(6000ms, 0, A, HeardKind::negotiation);
    CU_ASSERT_EQUAL(find<action::Cancel>(d)->id, pr->id);
    CU_ASSERT_EQUAL(find<action::SetActivePeer>(d)->peer, 0u);
    CU_ASSERT_EQUAL(find<action::DeleteSas>(d)->peer, 1u);
    CU_ASSERT_EQUAL(p.phase(), Phase::off);
    CU_ASSERT_EQUAL(p.last_failback().value(), 6000ms);
    // heard from the backup while on the default: back on the backup, probing again
    d = p.heard_from(7000ms, 1, B, HeardKind::traffic);
    CU_ASSERT_EQUAL(p.current(), 1u);
    CU_ASSERT_EQUAL(p.phase(), Phase::probing);
    CU_ASSERT_EQUAL(p.illegal_transitions(), 0u);
}

// F7 The backup dies (DPD) or idles out during the standby negotiation: the standby is
// abandoned and the ordinary rules apply (R3: next attempt to the default).
PG_TEST(peer_policy_failback, f07_backup_dies_during_standby) {
    FakeResolver r;
    auto p = make(cfg(), r);
    up_on_backup(p, 0ms);
    AttemptId id = 0;
    const Millis t = run_until_standby(p, 5000ms, 100000ms, &id);
    Decision d = p.dpd_dead(t + 1ms, 1);
    CU_ASSERT_EQUAL(find<action::Cancel>(d)->id, id);
    CU_ASSERT_TRUE(find<action::ClearActivePeer>(d).has_value());
    CU_ASSERT_EQUAL(p.phase(), Phase::off);
    CU_ASSERT_TRUE(p.attempt_result(t + 2ms, id, true).ignored);  // stale
    CU_ASSERT_EQUAL(find<action::Initiate>(p.need(t + 3ms, NeedReason::traffic))->peer, 0u);
    // idle with `default`
    PolicyConfig c = cfg();
    c.idle_time = PolicyIdleTime{60, true};
    auto q = make(c, r);
    up_on_backup(q, 0ms);
    const Millis t2 = run_until_standby(q, 5000ms, 100000ms, &id);
    d = q.idle(t2 + 1ms, 1, 60s);
    CU_ASSERT_EQUAL(find<action::Cancel>(d)->id, id);
    CU_ASSERT_EQUAL(q.current(), 0u);
}
