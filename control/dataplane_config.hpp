// control/dataplane_config.hpp - config model -> data-plane spec and static SAs.
//
// The data plane never sees config/ types (dependency direction); this is the one
// translation point. Crypto map entries of all maps are flattened in map order,
// then sequence order; the entry index is what the data plane reports and swaps.
#pragma once

#include <string>
#include <vector>

#include "config/model.hpp"
#include "dataplane/runtime.hpp"

namespace peregrine::control {

struct EntryRef {
    const config::CryptoMap* map = nullptr;
    const config::CryptoMapEntry* entry = nullptr;
    uint16_t port_index = 0;
    uint32_t local_address = 0;
};

struct DataplanePlan {
    dataplane::DataplaneSpec spec;
    std::vector<EntryRef> entries;  // index = data-plane entry index
    // ipsec-manual: (entry index, inbound SA, outbound SA) to install at start
    struct StaticSa {
        uint32_t entry;
        dataplane::SaSpec inbound;
        dataplane::SaSpec outbound;
    };
    std::vector<StaticSa> static_sas;
    // static ARP entries, learned into the neighbour table at start
    struct Neighbour {
        uint32_t ip;
        uint16_t port_index;
        rte_ether_addr mac;
    };
    std::vector<Neighbour> neighbours;
};

std::optional<crypto::Transform> transform_of(const config::TransformSet& ts);

// False with `err` when the model cannot be carried out (e.g. a transform the
// data plane lacks); the loader has already validated everything else.
bool plan_dataplane(const config::Config& cfg, DataplanePlan& out, std::string& err);

}  // namespace peregrine::control
