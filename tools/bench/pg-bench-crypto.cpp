// tools/bench/pg-bench-crypto.cpp - the raw IPsec-MB ceiling through Peregrine's own
// crypto layer (crypto::Engine, burst API, one core): how many ESP packets per second
// one worker could encrypt or decrypt if it did nothing else.
//
//   pg-bench-crypto [--transforms aes128-gcm16,aes128-sha256] [--frames 64,512,1420,imix]
//                   [--seconds S] [--burst N]
//
// For each transform, direction and plaintext L2 frame size F, the ESP payload that the
// cipher really processes is the inner IPv4 packet (F - 14 bytes) plus padding and the
// 2-byte trailer, aligned as RFC 4303 asks (GCM: 4 bytes, CBC: the 16-byte block) --
// exactly what the data path encrypts for that frame. A burst of N buffers of that
// size is encrypted (or decrypted) in a loop for S seconds. Decrypt runs on valid
// ciphertext in the first round; later rounds fail the ICV check after doing the
// same work (the tag is computed and compared either way). One JSON object per line:
//   {"kind": "crypto", "transform": ..., "dir": "encrypt", "frame": F,
//    "payload": P, "mpps": ..., "gbps": ..., "arch": ...}
// gbps counts payload bits. Used by tools/bench/run for the crypto ceiling.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/esp_transform.hpp"

using namespace peregrine::crypto;

namespace {

constexpr size_t kEspHdr = 8;  // SPI + sequence number

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos <= s.size()) {
        const size_t comma = s.find(',', pos);
        const size_t end = comma == std::string::npos ? s.size() : comma;
        if (end > pos) out.push_back(s.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

// ESP payload length (inner packet + padding + pad length + next header) for a frame.
uint32_t payload_len(const TransformInfo& ti, uint32_t frame) {
    const uint32_t inner = frame - 14;
    const uint32_t a = ti.pad_align;
    return (inner + 2 + a - 1) / a * a;
}

struct Result {
    double mpps = 0;
    bool first_round_ok = false;
};

// lens: the ESP payload length of each op of the burst (all equal for one frame size).
Result measure(Engine& eng, const KeySchedule& keys, const std::vector<uint32_t>& lens, bool encrypt,
               double seconds) {
    const TransformInfo& ti = info(keys.transform());
    const auto burst = uint32_t(lens.size());
    std::vector<std::vector<uint8_t>> bufs(burst);
    std::vector<EspOp> ops(burst);
    std::vector<OpStatus> st(burst);
    for (uint32_t i = 0; i < burst; ++i) {
        const uint32_t len = lens[i];
        const size_t buf_len = kEspHdr + ti.iv_len + len + ti.icv_len;
        bufs[i].resize(buf_len);
        uint8_t* p = bufs[i].data();
        for (size_t j = 0; j < buf_len; ++j) p[j] = uint8_t(i + j);
        ops[i] = EspOp{&keys,
                       p,
                       p + kEspHdr,
                       p + kEspHdr + ti.iv_len,
                       len,
                       0,
                       p + kEspHdr + ti.iv_len + len,
                       false,
                       false};
    }
    Result r;
    // Encrypt once first: decrypt then starts from valid ciphertext and ICVs.
    r.first_round_ok = eng.encrypt_burst(ops, st) == burst;
    if (!encrypt) r.first_round_ok = r.first_round_ok && eng.decrypt_burst(ops, st) == burst;
    uint64_t n = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
        for (int round = 0; round < 64; ++round) {
            if (encrypt)
                eng.encrypt_burst(ops, st);
            else
                eng.decrypt_burst(ops, st);
            n += burst;
        }
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (elapsed < seconds);
    r.mpps = double(n) / elapsed / 1e6;
    return r;
}

int usage() {
    std::fprintf(stderr,
                 "usage: pg-bench-crypto [--transforms T1,T2] [--frames F1,F2] [--seconds S] "
                 "[--burst N]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> tnames = {"aes128-gcm16", "aes128-sha256"};
    std::vector<std::string> frames = {"64", "512", "1420"};
    double seconds = 1.0;
    uint32_t burst = 32;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) return usage();
        const std::string v = argv[++i];
        if (a == "--transforms")
            tnames = split(v);
        else if (a == "--frames")
            frames = split(v);
        else if (a == "--seconds")
            seconds = std::atof(v.c_str());
        else if (a == "--burst")
            burst = uint32_t(std::atoi(v.c_str()));
        else
            return usage();
    }
    if (seconds <= 0 || burst == 0 || burst > 1024) return usage();

    auto eng = Engine::create();
    if (!eng) {
        std::fprintf(stderr, "pg-bench-crypto: IPsec-MB engine unavailable\n");
        return 1;
    }
    int failures = 0;
    for (const auto& tn : tnames) {
        const auto t = transform_from_name(tn);
        if (!t) {
            std::fprintf(stderr, "pg-bench-crypto: unknown transform '%s'\n", tn.c_str());
            return 2;
        }
        const TransformInfo& ti = info(*t);
        const std::vector<uint8_t> enc(enc_keymat_len(*t), 0x2b);
        const std::vector<uint8_t> auth(ti.auth_key_len, 0x01);
        auto ks = KeySchedule::create(*t, enc, auth);
        if (!ks.keys) {
            std::fprintf(stderr, "pg-bench-crypto: key schedule for %s failed: %.*s\n", tn.c_str(),
                         int(key_error_name(ks.error).size()), key_error_name(ks.error).data());
            return 1;
        }
        for (const auto& fs : frames) {
            // "imix": bursts that mix sizes in the order tools/mkpcap.py writes them
            // (7:4:1 of 64, 570 and 1436-byte frames, 12-frame pattern), so the
            // multi-buffer lanes see what the data path sees on the IMIX pcap.
            std::vector<uint32_t> lens;
            std::string frame_json;
            if (fs == "imix") {
                static constexpr uint32_t kPattern[12] = {64, 570, 64, 1436, 64, 570, 64, 64, 570, 64, 570, 64};
                for (uint32_t i = 0; i < burst; ++i) lens.push_back(payload_len(ti, kPattern[i % 12]));
                frame_json = "\"imix\"";
            } else {
                const uint32_t frame = uint32_t(std::atoi(fs.c_str()));
                if (frame < 60 || frame > 9014) {
                    std::fprintf(stderr, "pg-bench-crypto: bad frame size '%s'\n", fs.c_str());
                    return 2;
                }
                lens.assign(burst, payload_len(ti, frame));
                frame_json = std::to_string(frame);
            }
            uint64_t bytes = 0;
            for (const uint32_t l : lens) bytes += l;
            const double mean_len = double(bytes) / double(lens.size());
            for (const bool encrypt : {true, false}) {
                const Result r = measure(*eng, *ks.keys, lens, encrypt, seconds);
                if (!r.first_round_ok) ++failures;
                std::printf(
                    "{\"kind\": \"crypto\", \"transform\": \"%s\", \"dir\": \"%s\", \"frame\": %s, "
                    "\"payload\": %.0f, \"burst\": %u, \"mpps\": %.4f, \"gbps\": %.3f, \"arch\": "
                    "\"%.*s\", \"ok\": %s}\n",
                    tn.c_str(), encrypt ? "encrypt" : "decrypt", frame_json.c_str(), mean_len, burst, r.mpps,
                    r.mpps * mean_len * 8 / 1e3, int(eng->arch_name().size()), eng->arch_name().data(),
                    r.first_round_ok ? "true" : "false");
                std::fflush(stdout);
            }
        }
    }
    return failures ? 1 : 0;
}
