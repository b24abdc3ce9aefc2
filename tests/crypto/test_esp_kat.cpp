// tests/crypto/test_esp_kat.cpp - known-answer tests for every ESP transform, and the
// ESP operations cross-checked against OpenSSL (an independent implementation).
//
// Vectors: McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 3, 4,
// 15, 16; NIST SP 800-38A F.2.1 / F.2.5 (CBC-AES128/256 encrypt); RFC 2202
// (HMAC-SHA-1) test cases 1-7; RFC 4231 (HMAC-SHA-256) test cases 1-7.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <set>
#include <string>

#include "crypto/esp_transform.hpp"
#include "tests/crypto/esp_test_util.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine::crypto;
using pgtest::esp::engine;
using pgtest::esp::hex;
using pgtest::esp::keys_for;
using pgtest::esp::pattern;
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

// --- OpenSSL reference ----------------------------------------------------------
Bytes ossl_gcm(const Bytes& key, const Bytes& nonce12, const Bytes& aad, const Bytes& pt,
               Bytes& tag) {
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(c, key.size() == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(), nullptr,
                       nullptr, nullptr);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, 12, nullptr);
    EVP_EncryptInit_ex(c, nullptr, nullptr, key.data(), nonce12.data());
    int n = 0;
    if (!aad.empty()) EVP_EncryptUpdate(c, nullptr, &n, aad.data(), int(aad.size()));
    Bytes ct(pt.size() + 16);
    int len = 0;
    EVP_EncryptUpdate(c, ct.data(), &len, pt.data(), int(pt.size()));
    EVP_EncryptFinal_ex(c, ct.data() + len, &n);
    ct.resize(pt.size());
    tag.resize(16);
    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, 16, tag.data());
    EVP_CIPHER_CTX_free(c);
    return ct;
}

Bytes ossl_cbc(const Bytes& key, const uint8_t* iv, const uint8_t* pt, size_t len) {
    EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(c, key.size() == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc(), nullptr,
                       key.data(), iv);
    EVP_CIPHER_CTX_set_padding(c, 0);
    Bytes ct(len + 16);
    int n = 0, m = 0;
    EVP_EncryptUpdate(c, ct.data(), &n, pt, int(len));
    EVP_EncryptFinal_ex(c, ct.data() + n, &m);
    ct.resize(len);
    EVP_CIPHER_CTX_free(c);
    return ct;
}

Bytes ossl_hmac(bool sha1, const Bytes& key, const Bytes& data) {
    Bytes out(EVP_MAX_MD_SIZE);
    unsigned int n = 0;
    HMAC(sha1 ? EVP_sha1() : EVP_sha256(), key.data(), int(key.size()), data.data(), data.size(),
         out.data(), &n);
    out.resize(n);
    return out;
}

// An ESP frame in one buffer: hdr(8) | iv | payload | icv | 4 spare bytes.
struct Frame {
    Bytes buf;
    EspOp op{};
    Frame(const KeySchedule& ks, uint32_t spi, uint32_t seq, const Bytes& payload, bool esn,
          uint32_t esn_hi) {
        const auto& ti = info(ks.transform());
        buf.assign(8 + ti.iv_len + payload.size() + ti.icv_len + 4, 0);
        uint8_t* p = buf.data();
        p[0] = uint8_t(spi >> 24), p[1] = uint8_t(spi >> 16), p[2] = uint8_t(spi >> 8),
        p[3] = uint8_t(spi);
        p[4] = uint8_t(seq >> 24), p[5] = uint8_t(seq >> 16), p[6] = uint8_t(seq >> 8),
        p[7] = uint8_t(seq);
        std::memcpy(p + 8 + ti.iv_len, payload.data(), payload.size());
        op = EspOp{&ks,
                   p,
                   p + 8,
                   p + 8 + ti.iv_len,
                   uint32_t(payload.size()),
                   esn_hi,
                   p + 8 + ti.iv_len + payload.size(),
                   esn,
                   false};
    }
    Bytes payload() const { return Bytes(op.payload, op.payload + op.len); }
    Bytes icv() const { return Bytes(op.icv, op.icv + info(op.keys->transform()).icv_len); }
};

OpStatus run1(bool encrypt, EspOp& op, MbApi api = MbApi::job) {
    OpStatus st = OpStatus::engine_error;
    if (encrypt)
        engine(api).encrypt_burst(std::span(&op, 1), std::span(&st, 1));
    else
        engine(api).decrypt_burst(std::span(&op, 1), std::span(&st, 1));
    return st;
}

}  // namespace

PG_TEST(esp_crypto, transform_table_names_and_sizes) {
    std::set<std::string_view> names;
    for (const auto& t : kTransforms) {
        names.insert(t.name);
        CU_ASSERT(transform_from_name(t.name) == t.id);
    }
    CU_ASSERT_EQUAL(names.size(), kTransforms.size());
    CU_ASSERT(!transform_from_name("des-md5").has_value());
    CU_ASSERT_EQUAL(enc_keymat_len(Transform::aes128_gcm16), 20u);  // RFC 4106 section 8.1
    CU_ASSERT_EQUAL(enc_keymat_len(Transform::aes256_gcm16), 36u);
    CU_ASSERT_EQUAL(info(Transform::aes128_cbc_hmac_sha1_96).icv_len, 12);  // RFC 2404
    CU_ASSERT_EQUAL(info(Transform::aes128_cbc_hmac_sha1_96).auth_key_len, 20);
    CU_ASSERT_EQUAL(info(Transform::aes256_cbc_hmac_sha256_128).icv_len, 16);  // RFC 4868
    CU_ASSERT_EQUAL(info(Transform::aes256_cbc_hmac_sha256_128).auth_key_len, 32);
    CU_ASSERT_EQUAL(info(Transform::aes256_gcm16).iv_len, 8);
}

PG_TEST(esp_crypto, engine_created_with_best_arch) {
    auto& e = engine();
    CU_ASSERT(e.arch_name() != "none");
    CU_ASSERT(e.arch_name() != "noaesni");
}

PG_TEST(esp_crypto, key_schedule_rejects_bad_lengths) {
    const Bytes k16(16, 1), k20(20, 1), k36(36, 1), k32(32, 2);
    CU_ASSERT(KeySchedule::create(Transform::aes128_gcm16, k16, {}).error ==
              KeyError::bad_enc_key_len);
    CU_ASSERT(KeySchedule::create(Transform::aes128_gcm16, k20, k20).error ==
              KeyError::bad_auth_key_len);
    CU_ASSERT(KeySchedule::create(Transform::aes128_gcm16, k20, {}).error == KeyError::ok);
    CU_ASSERT(KeySchedule::create(Transform::aes256_gcm16, k36, {}).keys != nullptr);
    CU_ASSERT(KeySchedule::create(Transform::aes128_cbc_hmac_sha1_96, k16, k32).error ==
              KeyError::bad_auth_key_len);
    CU_ASSERT(KeySchedule::create(Transform::aes256_cbc_hmac_sha256_128, k16, k32).error ==
              KeyError::bad_enc_key_len);
    CU_ASSERT(KeySchedule::create(Transform::aes256_cbc_hmac_sha256_128, k32, k32).keys != nullptr);
    PG_ASSERT_STR_EQ(key_error_name(KeyError::bad_auth_key_len), "bad_auth_key_len");
}

// --- AES-GCM: McGrew-Viega test cases 3, 4, 15, 16 --------------------------------
PG_TEST(esp_crypto, gcm_kat_mcgrew_viega) {
    const Bytes P =
        hex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255");
    const Bytes A = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    const Bytes K = hex("feffe9928665731c6d6a8f9467308308");
    const Bytes salt = hex("cafebabe");  // IV = cafebabe || facedbaddecaf888 = salt || ESP IV
    const Bytes iv = hex("facedbaddecaf888");
    struct Case {
        int tc;
        bool k256;
        size_t plen;
        bool aad;
        const char* ct;
        const char* tag;
    } cases[] = {
        {3, false, 64, false,
         "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
         "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
         "4d5c2af327cd64a62cf35abd2ba6fab4"},
        {4, false, 60, true,
         "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
         "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
         "5bc94fbc3221a5db94fae95ae7121a47"},
        {15, true, 64, false,
         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
         "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
         "b094dac5d93471bdec1a502270e3cc6c"},
        {16, true, 60, true,
         "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
         "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
         "76fc6ece0f4e1768cddf8853bb2d551b"},
    };
    for (const auto& c : cases) {
        Bytes keymat = K;
        if (c.k256) keymat.insert(keymat.end(), K.begin(), K.end());
        keymat.insert(keymat.end(), salt.begin(), salt.end());
        auto ks = KeySchedule::create(c.k256 ? Transform::aes256_gcm16 : Transform::aes128_gcm16,
                                      keymat, {});
        CU_ASSERT_FATAL(ks.keys != nullptr);
        Bytes data(P.begin(), P.begin() + long(c.plen));
        const Bytes aad = c.aad ? A : Bytes{};
        uint8_t tag[16];
        CU_ASSERT(engine().gcm(*ks.keys, std::span<const uint8_t, 8>(iv.data(), 8), aad, data,
                               std::span<uint8_t, 16>(tag), true));
        CU_ASSERT(data == hex(c.ct));
        CU_ASSERT(Bytes(tag, tag + 16) == hex(c.tag));
        uint8_t tag2[16];
        CU_ASSERT(engine().gcm(*ks.keys, std::span<const uint8_t, 8>(iv.data(), 8), aad, data,
                               std::span<uint8_t, 16>(tag2), false));
        CU_ASSERT(Bytes(data) == Bytes(P.begin(), P.begin() + long(c.plen)));
        CU_ASSERT(std::memcmp(tag, tag2, 16) == 0);
    }
}

// --- AES-CBC: SP 800-38A F.2.1 / F.2.5 through the ESP operation -------------------
PG_TEST(esp_crypto, cbc_kat_sp800_38a_through_esp_op) {
    const Bytes pt =
        hex("6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51"
            "30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710");
    const Bytes iv = hex("000102030405060708090a0b0c0d0e0f");
    struct Case {
        Transform t;
        const char* key;
        const char* ct;
    } cases[] = {
        {Transform::aes128_cbc_hmac_sha1_96, "2b7e151628aed2a6abf7158809cf4f3c",
         "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
         "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"},
        {Transform::aes128_cbc_hmac_sha256_128, "2b7e151628aed2a6abf7158809cf4f3c",
         "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
         "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"},
        {Transform::aes256_cbc_hmac_sha1_96,
         "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
         "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
         "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"},
        {Transform::aes256_cbc_hmac_sha256_128,
         "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
         "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
         "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"},
    };
    for (const auto& c : cases) {
        const auto& ti = info(c.t);
        const Bytes auth = pattern(ti.auth_key_len, 0x42);
        auto ks = KeySchedule::create(c.t, hex(c.key), auth);
        CU_ASSERT_FATAL(ks.keys != nullptr);
        for (int api = 0; api < 2; ++api) {
            const MbApi a = api ? MbApi::burst : MbApi::job;
            Frame f(*ks.keys, 0x01020304, 7, pt, false, 0);
            std::memcpy(f.op.iv, iv.data(), 16);
            f.op.iv_given = true;
            CU_ASSERT(run1(true, f.op, a) == OpStatus::ok);
            CU_ASSERT(f.payload() == hex(c.ct));
            Bytes signed_part(f.buf.begin(), f.buf.begin() + 8 + 16 + 64);
            Bytes mac = ossl_hmac(ti.integ == Integ::hmac_sha1_96, auth, signed_part);
            mac.resize(ti.icv_len);
            CU_ASSERT(f.icv() == mac);
            CU_ASSERT(run1(false, f.op, a) == OpStatus::ok);
            CU_ASSERT(f.payload() == pt);
        }
    }
}

// --- HMAC: RFC 2202 and RFC 4231 through hmac_precompute + an IPsec-MB HMAC job ------
namespace {
struct HmacCase {
    Bytes key, data;
    const char* mac;
};
void run_hmac_cases(Integ integ, const std::vector<HmacCase>& cases) {
    for (const auto& c : cases) {
        uint8_t ipad[32], opad[32], out[32];
        CU_ASSERT_FATAL(hmac_precompute(integ, c.key, std::span<uint8_t, 32>(ipad),
                                        std::span<uint8_t, 32>(opad)));
        CU_ASSERT(engine().hmac(integ, std::span<const uint8_t, 32>(ipad),
                                std::span<const uint8_t, 32>(opad), c.data, out));
        const Bytes want = hex(c.mac);
        CU_ASSERT(Bytes(out, out + want.size()) == want);
    }
}
Bytes str(const char* s) {
    return Bytes(s, s + std::strlen(s));
}
}  // namespace

PG_TEST(esp_crypto, hmac_sha1_rfc2202) {
    run_hmac_cases(
        Integ::hmac_sha1_96,
        {
            {Bytes(20, 0x0b), str("Hi There"), "b617318655057264e28bc0b6fb378c8ef146be00"},
            {str("Jefe"), str("what do ya want for nothing?"),
             "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
            {Bytes(20, 0xaa), Bytes(50, 0xdd), "125d7342b9ac11cd91a39af48aa17b4f63f175d3"},
            {hex("0102030405060708090a0b0c0d0e0f10111213141516171819"), Bytes(50, 0xcd),
             "4c9007f4026250c6bc8414f9bf50c86c2d7235da"},
            {Bytes(20, 0x0c), str("Test With Truncation"),
             "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"},
            {Bytes(80, 0xaa), str("Test Using Larger Than Block-Size Key - Hash Key First"),
             "aa4ae5e15272d00e95705637ce8a3b55ed402112"},
            {Bytes(80, 0xaa),
             str("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"),
             "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"},
        });
}

PG_TEST(esp_crypto, hmac_sha256_rfc4231) {
    run_hmac_cases(
        Integ::hmac_sha256_128,
        {
            {Bytes(20, 0x0b), str("Hi There"),
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
            {str("Jefe"), str("what do ya want for nothing?"),
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
            {Bytes(20, 0xaa), Bytes(50, 0xdd),
             "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
            {hex("0102030405060708090a0b0c0d0e0f10111213141516171819"), Bytes(50, 0xcd),
             "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
            {Bytes(20, 0x0c), str("Test With Truncation"),
             "a3b6167473100ee06e0c796c2955552b"},  // truncated
            {Bytes(131, 0xaa), str("Test Using Larger Than Block-Size Key - Hash Key First"),
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
            {Bytes(131, 0xaa),
             str("This is a test using a larger than block-size key and a larger than block-size "
                 "data. The key "
                 "needs to be hashed before being used by the HMAC algorithm."),
             "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
        });
}

// --- every transform, ESN off/on, many lengths: engine output == OpenSSL's ------------
PG_TEST(esp_crypto, esp_ops_match_openssl_all_transforms) {
    for (Transform t : kAll) {
        const auto& ti = info(t);
        const Bytes enc = pattern(enc_keymat_len(t), 3), auth = pattern(ti.auth_key_len, 9);
        auto ks = KeySchedule::create(t, enc, auth);
        CU_ASSERT_FATAL(ks.keys != nullptr);
        for (int esn = 0; esn < 2; ++esn) {
            for (uint32_t len = ti.block_size; len <= 1504; len += ti.block_size == 1 ? 13 : 16) {
                const uint32_t spi = 0xc0ffee00 + len, seq = 0xfffffff0u + len,
                               esn_hi = esn ? 0x1234 + len : 0;
                const Bytes pt = pattern(len, uint8_t(len));
                Frame f(*ks.keys, spi, seq, pt, esn != 0, esn_hi);
                CU_ASSERT_FATAL(run1(true, f.op) == OpStatus::ok);
                const Bytes hdr(f.buf.begin(), f.buf.begin() + 8);
                Bytes want_ct, want_icv;
                if (ti.cipher == Cipher::aes_gcm) {
                    const Bytes key(enc.begin(), enc.begin() + ti.cipher_key_len);
                    Bytes nonce(enc.begin() + ti.cipher_key_len, enc.end());
                    // IV policy: explicit IV = 64-bit sequence number, big-endian
                    const uint64_t s64 = (uint64_t(esn_hi) << 32) | seq;
                    Bytes ivb(8);
                    for (int i = 0; i < 8; ++i) ivb[size_t(i)] = uint8_t(s64 >> (56 - 8 * i));
                    CU_ASSERT(Bytes(f.op.iv, f.op.iv + 8) == ivb);
                    nonce.insert(nonce.end(), ivb.begin(), ivb.end());
                    Bytes aad(hdr.begin(), hdr.begin() + 4);
                    if (esn)
                        aad.insert(aad.end(), {uint8_t(esn_hi >> 24), uint8_t(esn_hi >> 16),
                                               uint8_t(esn_hi >> 8), uint8_t(esn_hi)});
                    aad.insert(aad.end(), hdr.begin() + 4, hdr.end());
                    want_ct = ossl_gcm(key, nonce, aad, pt, want_icv);
                } else {
                    want_ct = ossl_cbc(enc, f.op.iv, pt.data(), len);
                    Bytes signed_part(f.buf.begin(), f.buf.begin() + 8 + 16);
                    signed_part.insert(signed_part.end(), want_ct.begin(), want_ct.end());
                    if (esn)
                        signed_part.insert(signed_part.end(),
                                           {uint8_t(esn_hi >> 24), uint8_t(esn_hi >> 16),
                                            uint8_t(esn_hi >> 8), uint8_t(esn_hi)});
                    want_icv = ossl_hmac(ti.integ == Integ::hmac_sha1_96, auth, signed_part);
                    want_icv.resize(ti.icv_len);
                }
                CU_ASSERT(f.payload() == want_ct);
                CU_ASSERT(f.icv() == want_icv);
                const Bytes icv = f.icv();
                CU_ASSERT(run1(false, f.op) == OpStatus::ok);
                CU_ASSERT(f.payload() == pt);
                if (esn) {  // wrong ESN-high must fail authentication
                    Frame g(*ks.keys, spi, seq, pt, true, esn_hi);
                    CU_ASSERT(run1(true, g.op) == OpStatus::ok);
                    g.op.esn_hi = esn_hi + 1;
                    CU_ASSERT(run1(false, g.op) == OpStatus::auth_failed);
                }
            }
        }
    }
}

PG_TEST(esp_crypto, tamper_any_authenticated_byte_fails) {
    for (Transform t : kAll) {
        auto ks = keys_for(t);
        const auto& ti = info(t);
        const Bytes pt = pattern(64, 5);
        const size_t total = 8 + ti.iv_len + 64 + ti.icv_len;
        for (size_t pos = 0; pos < total; ++pos) {
            Frame f(*ks, 0x100, 1, pt, false, 0);
            CU_ASSERT_FATAL(run1(true, f.op) == OpStatus::ok);
            f.buf[pos] ^= 0x01;
            CU_ASSERT(run1(false, f.op) == OpStatus::auth_failed);
        }
    }
}

PG_TEST(esp_crypto, iv_policy_cbc_unpredictable_unique_gcm_is_seq) {
    auto ks = keys_for(Transform::aes128_cbc_hmac_sha256_128);
    std::set<Bytes> ivs;
    std::vector<Frame> frames;
    std::vector<EspOp> ops;
    for (int i = 0; i < 300; ++i)
        frames.emplace_back(*ks, 1, uint32_t(i + 1), pattern(32, 1), false, 0);
    for (auto& f : frames) ops.push_back(f.op);
    std::vector<OpStatus> st(ops.size());
    CU_ASSERT_EQUAL(engine().encrypt_burst(ops, st), 300u);  // crosses an IV pool refill
    for (auto& o : ops) ivs.insert(Bytes(o.iv, o.iv + 16));
    CU_ASSERT_EQUAL(ivs.size(), 300u);
    CU_ASSERT(ivs.count(Bytes(16, 0)) == 0);
}

PG_TEST(esp_crypto, job_and_burst_api_agree) {
    for (Transform t : kAll) {
        auto ks = keys_for(t, 7);
        std::vector<Frame> fa, fb;
        std::vector<EspOp> oa, ob;
        for (uint32_t i = 0; i < 100; ++i) {  // > one round of Engine::kRound
            const Bytes pt = pattern(16 * (1 + i % 90), uint8_t(i));
            fa.emplace_back(*ks, 9, i + 1, pt, i % 2 == 0, i);
            fb.emplace_back(*ks, 9, i + 1, pt, i % 2 == 0, i);
        }
        for (size_t i = 0; i < fa.size(); ++i) {
            std::memset(fa[i].op.iv, int(i), info(t).iv_len);
            std::memset(fb[i].op.iv, int(i), info(t).iv_len);
            fa[i].op.iv_given = fb[i].op.iv_given = true;
            oa.push_back(fa[i].op);
            ob.push_back(fb[i].op);
        }
        std::vector<OpStatus> sa(100), sb(100);
        CU_ASSERT_EQUAL(engine(MbApi::job).encrypt_burst(oa, sa), 100u);
        CU_ASSERT_EQUAL(engine(MbApi::burst).encrypt_burst(ob, sb), 100u);
        bool same = true;
        for (size_t i = 0; i < fa.size(); ++i) same &= fa[i].buf == fb[i].buf;
        CU_ASSERT(same);
        CU_ASSERT_EQUAL(engine(MbApi::burst).decrypt_burst(oa, sa), 100u);
        CU_ASSERT_EQUAL(engine(MbApi::job).decrypt_burst(ob, sb), 100u);
    }
}

PG_TEST(esp_crypto, per_op_status_in_mixed_burst) {
    auto cbc = keys_for(Transform::aes256_cbc_hmac_sha1_96);
    auto gcm = keys_for(Transform::aes256_gcm16);
    Frame good(*cbc, 1, 1, pattern(48, 1), false, 0);
    Frame badlen(*cbc, 1, 2, pattern(47, 1), false, 0);
    Frame g(*gcm, 1, 3, pattern(47, 1), true, 5);  // GCM: any length
    Frame layout(*cbc, 1, 4, pattern(32, 1), true, 0);
    layout.op.icv += 1;  // ESN needs the ICV right after the payload
    EspOp ops[] = {good.op, badlen.op, g.op, layout.op};
    OpStatus st[4];
    for (MbApi api : {MbApi::job, MbApi::burst}) {
        CU_ASSERT_EQUAL(engine(api).encrypt_burst(ops, st), 2u);
        CU_ASSERT(st[0] == OpStatus::ok);
        CU_ASSERT(st[1] == OpStatus::bad_length);
        CU_ASSERT(st[2] == OpStatus::ok);
        CU_ASSERT(st[3] == OpStatus::bad_layout);
        CU_ASSERT_EQUAL(engine(api).decrypt_burst(ops, st), 2u);
        CU_ASSERT(st[0] == OpStatus::ok);
        CU_ASSERT(st[2] == OpStatus::ok);
    }
    PG_ASSERT_STR_EQ(op_status_name(OpStatus::auth_failed), "auth_failed");
}
