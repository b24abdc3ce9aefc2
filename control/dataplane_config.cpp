// control/dataplane_config.cpp
#include "control/dataplane_config.hpp"

#include <cstring>

namespace peregrine::control {

std::optional<crypto::Transform> transform_of(const config::TransformSet& ts) {
    using C = config::EspCipher;
    using I = config::EspIntegrity;
    using T = crypto::Transform;
    switch (ts.cipher) {
        case C::aes_gcm_128: return T::aes128_gcm16;
        case C::aes_gcm_256: return T::aes256_gcm16;
        case C::aes_cbc_128:
            if (ts.integrity == I::hmac_sha1_96) return T::aes128_cbc_hmac_sha1_96;
            if (ts.integrity == I::hmac_sha256_128) return T::aes128_cbc_hmac_sha256_128;
            break;
        case C::aes_cbc_256:
            if (ts.integrity == I::hmac_sha1_96) return T::aes256_cbc_hmac_sha1_96;
            if (ts.integrity == I::hmac_sha256_128) return T::aes256_cbc_hmac_sha256_128;
            break;
    }
    return std::nullopt;
}

namespace {

dataplane::AceSpec ace_of(const config::Ace& a) {
    dataplane::AceSpec s;
    s.action = a.action == config::AceAction::permit ? dataplane::AceAction::permit
                                                     : dataplane::AceAction::deny;
    s.proto = a.protocol;
    s.src = {a.source.addr, a.source.len};
    s.dst = {a.destination.addr, a.destination.len};
    s.sport = {a.source_ports.lo, a.source_ports.hi};
    s.dport = {a.destination_ports.lo, a.destination_ports.hi};
    return s;
}

dataplane::SaSpec manual_sa(const config::ManualSa& m, crypto::Transform t,
                            const config::CryptoMapEntry& e, uint32_t entry, uint32_t local,
                            uint32_t peer, uint32_t window) {
    dataplane::SaSpec s;
    s.transform = t;
    s.enc_key.assign(m.cipher_key.bytes().begin(), m.cipher_key.bytes().end());
    s.auth_key.assign(m.integrity_key.bytes().begin(), m.integrity_key.bytes().end());
    s.spi = m.spi;
    s.local = local;
    s.peer = peer;
    s.udp_encap = e.udp_encap;
    s.esn = e.esn;
    s.replay_window = window;
    s.entry = entry;
    return s;
}

}  // namespace

bool plan_dataplane(const config::Config& cfg, DataplanePlan& out, std::string& err) {
    out = DataplanePlan{};
    for (const auto& p : cfg.ports)
        out.spec.ports.push_back({p.name, p.device, p.role == config::PortRole::inside, p.address,
                                  p.prefix_len, p.mtu});
    auto port_index = [&](const std::string& name) -> int {
        for (size_t i = 0; i < cfg.ports.size(); ++i)
            if (cfg.ports[i].name == name) return int(i);
        return -1;
    };
    for (const auto& r : cfg.routes) {
        const int pi = port_index(r.port);
        if (pi < 0) {
            err = cfg.file + ":" + std::to_string(r.line) + ": route: unknown port '" + r.port + "'";
            return false;
        }
        out.spec.routes.push_back({r.prefix.addr, r.prefix.len, uint16_t(pi), r.via});
    }
    for (const auto& n : cfg.neighbours) {
        const int pi = port_index(n.port);
        if (pi < 0) {
            err = cfg.file + ":" + std::to_string(n.line) + ": neighbour: unknown port '" + n.port + "'";
            return false;
        }
        DataplanePlan::Neighbour nb{n.address, uint16_t(pi), {}};
        std::memcpy(nb.mac.addr_bytes, n.mac, sizeof n.mac);
        out.neighbours.push_back(nb);
    }
    for (const auto& map : cfg.crypto_maps) {
        const int pi = port_index(map.interface);
        if (pi < 0) {
            err = cfg.file + ":" + std::to_string(map.line) + ": crypto map '" + map.name +
                  "': unknown interface '" + map.interface + "'";
            return false;
        }
        for (const auto& e : map.entries) {
            const uint32_t index = uint32_t(out.entries.size());
            const config::AccessList* acl = cfg.find_access_list(e.match_address);
            dataplane::MapEntrySpec ms;
            // entries are flattened in evaluation order; the sequence number only
            // orders them, so a running index keeps seq unique across maps
            ms.seq = index;
            if (acl)
                for (const auto& a : acl->entries) ms.aces.push_back(ace_of(a));
            out.spec.entries.push_back(ms);
            out.spec.entry_port.push_back(uint16_t(pi));
            out.entries.push_back({&map, &e, uint16_t(pi), map.local_address});
            if (e.type != config::EntryType::ipsec_manual) continue;
            const config::TransformSet* ts =
                e.transform_sets.empty() ? nullptr : cfg.find_transform_set(e.transform_sets.front());
            const auto t = ts ? transform_of(*ts) : std::nullopt;
            if (!t || !e.inbound || !e.outbound || e.peers.empty() || !e.peers.front().ip) {
                err = cfg.file + ":" + std::to_string(e.line) + ": crypto map '" + map.name +
                      "' seq " + std::to_string(e.seq) + ": incomplete ipsec-manual entry";
                return false;
            }
            const uint32_t window =
                !e.anti_replay ? 0 : e.replay_window ? e.replay_window : cfg.ipsec.replay_window;
            const uint32_t peer = *e.peers.front().ip;
            out.static_sas.push_back(
                {index, manual_sa(*e.inbound, *t, e, index, map.local_address, peer, window),
                 manual_sa(*e.outbound, *t, e, index, map.local_address, peer, window)});
        }
    }
    return true;
}

}  // namespace peregrine::control
