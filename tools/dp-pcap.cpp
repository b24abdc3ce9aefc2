// tools/dp-pcap.cpp - run the real data-plane runtime (workers, classifier, ESP,
// routes, RCU tables) between two net_pcap ports with one static SA pair, until
// the input pcaps are consumed; print the counters as key=value lines.
//
//   pg-dp-pcap [EAL options] -- --inside-rx F --inside-tx F --outside-rx F --outside-tx F
//              --transform NAME --enc-key HEX [--auth-key HEX] --spi-out N --spi-in N
//              [--udp-encap] [--esn] [--replay-window N] [--expect N]
//
// Fixed topology (documentation ranges):
//   inside  port 0  192.0.2.1/24      host 192.0.2.10 (MAC 02:00:00:00:00:0a)
//   outside port 1  198.51.100.1/24   peer 198.51.100.2 (MAC 02:00:00:00:00:02),
//                                     clear host 198.51.100.77 (MAC 02:00:00:00:00:4d)
//   route 203.0.113.0/24 via 198.51.100.2
//   crypto map entry 0 (ACL): deny udp 192.0.2.0/24 -> 203.0.113.0/24 eq 53,
//                             permit ip 192.0.2.0/24 -> 203.0.113.0/24
// Used by tests/integration/dp_interop.py (scapy as the independent ESP side).
#include <rte_eal.h>
#include <rte_lcore.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "dataplane/runtime.hpp"

using namespace peregrine::dataplane;

namespace {

std::vector<uint8_t> from_hex(const std::string& h) {
    std::vector<uint8_t> v;
    for (size_t i = 0; i + 1 < h.size(); i += 2) v.push_back(uint8_t(std::stoul(h.substr(i, 2), nullptr, 16)));
    return v;
}

rte_ether_addr mac(uint8_t last) { return rte_ether_addr{{0x02, 0, 0, 0, 0, last}}; }
constexpr uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    return (uint32_t(a) << 24) | (uint32_t(b) << 16) | (uint32_t(c) << 8) | d;
}

}  // namespace

int main(int argc, char** argv) {
    const int eal = rte_eal_init(argc, argv);
    if (eal < 0) {
        std::fprintf(stderr, "rte_eal_init failed\n");
        return 2;
    }
    std::string in_rx, in_tx, out_rx, out_tx, tname = "aes128-gcm16", enc, auth;
    uint32_t spi_out = 0x1001, spi_in = 0x2001, replay = 64;
    uint64_t expect = 0;
    bool udp = false, esn = false;
    for (int i = eal + 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
        if (a == "--inside-rx") in_rx = next();
        else if (a == "--inside-tx") in_tx = next();
        else if (a == "--outside-rx") out_rx = next();
        else if (a == "--outside-tx") out_tx = next();
        else if (a == "--transform") tname = next();
        else if (a == "--enc-key") enc = next();
        else if (a == "--auth-key") auth = next();
        else if (a == "--spi-out") spi_out = uint32_t(std::stoul(next(), nullptr, 0));
        else if (a == "--spi-in") spi_in = uint32_t(std::stoul(next(), nullptr, 0));
        else if (a == "--replay-window") replay = uint32_t(std::stoul(next()));
        else if (a == "--expect") expect = std::stoull(next());
        else if (a == "--udp-encap") udp = true;
        else if (a == "--esn") esn = true;
        else {
            std::fprintf(stderr, "unknown option %s\n", a.c_str());
            return 2;
        }
    }
    const auto tr = peregrine::crypto::transform_from_name(tname);
    if (!tr) {
        std::fprintf(stderr, "unknown transform %s\n", tname.c_str());
        return 2;
    }

    DataplaneSpec spec;
    spec.ports.push_back({"inside0", "net_pcap_in,rx_pcap=" + in_rx + ",tx_pcap=" + in_tx, true,
                          ip4(192, 0, 2, 1), 24, 1500});
    spec.ports.push_back({"outside0", "net_pcap_out,rx_pcap=" + out_rx + ",tx_pcap=" + out_tx, false,
                          ip4(198, 51, 100, 1), 24, 1500});
    spec.routes.push_back(RouteSpec{ip4(203, 0, 113, 0), 24, 1, ip4(198, 51, 100, 2)});
    MapEntrySpec e;
    e.seq = 10;
    AceSpec deny;
    deny.action = AceAction::deny;
    deny.proto = 17;
    deny.src = {ip4(192, 0, 2, 0), 24};
    deny.dst = {ip4(203, 0, 113, 0), 24};
    deny.dport = {53, 53};
    AceSpec permit;
    permit.src = deny.src;
    permit.dst = deny.dst;
    e.aces = {deny, permit};
    spec.entries.push_back(e);
    spec.entry_port.push_back(1);
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) { spec.worker_lcores.push_back(lc); break; }
    spec.mbufs = 8191;

    std::string err;
    auto rt = Runtime::create(spec, err);
    if (!rt) {
        std::fprintf(stderr, "runtime: %s\n", err.c_str());
        return 1;
    }
    rt->learn_neighbour(ip4(198, 51, 100, 2), 1, mac(0x02));
    rt->learn_neighbour(ip4(198, 51, 100, 77), 1, mac(0x4d));
    rt->learn_neighbour(ip4(192, 0, 2, 10), 0, mac(0x0a));

    SaSpec out;
    out.transform = *tr;
    out.enc_key = from_hex(enc);
    out.auth_key = from_hex(auth);
    out.spi = spi_out;
    out.local = ip4(198, 51, 100, 1);
    out.peer = ip4(198, 51, 100, 2);
    out.udp_encap = udp;
    out.esn = esn;
    out.entry = 0;
    SaSpec in = out;
    in.spi = spi_in;
    in.replay_window = replay;
    if (rt->add_inbound_sa(in, err) < 0 || rt->set_active(0, out, err) < 0) {
        std::fprintf(stderr, "SA: %s\n", err.c_str());
        return 1;
    }
    if (!rt->start(err)) {
        std::fprintf(stderr, "start: %s\n", err.c_str());
        return 1;
    }
    // Run until the pcaps are consumed: rx reached --expect, or stopped moving.
    uint64_t last = ~0ull;
    int still = 0;
    for (int i = 0; i < 3000 && still < 20; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        rt->housekeeping();
        const Stats s = rt->stats();
        const uint64_t done = s.tx + s.total_drops() + s.punted;
        if (expect && s.rx >= expect && done >= s.rx + s.fragments) break;
        still = (s.rx == last && done >= s.rx + s.fragments) ? still + 1 : 0;
        last = s.rx;
    }
    rt->stop();
    const Stats s = rt->stats();
    std::printf("rx=%lu\ntx=%lu\nprotected_out=%lu\ndecrypted_in=%lu\nbypass=%lu\npunted=%lu\nfragments=%lu\n",
                s.rx, s.tx, s.protected_out, s.decrypted_in, s.bypass, s.punted, s.fragments);
    for (size_t d = 0; d < kDropReasons; ++d)
        if (s.drops[d]) std::printf("drop_%s=%lu\n", kDropNames[d], s.drops[d]);
    rt.reset();  // closes the pcap ports (flushes tx files)
    rte_eal_cleanup();
    return 0;
}
