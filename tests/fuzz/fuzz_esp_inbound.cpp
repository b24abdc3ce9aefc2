// tests/fuzz/fuzz_esp_inbound.cpp - libFuzzer target for the data plane's inbound path:
// arbitrary bytes through a whole Runtime (parser, reassembly, SA lookup, anti-replay,
// ESP decapsulation, inner-packet policy, routing, TTL) with fixed SAs, run synchronously
// by Runtime::run_inline() on worker 0's pipeline (the workers are never started).
//
// Setup (LLVMFuzzerInitialize): EAL (--no-huge, 256 MB, no PCI, no telemetry, no shared
// config) and a Runtime with two ring ports (tests/dataplane_flow/ring_port.hpp):
//   inside0  192.0.2.1/24     host 192.0.2.10 (neighbour known)
//   outside0 198.51.100.1/24  peer 198.51.100.2 (neighbour known); 203.0.113.0/24 via peer
//   crypto map entry 0: permit 192.0.2.0/24 -> 203.0.113.0/24, outbound SA kSpiOut
//   inbound SA A  SPI kSpiA  aes128-gcm16, plain ESP
//   inbound SA B  SPI kSpiB  aes128-cbc-hmac-sha1-96, ESN, UDP-encapsulated
// Both inbound SAs are removed and installed again before every input, so an input
// always meets fresh replay windows (reproducible crashes). The IPv4 reassembly table
// is the one state an input can leave behind (fragments wait there until they time out).
//
// Input: a sequence of records, each  ctl(1) | length(2, big-endian) | body(length)
// (the last body is cut at the end of the input; an input shorter than a record header
// is one raw frame). ctl:
//   bits 0-1  mode
//             0 raw: the body is a whole Ethernet frame
//             1 ESP: Ethernet/IPv4 [/UDP 4500] from the peer to outside0, SPI of the
//               selected SA, then the body (sequence number, IV, ciphertext, ICV)
//             2 sealed: body = seq(8: ESN-high, low) | next header(1) | inner packet;
//               the target encrypts it correctly with the peer's copy of the selected
//               SA (padding 1, 2, 3, ...) and frames it as in mode 1
//             3 sealed raw trailer: body = seq(8) | plaintext with its own padding,
//               pad length and next header (zero-extended to the cipher block)
//   bit 2     SA B instead of SA A (modes 1-3)
//   bit 3     UDP-4500 encapsulation (modes 1-3; the SA lookup is by SPI alone)
//   bit 4     mode 0: the frame arrives on inside0 (else outside0); modes 2-3: fix the
//             inner IPv4 header's total length and checksum
//   bit 5     mode 1: SPI = the body's first 4 bytes instead of the SA's
// Consecutive records of one port go through run_inline() as one burst.
//
// Checks (abort() = a finding), after every burst:
//   * counters balance: rx + injected + fragments
//       == tx + drops + punted + reassembly_held + reassembly_merged;
//   * every frame sent is one well-formed single-segment Ethernet/IPv4 frame (the parser
//     accepts it, its length is exactly the IPv4 total length), from the port's MAC to a
//     known neighbour;
//   * from an outside0 burst, no more frames reach inside0 carrying traffic the crypto ACL
//     protects (203.0.113.0/24 -> 192.0.2.0/24) than the burst decrypted;
//   * from an inside0 burst, nothing protected leaves outside0 in clear, and every ESP
//     frame there decrypts with the peer's copy of the outbound SA.
#include "tests/fuzz/fuzz_esp_inbound.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/esp_transform.hpp"
#include "dataplane/esp_codec.hpp"
#include "dataplane/pkt_parse.hpp"
#include "tests/dataplane_flow/ring_port.hpp"

using namespace peregrine;
using namespace peregrine::dataplane;

namespace {

constexpr uint32_t kInside = RTE_IPV4(192, 0, 2, 1);
constexpr uint32_t kHost = RTE_IPV4(192, 0, 2, 10);
constexpr uint32_t kOutside = RTE_IPV4(198, 51, 100, 1);
constexpr uint32_t kPeer = RTE_IPV4(198, 51, 100, 2);
constexpr uint32_t kSpiA = 0x0000A001, kSpiB = 0x0000B002, kSpiOut = 0x0000C003;
constexpr crypto::Transform kTransformA = crypto::Transform::aes128_gcm16;
constexpr crypto::Transform kTransformB = crypto::Transform::aes128_cbc_hmac_sha1_96;
constexpr crypto::Transform kTransformOut = crypto::Transform::aes256_gcm16;
constexpr rte_ether_addr kHostMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}};
constexpr rte_ether_addr kPeerMac{{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02}};
constexpr uint16_t kInPort = 0, kOutPort = 1;
constexpr size_t kMaxRecords = 64;
constexpr size_t kMaxFrame = 2048 - 64;  // fits one mbuf (2048-byte data room) with room to spare

// Keying material (the seed generator, tests/fuzz/gen_esp_inbound_seeds.py, has the same).
std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(seed + i * 7);
    return v;
}
std::vector<uint8_t> enc_key(crypto::Transform t, uint8_t seed) {
    return pattern(crypto::enc_keymat_len(t), seed);
}
std::vector<uint8_t> auth_key(crypto::Transform t, uint8_t seed) {
    return pattern(crypto::info(t).auth_key_len, uint8_t(seed + 100));
}
constexpr uint8_t kSeedA = 0x11, kSeedB = 0x22, kSeedOut = 0x33;

struct PeerSa {  // the peer's copy of an SA: keys + codec state
    crypto::Transform transform{};
    uint32_t spi = 0;
    bool esn = false;
    std::unique_ptr<crypto::KeySchedule> keys;
    EspSa esp{};
};

struct Target {
    pgtest::RingPort in, out;  // destroyed after rt (declared first)
    std::unique_ptr<Runtime> rt;
    std::unique_ptr<crypto::Engine> eng;
    PeerSa a, b, outbound;
    rte_ether_addr mac[2]{};
    uint64_t out_inside = 0, out_outside = 0;
};
std::unique_ptr<Target> g;  // destroyed by eal_teardown(), before the EAL
std::string g_runtime_dir;

[[noreturn]] void finding(const char* what, uint64_t x = 0, uint64_t y = 0) {
    std::fprintf(stderr, "fuzz_esp_inbound: %s (%llu, %llu)\n", what, (unsigned long long)x,
                 (unsigned long long)y);
    std::abort();
}

void eal_teardown() {
    pgfuzz::esp_inbound::teardown();
    rte_eal_cleanup();
    const std::filesystem::path dir(g_runtime_dir);
    if (dir.filename().string().rfind("pgfz-esp-", 0) == 0) {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
}

bool eal_up() {
    cpu_set_t set;
    int cpu = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        while (cpu < CPU_SETSIZE && !CPU_ISSET(cpu, &set)) ++cpu;
    const std::string c = std::to_string(cpu);
    // lcore 1 only exists because the Runtime wants a worker lcore; it is never launched.
    std::vector<std::string> args = {"fuzz_esp_inbound", "--no-huge", "--no-pci", "-m", "256",
                                     "--file-prefix", "pgfz-esp-" + std::to_string(getpid()),
                                     "--no-shconf", "--no-telemetry", "--lcores",
                                     "0@" + c + ",1@" + c, "--log-level", "*:error"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (rte_eal_init(int(args.size()), argv.data()) < 0) {
        std::fprintf(stderr, "fuzz_esp_inbound: rte_eal_init: %s\n", rte_strerror(rte_errno));
        return false;
    }
    g_runtime_dir = rte_eal_get_runtime_dir();
    std::atexit(eal_teardown);
    return true;
}

SaSpec sa_spec(crypto::Transform t, uint8_t seed, uint32_t spi, bool esn, bool udp) {
    SaSpec s;
    s.transform = t;
    s.enc_key = enc_key(t, seed);
    s.auth_key = auth_key(t, seed);
    s.spi = spi;
    s.local = kOutside;
    s.peer = kPeer;
    s.esn = esn;
    s.udp_encap = udp;
    s.replay_window = 64;
    s.entry = 0;
    return s;
}

bool peer_sa(PeerSa& p, crypto::Transform t, uint8_t seed, uint32_t spi, bool esn, bool outbound_copy) {
    p.transform = t;
    p.spi = spi;
    p.esn = esn;
    p.keys = crypto::KeySchedule::create(t, enc_key(t, seed), auth_key(t, seed)).keys;
    if (!p.keys) return false;
    EspSaConfig c;
    c.transform = t;
    c.keys = p.keys.get();
    c.spi = spi;
    c.esn = esn;
    c.outer_src = outbound_copy ? kOutside : kPeer;
    c.outer_dst = outbound_copy ? kPeer : kOutside;
    return esp_sa_init(p.esp, c);
}

bool setup() {
    auto t = std::make_unique<Target>();
    if (!t->in.create("fz_in", 1024, 1024) || !t->out.create("fz_out", 1024, 1024)) return false;
    DataplaneSpec spec;
    spec.ports = {{"inside0", t->in.name(), true, kInside, 24, 1500},
                  {"outside0", t->out.name(), false, kOutside, 24, 1500}};
    spec.routes = {{RTE_IPV4(203, 0, 113, 0), 24, kOutPort, kPeer}};
    MapEntrySpec e;
    e.seq = 10;
    AceSpec ace;
    ace.src = {RTE_IPV4(192, 0, 2, 0), 24};
    ace.dst = {RTE_IPV4(203, 0, 113, 0), 24};
    e.aces.push_back(ace);
    spec.entries = {e};
    spec.entry_port = {kOutPort};
    spec.worker_lcores = {rte_get_next_lcore(-1, 1, 0)};
    spec.mbufs = 2047;
    std::string err;
    t->rt = Runtime::create(spec, err);
    if (!t->rt) {
        std::fprintf(stderr, "fuzz_esp_inbound: Runtime::create: %s\n", err.c_str());
        return false;
    }
    t->rt->learn_neighbour(kHost, kInPort, kHostMac);
    t->rt->learn_neighbour(kPeer, kOutPort, kPeerMac);
    if (t->rt->set_active(0, sa_spec(kTransformOut, kSeedOut, kSpiOut, false, false), err) < 0) {
        std::fprintf(stderr, "fuzz_esp_inbound: set_active: %s\n", err.c_str());
        return false;
    }
    t->eng = crypto::Engine::create();
    if (!t->eng || !peer_sa(t->a, kTransformA, kSeedA, kSpiA, false, false) ||
        !peer_sa(t->b, kTransformB, kSeedB, kSpiB, true, false) ||
        !peer_sa(t->outbound, kTransformOut, kSeedOut, kSpiOut, false, true))
        return false;
    for (uint16_t p : {kInPort, kOutPort}) t->mac[p] = t->rt->ports()[p].mac;
    g = std::move(t);
    return true;
}

// Fresh inbound SAs (replay windows) for every input.
void reset_inbound_sas() {
    std::string err;
    g->rt->remove_inbound_sa(kSpiA);
    g->rt->remove_inbound_sa(kSpiB);
    if (g->rt->add_inbound_sa(sa_spec(kTransformA, kSeedA, kSpiA, false, false), err) < 0 ||
        g->rt->add_inbound_sa(sa_spec(kTransformB, kSeedB, kSpiB, true, true), err) < 0) {
        std::fprintf(stderr, "fuzz_esp_inbound: add_inbound_sa: %s\n", err.c_str());
        std::abort();
    }
    g->rt->housekeeping();  // no worker is online: everything retired is reclaimed now
}

// --- building frames -----------------------------------------------------------------

void put32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24), p[1] = uint8_t(v >> 16), p[2] = uint8_t(v >> 8), p[3] = uint8_t(v);
}

// Ethernet/IPv4[/UDP 4500] from the peer to outside0 around `esp` (ESP header first).
std::vector<uint8_t> frame_from_peer(const std::vector<uint8_t>& esp, bool udp) {
    const size_t l4 = udp ? 8 : 0;
    std::vector<uint8_t> f(14 + 20 + l4 + esp.size());
    std::memcpy(f.data(), g->mac[kOutPort].addr_bytes, 6);
    std::memcpy(f.data() + 6, kPeerMac.addr_bytes, 6);
    f[12] = 0x08;
    uint8_t* ip = f.data() + 14;
    const size_t total = 20 + l4 + esp.size();
    ip[0] = 0x45;
    ip[2] = uint8_t(total >> 8), ip[3] = uint8_t(total);
    ip[8] = 64;
    ip[9] = udp ? 17 : 50;
    put32(ip + 12, kPeer);
    put32(ip + 16, kOutside);
    reinterpret_cast<rte_ipv4_hdr*>(ip)->hdr_checksum = rte_ipv4_cksum(reinterpret_cast<rte_ipv4_hdr*>(ip));
    if (udp) {
        uint8_t* u = ip + 20;
        u[0] = 0x11, u[1] = 0x94, u[2] = 0x11, u[3] = 0x94;  // 4500 -> 4500
        u[4] = uint8_t((8 + esp.size()) >> 8), u[5] = uint8_t(8 + esp.size());
    }
    std::memcpy(ip + 20 + l4, esp.data(), esp.size());
    return f;
}

// Modes 2 and 3: encrypt `plain` (complete ESP payload: inner || padding || pad length ||
// next header) under the peer's copy of sa. Empty on failure (the engine refused it).
std::vector<uint8_t> seal(const PeerSa& sa, uint64_t seq, std::vector<uint8_t> plain) {
    const auto& ti = crypto::info(sa.transform);
    if (ti.block_size > 1) {  // CBC: a non-empty multiple of the block
        const size_t n = std::max<size_t>(ti.block_size, (plain.size() + ti.block_size - 1) / ti.block_size * ti.block_size);
        plain.resize(n, 0);
    }
    std::vector<uint8_t> esp(8 + ti.iv_len + plain.size() + ti.icv_len);
    put32(esp.data(), sa.spi);
    put32(esp.data() + 4, uint32_t(seq));
    uint8_t* iv = esp.data() + 8;
    for (size_t i = 0; i < ti.iv_len; ++i) iv[i] = uint8_t(seq >> (8 * (i % 8))) ^ uint8_t(i * 29);
    uint8_t* payload = iv + ti.iv_len;
    if (!plain.empty()) std::memcpy(payload, plain.data(), plain.size());
    crypto::EspOp op{};
    op.keys = sa.keys.get();
    op.esp_hdr = esp.data();
    op.iv = iv;
    op.payload = payload;
    op.len = uint32_t(plain.size());
    op.esn_hi = uint32_t(seq >> 32);
    op.icv = payload + plain.size();
    op.esn = sa.esn;
    op.iv_given = true;  // deterministic frames
    crypto::OpStatus st[1];
    if (g->eng->encrypt_burst(std::span<crypto::EspOp>(&op, 1), st) != 1) return {};
    return esp;
}

void fix_inner(std::vector<uint8_t>& inner) {
    if (inner.size() < 20 || (inner[0] >> 4) != 4) return;
    const size_t ihl = size_t(inner[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > inner.size()) return;
    inner[2] = uint8_t(inner.size() >> 8), inner[3] = uint8_t(inner.size());
    inner[10] = inner[11] = 0;
    const uint16_t ck = ipv4_header_checksum(inner.data(), ihl);
    inner[10] = uint8_t(ck >> 8), inner[11] = uint8_t(ck);
}

// One record -> one frame, and the port it arrives on. False: nothing to send.
bool build(uint8_t ctl, const uint8_t* body, size_t len, std::vector<uint8_t>& frame, uint16_t& port) {
    const unsigned mode = ctl & 3;
    const PeerSa& sa = (ctl & 4) ? g->b : g->a;
    const bool udp = ctl & 8;
    port = kOutPort;
    if (mode == 0) {
        frame.assign(body, body + len);
        if (ctl & 16) port = kInPort;
        return true;
    }
    if (mode == 1) {
        std::vector<uint8_t> esp(4 + len);
        put32(esp.data(), sa.spi);
        if ((ctl & 32) && len >= 4) {
            std::memcpy(esp.data(), body, 4);
            body += 4, len -= 4;
            esp.resize(4 + len);
        }
        std::memcpy(esp.data() + 4, body, len);
        frame = frame_from_peer(esp, udp);
        return true;
    }
    if (len < 8) return false;
    uint64_t seq = 0;
    for (int i = 0; i < 8; ++i) seq = seq << 8 | body[i];
    body += 8, len -= 8;
    std::vector<uint8_t> plain;
    if (mode == 2) {
        if (len < 1) return false;
        const uint8_t nh = body[0];
        std::vector<uint8_t> inner(body + 1, body + len);
        if (ctl & 16) fix_inner(inner);
        const uint8_t align = crypto::info(sa.transform).pad_align;
        const size_t padded = (inner.size() + 2 + align - 1) / align * align;
        const uint8_t pad = uint8_t(padded - inner.size() - 2);
        plain = inner;
        for (uint8_t i = 1; i <= pad; ++i) plain.push_back(i);
        plain.push_back(pad);
        plain.push_back(nh);
    } else {
        plain.assign(body, body + len);
        if ((ctl & 16) && plain.size() >= 2) {  // fix the inner header ahead of the trailer
            const size_t pad = plain[plain.size() - 2];
            if (pad + 2 <= plain.size()) {
                std::vector<uint8_t> inner(plain.begin(), plain.end() - long(pad) - 2);
                fix_inner(inner);
                std::copy(inner.begin(), inner.end(), plain.begin());
            }
        }
    }
    const std::vector<uint8_t> esp = seal(sa, seq, std::move(plain));
    if (esp.empty()) return false;
    frame = frame_from_peer(esp, udp);
    return true;
}

// --- checking what the runtime sent -----------------------------------------------------

bool in_prefix(uint32_t a, uint32_t net, unsigned len) { return (a >> (32 - len)) == (net >> (32 - len)); }
bool protected_out(const ParsedPkt& p) {  // the crypto ACL, as written
    return in_prefix(p.src_ip, RTE_IPV4(192, 0, 2, 0), 24) && in_prefix(p.dst_ip, RTE_IPV4(203, 0, 113, 0), 24);
}
bool protected_in(const ParsedPkt& p) {  // mirrored: what must arrive as ESP
    return in_prefix(p.src_ip, RTE_IPV4(203, 0, 113, 0), 24) && in_prefix(p.dst_ip, RTE_IPV4(192, 0, 2, 0), 24);
}

struct Sent {
    uint64_t frames = 0;
    uint64_t acl_protected = 0;  // inside0: frames the mirrored crypto ACL covers
    uint64_t esp_ok = 0;         // outside0: ESP frames that decrypt with the outbound SA
};

// Check and free every frame port `p` sent.
Sent drain(uint16_t p, bool from_inside) {
    Sent s;
    rte_ring* r = p == kInPort ? g->in.tx : g->out.tx;
    void* burst[32];
    for (unsigned n; (n = rte_ring_dequeue_burst(r, burst, 32, nullptr)) != 0;) {
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf* m = static_cast<rte_mbuf*>(burst[i]);
            ++s.frames;
            if (m->nb_segs != 1 || m->pkt_len != m->data_len) finding("multi-segment frame sent", p, m->nb_segs);
            uint8_t* f = rte_pktmbuf_mtod(m, uint8_t*);
            const ParsedPkt pp = parse_frame(f, m->data_len);
            if (pp.cls == PktClass::malformed || pp.cls == PktClass::non_ip || pp.cls == PktClass::arp)
                finding("sent a frame the parser rejects", p, uint64_t(pp.reason));
            if (size_t(pp.l3_off) + pp.l3_len != m->data_len)
                finding("sent frame length != 14 + IPv4 total length", m->data_len, pp.l3_len);
            if (std::memcmp(f + 6, g->mac[p].addr_bytes, 6) != 0) finding("source MAC is not the port's", p);
            const rte_ether_addr& dst = p == kInPort ? kHostMac : kPeerMac;
            if (std::memcmp(f, dst.addr_bytes, 6) != 0) finding("destination MAC is no known neighbour", p);
            if (p == kInPort && protected_in(pp)) ++s.acl_protected;
            if (p == kOutPort && from_inside) {
                // Clear frames the ACL does not cover are forwarded as they came, even
                // ESP-looking ones; ours are counted by decrypting them.
                if (pp.cls == PktClass::esp && pp.spi == kSpiOut && pp.src_ip == kOutside &&
                    pp.dst_ip == kPeer) {
                    EspBuf b{};
                    b.data = f + pp.payload_off;
                    b.len = uint32_t(pp.l3_off + pp.l3_len - pp.payload_off);
                    b.headroom = pp.payload_off;
                    b.sa = &g->outbound.esp;
                    EspBuf* list[1] = {&b};
                    if (esp_decap_burst(*g->eng, std::span<EspBuf*>(list, 1)) == 1) ++s.esp_ok;
                }
                if (protected_out(pp)) finding("protected traffic left the outside port in clear");
            }
            rte_pktmbuf_free(m);
        }
    }
    return s;
}

void check_balance() {
    const Stats st = g->rt->stats();
    const uint64_t in = st.rx + st.injected + st.fragments;
    const uint64_t out = st.tx + st.total_drops() + st.punted + st.reassembly_held + st.reassembly_merged;
    if (in != out) finding("counters do not balance (in, out)", in, out);
}

void run(uint16_t port, rte_mbuf** pkts, uint16_t n) {
    if (n == 0) return;
    const Stats before = g->rt->stats();
    if (!g->rt->run_inline(port, pkts, n)) finding("run_inline refused the burst", port, n);
    const Stats after = g->rt->stats();
    const Sent to_in = drain(kInPort, port == kInPort);
    const Sent to_out = drain(kOutPort, port == kInPort);
    g->out_inside += to_in.frames;
    g->out_outside += to_out.frames;
    if (port == kOutPort && to_in.acl_protected > after.decrypted_in - before.decrypted_in)
        finding("protected traffic reached inside0 without decryption", to_in.acl_protected,
                after.decrypted_in - before.decrypted_in);
    if (port == kInPort && to_out.esp_ok != after.protected_out - before.protected_out)
        finding("encrypted packets sent != packets that decrypt with the outbound SA", to_out.esp_ok,
                after.protected_out - before.protected_out);
    rte_mbuf* punted[64];
    for (unsigned k; (k = g->rt->dequeue_punted(punted, 64)) != 0;)
        for (unsigned i = 0; i < k; ++i) rte_pktmbuf_free(punted[i]);
    Event ev[64];
    while (g->rt->dequeue_events(ev, 64) != 0) {
    }
    check_balance();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    if (g) return 0;
    if (!eal_up() || !setup()) {
        std::fprintf(stderr, "fuzz_esp_inbound: setup failed\n");
        std::abort();
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (!g) LLVMFuzzerInitialize(nullptr, nullptr);
    reset_inbound_sas();
    // records -> frames
    struct Rec {
        uint16_t port;
        std::vector<uint8_t> frame;
    };
    std::vector<Rec> recs;
    if (size < 3) {
        recs.push_back({kOutPort, std::vector<uint8_t>(data, data + size)});
    } else {
        size_t off = 0;
        while (off + 3 <= size && recs.size() < kMaxRecords) {
            const uint8_t ctl = data[off];
            const size_t len = std::min<size_t>(size_t(data[off + 1]) << 8 | data[off + 2], size - off - 3);
            Rec r;
            if (build(ctl, data + off + 3, len, r.frame, r.port)) recs.push_back(std::move(r));
            off += 3 + len;
        }
    }
    // frames -> mbufs, runs of one port -> one run_inline burst each
    rte_mbuf* burst[kMaxRecords];
    uint16_t n = 0, port = 0;
    for (auto& r : recs) {
        if (n && r.port != port) {
            run(port, burst, n);
            n = 0;
        }
        port = r.port;
        rte_mbuf* m = rte_pktmbuf_alloc(g->rt->pool());
        if (!m) finding("mbuf pool exhausted (a leak?)");
        const size_t len = std::min(r.frame.size(), kMaxFrame);
        if (len) {
            char* d = rte_pktmbuf_append(m, uint16_t(len));
            if (!d) finding("cannot append to an mbuf", len);
            std::memcpy(d, r.frame.data(), len);
        }
        burst[n++] = m;
    }
    run(port, burst, n);
    return 0;
}

namespace pgfuzz::esp_inbound {
Stats stats() { return g ? g->rt->stats() : Stats{}; }
uint64_t frames_out_inside() { return g ? g->out_inside : 0; }
uint64_t frames_out_outside() { return g ? g->out_outside : 0; }
void teardown() {
    if (!g) return;
    g->rt.reset();
    g.reset();  // the ring ports after the runtime that closed them
}
}  // namespace pgfuzz::esp_inbound
