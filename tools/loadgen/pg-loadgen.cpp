// tools/loadgen/pg-loadgen.cpp - a rate-controlled pcap replay generator for load tests.
//
//   pg-loadgen [EAL options] -- --pcap FILE [options]           one trial, then exit
//   pg-loadgen [EAL options] -- --pcap FILE [options] --commands  one trial per stdin line
//
// It reads the pcap into mbufs once, transmits them round-robin on the tx port at an
// offered rate (TSC pacing: the packets due by now are sent in batches, so a 100 kpps
// trial is not 32-packet bursts every 320 us), receives and counts on the rx port
// (optionally checking that every frame is ESP with the expected SPI and outer
// addresses, or plain IPv4), keeps receiving for a drain time after the last transmit,
// and prints one JSON line of totals per trial. Ports are EAL vdevs (--vdev
// net_memif0,role=client,socket=/tmp/x.sock) or NICs; the tx/rx ports are DPDK port ids.
//
// Only the main lcore runs, and it busy-polls only during a trial. In --commands mode
// it blocks on stdin between trials: each line holds options that are applied to the
// command line's settings (for example "--rate 2000000 --duration 3", or
// "--tx-port 1 --rx-port 0 --pcap esp.pcap") and runs one trial with them; "quit" or
// the end of the input exits.
//
// Accounting per trial (every offered packet ends in exactly one of these):
//   offered = sent + tx_failed         tx_failed: tx_burst did not take it (full ring);
//                                      the packet is dropped, never retried, so a full
//                                      ring at the device under test counts as loss
//   With --rate 0 (as fast as possible) a refused packet is offered again instead:
//   offered = sent, and the refusals are counted as tx_busy.
//   received = rx_ok + rx_bad          rx_bad: failed the --check (a sample is reported)
// The caller computes loss = offered - received (memif links never drop: a receiver
// that cannot keep up fills its ring and shows up here as tx_failed).
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <netinet/in.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tools/pcap_io.hpp"

namespace {

constexpr uint16_t kRxBurst = 64;          // rx polls drain faster than tx fills
constexpr uint16_t kMaxBurst = 256;        // upper bound of --burst
constexpr uint16_t kRingDesc = 1024;       // per queue, both directions
constexpr uint32_t kRxMbufs = 16383;       // rx ring + bursts in flight, with room to spare
constexpr uint32_t kMaxFrame = 9000;       // larger pcap records are rejected
constexpr uint64_t kMaxPcapPackets = 4u << 20;
constexpr double kBatchesPerSecond = 1e5;  // pacing granularity: at most ~10 us between batches
constexpr uint64_t kQuietMs = 20;          // pre-trial flush: rx silent this long

std::atomic<bool> g_stop{false};

// ------------------------------------------------------------------ settings

struct Prefix {
    uint32_t addr = 0;  // host order
    uint32_t mask = 0;  // 0 = any
    bool match(uint32_t a) const { return (a & mask) == addr; }
};

enum class Check { none, esp, ipv4 };

struct Settings {
    std::string pcap;
    uint16_t tx_port = 0;
    std::optional<uint16_t> rx_port;  // default: 1 if there are two ports, else 0
    double rate = 0;                  // packets per second; 0 = as fast as the port takes them
    double duration = 1;              // seconds
    uint64_t count = 0;               // stop after offering this many (0 = duration only)
    uint64_t drain_ms = 300;
    uint64_t max_lag_us = 100;
    uint16_t burst = 32;
    Check check = Check::none;
    uint32_t spi = 0;  // 0 = any
    bool udp_encap = false;
    Prefix src, dst;
    std::optional<rte_ether_addr> dst_mac;  // rewrite the loaded frames' destination MAC
    std::string capture;
    uint32_t capture_count = 64;
    double link_timeout = 15;
    bool commands = false;
};

bool parse_ipv4(const std::string& s, uint32_t& out) {
    unsigned a, b, c, d;
    char tail;
    if (std::sscanf(s.c_str(), "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
        c > 255 || d > 255)
        return false;
    out = (a << 24) | (b << 16) | (c << 8) | d;
    return true;
}

bool parse_prefix(const std::string& s, Prefix& p) {
    const size_t slash = s.find('/');
    unsigned len = 32;
    if (slash != std::string::npos) {
        char* end = nullptr;
        len = unsigned(std::strtoul(s.c_str() + slash + 1, &end, 10));
        if (*end || len > 32 || slash + 1 == s.size()) return false;
    }
    uint32_t a;
    if (!parse_ipv4(s.substr(0, slash), a)) return false;
    p.mask = len ? ~uint32_t(0) << (32 - len) : 0;
    p.addr = a & p.mask;
    return true;
}

bool parse_num(const std::string& s, double& out) {
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return !s.empty() && *end == 0 && out >= 0;
}

bool parse_u64(const std::string& s, uint64_t& out) {
    char* end = nullptr;
    out = std::strtoull(s.c_str(), &end, 0);
    return !s.empty() && *end == 0 && s[0] != '-';
}

const char* usage() {
    return "usage: pg-loadgen [EAL options] -- --pcap FILE [options]\n"
           "  --pcap FILE           frames to replay round-robin (classic pcap, Ethernet)\n"
           "  --tx-port N           DPDK port to transmit on (default 0)\n"
           "  --rx-port N           DPDK port to count on (default 1 with two ports, else 0)\n"
           "  --rate PPS            offered rate, packets/s (default 0: as fast as possible)\n"
           "  --duration S          trial length in seconds (default 1)\n"
           "  --count N             stop after offering N packets (default 0: no limit)\n"
           "  --drain-ms MS         keep receiving after the last transmit (default 300)\n"
           "  --burst N             largest tx batch (default 32)\n"
           "  --max-lag-us US       after a generator stall, send at most this much backlog (and\n"
           "                        at least one burst) at full speed, skip the rest (counted\n"
           "                        as late; default 100)\n"
           "  --check esp|ipv4|none every received frame must be ESP (or ESP-in-UDP with\n"
           "                        --udp-encap) / plain IPv4 (not ESP); default none\n"
           "  --spi N               with --check esp: the expected SPI\n"
           "  --src A[/LEN], --dst A[/LEN]  expected (outer) IPv4 source / destination\n"
           "  --udp-encap           ESP is carried in UDP port 4500 (RFC 3948)\n"
           "  --dst-mac MAC         rewrite the destination MAC of the replayed frames\n"
           "  --capture FILE        write the first --capture-count received frames (64)\n"
           "  --link-timeout S      wait this long for the links to come up (default 15)\n"
           "  --commands            read one line of options per trial from stdin; 'quit' ends\n";
}

// Applies the options in args[0..] to s. Returns an error message or "".
std::string apply_options(const std::vector<std::string>& args, Settings& s) {
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&](std::string& v) -> bool {
            if (i + 1 >= args.size()) return false;
            v = args[++i];
            return true;
        };
        std::string v;
        uint64_t u = 0;
        if (a == "--commands") {
            s.commands = true;
            continue;
        }
        if (a == "--udp-encap") {
            s.udp_encap = true;
            continue;
        }
        if (!value(v)) return "option " + a + " needs a value";
        if (a == "--pcap") {
            s.pcap = v;
        } else if (a == "--tx-port" || a == "--rx-port") {
            if (!parse_u64(v, u) || u >= RTE_MAX_ETHPORTS) return a + ": bad port id '" + v + "'";
            if (a == "--tx-port") s.tx_port = uint16_t(u);
            else s.rx_port = uint16_t(u);
        } else if (a == "--rate") {
            if (!parse_num(v, s.rate)) return "--rate needs packets per second >= 0";
        } else if (a == "--duration") {
            if (!parse_num(v, s.duration) || s.duration > 3600) return "--duration needs 0..3600 seconds";
        } else if (a == "--count") {
            if (!parse_u64(v, s.count)) return "--count needs a packet count";
        } else if (a == "--drain-ms") {
            if (!parse_u64(v, s.drain_ms) || s.drain_ms > 60000) return "--drain-ms needs 0..60000";
        } else if (a == "--max-lag-us") {
            if (!parse_u64(v, s.max_lag_us) || s.max_lag_us > 1000000) return "--max-lag-us needs 0..1000000";
        } else if (a == "--burst") {
            if (!parse_u64(v, u) || u == 0 || u > kMaxBurst) return "--burst needs 1..256";
            s.burst = uint16_t(u);
        } else if (a == "--check") {
            if (v == "esp") s.check = Check::esp;
            else if (v == "ipv4") s.check = Check::ipv4;
            else if (v == "none") s.check = Check::none;
            else return "--check takes esp, ipv4 or none";
        } else if (a == "--spi") {
            if (!parse_u64(v, u) || u > 0xffffffffu) return "--spi needs a 32-bit number";
            s.spi = uint32_t(u);
        } else if (a == "--src" || a == "--dst") {
            if (!parse_prefix(v, a == "--src" ? s.src : s.dst)) return a + ": bad address '" + v + "'";
        } else if (a == "--dst-mac") {
            rte_ether_addr m{};
            if (rte_ether_unformat_addr(v.c_str(), &m) != 0) return "--dst-mac: bad MAC '" + v + "'";
            s.dst_mac = m;
        } else if (a == "--capture") {
            s.capture = v;
        } else if (a == "--capture-count") {
            if (!parse_u64(v, u) || u > 1000000) return "--capture-count needs 0..1000000";
            s.capture_count = uint32_t(u);
        } else if (a == "--link-timeout") {
            if (!parse_num(v, s.link_timeout)) return "--link-timeout needs seconds";
        } else {
            return "unknown option '" + a + "'";
        }
    }
    return "";
}

// ------------------------------------------------------------------ DPDK resources

struct PoolDeleter {
    void operator()(rte_mempool* p) const { rte_mempool_free(p); }
};
using PoolPtr = std::unique_ptr<rte_mempool, PoolDeleter>;

// The replayed frames: one mbuf each, never modified after loading. Each transmit
// takes one extra reference, which the driver (or the tx-failure path) releases, so
// a frame can be in flight several times at once.
class Frames {
  public:
    Frames() = default;
    Frames(const Frames&) = delete;
    Frames& operator=(const Frames&) = delete;
    ~Frames() { release(); }

    bool load(const std::string& path, const std::optional<rte_ether_addr>& dst_mac, std::string& err) {
        release();
        peregrine::tools::PcapReader r;
        if (!r.open(path, err)) return false;
        if (r.linktype() != peregrine::tools::kLinkEthernet) {
            err = path + ": link type " + std::to_string(r.linktype()) + " is not Ethernet (1)";
            return false;
        }
        std::vector<peregrine::tools::PcapRecord> recs;
        peregrine::tools::PcapRecord rec;
        size_t longest = 0;
        for (;;) {
            const auto st = r.next(rec, err);
            if (st == peregrine::tools::PcapReader::Status::error) return false;
            if (st == peregrine::tools::PcapReader::Status::eof) break;
            if (rec.data.size() < RTE_ETHER_HDR_LEN || rec.data.size() > kMaxFrame) {
                err = path + ": record " + std::to_string(recs.size() + 1) + " is " +
                      std::to_string(rec.data.size()) + " bytes (14.." + std::to_string(kMaxFrame) + ")";
                return false;
            }
            if (recs.size() == kMaxPcapPackets) {
                err = path + ": more than " + std::to_string(kMaxPcapPackets) + " packets";
                return false;
            }
            longest = std::max(longest, rec.data.size());
            recs.push_back(std::move(rec));
        }
        if (recs.empty()) {
            err = path + ": no packets";
            return false;
        }
        const std::string name = "lg_frames" + std::to_string(generation_++);
        pool_.reset(rte_pktmbuf_pool_create(name.c_str(), unsigned(recs.size()), 0, 0,
                                            uint16_t(RTE_PKTMBUF_HEADROOM + longest), rte_socket_id()));
        if (!pool_) {
            err = std::string("cannot create the frame pool: ") + rte_strerror(rte_errno);
            return false;
        }
        bytes_ = 0;
        for (const auto& rc : recs) {
            rte_mbuf* m = rte_pktmbuf_alloc(pool_.get());
            if (!m) {
                err = "frame pool exhausted";
                return false;
            }
            char* d = rte_pktmbuf_append(m, uint16_t(rc.data.size()));
            std::memcpy(d, rc.data.data(), rc.data.size());
            if (dst_mac) std::memcpy(d, dst_mac->addr_bytes, RTE_ETHER_ADDR_LEN);
            bytes_ += rc.data.size();
            mbufs_.push_back(m);
        }
        return true;
    }
    size_t size() const { return mbufs_.size(); }
    rte_mbuf* at(size_t i) const { return mbufs_[i]; }
    uint64_t total_bytes() const { return bytes_; }

  private:
    void release() {
        for (rte_mbuf* m : mbufs_) rte_pktmbuf_free(m);
        mbufs_.clear();
        // A NIC may still hold transmit references to the old frames: keep their pool
        // until the object dies (after the ports are closed).
        if (pool_) retired_.push_back(std::move(pool_));
    }
    PoolPtr pool_;
    std::vector<PoolPtr> retired_;
    std::vector<rte_mbuf*> mbufs_;
    uint64_t bytes_ = 0;
    unsigned generation_ = 0;
};

// Stops and closes the ports it lists when it goes out of scope.
struct StartedPorts {
    std::vector<uint16_t> ids;
    StartedPorts() = default;
    StartedPorts(const StartedPorts&) = delete;
    StartedPorts& operator=(const StartedPorts&) = delete;
    ~StartedPorts() {
        for (uint16_t id : ids) {
            rte_eth_dev_stop(id);
            rte_eth_dev_close(id);
        }
    }
};

bool setup_port(uint16_t port, rte_mempool* rx_pool, std::string& err) {
    if (!rte_eth_dev_is_valid_port(port)) {
        err = "port " + std::to_string(port) + " does not exist (" +
              std::to_string(rte_eth_dev_count_avail()) + " port(s) probed: give them with --vdev or -a)";
        return false;
    }
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(port, 1, 1, &conf) != 0) {
        err = "port " + std::to_string(port) + ": rte_eth_dev_configure failed";
        return false;
    }
    const int socket = rte_eth_dev_socket_id(port);
    if (rte_eth_rx_queue_setup(port, 0, kRingDesc, socket, nullptr, rx_pool) != 0 ||
        rte_eth_tx_queue_setup(port, 0, kRingDesc, socket, nullptr) != 0) {
        err = "port " + std::to_string(port) + ": queue setup failed";
        return false;
    }
    if (rte_eth_dev_start(port) != 0) {
        err = "port " + std::to_string(port) + ": rte_eth_dev_start failed";
        return false;
    }
    rte_eth_promiscuous_enable(port);  // best effort: NICs must see the DUT's frames
    return true;
}

bool wait_link(uint16_t port, double timeout_s) {
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t end = rte_rdtsc() + uint64_t(timeout_s * double(hz));
    while (!g_stop.load(std::memory_order_relaxed)) {
        rte_eth_link link{};
        if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP) return true;
        if (rte_rdtsc() > end) return false;
        rte_delay_us_sleep(10000);  // a control wait, not the data path: sleep
    }
    return false;
}

// ------------------------------------------------------------------ receive check

enum class Verdict : uint8_t { ok, not_ipv4, bad_src, bad_dst, not_esp, bad_spi, is_esp };
constexpr const char* kVerdictNames[] = {"ok", "not IPv4", "unexpected source", "unexpected destination",
                                         "not ESP", "unexpected SPI", "ESP where plain IPv4 was expected"};

inline uint32_t be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

Verdict classify(const Settings& s, const uint8_t* f, uint32_t len) {
    if (s.check == Check::none) return Verdict::ok;
    uint32_t off = 12;
    if (len < off + 2) return Verdict::not_ipv4;
    uint16_t et = uint16_t((f[off] << 8) | f[off + 1]);
    if (et == RTE_ETHER_TYPE_VLAN && len >= off + 6) {
        off += 4;
        et = uint16_t((f[off] << 8) | f[off + 1]);
    }
    off += 2;
    if (et != RTE_ETHER_TYPE_IPV4 || len < off + 20 || (f[off] >> 4) != 4) return Verdict::not_ipv4;
    const uint8_t* ip = f + off;
    const uint32_t ihl = (ip[0] & 15u) * 4;
    if (ihl < 20 || len < off + ihl) return Verdict::not_ipv4;
    if (!s.src.match(be32(ip + 12))) return Verdict::bad_src;
    if (!s.dst.match(be32(ip + 16))) return Verdict::bad_dst;
    const uint8_t* l4 = ip + ihl;
    const uint32_t l4len = len - off - ihl;
    std::optional<uint32_t> spi;
    if (ip[9] == IPPROTO_ESP && l4len >= 8) spi = be32(l4);
    else if (ip[9] == IPPROTO_UDP && l4len >= 16 && ((l4[2] << 8) | l4[3]) == 4500 && be32(l4 + 8) != 0)
        spi = be32(l4 + 8);  // RFC 3948: a zero "SPI" is the non-ESP marker (IKE)
    if (s.check == Check::ipv4) return spi ? Verdict::is_esp : Verdict::ok;
    if (!spi || (ip[9] == IPPROTO_UDP) != s.udp_encap) return Verdict::not_esp;
    if (s.spi && *spi != s.spi) return Verdict::bad_spi;
    return Verdict::ok;
}

// ------------------------------------------------------------------ one trial

struct Totals {
    uint64_t offered = 0, sent = 0, tx_failed = 0, tx_busy = 0, sent_bytes = 0;
    uint64_t late = 0, stalls = 0;  // packets skipped after generator stalls, and how often
    uint64_t received = 0, rx_bytes = 0, rx_ok = 0, rx_bad = 0, stale = 0;
    uint64_t bad_by[std::size(kVerdictNames)] = {};
    double tx_seconds = 0, total_seconds = 0;
};

class Receiver {
  public:
    Receiver(const Settings& s, Totals& t) : s_(s), t_(t) {}
    // Returns the number of frames received.
    uint16_t poll(uint16_t port) {
        rte_mbuf* m[kRxBurst];
        const uint16_t n = rte_eth_rx_burst(port, 0, m, kRxBurst);
        for (uint16_t i = 0; i < n; ++i) {
            const uint8_t* f = rte_pktmbuf_mtod(m[i], const uint8_t*);
            const uint32_t len = m[i]->data_len;  // frames of one segment (checked below)
            t_.rx_bytes += m[i]->pkt_len;
            const Verdict v = m[i]->nb_segs == 1 ? classify(s_, f, len) : Verdict::not_ipv4;
            if (v == Verdict::ok) {
                ++t_.rx_ok;
            } else {
                ++t_.rx_bad;
                ++t_.bad_by[size_t(v)];
            }
            if (captured_.size() < s_.capture_count && !s_.capture.empty())
                captured_.emplace_back(f, f + len);
        }
        t_.received += n;
        if (n) rte_pktmbuf_free_bulk(m, n);
        return n;
    }
    const std::vector<std::vector<uint8_t>>& captured() const { return captured_; }

  private:
    const Settings& s_;
    Totals& t_;
    std::vector<std::vector<uint8_t>> captured_;
};

// Empties the rx port of frames left over from before the trial (counted as stale).
uint64_t flush_rx(uint16_t port) {
    const uint64_t hz = rte_get_tsc_hz();
    const uint64_t give_up = rte_rdtsc() + hz;  // a port that never goes quiet: start anyway
    uint64_t quiet_since = rte_rdtsc(), n = 0;
    rte_mbuf* m[kRxBurst];
    while (rte_rdtsc() < give_up && rte_rdtsc() - quiet_since < hz * kQuietMs / 1000) {
        const uint16_t k = rte_eth_rx_burst(port, 0, m, kRxBurst);
        if (k) {
            rte_pktmbuf_free_bulk(m, k);
            n += k;
            quiet_since = rte_rdtsc();
        }
    }
    return n;
}

// Offers the frames at s.rate on s.tx_port for s.duration (or s.count packets), counting
// what `rcv` receives on rx_port into t, then drains.
void run_trial(const Settings& s, const Frames& frames, uint16_t rx_port, Receiver& rcv, Totals& t) {
    t.stale = flush_rx(rx_port);
    const uint64_t hz = rte_get_tsc_hz();
    const double per_tsc = s.rate / double(hz);
    const uint64_t batch = s.rate > 0
        ? std::clamp<uint64_t>(uint64_t(s.rate / kBatchesPerSecond), 1, s.burst)
        : s.burst;
    // Largest backlog sent at full speed after a pause: --max-lag-us worth of packets, at
    // least one full burst (at low rates a few ms of scheduling delay is no burst at all).
    const uint64_t max_lag = std::max<uint64_t>(s.burst, uint64_t(s.rate * double(s.max_lag_us) / 1e6));
    const uint64_t t0 = rte_rdtsc();
    const uint64_t t_end = t0 + uint64_t(s.duration * double(hz));
    size_t next = 0;
    rte_mbuf* tx[kMaxBurst];
    uint64_t now = t0;
    while (!g_stop.load(std::memory_order_relaxed)) {
        now = rte_rdtsc();
        if (now >= t_end || (s.count && t.offered >= s.count)) break;
        rcv.poll(rx_port);
        uint64_t due = s.burst;
        if (s.rate > 0) {
            // packets due since t0 minus those offered: the deficit we may send now
            const uint64_t should = uint64_t(double(now - t0) * per_tsc) - t.late;
            if (should < t.offered + batch) continue;
            if (should - t.offered > max_lag) {
                // We were descheduled: sending the backlog at full speed would be a burst
                // the device under test was never offered in a constant-rate test. Skip it.
                t.late += should - t.offered - batch;
                ++t.stalls;
                continue;
            }
            due = std::min<uint64_t>(should - t.offered, s.burst);
        }
        if (s.count) due = std::min<uint64_t>(due, s.count - t.offered);
        for (uint64_t i = 0; i < due; ++i) {
            tx[i] = frames.at(next);
            rte_mbuf_refcnt_update(tx[i], 1);
            t.sent_bytes += tx[i]->pkt_len;
            if (++next == frames.size()) next = 0;
        }
        const uint16_t sent = rte_eth_tx_burst(s.tx_port, 0, tx, uint16_t(due));
        for (uint64_t i = sent; i < due; ++i) {
            t.sent_bytes -= tx[i]->pkt_len;
            rte_pktmbuf_free(tx[i]);  // drops our extra reference only
        }
        t.sent += sent;
        if (s.rate > 0) {
            t.offered += due;
            t.tx_failed += due - sent;
        } else {  // as fast as the port takes them: a refused batch is offered again
            t.offered += sent;
            t.tx_busy += due - sent;
            if (sent < due) next = (next + frames.size() - (due - sent) % frames.size()) % frames.size();
        }
    }
    t.tx_seconds = double(now - t0) / double(hz);
    // Drain: keep counting until everything sent came back, or the drain time is over.
    const uint64_t drain_end = rte_rdtsc() + hz * s.drain_ms / 1000;
    while (rte_rdtsc() < drain_end && t.received < t.sent && !g_stop.load(std::memory_order_relaxed))
        rcv.poll(rx_port);
    t.total_seconds = double(rte_rdtsc() - t0) / double(hz);
}

std::string json(const Settings& s, const Totals& t, uint16_t rx_port) {
    char buf[1024];
    const double secs = t.tx_seconds > 0 ? t.tx_seconds : 1e-9;
    std::snprintf(buf, sizeof buf,
                  "{\"rate_pps\": %.0f, \"duration_s\": %.6f, \"tx_port\": %u, \"rx_port\": %u, "
                  "\"offered\": %" PRIu64 ", \"sent\": %" PRIu64 ", \"tx_failed\": %" PRIu64
                  ", \"tx_busy\": %" PRIu64 ", \"sent_bytes\": %" PRIu64 ", \"received\": %" PRIu64 ", \"rx_bytes\": %" PRIu64
                  ", \"rx_ok\": %" PRIu64 ", \"rx_bad\": %" PRIu64 ", \"stale\": %" PRIu64
                  ", \"late\": %" PRIu64 ", \"stalls\": %" PRIu64 ", \"lost\": %" PRId64 ", \"offered_pps\": %.1f, \"sent_pps\": %.1f, \"received_pps\": %.1f",
                  s.rate, t.tx_seconds, s.tx_port, rx_port, t.offered, t.sent, t.tx_failed, t.tx_busy, t.sent_bytes,
                  t.received, t.rx_bytes, t.rx_ok, t.rx_bad, t.stale, t.late, t.stalls, int64_t(t.offered - t.received),
                  double(t.offered) / secs, double(t.sent) / secs, double(t.received) / secs);
    std::string out = buf;
    if (t.rx_bad) {
        out += ", \"rx_bad_by\": {";
        bool first = true;
        for (size_t v = 1; v < std::size(kVerdictNames); ++v) {
            if (!t.bad_by[v]) continue;
            out += std::string(first ? "" : ", ") + "\"" + kVerdictNames[v] + "\": " + std::to_string(t.bad_by[v]);
            first = false;
        }
        out += "}";
    }
    if (g_stop.load()) out += ", \"interrupted\": true";
    return out + "}";
}

bool write_capture(const std::string& path, const Receiver& r, std::string& err) {
    peregrine::tools::PcapWriter w;
    if (!w.open(path, peregrine::tools::kLinkEthernet, err)) return false;
    uint32_t i = 0;
    for (const auto& f : r.captured())
        if (!w.write(0, i++, f, err)) return false;
    return w.close(err);
}

std::vector<std::string> split_words(const std::string& line) {
    std::istringstream is(line);
    std::vector<std::string> v;
    for (std::string w; is >> w;) v.push_back(w);
    return v;
}

void on_signal(int) { g_stop.store(true); }

int run(int argc, char** argv) {
    const int eal = rte_eal_init(argc, argv);
    if (eal < 0) {
        std::fprintf(stderr, "pg-loadgen: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        return 2;
    }
    struct sigaction sa {};
    sa.sa_handler = on_signal;  // no SA_RESTART: a blocking read of the next command returns
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    Settings s;
    std::vector<std::string> args;
    for (int i = eal + 1; i < argc; ++i) args.emplace_back(argv[i]);
    for (const auto& a : args)
        if (a == "-h" || a == "--help") {
            std::fputs(usage(), stdout);
            return 0;
        }
    std::string err = apply_options(args, s);
    if (err.empty() && s.pcap.empty()) err = "no --pcap FILE";
    if (!err.empty()) {
        std::fprintf(stderr, "pg-loadgen: %s\n%s", err.c_str(), usage());
        return 2;
    }
    PoolPtr rx_pool(rte_pktmbuf_pool_create("lg_rx", kRxMbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                            rte_socket_id()));
    if (!rx_pool) {
        std::fprintf(stderr, "pg-loadgen: cannot create the rx pool: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    Frames frames;  // before `ports`: the ports are closed (and drop their mbufs) first
    const uint16_t nports = rte_eth_dev_count_avail();
    if (!s.rx_port) s.rx_port = nports >= 2 ? 1 : 0;
    StartedPorts ports;
    uint16_t pid;
    RTE_ETH_FOREACH_DEV(pid) {
        ports.ids.push_back(pid);  // closed by `ports` even if the set-up fails half-way
        if (!setup_port(pid, rx_pool.get(), err)) {
            std::fprintf(stderr, "pg-loadgen: %s\n", err.c_str());
            return 1;
        }
    }
    if (nports == 0) {
        std::fprintf(stderr, "pg-loadgen: no ports: give them with --vdev or -a\n");
        return 1;
    }
    RTE_ETH_FOREACH_DEV(pid) {
        if (!wait_link(pid, s.link_timeout)) {
            std::fprintf(stderr, "pg-loadgen: port %u: link down after %.0f s (is the peer running?)\n", pid,
                         s.link_timeout);
            return 1;
        }
    }
    std::string loaded;  // pcap path and destination MAC of the frames in `frames`
    int rc = 0;
    auto one = [&]() -> bool {
        if (!rte_eth_dev_is_valid_port(s.tx_port) || !rte_eth_dev_is_valid_port(*s.rx_port)) {
            std::fprintf(stderr, "pg-loadgen: tx port %u / rx port %u: no such port\n", s.tx_port, *s.rx_port);
            return false;
        }
        char mac[RTE_ETHER_ADDR_FMT_SIZE] = "";
        if (s.dst_mac) rte_ether_format_addr(mac, sizeof mac, &*s.dst_mac);
        if (s.pcap + "|" + mac != loaded) {
            if (!frames.load(s.pcap, s.dst_mac, err)) {
                std::fprintf(stderr, "pg-loadgen: %s\n", err.c_str());
                return false;
            }
            loaded = s.pcap + "|" + mac;
            std::fprintf(stderr, "pg-loadgen: %s: %zu frames, %" PRIu64 " bytes\n", s.pcap.c_str(),
                         frames.size(), frames.total_bytes());
        }
        Totals t;
        Receiver r(s, t);
        run_trial(s, frames, *s.rx_port, r, t);
        // The capture is complete on disk before the result line announces the trial's end.
        if (!s.capture.empty() && !write_capture(s.capture, r, err)) {
            std::fprintf(stderr, "pg-loadgen: capture: %s\n", err.c_str());
            return false;
        }
        std::printf("%s\n", json(s, t, *s.rx_port).c_str());
        std::fflush(stdout);
        return true;
    };
    if (!s.commands) {
        rc = one() ? 0 : 1;
    } else {
        const Settings base = s;
        std::printf("{\"ready\": true, \"ports\": %u}\n", nports);
        std::fflush(stdout);
        for (std::string line; !g_stop.load() && std::getline(std::cin, line);) {
            const auto words = split_words(line);
            if (!words.empty() && words[0] == "quit") break;
            Settings next = base;  // each line starts from the command line's settings
            err = apply_options(words, next);
            if (!err.empty()) {
                std::replace(err.begin(), err.end(), '"', '\'');  // keep the line valid JSON
                std::replace(err.begin(), err.end(), '\\', '/');
                std::printf("{\"error\": \"%s\"}\n", err.c_str());
                std::fflush(stdout);
                continue;
            }
            s = next;
            if (!one()) {
                std::printf("{\"error\": \"trial failed, see stderr\"}\n");
                std::fflush(stdout);
            }
        }
    }
    return rc;
}

}  // namespace

int main(int argc, char** argv) {
    const int rc = run(argc, argv);
    rte_eal_cleanup();
    return rc;
}
