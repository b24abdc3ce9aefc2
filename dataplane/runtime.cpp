// dataplane/runtime.cpp - control-core side of the data plane: build, publish, swap.
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <cstring>

#include "dataplane/runtime_internal.hpp"

namespace peregrine::dataplane {

namespace {
constexpr unsigned kPuntRing = 1024;   // per worker; the control core drains every tick
constexpr unsigned kEventRing = 256;   // per worker; events are rate-limited per key
constexpr unsigned kControlTxRing = 512;
constexpr unsigned kHandoffRing = 2048;  // per worker: inbound ESP of SAs it owns, from the others
constexpr uint64_t kEventsPerSecond = 10;  // per key (entry / next hop) per worker

void wipe(std::vector<uint8_t>& v) {
    volatile uint8_t* p = v.data();
    for (size_t i = 0; i < v.size(); ++i) p[i] = 0;
    v.clear();
}

// Keys + codec SA from a spec; wipes the spec's key bytes.
bool make_sa(SaSpec& s, bool outbound, std::unique_ptr<crypto::KeySchedule>& keys, EspSa& esp,
             std::string& err) {
    auto r = crypto::KeySchedule::create(s.transform, s.enc_key, s.auth_key);
    wipe(s.enc_key);
    wipe(s.auth_key);
    if (!r.keys) {
        err = "SA " + std::to_string(s.spi) + ": " + std::string(crypto::key_error_name(r.error));
        return false;
    }
    keys = std::move(r.keys);
    EspSaConfig cfg;
    cfg.transform = s.transform;
    cfg.keys = keys.get();
    cfg.spi = s.spi;
    cfg.esn = s.esn;
    cfg.udp_encap = s.udp_encap;
    cfg.outer_src = outbound ? s.local : s.peer;
    cfg.outer_dst = outbound ? s.peer : s.local;
    cfg.max_outer_len = s.mtu;
    if (!esp_sa_init(esp, cfg)) {
        err = "SA " + std::to_string(s.spi) + ": invalid codec parameters";
        return false;
    }
    return true;
}
}  // namespace

uint64_t Stats::total_drops() const {
    uint64_t s = 0;
    for (auto d : drops) s += d;
    return s;
}

std::unique_ptr<Runtime> Runtime::create(const DataplaneSpec& spec, std::string& err) {
    std::unique_ptr<Runtime> rt(new Runtime());
    rt->spec_ = spec;
    rt->entry_count_ = uint32_t(spec.entries.size());
    if (spec.ports.empty() || spec.ports.size() > kMaxPorts) {
        err = "need 1.." + std::to_string(kMaxPorts) + " ports";
        return nullptr;
    }
    if (spec.worker_lcores.empty()) {
        err = "no worker lcore (give EAL at least two lcores, e.g. -l 0,1)";
        return nullptr;
    }
    if (spec.entries.size() > kMaxEntries || spec.entry_port.size() != spec.entries.size()) {
        err = "bad crypto map entry list";
        return nullptr;
    }
    const uint16_t nw = uint16_t(spec.worker_lcores.size());
    rt->pool_ = rte_pktmbuf_pool_create("pg_mbufs", spec.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                        int(rte_socket_id()));
    if (!rt->pool_) {
        err = "cannot create the mbuf pool (" + std::string(rte_strerror(rte_errno)) + ")";
        return nullptr;
    }
    if (!setup_ports(spec.ports, nw, rt->pool_, rt->ports_, err)) return nullptr;
    rt->rcu_ = Rcu::create(nw);
    if (!rt->rcu_) {
        err = "cannot allocate the RCU variable";
        return nullptr;
    }

    if (!rt->build_tables(spec.entries, err)) return nullptr;
    // Inbound ESP steering: probe rte_flow once per outside port. Ports without it log
    // one line when the first SPI falls back, and the workers dispatch by SPI.
    rt->flows_.resize(rt->ports_.size());
    for (size_t i = 0; i < rt->ports_.size(); ++i)
        if (!rt->ports_[i].spec.inside)
            rt->flows_[i] = std::make_unique<FlowSteering>(FlowSteering::probe(rt->ports_[i].port_id));
    rt->neighbours_.publish(std::make_unique<NeighbourTable>(), *rt->rcu_);
    rt->sa_in_.publish(std::make_unique<SaInTable>(), *rt->rcu_);
    rt->entries_ = std::make_unique<Published<EntryState>[]>(spec.entries.size() + 1);
    rt->entry_peer_.assign(spec.entries.size(), 0);
    for (int s = int(kMaxSas) - 1; s >= 0; --s) rt->free_slots_.push_back(s);

    rt->control_tx_ = rte_ring_create("pg_ctl_tx", kControlTxRing, int(rte_socket_id()),
                                      RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!rt->control_tx_) {
        err = "cannot create the control tx ring";
        return nullptr;
    }
    for (uint16_t i = 0; i < nw; ++i) {
        auto w = std::make_unique<Worker>();
        w->rt = rt.get();
        w->index = i;
        w->lcore = spec.worker_lcores[i];
        w->sole_sender = nw == 1;
        w->engine = crypto::Engine::create();
        w->flow_cache = std::make_unique<FlowCache>();  // zeroed: every slot empty
        w->frag_tbl = rte_ip_frag_table_create(kReasmBuckets, kReasmBucketEntries, kReasmMaxFlows,
                                               rte_get_tsc_hz() * kReasmTimeoutMs / 1000,
                                               int(rte_socket_id()));
        const std::string n = std::to_string(i);
        w->punt = rte_ring_create(("pg_punt" + n).c_str(), kPuntRing, int(rte_socket_id()),
                                  RING_F_SP_ENQ | RING_F_SC_DEQ);
        w->handoff = rte_ring_create(("pg_hand" + n).c_str(), kHandoffRing, int(rte_socket_id()),
                                     RING_F_SC_DEQ);
        w->events = rte_ring_create_elem(("pg_ev" + n).c_str(), sizeof(Event), kEventRing,
                                         int(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ);
        w->sa_counters = static_cast<SaCounters*>(
            rte_zmalloc("pg_sa_counters", sizeof(SaCounters) * kMaxSas, RTE_CACHE_LINE_SIZE));
        w->no_sa_last = static_cast<uint64_t*>(
            rte_zmalloc("pg_nosa", sizeof(uint64_t) * kMaxEntries, RTE_CACHE_LINE_SIZE));
        w->event_interval = rte_get_tsc_hz() / kEventsPerSecond;
        if (!w->engine || !w->frag_tbl || !w->punt || !w->events || !w->handoff || !w->sa_counters || !w->no_sa_last) {
            err = "worker " + n + ": cannot allocate its engine, rings or counters";
            return nullptr;
        }
        rt->rcu_->register_thread(i);
        rt->workers_.push_back(std::move(w));
    }
    return rt;
}

// Classifiers + routes + port facts, published for the workers.
bool Runtime::build_tables(const std::vector<MapEntrySpec>& entries, std::string& err) {
    auto t = std::make_unique<Tables>();
    t->generation = ++tables_generation_;
    auto out = Classifier::build(entries, Direction::outbound);
    auto in = Classifier::build(entries, Direction::inbound);
    if (!out.classifier || !in.classifier) {
        err = "classifier: " + out.error + in.error;
        return false;
    }
    t->out = std::move(out.classifier);
    t->in = std::move(in.classifier);
    std::vector<RouteSpec> routes = spec_.routes;
    for (size_t i = 0; i < spec_.ports.size(); ++i) {  // connected routes
        const auto& p = spec_.ports[i];
        const uint32_t mask = p.prefix_len ? ~0u << (32 - p.prefix_len) : 0;
        routes.push_back(RouteSpec{p.address & mask, p.prefix_len, uint16_t(i), 0});
    }
    auto rr = RouteTable::build(routes);
    if (!rr.table) {
        err = "routes: " + rr.error;
        return false;
    }
    t->routes = std::move(rr.table);
    t->nb_ports = uint16_t(ports_.size());
    for (size_t i = 0; i < ports_.size(); ++i) {
        t->port_id[i] = ports_[i].port_id;
        t->own_addr[i] = ports_[i].spec.address;
        t->inside[i] = ports_[i].spec.inside;
        t->mac[i] = ports_[i].mac;
        t->mtu[i] = ports_[i].spec.mtu;
    }
    tables_.publish(std::move(t), *rcu_);
    return true;
}

bool Runtime::set_entries(const std::vector<MapEntrySpec>& entries, std::string& err) {
    if (entries.size() != spec_.entries.size()) {
        err = "set_entries: " + std::to_string(entries.size()) + " entries, the runtime has " +
              std::to_string(spec_.entries.size());
        return false;
    }
    if (!build_tables(entries, err)) return false;
    spec_.entries = entries;
    return true;
}

Runtime::~Runtime() {
    stop();
    // Drain what the control core never consumed so the pool is whole at exit.
    for (auto& w : workers_) {
        void* m;
        while (w->punt && rte_ring_dequeue(w->punt, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        while (w->handoff && rte_ring_dequeue(w->handoff, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(w->punt);
        rte_ring_free(w->handoff);
        rte_ring_free(w->events);
        if (w->frag_tbl) rte_ip_frag_table_destroy(w->frag_tbl);  // frees what it holds
        rte_ip_frag_free_death_row(&w->death_row, 0);
        rte_free(w->sa_counters);
        rte_free(w->no_sa_last);
    }
    if (control_tx_) {
        void* m;
        while (rte_ring_dequeue(control_tx_, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(m));
        rte_ring_free(control_tx_);
    }
    if (rcu_) rcu_->drain();
    entries_.reset();
    in_sas_.clear();
    flows_.clear();  // destroy the rules before the ports close
    stop_ports(ports_);
    rte_mempool_free(pool_);
}

bool Runtime::start(std::string& err) {
    if (running_) return true;
    stop_flag_.store(false);
    for (auto& w : workers_) {
        if (rte_eal_remote_launch(worker_main, w.get(), w->lcore) != 0) {
            err = "cannot launch worker on lcore " + std::to_string(w->lcore);
            stop();
            return false;
        }
    }
    running_ = true;
    return true;
}

void Runtime::stop() {
    stop_flag_.store(true);
    for (auto& w : workers_) rte_eal_wait_lcore(w->lcore);
    running_ = false;
}

int Runtime::alloc_sa_slot() {
    if (free_slots_.empty()) return -1;
    const int s = free_slots_.back();
    free_slots_.pop_back();
    // fresh counters for the new SA (the previous user was reclaimed already)
    for (auto& w : workers_) {
        SaCounters& c = w->sa_counters[s];
        c.packets.v.store(0, std::memory_order_relaxed);
        c.bytes.v.store(0, std::memory_order_relaxed);
        c.last_used_tsc.store(0, std::memory_order_relaxed);
    }
    return s;
}

void Runtime::free_sa_slot(int slot) {
    if (slot >= 0) free_slots_.push_back(slot);
}

void Runtime::publish_sa_in() {
    auto t = std::make_unique<SaInTable>();
    size_t n = 16;
    while (n < in_sas_.size() * 2) n *= 2;
    t->slots.assign(n, {});
    const size_t mask = n - 1;
    for (auto& sa : in_sas_) {
        for (size_t i = (sa->spi * 0x9E3779B1u) & mask;; i = (i + 1) & mask) {
            if (t->slots[i].spi == 0) {
                t->slots[i] = {sa->spi, sa.get()};
                break;
            }
        }
    }
    sa_in_.publish(std::move(t), *rcu_);
}

int Runtime::add_inbound_sa(SaSpec spec, std::string& err) {
    if (spec.spi == 0) {
        err = "SPI 0 is reserved";
        return -1;
    }
    for (auto& s : in_sas_)
        if (s->spi == spec.spi) {
            err = "inbound SPI " + std::to_string(spec.spi) + " already installed";
            return -1;
        }
    auto sa = std::make_unique<InboundSa>();
    if (!make_sa(spec, false, sa->keys, sa->esp, err)) return -1;
    sa->window = spec.replay_window == 0
                     ? ReplayWindow::disabled()
                     : ReplayWindow(ReplayWindow::effective_size(spec.replay_window), spec.esn);
    sa->spi = spec.spi;
    sa->entry = spec.entry;
    sa->peer = spec.peer;
    sa->owner = sa_owner(spec.spi);
    sa->slot = alloc_sa_slot();
    if (sa->slot < 0) {
        err = "no free SA slot";
        return -1;
    }
    const int slot = sa->slot;
    in_sas_.push_back(std::move(sa));
    steer_spi(spec.spi, spec.udp_encap);  // rules first: the SA is not yet visible
    publish_sa_in();
    return slot;
}

// Ask every outside port's NIC to deliver the SPI to its owner's queue. Whatever the
// NIC cannot do is covered by software dispatch in the workers (any worker receiving
// the SPI hands it to the owner), so the result only saves the hand-off.
void Runtime::steer_spi(uint32_t spi, bool udp_encap) {
    const uint16_t owner = sa_owner(spi);
    for (auto& f : flows_) {
        if (!f || f->nb_queues() <= owner) continue;  // unsupported: logs its one line
        f->steer_esp_spi(spi, owner);
        if (udp_encap) f->steer_udp_esp_spi(spi, owner);
    }
}

void Runtime::unsteer_spi(uint32_t spi) {
    for (auto& f : flows_)
        if (f && f->supported()) f->remove_spi(spi);
}

bool Runtime::remove_inbound_sa(uint32_t spi) {
    for (size_t i = 0; i < in_sas_.size(); ++i) {
        if (in_sas_[i]->spi != spi) continue;
        std::unique_ptr<InboundSa> old = std::move(in_sas_[i]);
        in_sas_.erase(in_sas_.begin() + long(i));
        publish_sa_in();  // unreachable for new readers from here on
        unsteer_spi(spi);
        const int slot = old->slot;
        InboundSa* raw = old.release();
        rcu_->retire([this, raw, slot] {
            std::unique_ptr<InboundSa> p(raw);
            free_sa_slot(slot);
        });
        return true;
    }
    return false;
}

int Runtime::set_active(uint32_t entry, std::optional<SaSpec> spec, std::string& err) {
    if (entry >= spec_.entries.size()) {
        err = "no crypto map entry " + std::to_string(entry);
        return -1;
    }
    auto st = std::make_unique<EntryState>();
    int slot = -1;
    if (spec) {
        auto sa = std::make_unique<OutboundSa>();
        const uint16_t port = spec_.entry_port[entry];
        if (spec->mtu == 0 || spec->mtu > ports_[port].spec.mtu) spec->mtu = ports_[port].spec.mtu;
        if (!make_sa(*spec, true, sa->keys, sa->esp, err)) return -1;
        sa->peer = spec->peer;
        sa->slot = slot = alloc_sa_slot();
        if (slot < 0) {
            err = "no free SA slot";
            return -1;
        }
        st->peer = spec->peer;
        st->sa = std::move(sa);
    }
    entry_peer_[entry] = st->peer;
    // The swap: one release store (Published::publish). The old state, its SA
    // and its keys are destroyed only after every worker has passed a quiescent
    // state; the SA's counter slot is recycled after that too.
    const EntryState* prev = entries_[entry].read();
    const int old_slot = prev && prev->sa ? prev->sa->slot : -1;
    entries_[entry].publish(std::move(st), *rcu_);
    if (old_slot >= 0) rcu_->retire([this, old_slot] { free_sa_slot(old_slot); });
    return spec ? slot : kNoSaSlot;
}

uint32_t Runtime::active_peer(uint32_t entry) const {
    return entry < entry_peer_.size() ? entry_peer_[entry] : 0;
}

unsigned Runtime::dequeue_punted(rte_mbuf** out, unsigned n) {
    unsigned got = 0;
    for (auto& w : workers_)
        got += rte_ring_dequeue_burst(w->punt, reinterpret_cast<void**>(out + got), n - got, nullptr);
    return got;
}

unsigned Runtime::dequeue_events(Event* out, unsigned n) {
    unsigned got = 0;
    for (auto& w : workers_)
        got += rte_ring_dequeue_burst_elem(w->events, out + got, sizeof(Event), n - got, nullptr);
    return got;
}

bool Runtime::send(uint16_t port_index, rte_mbuf* m) {
    m->port = port_index;
    if (rte_ring_enqueue(control_tx_, m) != 0) {
        rte_pktmbuf_free(m);
        return false;
    }
    return true;
}

void Runtime::learn_neighbour(uint32_t ip, uint16_t port_index, const rte_ether_addr& mac) {
    const NeighbourTable* cur = neighbours_.read();
    if (const auto* e = cur->lookup(ip); e && e->port == port_index &&
                                         rte_is_same_ether_addr(&e->mac, &mac))
        return;  // nothing new: no republish
    neighbours_.publish(std::make_unique<NeighbourTable>(cur->with(ip, port_index, mac)), *rcu_);
}

Stats Runtime::stats() const {
    Stats s;
    for (const auto& w : workers_) {
        const WorkerCounters& c = w->counters;
        s.rx += c.rx.get();
        s.tx += c.tx.get();
        s.injected += c.injected.get();
        s.protected_out += c.protected_out.get();
        s.decrypted_in += c.decrypted_in.get();
        s.bypass += c.bypass.get();
        s.punted += c.punted.get();
        s.handoff += c.handoff_out.get();
        s.fragments += c.fragments.get();
        s.iterations += c.iterations.get();
        s.reassembly_merged += c.reasm_merged.get();
        s.reassembly_held +=
            c.reasm_taken.get() - c.reasm_merged.get() - c.drops[size_t(Drop::reassembly)].get();
        for (size_t d = 0; d < kDropReasons; ++d) s.drops[d] += c.drops[d].get();
    }
    return s;
}

PortStats Runtime::port_stats(uint16_t port_index) const {
    PortStats s;
    if (port_index >= kMaxPorts) return s;
    for (const auto& w : workers_) {
        const PortCounters& c = w->counters.ports[port_index];
        s.rx_packets += c.rx_packets.get();
        s.rx_bytes += c.rx_bytes.get();
        s.tx_packets += c.tx_packets.get();
        s.tx_bytes += c.tx_bytes.get();
    }
    return s;
}

SaStats Runtime::sa_stats(int slot) const {
    SaStats s;
    if (slot < 0 || slot >= int(kMaxSas)) return s;
    for (const auto& w : workers_) {
        const SaCounters& c = w->sa_counters[slot];
        s.packets += c.packets.get();
        s.bytes += c.bytes.get();
        const uint64_t t = c.last_used_tsc.load(std::memory_order_relaxed);
        if (t > s.last_used_tsc) s.last_used_tsc = t;
    }
    return s;
}

}  // namespace peregrine::dataplane
