// app/run.cpp - the appliance: EAL, data plane, control event loop.
//
// Lcore roles: the main lcore is the control core (an event loop that sleeps in
// epoll_wait); every other EAL lcore runs one data-plane worker.
#include "app/run.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <map>

#include "control/dataplane_config.hpp"
#include "control/event_loop.hpp"
#include "control/punt.hpp"

namespace peregrine::app {

namespace {

constexpr control::MonoMs kPuntPollMs = 2;        // punt/ARP/ping latency bound; not a busy poll
constexpr control::MonoMs kNoSaLogEveryMs = 10000;  // per entry

void print_stats(const dataplane::Runtime& rt, const control::PuntHandler& punt,
                 const control::DataplanePlan& plan, std::FILE* out) {
    const dataplane::Stats s = rt.stats();
    std::fprintf(out,
                 "stats: rx %" PRIu64 " tx %" PRIu64 " protected %" PRIu64 " decrypted %" PRIu64
                 " clear %" PRIu64 " punted %" PRIu64 " injected %" PRIu64 " handed-off %" PRIu64
                 " dropped %" PRIu64 "\n",
                 s.rx, s.tx, s.protected_out, s.decrypted_in, s.bypass, s.punted, s.injected, s.handoff,
                 s.total_drops());
    for (uint16_t i = 0; i < rt.ports().size(); ++i) {
        const dataplane::PortStats p = rt.port_stats(i);
        std::fprintf(out,
                     "stats: port %s rx %" PRIu64 " pkts %" PRIu64 " bytes, tx %" PRIu64 " pkts %" PRIu64 " bytes\n",
                     rt.ports()[i].spec.name.c_str(), p.rx_packets, p.rx_bytes, p.tx_packets, p.tx_bytes);
    }
    for (size_t d = 0; d < dataplane::kDropReasons; ++d)
        if (s.drops[d])
            std::fprintf(out, "stats: drop %-24s %" PRIu64 "  (%s)\n", dataplane::kDropNames[d],
                         s.drops[d], dataplane::kDropHelp[d]);
    const auto& c = punt.counters();
    std::fprintf(out,
                 "stats: control arp-replies %" PRIu64 " arp-requests %" PRIu64 " learned %" PRIu64
                 " echo-replies %" PRIu64 " frag-needed %" PRIu64 " ike %" PRIu64 " no-sa-events %" PRIu64
                 "\n",
                 c.arp_replies_sent, c.arp_requests_sent, c.arp_learned, c.icmp_echo_replies,
                 c.icmp_frag_needed, c.ike_packets, c.no_sa_events);
    for (size_t i = 0; i < plan.entries.size(); ++i) {
        const auto& e = plan.entries[i];
        std::fprintf(out, "stats: crypto map %s seq %u: active peer %s\n", e.map->name.c_str(),
                     e.entry->seq,
                     rt.active_peer(uint32_t(i)) ? config::format_ipv4(rt.active_peer(uint32_t(i))).c_str()
                                                 : "none");
    }
    std::fflush(out);
}

}  // namespace

int run(const Options& opt, const config::Config& cfg) {
    control::DataplanePlan plan;
    std::string err;
    if (!control::plan_dataplane(cfg, plan, err)) {
        std::fprintf(stderr, "%s\n", err.c_str());
        return 1;
    }
    // Block the signals we handle before EAL starts its threads, so that every
    // thread inherits the mask and only the control loop's signalfd sees them.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    std::vector<char*> eal_argv;
    std::vector<std::string> eal_args = opt.eal_args;
    for (auto& a : eal_args) eal_argv.push_back(a.data());
    eal_argv.push_back(nullptr);
    if (rte_eal_init(int(eal_args.size()), eal_argv.data()) < 0) {
        std::fprintf(stderr, "peregrine: EAL initialisation failed: %s\n", rte_strerror(rte_errno));
        return 1;
    }
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) { plan.spec.worker_lcores.push_back(lc); }
    plan.spec.idle_sleep_us = opt.idle_sleep_us;

    int rc = 0;
    {
        auto rt = dataplane::Runtime::create(plan.spec, err);
        if (!rt) {
            std::fprintf(stderr, "peregrine: %s\n", err.c_str());
            rte_eal_cleanup();
            return 1;
        }
        for (const auto& p : rt->ports()) {
            char mac[RTE_ETHER_ADDR_FMT_SIZE];
            rte_ether_format_addr(mac, sizeof mac, &p.mac);
            std::printf("port %s (%s) %s/%u mac %s dpdk port %u, %u queue(s)%s\n", p.spec.name.c_str(),
                        p.spec.inside ? "inside" : "outside", config::format_ipv4(p.spec.address).c_str(),
                        p.spec.prefix_len, mac, p.port_id, p.nb_queues, p.rss ? ", RSS" : "");
        }
        for (const auto& n : plan.neighbours) rt->learn_neighbour(n.ip, n.port_index, n.mac);
        for (auto& s : plan.static_sas) {
            const auto& e = plan.entries[s.entry];
            const uint32_t in_spi = s.inbound.spi, out_spi = s.outbound.spi, peer = s.outbound.peer;
            if (rt->add_inbound_sa(std::move(s.inbound), err) < 0 ||
                rt->set_active(s.entry, std::move(s.outbound), err) < 0) {
                std::fprintf(stderr, "peregrine: crypto map %s seq %u: %s\n", e.map->name.c_str(),
                             e.entry->seq, err.c_str());
                rc = 1;
                break;
            }
            std::printf("crypto map %s seq %u: static SAs installed, peer %s, spi in 0x%x out 0x%x\n",
                        e.map->name.c_str(), e.entry->seq, config::format_ipv4(peer).c_str(), in_spi,
                        out_spi);
        }
        if (rc == 0 && !rt->start(err)) {
            std::fprintf(stderr, "peregrine: %s\n", err.c_str());
            rc = 1;
        }
        if (rc == 0) {
            std::printf("peregrine: %u worker(s) running; control core sleeps in its event loop\n",
                        rt->worker_count());
            std::fflush(stdout);
            control::EventLoop loop;
            control::PuntHandler punt(*rt);
            std::map<uint32_t, control::MonoMs> no_sa_logged;
            punt.on_no_sa([&](uint32_t entry) {
                const control::MonoMs now = control::monotonic_ms();
                auto it = no_sa_logged.find(entry);
                if (it != no_sa_logged.end() && now - it->second < kNoSaLogEveryMs) return;
                no_sa_logged[entry] = now;
                if (entry >= plan.entries.size()) return;
                const auto& e = plan.entries[entry];
                std::printf("crypto map %s seq %u: protected traffic has no SA; dropped (IKE negotiation "
                            "is not available in this build)\n",
                            e.map->name.c_str(), e.entry->seq);
                std::fflush(stdout);
            });
            const int sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
            loop.watch(sfd, [&] {
                signalfd_siginfo si{};
                while (read(sfd, &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGUSR1) {
                        print_stats(*rt, punt, plan, stdout);
                    } else {
                        std::printf("peregrine: signal %u, stopping\n", si.ssi_signo);
                        loop.stop();
                    }
                }
            });
            loop.add_timer(kPuntPollMs, [&] {
                punt.poll();
                rt->housekeeping();
            }, kPuntPollMs);
            loop.run();
            close(sfd);
            rt->stop();
            punt.poll(1u << 20);  // free what is left in the rings
            print_stats(*rt, punt, plan, stdout);
        }
    }
    rte_eal_cleanup();
    return rc;
}

}  // namespace peregrine::app
