// crypto/esp_transform.hpp - ESP transforms on Intel IPsec-MB, called directly.
//
//   Transform       one enum value per (cipher, integrity) pair; kTransforms is the
//                   single table of names and sizes, everything else derives from it.
//   KeySchedule     expanded keys, built ONCE when an SA is installed (control core),
//                   read-only afterwards, zeroed on destruction. Never logged.
//   Engine          one per worker: owns an IMB_MGR, encrypts/decrypts bursts of
//                   EspOp in place. No allocation, exceptions, logging or locks in the
//                   burst functions.
//
// Wire layout an EspOp describes (RFC 4303 section 2):
//
//   esp_hdr -> | SPI (4) | seq low (4) | IV (iv_len) | payload (len) | ICV (icv_len) |
//                 authenticated (CBC+HMAC) ...........................|
//
// * AES-GCM (RFC 4106): nonce = salt(4) || explicit IV(8); AAD = SPI || seq (8 bytes)
//   or SPI || ESN-high || seq-low (12 bytes) with ESN. The ESP header need not be
//   contiguous with the payload.
// * AES-CBC + HMAC (RFC 3602, RFC 2404, RFC 4868): ICV = HMAC over
//   ESP header || IV || ciphertext, with ESN followed by ESN-high (RFC 4303 2.2.1,
//   not transmitted). esp_hdr, iv and payload must be contiguous; with ESN the ICV
//   must directly follow the payload (its first 4 bytes are used as scratch).
//
// IV policy (docs/ESP.md):
// * GCM: the explicit IV is the 64-bit sequence number (esn_hi << 32 | seq low),
//   big-endian. Unique per SA because the codec never reuses a sequence number
//   under one key (RFC 4106 section 3 asks exactly for uniqueness, suggests a counter).
// * CBC: 16 bytes from a per-engine (= per-worker) CSPRNG: AES-128-CTR keystream
//   under a key and nonce drawn from getrandom() when the engine is created,
//   generated 256 IVs at a time by one IPsec-MB job. Unpredictable to anyone without
//   the worker's generator key (RFC 3602 section 2.4), no syscall per packet.
// * EspOp::iv_given = true makes the engine use the caller's IV (known-answer tests).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

struct IMB_MGR;  // <intel-ipsec-mb.h> stays out of this header

namespace peregrine::crypto {

enum class Cipher : uint8_t { aes_gcm, aes_cbc };
enum class Integ : uint8_t { gcm_tag, hmac_sha1_96, hmac_sha256_128 };

enum class Transform : uint8_t {
    aes128_gcm16,
    aes256_gcm16,
    aes128_cbc_hmac_sha1_96,
    aes256_cbc_hmac_sha1_96,
    aes128_cbc_hmac_sha256_128,
    aes256_cbc_hmac_sha256_128,
};

struct TransformInfo {
    Transform id;
    std::string_view name;  // printable / CLI name
    Cipher cipher;
    Integ integ;
    uint8_t cipher_key_len;  // AES key bytes (salt excluded)
    uint8_t salt_len;        // GCM: 4 trailing bytes of the encryption keying material
    uint8_t auth_key_len;    // HMAC key bytes (0 for AEAD)
    uint8_t iv_len;          // bytes on the wire
    uint8_t icv_len;         // bytes on the wire
    uint8_t block_size;      // cipher block (1 for GCM: a stream mode)
    uint8_t pad_align;       // payload||padding||2 aligns to this (max(block, 4))
};

// clang-format off
inline constexpr std::array<TransformInfo, 6> kTransforms{{
    // id                                  name             cipher           integ                  key salt auth iv icv blk align
    {Transform::aes128_gcm16,               "aes128-gcm16",  Cipher::aes_gcm, Integ::gcm_tag,         16, 4,  0,  8, 16,  1,  4},
    {Transform::aes256_gcm16,               "aes256-gcm16",  Cipher::aes_gcm, Integ::gcm_tag,         32, 4,  0,  8, 16,  1,  4},
    {Transform::aes128_cbc_hmac_sha1_96,    "aes128-sha1",   Cipher::aes_cbc, Integ::hmac_sha1_96,    16, 0, 20, 16, 12, 16, 16},
    {Transform::aes256_cbc_hmac_sha1_96,    "aes256-sha1",   Cipher::aes_cbc, Integ::hmac_sha1_96,    32, 0, 20, 16, 12, 16, 16},
    {Transform::aes128_cbc_hmac_sha256_128, "aes128-sha256", Cipher::aes_cbc, Integ::hmac_sha256_128, 16, 0, 32, 16, 16, 16, 16},
    {Transform::aes256_cbc_hmac_sha256_128, "aes256-sha256", Cipher::aes_cbc, Integ::hmac_sha256_128, 32, 0, 32, 16, 16, 16, 16},
}};
// clang-format on

constexpr const TransformInfo& info(Transform t) {
    return kTransforms[static_cast<size_t>(t)];
}
constexpr bool is_aead(Transform t) {
    return info(t).cipher == Cipher::aes_gcm;
}
// Bytes of encryption keying material the SA carries (GCM: key || salt).
constexpr size_t enc_keymat_len(Transform t) {
    return info(t).cipher_key_len + info(t).salt_len;
}
std::optional<Transform> transform_from_name(std::string_view name);

// The table's order is the enum's order; every row is self-consistent.
consteval bool transforms_table_ok() {
    for (size_t i = 0; i < kTransforms.size(); ++i) {
        const auto& t = kTransforms[i];
        if (static_cast<size_t>(t.id) != i) return false;
        if (t.pad_align != (t.block_size > 4 ? t.block_size : 4)) return false;
        if (t.cipher == Cipher::aes_gcm && (t.auth_key_len != 0 || t.salt_len != 4)) return false;
        if (t.cipher == Cipher::aes_cbc && (t.auth_key_len == 0 || t.iv_len != 16)) return false;
    }
    return true;
}
static_assert(transforms_table_ok(),
              "kTransforms: rows must follow enum Transform order and sizes must agree");

inline constexpr size_t kMaxIvLen = 16;
inline constexpr size_t kMaxIcvLen = 16;

enum class KeyError : uint8_t { ok, bad_enc_key_len, bad_auth_key_len, engine_unavailable };
std::string_view key_error_name(KeyError e);

// Expanded keys for one SA. Built on the control core, then only read by workers
// (through a pointer published with the SA). Not copyable or movable so that no
// stray copy of the secrets outlives the zeroing destructor.
class alignas(64) KeySchedule {
  public:
    struct Result;
    // enc_key: AES key (|| 4-byte salt for GCM); auth_key: HMAC key (empty for GCM).
    static Result create(Transform t, std::span<const uint8_t> enc_key,
                         std::span<const uint8_t> auth_key);

    KeySchedule(const KeySchedule&) = delete;
    KeySchedule& operator=(const KeySchedule&) = delete;
    ~KeySchedule();

    Transform transform() const { return transform_; }

    // Raw expanded material for the engine; opaque to everyone else.
    struct Material;
    const Material& material() const { return *reinterpret_cast<const Material*>(storage_); }

    KeySchedule() = default;  // public for std::make_unique; use create()

  private:
    Material& material_mut() { return *reinterpret_cast<Material*>(storage_); }
    // GCM key data (1008 B) or AES enc+dec schedules + HMAC ipad/opad states, + salt.
    static constexpr size_t kStorage = 1152;
    alignas(64) unsigned char storage_[kStorage]{};
    Transform transform_{};
};

struct KeySchedule::Result {
    std::unique_ptr<KeySchedule> keys;  // null on error
    KeyError error = KeyError::ok;
};

// One ESP transform operation, in place. All pointers refer to the caller's buffer.
struct EspOp {
    const KeySchedule* keys;
    uint8_t* esp_hdr;  // 8 bytes: SPI, seq low (network order); filled by the caller
    uint8_t* iv;       // iv_len bytes; written by encrypt (unless iv_given)
    uint8_t* payload;  // plaintext/ciphertext, len bytes, in place
    uint32_t len;      // CBC: a multiple of 16
    uint32_t esn_hi;   // high 32 bits of the 64-bit sequence number (used if esn)
    uint8_t* icv;      // icv_len bytes; written by encrypt, verified by decrypt
    bool esn;          // SA negotiated extended sequence numbers
    bool iv_given;     // encrypt: use *iv as is (tests); default: IV policy above
};

enum class OpStatus : uint8_t {
    ok,
    auth_failed,   // decrypt: ICV mismatch (payload content is then undefined)
    bad_length,    // CBC length not a block multiple, or zero-length CBC
    bad_layout,    // CBC+HMAC: header/IV/payload(/ICV with ESN) not contiguous
    engine_error,  // IPsec-MB rejected the job (a bug: should never happen)
};
std::string_view op_status_name(OpStatus s);

enum class MbApi : uint8_t { job, burst };  // IPsec-MB submission API
enum class MbArch : uint8_t { automatic, sse, avx, avx2, avx512 };

struct EngineOptions {
    // Burst API (IMB_GET_NEXT_BURST/SUBMIT_BURST/FLUSH_BURST) by default: medians lean
    // slightly its way for 64-byte packets, equal for 1420-byte ones; measurements on
    // the shared dev VM were noisy, see docs/ESP.md ("Job API or burst API").
    MbApi api = MbApi::burst;
    MbArch arch = MbArch::automatic;
    // Burst API only: let IPsec-MB validate every job (IMB_SUBMIT_BURST) instead of
    // trusting them (IMB_SUBMIT_BURST_NOCHECK). The jobs are built here from SAs the
    // control core validated, so the data plane skips the ~180 instructions per job
    // (callgrind); the crypto unit tests turn it on so a malformed job still shows.
    bool check_jobs = false;
};

class Engine {
  public:
    // Jobs kept in flight per IPsec-MB submission round (<= IMB_MAX_BURST_SIZE);
    // longer bursts are processed in rounds of this size.
    static constexpr uint32_t kRound = 64;

    // Allocates and initialises the IMB_MGR and seeds the IV generator from
    // getrandom(). Control path; returns null if the library or the CPU cannot.
    static std::unique_ptr<Engine> create(EngineOptions opts = {});
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;
    ~Engine();

    // Process ops.size() ops; status[i] receives op i's result (status.size() must be
    // >= ops.size()). Return the number of ops with OpStatus::ok.
    uint32_t encrypt_burst(std::span<EspOp> ops, std::span<OpStatus> status) noexcept;
    uint32_t decrypt_burst(std::span<EspOp> ops, std::span<OpStatus> status) noexcept;

    // Test hook for the known-answer tests of the HMAC path: one HMAC job over data
    // with ipad/opad states from hmac_precompute() (the same precomputation and job
    // type the CBC transforms use), full digest (20 or 32 bytes) to out.
    bool hmac(Integ integ, std::span<const uint8_t, 32> ipad, std::span<const uint8_t, 32> opad,
              std::span<const uint8_t> data, std::span<uint8_t> out) noexcept;

    // Test hook for the GCM known-answer tests, which use AADs other than ESP's:
    // one GCM job with nonce = salt || iv, arbitrary aad, data in place; tag receives
    // the computed tag (decrypt: compare it yourself). GCM schedules only.
    bool gcm(const KeySchedule& keys, std::span<const uint8_t, 8> iv, std::span<const uint8_t> aad,
             std::span<uint8_t> data, std::span<uint8_t, 16> tag, bool encrypt) noexcept;

    std::string_view arch_name() const;
    MbApi api() const { return opts_.api; }

    Engine() = default;  // public for std::make_unique; use create()

  private:
    struct Scratch;
    uint32_t run(std::span<EspOp> ops, std::span<OpStatus> status, bool encrypt) noexcept;
    uint32_t run_round(EspOp* ops, OpStatus* status, uint32_t n, bool encrypt) noexcept;
    OpStatus gcm_one(EspOp& op, bool encrypt) noexcept;
    bool refill_ivs() noexcept;
    const uint8_t* next_iv() noexcept;

    IMB_MGR* mgr_ = nullptr;
    EngineOptions opts_{};
    int arch_ = 0;
    std::unique_ptr<Scratch> scratch_;
};

// HMAC ipad/opad precomputation for any key length (keys longer than the 64-byte
// block are hashed first, RFC 2104). ipad/opad receive the inner/outer hash states
// in the format IPsec-MB HMAC jobs expect. Exposed for the known-answer tests.
bool hmac_precompute(Integ integ, std::span<const uint8_t> key, std::span<uint8_t, 32> ipad,
                     std::span<uint8_t, 32> opad);

}  // namespace peregrine::crypto
