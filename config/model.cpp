// config/model.cpp - small helpers of the configuration model.
#include "config/model.hpp"

#include <cstdio>

namespace peregrine::config {

size_t cipher_key_bytes(EspCipher c) {
    switch (c) {
        case EspCipher::aes_gcm_128: return 16 + 4;  // key + salt (RFC 4106 8.1)
        case EspCipher::aes_gcm_256: return 32 + 4;
        case EspCipher::aes_cbc_128: return 16;
        case EspCipher::aes_cbc_256: return 32;
    }
    return 0;
}

size_t integrity_key_bytes(EspIntegrity i) {
    switch (i) {
        case EspIntegrity::none: return 0;
        case EspIntegrity::hmac_sha1_96: return 20;
        case EspIntegrity::hmac_sha256_128: return 32;
    }
    return 0;
}

bool is_aead(EspCipher c) { return c == EspCipher::aes_gcm_128 || c == EspCipher::aes_gcm_256; }

const char* to_string(EspCipher c) {
    switch (c) {
        case EspCipher::aes_gcm_128: return "aes-gcm-128";
        case EspCipher::aes_gcm_256: return "aes-gcm-256";
        case EspCipher::aes_cbc_128: return "aes-cbc-128";
        case EspCipher::aes_cbc_256: return "aes-cbc-256";
    }
    return "?";
}

const char* to_string(EspIntegrity i) {
    switch (i) {
        case EspIntegrity::none: return "none";
        case EspIntegrity::hmac_sha1_96: return "hmac-sha1-96";
        case EspIntegrity::hmac_sha256_128: return "hmac-sha256-128";
    }
    return "?";
}

const char* to_string(PortRole r) { return r == PortRole::inside ? "inside" : "outside"; }
const char* to_string(AceAction a) { return a == AceAction::permit ? "permit" : "deny"; }

const Port* Config::find_port(const std::string& name) const {
    for (const auto& p : ports)
        if (p.name == name) return &p;
    return nullptr;
}
const AccessList* Config::find_access_list(const std::string& name) const {
    for (const auto& a : access_lists)
        if (a.name == name) return &a;
    return nullptr;
}
const TransformSet* Config::find_transform_set(const std::string& name) const {
    for (const auto& t : transform_sets)
        if (t.name == name) return &t;
    return nullptr;
}

std::optional<uint32_t> parse_ipv4(const std::string& text) {
    uint32_t out = 0;
    size_t i = 0;
    for (int part = 0; part < 4; ++part) {
        if (i >= text.size() || text[i] < '0' || text[i] > '9') return std::nullopt;
        uint32_t v = 0;
        size_t digits = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
            v = v * 10 + uint32_t(text[i] - '0');
            if (++digits > 3 || v > 255) return std::nullopt;
            ++i;
        }
        if (digits > 1 && text[i - digits] == '0') return std::nullopt;  // no octal look-alikes
        out = (out << 8) | v;
        if (part < 3) {
            if (i >= text.size() || text[i] != '.') return std::nullopt;
            ++i;
        }
    }
    if (i != text.size()) return std::nullopt;
    return out;
}

std::string format_ipv4(uint32_t a) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
    return buf;
}

std::string format_prefix(const Ipv4Prefix& p) {
    return format_ipv4(p.addr) + "/" + std::to_string(p.len);
}

}  // namespace peregrine::config
