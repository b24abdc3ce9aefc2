// tests/crypto/test_esp_codec.cpp - ESP tunnel codec: round trips for every transform,
// sizes 20..1500, ESN and UDP encapsulation on/off; every reason code.
#include <rte_ip.h>

#include <cstring>
#include <map>
#include <set>
#include <string>

#include "dataplane/esp_codec.hpp"
#include "tests/crypto/esp_test_util.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine::dataplane;
using namespace peregrine::crypto;
using pgtest::esp::engine;
using pgtest::esp::keys_for;
using Bytes = std::vector<uint8_t>;

namespace {

constexpr Transform kAll[] = {
    Transform::aes128_gcm16,
    Transform::aes256_gcm16,
    Transform::aes128_cbc_hmac_sha1_96,
    Transform::aes256_cbc_hmac_sha1_96,
    Transform::aes128_cbc_hmac_sha256_128,
    Transform::aes256_cbc_hmac_sha256_128,
};
constexpr uint32_t kRoom = 128;

uint16_t be16(const uint8_t* p) {
    return uint16_t(p[0] << 8 | p[1]);
}
uint32_t be32(const uint8_t* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

// A packet buffer with room on both sides, holding an inner IPv4 packet of len bytes.
struct Pkt {
    Bytes mem;
    EspBuf buf{};
    Pkt(uint32_t len, uint32_t salt, uint32_t head = kRoom, uint32_t tail = kRoom) {
        mem.assign(head + len + tail, 0xee);
        uint8_t* p = mem.data() + head;
        for (uint32_t i = 0; i < len; ++i) p[i] = uint8_t(i * 31 + salt);
        if (len >= 20) {
            p[0] = 0x45;
            p[1] = uint8_t(salt);  // TOS
            p[2] = uint8_t(len >> 8);
            p[3] = uint8_t(len);
        }
        buf = EspBuf{p, len, head, tail, nullptr, 0, 0, 0, EspReason::ok, nullptr};
    }
    Bytes bytes() const { return Bytes(buf.data, buf.data + buf.len); }
};

struct SaPair {
    std::unique_ptr<KeySchedule> keys;
    EspSa out{}, in{};
    SaPair(Transform t, bool esn, bool udp, uint64_t first_seq = 1, uint16_t max_len = 0xffff) {
        keys = keys_for(t, 11);
        EspSaConfig c;
        c.transform = t;
        c.keys = keys.get();
        c.spi = 0x11223344;
        c.esn = esn;
        c.udp_encap = udp;
        c.outer_src = 0xc0a80001;
        c.outer_dst = 0xc0a80002;
        c.first_seq = first_seq;
        c.max_outer_len = max_len;
        CU_ASSERT_FATAL(esp_sa_init(out, c));
        CU_ASSERT_FATAL(esp_sa_init(in, c));
    }
};

// Strip the outer IPv4 [+UDP] header the way the caller of decap does.
void to_decap_input(EspBuf& b, const EspSa& sa, uint64_t seq) {
    const uint32_t hl = (b.data[0] & 0x0f) * 4u + (sa.udp_encap ? 8u : 0u);
    b.data += hl;
    b.len -= hl;
    b.headroom += hl;
    b.sa = &sa;
    b.esn_hi = uint32_t(seq >> 32);
}

std::vector<EspBuf*> ptrs(std::vector<Pkt>& v) {
    std::vector<EspBuf*> out;
    for (auto& p : v) out.push_back(&p.buf);
    return out;
}

}  // namespace

PG_TEST(esp_codec, reason_names_table) {
    std::set<std::string_view> names(kEspReasonNames.begin(), kEspReasonNames.end());
    CU_ASSERT_EQUAL(names.size(), kEspReasonCount);
    PG_ASSERT_STR_EQ(esp_reason_name(EspReason::ok), "ok");
    PG_ASSERT_STR_EQ(esp_reason_name(EspReason::icv_mismatch), "icv_mismatch");
    PG_ASSERT_STR_EQ(esp_reason_name(EspReason::crypto_error), "crypto_error");
}

PG_TEST(esp_codec, sa_init_template_and_sizes) {
    SaPair s(Transform::aes128_cbc_hmac_sha1_96, false, true);
    CU_ASSERT_EQUAL(s.out.outer_hdr_len, 28);
    CU_ASSERT_EQUAL(esp_encap_headroom(s.out), 28u + 8u + 16u);
    CU_ASSERT_EQUAL(esp_encap_max_tailroom(s.out), 15u + 2u + 12u);
    CU_ASSERT_EQUAL(s.out.outer_tmpl[9], kIpProtoUdp);
    CU_ASSERT_EQUAL(be16(s.out.outer_tmpl + 20), 4500);
    CU_ASSERT_EQUAL(be16(s.out.outer_tmpl + 22), 4500);
    SaPair g(Transform::aes256_gcm16, true, false);
    CU_ASSERT_EQUAL(esp_encap_headroom(g.out), 20u + 8u + 8u);
    CU_ASSERT_EQUAL(g.out.outer_tmpl[9], kIpProtoEsp);
    EspSa bad{};
    EspSaConfig c;
    c.transform = Transform::aes128_gcm16;
    c.keys = s.keys.get();  // CBC keys for a GCM SA
    CU_ASSERT(!esp_sa_init(bad, c));
}

PG_TEST(esp_codec, round_trip_all_transforms_sizes_esn_udp) {
    for (Transform t : kAll) {
        for (int esn = 0; esn < 2; ++esn) {
            for (int udp = 0; udp < 2; ++udp) {
                // With ESN start just below 2^32 so the burst crosses into ESN-high 1.
                SaPair s(t, esn, udp, esn ? 0xffffff00ull : 1);
                std::vector<Pkt> pk;
                for (uint32_t len = 20; len <= 1500; ++len) pk.emplace_back(len, len);
                std::vector<Bytes> orig;
                for (auto& p : pk) orig.push_back(p.bytes());
                auto v = ptrs(pk);
                CU_ASSERT_EQUAL_FATAL(esp_encap_burst(s.out, engine(), v), v.size());
                const uint32_t align = info(t).pad_align;
                uint64_t prev = 0;
                bool hdr_ok = true, order_ok = true;
                for (size_t i = 0; i < pk.size(); ++i) {
                    EspBuf& b = pk[i].buf;
                    CU_ASSERT_FATAL(v[i] == &b);  // all good: order kept
                    order_ok &= i == 0 || b.seq == prev + 1;
                    prev = b.seq;
                    const uint8_t* o = b.data;
                    hdr_ok &= o[0] == 0x45 && be16(o + 2) == b.len;
                    // DPDK's checksum of the header with the field zeroed == our field
                    alignas(4) uint8_t h[20];
                    std::memcpy(h, o, 20);
                    h[10] = h[11] = 0;
                    uint16_t field;
                    std::memcpy(&field, o + 10, 2);
                    hdr_ok &= rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(h)) == field;
                    // and the sum over the whole header including the field folds to 0xffff
                    uint32_t sum = 0;
                    for (int k = 0; k < 20; k += 2) sum += be16(o + k);
                    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
                    hdr_ok &= sum == 0xffff;
                    hdr_ok &= o[1] == orig[i][1];  // TOS copied from the inner header
                    const uint8_t* esp = o + 20;
                    if (udp) {
                        hdr_ok &= o[9] == 17 && be16(o + 20) == 4500 && be16(o + 22) == 4500 &&
                                  be16(o + 24) == b.len - 20 && be16(o + 26) == 0;
                        esp += 8;
                    } else {
                        hdr_ok &= o[9] == 50;
                    }
                    hdr_ok &= be32(esp) == 0x11223344 && be32(esp + 4) == uint32_t(b.seq);
                    const uint32_t esp_payload =
                        b.len - uint32_t(esp - o) - 8 - info(t).iv_len - info(t).icv_len;
                    hdr_ok &= esp_payload % align == 0;
                }
                CU_ASSERT(hdr_ok);
                CU_ASSERT(order_ok);
                if (esn) CU_ASSERT(pk.back().buf.seq > 0xffffffffull);
                for (auto& p : pk) to_decap_input(p.buf, s.in, p.buf.seq);
                CU_ASSERT_EQUAL_FATAL(esp_decap_burst(engine(), v), v.size());
                bool same = true;
                for (size_t i = 0; i < pk.size(); ++i) {
                    same &= pk[i].bytes() == orig[i];
                    same &= pk[i].buf.next_header == 4;
                    same &= pk[i].buf.headroom == kRoom;  // back exactly where it started
                }
                CU_ASSERT(same);
            }
        }
    }
}

PG_TEST(esp_codec, burst_api_engine_round_trip) {
    auto eng = Engine::create({MbApi::burst, MbArch::automatic});
    CU_ASSERT_FATAL(eng != nullptr);
    for (Transform t : kAll) {
        SaPair s(t, true, false);
        std::vector<Pkt> pk;
        for (uint32_t len = 20; len <= 1500; len += 7) pk.emplace_back(len, len);
        std::vector<Bytes> orig;
        for (auto& p : pk) orig.push_back(p.bytes());
        auto v = ptrs(pk);
        CU_ASSERT_EQUAL(esp_encap_burst(s.out, *eng, v), v.size());
        for (auto& p : pk) to_decap_input(p.buf, s.in, p.buf.seq);
        CU_ASSERT_EQUAL(esp_decap_burst(engine(MbApi::job), v), v.size());  // cross-API
        bool same = true;
        for (size_t i = 0; i < pk.size(); ++i) same &= pk[i].bytes() == orig[i];
        CU_ASSERT(same);
    }
}

// Encap failures go to the tail, in input order, and consume no sequence number.
PG_TEST(esp_codec, encap_reasons_and_partition) {
    SaPair s(Transform::aes128_cbc_hmac_sha256_128, false, false, 1, 1000);
    std::vector<Pkt> pk;
    pk.emplace_back(100, 1);             // 0 ok
    pk.emplace_back(100, 2, 10);         // 1 no_headroom
    pk.emplace_back(100, 3);             // 2 ok
    pk.emplace_back(100, 4, kRoom, 20);  // 3 no_tailroom
    pk.emplace_back(990, 5);             // 4 too_big
    pk.emplace_back(19, 6);              // 5 bad_inner (too short)
    pk.emplace_back(100, 7);             // 6 bad_inner (length field disagrees)
    pk[6].buf.data[3] ^= 1;
    pk.emplace_back(100, 8);  // 7 bad_inner (IPv6)
    pk[7].buf.data[0] = 0x60;
    pk.emplace_back(100, 9);  // 8 ok
    auto v = ptrs(pk);
    CU_ASSERT_EQUAL_FATAL(esp_encap_burst(s.out, engine(), v), 3u);
    CU_ASSERT(v[0] == &pk[0].buf && v[1] == &pk[2].buf && v[2] == &pk[8].buf);
    CU_ASSERT(pk[0].buf.seq == 1 && pk[2].buf.seq == 2 && pk[8].buf.seq == 3);
    const EspReason want[] = {EspReason::no_headroom, EspReason::no_tailroom, EspReason::too_big,
                              EspReason::bad_inner,   EspReason::bad_inner,   EspReason::bad_inner};
    const size_t idx[] = {1, 3, 4, 5, 6, 7};
    for (size_t k = 0; k < 6; ++k) {
        CU_ASSERT(v[3 + k] == &pk[idx[k]].buf);
        CU_ASSERT(v[3 + k]->reason == want[k]);
    }
    CU_ASSERT_EQUAL(s.out.next_seq.load(), 4u);
}

PG_TEST(esp_codec, seq_overflow_without_esn_and_wrap_with_esn) {
    SaPair s(Transform::aes128_gcm16, false, false, 0xfffffffeull);
    std::vector<Pkt> pk;
    for (int i = 0; i < 4; ++i) pk.emplace_back(60, uint32_t(i));
    auto v = ptrs(pk);
    CU_ASSERT_EQUAL(esp_encap_burst(s.out, engine(), v), 2u);  // 0xfffffffe, 0xffffffff
    CU_ASSERT(pk[2].buf.reason == EspReason::seq_overflow);
    CU_ASSERT(pk[3].buf.reason == EspReason::seq_overflow);
    SaPair e(Transform::aes128_gcm16, true, false, 0xfffffffeull);
    std::vector<Pkt> pe;
    for (int i = 0; i < 4; ++i) pe.emplace_back(60, uint32_t(i));
    auto ve = ptrs(pe);
    CU_ASSERT_EQUAL(esp_encap_burst(e.out, engine(), ve), 4u);
    CU_ASSERT_EQUAL(pe[3].buf.seq, 0x100000001ull);
    CU_ASSERT_EQUAL(be32(pe[3].buf.data + 24), 1u);  // only the low 32 bits on the wire
}

namespace {
// Encrypt a hand-made plaintext ESP payload (bad padding etc.) with valid integrity.
Pkt forged(SaPair& s, const Bytes& plain, uint32_t seq = 5) {
    const auto& ti = info(s.out.transform);
    Pkt p(8 + ti.iv_len + uint32_t(plain.size()) + ti.icv_len, 0);
    uint8_t* esp = p.buf.data;
    std::memcpy(esp, &s.out.spi_be, 4);
    esp[4] = uint8_t(seq >> 24), esp[5] = uint8_t(seq >> 16), esp[6] = uint8_t(seq >> 8),
    esp[7] = uint8_t(seq);
    std::memcpy(esp + 8 + ti.iv_len, plain.data(), plain.size());
    EspOp op{s.keys.get(),
             esp,
             esp + 8,
             esp + 8 + ti.iv_len,
             uint32_t(plain.size()),
             0,
             esp + 8 + ti.iv_len + plain.size(),
             false,
             false};
    OpStatus st;
    engine().encrypt_burst(std::span(&op, 1), std::span(&st, 1));
    CU_ASSERT(st == OpStatus::ok);
    p.buf.sa = &s.in;
    return p;
}
Bytes inner_with_trailer(uint32_t inner_len, uint32_t total_field, uint8_t pad_len, uint8_t nh,
                         bool good_pad, uint32_t align) {
    Bytes b(inner_len, 0x33);
    if (inner_len >= 20) {
        b[0] = 0x45;
        b[2] = uint8_t(total_field >> 8);
        b[3] = uint8_t(total_field);
    }
    for (uint8_t k = 0; k < pad_len; ++k) b.push_back(good_pad ? uint8_t(k + 1) : uint8_t(k + 2));
    b.push_back(pad_len);
    b.push_back(nh);
    while (b.size() % align) b.insert(b.begin() + inner_len, 0);  // keep block-aligned (test only)
    return b;
}
}  // namespace

PG_TEST(esp_codec, decap_reasons) {
    for (Transform t : {Transform::aes256_gcm16, Transform::aes128_cbc_hmac_sha1_96}) {
        SaPair s(t, false, false);
        const uint32_t align = info(t).pad_align;
        // inner 62 bytes + 0 pad + 2 = 64: aligned for both
        std::vector<Pkt> pk;
        pk.push_back(forged(s, inner_with_trailer(62, 62, 0, 4, true, align)));  // 0 ok
        pk.push_back(
            forged(s, inner_with_trailer(46, 46, 14, 4, false, align)));  // 1 bad_padding (bytes)
        Bytes big = inner_with_trailer(62, 62, 0, 4, true, align);
        big[62] = 200;                 // pad len > payload
        pk.push_back(forged(s, big));  // 2 bad_padding (length)
        pk.push_back(
            forged(s, inner_with_trailer(62, 62, 0, 6, true, align)));  // 3 bad_next_header
        pk.push_back(forged(s, inner_with_trailer(62, 62, 0, 59, true, align)));  // 4 dummy
        pk.push_back(forged(
            s, inner_with_trailer(62, 80, 0, 4, true, align)));  // 5 bad_inner (total > span)
        pk.push_back(
            forged(s, inner_with_trailer(62, 50, 0, 4, true, align)));  // 6 ok, TFC padding trimmed
        pk.push_back(forged(s, inner_with_trailer(62, 62, 0, 4, true, align)));  // 7 icv_mismatch
        pk[7].buf.data[pk[7].buf.len - 1] ^= 0x80;
        pk.push_back(forged(s, inner_with_trailer(62, 62, 0, 4, true, align)));  // 8 bad_spi
        pk[8].buf.data[0] ^= 1;
        pk.push_back(forged(s, inner_with_trailer(62, 62, 0, 4, true, align)));  // 9 truncated
        pk[9].buf.len = 8 + info(t).iv_len + info(t).icv_len + 1;
        pk.push_back(
            forged(s, inner_with_trailer(62, 62, 0, 4, true, align)));  // 10 bad_len / icv_mismatch
        pk[10].buf.len -= 1;
        pk.push_back(forged(s, inner_with_trailer(62, 62, 0, 4, true, align)));  // 11 no SA
        pk[11].buf.sa = nullptr;
        auto v = ptrs(pk);
        CU_ASSERT_EQUAL(esp_decap_burst(engine(), v), 2u);
        CU_ASSERT(v[0] == &pk[0].buf && v[1] == &pk[6].buf);
        CU_ASSERT_EQUAL(pk[0].buf.len, 62u);
        CU_ASSERT_EQUAL(pk[6].buf.len, 50u);
        CU_ASSERT_EQUAL(pk[0].buf.seq, 5u);
        const EspReason want[] = {EspReason::bad_padding,
                                  EspReason::bad_padding,
                                  EspReason::bad_next_header,
                                  EspReason::dummy,
                                  EspReason::bad_inner,
                                  EspReason::icv_mismatch,
                                  EspReason::bad_spi,
                                  EspReason::truncated,
                                  is_aead(t) ? EspReason::icv_mismatch : EspReason::bad_len,
                                  EspReason::bad_spi};
        const size_t idx[] = {1, 2, 3, 4, 5, 7, 8, 9, 10, 11};
        for (size_t k = 0; k < 10; ++k) {
            CU_ASSERT(v[2 + k] == &pk[idx[k]].buf);
            CU_ASSERT_EQUAL(int(pk[idx[k]].buf.reason), int(want[k]));
        }
    }
}

PG_TEST(esp_codec, tamper_and_truncation_every_transform) {
    for (Transform t : kAll) {
        for (int udp = 0; udp < 2; ++udp) {
            SaPair s(t, true, udp);
            std::vector<Pkt> pk;
            for (uint32_t i = 0; i < 40; ++i) pk.emplace_back(100 + i, i);
            auto v = ptrs(pk);
            CU_ASSERT_EQUAL_FATAL(esp_encap_burst(s.out, engine(), v), 40u);
            for (auto& p : pk) to_decap_input(p.buf, s.in, p.buf.seq);
            for (uint32_t i = 0; i < 40; ++i) {
                EspBuf& b = pk[i].buf;
                switch (i % 5) {
                    case 0:
                        b.data[4 + i % 4] ^= 0x10;
                        break;  // sequence number
                    case 1:
                        b.data[b.len / 2] ^= 0x01;
                        break;  // ciphertext
                    case 2:
                        b.data[b.len - 1] ^= 0x01;
                        break;  // ICV
                    case 3:
                        b.esn_hi += 1;
                        break;  // wrong ESN-high
                    case 4:
                        b.len = 8 + info(t).iv_len + 1;
                        break;  // truncated
                }
            }
            CU_ASSERT_EQUAL(esp_decap_burst(engine(), v), 0u);
            for (uint32_t i = 0; i < 40; ++i)
                CU_ASSERT(pk[i].buf.reason ==
                          (i % 5 == 4 ? EspReason::truncated : EspReason::icv_mismatch));
        }
    }
}

PG_TEST(esp_codec, large_burst_partition_across_chunks) {
    SaPair s(Transform::aes128_gcm16, false, false);
    std::vector<Pkt> pk;
    for (uint32_t i = 0; i < 200; ++i)
        pk.emplace_back(i % 3 == 0 ? 10 : 80, i);  // every 3rd bad_inner
    auto v = ptrs(pk);
    const uint32_t good = esp_encap_burst(s.out, engine(), v);
    CU_ASSERT_EQUAL(good, 133u);
    bool ok = true;
    size_t g = 0, b = 0;
    for (uint32_t i = 0; i < 200; ++i) {
        if (i % 3 == 0)
            ok &= v[good + b++] == &pk[i].buf;
        else
            ok &= v[g++] == &pk[i].buf;
    }
    CU_ASSERT(ok);
}

// One burst mixing SAs of different transforms (as a worker sends to many peers): each
// SA's packets get its own consecutive sequence numbers in burst order, runs of one SA
// included, and every packet decrypts under its own SA to the original inner packet.
// Both ways of reserving sequence numbers: atomic (workers share SAs) and sole sender.
static void mixed_sa_burst_case(bool sole_sender) {
    SaPair a(Transform::aes128_gcm16, false, false, 100);
    SaPair b(Transform::aes128_cbc_hmac_sha256_128, false, true, 7);
    SaPair c(Transform::aes256_cbc_hmac_sha1_96, true, false, 0xfffffffeull);
    SaPair* order[] = {&a, &a, &b, &a, &c, &c, &c, &b, &a, &b, &c, &a};
    std::vector<Pkt> pk;
    for (size_t i = 0; i < std::size(order); ++i) pk.emplace_back(uint32_t(40 + 37 * i), uint32_t(i));
    pk[5] = Pkt(10, 5);  // not an IPv4 packet: fails alone, consumes no sequence number
    std::vector<Bytes> orig;
    for (auto& p : pk) orig.push_back(p.bytes());
    auto v = ptrs(pk);
    for (size_t i = 0; i < v.size(); ++i) v[i]->sa = &order[i]->out;
    CU_ASSERT_EQUAL_FATAL(esp_encap_burst(engine(), v, sole_sender), v.size() - 1);
    CU_ASSERT_EQUAL(pk[5].buf.reason, EspReason::bad_inner);
    CU_ASSERT_PTR_EQUAL(v.back(), &pk[5].buf);  // failures at the tail
    std::map<const SaPair*, uint64_t> next = {{&a, 100}, {&b, 7}, {&c, 0xfffffffeull}};
    for (size_t i = 0; i < pk.size(); ++i) {
        if (i == 5) continue;
        SaPair& s = *order[i];
        CU_ASSERT_EQUAL(pk[i].buf.seq, next[&s]);
        const uint64_t seq = next[&s]++;
        EspBuf& e = pk[i].buf;
        to_decap_input(e, s.in, seq);
        EspBuf* one[] = {&e};
        CU_ASSERT_EQUAL(esp_decap_burst(engine(), std::span<EspBuf*>(one, 1)), 1u);
        CU_ASSERT(pk[i].bytes() == orig[i]);
    }
    CU_ASSERT_EQUAL(next[&c], 0x100000001ull);  // c crossed into ESN-high 1 within the burst
    // The counters moved on by exactly what was handed out.
    CU_ASSERT_EQUAL(a.out.next_seq.load(), next[&a]);
    CU_ASSERT_EQUAL(b.out.next_seq.load(), next[&b]);
    CU_ASSERT_EQUAL(c.out.next_seq.load(), next[&c]);
}

PG_TEST(esp_codec, mixed_sa_burst) { mixed_sa_burst_case(false); }
PG_TEST(esp_codec, mixed_sa_burst_sole_sender) { mixed_sa_burst_case(true); }
