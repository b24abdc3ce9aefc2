// config/load_crypto.cpp - transform sets, IKE (proposals, keys, DPD) and the global
// IPsec settings.
#include <algorithm>
#include <limits>
#include <map>

#include "config/load_ctx.hpp"

namespace peregrine::config::detail {

namespace {

struct CipherName {
    const char* name;
    EspCipher cipher;
};
constexpr CipherName kCiphers[] = {{"aes-gcm-128", EspCipher::aes_gcm_128},
                                   {"aes-gcm-256", EspCipher::aes_gcm_256},
                                   {"aes-cbc-128", EspCipher::aes_cbc_128},
                                   {"aes-cbc-256", EspCipher::aes_cbc_256}};
struct IntegName {
    const char* name;
    EspIntegrity integrity;
};
constexpr IntegName kIntegrities[] = {{"hmac-sha1-96", EspIntegrity::hmac_sha1_96},
                                      {"hmac-sha256-128", EspIntegrity::hmac_sha256_128}};

const Setting* top(Ctx& ctx, const Setting& root, const char* key, bool want_group) {
    if (!root.exists(key)) return nullptr;
    const Setting& s = root[key];
    if (want_group ? !s.isGroup() : !is_list(s)) {
        ctx.error(line_of(s), "",
                  std::string("'") + key + "' must be " + (want_group ? "a group { ... }" : "a list ( ... )") +
                      ", not " + type_name(s));
        return nullptr;
    }
    return &s;
}

}  // namespace

void load_transform_sets(Ctx& ctx, const Setting& root, Config& cfg) {
    const Setting* list = top(ctx, root, "transform-sets", false);
    if (!list) return;
    std::map<std::string, int> seen;
    for (int i = 0; i < list->getLength(); ++i) {
        const Setting& e = (*list)[i];
        if (!e.isGroup()) {
            ctx.error(line_of(e), "transform-set " + std::to_string(i + 1),
                      std::string("must be a group { ... }, not ") + type_name(e));
            continue;
        }
        Group g(ctx, e, "transform-set " + std::to_string(i + 1), {"name", "esp", "integrity"});
        TransformSet ts;
        ts.line = g.line();
        bool ok = true;
        if (auto n = g.string("name", true)) {
            ts.name = *n;
            ctx.declared["transform-set"].insert(ts.name);
            g.set_where("transform-set '" + ts.name + "'");
            if (n->empty()) {
                g.error("name", "'name' must not be empty");
                ok = false;
            } else if (auto [it, fresh] = seen.emplace(ts.name, g.line("name")); !fresh) {
                g.error("name", "duplicate transform-set name (first defined at line " +
                                    std::to_string(it->second) + ")");
                ok = false;
            }
        } else {
            ok = false;
        }
        auto esp = g.choice("esp", true, {"aes-gcm-128", "aes-gcm-256", "aes-cbc-128", "aes-cbc-256"});
        if (esp) {
            for (const auto& c : kCiphers)
                if (*esp == c.name) ts.cipher = c.cipher;
        } else {
            ok = false;
        }
        auto integ = g.choice("integrity", false, {"hmac-sha1-96", "hmac-sha256-128", "none"});
        if (g.has("integrity") && !integ) ok = false;
        if (integ)
            for (const auto& c : kIntegrities)
                if (*integ == c.name) ts.integrity = c.integrity;
        if (esp) {
            if (is_aead(ts.cipher) && ts.integrity != EspIntegrity::none) {
                g.error("integrity", *esp + " is a combined-mode (AEAD) cipher: 'integrity' must not be set");
                ok = false;
            } else if (!is_aead(ts.cipher) && ts.integrity == EspIntegrity::none) {
                g.error(g.has("integrity") ? "integrity" : "esp",
                        *esp + " requires 'integrity' (hmac-sha1-96 or hmac-sha256-128)");
                ok = false;
            }
        }
        if (ok) cfg.transform_sets.push_back(std::move(ts));
    }
}

void load_ike(Ctx& ctx, const Setting& root, Config& cfg) {
    const Setting* ike = top(ctx, root, "ike", true);
    if (!ike) return;
    Group g(ctx, *ike, "ike", {"proposals", "keys", "dpd", "lifetime"});
    cfg.ike.line = g.line();
    if (auto l = g.integer("lifetime", false, 60, 86400)) cfg.ike.ike_lifetime_s = static_cast<uint32_t>(*l);

    if (const Setting* props = g.list("proposals", false)) {
        std::map<std::string, int> seen;
        for (int i = 0; i < props->getLength(); ++i) {
            const Setting& e = (*props)[i];
            const std::string where = "ike proposal " + std::to_string(i + 1);
            if (!e.isGroup()) {
                ctx.error(line_of(e), where, std::string("must be a group { ... }, not ") + type_name(e));
                continue;
            }
            Group pg(ctx, e, where, {"name", "encryption", "integrity", "prf", "group"});
            IkeProposal p;
            p.line = pg.line();
            bool ok = true;
            if (auto n = pg.string("name", true)) {
                p.name = *n;
                pg.set_where("ike proposal '" + p.name + "'");
                if (auto [it, fresh] = seen.emplace(p.name, pg.line("name")); !fresh) {
                    pg.error("name", "duplicate proposal name (first defined at line " +
                                         std::to_string(it->second) + ")");
                    ok = false;
                }
            } else {
                ok = false;
            }
            auto enc = pg.choice("encryption", true, {"aes128", "aes256", "aes128gcm16", "aes256gcm16"});
            if (enc)
                p.encryption = *enc;
            else
                ok = false;
            auto integ = pg.choice("integrity", false, {"sha1", "sha256", "sha384", "sha512"});
            if (pg.has("integrity") && !integ) ok = false;
            if (integ) p.integrity = *integ;
            auto prf = pg.choice("prf", false, {"sha1", "sha256", "sha384", "sha512"});
            if (pg.has("prf") && !prf) ok = false;
            if (enc) {
                const bool gcm = enc->find("gcm") != std::string::npos;
                if (gcm && integ) {
                    pg.error("integrity", *enc + " is a combined-mode cipher: 'integrity' must not be set");
                    ok = false;
                } else if (!gcm && !integ && !pg.has("integrity")) {
                    pg.error("encryption", *enc + " requires 'integrity' (sha1, sha256, sha384 or sha512)");
                    ok = false;
                }
                p.prf = prf ? *prf : (integ ? *integ : std::string("sha256"));
            }
            if (pg.has("group")) {
                auto grp = pg.integer("group", false, 0, 1000);
                if (!grp) {
                    ok = false;
                } else if (*grp != 14 && *grp != 15 && *grp != 19 && *grp != 20 && *grp != 21) {
                    pg.error("group", "DH group " + std::to_string(*grp) +
                                          " is not supported (use 14, 15, 19, 20 or 21)");
                    ok = false;
                } else {
                    p.dh_group = static_cast<int>(*grp);
                }
            }
            if (ok) cfg.ike.proposals.push_back(std::move(p));
        }
    }

    if (const Setting* keys = g.list("keys", false)) {
        std::map<std::string, int> seen;
        for (int i = 0; i < keys->getLength(); ++i) {
            const Setting& e = (*keys)[i];
            const std::string where = "ike key " + std::to_string(i + 1);
            if (!e.isGroup()) {
                ctx.error(line_of(e), where, std::string("must be a group { ... }, not ") + type_name(e));
                continue;
            }
            Group kg(ctx, e, where, {"peer", "secret", "secret-hex"});
            PresharedKey k;
            k.line = kg.line();
            bool ok = true;
            if (auto peer = kg.string("peer", true)) {
                k.peer = *peer;
                kg.set_where("ike key for peer '" + k.peer + "'");
                if (!parse_ipv4(*peer) && !valid_hostname(*peer)) {
                    kg.error("peer", "'" + *peer + "' is neither an IP address nor a host name");
                    ok = false;
                } else if (auto [it, fresh] = seen.emplace(*peer, kg.line("peer")); !fresh) {
                    kg.error("peer", "duplicate key for this peer (first defined at line " +
                                         std::to_string(it->second) + ")");
                    ok = false;
                }
            } else {
                ok = false;
            }
            const bool text = kg.has("secret"), hex = kg.has("secret-hex");
            if (text == hex) {
                ctx.error(kg.line(), kg.where(),
                          text ? "set either 'secret' or 'secret-hex', not both"
                               : "missing required setting 'secret' (or 'secret-hex')");
                ok = false;
            } else if (text) {
                if (auto s = kg.string("secret", true)) {
                    if (s->empty()) {
                        kg.error("secret", "'secret' must not be empty");
                        ok = false;
                    } else {
                        k.secret = Secret(std::span(reinterpret_cast<const uint8_t*>(s->data()), s->size()));
                    }
                    std::fill(s->begin(), s->end(), '\0');
                } else {
                    ok = false;
                }
            } else if (auto s = kg.string("secret-hex", true)) {
                std::string why;
                auto bytes = parse_hex(*s, why);
                std::fill(s->begin(), s->end(), '\0');
                if (!bytes) {
                    kg.error("secret-hex", "'secret-hex' " + why);
                    ok = false;
                } else {
                    k.secret = Secret(*bytes);
                    volatile uint8_t* p = bytes->data();
                    for (size_t b = 0; b < bytes->size(); ++b) p[b] = 0;
                }
            } else {
                ok = false;
            }
            if (ok) cfg.ike.keys.push_back(std::move(k));
        }
    }

    if (const Setting* dpd = g.group("dpd", false)) {
        Group dg(ctx, *dpd, "ike dpd", {"interval", "retry", "mode"});
        cfg.ike.dpd.enabled = true;
        cfg.ike.dpd.line = dg.line();
        if (auto v = dg.integer("interval", false, 10, 3600)) cfg.ike.dpd.interval_s = static_cast<uint32_t>(*v);
        if (auto v = dg.integer("retry", false, 2, 60)) cfg.ike.dpd.retry_s = static_cast<uint32_t>(*v);
        if (auto m = dg.choice("mode", false, {"periodic", "on-demand"}))
            cfg.ike.dpd.mode = *m == "periodic" ? DpdMode::periodic : DpdMode::on_demand;
    }
}

void load_ipsec(Ctx& ctx, const Setting& root, Config& cfg) {
    const Setting* ipsec = top(ctx, root, "ipsec", true);
    if (!ipsec) return;
    Group g(ctx, *ipsec, "ipsec", {"sa-lifetime", "sa-lifetime-kb", "idle-time", "replay-window"});
    cfg.ipsec.line = g.line();
    if (auto v = g.integer("sa-lifetime", false, 120, 86400)) cfg.ipsec.sa_lifetime_s = static_cast<uint32_t>(*v);
    if (auto v = g.integer("sa-lifetime-kb", false, 2560, 4294967295LL)) cfg.ipsec.sa_lifetime_kb = static_cast<uint64_t>(*v);
    if (const Setting* it = g.get("idle-time")) {
        // Spec: "You cannot configure the capability globally for all crypto maps."
        if (it->getType() == Setting::TypeString) {
            const auto words = split_words(static_cast<const char*>(*it));
            if (std::find(words.begin(), words.end(), "default") != words.end())
                g.error("idle-time",
                        "'default' is only valid on a crypto map entry's idle-time: the default-peer idle "
                        "timer cannot be configured globally for all crypto maps");
            else
                g.error("idle-time", "'idle-time' must be an integer (seconds)");
        } else if (auto v = as_integer(*it)) {
            if (*v < 60 || *v > 86400)
                g.error("idle-time", "idle-time must be 60 to 86400 seconds (got " + std::to_string(*v) + ")");
            else
                cfg.ipsec.idle_time_s = static_cast<uint32_t>(*v);
        } else {
            g.error("idle-time", std::string("'idle-time' must be an integer, not ") + type_name(*it));
        }
    }
    if (auto v = g.integer("replay-window", false, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max())) {
        if (!valid_replay_window(*v))
            g.error("replay-window",
                    "replay-window must be 64 to 4096 and a multiple of 64 (got " + std::to_string(*v) + ")");
        else
            cfg.ipsec.replay_window = static_cast<uint16_t>(*v);
    }
}

}  // namespace peregrine::config::detail
