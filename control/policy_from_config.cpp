// control/policy_from_config.cpp - see policy_from_config.hpp.
#include "control/policy_from_config.hpp"

namespace peregrine::control {

PolicyConfig policy_from_config(const config::CryptoMapEntry& entry,
                                const config::IpsecGlobal& global) {
    PolicyConfig out;
    out.peers.reserve(entry.peers.size());
    for (const config::Peer& p : entry.peers)
        out.peers.push_back(PolicyPeer{p.host, p.ip, p.dynamic, p.is_default});
    if (entry.idle_time) out.idle_time = PolicyIdleTime{entry.idle_time->seconds, entry.idle_time->to_default};
    out.global_idle_s = global.idle_time_s;
    if (entry.failback)
        out.failback = PolicyFailback{entry.failback->probe_interval_s, entry.failback->hold_down_s,
                                      entry.failback->max_hold_down_s, 0};
    return out;
}

}  // namespace peregrine::control
