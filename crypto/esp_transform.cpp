// crypto/esp_transform.cpp - ESP transforms on Intel IPsec-MB (see the header).
#include "crypto/esp_transform.hpp"

#include <intel-ipsec-mb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace peregrine::crypto {

namespace {

constexpr size_t kAesSchedule = 16 * 15;  // AES-256: 15 round keys; AES-128 uses 11
constexpr size_t kHmacBlock = 64;         // SHA-1 and SHA-256 block size
// IVs generated per refill of the CBC IV pool: one CTR job per 256 packets.
constexpr uint32_t kIvPool = 256;
static_assert(Engine::kRound <= IMB_MAX_BURST_SIZE,
              "Engine::kRound: IPsec-MB bursts hold at most IMB_MAX_BURST_SIZE jobs");
static_assert(Engine::kRound <= kIvPool, "kIvPool: one round must fit in one IV pool refill");

void put_be32(uint8_t* p, uint32_t v) {
    p[0] = uint8_t(v >> 24);
    p[1] = uint8_t(v >> 16);
    p[2] = uint8_t(v >> 8);
    p[3] = uint8_t(v);
}
void put_be64(uint8_t* p, uint64_t v) {
    put_be32(p, uint32_t(v >> 32));
    put_be32(p + 4, uint32_t(v));
}
uint32_t get_be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

// A manager used only for key setup on the control core (key expansion and the
// one-block hashes are stateless function pointers, safe to call from any thread).
IMB_MGR* setup_mgr() {
    static IMB_MGR* const mgr = [] {
        IMB_MGR* m = alloc_mb_mgr(0);
        if (m) init_mb_mgr_auto(m, nullptr);
        if (m && imb_get_errno(m) != 0) {
            free_mb_mgr(m);
            m = nullptr;
        }
        return m;
    }();
    return mgr;
}

}  // namespace

struct KeySchedule::Material {
    union {
        struct {
            gcm_key_data key;  // expanded key + GHASH powers
            uint8_t salt[4];
        } gcm;
        struct {
            alignas(16) uint8_t enc[kAesSchedule];
            alignas(16) uint8_t dec[kAesSchedule];
            alignas(16) uint8_t ipad[32];  // HMAC inner state after (K ^ ipad)
            alignas(16) uint8_t opad[32];  // HMAC outer state after (K ^ opad)
        } cbc;
    };
};
static_assert(sizeof(KeySchedule::Material) <= 1152,
              "KeySchedule::Material outgrew KeySchedule::kStorage: raise kStorage");
static_assert(alignof(KeySchedule::Material) <= 64,
              "KeySchedule::Material needs more than the 64-byte alignment of storage_");

std::optional<Transform> transform_from_name(std::string_view name) {
    for (const auto& t : kTransforms)
        if (t.name == name) return t.id;
    return std::nullopt;
}

std::string_view key_error_name(KeyError e) {
    switch (e) {
        case KeyError::ok:
            return "ok";
        case KeyError::bad_enc_key_len:
            return "bad_enc_key_len";
        case KeyError::bad_auth_key_len:
            return "bad_auth_key_len";
        case KeyError::engine_unavailable:
            return "engine_unavailable";
    }
    return "?";
}

std::string_view op_status_name(OpStatus s) {
    switch (s) {
        case OpStatus::ok:
            return "ok";
        case OpStatus::auth_failed:
            return "auth_failed";
        case OpStatus::bad_length:
            return "bad_length";
        case OpStatus::bad_layout:
            return "bad_layout";
        case OpStatus::engine_error:
            return "engine_error";
    }
    return "?";
}

bool hmac_precompute(Integ integ, std::span<const uint8_t> key, std::span<uint8_t, 32> ipad,
                     std::span<uint8_t, 32> opad) {
    IMB_MGR* mgr = setup_mgr();
    if (!mgr || integ == Integ::gcm_tag) return false;
    const bool sha1 = integ == Integ::hmac_sha1_96;
    alignas(16) uint8_t k[kHmacBlock] = {};
    if (key.size() > kHmacBlock) {  // RFC 2104: long keys are hashed first
        unsigned int n = 0;
        if (!EVP_Digest(key.data(), key.size(), k, &n, sha1 ? EVP_sha1() : EVP_sha256(), nullptr))
            return false;
    } else if (!key.empty()) {
        std::memcpy(k, key.data(), key.size());
    }
    alignas(16) uint8_t block[kHmacBlock];
    alignas(16) uint8_t state[32] = {};
    for (size_t i = 0; i < kHmacBlock; ++i) block[i] = k[i] ^ 0x36;
    if (sha1)
        IMB_SHA1_ONE_BLOCK(mgr, block, state);
    else
        IMB_SHA256_ONE_BLOCK(mgr, block, state);
    std::memcpy(ipad.data(), state, 32);
    for (size_t i = 0; i < kHmacBlock; ++i) block[i] = k[i] ^ 0x5c;
    if (sha1)
        IMB_SHA1_ONE_BLOCK(mgr, block, state);
    else
        IMB_SHA256_ONE_BLOCK(mgr, block, state);
    std::memcpy(opad.data(), state, 32);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(block, sizeof block);
    OPENSSL_cleanse(state, sizeof state);
    return true;
}

KeySchedule::Result KeySchedule::create(Transform t, std::span<const uint8_t> enc_key,
                                        std::span<const uint8_t> auth_key) {
    const TransformInfo& ti = info(t);
    if (enc_key.size() != enc_keymat_len(t)) return {nullptr, KeyError::bad_enc_key_len};
    if (auth_key.size() != ti.auth_key_len) return {nullptr, KeyError::bad_auth_key_len};
    IMB_MGR* mgr = setup_mgr();
    if (!mgr) return {nullptr, KeyError::engine_unavailable};

    auto ks = std::make_unique<KeySchedule>();
    ks->transform_ = t;
    Material* m = new (ks->storage_) Material;  // placement into the zeroing storage
    if (ti.cipher == Cipher::aes_gcm) {
        if (ti.cipher_key_len == 16)
            IMB_AES128_GCM_PRE(mgr, enc_key.data(), &m->gcm.key);
        else
            IMB_AES256_GCM_PRE(mgr, enc_key.data(), &m->gcm.key);
        std::memcpy(m->gcm.salt, enc_key.data() + ti.cipher_key_len, 4);
    } else {
        if (ti.cipher_key_len == 16)
            IMB_AES_KEYEXP_128(mgr, enc_key.data(), m->cbc.enc, m->cbc.dec);
        else
            IMB_AES_KEYEXP_256(mgr, enc_key.data(), m->cbc.enc, m->cbc.dec);
        if (!hmac_precompute(ti.integ, auth_key, std::span<uint8_t, 32>(m->cbc.ipad),
                             std::span<uint8_t, 32>(m->cbc.opad)))
            return {nullptr, KeyError::engine_unavailable};
    }
    return {std::move(ks), KeyError::ok};
}

KeySchedule::~KeySchedule() {
    OPENSSL_cleanse(storage_, sizeof storage_);
}

// ---------------------------------------------------------------------------------

struct Engine::Scratch {
    struct alignas(64) PerOp {
        uint8_t tag[32];        // computed tag / HMAC output
        uint8_t icv[16];        // CBC+ESN decrypt: saved received ICV
        const uint8_t* expect;  // decrypt: received ICV to compare with
    };
    PerOp op[kRound];
    gcm_context_data gcm_ctx;  // direct GCM API: per call, reused (holds no key material
                               // beyond the call; wiped with the rest on destruction)
    // CBC IV generator: AES-128-CTR keystream under a random key and nonce.
    alignas(16) uint8_t ctr_key[kAesSchedule];
    alignas(16) uint8_t ctr_dec[kAesSchedule];  // required by key expansion, unused
    alignas(16) uint8_t ctr_block[16];          // nonce(8) || be64(block index)
    uint64_t ctr_index = 0;
    uint32_t iv_next = kIvPool;  // empty: first use refills
    alignas(64) uint8_t ivs[kIvPool * 16];
};

std::unique_ptr<Engine> Engine::create(EngineOptions opts) {
    auto e = std::make_unique<Engine>();
    e->opts_ = opts;
    e->mgr_ = alloc_mb_mgr(0);
    if (!e->mgr_) return nullptr;
    IMB_ARCH arch = IMB_ARCH_NONE;
    switch (opts.arch) {
        case MbArch::automatic:
            init_mb_mgr_auto(e->mgr_, &arch);
            break;
        case MbArch::sse:
            init_mb_mgr_sse(e->mgr_);
            arch = IMB_ARCH_SSE;
            break;
        case MbArch::avx:
            init_mb_mgr_avx(e->mgr_);
            arch = IMB_ARCH_AVX;
            break;
        case MbArch::avx2:
            init_mb_mgr_avx2(e->mgr_);
            arch = IMB_ARCH_AVX2;
            break;
        case MbArch::avx512:
            init_mb_mgr_avx512(e->mgr_);
            arch = IMB_ARCH_AVX512;
            break;
    }
    if (imb_get_errno(e->mgr_) != 0) return nullptr;
    e->arch_ = arch;
    e->scratch_ = std::make_unique<Scratch>();
    Scratch& s = *e->scratch_;
    uint8_t seed[24];
    size_t got = 0;
    while (got < sizeof seed) {
        const ssize_t r = getrandom(seed + got, sizeof seed - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return nullptr;
        got += size_t(r);
    }
    IMB_AES_KEYEXP_128(e->mgr_, seed, s.ctr_key, s.ctr_dec);
    std::memcpy(s.ctr_block, seed + 16, 8);
    OPENSSL_cleanse(seed, sizeof seed);
    return e;
}

Engine::~Engine() {
    if (scratch_) OPENSSL_cleanse(scratch_.get(), sizeof(Scratch));
    if (mgr_) free_mb_mgr(mgr_);
}

std::string_view Engine::arch_name() const {
    switch (arch_) {
        case IMB_ARCH_NOAESNI:
            return "noaesni";
        case IMB_ARCH_SSE:
            return "sse";
        case IMB_ARCH_AVX:
            return "avx";
        case IMB_ARCH_AVX2:
            return "avx2";
        case IMB_ARCH_AVX512:
            return "avx512";
        default:
            return "none";
    }
}

// One CTR job fills the pool with kIvPool fresh keystream blocks. The block index
// advances by kIvPool per refill and only the last byte changes inside a refill, so
// no carry ever crosses a word, whatever counter width the library increments.
bool Engine::refill_ivs() noexcept {
    Scratch& s = *scratch_;
    put_be64(s.ctr_block + 8, s.ctr_index);
    s.ctr_index += kIvPool;
    std::memset(s.ivs, 0, sizeof s.ivs);
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
    job->cipher_mode = IMB_CIPHER_CNTR;
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->chain_order = IMB_ORDER_CIPHER_HASH;
    job->hash_alg = IMB_AUTH_NULL;
    job->enc_keys = s.ctr_key;
    job->dec_keys = s.ctr_key;
    job->key_len_in_bytes = 16;
    job->src = s.ivs;
    job->dst = s.ivs;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = sizeof s.ivs;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = 0;
    job->iv = s.ctr_block;
    job->iv_len_in_bytes = 16;
    job->auth_tag_output = nullptr;
    job->auth_tag_output_len_in_bytes = 0;
    job->user_data = nullptr;
    IMB_JOB* done = IMB_SUBMIT_JOB(mgr_);
    while (!done) done = IMB_FLUSH_JOB(mgr_);
    if (done->status != IMB_STATUS_COMPLETED) return false;  // pool stays empty: no weak IVs
    s.iv_next = 0;
    return true;
}

const uint8_t* Engine::next_iv() noexcept {
    Scratch& s = *scratch_;
    if (s.iv_next == kIvPool && !refill_ivs()) return nullptr;
    return s.ivs + 16 * s.iv_next++;
}

namespace {

// Fill one AES-CBC + HMAC job for op (GCM never takes the job path: Engine::gcm_one);
// return a status other than ok if the op is malformed.
OpStatus fill_job(IMB_JOB* job, EspOp& op, uint8_t* tag, uint8_t* icv_save, const uint8_t** expect,
                  const uint8_t* fresh_iv, bool encrypt) {
    const Transform t = op.keys->transform();
    const TransformInfo& ti = info(t);
    const auto& m = op.keys->material();
    const uint32_t esn_hi = op.esn ? op.esn_hi : 0;
    job->cipher_direction = encrypt ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
    job->chain_order = encrypt ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
    job->key_len_in_bytes = ti.cipher_key_len;
    // Encrypt: the ICV goes straight into the packet (with ESN the ESN-high bytes
    // parked there are hashed before the tag is written over them). Decrypt: to
    // scratch, compared with the received ICV on completion.
    job->auth_tag_output = encrypt ? op.icv : tag;
    *expect = op.icv;
    // AES-CBC + HMAC: the authenticated region is one contiguous span from esp_hdr.
    if (op.len == 0 || op.len % 16 != 0) return OpStatus::bad_length;
    if (op.iv != op.esp_hdr + 8 || op.payload != op.iv + 16) return OpStatus::bad_layout;
    if (op.esn && op.icv != op.payload + op.len) return OpStatus::bad_layout;
    if (encrypt && !op.iv_given) {
        if (!fresh_iv) return OpStatus::engine_error;
        std::memcpy(op.iv, fresh_iv, 16);
    }
    uint64_t hash_len = 8 + 16 + uint64_t(op.len);
    if (op.esn) {  // RFC 4303 2.2.1: ESN-high authenticated after the payload
        if (!encrypt) {
            std::memcpy(icv_save, op.icv, ti.icv_len);
            *expect = icv_save;
        }
        put_be32(op.icv, esn_hi);
        hash_len += 4;
    }
    job->cipher_mode = IMB_CIPHER_CBC;
    job->hash_alg = ti.integ == Integ::hmac_sha1_96 ? IMB_AUTH_HMAC_SHA_1 : IMB_AUTH_HMAC_SHA_256;
    job->enc_keys = m.cbc.enc;
    job->dec_keys = m.cbc.dec;
    job->src = op.esp_hdr;
    job->dst = op.payload;
    job->cipher_start_src_offset_in_bytes = 8 + 16;
    job->msg_len_to_cipher_in_bytes = op.len;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = hash_len;
    job->iv = op.iv;
    job->iv_len_in_bytes = 16;
    job->u.HMAC._hashed_auth_key_xor_ipad = m.cbc.ipad;
    job->u.HMAC._hashed_auth_key_xor_opad = m.cbc.opad;
    job->auth_tag_output_len_in_bytes = ti.icv_len;
    return OpStatus::ok;
}

// Constant-time equality of two ICVs (n <= 16): no early exit on the first mismatch.
inline bool icv_equal(const uint8_t* a, const uint8_t* b, uint32_t n) {
    uint8_t diff = 0;
    for (uint32_t i = 0; i < n; ++i) diff |= uint8_t(a[i] ^ b[i]);
    return diff == 0;
}

}  // namespace

// AES-GCM through IPsec-MB's direct API: one call per packet, the tag written straight
// into the packet (encrypt) or compared with it in constant time (decrypt). For GCM the
// job/burst API runs the same single-buffer code behind a job queue, so the direct call
// saves the job fill, validation and completion bookkeeping (docs/PERFORMANCE.md).
OpStatus Engine::gcm_one(EspOp& op, bool encrypt) noexcept {
    Scratch& s = *scratch_;
    const auto& m = op.keys->material();
    const bool aes128 = info(op.keys->transform()).cipher_key_len == 16;
    const uint32_t esn_hi = op.esn ? op.esn_hi : 0;
    if (encrypt && !op.iv_given) {
        const uint64_t seq64 = (uint64_t(esn_hi) << 32) | get_be32(op.esp_hdr + 4);
        put_be64(op.iv, seq64);
    }
    alignas(16) uint8_t nonce[16];
    std::memcpy(nonce, m.gcm.salt, 4);
    std::memcpy(nonce + 4, op.iv, 8);
    alignas(16) uint8_t aad[16];
    std::memcpy(aad, op.esp_hdr, 4);
    uint64_t aad_len = 8;
    if (op.esn) {
        put_be32(aad + 4, esn_hi);
        std::memcpy(aad + 8, op.esp_hdr + 4, 4);
        aad_len = 12;
    } else {
        std::memcpy(aad + 4, op.esp_hdr + 4, 4);
    }
    if (encrypt) {
        if (aes128)
            IMB_AES128_GCM_ENC(mgr_, &m.gcm.key, &s.gcm_ctx, op.payload, op.payload, op.len, nonce, aad,
                               aad_len, op.icv, 16);
        else
            IMB_AES256_GCM_ENC(mgr_, &m.gcm.key, &s.gcm_ctx, op.payload, op.payload, op.len, nonce, aad,
                               aad_len, op.icv, 16);
        return OpStatus::ok;
    }
    alignas(16) uint8_t tag[16];
    if (aes128)
        IMB_AES128_GCM_DEC(mgr_, &m.gcm.key, &s.gcm_ctx, op.payload, op.payload, op.len, nonce, aad, aad_len,
                           tag, 16);
    else
        IMB_AES256_GCM_DEC(mgr_, &m.gcm.key, &s.gcm_ctx, op.payload, op.payload, op.len, nonce, aad, aad_len,
                           tag, 16);
    return icv_equal(tag, op.icv, 16) ? OpStatus::ok : OpStatus::auth_failed;
}

uint32_t Engine::run_round(EspOp* ops, OpStatus* status, uint32_t n, bool encrypt) noexcept {
    Scratch& s = *scratch_;
    // AES-GCM ops first, through the direct API (no job). What is left uses the job API.
    uint32_t njobs = 0;
    for (uint32_t i = 0; i < n; ++i) {
        if (is_aead(ops[i].keys->transform()))
            status[i] = gcm_one(ops[i], encrypt);
        else
            ++njobs;
    }
    if (njobs == 0) {
        uint32_t good = 0;
        for (uint32_t i = 0; i < n; ++i) good += status[i] == OpStatus::ok;
        return good;
    }
    // Reserve CBC IVs up front so a pool refill never interleaves with queued jobs.
    if (encrypt && njobs > kIvPool - s.iv_next) refill_ivs();
    auto complete = [&](IMB_JOB* job) {
        const auto i = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(job->user_data));
        EspOp& op = ops[i];
        if (job->status != IMB_STATUS_COMPLETED) {
            status[i] = OpStatus::engine_error;
            return;
        }
        const uint8_t icv_len = info(op.keys->transform()).icv_len;
        if (encrypt) {
            status[i] = OpStatus::ok;
        } else {
            status[i] = icv_equal(s.op[i].tag, s.op[i].expect, icv_len) ? OpStatus::ok : OpStatus::auth_failed;
        }
    };
    auto prepare = [&](IMB_JOB* job, uint32_t i) {
        const bool want_iv = encrypt && !ops[i].iv_given && !is_aead(ops[i].keys->transform());
        auto& so = s.op[i];
        const OpStatus st = fill_job(job, ops[i], so.tag, so.icv, &so.expect, want_iv ? next_iv() : nullptr, encrypt);
        job->user_data = reinterpret_cast<void*>(uintptr_t(i));
        return st;
    };

    if (opts_.api == MbApi::job) {
        for (uint32_t i = 0; i < n; ++i) {
            if (is_aead(ops[i].keys->transform())) continue;  // done above
            IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
            const OpStatus st = prepare(job, i);
            if (st != OpStatus::ok) {  // slot not submitted: the next get reuses it
                status[i] = st;
                continue;
            }
            for (IMB_JOB* done = IMB_SUBMIT_JOB(mgr_); done; done = IMB_GET_COMPLETED_JOB(mgr_))
                complete(done);
        }
        for (IMB_JOB* done = IMB_FLUSH_JOB(mgr_); done; done = IMB_FLUSH_JOB(mgr_)) complete(done);
    } else {
        IMB_JOB* jobs[kRound];
        uint32_t got = IMB_GET_NEXT_BURST(mgr_, njobs, jobs);
        if (got < njobs) {  // cannot happen: every call drains the queue before returning
            while (IMB_FLUSH_BURST(mgr_, kRound, jobs) > 0) {
            }
            for (uint32_t i = 0; i < n; ++i)
                if (!is_aead(ops[i].keys->transform())) status[i] = OpStatus::engine_error;
            uint32_t good = 0;
            for (uint32_t i = 0; i < n; ++i) good += status[i] == OpStatus::ok;
            return good;
        }
        // Longest first. The multi-buffer manager runs 8-16 lanes in lock step and the
        // burst ends with a flush, which runs whatever is left at the cost of full
        // lanes: long packets left for the flush (a mixed-size burst) would crawl.
        uint32_t order[kRound];
        uint32_t no = 0;
        for (uint32_t i = 0; i < n; ++i) {
            if (is_aead(ops[i].keys->transform())) continue;  // done above
            uint32_t k = no++;
            for (; k > 0 && ops[order[k - 1]].len < ops[i].len; --k) order[k] = order[k - 1];
            order[k] = i;
        }
        uint32_t m = 0;
        for (uint32_t j = 0; j < no; ++j) {
            const uint32_t i = order[j];
            const OpStatus st = prepare(jobs[m], i);
            if (st != OpStatus::ok)
                status[i] = st;
            else
                ++m;
        }
        if (m > 0) {
            const uint32_t done =
                opts_.check_jobs ? IMB_SUBMIT_BURST(mgr_, m, jobs) : IMB_SUBMIT_BURST_NOCHECK(mgr_, m, jobs);
            if (done == 0 && imb_get_errno(mgr_) != 0) {
                // An invalid job aborts the whole burst; report every op of it.
                // Submitted ops keep the engine_error run() preset them to.
                while (IMB_FLUSH_BURST(mgr_, kRound, jobs) > 0) {  // leave the queue empty
                }
            } else {
                for (uint32_t k = 0; k < done; ++k) complete(jobs[k]);
                const uint32_t rest = IMB_FLUSH_BURST(mgr_, m - done, jobs);
                for (uint32_t k = 0; k < rest; ++k) complete(jobs[k]);
            }
        }
    }
    uint32_t good = 0;
    for (uint32_t i = 0; i < n; ++i) good += status[i] == OpStatus::ok;
    return good;
}

uint32_t Engine::run(std::span<EspOp> ops, std::span<OpStatus> status, bool encrypt) noexcept {
    if (status.size() < ops.size()) return 0;
    uint32_t good = 0;
    for (size_t off = 0; off < ops.size(); off += kRound) {
        const auto n = static_cast<uint32_t>(std::min<size_t>(kRound, ops.size() - off));
        for (uint32_t i = 0; i < n; ++i) status[off + i] = OpStatus::engine_error;
        good += run_round(ops.data() + off, status.data() + off, n, encrypt);
    }
    return good;
}

uint32_t Engine::encrypt_burst(std::span<EspOp> ops, std::span<OpStatus> status) noexcept {
    return run(ops, status, true);
}

uint32_t Engine::decrypt_burst(std::span<EspOp> ops, std::span<OpStatus> status) noexcept {
    return run(ops, status, false);
}

bool Engine::hmac(Integ integ, std::span<const uint8_t, 32> ipad, std::span<const uint8_t, 32> opad,
                  std::span<const uint8_t> data, std::span<uint8_t> out) noexcept {
    if (integ == Integ::gcm_tag) return false;
    const bool sha1 = integ == Integ::hmac_sha1_96;
    const size_t dlen = sha1 ? 20 : 32;
    if (out.size() < dlen) return false;
    alignas(16) uint8_t in_state[32], out_state[32];
    std::memcpy(in_state, ipad.data(), 32);
    std::memcpy(out_state, opad.data(), 32);
    static const uint8_t empty = 0;
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
    job->cipher_mode = IMB_CIPHER_NULL;
    job->cipher_direction = IMB_DIR_ENCRYPT;
    job->chain_order = IMB_ORDER_HASH_CIPHER;
    job->hash_alg = sha1 ? IMB_AUTH_HMAC_SHA_1 : IMB_AUTH_HMAC_SHA_256;
    job->src = data.empty() ? &empty : data.data();
    job->dst = scratch_->op[0].tag;
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = 0;
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = data.size();
    job->iv = nullptr;
    job->iv_len_in_bytes = 0;
    job->u.HMAC._hashed_auth_key_xor_ipad = in_state;
    job->u.HMAC._hashed_auth_key_xor_opad = out_state;
    job->auth_tag_output = out.data();
    job->auth_tag_output_len_in_bytes = dlen;
    job->user_data = nullptr;
    IMB_JOB* done = IMB_SUBMIT_JOB(mgr_);
    while (!done) done = IMB_FLUSH_JOB(mgr_);
    const bool ok = done->status == IMB_STATUS_COMPLETED;
    while (IMB_FLUSH_JOB(mgr_)) {
    }
    return ok;
}

bool Engine::gcm(const KeySchedule& keys, std::span<const uint8_t, 8> iv,
                 std::span<const uint8_t> aad, std::span<uint8_t> data, std::span<uint8_t, 16> tag,
                 bool encrypt) noexcept {
    const TransformInfo& ti = info(keys.transform());
    if (ti.cipher != Cipher::aes_gcm) return false;
    const auto& m = keys.material();
    alignas(16) uint8_t nonce[16];
    std::memcpy(nonce, m.gcm.salt, 4);
    std::memcpy(nonce + 4, iv.data(), 8);
    static uint8_t empty[16];
    IMB_JOB* job = IMB_GET_NEXT_JOB(mgr_);
    job->cipher_mode = IMB_CIPHER_GCM;
    job->hash_alg = IMB_AUTH_AES_GMAC;
    job->cipher_direction = encrypt ? IMB_DIR_ENCRYPT : IMB_DIR_DECRYPT;
    job->chain_order = encrypt ? IMB_ORDER_CIPHER_HASH : IMB_ORDER_HASH_CIPHER;
    job->key_len_in_bytes = ti.cipher_key_len;
    job->enc_keys = &m.gcm.key;
    job->dec_keys = &m.gcm.key;
    job->src = data.empty() ? empty : data.data();
    job->dst = data.empty() ? empty : data.data();
    job->cipher_start_src_offset_in_bytes = 0;
    job->msg_len_to_cipher_in_bytes = data.size();
    job->hash_start_src_offset_in_bytes = 0;
    job->msg_len_to_hash_in_bytes = data.size();
    job->iv = nonce;
    job->iv_len_in_bytes = 12;
    job->u.GCM.aad = aad.empty() ? empty : aad.data();
    job->u.GCM.aad_len_in_bytes = aad.size();
    job->auth_tag_output = tag.data();
    job->auth_tag_output_len_in_bytes = 16;
    job->user_data = nullptr;
    IMB_JOB* done = IMB_SUBMIT_JOB(mgr_);
    while (!done) done = IMB_FLUSH_JOB(mgr_);
    const bool ok = done->status == IMB_STATUS_COMPLETED;
    while (IMB_FLUSH_JOB(mgr_)) {
    }
    return ok;
}

}  // namespace peregrine::crypto
