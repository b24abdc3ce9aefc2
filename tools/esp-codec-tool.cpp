// tools/esp-codec-tool.cpp - pg-esp-codec-tool: run the data plane's ESP codec over
// pcap files, for interop tests against independent ESP implementations.
//
//   pg-esp-codec-tool encap|decap --transform NAME --enc-key HEX [--auth-key HEX]
//       --spi N --src A.B.C.D --dst A.B.C.D [--udp-encap] [--esn] [--seq N]
//       -i IN.pcap -o OUT.pcap
//
// encap: IN holds plaintext IPv4 packets (link type Ethernet, RAW or IPV4); OUT gets
//        ESP tunnel packets (LINKTYPE_RAW). --seq is the first sequence number (64-bit).
// decap: IN holds ESP (IP proto 50) or ESP-in-UDP (port 4500) packets; OUT gets the
//        inner packets (LINKTYPE_RAW). --seq is the first expected sequence number; the
//        high 32 bits with --esn are inferred as in RFC 4303 Appendix A2.
// --enc-key includes the 4-byte salt for GCM (RFC 4106 keying material). Keys are never
// printed. Dropped packets are reported on stderr as "packet N: REASON".
// Exit status: 0 all packets converted, 1 some dropped, 2 usage or I/O error.
#include <arpa/inet.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/esp_transform.hpp"
#include "dataplane/esp_codec.hpp"
#include "tools/pcap_io.hpp"

using namespace peregrine;

namespace {

constexpr size_t kBurst = 32;       // packets per codec call, like a worker's rx burst
constexpr uint32_t kRoom = 256;     // head/tailroom around each packet
constexpr uint64_t kWindow = 1024;  // ESN inference window (RFC 4303 A2), replay not checked

struct Options {
    bool encap = true;
    crypto::Transform transform{};
    bool have_transform = false;
    std::vector<uint8_t> enc_key, auth_key;
    uint32_t spi = 0;
    uint32_t src = 0, dst = 0;
    bool udp = false, esn = false;
    uint64_t seq = 1;
    std::string in, out;
};

int usage(const char* msg) {
    if (msg) std::fprintf(stderr, "pg-esp-codec-tool: %s\n", msg);
    std::fprintf(
        stderr,
        "usage: pg-esp-codec-tool encap|decap --transform NAME --enc-key HEX [--auth-key HEX]\n"
        "       --spi N --src A.B.C.D --dst A.B.C.D [--udp-encap] [--esn] [--seq N] -i IN -o OUT\n"
        "transforms:");
    for (const auto& t : crypto::kTransforms)
        std::fprintf(stderr, " %.*s", int(t.name.size()), t.name.data());
    std::fprintf(stderr, "\n");
    return 2;
}

bool parse_hex(std::string_view s, std::vector<uint8_t>& out) {
    if (s.starts_with("0x")) s.remove_prefix(2);
    if (s.size() % 2) return false;
    out.clear();
    for (size_t i = 0; i < s.size(); i += 2) {
        char buf[3] = {s[i], s[i + 1], 0};
        char* end = nullptr;
        const long v = std::strtol(buf, &end, 16);
        if (*end) return false;
        out.push_back(uint8_t(v));
    }
    return true;
}

bool parse_u64(const char* s, uint64_t& v) {
    char* end = nullptr;
    errno = 0;
    v = std::strtoull(s, &end, 0);
    return errno == 0 && end != s && *end == 0;
}

bool parse_ip(const char* s, uint32_t& v) {
    in_addr a{};
    if (inet_pton(AF_INET, s, &a) != 1) return false;
    v = ntohl(a.s_addr);
    return true;
}

int parse(int argc, char** argv, Options& o) {
    if (argc < 2) return usage(nullptr);
    const std::string_view mode = argv[1];
    if (mode == "encap")
        o.encap = true;
    else if (mode == "decap")
        o.encap = false;
    else
        return usage("first argument must be encap or decap");
    for (int i = 2; i < argc; ++i) {
        const std::string_view a = argv[i];
        auto val = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        if (a == "--udp-encap") {
            o.udp = true;
        } else if (a == "--esn") {
            o.esn = true;
        } else if (a == "--transform") {
            const char* v = val();
            auto t = v ? crypto::transform_from_name(v) : std::nullopt;
            if (!t) return usage("unknown --transform");
            o.transform = *t;
            o.have_transform = true;
        } else if (a == "--enc-key") {
            const char* v = val();
            if (!v || !parse_hex(v, o.enc_key))
                return usage("--enc-key needs an even number of hex digits");
        } else if (a == "--auth-key") {
            const char* v = val();
            if (!v || !parse_hex(v, o.auth_key))
                return usage("--auth-key needs an even number of hex digits");
        } else if (a == "--spi") {
            const char* v = val();
            uint64_t x = 0;
            if (!v || !parse_u64(v, x) || x > 0xffffffffu || x < 256)
                return usage("--spi must be 256..2^32-1");
            o.spi = uint32_t(x);
        } else if (a == "--seq") {
            const char* v = val();
            if (!v || !parse_u64(v, o.seq) || o.seq == 0)
                return usage("--seq must be a number >= 1");
        } else if (a == "--src") {
            const char* v = val();
            if (!v || !parse_ip(v, o.src)) return usage("--src must be an IPv4 address");
        } else if (a == "--dst") {
            const char* v = val();
            if (!v || !parse_ip(v, o.dst)) return usage("--dst must be an IPv4 address");
        } else if (a == "-i") {
            const char* v = val();
            if (!v) return usage("-i needs a file");
            o.in = v;
        } else if (a == "-o") {
            const char* v = val();
            if (!v) return usage("-o needs a file");
            o.out = v;
        } else {
            return usage(("unknown argument " + std::string(a)).c_str());
        }
    }
    if (!o.have_transform || o.spi == 0 || o.in.empty() || o.out.empty())
        return usage("--transform, --spi, -i and -o are required");
    if (o.encap && (o.src == 0 || o.dst == 0)) return usage("encap needs --src and --dst");
    if (!o.esn && o.seq > 0xffffffffu) return usage("--seq above 2^32-1 needs --esn");
    return 0;
}

struct Slot {
    std::vector<uint8_t> mem;
    dataplane::EspBuf buf{};
    uint32_t ts_sec = 0, ts_frac = 0;
    uint64_t index = 0;
};

// RFC 4303 Appendix A2.2: infer the high 32 bits from the low ones and the highest
// authenticated sequence number so far (top).
uint32_t infer_esn_hi(uint64_t top, uint32_t seq_lo) {
    const uint32_t tl = uint32_t(top), th = uint32_t(top >> 32);
    if (tl >= kWindow - 1) return seq_lo >= tl - (kWindow - 1) ? th : th + 1;
    return seq_lo >= tl - (kWindow - 1) ? th - 1 : th;  // unsigned wrap is intended
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (const int rc = parse(argc, argv, o); rc) return rc;
    auto ks = crypto::KeySchedule::create(o.transform, o.enc_key, o.auth_key);
    if (!ks.keys) {
        std::fprintf(
            stderr, "pg-esp-codec-tool: key setup failed: %.*s (expected enc %zu, auth %u bytes)\n",
            int(crypto::key_error_name(ks.error).size()), crypto::key_error_name(ks.error).data(),
            crypto::enc_keymat_len(o.transform), crypto::info(o.transform).auth_key_len);
        return 2;
    }
    auto eng = crypto::Engine::create();
    if (!eng) {
        std::fprintf(stderr, "pg-esp-codec-tool: cannot initialise IPsec-MB\n");
        return 2;
    }
    dataplane::EspSaConfig cfg;
    cfg.transform = o.transform;
    cfg.keys = ks.keys.get();
    cfg.spi = o.spi;
    cfg.esn = o.esn;
    cfg.udp_encap = o.udp;
    cfg.outer_src = o.src;
    cfg.outer_dst = o.dst;
    cfg.first_seq = o.seq;
    dataplane::EspSa sa;
    if (!dataplane::esp_sa_init(sa, cfg)) return 2;
    uint64_t top = o.seq - 1;  // highest authenticated sequence number (decap)

    std::string err;
    tools::PcapReader in;
    tools::PcapWriter out;
    if (!in.open(o.in, err) || !out.open(o.out, tools::kLinkRaw, err, in.nanosecond())) {
        std::fprintf(stderr, "pg-esp-codec-tool: %s\n", err.c_str());
        return 2;
    }
    std::map<std::string_view, uint64_t> drops;
    uint64_t n_in = 0, n_out = 0;
    std::vector<Slot> slots(kBurst);
    std::vector<dataplane::EspBuf*> burst;

    auto drop = [&](uint64_t index, std::string_view why) {
        std::fprintf(stderr, "packet %llu: %.*s\n", static_cast<unsigned long long>(index),
                     int(why.size()), why.data());
        ++drops[why];
    };
    auto flush = [&]() -> bool {
        if (burst.empty()) return true;
        if (o.encap)
            dataplane::esp_encap_burst(sa, *eng, burst);
        else
            dataplane::esp_decap_burst(*eng, burst);
        // Write in input order: good ones are burst[0..good) in order, failures after.
        std::vector<Slot*> order;
        for (auto& s : slots)
            if (s.index) order.push_back(&s);
        for (Slot* s : order) {
            if (s->buf.reason != dataplane::EspReason::ok) {
                drop(s->index, dataplane::esp_reason_name(s->buf.reason));
            } else {
                if (!o.encap) {  // advance the inference point
                    const uint64_t s64 = (uint64_t(s->buf.esn_hi) << 32) | uint32_t(s->buf.seq);
                    if (s64 > top) top = s64;
                }
                if (!out.write(s->ts_sec, s->ts_frac, std::span(s->buf.data, s->buf.len), err))
                    return false;
                ++n_out;
            }
            s->index = 0;
        }
        burst.clear();
        return true;
    };

    tools::PcapRecord rec;
    size_t used = 0;
    for (;;) {
        const auto st = in.next(rec, err);
        if (st == tools::PcapReader::Status::error) {
            std::fprintf(stderr, "pg-esp-codec-tool: %s\n", err.c_str());
            return 2;
        }
        if (st == tools::PcapReader::Status::eof) break;
        ++n_in;
        auto ip = tools::ipv4_in_frame(in.linktype(), rec.data);
        if (!ip) {
            drop(n_in, "not_ipv4");
            continue;
        }
        std::span<const uint8_t> body = *ip;
        if (!o.encap) {  // outer header: ESP or ESP-in-UDP/4500 (RFC 3948)
            const size_t hl = size_t(body[0] & 0x0f) * 4;
            if (body[9] == dataplane::kIpProtoEsp) {
                body = body.subspan(hl);
            } else if (body[9] == dataplane::kIpProtoUdp && body.size() >= hl + 8 &&
                       (body[hl + 2] << 8 | body[hl + 3]) == dataplane::kNatTPort) {
                body = body.subspan(hl + 8);
                if (body.size() >= 4 && body[0] == 0 && body[1] == 0 && body[2] == 0 &&
                    body[3] == 0) {
                    drop(n_in, "non_esp_marker");  // IKE on 4500: not ours
                    continue;
                }
            } else {
                drop(n_in, "not_esp");
                continue;
            }
        }
        Slot& s = slots[used++];
        s.mem.assign(kRoom + body.size() + kRoom, 0);
        std::memcpy(s.mem.data() + kRoom, body.data(), body.size());
        s.buf = dataplane::EspBuf{
            s.mem.data() + kRoom,    uint32_t(body.size()), kRoom, kRoom, &sa, 0, 0, 0,
            dataplane::EspReason::ok, nullptr};
        if (!o.encap && body.size() >= 8) {
            const uint32_t lo = dataplane::esp_peek_seq(s.buf.data);
            s.buf.esn_hi = o.esn ? infer_esn_hi(top, lo) : 0;
        }
        s.ts_sec = rec.ts_sec;
        s.ts_frac = rec.ts_frac;
        s.index = n_in;
        burst.push_back(&s.buf);
        if (used == kBurst) {
            if (!flush()) break;
            used = 0;
        }
    }
    if (!flush() || !out.close(err)) {
        std::fprintf(stderr, "pg-esp-codec-tool: %s\n", err.c_str());
        return 2;
    }
    uint64_t n_drop = 0;
    std::string summary;
    for (const auto& [why, n] : drops) {
        n_drop += n;
        summary += " " + std::string(why) + "=" + std::to_string(n);
    }
    std::printf("%s: %llu in, %llu out, %llu dropped%s\n", o.encap ? "encap" : "decap",
                static_cast<unsigned long long>(n_in), static_cast<unsigned long long>(n_out),
                static_cast<unsigned long long>(n_drop), summary.c_str());
    return n_drop ? 1 : 0;
}
