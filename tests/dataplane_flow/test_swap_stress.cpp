// tests/dataplane_flow/test_swap_stress.cpp - the atomic peer swap under load.
//
// One worker (its own lcore and core) forwards protected traffic - inside ring port ->
// ESP on the outside ring port - while this test's thread, the control thread, swaps the
// crypto map entry's active SA kSaSwaps times, each time with a new SPI and key; in a
// second phase every other swap also removes the SA (set_active(entry, nullopt)) so
// that the no_sa drop path races with the swaps too. Between two swaps the control
// thread injects a few frames into the inside port's RX ring and checks every frame the
// outside port has sent so far (one thread: the traffic spreads over every SA instead
// of over the few alive when the scheduler happens to switch threads on a shared core;
// the race that matters - the worker reading the entry while it is republished and the
// old SA reclaimed - runs on two cores). Every frame sent:
//
//   * is ESP from the outside address to the peer (nothing leaves in clear: the
//     inside port sends nothing, the bypass counter stays 0);
//   * carries an SPI that had been installed;
//   * decrypts, with the SA rebuilt from the SPI alone (transform and keys are derived
//     from it), to exactly the inner packet injected (TTL - 1);
//   * no injected packet comes out twice, no (SPI, sequence number) pair repeats.
//
// At the end (worker stopped, rings drained) rx + injected + fragments == tx + drops +
// punted (+ the reassembly terms, 0 here), every drop is no_sa, protected_out equals the
// frames checked, and the no_sa events name the entry.
//
// About 2-4 s in the release build and 5-10 s in the ASan build on the idle 2-core dev
// VM (several times that when other builds load it). No timing assertion: every wait is "until the counters say so", with a
// generous deadline only against hangs.
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "crypto/esp_transform.hpp"
#include "dataplane/esp_codec.hpp"
#include "dataplane/pkt_parse.hpp"
#include "dataplane/runtime.hpp"
#include "tests/dataplane_flow/ring_port.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine;
using namespace peregrine::dataplane;

namespace pgflowtest_env {
bool eal_up();  // test_flow.cpp
}

namespace {

constexpr uint32_t kInside = RTE_IPV4(192, 0, 2, 1);
constexpr uint32_t kHost = RTE_IPV4(192, 0, 2, 10);
constexpr uint32_t kOutside = RTE_IPV4(198, 51, 100, 1);
constexpr uint32_t kPeer = RTE_IPV4(198, 51, 100, 2);
constexpr uint32_t kRemote = RTE_IPV4(203, 0, 113, 5);
constexpr rte_ether_addr kPeerMac{{0x02, 0x00, 0x5e, 0x00, 0x00, 0x02}};

constexpr uint32_t kSaSwaps = 100000;      // set_active with an SA, phases 1 + 2
constexpr uint32_t kPhase2 = 80000;        // from this swap on, every other swap adds a nullopt one
constexpr uint32_t kSpiBase = 0x00100000;  // SA i has SPI kSpiBase + i
// Retired objects (2 per swap: the entry state with its SA, the SA's counter slot) before
// the control thread waits for the worker's quiescence: a preempted worker (a loaded
// machine) must not exhaust the kMaxSas (4096) SA slots.
constexpr size_t kMaxRcuPending = 4096;
constexpr unsigned kFeedPerSwap = 4;       // frames injected between two swaps
constexpr uint64_t kMaxInFlight = 256;     // injected, not yet checked (or dropped)
constexpr unsigned kRxRing = 1024, kTxRing = 1024;  // > kMaxInFlight: never full
constexpr auto kDeadline = std::chrono::seconds(120);  // against hangs only

// --- SAs: everything derives from the SPI, so the checker can rebuild any of them ---

crypto::Transform transform_of(uint32_t spi) {
    // alternate an AEAD and a CBC+HMAC transform: different IV, ICV and padding sizes
    return (spi & 1) ? crypto::Transform::aes128_cbc_hmac_sha256_128
                     : crypto::Transform::aes128_gcm16;
}

uint64_t mix(uint64_t x) {  // splitmix64 finaliser
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

std::vector<uint8_t> key_of(uint32_t spi, size_t n, uint64_t domain) {
    std::vector<uint8_t> k(n);
    for (size_t i = 0; i < n; ++i) k[i] = uint8_t(mix((uint64_t(spi) << 20) ^ (domain << 16) ^ i));
    return k;
}

SaSpec sa_spec(uint32_t spi) {
    const crypto::Transform t = transform_of(spi);
    SaSpec s;
    s.transform = t;
    s.enc_key = key_of(spi, crypto::enc_keymat_len(t), 1);
    s.auth_key = key_of(spi, crypto::info(t).auth_key_len, 2);
    s.spi = spi;
    s.local = kOutside;
    s.peer = kPeer;
    s.entry = 0;
    return s;
}

// The peer's inbound copy of an SA (keys + codec state), rebuilt from the SPI.
struct PeerSa {
    uint32_t spi = 0;
    std::unique_ptr<crypto::KeySchedule> keys;
    EspSa esp{};
    bool build(uint32_t s) {
        spi = s;
        const crypto::Transform t = transform_of(s);
        keys = crypto::KeySchedule::create(t, key_of(s, crypto::enc_keymat_len(t), 1),
                                           key_of(s, crypto::info(t).auth_key_len, 2))
                   .keys;
        if (!keys) return false;
        EspSaConfig c;
        c.transform = t;
        c.keys = keys.get();
        c.spi = s;
        c.outer_src = kOutside;
        c.outer_dst = kPeer;
        return esp_sa_init(esp, c);
    }
};

// --- traffic: packet number c -> one inner IPv4/UDP packet, host -> remote ---

constexpr uint16_t kInnerMin = 20 + 8 + 8;  // IPv4 + UDP + the 8-byte packet number

uint16_t inner_len(uint64_t c) { return uint16_t(kInnerMin + (c * 37) % 280); }

// Write packet c's inner IPv4 packet (TTL 64) at ip; returns its length.
uint16_t write_inner(uint8_t* ip, uint64_t c) {
    const uint16_t len = inner_len(c);
    std::memset(ip, 0, 20);
    ip[0] = 0x45;
    ip[2] = uint8_t(len >> 8);
    ip[3] = uint8_t(len);
    ip[4] = uint8_t(c >> 8);
    ip[5] = uint8_t(c);
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    for (int i = 0; i < 4; ++i) {
        ip[12 + i] = uint8_t(kHost >> (24 - 8 * i));
        ip[16 + i] = uint8_t(kRemote >> (24 - 8 * i));
    }
    reinterpret_cast<rte_ipv4_hdr*>(ip)->hdr_checksum = rte_ipv4_cksum(reinterpret_cast<rte_ipv4_hdr*>(ip));
    uint8_t* u = ip + 20;
    const uint16_t ulen = uint16_t(len - 20);
    const uint16_t sport = uint16_t(1024 + c % 4096);
    u[0] = uint8_t(sport >> 8), u[1] = uint8_t(sport), u[2] = 0x13, u[3] = 0x89;
    u[4] = uint8_t(ulen >> 8), u[5] = uint8_t(ulen), u[6] = 0, u[7] = 0;
    for (int i = 0; i < 8; ++i) u[8 + i] = uint8_t(c >> (56 - 8 * i));
    for (uint16_t i = 16; i < ulen; ++i) u[i] = uint8_t(c * 131 + i);
    return len;
}

rte_mbuf* make_frame(rte_mempool* pool, uint64_t c) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    if (!m) return nullptr;
    uint8_t* f = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, uint16_t(14 + inner_len(c))));
    const uint8_t eth[14] = {0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00};
    std::memcpy(f, eth, sizeof eth);
    write_inner(f + 14, c);
    return m;
}

bool checksum_ok(const uint8_t* ip) { return ipv4_header_checksum(ip, 20) == 0; }

// What the checker found.
struct CheckResult {
    uint64_t fed = 0;             // frames the inside port's RX ring accepted
    uint64_t out_frames = 0;      // frames the outside port sent
    uint64_t inside_frames = 0;   // frames the inside port sent (must stay 0)
    uint64_t decrypted_ok = 0;    // outside frames that passed every check
    uint64_t not_esp = 0;         // clear text (or anything but ESP to the peer)
    uint64_t bad_l2 = 0;          // wrong Ethernet addresses / type
    uint64_t unknown_spi = 0;     // SPI never installed (or not yet)
    uint64_t decap_failed = 0;
    uint64_t wrong_inner = 0;     // decrypted, but not the packet injected
    uint64_t duplicate = 0;       // the same packet number or (SPI, seq) seen twice
    uint64_t alloc_failed = 0;
    uint32_t spis_seen = 0;
    std::string first_error;
};

// Injects frames into the inside port and checks what the ports send. Control thread only.
class Checker {
public:
    Checker(Runtime& rt, pgtest::RingPort& in, pgtest::RingPort& out, const uint32_t& installed)
        : rt_(rt), in_(in), out_(out), installed_(installed), out_mac_(rt.ports()[1].mac) {
        eng_ = crypto::Engine::create();
        if (!eng_) fail(r_.decap_failed, "cannot create a crypto engine");
    }
    ~Checker() {
        if (pending_) rte_pktmbuf_free(pending_);
    }

    // Inject up to `feed` frames (fewer when kMaxInFlight are in flight or the RX ring
    // is full), then check every frame the ports have sent.
    // Returns how many frames were injected.
    unsigned step(unsigned feed) {
        // in flight = fed - (checked + dropped): bounded, so that neither ring overflows
        const uint64_t done = r_.out_frames + r_.inside_frames + rt_.stats().total_drops();
        unsigned k = 0;
        for (; k < feed && r_.fed < done + kMaxInFlight && eng_; ++k) {
            if (!pending_) pending_ = make_frame(rt_.pool(), r_.fed);
            if (!pending_) {
                ++r_.alloc_failed;
                break;
            }
            if (rte_ring_enqueue(in_.rx, pending_) != 0) break;  // ring full: later
            pending_ = nullptr;
            ++r_.fed;
        }
        void* burst[kBurst];
        for (unsigned n; (n = rte_ring_dequeue_burst(out_.tx, burst, kBurst, nullptr)) != 0;) {
            for (unsigned i = 0; i < n; ++i) check_out(static_cast<rte_mbuf*>(burst[i]));
            r_.out_frames += n;
        }
        for (unsigned k; (k = rte_ring_dequeue_burst(in_.tx, burst, kBurst, nullptr)) != 0;) {
            for (unsigned i = 0; i < k; ++i) rte_pktmbuf_free(static_cast<rte_mbuf*>(burst[i]));
            fail(r_.inside_frames, "a frame left on the inside port", k);
        }
        r_.spis_seen = uint32_t(seqs_.size());
        return k;
    }

    CheckResult& result() { return r_; }

private:
    void fail(uint64_t& counter, const std::string& what, uint64_t n = 1) {
        counter += n;
        if (r_.first_error.empty()) r_.first_error = what;
    }

    void check_out(rte_mbuf* m) {
        const uint8_t* f = rte_pktmbuf_mtod(m, const uint8_t*);
        const ParsedPkt p = parse_frame(f, m->data_len);
        if (p.cls != PktClass::esp || p.src_ip != kOutside || p.dst_ip != kPeer || p.vlan) {
            fail(r_.not_esp, "outside frame is not ESP to the peer (class " +
                                 std::string(to_string(p.cls)) + ")");
            rte_pktmbuf_free(m);
            return;
        }
        if (std::memcmp(f, kPeerMac.addr_bytes, 6) != 0 || std::memcmp(f + 6, out_mac_.addr_bytes, 6) != 0)
            fail(r_.bad_l2, "outer Ethernet addresses wrong");
        if (!eng_) return rte_pktmbuf_free(m);
        if (p.spi < kSpiBase || p.spi - kSpiBase >= installed_) {
            fail(r_.unknown_spi, "SPI " + std::to_string(p.spi) + " was never installed");
            rte_pktmbuf_free(m);
            return;
        }
        if (sa_.spi != p.spi && !sa_.build(p.spi)) {
            fail(r_.decap_failed, "cannot rebuild the SA of SPI " + std::to_string(p.spi));
            rte_pktmbuf_free(m);
            return;
        }
        auto& seen_seq = seqs_[p.spi];
        if (p.esp_seq >= seen_seq.size()) seen_seq.resize(p.esp_seq + 64, false);
        if (seen_seq[p.esp_seq]) fail(r_.duplicate, "(SPI, seq) sent twice");
        seen_seq[p.esp_seq] = true;

        uint8_t* data = rte_pktmbuf_mtod(m, uint8_t*);
        EspBuf b{};
        b.data = data + p.payload_off;
        b.len = uint32_t(p.l3_off + p.l3_len - p.payload_off);
        b.headroom = p.payload_off;
        b.sa = &sa_.esp;
        EspBuf* list[1] = {&b};
        if (esp_decap_burst(*eng_, std::span<EspBuf*>(list, 1)) != 1) {
            fail(r_.decap_failed, "SPI " + std::to_string(p.spi) + " seq " + std::to_string(p.esp_seq) +
                                      ": decap failed: " + std::string(esp_reason_name(b.reason)));
            rte_pktmbuf_free(m);
            return;
        }
        check_inner(b.data, b.len);
        rte_pktmbuf_free(m);
    }

    void check_inner(const uint8_t* ip, uint32_t len) {
        if (len < kInnerMin) return fail(r_.wrong_inner, "inner packet too short");
        uint64_t c = 0;
        for (int i = 0; i < 8; ++i) c = c << 8 | ip[28 + i];
        if (c >= r_.fed) return fail(r_.wrong_inner, "inner packet number never injected");
        uint8_t want[kInnerMin + 300];
        const uint16_t wl = write_inner(want, c);
        want[8] = 63;  // forwarded: TTL - 1; the checksum is checked on its own below
        if (len != wl || std::memcmp(ip, want, 10) != 0 || std::memcmp(ip + 12, want + 12, wl - 12) != 0 ||
            !checksum_ok(ip))
            return fail(r_.wrong_inner, "inner packet " + std::to_string(c) + " differs from the one injected");
        if (c >= seen_.size()) seen_.resize(c + 4096, false);
        if (seen_[c]) return fail(r_.duplicate, "packet " + std::to_string(c) + " came out twice");
        seen_[c] = true;
        ++r_.decrypted_ok;
    }

    Runtime& rt_;
    pgtest::RingPort& in_;
    pgtest::RingPort& out_;
    const uint32_t& installed_;  // SAs 0..installed_-1 have been given to set_active
    rte_ether_addr out_mac_;
    rte_mbuf* pending_ = nullptr;  // built, not yet accepted by the RX ring
    std::unique_ptr<crypto::Engine> eng_;
    PeerSa sa_;  // the SA of the last SPI seen (frames of one SPI mostly come in runs)
    std::unordered_map<uint32_t, std::vector<bool>> seqs_;
    std::vector<bool> seen_;
    CheckResult r_;
};

// Run tick() until pred() or the deadline; false on the deadline.
template <class Pred, class Tick>
bool wait_for(const char* what, Pred pred, Tick tick) {
    const auto end = std::chrono::steady_clock::now() + kDeadline;
    for (unsigned spins = 0; !pred(); ++spins) {
        if (std::chrono::steady_clock::now() > end) {
            std::printf("\n  gave up waiting until %s\n", what);
            return false;
        }
        tick();
        // short waits (the worker is a few packets behind) spin; long ones sleep
        if (spins < 1000) std::this_thread::yield();
        else std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    return true;
}

int swap_init() { return pgflowtest_env::eal_up() ? 0 : -1; }
int swap_cleanup() { return 0; }
PG_SUITE_HOOKS(swap_stress, swap_init, swap_cleanup);

PG_TEST(swap_stress, worker_forwards_while_the_entry_sa_is_swapped_100k_times) {
    if (rte_lcore_count() < 2) {
        CU_FAIL("EAL needs a worker lcore");
        return;
    }
    pgtest::RingPort in, out;  // destroyed after the runtime (declared first)
    CU_ASSERT_FATAL(in.create("swap_in", kRxRing, kTxRing));
    CU_ASSERT_FATAL(out.create("swap_out", 512, kTxRing));

    DataplaneSpec spec;
    spec.ports = {{"inside0", in.name(), true, kInside, 24, 1500},
                  {"outside0", out.name(), false, kOutside, 24, 1500}};
    spec.routes = {{RTE_IPV4(203, 0, 113, 0), 24, 1, kPeer}};
    MapEntrySpec e;
    e.seq = 10;
    AceSpec ace;
    ace.src = {RTE_IPV4(192, 0, 2, 0), 24};
    ace.dst = {RTE_IPV4(203, 0, 113, 0), 24};
    e.aces.push_back(ace);
    spec.entries = {e};
    spec.entry_port = {1};
    spec.worker_lcores = {rte_get_next_lcore(-1, 1, 0)};
    spec.mbufs = 4095;
    std::string err;
    auto rt = Runtime::create(spec, err);
    if (!rt) std::printf("\n  Runtime::create: %s\n", err.c_str());
    CU_ASSERT_FATAL(rt != nullptr);
    rt->learn_neighbour(kPeer, 1, kPeerMac);

    // SA 0 before any traffic: the first packets already have an SA. `installed` is
    // raised before each set_active: no frame can carry an SPI the checker does not know.
    uint32_t installed = 1;
    CU_ASSERT_FATAL(rt->set_active(0, sa_spec(kSpiBase), err) >= 0);
    CU_ASSERT_FATAL(rt->start(err));
    Checker checker(*rt, in, out, installed);

    uint32_t sa_swaps = 1, none_swaps = 0, failed_swaps = 0, events_no_sa = 0, events_other = 0;
    bool waits_ok = true;
    std::string first_err;
    Event ev[64];
    unsigned feed = kFeedPerSwap;  // 0 once the feeding stops
    auto tick = [&] {
        rt->housekeeping();
        for (unsigned n; (n = rt->dequeue_events(ev, 64)) != 0;)
            for (unsigned i = 0; i < n; ++i) {
                if (ev[i].type == EventType::no_sa && ev[i].value == 0) ++events_no_sa;
                else ++events_other;
            }
        return checker.step(feed);
    };
    auto protected_out = [&] { return rt->stats().protected_out; };
    auto no_sa_drops = [&] { return rt->stats().drops[size_t(Drop::no_sa)]; };

    // Traffic flows under SA 0 before the swapping starts.
    waits_ok &= wait_for("SA 0 protects traffic", [&] { return protected_out() > 0; }, tick);

    auto set_none = [&] {
        err.clear();
        return rt->set_active(0, std::nullopt, err) == kNoSaSlot && err.empty();
    };
    for (uint32_t i = 1; i < kSaSwaps; ++i) {
        if (i == kPhase2) {
            // phase 1 ended: its last SA has carried traffic before phase 2 starts (a
            // burst in progress at the first read may still use an older SA)
            const uint64_t seen = protected_out();
            waits_ok &= wait_for("phase 1's last SA protects traffic",
                                 [&] { return protected_out() > seen + kBurst; }, tick);
        }
        installed = i + 1;  // before the SA can exist
        if (rt->set_active(0, sa_spec(kSpiBase + i), err) < 0) {
            if (failed_swaps++ == 0) first_err = err;
        } else {
            ++sa_swaps;
        }
        if (i >= kPhase2 && (i & 1)) {
            tick();  // some traffic under the SA, then none
            if (!set_none()) {
                if (failed_swaps++ == 0) first_err = err;
            } else {
                ++none_swaps;
            }
        }
        // At least one frame per SA: when the worker is behind (in-flight bound reached),
        // wait for it, so that traffic spreads over the SAs whatever the relative speeds
        // (ASan, a loaded machine). Coverage only: nothing asserted depends on it.
        if (tick() == 0)
            waits_ok &= wait_for("room for one more frame", [&] { return tick() > 0; }, [] {});
        // Bounded RCU backlog: SA slots are recycled only after the grace period.
        if (rt->rcu_pending() > kMaxRcuPending)
            waits_ok &= wait_for("the RCU backlog shrinks",
                                 [&] { return rt->rcu_pending() <= kMaxRcuPending / 4; }, tick);
    }
    // A deterministic no_sa stretch: the entry has no SA until a drop proves it.
    const uint64_t no_sa_before = no_sa_drops();
    CU_ASSERT(set_none());
    ++none_swaps;
    waits_ok &= wait_for("a no_sa drop", [&] { return no_sa_drops() > no_sa_before; }, tick);

    // Stop feeding; the worker finishes what is in flight, the checker what was sent.
    feed = 0;
    const CheckResult& r = checker.result();
    waits_ok &= wait_for("everything injected is sent or dropped", [&] {
        const Stats st = rt->stats();
        return st.rx == r.fed && st.tx + st.total_drops() == st.rx &&
               r.out_frames + r.inside_frames == st.tx;
    }, tick);
    rt->stop();
    tick();  // nothing can be left, but look once more
    rt->quiesce();
    CU_ASSERT_EQUAL(rt->rcu_pending(), 0u);
    CU_ASSERT_EQUAL(rte_ring_count(in.rx), 0u);

    const Stats st = rt->stats();
    std::printf("\n  %u SA swaps + %u to no SA; %lu frames in, %lu ESP out under %u SPIs, %lu no_sa drops, "
                "%u no_sa events\n",
                sa_swaps, none_swaps, (unsigned long)r.fed, (unsigned long)r.out_frames, r.spis_seen,
                (unsigned long)st.drops[size_t(Drop::no_sa)], events_no_sa);
    if (!r.first_error.empty()) std::printf("  first error: %s\n", r.first_error.c_str());
    if (failed_swaps) std::printf("  set_active failed %u times: %s\n", failed_swaps, first_err.c_str());
    for (size_t d = 0; d < kDropReasons; ++d)
        if (st.drops[d]) std::printf("  drop %s = %lu\n", kDropNames[d], (unsigned long)st.drops[d]);

    CU_ASSERT(waits_ok);
    // the swaps
    CU_ASSERT_EQUAL(failed_swaps, 0u);
    CU_ASSERT(sa_swaps >= 100000u);
    CU_ASSERT(none_swaps > (kSaSwaps - kPhase2) / 2);
    // every output frame: ESP to the peer, installed SPI, decrypts to what was injected
    CU_ASSERT_EQUAL(r.not_esp, 0u);
    CU_ASSERT_EQUAL(r.inside_frames, 0u);
    CU_ASSERT_EQUAL(r.bad_l2, 0u);
    CU_ASSERT_EQUAL(r.unknown_spi, 0u);
    CU_ASSERT_EQUAL(r.decap_failed, 0u);
    CU_ASSERT_EQUAL(r.wrong_inner, 0u);
    CU_ASSERT_EQUAL(r.duplicate, 0u);
    CU_ASSERT_EQUAL(r.alloc_failed, 0u);
    CU_ASSERT_EQUAL(r.decrypted_ok, r.out_frames);
    CU_ASSERT(r.out_frames > 0);
    CU_ASSERT(r.spis_seen >= 2);  // SA 0 and phase 1's last SA at least
    // counters balance: in == out + counted drops
    CU_ASSERT_EQUAL(st.rx, r.fed);
    CU_ASSERT_EQUAL(st.injected, 0u);
    CU_ASSERT_EQUAL(st.fragments, 0u);
    CU_ASSERT_EQUAL(st.punted, 0u);
    CU_ASSERT_EQUAL(st.reassembly_held, 0u);
    CU_ASSERT_EQUAL(st.reassembly_merged, 0u);
    CU_ASSERT_EQUAL(st.rx + st.injected + st.fragments,
                    st.tx + st.total_drops() + st.punted + st.reassembly_held + st.reassembly_merged);
    CU_ASSERT_EQUAL(st.tx, r.out_frames + r.inside_frames);
    CU_ASSERT_EQUAL(st.bypass, 0u);
    CU_ASSERT_EQUAL(st.protected_out, r.out_frames);
    const uint64_t no_sa = st.drops[size_t(Drop::no_sa)];
    CU_ASSERT(no_sa > 0);
    CU_ASSERT_EQUAL(st.total_drops(), no_sa);
    CU_ASSERT_EQUAL(st.rx, st.protected_out + no_sa);
    const PortStats ps_in = rt->port_stats(0), ps_out = rt->port_stats(1);
    CU_ASSERT_EQUAL(ps_in.rx_packets, r.fed);
    CU_ASSERT_EQUAL(ps_out.tx_packets, r.out_frames);
    CU_ASSERT_EQUAL(ps_in.tx_packets, 0u);
    // the punt path: no_sa events for entry 0 only (rate-limited, at least the first)
    CU_ASSERT(events_no_sa >= 1);
    CU_ASSERT_EQUAL(events_other, 0u);
    rt.reset();
}

}  // namespace
