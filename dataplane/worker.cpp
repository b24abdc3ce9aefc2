// dataplane/worker.cpp - the worker loop: rx burst -> parse -> classify -> ESP
// encap/decap -> route -> tx, one QSBR quiescent report per iteration.
//
// No locks, allocation, syscalls, exceptions or logging here. Every packet ends in
// exactly one of: tx, a drop counter, the punt ring (counted as punted), or the
// hand-off ring of the worker that owns its inbound SA (software dispatch, counted
// as handoff_out there and handoff_in here), so per worker
// rx + injected + handoff_in == tx + drops + punted + handoff_out whenever it is idle.
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_prefetch.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <type_traits>

#include "dataplane/fragment.hpp"
#include "dataplane/runtime_internal.hpp"

namespace peregrine::dataplane {

namespace {

constexpr uint16_t kEthLen = 14;

// Where a packet to `dst` leaves: the port and the Ethernet header to put in front.
struct Hop {
    uint16_t port;
    rte_ether_hdr eth;
};

// Per-burst scratch left uninitialised: ParsedPkt and FlowKey carry default member
// initialisers, and a plain `T a[kBurst]` zero-filled ~4 KiB per burst (two memset
// calls, ~40 instructions per packet, callgrind). Every element is constructed before
// it is read, by placement new from the producing call: the prvalue is built in place
// (std::construct_at or an assignment would build a temporary and copy it, and the
// copy's wide loads stall on the producer's narrow stores).
template <class T, size_t N>
struct BurstScratch {
    static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>,
                  "BurstScratch: only for plain per-packet records");
    union {
        T v[N];
    };
    BurstScratch() {}  // no member initialised: see above
    T& operator[](size_t i) { return v[i]; }
    const T& operator[](size_t i) const { return v[i]; }
};

// The last next hop resolved in this burst (the tables and the neighbour snapshot do
// not change within one): consecutive packets to one gateway skip the neighbour lookup.
struct HopCache {
    uint32_t gw = 0;  // 0: empty (0.0.0.0 is never a next hop)
    Hop hop{};
};

struct Ctx {
    Runtime::Worker& w;
    const Runtime::Tables& t;
    const NeighbourTable* nb;
    HopCache* hops;  // per burst
};

inline void drop(Runtime::Worker& w, rte_mbuf* m, Drop why) {
    w.counters.drops[static_cast<size_t>(why)].add(1);
    rte_pktmbuf_free(m);
}

inline void flush_port(Runtime::Worker& w, const Runtime::Tables& t, uint16_t p) {
    uint16_t n = w.txn[p];
    if (n == 0) return;
    const uint16_t sent = rte_eth_tx_burst(t.port_id[p], w.index, w.tx[p], n);
    w.counters.tx.add(sent);
    w.counters.ports[p].tx_packets.add(sent);
    for (uint16_t i = sent; i < n; ++i) drop(w, w.tx[p][i], Drop::tx_full);
    w.txn[p] = 0;
}

inline void enqueue_tx(Runtime::Worker& w, const Runtime::Tables& t, uint16_t p, rte_mbuf* m) {
    if (w.txn[p] == kTxBuf) flush_port(w, t, p);
    w.tx[p][w.txn[p]++] = m;
}

inline bool rate_ok(uint64_t& last, uint64_t now, uint64_t interval) {
    if (now - last < interval && last != 0) return false;
    last = now;
    return true;
}

inline void event(Runtime::Worker& w, EventType type, uint16_t port, uint32_t value) {
    Event ev{type, port, value};
    rte_ring_enqueue_elem(w.events, &ev, sizeof(Event));  // full: the control core is behind; drop the event
}

inline void punt(Runtime::Worker& w, rte_mbuf* m, uint16_t port_index) {
    m->port = port_index;  // the control core sees the appliance port index
    m->hash.fdir.lo = 0;   // not a too_big report (fragment.hpp), whatever RSS wrote there
    if (rte_ring_enqueue(w.punt, m) != 0) {
        drop(w, m, Drop::punt_full);
        return;
    }
    w.counters.punted.add(1);
}

inline uint32_t ipv4_dst(const uint8_t* ip) {
    return (uint32_t(ip[16]) << 24) | (uint32_t(ip[17]) << 16) | (uint32_t(ip[18]) << 8) | ip[19];
}

// Route + neighbour lookup. False (and the drop reason, with a rate-limited ARP
// request event for an unresolved next hop) when the packet cannot leave.
bool resolve(const Ctx& c, uint32_t dst, Hop& hop, Drop& why) {
    const uint32_t nh_index = c.t.routes->lookup(dst);
    if (nh_index == RouteTable::kNoRoute) {
        why = Drop::no_route;
        return false;
    }
    const NextHop& nh = c.t.routes->next_hop(nh_index);
    const uint32_t gw = nh.gateway ? nh.gateway : dst;
    if (c.hops->gw == gw && c.hops->hop.port == nh.port) {
        hop = c.hops->hop;
        return true;
    }
    const NeighbourTable::Entry* ne = c.nb ? c.nb->lookup(gw) : nullptr;
    if (!ne) {
        if (rate_ok(c.w.nh_last[gw & 255], rte_rdtsc(), c.w.event_interval))
            event(c.w, EventType::no_neighbour, nh.port, gw);
        why = Drop::no_neighbour;
        return false;
    }
    hop.port = nh.port;
    hop.eth.dst_addr = ne->mac;
    hop.eth.src_addr = c.t.mac[nh.port];
    hop.eth.ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    c.hops->gw = gw;
    c.hops->hop = hop;
    return true;
}

// Put the Ethernet header in front of the IPv4 packet at `ip` (the mbuf's data starts
// kEthLen before it) and queue it on the hop's port. Takes the mbuf; returns its bytes.
inline uint32_t send_via(const Ctx& c, rte_mbuf* m, uint8_t* ip, const Hop& hop) {
    std::memcpy(ip - kEthLen, &hop.eth, kEthLen);
    const uint16_t total = uint16_t((ip[2] << 8) | ip[3]);
    m->data_off = uint16_t(ip - kEthLen - static_cast<uint8_t*>(m->buf_addr));
    m->data_len = uint16_t(total + kEthLen);
    m->pkt_len = m->data_len;
    enqueue_tx(c.w, c.t, hop.port, m);
    return m->pkt_len;
}

// Route the IPv4 packet at `ip`, write the Ethernet header and queue it. Takes the mbuf.
void route_and_send(const Ctx& c, rte_mbuf* m, uint8_t* ip) {
    Hop hop;
    Drop why;
    if (!resolve(c, ipv4_dst(ip), hop, why)) return drop(c.w, m, why);
    c.w.counters.ports[hop.port].tx_bytes.add(send_via(c, m, ip, hop));
}

// Forwarded (not originated) packets: TTL check and decrement with an incremental
// checksum update (RFC 1624).
inline bool ttl_step(uint8_t* ip) {
    if (ip[8] <= 1) return false;
    ip[8]--;
    uint32_t sum = uint32_t((ip[10] << 8) | ip[11]) + 0x0100;
    sum = (sum & 0xffff) + (sum >> 16);
    ip[10] = uint8_t(sum >> 8);
    ip[11] = uint8_t(sum);
    return true;
}

void forward_clear(const Ctx& c, rte_mbuf* m, uint8_t* ip) {
    if (!ttl_step(ip)) return drop(c.w, m, Drop::ttl_exceeded);
    c.w.counters.bypass.add(1);
    route_and_send(c, m, ip);
}

// Encrypt bufs[0..n) (EspBuf::sa = &sa_of[i]->esp, EspBuf::cookie = the mbuf; any
// mix of SAs, in arrival order) in one codec call and send the good ones. The codec
// reorders only the pointer list; bufs[] and sa_of[] stay in step, so results are
// walked in arrival order: SA counters are summed per run of one SA, and the route to
// a run's peer is looked up once per run.
void protect_burst(const Ctx& c, uint16_t pidx, EspBuf* bufs, OutboundSa* const* sa_of, uint16_t n) {
    EspBuf* list[kBurst > kMaxFragments ? kBurst : kMaxFragments];
    for (uint16_t i = 0; i < n; ++i) list[i] = &bufs[i];
    esp_encap_burst(*c.w.engine, std::span<EspBuf*>(list, n), c.w.sole_sender);

    Hop hop{};
    uint32_t hop_peer = 0;  // the peer `hop` was resolved for (0: none yet)
    bool hop_ok = false;
    Drop hop_why = Drop::no_route;
    OutboundSa* run = nullptr;
    uint64_t run_pkts = 0, run_bytes = 0, protected_out = 0;
    uint64_t now = 0;  // one TSC read per burst (rdtsc costs tens of cycles; a burst of
                       // many SAs would pay it per packet), taken at the first run's end
    auto end_run = [&] {
        if (!run || run_pkts == 0) return;
        if (now == 0) now = rte_rdtsc();
        SaCounters& sc = c.w.sa_counters[run->slot];
        sc.packets.add(run_pkts);
        sc.bytes.add(run_bytes);
        sc.last_used_tsc.store(now, std::memory_order_relaxed);
        run_pkts = run_bytes = 0;
    };
    for (uint16_t i = 0; i < n; ++i) {
        EspBuf& b = bufs[i];
        OutboundSa& sa = *sa_of[i];
        auto* m = static_cast<rte_mbuf*>(b.cookie);
        if (b.reason != EspReason::ok) {
            if (b.reason == EspReason::too_big) {
                // DF set (DF clear was fragmented before): the control core answers the
                // sender with ICMP fragmentation-needed; counted here as the drop it is.
                c.w.counters.drops[static_cast<size_t>(Drop::too_big)].add(1);
                mark_too_big(m, uint16_t(esp_max_inner_len(sa.esp)));
                m->port = pidx;  // the control core answers on the port it came in by
                if (rte_ring_enqueue(c.w.punt, m) != 0) rte_pktmbuf_free(m);
                continue;
            }
            drop(c.w, m, b.reason == EspReason::seq_overflow ? Drop::seq_overflow : Drop::encap_failed);
            continue;
        }
        if (sa.peer != hop_peer || hop_peer == 0) {
            hop_ok = resolve(c, sa.peer, hop, hop_why);
            hop_peer = sa.peer;
        }
        if (!hop_ok) {
            drop(c.w, m, hop_why);
            continue;
        }
        if (&sa != run) {
            end_run();
            run = &sa;
        }
        ++run_pkts;
        run_bytes += b.len;
        ++protected_out;
        c.w.counters.ports[hop.port].tx_bytes.add(send_via(c, m, b.data, hop));
    }
    end_run();
    c.w.counters.protected_out.add(protected_out);
}

// Hand a received IPv4 fragment to the worker's reassembly table. Returns the whole
// datagram in one fresh single-segment mbuf (header checksum recomputed) when this
// fragment completed it, else nullptr: the fragment is held (counted reasm_taken) or
// was dropped. Fragments are rare: the copy into one segment keeps the hot path flat.
rte_mbuf* reassemble(Runtime::Worker& w, rte_mempool* pool, rte_mbuf* m, const ParsedPkt& p) {
    m->l2_len = p.l3_off;
    m->l3_len = uint16_t((rte_pktmbuf_mtod_offset(m, const uint8_t*, p.l3_off)[0] & 0x0f) * 4);
    // Trim L2 padding: the library sizes the fragment from the mbuf.
    rte_pktmbuf_trim(m, uint16_t(m->pkt_len - p.l3_off - p.l3_len));
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, p.l3_off);
    rte_mbuf* whole = rte_ipv4_frag_reassemble_packet(w.frag_tbl, &w.death_row, m, rte_rdtsc(), ip);
    if (!whole) {
        w.counters.reasm_taken.add(1);
        return nullptr;
    }
    w.counters.reasm_merged.add(whole->nb_segs - 1u);  // one segment per fragment
    rte_mbuf* flat = whole->nb_segs == 1 ? whole : rte_pktmbuf_alloc(pool);
    if (flat != whole) {
        if (!flat || whole->pkt_len > rte_pktmbuf_tailroom(flat)) {
            if (flat) rte_pktmbuf_free(flat);
            drop(w, whole, Drop::reassembled_too_big);
            return nullptr;
        }
        char* dst = rte_pktmbuf_append(flat, uint16_t(whole->pkt_len));
        for (const rte_mbuf* seg = whole; seg; seg = seg->next) {
            std::memcpy(dst, rte_pktmbuf_mtod(seg, const char*), seg->data_len);
            dst += seg->data_len;
        }
        flat->port = whole->port;
        rte_pktmbuf_free(whole);
    }
    auto* hdr = rte_pktmbuf_mtod_offset(flat, rte_ipv4_hdr*, p.l3_off);
    hdr->hdr_checksum = 0;
    hdr->hdr_checksum = rte_ipv4_cksum(hdr);
    return flat;
}

// Outbound classification through the worker's flow cache (runtime_internal.hpp):
// hits are answered from the cache, the misses go to rte_acl in one burst and fill it.
void classify_out(Runtime::Worker& w, const Runtime::Tables& t, const FlowKey* const* keys, uint16_t n,
                  uint32_t* res) {
    if (t.out->stats().linear) return t.out->classify_burst(keys, n, res);
    FlowCache& fc = *w.flow_cache;
    const FlowKey* miss[kBurst];
    uint16_t miss_at[kBurst], slot_of[kBurst];
    uint16_t nmiss = 0;
    for (uint16_t k = 0; k < n; ++k) {
        const uint32_t s = FlowCache::set_of(*keys[k]);
        if (const FlowCache::Slot* e = fc.find(s, *keys[k], t.generation)) {
            res[k] = e->result;
            continue;
        }
        miss[nmiss] = keys[k];
        miss_at[nmiss] = k;
        slot_of[nmiss++] = uint16_t(s);
    }
    if (nmiss == 0) return;
    uint32_t r[kBurst];
    t.out->classify_burst(miss, nmiss, r);
    for (uint16_t j = 0; j < nmiss; ++j) {
        res[miss_at[j]] = r[j];
        if (r[j] == Classifier::kError) continue;  // never cache a failure
        // A flow missed twice in one burst is inserted twice; find() first keeps the
        // set from holding it in both ways.
        if (!fc.find(slot_of[j], *miss[j], t.generation)) fc.insert(slot_of[j], *miss[j], r[j], t.generation);
    }
}

// A burst that mixes crypto map entries reaches each packet's SA through two
// dependent loads (entry -> EntryState -> OutboundSa), which miss the caches once
// there are many SAs (1,000-SA benchmark). Taken link by link over the whole burst
// first, the misses of each link overlap instead of stalling packet after packet.
// A burst of one entry skips it: its chain is hot after the first packet.
void prefetch_sas(const Runtime& rt, const uint32_t* res, uint16_t n) {
    const uint32_t count = rt.spec_entry_count();
    bool mixed = false;
    for (uint16_t k = 1; k < n; ++k) mixed |= res[k] != res[0];
    if (!mixed) return;
    for (uint16_t k = 0; k < n; ++k)
        if (res[k] < count) rte_prefetch0(rt.entry_state(res[k]));
    for (uint16_t k = 0; k < n; ++k) {
        if (res[k] >= count) continue;
        const Runtime::EntryState* es = rt.entry_state(res[k]);
        if (!es || !es->sa) continue;
        rte_prefetch0(es->sa.get());             // EspSa: the read-only fields
        rte_prefetch0(&es->sa->esp.next_seq);    // written per run in the codec
    }
}

// `handed`: the packets came from another worker's hand-off (already counted as rx there).
void process_burst(Runtime& rt, Runtime::Worker& w, const Runtime::Tables& t, uint16_t pidx,
                   rte_mbuf** pkts, uint16_t n, bool handed = false) {
    HopCache hops;
    const Ctx c{w, t, rt.neighbours(), &hops};
    BurstScratch<ParsedPkt, kBurst> pp;
    BurstScratch<FlowKey, kBurst> keys;
    const FlowKey* kp[kBurst];
    uint16_t cls[kBurst];
    uint16_t ncls = 0;
    uint16_t esp[kBurst];
    uint16_t nesp = 0;

    if (handed) {
        w.counters.handoff_in.add(n);
    } else {
        w.counters.rx.add(n);
        w.counters.ports[pidx].rx_packets.add(n);
    }
    // A small outbound map is walked straight from the parsed fields: no flow keys.
    const bool linear_out = t.inside[pidx] && t.out->stats().linear;
    const bool need_keys = !linear_out;
    uint64_t rx_bytes = 0;
    for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        rx_bytes += m->pkt_len;
        if (m->nb_segs != 1) {
            drop(w, m, Drop::malformed);  // jumbo chains are not configured on our ports
            pkts[i] = nullptr;
            continue;
        }
        ::new (&pp[i]) ParsedPkt(parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len));
        const ParsedPkt& p = pp[i];
        switch (p.cls) {
            case PktClass::malformed: drop(w, m, Drop::malformed); pkts[i] = nullptr; continue;
            case PktClass::non_ip: drop(w, m, Drop::not_ipv4); pkts[i] = nullptr; continue;
            case PktClass::arp: punt(w, m, pidx); pkts[i] = nullptr; continue;
            default: break;
        }
        if (p.fragment) {  // classified (or decrypted) only once whole
            m = reassemble(w, rt.pool(), m, p);
            pkts[i] = m;
            if (!m) continue;
            pp[i] = parse_frame(rte_pktmbuf_mtod(m, const uint8_t*), m->data_len);
            if (pp[i].cls == PktClass::malformed) {
                drop(w, m, Drop::malformed);
                pkts[i] = nullptr;
                continue;
            }
        }
        const bool to_us = t.own(p.dst_ip) >= 0;
        if (to_us) {
            if (p.cls == PktClass::esp || p.cls == PktClass::esp_in_udp) {
                esp[nesp++] = i;
            } else {
                punt(w, m, pidx);  // IKE, NAT keepalives, ICMP and anything else for us
                pkts[i] = nullptr;
            }
            continue;
        }
        if (p.cls == PktClass::esp || p.cls == PktClass::esp_in_udp || p.cls == PktClass::ike) {
            // transit ESP/IKE is classified like any other traffic
        }
        if (need_keys) {
            ::new (&keys[ncls]) FlowKey(make_flow_key(p));
            kp[ncls] = &keys[ncls];
        }
        cls[ncls++] = i;
    }
    if (!handed) w.counters.ports[pidx].rx_bytes.add(rx_bytes);
    if (w.death_row.cnt) {  // fragments the reassembly table gave up on in this burst
        w.counters.drops[size_t(Drop::reassembly)].add(w.death_row.cnt);
        rte_ip_frag_free_death_row(&w.death_row, 0);
    }

    // --- transit traffic: crypto ACLs in bulk ---
    if (ncls) {
        uint32_t res[kBurst];
        if (t.inside[pidx]) {
            if (linear_out)
                for (uint16_t k = 0; k < ncls; ++k) res[k] = t.out->classify_linear(pp[cls[k]]);
            else
                classify_out(w, t, kp, ncls, res);
            prefetch_sas(rt, res, ncls);
            EspBuf bufs[kBurst];
            OutboundSa* sa_of[kBurst];
            uint16_t nprot = 0;
            for (uint16_t k = 0; k < ncls; ++k) {
                const uint16_t i = cls[k];
                rte_mbuf* m = pkts[i];
                uint8_t* ip = rte_pktmbuf_mtod(m, uint8_t*) + pp[i].l3_off;
                if (res[k] == Classifier::kBypass) {
                    forward_clear(c, m, ip);
                    continue;
                }
                if (res[k] >= rt.spec_entry_count()) {
                    drop(w, m, Drop::malformed);
                    continue;
                }
                const Runtime::EntryState* es = rt.entry_state(res[k]);
                if (!es || !es->sa) {
                    if (rate_ok(w.no_sa_last[res[k]], rte_rdtsc(), w.event_interval))
                        event(w, EventType::no_sa, pidx, res[k]);
                    drop(w, m, Drop::no_sa);  // never clear text
                    continue;
                }
                if (!ttl_step(ip)) {
                    drop(w, m, Drop::ttl_exceeded);
                    continue;
                }
                OutboundSa& osa = *es->sa;
                if (pp[i].l3_len > esp_max_inner_len(osa.esp) && !(ip[6] & 0x40)) {
                    // DF clear and too big for the tunnel: fragment before encryption
                    rte_mbuf* fm[kMaxFragments];
                    uint8_t* fip[kMaxFragments];
                    m->port = pidx;
                    const uint16_t nf = ipv4_fragment(m, ip, pp[i].l3_len, uint16_t(esp_max_inner_len(osa.esp)),
                                                      rt.pool(), fm, fip, kMaxFragments);
                    if (nf == 0) {
                        drop(w, m, Drop::frag_failed);
                        continue;
                    }
                    w.counters.fragments.add(nf - 1u);
                    EspBuf fb[kMaxFragments];
                    OutboundSa* fsa[kMaxFragments];
                    for (uint16_t k = 0; k < nf; ++k) {
                        uint8_t* fbase = static_cast<uint8_t*>(fm[k]->buf_addr);
                        fb[k] = EspBuf{};
                        fb[k].data = fip[k];
                        fb[k].len = uint32_t((fip[k][2] << 8) | fip[k][3]);
                        fb[k].headroom = uint32_t(fip[k] - fbase) - kEthLen;
                        fb[k].tailroom = uint32_t(fm[k]->buf_len - (fip[k] - fbase) - fb[k].len);
                        fb[k].cookie = fm[k];
                        fb[k].sa = &osa.esp;
                        fsa[k] = &osa;
                    }
                    protect_burst(c, pidx, fb, fsa, nf);
                    continue;
                }
                uint8_t* base = static_cast<uint8_t*>(m->buf_addr);
                EspBuf& b = bufs[nprot];
                b = EspBuf{};
                b.data = ip;
                b.len = pp[i].l3_len;
                // keep room for the Ethernet header in front of the outer IPv4 header
                b.headroom = uint32_t(ip - base) - kEthLen;
                b.tailroom = uint32_t(m->buf_len - (ip - base) - pp[i].l3_len);
                b.cookie = m;
                b.sa = &es->sa->esp;
                sa_of[nprot++] = es->sa.get();
            }
            if (nprot) protect_burst(c, pidx, bufs, sa_of, nprot);
        } else {
            // Clear transit arriving on an outside port: what the mirrored map says must
            // arrive protected is dropped; so is what the map as written would protect
            // on its way out (a spoofed inside source hairpinning through an outside
            // port): the crypto map applies to everything that leaves by its interface.
            t.in->classify_burst(kp, ncls, res);
            uint32_t res_out[kBurst];
            classify_out(w, t, kp, ncls, res_out);
            for (uint16_t k = 0; k < ncls; ++k) {
                rte_mbuf* m = pkts[cls[k]];
                if (res[k] != Classifier::kBypass || res_out[k] != Classifier::kBypass) {
                    drop(w, m, Drop::clear_must_be_protected);
                    continue;
                }
                forward_clear(c, m, rte_pktmbuf_mtod(m, uint8_t*) + pp[cls[k]].l3_off);
            }
        }
    }

    // --- inbound ESP for us ---
    if (nesp) {
        const Runtime::SaInTable* tab = rt.sa_in_table();
        EspBuf bufs[kBurst];
        EspBuf* list[kBurst];
        rte_mbuf* ml[kBurst];
        Runtime::InboundSa* sas[kBurst];
        uint64_t seqs[kBurst];
        uint16_t nd = 0;
        for (uint16_t k = 0; k < nesp; ++k) {
            const uint16_t i = esp[k];
            rte_mbuf* m = pkts[i];
            Runtime::InboundSa* sa = tab ? tab->find(pp[i].spi) : nullptr;
            if (!sa) {
                drop(w, m, Drop::unknown_spi);
                continue;
            }
            if (sa->owner != w.index) {  // software dispatch: only the owner touches the SA
                m->port = pidx;
                if (rte_ring_enqueue(rt.handoff_ring(sa->owner), m) != 0) drop(w, m, Drop::handoff_full);
                else w.counters.handoff_out.add(1);
                continue;
            }
            const ReplayCheck rc = sa->window.check(pp[i].esp_seq);
            if (!rc.ok()) {
                drop(w, m, Drop::replay);
                continue;
            }
            uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
            EspBuf& b = bufs[nd];
            b = EspBuf{};
            b.data = frame + pp[i].payload_off;
            b.len = uint32_t(pp[i].l3_off + pp[i].l3_len - pp[i].payload_off);
            b.headroom = uint32_t(b.data - static_cast<uint8_t*>(m->buf_addr));
            b.tailroom = 0;
            b.sa = &sa->esp;
            b.esn_hi = uint32_t(rc.seq >> 32);
            list[nd] = &b;
            ml[nd] = m;
            sas[nd] = sa;
            seqs[nd++] = rc.seq;
        }
        if (nd) {
            EspBuf* work[kBurst];
            for (uint16_t k = 0; k < nd; ++k) work[k] = list[k];
            esp_decap_burst(*w.engine, std::span<EspBuf*>(work, nd));
            const uint64_t now = rte_rdtsc();
            for (uint16_t k = 0; k < nd; ++k) {
                EspBuf& b = *list[k];
                rte_mbuf* m = ml[k];
                Runtime::InboundSa* sa = sas[k];
                if (b.reason != EspReason::ok) {
                    drop(w, m, b.reason == EspReason::icv_mismatch ? Drop::icv : Drop::bad_esp);
                    continue;
                }
                if (!sa->window.update(seqs[k])) {
                    drop(w, m, Drop::replay);
                    continue;
                }
                // inner packet: re-parse behind a fresh Ethernet header, check selectors
                uint8_t* ip = b.data;
                auto* eth = reinterpret_cast<rte_ether_hdr*>(ip - kEthLen);
                eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
                const ParsedPkt inner = parse_frame(ip - kEthLen, b.len + kEthLen);
                if (inner.cls == PktClass::malformed || inner.cls == PktClass::non_ip) {
                    drop(w, m, Drop::bad_esp);
                    continue;
                }
                if (!t.in->entry_permits(inner, sa->entry)) {
                    drop(w, m, Drop::policy);
                    continue;
                }
                SaCounters& sc = w.sa_counters[sa->slot];
                sc.packets.add(1);
                sc.bytes.add(b.len);
                sc.last_used_tsc.store(now, std::memory_order_relaxed);
                w.counters.decrypted_in.add(1);
                if (!ttl_step(ip)) {
                    drop(w, m, Drop::ttl_exceeded);
                    continue;
                }
                route_and_send(c, m, ip);
            }
        }
    }
}

}  // namespace

// Empty iterations before an idle worker starts sleeping (only with idle_sleep_us > 0):
// about 0.1-1 ms of polling, so a burst gap under load never sleeps.
constexpr uint32_t kIdleSpins = 1024;

bool Runtime::run_inline(uint16_t port_index, rte_mbuf** pkts, uint16_t n) {
    if (running_ || workers_.empty()) return false;
    const Tables* t = tables_.read();  // no concurrent publish: the caller is the control thread
    if (port_index >= t->nb_ports) return false;
    Worker& w = *workers_[0];
    for (uint16_t i = 0; i < n; i += kBurst)
        process_burst(*this, w, *t, port_index, pkts + i, uint16_t(std::min<int>(kBurst, n - i)));
    for (uint16_t p = 0; p < t->nb_ports; ++p) flush_port(w, *t, p);
    return true;
}

int worker_main(void* arg) {
    auto& w = *static_cast<Runtime::Worker*>(arg);
    Runtime& rt = *w.rt;
    rte_mbuf* pkts[kBurst];
    const uint32_t idle_sleep_us = rt.spec_.idle_sleep_us;
    uint32_t empty = 0;
    rt.rcu_->online(w.index);
    while (!rt.stop_flag_.load(std::memory_order_relaxed)) {
        // One snapshot per iteration; quiescent at the end releases it.
        const Runtime::Tables* t = rt.tables_.read();
        uint32_t got = 0;
        for (uint16_t p = 0; p < t->nb_ports; ++p) {
            const uint16_t n = rte_eth_rx_burst(t->port_id[p], w.index, pkts, kBurst);
            got += n;
            if (n) process_burst(rt, w, *t, p, pkts, n);
        }
        {  // inbound ESP of SAs this worker owns, received by another worker
            rte_mbuf* h[kBurst];
            const unsigned k = rte_ring_dequeue_burst(w.handoff, reinterpret_cast<void**>(h), kBurst, nullptr);
            for (unsigned i = 0; i < k;) {  // runs of one port
                unsigned j = i + 1;
                while (j < k && h[j]->port == h[i]->port) ++j;
                const uint16_t p = h[i]->port < t->nb_ports ? h[i]->port : 0;
                process_burst(rt, w, *t, p, h + i, uint16_t(j - i), true);
                i = j;
            }
        }
        if (w.index == 0) {
            rte_mbuf* m[kBurst];
            const unsigned k = rte_ring_dequeue_burst(rt.control_tx_, reinterpret_cast<void**>(m), kBurst, nullptr);
            w.counters.injected.add(k);
            for (unsigned i = 0; i < k; ++i) {
                const uint16_t p = m[i]->port;
                if (p >= t->nb_ports) {
                    drop(w, m[i], Drop::malformed);
                    continue;
                }
                w.counters.ports[p].tx_bytes.add(m[i]->pkt_len);
                enqueue_tx(w, *t, p, m[i]);
            }
        }
        for (uint16_t p = 0; p < t->nb_ports; ++p) flush_port(w, *t, p);
        w.counters.iterations.add(1);
        rt.rcu_->quiescent(w.index);
        if (idle_sleep_us) {  // opt-in: never taken on an appliance that busy-polls
            empty = got ? 0 : empty + 1;
            if (empty > kIdleSpins) rte_delay_us_sleep(idle_sleep_us);  // quiescent already
        }
    }
    rt.rcu_->offline(w.index);
    return 0;
}

}  // namespace peregrine::dataplane
