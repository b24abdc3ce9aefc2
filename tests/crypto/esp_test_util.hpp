// tests/crypto/esp_test_util.hpp - helpers shared by the ESP crypto and codec tests.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "crypto/esp_transform.hpp"

namespace pgtest::esp {

inline std::vector<uint8_t> hex(std::string_view s) {
    std::vector<uint8_t> out;
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    int hi = -1;
    for (char c : s) {
        const int v = nib(c);
        if (v < 0) continue;  // allow spaces between groups
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(uint8_t(hi << 4 | v));
            hi = -1;
        }
    }
    return out;
}

// Deterministic test keying material (never used outside tests).
inline std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7);
    return v;
}

// One engine per submission API, created on first use (a test process = one "worker").
inline peregrine::crypto::Engine& engine(peregrine::crypto::MbApi api = peregrine::crypto::MbApi::job) {
    static std::unique_ptr<peregrine::crypto::Engine> e[2];
    auto& slot = e[api == peregrine::crypto::MbApi::job ? 0 : 1];
    if (!slot) slot = peregrine::crypto::Engine::create({api, peregrine::crypto::MbArch::automatic, true});
    return *slot;
}

inline std::unique_ptr<peregrine::crypto::KeySchedule> keys_for(peregrine::crypto::Transform t,
                                                         uint8_t seed = 1) {
    const auto& ti = peregrine::crypto::info(t);
    auto enc = pattern(peregrine::crypto::enc_keymat_len(t), seed);
    auto auth = pattern(ti.auth_key_len, uint8_t(seed + 100));
    return peregrine::crypto::KeySchedule::create(t, enc, auth).keys;
}

}  // namespace pgtest::esp
