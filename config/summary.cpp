// config/summary.cpp - the human summary printed by `peregrine --check-config`.
// Key material never appears: manual SAs print "keys: configured", PSKs only a count.
#include <cstdio>
#include <sstream>

#include "config/loader.hpp"

namespace peregrine::config {

namespace {

const char* entry_type(EntryType t) { return t == EntryType::ipsec_isakmp ? "ipsec-isakmp" : "ipsec-manual"; }

std::string ace_address(const Ipv4Prefix& p) {
    if (p.len == 0) return "any";
    if (p.len == 32) return "host " + format_ipv4(p.addr);
    return format_prefix(p);
}

std::string ace_ports(const PortRange& r) {
    if (r.any()) return "";
    if (r.lo == r.hi) return " eq " + std::to_string(r.lo);
    return " range " + std::to_string(r.lo) + "-" + std::to_string(r.hi);
}

std::string protocol_name(uint8_t p) {
    switch (p) {
        case 0: return "ip";
        case 1: return "icmp";
        case 6: return "tcp";
        case 17: return "udp";
        case 47: return "gre";
        case 50: return "esp";
        default: return std::to_string(p);
    }
}

void print_entry(std::ostringstream& o, const Config& cfg, const CryptoMapEntry& e) {
    o << "  seq " << e.seq << ' ' << entry_type(e.type) << "  match address " << e.match_address
      << "  transform-sets";
    for (const auto& t : e.transform_sets) o << ' ' << t;
    o << '\n';
    for (size_t i = 0; i < e.peers.size(); ++i) {
        const Peer& p = e.peers[i];
        o << "    peer " << i + 1 << ": " << p.host;
        if (p.dynamic && p.is_default)
            o << " (default, dynamic, resolved before each negotiation)";
        else if (p.dynamic)
            o << " (dynamic, resolved before each negotiation)";
        else if (p.is_default)
            o << " (default)";
        o << '\n';
    }
    if (e.type == EntryType::ipsec_isakmp) {
        if (e.idle_time)
            o << "    idle-time " << e.idle_time->seconds << " s"
              << (e.idle_time->to_default ? ", then the default peer" : "") << '\n';
        else if (cfg.ipsec.idle_time_s != 0)
            o << "    idle-time: global (" << cfg.ipsec.idle_time_s << " s)\n";
        else
            o << "    idle-time: none\n";
        o << "    lifetime " << e.lifetime_s.value_or(cfg.ipsec.sa_lifetime_s) << " s / "
          << e.lifetime_kb.value_or(cfg.ipsec.sa_lifetime_kb) << " KB";
        o << (e.pfs_group ? ", pfs group " + std::to_string(*e.pfs_group) : std::string(", no pfs")) << '\n';
        if (e.failback)
            o << "    failback to the default peer: probe every " << e.failback->probe_interval_s
              << " s, hold-down " << e.failback->hold_down_s << " s (max " << e.failback->max_hold_down_s
              << " s)\n";
    } else {
        o << "    inbound spi 0x" << std::hex << (e.inbound ? e.inbound->spi : 0) << ", outbound spi 0x"
          << (e.outbound ? e.outbound->spi : 0) << std::dec << ", keys: configured\n";
    }
    if (e.anti_replay)
        o << "    replay window " << (e.replay_window ? e.replay_window : cfg.ipsec.replay_window);
    else
        o << "    anti-replay disabled";
    o << (e.esn ? ", esn" : "") << (e.udp_encap ? ", udp-encap" : "") << '\n';
}

}  // namespace

std::string summarize(const Config& cfg) {
    std::ostringstream o;
    size_t entries = 0;
    for (const auto& m : cfg.crypto_maps) entries += m.entries.size();
    o << cfg.file << ": " << cfg.ports.size() << " ports, " << cfg.routes.size() << " routes, "
      << cfg.access_lists.size() << " access-lists, " << cfg.transform_sets.size() << " transform-sets, "
      << cfg.crypto_maps.size() << " crypto maps (" << entries << " entries)\n";
    for (const auto& p : cfg.ports)
        o << "port " << p.name << " (" << to_string(p.role) << ") " << format_ipv4(p.address) << '/'
          << int(p.prefix_len) << " mtu " << p.mtu << " device " << p.device << '\n';
    for (const auto& r : cfg.routes)
        o << "route " << format_prefix(r.prefix) << (r.via ? " via " + format_ipv4(r.via) : std::string())
          << " port " << r.port << '\n';
    for (const auto& n : cfg.neighbours) {
        char mac[18];
        std::snprintf(mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", n.mac[0], n.mac[1], n.mac[2], n.mac[3],
                      n.mac[4], n.mac[5]);
        o << "neighbour " << format_ipv4(n.address) << " mac " << mac << " port " << n.port << " (static)\n";
    }
    for (const auto& a : cfg.access_lists) {
        o << "access-list " << a.name << '\n';
        for (const auto& e : a.entries)
            o << "  " << to_string(e.action) << ' ' << protocol_name(e.protocol) << ' ' << ace_address(e.source)
              << ace_ports(e.source_ports) << ' ' << ace_address(e.destination) << ace_ports(e.destination_ports)
              << '\n';
    }
    for (const auto& t : cfg.transform_sets)
        o << "transform-set " << t.name << ": esp " << to_string(t.cipher)
          << (t.integrity != EspIntegrity::none ? std::string(" ") + to_string(t.integrity) : std::string())
          << '\n';
    o << "ike: " << cfg.ike.proposals.size() << " proposals";
    for (const auto& p : cfg.ike.proposals)
        o << " [" << p.name << ' ' << p.encryption << (p.integrity.empty() ? "" : " " + p.integrity) << " group "
          << p.dh_group << ']';
    o << ", " << cfg.ike.keys.size() << " pre-shared keys (configured), lifetime " << cfg.ike.ike_lifetime_s
      << " s\n";
    if (cfg.ike.dpd.enabled)
        o << "dpd: " << (cfg.ike.dpd.mode == DpdMode::periodic ? "periodic" : "on-demand") << ", interval "
          << cfg.ike.dpd.interval_s << " s, retry " << cfg.ike.dpd.retry_s << " s\n";
    else
        o << "dpd: off\n";
    o << "ipsec: sa lifetime " << cfg.ipsec.sa_lifetime_s << " s / " << cfg.ipsec.sa_lifetime_kb
      << " KB, idle-time "
      << (cfg.ipsec.idle_time_s ? std::to_string(cfg.ipsec.idle_time_s) + " s" : std::string("none"))
      << ", replay window " << cfg.ipsec.replay_window << '\n';
    for (const auto& m : cfg.crypto_maps) {
        o << "crypto map " << m.name << " (interface " << m.interface << ", local address "
          << format_ipv4(m.local_address) << ")\n";
        for (const auto& e : m.entries) print_entry(o, cfg, e);
    }
    return o.str();
}

}  // namespace peregrine::config
