// tools/prof-worker.cpp - pg-prof-worker: the worker pipeline alone, on the calling
// thread, for instruction-count profiles (callgrind) and quick A/B timing.
//
//   pg-prof-worker [EAL options] -- [--dir out|in] [--size BYTES] [--transform NAME]
//                  [--packets N] [--sas N]
//   pg-prof-worker [EAL options] -- --rebuild ACES [--rounds N]
//
// Builds a Runtime with two net_null ports (inside 192.0.2.1/24, outside 198.51.100.1/24),
// N crypto map entries (entry k: permit 192.0.2.0/24 -> 203.0.113.k/32) each with one
// static SA to the peer 198.51.100.2, then feeds bursts of kBurst frames through
// Runtime::run_inline() (worker 0's real pipeline: parse, classify, ESP, route, tx).
// out: plaintext UDP frames of --size bytes (Ethernet included), flows spread over the
//      entries. in: the same frames encrypted by the inbound SA (anti-replay off so the
//      pre-built frames can repeat).
// Only run_inline() is inside the timed/profiled region; filling mbufs is outside:
//   valgrind --tool=callgrind --toggle-collect='*run_inline*' build/tools/pg-prof-worker ...
// Prints packets, ns/packet and the data-plane counters (every packet must be accounted).
//
// --rebuild ACES: the worker runs on its lcore (net_null RX keeps it busy) while this
// thread replaces the crypto ACLs with ACES ACEs through Runtime::set_entries() --rounds
// times, sampling the worker's loop counter every 50 us: prints the build time and the
// longest time the worker was seen not advancing (it never waits for a build: the
// classifiers are built here and published by RCU). JSON on one line.
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "crypto/esp_transform.hpp"
#include "dataplane/esp_codec.hpp"
#include "dataplane/runtime.hpp"

using namespace peregrine::dataplane;
namespace crypto = peregrine::crypto;

namespace {

constexpr uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return (uint32_t(a) << 24) | (uint32_t(b) << 16) | (uint32_t(c) << 8) | d;
}

void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
void put32(uint8_t* p, uint32_t v) {
    put16(p, uint16_t(v >> 16));
    put16(p + 2, uint16_t(v));
}

uint16_t ip_csum(const uint8_t* h) {
    uint32_t s = 0;
    for (int i = 0; i < 20; i += 2) s += uint32_t((h[i] << 8) | h[i + 1]);
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return uint16_t(~s);
}

// Ethernet + IPv4 + UDP frame of `size` bytes (>= 42).
std::vector<uint8_t> plain_frame(uint32_t size, uint32_t src, uint32_t dst, uint16_t sport) {
    std::vector<uint8_t> f(size, 0);
    const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 0x01}, smac[6] = {0x02, 0, 0, 0, 0, 0x0a};
    std::memcpy(f.data(), dmac, 6);
    std::memcpy(f.data() + 6, smac, 6);
    put16(f.data() + 12, 0x0800);
    uint8_t* ip = f.data() + 14;
    ip[0] = 0x45;
    put16(ip + 2, uint16_t(size - 14));
    ip[8] = 64;
    ip[9] = 17;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, ip_csum(ip));
    put16(ip + 20, sport);
    put16(ip + 22, 5000);
    put16(ip + 24, uint16_t(size - 34));
    return f;
}

// `aces` host-pair permit ACEs (distinct, so rte_acl merges nothing) over at most 1000
// crypto map entries (the runtime holds kMaxEntries).
std::vector<MapEntrySpec> entries_of(uint32_t aces) {
    const uint32_t n = std::min<uint32_t>(aces, 1000);
    std::vector<MapEntrySpec> v(n);
    for (uint32_t k = 0; k < n; ++k) v[k].seq = k + 1;
    for (uint32_t i = 0; i < aces; ++i) {
        AceSpec a;
        a.src = {ip4(10, uint8_t(i >> 16), uint8_t(i >> 8), uint8_t(i)), 32};
        a.dst = {ip4(172, 16, uint8_t(i >> 8), uint8_t(i)), 32};
        v[i % n].aces.push_back(a);
    }
    return v;
}

int rebuild(uint32_t aces, uint32_t rounds) {
    DataplaneSpec spec;
    spec.ports.push_back({"inside0", "net_null_ri", true, ip4(192, 0, 2, 1), 24, 1500});
    spec.ports.push_back({"outside0", "net_null_ro,no-rx=1", false, ip4(198, 51, 100, 1), 24, 1500});
    spec.entries = entries_of(aces);
    spec.entry_port.assign(spec.entries.size(), 1);
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) {
        spec.worker_lcores.push_back(lc);
        break;
    }
    std::string err;
    auto rt = Runtime::create(spec, err);
    if (!rt || !rt->start(err)) {
        std::fprintf(stderr, "runtime: %s\n", err.c_str());
        return 1;
    }
    using clock = std::chrono::steady_clock;
    // Watches the worker's loop counter every 50 us while `busy` is set and returns the
    // longest interval it was seen not advancing. The interval between two equal reads
    // is bounded by the clock read *after* the first and *before* the second, so the
    // sampler being preempted between reading the counter and the clock does not count.
    auto watch = [&](std::atomic<bool>& busy) {
        double worst = 0;
        uint64_t last = rt->stats().iterations;
        auto since = clock::now();
        while (busy.load()) {
            std::this_thread::sleep_for(std::chrono::microseconds(50));
            const auto t1 = clock::now();
            const uint64_t it = rt->stats().iterations;
            const auto t2 = clock::now();
            if (it != last) {
                last = it;
                since = t2;
            } else {
                worst = std::max(worst, std::chrono::duration<double, std::micro>(t1 - since).count());
            }
        }
        return worst;
    };
    double build_ms_max = 0, build_ms_sum = 0, stall_us_max = 0;
    for (uint32_t r = 0; r < rounds; ++r) {
        std::vector<MapEntrySpec> next = entries_of(aces);
        for (auto& e : next) e.aces[0].dst.len = uint8_t(32 - (r + 1) % 2);  // a real change
        std::atomic<bool> building{true};
        double worst = 0;
        std::thread sampler([&] { worst = watch(building); });
        const auto t0 = clock::now();
        const bool ok = rt->set_entries(next, err);
        const double ms = std::chrono::duration<double, std::milli>(clock::now() - t0).count();
        building.store(false);
        sampler.join();
        if (!ok) {
            std::fprintf(stderr, "set_entries: %s\n", err.c_str());
            return 1;
        }
        rt->housekeeping();
        stall_us_max = std::max(stall_us_max, worst);
        build_ms_max = std::max(build_ms_max, ms);
        build_ms_sum += ms;
    }
    // Control: the same watch for as long as all builds took, with the control thread
    // spinning instead of building. Pauses seen here are the machine's (a VM's vCPU
    // being descheduled), not the build's.
    std::atomic<bool> spinning{true};
    double idle_stall_us_max = 0;
    std::thread sampler([&] { idle_stall_us_max = watch(spinning); });
    const auto spin_until = clock::now() + std::chrono::duration<double, std::milli>(build_ms_sum);
    volatile uint64_t sink = 0;
    while (clock::now() < spin_until) sink = sink + 1;
    spinning.store(false);
    sampler.join();
    rt->stop();
    rt->quiesce();
    std::printf("{\"kind\": \"acl_rebuild\", \"aces\": %u, \"rounds\": %u, \"build_ms_mean\": %.2f, "
                "\"build_ms_max\": %.2f, \"worker_stall_us_max\": %.1f, \"no_build_stall_us_max\": %.1f, "
                "\"worker_iterations\": %lu}\n",
                aces, rounds, build_ms_sum / rounds, build_ms_max, stall_us_max, idle_stall_us_max,
                rt->stats().iterations);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const int eal = rte_eal_init(argc, argv);
    if (eal < 0) {
        std::fprintf(stderr, "rte_eal_init failed\n");
        return 2;
    }
    std::string dir = "out", tname = "aes128-gcm16";
    uint32_t size = 64, sas = 1;
    uint64_t packets = 1000000;
    uint32_t rebuild_aces = 0, rounds = 5;
    for (int i = eal + 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--dir") dir = next();
        else if (a == "--size") size = uint32_t(std::stoul(next()));
        else if (a == "--transform") tname = next();
        else if (a == "--packets") packets = std::stoull(next());
        else if (a == "--sas") sas = uint32_t(std::stoul(next()));
        else if (a == "--rebuild") rebuild_aces = uint32_t(std::stoul(next()));
        else if (a == "--rounds") rounds = uint32_t(std::stoul(next()));
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    const auto tr = crypto::transform_from_name(tname);
    if (!tr || size < 64 || size > 1500 || sas == 0 || sas > 250 || (dir != "out" && dir != "in")) {
        std::fprintf(stderr, "bad --transform, --size (64..1500), --sas (1..250) or --dir\n");
        return 2;
    }
    const bool outbound = dir == "out";
    if (rebuild_aces) return rebuild(rebuild_aces, rounds);

    DataplaneSpec spec;
    spec.ports.push_back({"inside0", "net_null_pi,no-rx=1", true, ip4(192, 0, 2, 1), 24, 1500});
    spec.ports.push_back({"outside0", "net_null_po,no-rx=1", false, ip4(198, 51, 100, 1), 24, 1500});
    spec.routes.push_back(RouteSpec{ip4(203, 0, 113, 0), 24, 1, ip4(198, 51, 100, 2)});
    for (uint32_t k = 0; k < sas; ++k) {
        MapEntrySpec e;
        e.seq = k + 1;
        AceSpec permit;
        permit.src = {ip4(192, 0, 2, 0), 24};
        permit.dst = {ip4(203, 0, 113, uint8_t(k)), 32};
        e.aces = {permit};
        spec.entries.push_back(e);
        spec.entry_port.push_back(1);
    }
    spec.worker_lcores.push_back(1);  // never launched: run_inline drives worker 0
    spec.mbufs = 4095;
    std::string err;
    auto rt = Runtime::create(spec, err);
    if (!rt) {
        std::fprintf(stderr, "runtime: %s\n", err.c_str());
        return 1;
    }
    rt->learn_neighbour(ip4(198, 51, 100, 2), 1, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x02}});
    rt->learn_neighbour(ip4(192, 0, 2, 10), 0, rte_ether_addr{{0x02, 0, 0, 0, 0, 0x0a}});
    const auto& ti = crypto::info(*tr);
    std::vector<uint8_t> enc(ti.cipher_key_len + ti.salt_len);
    for (size_t i = 0; i < enc.size(); ++i) enc[i] = uint8_t(i * 7 + 1);
    std::vector<uint8_t> auth(ti.auth_key_len, 0x11);
    for (uint32_t k = 0; k < sas; ++k) {
        SaSpec s;
        s.transform = *tr;
        s.enc_key = enc;
        s.auth_key = auth;
        s.spi = 0x1000 + k;
        s.local = ip4(198, 51, 100, 1);
        s.peer = ip4(198, 51, 100, 2);
        s.entry = k;
        s.replay_window = 0;
        SaSpec in = s;
        in.spi = 0x2000 + k;
        if (rt->set_active(k, s, err) < 0 || rt->add_inbound_sa(in, err) < 0) {
            std::fprintf(stderr, "SA: %s\n", err.c_str());
            return 1;
        }
    }

    // One burst of frames to replay: plaintext, or the same encrypted as the peer would.
    std::vector<std::vector<uint8_t>> frames;
    for (uint32_t i = 0; i < kBurst; ++i)
        frames.push_back(plain_frame(size, ip4(192, 0, 2, uint8_t(10 + i)), ip4(203, 0, 113, uint8_t(i % sas)),
                                     uint16_t(1024 + i)));
    if (!outbound) {
        auto ks = crypto::KeySchedule::create(*tr, enc, auth);
        auto eng = crypto::Engine::create();
        for (uint32_t i = 0; i < kBurst; ++i) {
            const uint32_t k = i % sas;
            EspSa sa{};
            EspSaConfig cfg;
            cfg.transform = *tr;
            cfg.keys = ks.keys.get();
            cfg.spi = 0x2000 + k;
            cfg.outer_src = ip4(198, 51, 100, 2);
            cfg.outer_dst = ip4(198, 51, 100, 1);
            cfg.first_seq = i + 1;
            esp_sa_init(sa, cfg);
            // swap src/dst of the inner packet: peer network -> inside host
            auto& f = frames[i];
            std::vector<uint8_t> inner(f.begin() + 14, f.end());
            put32(inner.data() + 12, ip4(203, 0, 113, uint8_t(k)));
            put32(inner.data() + 16, ip4(192, 0, 2, 10));
            put16(inner.data() + 10, 0);
            put16(inner.data() + 10, ip_csum(inner.data()));
            std::vector<uint8_t> buf(2048, 0);
            const uint32_t head = 128;
            std::memcpy(buf.data() + head, inner.data(), inner.size());
            EspBuf b{};
            b.data = buf.data() + head;
            b.len = uint32_t(inner.size());
            b.headroom = head;
            b.tailroom = uint32_t(buf.size() - head - inner.size());
            EspBuf* bp = &b;
            if (esp_encap_burst(sa, *eng, std::span<EspBuf*>(&bp, 1)) != 1) {
                std::fprintf(stderr, "encap failed\n");
                return 1;
            }
            std::vector<uint8_t> fr(14 + b.len);
            std::memcpy(fr.data(), f.data(), 14);
            std::memcpy(fr.data() + 14, b.data, b.len);
            f = fr;
        }
    }

    rte_mbuf* m[kBurst];
    uint64_t done = 0;
    std::chrono::nanoseconds in_pipeline{0};
    while (done < packets) {
        if (rte_pktmbuf_alloc_bulk(rt->pool(), m, kBurst) != 0) {
            std::fprintf(stderr, "mbuf pool empty: packets leak\n");
            return 1;
        }
        for (uint32_t i = 0; i < kBurst; ++i) {
            const auto& f = frames[i];
            std::memcpy(rte_pktmbuf_append(m[i], uint16_t(f.size())), f.data(), f.size());
        }
        const auto t0 = std::chrono::steady_clock::now();
        rt->run_inline(outbound ? 0 : 1, m, kBurst);
        in_pipeline += std::chrono::steady_clock::now() - t0;
        done += kBurst;
    }
    const Stats s = rt->stats();
    std::printf("dir=%s size=%u transform=%s sas=%u packets=%lu ns_per_packet=%.1f\n", dir.c_str(), size,
                tname.c_str(), sas, done, double(in_pipeline.count()) / double(done));
    std::printf("rx=%lu tx=%lu protected=%lu decrypted=%lu drops=%lu\n", s.rx, s.tx, s.protected_out,
                s.decrypted_in, s.total_drops());
    for (size_t d = 0; d < kDropReasons; ++d)
        if (s.drops[d]) std::printf("drop_%s=%lu\n", kDropNames[d], s.drops[d]);
    const bool ok = s.tx == done && s.total_drops() == 0;
    rt.reset();
    rte_eal_cleanup();
    return ok ? 0 : 1;
}
