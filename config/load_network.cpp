// config/load_network.cpp - ports, routes and access lists.
#include <map>

#include "config/load_ctx.hpp"

namespace peregrine::config::detail {

namespace {

// Iterates a top-level list of groups, reporting non-group elements.
template <typename Fn>
void each_group(Ctx& ctx, const Setting& list, const std::string& what, Fn fn) {
    for (int i = 0; i < list.getLength(); ++i) {
        const Setting& e = list[i];
        if (!e.isGroup()) {
            ctx.error(line_of(e), what + " " + std::to_string(i + 1),
                      std::string("must be a group { ... }, not ") + type_name(e));
            continue;
        }
        fn(e, i + 1);
    }
}

const Setting* top_list(Ctx& ctx, const Setting& root, const char* key) {
    if (!root.exists(key)) return nullptr;
    const Setting& s = root[key];
    if (!is_list(s)) {
        ctx.error(line_of(s), "", std::string("'") + key + "' must be a list ( ... ), not " + type_name(s));
        return nullptr;
    }
    return &s;
}

// "any" | "host A.B.C.D" | "A.B.C.D/len" (host bits must be clear).
std::optional<Ipv4Prefix> parse_ace_address(const Group& g, const char* key) {
    auto text = g.string(key, true);
    if (!text) return std::nullopt;
    const auto words = split_words(*text);
    if (words.size() == 1 && words[0] == "any") return Ipv4Prefix{0, 0};
    if (words.size() == 2 && words[0] == "host") {
        if (auto a = parse_ipv4(words[1])) return Ipv4Prefix{*a, 32};
        g.error(key, "'" + *text + "' is not a valid host address");
        return std::nullopt;
    }
    if (words.size() == 1) {
        std::string why;
        auto p = parse_prefix(words[0], why);
        if (!p) {
            g.error(key, "'" + std::string(key) + "': " + why + " (expected any, host A.B.C.D or A.B.C.D/LEN)");
            return std::nullopt;
        }
        if (!host_bits_clear(*p)) {
            g.error(key, "'" + *text + "' has host bits set (did you mean " + format_prefix(network_of(*p)) +
                             "?)");
            return std::nullopt;
        }
        return p;
    }
    g.error(key, "'" + *text + "' is not an address (expected any, host A.B.C.D or A.B.C.D/LEN)");
    return std::nullopt;
}

std::optional<uint16_t> parse_port_number(const std::string& t) {
    if (t.empty() || t.size() > 5) return std::nullopt;
    uint32_t v = 0;
    for (char c : t) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + uint32_t(c - '0');
    }
    if (v > 65535) return std::nullopt;
    return static_cast<uint16_t>(v);
}

// "N" | "N-M" (also a bare integer).
std::optional<PortRange> parse_port_range(const Group& g, const char* key) {
    const Setting* s = g.get(key);
    if (!s) return std::nullopt;
    if (auto v = as_integer(*s)) {
        if (*v < 0 || *v > 65535) {
            g.error(key, "'" + std::string(key) + "' must be 0 to 65535 (got " + std::to_string(*v) + ")");
            return std::nullopt;
        }
        return PortRange{static_cast<uint16_t>(*v), static_cast<uint16_t>(*v)};
    }
    auto text = g.string(key, false);
    if (!text) return std::nullopt;
    const auto dash = text->find('-');
    auto lo = parse_port_number(text->substr(0, dash));
    auto hi = dash == std::string::npos ? lo : parse_port_number(text->substr(dash + 1));
    if (!lo || !hi) {
        g.error(key, "'" + *text + "' is not a port or port range (expected N or N-M, 0 to 65535)");
        return std::nullopt;
    }
    if (*lo > *hi) {
        g.error(key, "port range '" + *text + "': the low end is greater than the high end");
        return std::nullopt;
    }
    return PortRange{*lo, *hi};
}

struct ProtoName {
    const char* name;
    uint8_t number;
};
constexpr ProtoName kProtocols[] = {{"ip", 0}, {"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"gre", 47}, {"esp", 50}};

std::optional<uint8_t> parse_protocol(const Group& g) {
    const Setting* s = g.get("protocol");
    if (!s) {
        g.error("protocol", "missing required setting 'protocol'");
        return std::nullopt;
    }
    std::optional<int64_t> num = as_integer(*s);
    if (!num && s->getType() == Setting::TypeString) {
        const std::string t = static_cast<const char*>(*s);
        for (const auto& p : kProtocols)
            if (t == p.name) return p.number;
        if (auto n = parse_port_number(t)) num = *n;  // a decimal protocol number
        if (!num) {
            g.error("protocol", "unknown protocol '" + t + "' (expected ip, tcp, udp, icmp, esp, gre or 0 to 255)");
            return std::nullopt;
        }
    }
    if (!num) {
        g.error("protocol", std::string("'protocol' must be a string or an integer, not ") + type_name(*s));
        return std::nullopt;
    }
    if (*num < 0 || *num > 255) {
        g.error("protocol", "protocol number must be 0 to 255 (got " + std::to_string(*num) + ")");
        return std::nullopt;
    }
    return static_cast<uint8_t>(*num);
}

}  // namespace

void load_ports(Ctx& ctx, const Setting& root, Config& cfg) {
    const Setting* list = top_list(ctx, root, "ports");
    if (!list) {
        if (!root.exists("ports")) ctx.error(0, "", "missing required setting 'ports' (at least one port)");
        return;
    }
    if (list->getLength() == 0) ctx.error(line_of(*list), "", "'ports' must list at least one port");
    std::map<std::string, int> seen;
    each_group(ctx, *list, "port", [&](const Setting& e, int idx) {
        Group g(ctx, e, "port " + std::to_string(idx), {"name", "device", "role", "address", "mtu"});
        Port p;
        p.line = g.line();
        bool ok = true;
        if (auto n = g.string("name", true)) {
            p.name = *n;
            ctx.declared["port"].insert(p.name);
            g.set_where("port '" + p.name + "'");
            if (n->empty()) {
                g.error("name", "'name' must not be empty");
                ok = false;
            } else if (auto [it, fresh] = seen.emplace(p.name, g.line("name")); !fresh) {
                g.error("name", "duplicate port name (first defined at line " + std::to_string(it->second) + ")");
                ok = false;
            }
        } else {
            ok = false;
        }
        if (auto d = g.string("device", true)) {
            if (d->empty()) {
                g.error("device", "'device' must not be empty");
                ok = false;
            }
            p.device = *d;
        } else {
            ok = false;
        }
        if (auto r = g.choice("role", true, {"inside", "outside"}))
            p.role = *r == "inside" ? PortRole::inside : PortRole::outside;
        else
            ok = false;
        if (auto a = g.string("address", true)) {
            std::string why;
            auto pre = parse_prefix(*a, why);
            if (!pre) {
                g.error("address", "'address': " + why);
                ok = false;
            } else if (pre->len == 0 || pre->addr == 0) {
                g.error("address", "'" + *a + "' is not a usable interface address");
                ok = false;
            } else {
                p.address = pre->addr;
                p.prefix_len = pre->len;
            }
        } else {
            ok = false;
        }
        if (g.has("mtu")) {
            if (auto m = g.integer("mtu", false, 576, 9000))
                p.mtu = static_cast<uint16_t>(*m);
            else
                ok = false;
        }
        if (ok) cfg.ports.push_back(std::move(p));
    });
}

void load_routes(Ctx& ctx, const Setting& root, Config& cfg) {
    const Setting* list = top_list(ctx, root, "routes");
    if (!list) return;
    each_group(ctx, *list, "route", [&](const Setting& e, int idx) {
        Group g(ctx, e, "route " + std::to_string(idx), {"prefix", "via", "port"});
        Route r;
        r.line = g.line();
        bool ok = true;
        if (auto t = g.string("prefix", true)) {
            std::string why;
            auto p = parse_prefix(*t, why);
            if (!p) {
                g.error("prefix", "'prefix': " + why);
                ok = false;
            } else if (!host_bits_clear(*p)) {
                g.error("prefix", "'" + *t + "' has host bits set (did you mean " + format_prefix(network_of(*p)) +
                                      "?)");
                ok = false;
            } else {
                r.prefix = *p;
                g.set_where("route " + format_prefix(*p));
            }
        } else {
            ok = false;
        }
        if (auto v = g.string("via", false)) {
            if (auto a = parse_ipv4(*v); a && *a != 0) {
                r.via = *a;
            } else {
                g.error("via", "'via': '" + *v + "' is not a valid next-hop address");
                ok = false;
            }
        } else if (g.has("via")) {
            ok = false;
        }
        if (auto port = g.string("port", true)) {
            r.port = *port;
            if (!cfg.find_port(*port)) {
                if (!ctx.is_declared("port", *port)) g.error("port", "unknown port '" + *port + "'");
                ok = false;
            }
        } else {
            ok = false;
        }
        if (ok && r.via != 0) {
            const Port* port = cfg.find_port(r.port);
            const Ipv4Prefix net{port->address, port->prefix_len};
            if (!net.contains(r.via))
                g.warning("via", "next hop " + format_ipv4(r.via) + " is not on the network of port '" +
                                     port->name + "' (" + format_prefix(network_of(net)) + ")");
        }
        if (ok) cfg.routes.push_back(std::move(r));
    });
}

namespace {
// "02:00:00:00:00:02" (colons) or "0200.0000.0002" (IOS dotted); false if neither.
bool parse_mac(const std::string& t, uint8_t out[6]) {
    std::string hex;
    if (t.size() == 17) {
        for (size_t k = 0; k < 17; ++k) {
            if (k % 3 == 2) {
                if (t[k] != ':' && t[k] != '-') return false;
            } else {
                hex += t[k];
            }
        }
    } else if (t.size() == 14 && t[4] == '.' && t[9] == '.') {
        hex = t.substr(0, 4) + t.substr(5, 4) + t.substr(10, 4);
    } else {
        return false;
    }
    for (size_t k = 0; k < 6; ++k) {
        unsigned v = 0;
        for (size_t d = 0; d < 2; ++d) {
            const char c = hex[2 * k + d];
            v <<= 4;
            if (c >= '0' && c <= '9') v |= unsigned(c - '0');
            else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
            else return false;
        }
        out[k] = uint8_t(v);
    }
    return true;
}
}  // namespace

void load_neighbours(Ctx& ctx, const Setting& root, Config& cfg) {
    const Setting* list = top_list(ctx, root, "neighbours");
    if (!list) return;
    each_group(ctx, *list, "neighbour", [&](const Setting& e, int idx) {
        Group g(ctx, e, "neighbour " + std::to_string(idx), {"address", "mac", "port"});
        StaticNeighbour n;
        n.line = g.line();
        bool ok = true;
        if (auto a = g.string("address", true)) {
            if (auto ip = parse_ipv4(*a); ip && *ip != 0) {
                n.address = *ip;
                g.set_where("neighbour " + *a);
            } else {
                g.error("address", "'address': '" + *a + "' is not a valid IPv4 address");
                ok = false;
            }
        } else {
            ok = false;
        }
        if (auto m = g.string("mac", true)) {
            if (!parse_mac(*m, n.mac)) {
                g.error("mac", "'mac': '" + *m + "' is not a MAC address (02:00:00:00:00:02 or 0200.0000.0002)");
                ok = false;
            } else if (n.mac[0] & 1) {
                g.error("mac", "'mac': '" + *m + "' is a multicast address");
                ok = false;
            }
        } else {
            ok = false;
        }
        if (auto port = g.string("port", true)) {
            n.port = *port;
            if (!cfg.find_port(*port)) {
                if (!ctx.is_declared("port", *port)) g.error("port", "unknown port '" + *port + "'");
                ok = false;
            }
        } else {
            ok = false;
        }
        if (ok) {
            for (const auto& o : cfg.neighbours)
                if (o.address == n.address) {
                    g.error("address", "neighbour " + format_ipv4(n.address) + " already defined at line " +
                                           std::to_string(o.line));
                    ok = false;
                    break;
                }
        }
        if (ok) {
            const Port* port = cfg.find_port(n.port);
            const Ipv4Prefix net{port->address, port->prefix_len};
            if (!net.contains(n.address))
                g.warning("address", "neighbour " + format_ipv4(n.address) + " is not on the network of port '" +
                                         port->name + "' (" + format_prefix(network_of(net)) + ")");
        }
        if (ok) cfg.neighbours.push_back(std::move(n));
    });
}

void load_access_lists(Ctx& ctx, const Setting& root, Config& cfg) {
    const Setting* list = top_list(ctx, root, "access-lists");
    if (!list) return;
    std::map<std::string, int> seen;
    each_group(ctx, *list, "access-list", [&](const Setting& e, int idx) {
        Group g(ctx, e, "access-list " + std::to_string(idx), {"name", "entries"});
        AccessList acl;
        acl.line = g.line();
        bool ok = true;
        if (auto n = g.string("name", true)) {
            acl.name = *n;
            ctx.declared["access-list"].insert(acl.name);
            g.set_where("access-list '" + acl.name + "'");
            if (n->empty()) {
                g.error("name", "'name' must not be empty");
                ok = false;
            } else if (auto [it, fresh] = seen.emplace(acl.name, g.line("name")); !fresh) {
                g.error("name", "duplicate access-list name (first defined at line " +
                                    std::to_string(it->second) + ")");
                ok = false;
            }
        } else {
            ok = false;
        }
        const Setting* entries = g.list("entries", true);
        if (!entries) {
            ok = false;
        } else if (entries->getLength() == 0) {
            g.error("entries", "an access list needs at least one entry");
            ok = false;
        } else {
            for (int i = 0; i < entries->getLength(); ++i) {
                const Setting& es = (*entries)[i];
                const std::string where = g.where() + " entry " + std::to_string(i + 1);
                if (!es.isGroup()) {
                    ctx.error(line_of(es), where, std::string("must be a group { ... }, not ") + type_name(es));
                    ok = false;
                    continue;
                }
                Group eg(ctx, es, where,
                         {"action", "protocol", "source", "destination", "source-port", "destination-port"});
                Ace ace;
                ace.line = eg.line();
                bool eok = true;
                if (auto a = eg.choice("action", true, {"permit", "deny"}))
                    ace.action = *a == "permit" ? AceAction::permit : AceAction::deny;
                else
                    eok = false;
                auto proto = parse_protocol(eg);
                if (proto)
                    ace.protocol = *proto;
                else
                    eok = false;
                if (auto s = parse_ace_address(eg, "source"))
                    ace.source = *s;
                else
                    eok = false;
                if (auto d = parse_ace_address(eg, "destination"))
                    ace.destination = *d;
                else
                    eok = false;
                for (const char* key : {"source-port", "destination-port"}) {
                    if (!eg.has(key)) continue;
                    if (proto && *proto != 6 && *proto != 17) {
                        eg.error(key, "'" + std::string(key) + "' is only allowed with protocol tcp or udp");
                        eok = false;
                        continue;
                    }
                    auto r = parse_port_range(eg, key);
                    if (!r) {
                        eok = false;
                        continue;
                    }
                    (std::string_view(key) == "source-port" ? ace.source_ports : ace.destination_ports) = *r;
                }
                if (eok)
                    acl.entries.push_back(ace);
                else
                    ok = false;
            }
        }
        if (ok) cfg.access_lists.push_back(std::move(acl));
    });
}

}  // namespace peregrine::config::detail
