// dataplane/esp_codec.cpp - ESP tunnel mode encapsulation/decapsulation on buffers.
#include "dataplane/esp_codec.hpp"

#include <algorithm>
#include <cstring>

namespace peregrine::dataplane {

namespace {

// Packets handled per crypto round: one stack array of EspOp, bounded by the
// engine's round so every round is one IPsec-MB submission.
constexpr uint32_t kChunk = crypto::Engine::kRound;
constexpr uint32_t kIpv4MinHdr = 20;
constexpr uint32_t kUdpHdr = 8;
constexpr uint32_t kEspHdr = 8;

void put_be16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
void put_be32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}
uint16_t get_be16(const uint8_t* p) {
    return uint16_t((p[0] << 8) | p[1]);
}

uint16_t csum_fold(uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}

// Stable in-place partition: reason == ok first, the rest after, both in input order.
// Per chunk: compact with a small stack array, then rotate the chunk's good packets
// in front of the failures collected so far. No allocation (std::rotate is in place).
uint32_t partition_good(std::span<EspBuf*> pkts) {
    size_t good = 0;
    for (size_t done = 0; done < pkts.size();) {
        const size_t n = std::min<size_t>(kChunk, pkts.size() - done);
        EspBuf* bad[kChunk];
        size_t ng = 0, nb = 0;
        for (size_t i = done; i < done + n; ++i) {
            if (pkts[i]->reason == EspReason::ok)
                pkts[done + ng++] = pkts[i];
            else
                bad[nb++] = pkts[i];
        }
        for (size_t k = 0; k < nb; ++k) pkts[done + ng + k] = bad[k];
        std::rotate(pkts.begin() + static_cast<ptrdiff_t>(good),
                    pkts.begin() + static_cast<ptrdiff_t>(done),
                    pkts.begin() + static_cast<ptrdiff_t>(done + ng));
        good += ng;
        done += n;
    }
    return static_cast<uint32_t>(good);
}

EspReason from_status(crypto::OpStatus s) {
    switch (s) {
        case crypto::OpStatus::ok:
            return EspReason::ok;
        case crypto::OpStatus::auth_failed:
            return EspReason::icv_mismatch;
        case crypto::OpStatus::bad_length:
            return EspReason::bad_len;
        default:
            return EspReason::crypto_error;
    }
}

}  // namespace

bool esp_sa_init(EspSa& sa, const EspSaConfig& cfg) {
    if (!cfg.keys || cfg.keys->transform() != cfg.transform) return false;
    const crypto::TransformInfo& ti = crypto::info(cfg.transform);
    sa.keys = cfg.keys;
    uint8_t spi[4];
    put_be32(spi, cfg.spi);
    std::memcpy(&sa.spi_be, spi, 4);
    sa.transform = cfg.transform;
    sa.iv_len = ti.iv_len;
    sa.icv_len = ti.icv_len;
    sa.pad_align = ti.pad_align;
    sa.block_size = ti.block_size;
    sa.esn = cfg.esn;
    sa.udp_encap = cfg.udp_encap;
    sa.copy_tos = cfg.copy_tos;
    sa.max_outer_len = cfg.max_outer_len;
    sa.outer_hdr_len = uint16_t(kIpv4MinHdr + (cfg.udp_encap ? kUdpHdr : 0));

    uint8_t* h = sa.outer_tmpl;
    std::memset(h, 0, sizeof sa.outer_tmpl);
    h[0] = 0x45;
    h[1] = cfg.copy_tos ? 0 : cfg.tos;
    put_be16(h + 6, cfg.df ? 0x4000 : 0);
    h[8] = cfg.ttl;
    h[9] = cfg.udp_encap ? kIpProtoUdp : kIpProtoEsp;
    put_be32(h + 12, cfg.outer_src);
    put_be32(h + 16, cfg.outer_dst);
    if (cfg.udp_encap) {
        put_be16(h + 20, kNatTPort);
        put_be16(h + 22, kNatTPort);  // length filled per packet; checksum 0 (RFC 3948 2.1)
    }
    // Constant words: flags/fragment, ttl/proto, addresses. Version/TOS, total length
    // and id are added per packet (TOS may be copied from the inner header).
    uint32_t sum = 0;
    for (size_t i = 6; i < kIpv4MinHdr; i += 2) sum += get_be16(h + i);
    sa.csum_partial = sum;
    sa.next_seq.store(cfg.first_seq, std::memory_order_relaxed);
    return true;
}

uint32_t esp_encap_burst(EspSa& sa, crypto::Engine& eng, std::span<EspBuf*> pkts) noexcept {
    for (EspBuf* b : pkts) b->sa = &sa;
    return esp_encap_burst(eng, pkts);
}

uint32_t esp_encap_burst(crypto::Engine& eng, std::span<EspBuf*> pkts, bool sole_sender) noexcept {
    for (size_t off = 0; off < pkts.size(); off += kChunk) {
        const auto n = static_cast<uint32_t>(std::min<size_t>(kChunk, pkts.size() - off));
        EspBuf** chunk = pkts.data() + off;
        uint32_t pad[kChunk];
        // Pass 1: length and room checks, so that only packets that will be sent
        // consume sequence numbers.
        for (uint32_t i = 0; i < n; ++i) {
            EspBuf& b = *chunk[i];
            const EspSa& sa = *b.sa;
            b.reason = EspReason::ok;
            if (b.len < kIpv4MinHdr || (b.data[0] >> 4) != 4 || get_be16(b.data + 2) != b.len) {
                b.reason = EspReason::bad_inner;
                continue;
            }
            const uint32_t front = esp_encap_headroom(sa);
            pad[i] = (0u - (b.len + 2)) & (sa.pad_align - 1u);  // pad_align is 4 or 16 (a power of 2)
            const uint32_t tail = pad[i] + 2 + sa.icv_len;
            if (b.headroom < front)
                b.reason = EspReason::no_headroom;
            else if (b.tailroom < tail)
                b.reason = EspReason::no_tailroom;
            else if (front + b.len + tail > sa.max_outer_len)
                b.reason = EspReason::too_big;
        }

        crypto::EspOp ops[kChunk];
        crypto::OpStatus st[kChunk];
        uint32_t idx[kChunk];
        uint32_t nops = 0;
        const EspSa* run_sa = nullptr;  // sequence numbers are reserved per run of one SA
        uint64_t seq = 0;
        for (uint32_t i = 0; i < n; ++i) {
            EspBuf& b = *chunk[i];
            if (b.reason != EspReason::ok) continue;
            const EspSa& sa = *b.sa;
            if (&sa != run_sa) {
                uint32_t run = 0;
                for (uint32_t j = i; j < n && chunk[j]->sa == &sa; ++j) run += chunk[j]->reason == EspReason::ok;
                // Relaxed: the counter only has to hand out unique values; the packet
                // bytes reach the NIC through the tx path, not through this atomic.
                if (sole_sender) {
                    seq = sa.next_seq.load(std::memory_order_relaxed);
                    sa.next_seq.store(seq + run, std::memory_order_relaxed);
                } else {
                    seq = sa.next_seq.fetch_add(run, std::memory_order_relaxed);
                }
                run_sa = &sa;
            }
            const uint64_t s = seq++;
            if (s == 0 || s > (sa.esn ? UINT64_MAX : UINT32_MAX)) {  // s == 0: the 64-bit counter wrapped
                b.reason = EspReason::seq_overflow;
                continue;
            }
            const uint32_t front = esp_encap_headroom(sa);
            const uint32_t payload_len = b.len + pad[i] + 2;
            const uint32_t outer_len = front + payload_len + sa.icv_len;
            uint8_t* inner = b.data;
            uint8_t* out = inner - front;
            uint8_t* esp = out + sa.outer_hdr_len;
            const uint8_t tos = sa.copy_tos ? inner[1] : sa.outer_tmpl[1];

            // Always the whole 28-byte template (a fixed-size copy, no call): without UDP
            // its last 8 bytes land on the ESP header, written right below.
            static_assert(sizeof sa.outer_tmpl <= kIpv4MinHdr + kUdpHdr + kEspHdr,
                          "the template copy must stay inside the headers it precedes");
            std::memcpy(out, sa.outer_tmpl, sizeof sa.outer_tmpl);
            out[1] = tos;
            put_be16(out + 2, uint16_t(outer_len));
            put_be16(out + 4, uint16_t(s));  // IP id: low bits of the per-SA sequence
            const uint32_t sum = sa.csum_partial + ((0x45u << 8) | tos) + outer_len + uint16_t(s);
            put_be16(out + 10, csum_fold(sum));
            if (sa.udp_encap) put_be16(out + kIpv4MinHdr + 4, uint16_t(outer_len - kIpv4MinHdr));
            std::memcpy(esp, &sa.spi_be, 4);
            put_be32(esp + 4, uint32_t(s));
            uint8_t* trailer = inner + b.len;
            for (uint32_t k = 0; k < pad[i]; ++k) trailer[k] = uint8_t(k + 1);
            trailer[pad[i]] = uint8_t(pad[i]);
            trailer[pad[i] + 1] = kNextHeaderIpv4;

            b.seq = s;
            ops[nops] = crypto::EspOp{sa.keys,
                                      esp,
                                      esp + kEspHdr,
                                      inner,
                                      payload_len,
                                      uint32_t(s >> 32),
                                      inner + payload_len,
                                      sa.esn,
                                      false};
            idx[nops++] = i;
        }
        eng.encrypt_burst(std::span(ops, nops), std::span(st, nops));
        for (uint32_t k = 0; k < nops; ++k) {
            EspBuf& b = *chunk[idx[k]];
            b.reason = from_status(st[k]);
            if (b.reason != EspReason::ok) continue;
            const uint32_t front = esp_encap_headroom(*b.sa);
            b.data -= front;
            b.headroom -= front;
            const uint32_t added = front + ops[k].len - b.len + b.sa->icv_len;
            b.tailroom -= added - front;
            b.len += added;
        }
    }
    return partition_good(pkts);
}

uint32_t esp_decap_burst(crypto::Engine& eng, std::span<EspBuf*> pkts) noexcept {
    for (size_t off = 0; off < pkts.size(); off += kChunk) {
        const auto n = static_cast<uint32_t>(std::min<size_t>(kChunk, pkts.size() - off));
        EspBuf** chunk = pkts.data() + off;
        crypto::EspOp ops[kChunk];
        crypto::OpStatus st[kChunk];
        uint32_t idx[kChunk];
        uint32_t nops = 0;
        for (uint32_t i = 0; i < n; ++i) {
            EspBuf& b = *chunk[i];
            const EspSa* sa = b.sa;
            b.reason = EspReason::ok;
            b.next_header = 0;
            if (!sa) {
                b.reason = EspReason::bad_spi;
                continue;
            }
            const uint32_t overhead = kEspHdr + sa->iv_len + sa->icv_len;
            if (b.len < overhead + 2) {
                b.reason = EspReason::truncated;
                continue;
            }
            const uint32_t ct_len = b.len - overhead;
            if (ct_len % sa->block_size != 0) {
                b.reason = EspReason::bad_len;
                continue;
            }
            if (std::memcmp(b.data, &sa->spi_be, 4) != 0) {
                b.reason = EspReason::bad_spi;
                continue;
            }
            b.seq = esp_peek_seq(b.data);
            uint8_t* payload = b.data + kEspHdr + sa->iv_len;
            ops[nops] = crypto::EspOp{sa->keys,         b.data,  b.data + kEspHdr,
                                      payload,          ct_len,  sa->esn ? b.esn_hi : 0,
                                      payload + ct_len, sa->esn, false};
            idx[nops++] = i;
        }
        eng.decrypt_burst(std::span(ops, nops), std::span(st, nops));
        for (uint32_t k = 0; k < nops; ++k) {
            EspBuf& b = *chunk[idx[k]];
            b.reason = from_status(st[k]);
            if (b.reason != EspReason::ok) continue;
            const crypto::EspOp& op = ops[k];
            const uint8_t* p = op.payload;
            const uint32_t pad_len = p[op.len - 2];
            const uint8_t nh = p[op.len - 1];
            if (pad_len + 2 > op.len) {
                b.reason = EspReason::bad_padding;
                continue;
            }
            const uint32_t inner_len = op.len - 2 - pad_len;
            bool pad_ok = true;
            for (uint32_t j = 0; j < pad_len; ++j) pad_ok &= p[inner_len + j] == uint8_t(j + 1);
            b.next_header = nh;
            if (!pad_ok) {
                b.reason = EspReason::bad_padding;
                continue;
            }
            if (nh == kNextHeaderNone) {
                b.reason = EspReason::dummy;
                continue;
            }
            if (nh != kNextHeaderIpv4) {
                b.reason = EspReason::bad_next_header;
                continue;
            }
            // Inner IPv4 header sanity; trim TFC padding (RFC 4303 2.7) to total length.
            if (inner_len < kIpv4MinHdr || (p[0] >> 4) != 4 || (p[0] & 0x0f) < 5) {
                b.reason = EspReason::bad_inner;
                continue;
            }
            const uint32_t total = get_be16(p + 2);
            if (total < (p[0] & 0x0fu) * 4u || total > inner_len) {
                b.reason = EspReason::bad_inner;
                continue;
            }
            const auto front = static_cast<uint32_t>(op.payload - b.data);
            b.data += front;
            b.headroom += front;
            b.tailroom += b.len - front - total;
            b.len = total;
        }
    }
    return partition_good(pkts);
}

}  // namespace peregrine::dataplane
