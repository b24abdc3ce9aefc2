// control/peer_policy.cpp - the preferred-peer / failover / failback rule of one crypto
// map entry. See the transition table in peer_policy.hpp and docs/PEER-POLICY.md.
#include "control/peer_policy.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace peregrine::control {

namespace {

constexpr std::array<const char*, 5> kStateNames = {"down", "connecting", "backoff", "up",
                                                    "rekeying"};
constexpr std::array<const char*, 3> kPhaseNames = {"off", "probing", "standby"};
constexpr std::array<const char*, 5> kFailNames = {"no-response", "auth-failed",
                                                   "no-proposal-chosen", "ts-unacceptable",
                                                   "name-resolution"};

constexpr size_t kStates = kStateNames.size();
constexpr size_t kPhases = kPhaseNames.size();

// Legal entry transitions [from][to] (the diagram in peer_policy.hpp).
constexpr bool kStateEdges[kStates][kStates] = {
    //            down   conn   backoff up     rekey
    /* down    */ {false, true, true, true, false},
    /* conn    */ {true, false, true, true, false},
    /* backoff */ {true, false, false, true, false},
    /* up      */ {true, false, false, false, true},
    /* rekey   */ {true, true, true, true, false},
};

// Legal failback phase transitions [from][to].
constexpr bool kPhaseEdges[kPhases][kPhases] = {
    //            off    probing standby
    /* off     */ {false, true, false},
    /* probing */ {true, false, true},
    /* standby */ {true, true, false},
};

Millis secs(uint32_t s) { return Millis{static_cast<int64_t>(s) * 1000}; }

std::string peer_label(size_t i, const PolicyPeer& p) {
    return "peer " + std::to_string(i + 1) + " (" + p.host + ")";
}

}  // namespace

const char* to_string(State s) { return kStateNames[static_cast<size_t>(s)]; }
const char* to_string(Phase p) { return kPhaseNames[static_cast<size_t>(p)]; }
const char* to_string(FailReason r) { return kFailNames[static_cast<size_t>(r)]; }

std::optional<EffectiveIdle> effective_idle(const PolicyConfig& cfg) {
    // "If there is a global idle timer, the crypto map idle-timer value must be different
    // from the global value; otherwise, the idle timer is not added to the crypto map."
    if (cfg.idle_time && cfg.idle_time->seconds != 0 && cfg.idle_time->seconds != cfg.global_idle_s)
        return EffectiveIdle{cfg.idle_time->seconds, cfg.idle_time->to_default, true};
    if (cfg.global_idle_s != 0) return EffectiveIdle{cfg.global_idle_s, false, false};
    return std::nullopt;
}

std::optional<PolicyError> validate(const PolicyConfig& cfg) {
    if (cfg.peers.empty()) return PolicyError{PolicyErrorCode::no_peers, "no peer configured"};
    for (size_t i = 0; i < cfg.peers.size(); ++i) {
        const PolicyPeer& p = cfg.peers[i];
        if (p.host.empty())
            return PolicyError{PolicyErrorCode::empty_host,
                               "peer " + std::to_string(i + 1) + ": empty host"};
        // "The default peer must be the first peer in the peer list." "Only one peer can
        // be designated as the default peer in a crypto map." (Both are the same check:
        // a default anywhere but index 0 is rejected.)
        if (i != 0 && p.is_default)
            return PolicyError{PolicyErrorCode::default_not_first,
                               peer_label(i, p) + ": only the first peer can be the default"};
    }
    if (cfg.idle_time && cfg.idle_time->seconds == 0)
        return PolicyError{PolicyErrorCode::bad_idle_time, "idle time must be > 0 seconds"};
    if (cfg.failback) {
        const PolicyFailback& f = *cfg.failback;
        if (!cfg.has_default())
            return PolicyError{PolicyErrorCode::failback_without_default,
                               "failback needs a default peer (the first peer, marked default)"};
        if (f.probe_interval_s == 0)
            return PolicyError{PolicyErrorCode::bad_failback, "failback probe interval must be >= 1 s"};
        if (f.max_hold_down_s < f.hold_down_s)
            return PolicyError{PolicyErrorCode::bad_failback,
                               "failback max hold-down (" + std::to_string(f.max_hold_down_s) +
                                   " s) < hold-down (" + std::to_string(f.hold_down_s) + " s)"};
    }
    if (cfg.retry_backoff_initial_ms == 0 || cfg.retry_backoff_max_ms < cfg.retry_backoff_initial_ms)
        return PolicyError{PolicyErrorCode::bad_backoff, "retry back-off: need 0 < initial <= max"};
    return std::nullopt;
}

// ---- construction -------------------------------------------------------------------

PeerPolicy::PeerPolicy(PolicyConfig cfg, Resolver& resolver)
    : cfg_(std::move(cfg)), resolver_(&resolver) {}

std::variant<PeerPolicy, PolicyError> PeerPolicy::create(PolicyConfig cfg, Resolver& resolver,
                                                         Millis now) {
    if (auto err = validate(cfg)) return *err;
    PeerPolicy p(std::move(cfg), resolver);
    p.last_now_ = now;
    p.resolve_static();
    p.hold_down_ = p.cfg_.failback ? secs(p.cfg_.failback->hold_down_s) : Millis{0};
    return p;
}

// R6: "If the dynamic keyword is not issued, the hostname is resolved immediately after
// it is specified." Dotted quads need no resolution; dynamic names wait for each attempt.
void PeerPolicy::resolve_static() {
    addrs_.assign(cfg_.peers.size(), std::nullopt);
    for (size_t i = 0; i < cfg_.peers.size(); ++i) {
        const PolicyPeer& p = cfg_.peers[i];
        if (p.ip)
            addrs_[i] = p.ip;
        else if (!p.dynamic)
            addrs_[i] = resolver_->resolve(p.host);
    }
}

Millis PeerPolicy::clamp(Millis now) {
    // The clock is monotonic by contract; a caller bug must not move time backwards here.
    last_now_ = std::max(last_now_, now);
    return last_now_;
}

// ---- the two transition functions ------------------------------------------------------

void PeerPolicy::set_state(State to, Decision& d) {
    if (to == state_) return;
    if (!kStateEdges[static_cast<size_t>(state_)][static_cast<size_t>(to)]) ++illegal_transitions_;
    d.actions.push_back(action::StateChanged{state_, to});
    state_ = to;
}

void PeerPolicy::set_phase(Phase to, Decision& d) {
    if (to == phase_) return;
    if (!kPhaseEdges[static_cast<size_t>(phase_)][static_cast<size_t>(to)]) ++illegal_transitions_;
    d.actions.push_back(action::PhaseChanged{phase_, to});
    phase_ = to;
}

// ---- helpers ------------------------------------------------------------------------------

std::optional<uint32_t> PeerPolicy::resolve_for_attempt(PeerIndex p) {
    // R6: "The hostname of the IPsec peer will be resolved via a DNS lookup right before
    // the router establishes the IPsec tunnel."
    if (cfg_.peers[p].dynamic) addrs_[p] = resolver_->resolve(cfg_.peers[p].host);
    return addrs_[p];
}

// Start an attempt with current_, walking on (R1) while names fail to resolve. A rekey
// (from up) goes to the address of the SAs being rekeyed: no new tunnel, no resolution.
void PeerPolicy::attempt(Millis now, Decision& d) {
    if (state_ == State::up) {
        attempt_id_ = next_id_++;
        attempt_addr_ = active_addr_;
        d.actions.push_back(action::Initiate{attempt_id_, current_, active_addr_});
        set_state(State::rekeying, d);
        return;
    }
    if (auto addr = resolve_for_attempt(current_)) {
        attempt_id_ = next_id_++;
        attempt_addr_ = *addr;
        d.actions.push_back(action::Initiate{attempt_id_, current_, *addr});
        set_state(State::connecting, d);
        return;
    }
    d.actions.push_back(action::ResolveFailed{current_});
    attempt_failed(now, d);
}

// R1: "If the attempt fails with the first peer, IKE tries the next peer on the crypto
// map list." After the last peer the rotation wraps to the first; every full pass (n
// consecutive failures) is followed by a back-off, doubling per pass.
void PeerPolicy::attempt_failed(Millis now, Decision& d) {
    attempt_id_ = 0;
    if (current_ == 0) note_default_failure(now);  // F5
    const auto n = static_cast<PeerIndex>(cfg_.peers.size());
    current_ = (current_ + 1) % n;
    ++consecutive_failures_;
    if (consecutive_failures_ % n == 0) {
        const uint64_t shift = std::min<uint32_t>(failed_passes_, 20);
        const uint64_t ms = std::min<uint64_t>(uint64_t{cfg_.retry_backoff_initial_ms} << shift,
                                               cfg_.retry_backoff_max_ms);
        ++failed_passes_;
        backoff_until_ = now + Millis{static_cast<int64_t>(ms)};
        set_state(State::backoff, d);
        return;
    }
    if (state_ == State::rekeying) set_state(State::connecting, d);
    attempt(now, d);
}

// Take the entry's SAs out of the data plane and delete them.
void PeerPolicy::drop_active(Decision& d) {
    if (!active_) return;
    d.actions.push_back(action::ClearActivePeer{});
    d.actions.push_back(action::DeleteSas{*active_, active_addr_});
    active_.reset();
}

// Abandon everything in flight that belongs to being up (rekey, failback).
void PeerPolicy::leave_up(Decision& d) {
    if (attempt_id_ != 0) {
        d.actions.push_back(action::Cancel{attempt_id_, current_});
        attempt_id_ = 0;
    }
    if (probe_id_ != 0) d.actions.push_back(action::Cancel{probe_id_, 0});
    if (standby_id_ != 0) d.actions.push_back(action::Cancel{standby_id_, 0});
    probe_id_ = standby_id_ = 0;
    run_start_.reset();
    set_phase(Phase::off, d);
}

void PeerPolicy::established_on(Millis now, PeerIndex p, uint32_t addr, Decision& d) {
    current_ = p;
    consecutive_failures_ = 0;
    failed_passes_ = 0;
    if (!active_ || *active_ != p || active_addr_ != addr) {
        const std::optional<PeerIndex> old = active_;
        const uint32_t old_addr = active_addr_;
        // One pointer store in the data plane: never two active peers.
        d.actions.push_back(action::SetActivePeer{p, addr});
        active_ = p;
        active_addr_ = addr;
        if (old) d.actions.push_back(action::DeleteSas{*old, old_addr});
    }
    set_state(State::up, d);
    enter_failback_if_backup(now, d);
}

void PeerPolicy::enter_failback_if_backup(Millis now, Decision& d) {
    if (!on_backup() || phase_ != Phase::off) return;
    run_start_.reset();
    probe_id_ = 0;
    next_probe_at_ = now + secs(cfg_.failback->probe_interval_s);
    set_phase(Phase::probing, d);
}

// F5: a default peer that fails again soon after a failback doubles the hold-down.
void PeerPolicy::penalize(Millis now) {
    const PolicyFailback& f = *cfg_.failback;
    const Millis h = effective_hold_down(now);
    hold_down_ = std::min(std::max(h * 2, secs(f.probe_interval_s)), secs(f.max_hold_down_s));
    hold_down_ = std::max(hold_down_, secs(f.hold_down_s));
    last_penalty_ = now;
}

// F5: the default peer failed (DPD, failed attempt or rekey). Within stable_s of a
// failback that is a flap: one penalty per failback.
void PeerPolicy::note_default_failure(Millis now) {
    if (!cfg_.failback || !last_failback_) return;
    const PolicyFailback& f = *cfg_.failback;
    const Millis stable = secs(f.stable_s ? f.stable_s : f.max_hold_down_s);
    if (now - *last_failback_ < stable) penalize(now);
    last_failback_.reset();
}

Millis PeerPolicy::effective_hold_down(Millis now) const {
    if (!cfg_.failback) return Millis{0};
    const PolicyFailback& f = *cfg_.failback;
    const Millis base = secs(f.hold_down_s);
    if (!last_penalty_) return std::max(base, hold_down_);
    const Millis stable = secs(f.stable_s ? f.stable_s : f.max_hold_down_s);
    const int64_t periods = stable.count() > 0 ? (now - *last_penalty_) / stable : 64;
    const Millis decayed = periods >= 63 ? Millis{0} : Millis{hold_down_.count() >> periods};
    return std::max(base, decayed);
}

void PeerPolicy::emit_probe(Millis now, Decision& d) {
    if (probe_id_ != 0) {  // the previous probe went unanswered: the run is broken (F2)
        d.actions.push_back(action::Cancel{probe_id_, 0});
        probe_id_ = 0;
        run_start_.reset();
    }
    next_probe_at_ = now + secs(cfg_.failback->probe_interval_s);
    if (auto addr = resolve_for_attempt(0)) {
        probe_id_ = next_id_++;
        d.actions.push_back(action::Probe{probe_id_, 0, *addr});
    } else {
        d.actions.push_back(action::ResolveFailed{0});
        run_start_.reset();
    }
}

// ---- events ------------------------------------------------------------------------------

Decision PeerPolicy::need(Millis now, NeedReason why) {
    now = clamp(now);
    Decision d;
    if (state_ == State::down || (state_ == State::up && why == NeedReason::rekey))
        attempt(now, d);
    else
        d.ignored = true;
    return d;
}

Decision PeerPolicy::attempt_result(Millis now, AttemptId id, bool established, FailReason) {
    now = clamp(now);
    Decision d;
    if (id != 0 && id == standby_id_ && phase_ == Phase::standby) {
        standby_id_ = 0;
        if (established) {  // F3: make-before-break swap, then delete the backup's SAs
            if (attempt_id_ != 0) {
                d.actions.push_back(action::Cancel{attempt_id_, current_});
                attempt_id_ = 0;
            }
            set_phase(Phase::off, d);
            run_start_.reset();
            established_on(now, 0, standby_addr_, d);
            last_failback_ = now;
        } else {  // F4
            penalize(now);
            run_start_.reset();
            next_probe_at_ = now + secs(cfg_.failback->probe_interval_s);
            set_phase(Phase::probing, d);
        }
        return d;
    }
    if (id == 0 || id != attempt_id_ || (state_ != State::connecting && state_ != State::rekeying)) {
        d.ignored = true;
        return d;
    }
    if (established) {
        attempt_id_ = 0;
        established_on(now, current_, attempt_addr_, d);
        return d;
    }
    if (state_ == State::rekeying) {  // the current peer failed its rekey: fail over
        attempt_id_ = 0;
        leave_up(d);
        drop_active(d);
    }
    attempt_failed(now, d);
    return d;
}

// R3/R4: "DPD detects the failure of a device quickly and resets the peer list so that
// the default peer is tried for the next attempted connection." Without a default:
// "DPD indicates that the remote peer is unavailable, but that peer remains the current
// peer."
Decision PeerPolicy::dpd_dead(Millis now, PeerIndex peer) {
    now = clamp(now);
    Decision d;
    if ((state_ != State::up && state_ != State::rekeying) || peer != current_) {
        d.ignored = true;
        return d;
    }
    if (peer == 0) note_default_failure(now);  // F5
    leave_up(d);
    drop_active(d);
    if (cfg_.has_default()) current_ = 0;
    consecutive_failures_ = 0;
    set_state(State::down, d);
    return d;
}

// R5: "If the current peer is idle for N seconds, the default peer is used for the next
// attempted connection" (with `default`); otherwise "the current peer remains unchanged".
Decision PeerPolicy::idle(Millis now, PeerIndex peer, Millis idle_for) {
    now = clamp(now);
    Decision d;
    const auto timer = effective_idle(cfg_);
    if (!timer || idle_for < secs(timer->seconds) || peer != current_ ||
        (state_ != State::up && state_ != State::rekeying)) {
        d.ignored = true;
        return d;
    }
    leave_up(d);
    drop_active(d);
    if (timer->to_default && cfg_.has_default()) current_ = 0;
    consecutive_failures_ = 0;
    set_state(State::down, d);
    return d;
}

// R2: "The peer that packets are actually sent to is determined by the last peer that the
// router heard from (received either traffic or a negotiation request from)." Reported
// once SAs with the peer exist (a peer-initiated exchange completed, or ESP arrived).
Decision PeerPolicy::heard_from(Millis now, PeerIndex peer, uint32_t addr, HeardKind) {
    now = clamp(now);
    Decision d;
    if (peer >= cfg_.peers.size() ||
        ((state_ == State::up || state_ == State::rekeying) && peer == current_ &&
         active_addr_ == addr)) {
        d.ignored = true;
        return d;
    }
    const bool failback = peer == 0 && on_backup() && active_;  // F6
    if (attempt_id_ != 0) {
        d.actions.push_back(action::Cancel{attempt_id_, current_});
        attempt_id_ = 0;
    }
    if (peer != current_ || state_ != State::up) leave_up(d);
    addrs_[peer] = cfg_.peers[peer].dynamic ? std::optional<uint32_t>(addr) : addrs_[peer];
    if (state_ == State::rekeying) set_state(State::up, d);
    established_on(now, peer, addr, d);
    if (failback) last_failback_ = now;
    return d;
}

Decision PeerPolicy::probe_result(Millis now, AttemptId id, bool answered) {
    now = clamp(now);
    Decision d;
    if (id == 0 || id != probe_id_ || phase_ != Phase::probing) {
        d.ignored = true;
        return d;
    }
    probe_id_ = 0;
    if (!answered) {
        run_start_.reset();
        return d;
    }
    if (!run_start_) run_start_ = now;
    // F2: "once it has answered continuously for hold-down".
    if (now - *run_start_ >= effective_hold_down(now)) {
        if (auto addr = resolve_for_attempt(0)) {
            standby_id_ = next_id_++;
            standby_addr_ = *addr;
            d.actions.push_back(action::NegotiateStandby{standby_id_, 0, *addr});
            set_phase(Phase::standby, d);
        } else {
            d.actions.push_back(action::ResolveFailed{0});
            run_start_.reset();
        }
    }
    return d;
}

Decision PeerPolicy::tick(Millis now) {
    now = clamp(now);
    Decision d;
    if (state_ == State::backoff && now >= backoff_until_) set_state(State::down, d);
    if (phase_ == Phase::probing && now >= next_probe_at_) emit_probe(now, d);
    d.ignored = d.actions.empty();
    return d;
}

std::optional<Millis> PeerPolicy::next_deadline() const {
    std::optional<Millis> t;
    if (state_ == State::backoff) t = backoff_until_;
    if (phase_ == Phase::probing) t = t ? std::min(*t, next_probe_at_) : next_probe_at_;
    return t;
}

// R7: any change to a crypto map entry resets its peer index to the first peer. The old
// SAs were negotiated under the old entry, so they go too.
std::variant<Decision, PolicyError> PeerPolicy::reconfigure(Millis now, PolicyConfig cfg) {
    now = clamp(now);
    if (auto err = validate(cfg)) return *err;
    Decision d;
    leave_up(d);
    if (attempt_id_ != 0) {
        d.actions.push_back(action::Cancel{attempt_id_, current_});
        attempt_id_ = 0;
    }
    drop_active(d);
    cfg_ = std::move(cfg);
    resolve_static();
    current_ = 0;
    consecutive_failures_ = 0;
    failed_passes_ = 0;
    hold_down_ = cfg_.failback ? secs(cfg_.failback->hold_down_s) : Millis{0};
    last_penalty_.reset();
    last_failback_.reset();
    set_state(State::down, d);
    return d;
}

}  // namespace peregrine::control
