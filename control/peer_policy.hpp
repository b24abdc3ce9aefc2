// control/peer_policy.hpp - which peer each negotiation of one crypto map entry goes to.
//
// A pure module: no I/O, no DPDK, no sockets, no wall clock. The caller (IKE layer on
// the control core) feeds events with the current monotonic time `now` and executes
// the returned Actions; names are resolved through the injected Resolver. The rules
// are those of the Cisco "IPsec Preferred Peer" specification plus Peregrine's
// preemptive failback. docs/PEER-POLICY.md has the long form. Tests: one numbered case
// per row below, tests/control/test_peer_policy.cpp (r01..r08) and
// test_peer_policy_failback.cpp (f01..f07); test_peer_policy_property.cpp checks the
// invariants over >= 100,000 random events.
//
// Timers (the module arms nothing itself; next_deadline() says when to call tick()):
//   retry back-off   state backoff: until backoff_until (after a full failed pass)
//   failback probe   phase probing: next_probe_at = previous + probe_interval_s
//   (dampening decay needs no timer: effective_hold_down(now) is computed lazily)
// Idle detection and DPD run in the IKE layer; they report idle_for / dead peers here.
//
// Entry state machine (State, one transition function set_state(); the edges are the
// kStateEdges table in peer_policy.cpp, anything else counts in illegal_transitions()):
//
//   down       -> connecting (need), backoff (no name of a full pass resolved),
//                 up (heard_from)
//   connecting -> up (established, heard_from), backoff (full pass failed),
//                 down (reconfigure)
//   backoff    -> down (deadline, reconfigure), up (heard_from)
//   up         -> rekeying (need rekey), down (dpd, idle, reconfigure)
//   rekeying   -> up (established, failback swap, heard_from), connecting (rekey failed:
//                 next peer), backoff (rekey failed, full pass), down (dpd, idle,
//                 reconfigure)
//
// Failback phase (Phase, one transition function set_phase()), only while
// state is up/rekeying on a backup (current != default peer) with failback configured:
//   off --enter up on backup--> probing --answered >= hold-down--> standby
//   standby --failed--> probing ;  standby --established: swap--> off
//   probing/standby --leave up (dpd, idle, rekey failure, heard_from, reconfigure)--> off
//
// Transition table. n = number of peers, D = the entry has a default peer (index 0).
// "attempt(p)" = resolve p if dynamic (R6), emit Initiate{p, addr}; on resolution
// failure emit ResolveFailed{p} and treat it as a failed attempt (R1).
//
// | #  | event                         | state(s)              | actions / next state                                   |
// |----|-------------------------------|-----------------------|--------------------------------------------------------|
// | R1 | need(traffic)                 | down                  | attempt(current) -> connecting                         |
// | R1 | need(*)                       | connecting, rekeying, | ignored (one attempt in flight; back-off is traffic-   |
// |    |                               | backoff, up(traffic)  | driven: requests during back-off are dropped)          |
// | R1 | attempt failed                | connecting            | current=(current+1)%n; after every n consecutive       |
// |    |                               |                       | failures -> backoff (default 1 s, x2 to 60 s); else      |
// |    |                               |                       | attempt(current) at once                               |
// | R1 | attempt established           | connecting            | SetActivePeer{current} -> up; failures, back-off reset |
// | R1 | tick >= backoff_until         | backoff               | -> down (next need starts at the rotated peer, which   |
// |    |                               |                       | after the last peer is the first)                      |
// | R1 | need(rekey)                   | up                    | Initiate{current, SAs' address} -> rekeying; no new    |
// |    |                               |                       | resolution; the old SAs keep carrying traffic          |
// | R1 | rekey established             | rekeying              | -> up                                                  |
// | R1 | rekey failed                  | rekeying              | ClearActivePeer, DeleteSas{current}, then as           |
// |    |                               |                       | "attempt failed" (next peer at once)                   |
// | R2 | heard_from(P) (P's SAs exist) | any but up/rekeying   | Cancel in-flight, SetActivePeer{P}, DeleteSas{old      |
// |    |                               | on P                  | active}; current=P -> up                               |
// | R3 | dpd_dead(current), D          | up, rekeying          | ClearActivePeer, DeleteSas; current=0 -> down          |
// | R3 | default's attempt failed, D   | connecting            | as R1: current=1, future connections try it            |
// | R4 | dpd_dead(current), !D         | up, rekeying          | ClearActivePeer, DeleteSas; current unchanged -> down  |
// | R5 | idle(current, t>=per-map N),  | up, rekeying          | ClearActivePeer, DeleteSas; current=0 -> down          |
// |    | per-map `default`, D          |                       |                                                        |
// | R5 | idle(current, t>=N) otherwise | up, rekeying          | ClearActivePeer, DeleteSas; current unchanged -> down  |
// | R5 | per-map N == global N         | -                     | no per-map timer: global timer, no default effect      |
// | R5 | idle(t < N) / no timer        | any                   | ignored                                                |
// | R6 | attempt(dynamic p)            | -                     | Resolver::resolve(host) right before each Initiate     |
// | R6 | non-dynamic host name         | construct/reconfigure | resolved once; unresolved -> ResolveFailed per attempt |
// | R7 | reconfigure(valid)            | any                   | Cancel in-flight, ClearActivePeer, DeleteSas{active};  |
// |    |                               |                       | current=0, counters and dampening reset -> down        |
// | R8 | construct/reconfigure invalid | any                   | PolicyError returned; state unchanged                  |
// | F1 | enter up on backup            | up                    | phase probing; Probe{0} every probe_interval_s         |
// | F2 | probe answered, run >= H      | probing               | NegotiateStandby{0} -> standby (traffic stays on the   |
// |    |                               |                       | backup); missed / negative probe restarts the run      |
// | F3 | standby established           | standby               | [Cancel rekey], SetActivePeer{0}, DeleteSas{backup};   |
// |    |                               |                       | current=0 -> up, phase off (make-before-break)         |
// | F4 | standby failed                | standby               | phase probing, run restarts, dampening penalty         |
// | F5 | default fails (dpd, rekey or  | up on default         | one penalty per failback: H = min(max(2H, probe), max) |
// |    | attempt) within stable_s of a |                       | H halves (>= hold_down_s) per stable_s without penalty |
// |    | failback                      |                       |                                                        |
// | F6 | heard_from(default)           | probing, standby      | R2 wins: immediate switch, counts as a failback for F5 |
// | F7 | backup dies/idles in standby  | standby               | Cancel{standby}, then R3/R5                            |
//
// Stale results (an id that is not the one in flight) are ignored: Decision::ignored.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace peregrine::control {

// Monotonic time since an arbitrary epoch, injected by the caller (never the wall clock).
using Millis = std::chrono::milliseconds;

using PeerIndex = uint32_t;  // index into PolicyConfig::peers
using AttemptId = uint64_t;  // handle of one Initiate / Probe / NegotiateStandby; 0 = none

// Name resolution, injected. IPv4 in host order; nullopt = resolution failed.
class Resolver {
public:
    virtual ~Resolver() = default;
    virtual std::optional<uint32_t> resolve(std::string_view host) = 0;
};

// ---- configuration of one crypto map entry ------------------------------------------

struct PolicyPeer {
    std::string host;            // as written in `set peer`
    std::optional<uint32_t> ip;  // set when host is a dotted quad
    bool dynamic = false;        // resolve right before each attempt (R6)
    bool is_default = false;     // only the first peer, at most one (R8)
};

// `set security-association idle-time seconds [default]`.
struct PolicyIdleTime {
    uint32_t seconds = 0;
    bool to_default = false;
};

// Peregrine extension. Constants: see docs/PEER-POLICY.md "Failback".
struct PolicyFailback {
    uint32_t probe_interval_s = 5;    // >= 1
    uint32_t hold_down_s = 30;        // the default must answer continuously this long
    uint32_t max_hold_down_s = 600;   // dampening cap, >= hold_down_s
    uint32_t stable_s = 0;            // decay period; 0 = max_hold_down_s
};

struct PolicyConfig {
    std::vector<PolicyPeer> peers;            // in `set peer` order, at least one
    std::optional<PolicyIdleTime> idle_time;  // per-entry idle timer
    uint32_t global_idle_s = 0;               // global idle timer, 0 = none
    std::optional<PolicyFailback> failback;   // requires a default peer
    uint32_t retry_backoff_initial_ms = 1000; // back-off after the first full failed pass
    uint32_t retry_backoff_max_ms = 60000;    // doubling per consecutive pass, capped

    bool has_default() const { return !peers.empty() && peers.front().is_default; }
};

enum class PolicyErrorCode { no_peers, empty_host, default_not_first, bad_idle_time, bad_failback,
                             failback_without_default, bad_backoff };

struct PolicyError {
    PolicyErrorCode code;
    std::string message;  // e.g. "peer 2 (10.2.2.2): only the first peer can be the default"
};

// The idle timer that applies to the entry (R5): the per-map one when configured and
// different from the global one, else the global one (never with the default effect).
struct EffectiveIdle {
    uint32_t seconds = 0;
    bool to_default = false;
    bool per_map = false;
};
std::optional<EffectiveIdle> effective_idle(const PolicyConfig& cfg);

// Validation used by the constructor and reconfigure (R8).
std::optional<PolicyError> validate(const PolicyConfig& cfg);

// ---- events ----------------------------------------------------------------------------

enum class NeedReason { traffic, rekey };
enum class FailReason { no_response, auth_failed, no_proposal_chosen, ts_unacceptable,
                        name_resolution };
enum class HeardKind { negotiation, traffic };

// ---- decisions ---------------------------------------------------------------------------

enum class State { down, connecting, backoff, up, rekeying };
enum class Phase { off, probing, standby };
const char* to_string(State s);
const char* to_string(Phase p);
const char* to_string(FailReason r);

namespace action {
struct Initiate { AttemptId id; PeerIndex peer; uint32_t addr; };        // negotiate with peer
struct ResolveFailed { PeerIndex peer; };                                // counts as a failed attempt
struct Cancel { AttemptId id; PeerIndex peer; };                         // abandon a negotiation/probe
struct SetActivePeer { PeerIndex peer; uint32_t addr; };                 // data-plane atomic swap
struct ClearActivePeer {};                                               // entry has no SA now
struct DeleteSas { PeerIndex peer; uint32_t addr; };                     // delete SAs with that peer
struct Probe { AttemptId id; PeerIndex peer; uint32_t addr; };           // liveness probe (failback)
struct NegotiateStandby { AttemptId id; PeerIndex peer; uint32_t addr; };  // make-before-break
struct StateChanged { State from; State to; };                           // for the log: old => new
struct PhaseChanged { Phase from; Phase to; };
}  // namespace action

using Action = std::variant<action::Initiate, action::ResolveFailed, action::Cancel,
                            action::SetActivePeer, action::ClearActivePeer, action::DeleteSas,
                            action::Probe, action::NegotiateStandby, action::StateChanged,
                            action::PhaseChanged>;

struct Decision {
    std::vector<Action> actions;  // execute in order
    bool ignored = false;         // the event did not apply (stale id, not current, ...)
};

// ---- the policy of one crypto map entry ----------------------------------------------

class PeerPolicy {
public:
    // Validates (R8) and resolves non-dynamic host names once (R6). The Resolver must
    // outlive the policy.
    static std::variant<PeerPolicy, PolicyError> create(PolicyConfig cfg, Resolver& resolver,
                                                        Millis now);

    Decision need(Millis now, NeedReason why);
    Decision attempt_result(Millis now, AttemptId id, bool established,
                            FailReason why = FailReason::no_response);
    Decision dpd_dead(Millis now, PeerIndex peer);
    Decision idle(Millis now, PeerIndex peer, Millis idle_for);
    Decision heard_from(Millis now, PeerIndex peer, uint32_t addr, HeardKind kind);
    Decision probe_result(Millis now, AttemptId id, bool answered);
    Decision tick(Millis now);
    // The entry changed (R7). On error nothing changes.
    std::variant<Decision, PolicyError> reconfigure(Millis now, PolicyConfig cfg);

    std::optional<Millis> next_deadline() const;

    // Introspection (CLI, tests).
    State state() const { return state_; }
    Phase phase() const { return phase_; }
    PeerIndex current() const { return current_; }
    std::optional<PeerIndex> active() const { return active_; }
    const PolicyConfig& config() const { return cfg_; }
    std::optional<uint32_t> address_of(PeerIndex p) const { return addrs_[p]; }
    Millis effective_hold_down(Millis now) const;  // F5, H at `now`
    std::optional<Millis> answering_since() const { return run_start_; }
    std::optional<Millis> last_failback() const { return last_failback_; }
    uint32_t illegal_transitions() const { return illegal_transitions_; }

private:
    PeerPolicy(PolicyConfig cfg, Resolver& resolver);
    void resolve_static();
    Millis clamp(Millis now);
    void set_state(State to, Decision& d);
    void set_phase(Phase to, Decision& d);
    void attempt(Millis now, Decision& d);
    void attempt_failed(Millis now, Decision& d);
    void drop_active(Decision& d);
    void leave_up(Decision& d);
    void established_on(Millis now, PeerIndex p, uint32_t addr, Decision& d);
    void enter_failback_if_backup(Millis now, Decision& d);
    void penalize(Millis now);
    void note_default_failure(Millis now);
    void emit_probe(Millis now, Decision& d);
    std::optional<uint32_t> resolve_for_attempt(PeerIndex p);
    bool on_backup() const { return cfg_.failback && cfg_.has_default() && current_ != 0; }

    PolicyConfig cfg_;
    Resolver* resolver_;
    std::vector<std::optional<uint32_t>> addrs_;  // last known address per peer
    State state_ = State::down;
    Phase phase_ = Phase::off;
    PeerIndex current_ = 0;
    std::optional<PeerIndex> active_;
    uint32_t active_addr_ = 0;
    AttemptId next_id_ = 1;
    AttemptId attempt_id_ = 0;  // connecting / rekeying
    uint32_t attempt_addr_ = 0;
    uint32_t consecutive_failures_ = 0;
    uint32_t failed_passes_ = 0;
    Millis backoff_until_{0};
    // failback
    AttemptId probe_id_ = 0;  // outstanding probe, 0 = none
    AttemptId standby_id_ = 0;
    uint32_t standby_addr_ = 0;
    Millis next_probe_at_{0};
    std::optional<Millis> run_start_;  // first answer of the current unbroken run
    Millis hold_down_{0};              // H before decay
    std::optional<Millis> last_penalty_;
    std::optional<Millis> last_failback_;  // cleared by the first default failure after it
    Millis last_now_{0};
    uint32_t illegal_transitions_ = 0;
};

}  // namespace peregrine::control
