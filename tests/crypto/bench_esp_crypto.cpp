// tests/crypto/bench_esp_crypto.cpp - pg-bench-esp-crypto: IPsec-MB job API vs burst
// API for the ESP transforms, 64-byte and 1420-byte packets, bursts of 32.
//
//   pg-bench-esp-crypto [seconds-per-case]
//
// Prints Mpps and Gbit/s (payload) per transform, direction, size and API.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "crypto/esp_transform.hpp"
#include "tests/crypto/esp_test_util.hpp"

using namespace peregrine::crypto;

int main(int argc, char** argv) {
    const double secs = argc > 1 ? std::atof(argv[1]) : 0.3;
    constexpr uint32_t kBurst = 32;
    const Transform ts[] = {Transform::aes128_gcm16, Transform::aes256_gcm16,
                            Transform::aes128_cbc_hmac_sha1_96,
                            Transform::aes256_cbc_hmac_sha256_128};
    for (Transform t : ts) {
        auto ks = pgtest::esp::keys_for(t);
        const auto& ti = info(t);
        for (uint32_t size : {64u, 1420u}) {
            const uint32_t len = size - size % 16;  // keep CBC block-aligned
            for (int dir = 0; dir < 2; ++dir) {
                double mpps[2] = {};
                // Alternate the APIs several times and keep each one's best run, so
                // that noise from other processes hits both alike.
                for (int rep = 0; rep < 6; ++rep) {
                    const int api = rep % 2;
                    auto eng = Engine::create({api ? MbApi::burst : MbApi::job, MbArch::automatic});
                    std::vector<std::vector<uint8_t>> bufs(
                        kBurst, std::vector<uint8_t>(8 + 16 + len + 32, 1));
                    std::vector<EspOp> ops(kBurst);
                    std::vector<OpStatus> st(kBurst);
                    for (uint32_t i = 0; i < kBurst; ++i) {
                        uint8_t* p = bufs[i].data();
                        ops[i] = EspOp{ks.get(),
                                       p,
                                       p + 8,
                                       p + 8 + ti.iv_len,
                                       len,
                                       0,
                                       p + 8 + ti.iv_len + len,
                                       false,
                                       false};
                    }
                    eng->encrypt_burst(ops, st);  // decrypt measures valid ICVs
                    uint64_t n = 0;
                    const auto t0 = std::chrono::steady_clock::now();
                    double el = 0;
                    do {
                        for (int r = 0; r < 64; ++r) {
                            if (dir == 0)
                                eng->encrypt_burst(ops, st);
                            else
                                eng->decrypt_burst(ops, st);  // fails auth after round 1: same work
                            n += kBurst;
                        }
                        el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                                 .count();
                    } while (el < secs);
                    mpps[api] = std::max(mpps[api], double(n) / el / 1e6);
                }
                std::printf(
                    "%-14.*s %-7s %5u B  job %6.2f Mpps (%6.2f Gb/s)  burst %6.2f Mpps (%6.2f "
                    "Gb/s)  %s\n",
                    int(ti.name.size()), ti.name.data(), dir ? "decrypt" : "encrypt", size, mpps[0],
                    mpps[0] * len * 8 / 1e3, mpps[1], mpps[1] * len * 8 / 1e3,
                    mpps[1] > mpps[0] * 1.03
                        ? "burst faster"
                        : (mpps[0] > mpps[1] * 1.03 ? "job faster" : "~equal"));
            }
        }
    }
    return 0;
}
