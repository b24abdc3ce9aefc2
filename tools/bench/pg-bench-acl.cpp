// tools/bench/pg-bench-acl.cpp - build time, memory and lookup cost of the crypto-map
// classifier (dataplane::Classifier on rte_acl) for large crypto maps.
//
//   pg-bench-acl [EAL options] -- [--aces 1000,10000,100000] [--reps N]
//                                 [--shape host-port|subnets]
//
// For each count N it builds N crypto map entries of one permit ACE each (the shape of
// a hub with one manually keyed SA per remote selector, like the benchmark's 1,000-SA
// case), in both directions (outbound rules as written, inbound mirrored), REPS times,
// and prints one JSON object per count and direction:
//   {"kind": "acl", "shape": ..., "aces": N, "dir": "outbound", "build_ms": median,
//    "build_ms_min": .., "build_ms_max": .., "build_cpu_ms": median, "memory_bytes": ..,
//    "rss_delta_bytes": ..,
//    "contexts": .., "acl_rules": .., "lookup_ns": .., "lookup_ok": true}
// build_ms is ClassifierStats::build_ns (wall time); build_cpu_ms is the thread's CPU
// time for the same build, which stays meaningful on a machine shared with busy pollers.
// memory_bytes is ClassifierStats::memory_bytes (DPDK heap growth of the build: the
// rte_acl runtime tables); rss_delta_bytes is the process's resident-set growth while
// the classifier is alive (heap tables plus the host-side copies). lookup_ns is the
// outbound classify_burst cost per key for keys that hit random entries; every result
// is checked against the entry the key was made for (lookup_ok).
//
// Shapes (entry k, 0-based, seq k + 1):
//   host-port  permit udp 192.0.2.0/24 -> host 203.0.113.(1 + k % 254), dport 10000 + k / 254
//   subnets    permit ip  192.0.2.0/24 -> 10.0.0.0 + 32 k /27
// EAL: no ports are used; --no-huge -m 4096 is plenty for 100k ACEs.
#include <rte_eal.h>
#include <rte_errno.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "dataplane/classifier.hpp"

using namespace peregrine::dataplane;

namespace {

enum class Shape { host_port, subnets };

constexpr uint32_t ip4(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    return a << 24 | b << 16 | c << 8 | d;
}
constexpr uint8_t kUdp = 17;
constexpr uint32_t kLookupKeys = 4096;  // distinct keys cycled through in the lookup loop
constexpr uint32_t kBurst = 32;         // keys per classify_burst, as a worker's rx burst

AceSpec ace_for(uint32_t k, Shape shape) {
    AceSpec a;
    a.action = AceAction::permit;
    a.src = {ip4(192, 0, 2, 0), 24};
    if (shape == Shape::host_port) {
        a.proto = kUdp;
        a.dst = {ip4(203, 0, 113, 1 + k % 254), 32};
        a.dport = {uint16_t(10000 + k / 254), uint16_t(10000 + k / 254)};
    } else {
        a.proto = 0;
        a.dst = {ip4(10, 0, 0, 0) + 32 * k, 27};
    }
    return a;
}

// A packet that entry k (and only k) protects, in the outbound direction.
FlowKey key_for(uint32_t k, Shape shape, uint16_t sport) {
    const AceSpec a = ace_for(k, shape);
    const uint32_t dst = shape == Shape::host_port ? a.dst.addr : a.dst.addr + 5;
    const uint16_t dport = shape == Shape::host_port ? a.dport.lo : 443;
    return make_flow_key(kUdp, ip4(192, 0, 2, 7), dst, sport, dport);
}

double thread_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

size_t rss_bytes() {
    std::ifstream f("/proc/self/statm");
    size_t pages_total = 0, pages_rss = 0;
    f >> pages_total >> pages_rss;
    return pages_rss * 4096;
}

std::vector<uint32_t> parse_list(const char* s) {
    std::vector<uint32_t> v;
    std::string cur;
    for (const char* p = s;; ++p) {
        if (*p == ',' || *p == '\0') {
            if (!cur.empty()) v.push_back(uint32_t(std::strtoul(cur.c_str(), nullptr, 10)));
            cur.clear();
            if (*p == '\0') break;
        } else {
            cur += *p;
        }
    }
    return v;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// ns per key over ~0.3 s; false if any result is not the expected entry.
bool lookup(const Classifier& c, uint32_t n_entries, Shape shape, double& ns_per_key) {
    std::mt19937 rng(42);
    std::vector<FlowKey> keys(kLookupKeys);
    std::vector<uint32_t> want(kLookupKeys);
    for (uint32_t i = 0; i < kLookupKeys; ++i) {
        want[i] = rng() % n_entries;
        keys[i] = key_for(want[i], shape, uint16_t(1024 + i));
    }
    std::vector<const FlowKey*> ptrs(kLookupKeys);
    for (uint32_t i = 0; i < kLookupKeys; ++i) ptrs[i] = &keys[i];
    std::vector<uint32_t> out(kLookupKeys);
    c.classify_burst(ptrs.data(), kLookupKeys, out.data());
    bool ok = out == want;
    uint64_t n = 0;
    const auto t0 = std::chrono::steady_clock::now();
    double el = 0;
    do {
        for (uint32_t b = 0; b < kLookupKeys; b += kBurst) {
            c.classify_burst(ptrs.data() + b, kBurst, out.data() + b);
            n += kBurst;
        }
        el = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } while (el < 0.3);
    ok = ok && out == want;
    ns_per_key = el * 1e9 / double(n);
    return ok;
}

int usage() {
    std::fprintf(stderr,
                 "usage: pg-bench-acl [EAL options] -- [--aces N1,N2,..] [--reps N] "
                 "[--shape host-port|subnets]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    const int eal = rte_eal_init(argc, argv);
    if (eal < 0) {
        std::fprintf(stderr, "pg-bench-acl: rte_eal_init failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    std::vector<uint32_t> counts = {1000, 10000, 100000};
    uint32_t reps = 3;
    Shape shape = Shape::host_port;
    for (int i = eal + 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (i + 1 >= argc) return usage();
        const char* v = argv[++i];
        if (a == "--aces")
            counts = parse_list(v);
        else if (a == "--reps")
            reps = uint32_t(std::atoi(v));
        else if (a == "--shape" && std::strcmp(v, "host-port") == 0)
            shape = Shape::host_port;
        else if (a == "--shape" && std::strcmp(v, "subnets") == 0)
            shape = Shape::subnets;
        else
            return usage();
    }
    if (reps == 0 || counts.empty()) return usage();
    const char* shape_name = shape == Shape::host_port ? "host-port" : "subnets";

    int failures = 0;
    for (const uint32_t n : counts) {
        if (n == 0 || n > 400000) return usage();
        std::vector<MapEntrySpec> entries(n);
        for (uint32_t k = 0; k < n; ++k) {
            entries[k].seq = k + 1;
            entries[k].aces.push_back(ace_for(k, shape));
        }
        for (const Direction dir : {Direction::outbound, Direction::inbound}) {
            std::vector<double> ms, cpu_ms;
            ClassifierStats st{};
            size_t rss_delta = 0;
            double lookup_ns = 0;
            bool lookup_ok = true;
            std::string error;
            for (uint32_t r = 0; r < reps; ++r) {
                const size_t rss0 = rss_bytes();
                const double cpu0 = thread_cpu_ms();
                auto res = Classifier::build(entries, dir);
                cpu_ms.push_back(thread_cpu_ms() - cpu0);
                if (!res.classifier) {
                    error = res.error;
                    break;
                }
                st = res.classifier->stats();
                ms.push_back(double(st.build_ns) / 1e6);
                const size_t rss1 = rss_bytes();
                rss_delta = std::max(rss_delta, rss1 > rss0 ? rss1 - rss0 : 0);
                if (r == 0 && dir == Direction::outbound)
                    lookup_ok = lookup(*res.classifier, n, shape, lookup_ns);
            }
            const char* dname = dir == Direction::outbound ? "outbound" : "inbound";
            if (!error.empty() || !lookup_ok) {
                ++failures;
                std::printf(
                    "{\"kind\": \"acl\", \"shape\": \"%s\", \"aces\": %u, \"dir\": \"%s\", "
                    "\"error\": \"%s\"}\n",
                    shape_name, n, dname,
                    error.empty() ? "lookup returned a wrong entry" : error.c_str());
                std::fflush(stdout);
                continue;
            }
            std::printf(
                "{\"kind\": \"acl\", \"shape\": \"%s\", \"aces\": %u, \"dir\": \"%s\", \"reps\": "
                "%u, "
                "\"build_ms\": %.3f, \"build_ms_min\": %.3f, \"build_ms_max\": %.3f, "
                "\"build_cpu_ms\": %.3f, "
                "\"memory_bytes\": %zu, \"rss_delta_bytes\": %zu, \"contexts\": %u, "
                "\"acl_rules\": %u",
                shape_name, n, dname, reps, median(ms), *std::min_element(ms.begin(), ms.end()),
                *std::max_element(ms.begin(), ms.end()), median(cpu_ms), st.memory_bytes, rss_delta,
                st.contexts, st.acl_rules);
            if (dir == Direction::outbound)
                std::printf(", \"lookup_ns\": %.2f, \"lookup_ok\": true", lookup_ns);
            std::printf("}\n");
            std::fflush(stdout);
        }
    }
    rte_eal_cleanup();
    return failures ? 1 : 0;
}
