// tests/control/test_peer_policy.cpp - one numbered case per spec rule R1..R8 of the
// transition table in control/peer_policy.hpp. Each case quotes the sentence it encodes.
#include "tests/control/policy_test_util.hpp"
#include "tests/harness/pgtest.hpp"

using namespace pptest;

namespace {

constexpr uint32_t A = 0x0A010101, B = 0x0A020202, C = 0x0A030303;

PolicyConfig three(bool with_default) {
    PolicyConfig c;
    c.peers = {ip_peer(A, with_default), ip_peer(B), ip_peer(C)};
    return c;
}

// Drive the policy to `up` on peer index `target` by failing the peers before it.
void establish_on(PeerPolicy& p, PeerIndex target, Millis now) {
    Decision d = p.need(now, NeedReason::traffic);
    for (;;) {
        auto init = find<action::Initiate>(d);
        CU_ASSERT_TRUE_FATAL(init.has_value());
        if (init->peer == target) {
            d = p.attempt_result(now, init->id, true);
            break;
        }
        d = p.attempt_result(now, init->id, false, FailReason::no_response);
    }
    CU_ASSERT_EQUAL(p.state(), State::up);
    CU_ASSERT_EQUAL(p.current(), target);
}

}  // namespace

// R1 "If the attempt fails with the first peer, IKE tries the next peer on the crypto map
// list." The peer that succeeds becomes the current peer and the active one.
PG_TEST(peer_policy, r01_list_order_next_peer_on_failure) {
    FakeResolver r;
    auto p = make(three(false), r);
    Decision d = p.need(0ms, NeedReason::traffic);
    auto i1 = find<action::Initiate>(d);
    CU_ASSERT_TRUE_FATAL(i1.has_value());
    CU_ASSERT_EQUAL(i1->peer, 0u);
    CU_ASSERT_EQUAL(i1->addr, A);
    CU_ASSERT_EQUAL(p.state(), State::connecting);
    CU_ASSERT_TRUE(p.need(1ms, NeedReason::traffic).ignored);  // one attempt in flight
    d = p.attempt_result(2ms, i1->id, false, FailReason::auth_failed);
    auto i2 = find<action::Initiate>(d);
    CU_ASSERT_TRUE_FATAL(i2.has_value());
    CU_ASSERT_EQUAL(i2->peer, 1u);
    CU_ASSERT_EQUAL(i2->addr, B);
    d = p.attempt_result(3ms, i2->id, true);
    auto act = find<action::SetActivePeer>(d);
    CU_ASSERT_TRUE_FATAL(act.has_value());
    CU_ASSERT_EQUAL(act->peer, 1u);
    CU_ASSERT_EQUAL(p.current(), 1u);
    CU_ASSERT_EQUAL(*p.active(), 1u);
    CU_ASSERT_EQUAL(p.state(), State::up);
    // A stale result (the first attempt's id again) changes nothing.
    CU_ASSERT_TRUE(p.attempt_result(4ms, i1->id, true).ignored);
}

// R1 decision: after the last peer fails the rotation wraps to the first peer; a full
// pass of failures is followed by a back-off (1 s, doubling per pass, cap 60 s); attempts
// stay traffic-driven (needs during back-off are dropped; none is started by the timer).
PG_TEST(peer_policy, r01b_after_last_peer_wrap_with_backoff) {
    FakeResolver r;
    auto p = make(three(false), r);
    Decision d = p.need(0ms, NeedReason::traffic);
    for (PeerIndex want = 0; want < 3; ++want) {
        auto i = find<action::Initiate>(d);
        CU_ASSERT_TRUE_FATAL(i.has_value());
        CU_ASSERT_EQUAL(i->peer, want);
        d = p.attempt_result(10ms, i->id, false, FailReason::no_proposal_chosen);
    }
    CU_ASSERT_EQUAL(p.state(), State::backoff);
    CU_ASSERT_EQUAL(p.current(), 0u);  // "continue from the first"
    CU_ASSERT_EQUAL(p.next_deadline().value(), 1010ms);
    CU_ASSERT_TRUE(p.need(500ms, NeedReason::traffic).ignored);
    CU_ASSERT_TRUE(p.tick(1009ms).ignored);
    d = p.tick(1010ms);
    CU_ASSERT_EQUAL(p.state(), State::down);
    CU_ASSERT_EQUAL(count<action::Initiate>(d), 0);  // traffic-driven
    d = p.need(2000ms, NeedReason::traffic);
    for (PeerIndex want = 0; want < 3; ++want) {
        auto i = find<action::Initiate>(d);
        CU_ASSERT_TRUE_FATAL(i.has_value());
        CU_ASSERT_EQUAL(i->peer, want);
        d = p.attempt_result(2000ms, i->id, false, FailReason::ts_unacceptable);
    }
    CU_ASSERT_EQUAL(p.next_deadline().value(), 4000ms);  // second pass: 2 s
}

// R1 continued: a rekey goes to the current peer while its SAs keep working; a failed
// rekey fails over to the next peer.
PG_TEST(peer_policy, r01c_rekey_and_rekey_failure) {
    FakeResolver r;
    auto p = make(three(false), r);
    establish_on(p, 0, 0ms);
    Decision d = p.need(100ms, NeedReason::rekey);
    auto i = find<action::Initiate>(d);
    CU_ASSERT_EQUAL(i->peer, 0u);
    CU_ASSERT_EQUAL(p.state(), State::rekeying);
    CU_ASSERT_EQUAL(*p.active(), 0u);  // traffic keeps flowing
    d = p.attempt_result(200ms, i->id, true);
    CU_ASSERT_EQUAL(p.state(), State::up);
    CU_ASSERT_EQUAL(count<action::SetActivePeer>(d), 0);
    d = p.need(300ms, NeedReason::rekey);
    d = p.attempt_result(400ms, find<action::Initiate>(d)->id, false, FailReason::no_response);
    CU_ASSERT_TRUE(find<action::ClearActivePeer>(d).has_value());
    CU_ASSERT_EQUAL(find<action::DeleteSas>(d)->peer, 0u);
    CU_ASSERT_EQUAL(find<action::Initiate>(d)->peer, 1u);
    CU_ASSERT_EQUAL(p.state(), State::connecting);
    CU_ASSERT_EQUAL(p.illegal_transitions(), 0u);
}

// R2 "The peer that packets are actually sent to is determined by the last peer that the
// router heard from (received either traffic or a negotiation request from)."
PG_TEST(peer_policy, r02_last_peer_heard_from) {
    FakeResolver r;
    auto p = make(three(true), r);
    establish_on(p, 0, 0ms);
    Decision d = p.heard_from(5ms, 2, C, HeardKind::traffic);
    const int set = index_of<action::SetActivePeer>(d);
    const int del = index_of<action::DeleteSas>(d);
    CU_ASSERT_TRUE(set >= 0 && del > set);  // swap first, then delete the old SAs
    CU_ASSERT_EQUAL(std::get<action::SetActivePeer>(d.actions[set]).peer, 2u);
    CU_ASSERT_EQUAL(std::get<action::DeleteSas>(d.actions[del]).peer, 0u);
    CU_ASSERT_EQUAL(count<action::ClearActivePeer>(d), 0);
    CU_ASSERT_EQUAL(p.current(), 2u);
    CU_ASSERT_EQUAL(*p.active(), 2u);
    // Heard from the current peer again: nothing to do.
    CU_ASSERT_TRUE(p.heard_from(6ms, 2, C, HeardKind::traffic).ignored);
    // A negotiation from B while our own attempt is in flight: ours is cancelled.
    p.dpd_dead(7ms, 2);
    d = p.need(8ms, NeedReason::traffic);
    auto init = find<action::Initiate>(d);
    CU_ASSERT_TRUE_FATAL(init.has_value());
    CU_ASSERT_EQUAL(init->peer, 0u);
    d = p.heard_from(9ms, 1, B, HeardKind::negotiation);
    auto cancel = find<action::Cancel>(d);
    CU_ASSERT_TRUE_FATAL(cancel.has_value());
    CU_ASSERT_EQUAL(cancel->id, init->id);
    CU_ASSERT_EQUAL(p.current(), 1u);
    CU_ASSERT_EQUAL(p.state(), State::up);
    CU_ASSERT_TRUE(p.attempt_result(10ms, init->id, true).ignored);
    CU_ASSERT_TRUE(p.heard_from(11ms, 7, B, HeardKind::traffic).ignored);  // not listed
}

// R3 "DPD detects the failure of a device quickly and resets the peer list so that the
// default peer is tried for the next attempted connection." / "If dead peer detection
// (DPD) detects a failure, the default peer is retried before there is an attempt to
// connect to the next peer in the peer list." / "If the default peer is unresponsive,
// the next peer in the peer list becomes the new current peer. Future connections
// through the crypto map will try that peer."
PG_TEST(peer_policy, r03_default_peer_after_dpd) {
    FakeResolver r;
    auto p = make(three(true), r);
    establish_on(p, 2, 0ms);
    Decision d = p.dpd_dead(1000ms, 2);
    CU_ASSERT_TRUE(find<action::ClearActivePeer>(d).has_value());
    CU_ASSERT_TRUE(find<action::DeleteSas>(d).has_value());
    CU_ASSERT_EQUAL(p.current(), 0u);
    CU_ASSERT_EQUAL(p.state(), State::down);
    d = p.need(1001ms, NeedReason::traffic);
    auto i = find<action::Initiate>(d);
    CU_ASSERT_TRUE_FATAL(i.has_value());
    CU_ASSERT_EQUAL(i->peer, 0u);  // the default, not peer 3+1
    d = p.attempt_result(1002ms, i->id, false, FailReason::no_response);  // unresponsive
    i = find<action::Initiate>(d);
    CU_ASSERT_TRUE_FATAL(i.has_value());
    CU_ASSERT_EQUAL(i->peer, 1u);  // next in the list becomes current
    p.attempt_result(1003ms, i->id, true);
    CU_ASSERT_EQUAL(p.current(), 1u);
    // Future connections try that peer (a global idle timeout keeps the current peer).
    PolicyConfig c = three(true);
    c.global_idle_s = 300;
    auto q = make(c, r);
    establish_on(q, 1, 0ms);
    q.idle(400000ms, 1, 300s);
    d = q.need(400001ms, NeedReason::traffic);
    CU_ASSERT_EQUAL(find<action::Initiate>(d)->peer, 1u);
    // DPD on a peer that is not current, or when not up, is ignored.
    CU_ASSERT_TRUE(q.dpd_dead(400002ms, 0).ignored);
}

// R4 "If a default peer is not configured and there is a connection timeout, the current
// peer remains the one that timed out." / "DPD indicates that the remote peer is
// unavailable, but that peer remains the current peer."
PG_TEST(peer_policy, r04_no_default_current_peer_remains) {
    FakeResolver r;
    PolicyConfig c = three(false);
    c.global_idle_s = 120;
    auto p = make(c, r);
    establish_on(p, 1, 0ms);
    Decision d = p.dpd_dead(10ms, 1);
    CU_ASSERT_TRUE(find<action::DeleteSas>(d).has_value());
    CU_ASSERT_EQUAL(p.current(), 1u);
    d = p.need(20ms, NeedReason::traffic);
    CU_ASSERT_EQUAL(find<action::Initiate>(d)->peer, 1u);  // retried
    p.attempt_result(30ms, find<action::Initiate>(d)->id, true);
    d = p.idle(200000ms, 1, 120s);  // connection timeout
    CU_ASSERT_EQUAL(p.current(), 1u);
    d = p.need(200001ms, NeedReason::traffic);
    CU_ASSERT_EQUAL(find<action::Initiate>(d)->peer, 1u);
}

// R5 "set security-association idle-time seconds [default]": "if the current peer is idle
// for 120 seconds, the default peer 10.1.1.1 ... is used for the next attempted
// connection"; "If the default keyword is not specified and there is a connection
// timeout, the current peer remains unchanged."; "If there is a global idle timer, the
// crypto map idle-timer value must be different from the global value; otherwise, the
// idle timer is not added to the crypto map."; "IPsec SA idle timers increase the
// availability of resources by deleting SAs associated with idle peers."
PG_TEST(peer_policy, r05_idle_timer_with_and_without_default) {
    FakeResolver r;
    {  // per-map idle-time 120 default
        PolicyConfig c = three(true);
        c.idle_time = PolicyIdleTime{120, true};
        auto p = make(c, r);
        establish_on(p, 1, 0ms);
        CU_ASSERT_TRUE(p.idle(60000ms, 1, 119s).ignored);  // not idle long enough
        Decision d = p.idle(121000ms, 1, 120s);
        CU_ASSERT_TRUE(find<action::ClearActivePeer>(d).has_value());
        auto del = find<action::DeleteSas>(d);
        CU_ASSERT_TRUE_FATAL(del.has_value());
        CU_ASSERT_EQUAL(del->peer, 1u);
        CU_ASSERT_EQUAL(p.current(), 0u);
        CU_ASSERT_EQUAL(find<action::Initiate>(p.need(121001ms, NeedReason::traffic))->peer, 0u);
    }
    {  // per-map idle-time 120 without `default`: SAs deleted, current unchanged
        PolicyConfig c = three(true);
        c.idle_time = PolicyIdleTime{120, false};
        auto p = make(c, r);
        establish_on(p, 1, 0ms);
        Decision d = p.idle(121000ms, 1, 120s);
        CU_ASSERT_TRUE(find<action::DeleteSas>(d).has_value());
        CU_ASSERT_EQUAL(p.current(), 1u);
    }
    {  // per-map equal to global: no per-map timer, global applies without default effect
        PolicyConfig c = three(true);
        c.idle_time = PolicyIdleTime{120, true};
        c.global_idle_s = 120;
        const auto e = effective_idle(c);
        CU_ASSERT_TRUE(e.has_value() && !e->per_map && !e->to_default && e->seconds == 120);
        auto p = make(c, r);
        establish_on(p, 1, 0ms);
        Decision d = p.idle(121000ms, 1, 120s);
        CU_ASSERT_TRUE(find<action::DeleteSas>(d).has_value());
        CU_ASSERT_EQUAL(p.current(), 1u);
    }
    {  // per-map different from global: the per-map one applies
        PolicyConfig c = three(true);
        c.idle_time = PolicyIdleTime{90, true};
        c.global_idle_s = 120;
        auto p = make(c, r);
        establish_on(p, 1, 0ms);
        CU_ASSERT_FALSE(p.idle(91000ms, 1, 90s).ignored);
        CU_ASSERT_EQUAL(p.current(), 0u);
    }
    {  // per-map `default` with no default peer: SAs deleted, current unchanged
        PolicyConfig c = three(false);
        c.idle_time = PolicyIdleTime{120, true};
        auto p = make(c, r);
        establish_on(p, 2, 0ms);
        CU_ASSERT_FALSE(p.idle(121000ms, 2, 120s).ignored);
        CU_ASSERT_EQUAL(p.current(), 2u);
    }
    {  // "If IPsec SA idle timers are not configured, only the global lifetimes for IPsec
       // SAs are applied": an idle report changes nothing.
        auto p = make(three(true), r);
        establish_on(p, 1, 0ms);
        CU_ASSERT_TRUE(p.idle(1000000ms, 1, 1000s).ignored);
        CU_ASSERT_EQUAL(p.state(), State::up);
    }
}

// R6 "dynamic: The hostname of the IPsec peer will be resolved via a domain name server
// (DNS) lookup right before the router establishes the IPsec tunnel." / "If the dynamic
// keyword is not issued, the hostname is resolved immediately after it is specified. So,
// the Cisco IOS software cannot detect an IP address change".
PG_TEST(peer_policy, r06_dynamic_resolved_before_each_attempt) {
    FakeResolver r;
    r.table["user1"] = A;
    r.table["user2"] = B;
    r.table["static"] = C;
    PolicyConfig c;
    c.peers = {PolicyPeer{"user1", std::nullopt, true, true},
               PolicyPeer{"user2", std::nullopt, true, false},
               PolicyPeer{"static", std::nullopt, false, false}};
    auto p = make(c, r);
    CU_ASSERT_EQUAL(r.calls["static"], 1);  // at configuration time
    CU_ASSERT_EQUAL(r.calls["user1"], 0);   // not yet
    Decision d = p.need(0ms, NeedReason::traffic);
    CU_ASSERT_EQUAL(find<action::Initiate>(d)->addr, A);
    CU_ASSERT_EQUAL(r.calls["user1"], 1);
    p.attempt_result(1ms, find<action::Initiate>(d)->id, true);
    p.dpd_dead(2ms, 0);
    r.table["user1"] = 0x0A090909;  // the peer moved
    d = p.need(3ms, NeedReason::traffic);
    CU_ASSERT_EQUAL(find<action::Initiate>(d)->addr, 0x0A090909u);  // followed
    CU_ASSERT_EQUAL(r.calls["user1"], 2);
    // Resolution failure of a dynamic peer is a failed attempt: next peer.
    r.table["user1"] = std::nullopt;
    d = p.attempt_result(4ms, find<action::Initiate>(d)->id, false, FailReason::no_response);
    d = p.attempt_result(5ms, find<action::Initiate>(d)->id, false, FailReason::no_response);
    // now at "static" (index 2), which was resolved once; its address change is not seen
    auto i = find<action::Initiate>(d);
    CU_ASSERT_TRUE_FATAL(i.has_value());
    CU_ASSERT_EQUAL(i->peer, 2u);
    r.table["static"] = 0x0A080808;
    d = p.attempt_result(6ms, i->id, false, FailReason::no_response);  // full pass
    CU_ASSERT_EQUAL(p.state(), State::backoff);
    p.tick(p.next_deadline().value());
    d = p.need(p.next_deadline().value_or(5000ms), NeedReason::traffic);  // wraps to user1
    CU_ASSERT_TRUE(find<action::ResolveFailed>(d).has_value());
    CU_ASSERT_EQUAL(find<action::ResolveFailed>(d)->peer, 0u);
    i = find<action::Initiate>(d);
    CU_ASSERT_TRUE_FATAL(i.has_value());
    CU_ASSERT_EQUAL(i->peer, 1u);
    d = p.attempt_result(7ms, i->id, false, FailReason::no_response);
    i = find<action::Initiate>(d);
    CU_ASSERT_TRUE_FATAL(i.has_value());
    CU_ASSERT_EQUAL(i->addr, C);  // the address resolved at configuration time
    CU_ASSERT_EQUAL(r.calls["static"], 1);
    // A non-dynamic name that did not resolve at configuration time fails each attempt.
    FakeResolver r2;
    PolicyConfig c2;
    c2.peers = {PolicyPeer{"nowhere", std::nullopt, false, false}, ip_peer(B)};
    auto q = make(c2, r2);
    d = q.need(0ms, NeedReason::traffic);
    CU_ASSERT_EQUAL(find<action::ResolveFailed>(d)->peer, 0u);
    CU_ASSERT_EQUAL(find<action::Initiate>(d)->peer, 1u);
    CU_ASSERT_EQUAL(r2.calls["nowhere"], 1);
}

// R7 "Any change to a crypto map entry resets its peer index to the first peer."
PG_TEST(peer_policy, r07_reconfigure_resets_to_first_peer) {
    FakeResolver r;
    auto p = make(three(false), r);
    establish_on(p, 2, 0ms);
    PolicyConfig c = three(false);
    c.global_idle_s = 600;
    auto res = p.reconfigure(10ms, c);
    CU_ASSERT_TRUE(std::holds_alternative<Decision>(res));
    const Decision& d = std::get<Decision>(res);
    CU_ASSERT_TRUE(find<action::ClearActivePeer>(d).has_value());
    CU_ASSERT_EQUAL(find<action::DeleteSas>(d)->peer, 2u);
    CU_ASSERT_EQUAL(p.current(), 0u);
    CU_ASSERT_EQUAL(p.state(), State::down);
    CU_ASSERT_FALSE(p.active().has_value());
    CU_ASSERT_EQUAL(find<action::Initiate>(p.need(11ms, NeedReason::traffic))->peer, 0u);
    // In the middle of an attempt and during back-off too.
    auto q = make(three(false), r);
    Decision d2 = q.need(0ms, NeedReason::traffic);
    d2 = q.attempt_result(1ms, find<action::Initiate>(d2)->id, false);
    auto in_flight = find<action::Initiate>(d2);
    auto res2 = q.reconfigure(2ms, three(false));
    CU_ASSERT_EQUAL(find<action::Cancel>(std::get<Decision>(res2))->id, in_flight->id);
    CU_ASSERT_EQUAL(q.current(), 0u);
    CU_ASSERT_EQUAL(q.illegal_transitions(), 0u);
}

// R8 "Only one peer can be designated as the default peer in a crypto map." / "The
// default peer must be the first peer in the peer list." The module validates on
// construction and reconfigure and never runs with anything else.
PG_TEST(peer_policy, r08_default_only_first_and_unique) {
    FakeResolver r;
    PolicyConfig bad = three(false);
    bad.peers[1].is_default = true;
    auto v = PeerPolicy::create(bad, r, 0ms);
    CU_ASSERT_TRUE(std::holds_alternative<PolicyError>(v));
    CU_ASSERT_EQUAL(std::get<PolicyError>(v).code, PolicyErrorCode::default_not_first);
    PG_ASSERT_STR_EQ(std::get<PolicyError>(v).message,
                     "peer 2 (ip167903746): only the first peer can be the default");
    PolicyConfig two = three(true);
    two.peers[2].is_default = true;  // two defaults
    CU_ASSERT_TRUE(std::holds_alternative<PolicyError>(PeerPolicy::create(two, r, 0ms)));
    PolicyConfig none;
    CU_ASSERT_EQUAL(std::get<PolicyError>(PeerPolicy::create(none, r, 0ms)).code,
                    PolicyErrorCode::no_peers);
    PolicyConfig fb = three(false);
    fb.failback = PolicyFailback{};
    CU_ASSERT_EQUAL(std::get<PolicyError>(PeerPolicy::create(fb, r, 0ms)).code,
                    PolicyErrorCode::failback_without_default);
    PolicyConfig fb2 = three(true);
    fb2.failback = PolicyFailback{5, 30, 10, 0};
    CU_ASSERT_EQUAL(std::get<PolicyError>(PeerPolicy::create(fb2, r, 0ms)).code,
                    PolicyErrorCode::bad_failback);
    // A single default peer is fine.
    PolicyConfig one;
    one.peers = {ip_peer(A, true)};
    CU_ASSERT_TRUE(std::holds_alternative<PeerPolicy>(PeerPolicy::create(one, r, 0ms)));
    // reconfigure rejects and leaves the running policy untouched.
    auto p = make(three(true), r);
    establish_on(p, 1, 0ms);
    auto res = p.reconfigure(5ms, bad);
    CU_ASSERT_TRUE(std::holds_alternative<PolicyError>(res));
    CU_ASSERT_EQUAL(p.current(), 1u);
    CU_ASSERT_EQUAL(p.state(), State::up);
    CU_ASSERT_TRUE(p.config().peers[0].is_default);
}
