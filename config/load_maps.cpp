// config/load_maps.cpp - crypto maps and their entries, with the restrictions of the
// Cisco "IPsec Preferred Peer" feature (docs/CONFIG.md cites each one).
#include <algorithm>
#include <cstdio>
#include <limits>
#include <map>

#include "config/load_ctx.hpp"

namespace peregrine::config::detail {

namespace {

constexpr int64_t kAnyInt64Lo = std::numeric_limits<int64_t>::min();
constexpr int64_t kAnyInt64Hi = std::numeric_limits<int64_t>::max();

bool supported_dh_group(int64_t g) { return g == 14 || g == 15 || g == 19 || g == 20 || g == 21; }

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%x", v);
    return buf;
}

// State shared by all entries of the file.
struct MapsState {
    std::map<uint32_t, std::string> inbound_spis;  // SPI -> "crypto map 'x' seq N"
    int first_isakmp_line = 0;
};

// `set peer {host-name [dynamic] [default] | ip-address [default]}`, one string each.
bool load_peers(const Group& g, const Setting* list, EntryType type, std::vector<Peer>& out) {
    const char* kRequired = "set peer is required for all static crypto maps: 'peers' must list at least one peer";
    if (!list) {
        if (!g.has("peers")) g.ctx().error(g.line(), g.where(), kRequired);
        return false;
    }
    if (list->getLength() == 0) {
        g.error("peers", kRequired);
        return false;
    }
    bool ok = true;
    for (int i = 0; i < list->getLength(); ++i) {
        const Setting& ps = (*list)[i];
        const int line = line_of(ps);
        const std::string label = "peer " + std::to_string(i + 1);
        if (ps.getType() != Setting::TypeString) {
            g.ctx().error(line, g.where(), label + " must be a string, not " + type_name(ps));
            ok = false;
            continue;
        }
        const std::string text = static_cast<const char*>(ps);
        const auto words = split_words(text);
        const std::string what = label + " '" + text + "'";
        auto err = [&](const std::string& m) { g.ctx().error(line, g.where(), what + ": " + m); };
        if (words.empty()) {
            err("empty peer");
            ok = false;
            continue;
        }
        Peer p;
        p.line = line;
        p.host = words[0];
        p.ip = parse_ipv4(p.host);
        bool pok = true;
        if (!p.ip && looks_numeric(p.host)) {
            err("'" + p.host + "' is not a valid IP address");
            pok = false;
        } else if (!p.ip && !valid_hostname(p.host)) {
            err("'" + p.host + "' is neither an IP address nor a host name");
            pok = false;
        }
        for (size_t w = 1; w < words.size(); ++w) {
            if (words[w] == "dynamic") {
                if (p.dynamic) {
                    err("'dynamic' is given twice");
                    pok = false;
                } else if (p.is_default) {
                    err("'dynamic' must come before 'default' (set peer host-name [dynamic] [default])");
                    pok = false;
                }
                p.dynamic = true;
            } else if (words[w] == "default") {
                if (p.is_default) {
                    err("'default' is given twice");
                    pok = false;
                }
                p.is_default = true;
            } else {
                std::string m = "unknown keyword '" + words[w] + "' (expected 'dynamic' or 'default')";
                if (auto s = suggest(words[w], {"dynamic", "default"}); !s.empty())
                    m = "unknown keyword '" + words[w] + "' (did you mean '" + s + "'?)";
                err(m);
                pok = false;
            }
        }
        if (p.dynamic && p.ip) {
            err("'dynamic' is only valid with a host name, and " + p.host +
                " is an IP address (set peer {host-name [dynamic] [default] | ip-address [default]})");
            pok = false;
        }
        if (type == EntryType::ipsec_manual) {
            if (!p.ip && pok) {
                err("the peer of an ipsec-manual entry must be an IP address");
                pok = false;
            }
            if (p.is_default) {
                err("'default' is not valid in an ipsec-manual entry (it has a single peer)");
                pok = false;
            }
        }
        for (const auto& q : out)
            if (q.host == p.host) {
                err("peer '" + p.host + "' is listed twice (first at line " + std::to_string(q.line) + ")");
                pok = false;
            }
        if (!pok) ok = false;
        out.push_back(std::move(p));  // kept (even if bad) so the default checks see positions
    }
    // Spec, Restrictions: "Only one peer can be designated as the default peer in a
    // crypto map." and "The default peer must be the first peer in the peer list."
    bool seen_default = false;
    for (size_t i = 0; i < out.size(); ++i) {
        if (!out[i].is_default) continue;
        if (i > 0) {
            const std::string what = "peer " + std::to_string(i + 1) + " '" + out[i].host + "'";
            g.ctx().error(out[i].line, g.where(),
                          what + (seen_default ? ": only one peer can be the default peer (peer 1 already is)"
                                               : ": the default peer must be the first peer in the peer list"));
            ok = false;
        }
        seen_default = true;
    }
    if (type == EntryType::ipsec_manual && out.size() > 1) {
        // Spec, set peer: "you can specify only one IPsec peer per crypto map" (ipsec-manual).
        g.error("peers", "an ipsec-manual entry takes exactly one peer (got " + std::to_string(out.size()) + ")");
        ok = false;
    }
    return ok;
}

// `idle-time = 120;` or `idle-time = "120 default";`
bool load_idle_time(const Group& g, const Config& cfg, const Peer* default_peer,
                    std::optional<IdleTime>& out) {
    const Setting* s = g.get("idle-time");
    if (!s) return true;
    IdleTime it;
    it.line = line_of(*s);
    int64_t secs = 0;
    if (auto v = as_integer(*s)) {
        secs = *v;
    } else if (s->getType() == Setting::TypeString) {
        const auto words = split_words(static_cast<const char*>(*s));
        bool ok = !words.empty() && words.size() <= 2 && words[0].size() <= 9 &&
                  std::all_of(words[0].begin(), words[0].end(), [](char c) { return c >= '0' && c <= '9'; });
        if (ok && words.size() == 2) {
            ok = words[1] == "default";
            it.to_default = ok;
        }
        if (!ok) {
            g.error("idle-time", "'idle-time' must be SECONDS or \"SECONDS default\" (got '" +
                                     std::string(static_cast<const char*>(*s)) + "')");
            return false;
        }
        secs = std::stoll(words[0]);
    } else {
        g.error("idle-time", std::string("'idle-time' must be an integer or a string, not ") + type_name(*s));
        return false;
    }
    // Spec, set security-association idle-time: "Valid values are 60 to 86400."
    if (secs < 60 || secs > 86400) {
        g.error("idle-time", "idle-time must be 60 to 86400 seconds (got " + std::to_string(secs) + ")");
        return false;
    }
    it.seconds = static_cast<uint32_t>(secs);
    // Spec, Restrictions: "If there is a global idle timer, the crypto map idle-timer
    // value must be different from the global value; otherwise, the idle timer is not
    // added to the crypto map."
    if (cfg.ipsec.idle_time_s != 0 && it.seconds == cfg.ipsec.idle_time_s) {
        g.warning("idle-time", "idle-time equals the global idle time (" + std::to_string(secs) +
                                   " s): the idle timer is not added to the crypto map");
        return true;
    }
    if (it.to_default && !default_peer)
        g.warning("idle-time", "'default' has no effect: no peer of this entry is the default peer");
    out = it;
    return true;
}

bool load_failback(const Group& g, const Peer* default_peer, std::optional<Failback>& out) {
    const Setting* s = g.group("failback", false);
    if (!s) return !g.has("failback");
    Group fg(g.ctx(), *s, g.where() + " failback", {"probe-interval", "hold-down", "max-hold-down"});
    Failback f;
    f.line = fg.line();
    bool ok = true;
    if (fg.has("probe-interval")) {
        auto v = fg.integer("probe-interval", false, 1, 3600);
        if (v) f.probe_interval_s = static_cast<uint32_t>(*v); else ok = false;
    }
    if (fg.has("hold-down")) {
        auto v = fg.integer("hold-down", false, 0, 86400);
        if (v) f.hold_down_s = static_cast<uint32_t>(*v); else ok = false;
    }
    if (fg.has("max-hold-down")) {
        auto v = fg.integer("max-hold-down", false, 0, 86400);
        if (v) f.max_hold_down_s = static_cast<uint32_t>(*v); else ok = false;
    }
    if (ok && f.max_hold_down_s < f.hold_down_s) {
        fg.error(fg.has("max-hold-down") ? "max-hold-down" : "hold-down",
                 "max-hold-down (" + std::to_string(f.max_hold_down_s) + " s) must be >= hold-down (" +
                     std::to_string(f.hold_down_s) + " s)");
        ok = false;
    }
    if (!default_peer) {
        g.error("failback", "failback requires a default peer: mark the first peer 'default'");
        ok = false;
    }
    if (ok) out = f;
    return ok;
}

bool load_manual_sa(const Group& g, const char* dir, const TransformSet* ts, std::optional<ManualSa>& out) {
    const Setting* s = g.group(dir, false);
    if (!s) {
        if (!g.has(dir))
            g.error(dir, std::string("an ipsec-manual entry needs '") + dir +
                             "' keys (spi, cipher-key, integrity-key)");
        return false;
    }
    Group kg(g.ctx(), *s, g.where() + " " + dir, {"spi", "cipher-key", "integrity-key"});
    ManualSa sa;
    sa.line = kg.line();
    bool ok = true;
    if (const Setting* spi = kg.get("spi")) {
        auto v = as_integer(*spi);
        // libconfig 1.5 stores a 32-bit hex literal above 0x7fffffff as a negative int.
        if (v && *v < 0 && spi->getType() == Setting::TypeInt) *v = static_cast<uint32_t>(*v);
        if (!v) {
            kg.error("spi", std::string("'spi' must be an integer, not ") + type_name(*spi));
            ok = false;
        } else if (*v < 256 || *v > 0xffffffffLL) {
            kg.error("spi", "'spi' must be 256 to 4294967295 (0x100 to 0xffffffff; 1 to 255 are reserved), got " +
                                std::to_string(*v));
            ok = false;
        } else {
            sa.spi = static_cast<uint32_t>(*v);
        }
    } else {
        kg.error("spi", "missing required setting 'spi'");
        ok = false;
    }
    auto read_key = [&](const char* key, size_t need, const std::string& what_needs, Secret& dst) {
        auto text = kg.string(key, true);
        if (!text) {
            ok = false;
            return;
        }
        std::string why;
        auto bytes = parse_hex(*text, why);
        std::fill(text->begin(), text->end(), '\0');
        if (!bytes) {
            kg.error(key, "'" + std::string(key) + "' " + why);
            ok = false;
            return;
        }
        if (need != 0 && bytes->size() != need) {
            kg.error(key, "'" + std::string(key) + "' is " + std::to_string(bytes->size()) + " bytes, " +
                              what_needs + " needs " + std::to_string(need));
            ok = false;
        } else {
            dst = Secret(*bytes);
        }
        volatile uint8_t* p = bytes->data();
        for (size_t i = 0; i < bytes->size(); ++i) p[i] = 0;
    };
    if (ts) {
        std::string cname = to_string(ts->cipher);
        if (is_aead(ts->cipher)) cname += " (key + 4-byte salt)";
        read_key("cipher-key", cipher_key_bytes(ts->cipher), cname, sa.cipher_key);
        if (ts->integrity == EspIntegrity::none) {
            if (kg.has("integrity-key")) {
                kg.error("integrity-key", std::string("'integrity-key' must not be set: ") + to_string(ts->cipher) +
                                              " has no separate integrity key");
                ok = false;
            }
        } else {
            read_key("integrity-key", integrity_key_bytes(ts->integrity), to_string(ts->integrity),
                     sa.integrity_key);
        }
    } else {
        // Unknown transform set (reported elsewhere): check the syntax only.
        Secret ignored;
        read_key("cipher-key", 0, "", ignored);
        if (kg.has("integrity-key")) read_key("integrity-key", 0, "", ignored);
        ok = false;
    }
    if (ok) out = std::move(sa);
    return ok;
}

std::optional<CryptoMapEntry> load_entry(Ctx& ctx, const Config& cfg, const Setting& es, const std::string& map_where,
                                         int idx, std::map<int64_t, int>& seqs, MapsState& st) {
    // Read seq first: it names the entry in every later message.
    std::string where = map_where + " entry " + std::to_string(idx);
    std::optional<int64_t> seq;
    if (es.exists("seq")) {
        seq = as_integer(es["seq"]);
        if (seq && *seq >= 1 && *seq <= 65535) where = map_where + " seq " + std::to_string(*seq);
    }
    Group g(ctx, es, where,
            {"seq", "type", "match-address", "peers", "transform-sets", "pfs", "lifetime", "lifetime-kb",
             "idle-time", "udp-encap", "esn", "replay-window", "anti-replay", "failback", "inbound", "outbound"});
    CryptoMapEntry e;
    e.line = g.line();
    bool ok = true;
    if (auto v = g.integer("seq", true, 1, 65535)) {
        e.seq = static_cast<uint32_t>(*v);
        if (auto [it, fresh] = seqs.emplace(*v, g.line("seq")); !fresh) {
            g.error("seq", "duplicate sequence number " + std::to_string(*v) + " (first at line " +
                               std::to_string(it->second) + ")");
            ok = false;
        }
    } else {
        ok = false;
    }
    if (g.has("type")) {
        auto t = g.choice("type", false, {"ipsec-isakmp", "ipsec-manual"});
        if (!t) ok = false;
        else if (*t == "ipsec-manual") e.type = EntryType::ipsec_manual;
    }
    const bool manual = e.type == EntryType::ipsec_manual;
    if (!manual && st.first_isakmp_line == 0) st.first_isakmp_line = e.line;

    if (auto acl = g.string("match-address", true)) {
        e.match_address = *acl;
        if (!cfg.find_access_list(*acl)) {
            if (!ctx.is_declared("access-list", *acl)) g.error("match-address", "unknown access-list '" + *acl + "'");
            ok = false;
        }
    } else {
        ok = false;
    }

    const TransformSet* ts0 = nullptr;
    if (const Setting* tl = g.list("transform-sets", true)) {
        if (tl->getLength() == 0) {
            g.error("transform-sets", "'transform-sets' must name at least one transform set");
            ok = false;
        }
        for (int i = 0; i < tl->getLength(); ++i) {
            const Setting& t = (*tl)[i];
            if (t.getType() != Setting::TypeString) {
                ctx.error(line_of(t), where, "transform set " + std::to_string(i + 1) + " must be a string, not " +
                                                 type_name(t));
                ok = false;
                continue;
            }
            const std::string name = static_cast<const char*>(t);
            const TransformSet* ts = cfg.find_transform_set(name);
            if (!ts) {
                if (!ctx.is_declared("transform-set", name))
                    ctx.error(line_of(t), where, "unknown transform-set '" + name + "'");
                ok = false;
            } else if (std::find(e.transform_sets.begin(), e.transform_sets.end(), name) != e.transform_sets.end()) {
                ctx.error(line_of(t), where, "transform-set '" + name + "' is listed twice");
                ok = false;
            }
            if (i == 0) ts0 = ts;
            e.transform_sets.push_back(name);
        }
        if (manual && tl->getLength() > 1) {
            g.error("transform-sets", "an ipsec-manual entry takes exactly one transform set (got " +
                                          std::to_string(tl->getLength()) + ")");
            ok = false;
        }
    } else {
        ok = false;
    }

    if (!load_peers(g, g.list("peers", false), e.type, e.peers)) ok = false;
    const Peer* dflt = e.default_peer();

    // Settings that only one entry type takes.
    for (const char* key : {"pfs", "lifetime", "lifetime-kb", "idle-time", "failback"})
        if (manual && g.has(key)) {
            g.error(key, std::string("'") + key + "' is only valid in ipsec-isakmp entries");
            ok = false;
        }
    for (const char* key : {"inbound", "outbound"})
        if (!manual && g.has(key)) {
            g.error(key, std::string("'") + key + "' keys are only valid in ipsec-manual entries");
            ok = false;
        }

    if (!manual) {
        if (g.has("pfs")) {
            auto v = g.integer("pfs", false, kAnyInt64Lo, kAnyInt64Hi);
            if (v && !supported_dh_group(*v)) {
                g.error("pfs", "pfs group " + std::to_string(*v) + " is not supported (use 14, 15, 19, 20 or 21)");
                ok = false;
            } else if (!v) {
                ok = false;
            } else {
                e.pfs_group = static_cast<int>(*v);
            }
        }
        if (g.has("lifetime")) {
            if (auto v = g.integer("lifetime", false, 120, 86400)) e.lifetime_s = static_cast<uint32_t>(*v);
            else ok = false;
        }
        if (g.has("lifetime-kb")) {
            if (auto v = g.integer("lifetime-kb", false, 2560, 4294967295LL)) e.lifetime_kb = static_cast<uint64_t>(*v);
            else ok = false;
        }
        if (!load_idle_time(g, cfg, dflt, e.idle_time)) ok = false;
        if (!load_failback(g, dflt, e.failback)) ok = false;
        // Spec, Restrictions: "This feature must be used in conjunction with Dead Peer
        // Detection (DPD)."
        if (dflt && !cfg.ike.dpd.enabled)
            ctx.warning(dflt->line, where,
                        "the default peer must be used with dead peer detection, but 'ike.dpd' is not configured "
                        "(periodic mode is recommended)");
        // Pre-shared keys: a peer without one cannot authenticate.
        for (const auto& p : e.peers) {
            bool found = false;
            for (const auto& k : cfg.ike.keys) found = found || k.peer == p.host;
            if (!found)
                ctx.warning(p.line, where, "no pre-shared key for peer '" + p.host + "' in ike.keys");
        }
    }

    if (auto b = g.boolean("udp-encap")) e.udp_encap = *b;
    else if (g.has("udp-encap")) ok = false;
    if (auto b = g.boolean("esn")) e.esn = *b;
    else if (g.has("esn")) ok = false;
    if (auto b = g.boolean("anti-replay")) {
        e.anti_replay = *b;
        if (!e.anti_replay && e.esn) {
            // RFC 4303 A2: the receiver infers the high 32 bits of an ESN from its window.
            g.error("anti-replay", "esn needs the anti-replay window (it infers the high 32 bits): "
                                   "anti-replay = false cannot be combined with esn = true");
            ok = false;
        }
    } else if (g.has("anti-replay")) {
        ok = false;
    }
    if (g.has("replay-window")) {
        auto v = g.integer("replay-window", false, kAnyInt64Lo, kAnyInt64Hi);
        if (v && !valid_replay_window(*v)) {
            g.error("replay-window",
                    "replay-window must be 64 to 4096 and a multiple of 64 (got " + std::to_string(*v) + ")");
            ok = false;
        } else if (!v) {
            ok = false;
        } else {
            e.replay_window = static_cast<uint16_t>(*v);
        }
    }

    if (manual) {
        for (const char* dir : {"inbound", "outbound"}) {
            auto& sa = std::string_view(dir) == "inbound" ? e.inbound : e.outbound;
            if (!load_manual_sa(g, dir, ts0, sa)) ok = false;
        }
        if (e.inbound) {
            if (auto [it, fresh] = st.inbound_spis.emplace(e.inbound->spi, where); !fresh) {
                ctx.error(e.inbound->line, where + " inbound",
                          "inbound SPI " + hex32(e.inbound->spi) + " is already used by " + it->second);
                ok = false;
            }
        }
    }
    if (!ok) return std::nullopt;
    return e;
}

}  // namespace

void load_crypto_maps(Ctx& ctx, const Setting& root, Config& cfg) {
    if (!root.exists("crypto-maps")) return;
    const Setting& list = root["crypto-maps"];
    if (!is_list(list)) {
        ctx.error(line_of(list), "", std::string("'crypto-maps' must be a list ( ... ), not ") + type_name(list));
        return;
    }
    std::map<std::string, int> names;
    std::map<std::string, std::string> interfaces;  // port -> map name
    MapsState st;
    for (int i = 0; i < list.getLength(); ++i) {
        const Setting& ms = list[i];
        if (!ms.isGroup()) {
            ctx.error(line_of(ms), "crypto map " + std::to_string(i + 1),
                      std::string("must be a group { ... }, not ") + type_name(ms));
            continue;
        }
        std::string where = "crypto map " + std::to_string(i + 1);
        if (ms.exists("name") && ms["name"].getType() == Setting::TypeString)
            where = "crypto map '" + std::string(static_cast<const char*>(ms["name"])) + "'";
        Group g(ctx, ms, where, {"name", "interface", "local-address", "entries"});
        CryptoMap m;
        m.line = g.line();
        bool ok = true;
        if (auto n = g.string("name", true)) {
            m.name = *n;
            if (n->empty()) {
                g.error("name", "'name' must not be empty");
                ok = false;
            } else if (auto [it, fresh] = names.emplace(m.name, g.line("name")); !fresh) {
                g.error("name", "duplicate crypto map name (first defined at line " + std::to_string(it->second) + ")");
                ok = false;
            }
        } else {
            ok = false;
        }
        const Port* port = nullptr;
        if (auto itf = g.string("interface", true)) {
            m.interface = *itf;
            port = cfg.find_port(*itf);
            if (!port) {
                if (!ctx.is_declared("port", *itf)) g.error("interface", "unknown port '" + *itf + "'");
                ok = false;
            } else if (auto [it, fresh] = interfaces.emplace(*itf, m.name); !fresh) {
                g.error("interface", "port '" + *itf + "' already has crypto map '" + it->second +
                                         "' (one crypto map per interface)");
                ok = false;
            }
        } else {
            ok = false;
        }
        if (auto la = g.string("local-address", false)) {
            if (auto a = parse_ipv4(*la); a && *a != 0) {
                m.local_address = *a;
            } else {
                g.error("local-address", "'local-address': '" + *la + "' is not a valid IP address");
                ok = false;
            }
        } else if (g.has("local-address")) {
            ok = false;
        } else if (port) {
            m.local_address = port->address;
        }
        if (const Setting* entries = g.list("entries", true)) {
            if (entries->getLength() == 0) {
                g.error("entries", "a crypto map needs at least one entry");
                ok = false;
            }
            std::map<int64_t, int> seqs;
            for (int k = 0; k < entries->getLength(); ++k) {
                const Setting& es = (*entries)[k];
                if (!es.isGroup()) {
                    ctx.error(line_of(es), where + " entry " + std::to_string(k + 1),
                              std::string("must be a group { ... }, not ") + type_name(es));
                    ok = false;
                    continue;
                }
                if (auto e = load_entry(ctx, cfg, es, where, k + 1, seqs, st))
                    m.entries.push_back(std::move(*e));
                else
                    ok = false;
            }
            // "The router searches the crypto map entries in order": by sequence number.
            std::stable_sort(m.entries.begin(), m.entries.end(),
                             [](const CryptoMapEntry& a, const CryptoMapEntry& b) { return a.seq < b.seq; });
        } else {
            ok = false;
        }
        if (ok) cfg.crypto_maps.push_back(std::move(m));
    }
    // Checked on the file, not the model: a proposal with errors was already reported.
    const bool has_proposals = root.exists("ike") && root["ike"].isGroup() && root["ike"].exists("proposals") &&
                               is_list(root["ike"]["proposals"]) && root["ike"]["proposals"].getLength() > 0;
    if (st.first_isakmp_line != 0 && !has_proposals)
        ctx.error(st.first_isakmp_line, "",
                  "ipsec-isakmp entries need at least one IKE proposal ('ike.proposals')");
}

}  // namespace peregrine::config::detail
