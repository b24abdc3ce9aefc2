// control/policy_from_config.hpp - config::CryptoMapEntry (+ global IPsec settings) ->
// PolicyConfig for the pure peer policy. The only place where the policy meets config/.
#pragma once

#include "config/model.hpp"
#include "control/peer_policy.hpp"

namespace peregrine::control {

PolicyConfig policy_from_config(const config::CryptoMapEntry& entry,
                                const config::IpsecGlobal& global);

}  // namespace peregrine::control
