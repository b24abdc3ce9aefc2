// config/model.hpp - the validated, immutable configuration model of Peregrine.
//
// A libconfig file (see README.md "Configuration reference") becomes one `Config`
// value through `load_file()` / `load_string()` (config/loader.hpp). Every object
// remembers the line it came from so later layers can point the operator at it.
// Addresses are IPv4 in host byte order. Nothing here touches DPDK, sockets or
// the clock: the model is pure data, and the loader has no side effects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/secret.hpp"

namespace peregrine::config {

struct Ipv4Prefix {
    uint32_t addr = 0;  // host order, host bits cleared for ACL/route prefixes
    uint8_t len = 0;    // 0..32
    bool contains(uint32_t a) const {
        return len == 0 || ((a ^ addr) >> (32 - len)) == 0;
    }
    friend bool operator==(const Ipv4Prefix&, const Ipv4Prefix&) = default;
};

enum class PortRole { inside, outside };

struct Port {
    std::string name;
    std::string device;  // PCI address ("0000:01:00.0") or vdev string ("net_pcap0,iface=x")
    PortRole role = PortRole::inside;
    uint32_t address = 0;  // the appliance's own address on this port
    uint8_t prefix_len = 0;
    uint16_t mtu = 1500;   // 576..9000
    int line = 0;
};

struct Route {
    Ipv4Prefix prefix;
    uint32_t via = 0;  // next hop; 0 = directly connected through `port`
    std::string port;
    int line = 0;
};

// A static ARP entry (IOS `arp A.B.C.D H.H.H arpa`): a next hop whose MAC is
// configured, for links where nothing answers ARP (benchmark sinks, memif peers).
struct StaticNeighbour {
    uint32_t address = 0;
    uint8_t mac[6] = {};
    std::string port;
    int line = 0;
};

enum class AceAction { permit, deny };

struct PortRange {
    uint16_t lo = 0;
    uint16_t hi = 65535;
    bool any() const { return lo == 0 && hi == 65535; }
    friend bool operator==(const PortRange&, const PortRange&) = default;
};

// One access control entry of an extended access list.
struct Ace {
    AceAction action = AceAction::permit;
    uint8_t protocol = 0;  // IP protocol number; 0 = "ip" (any protocol)
    Ipv4Prefix source;
    Ipv4Prefix destination;
    PortRange source_ports;       // only for tcp/udp
    PortRange destination_ports;  // only for tcp/udp
    int line = 0;
};

struct AccessList {
    std::string name;
    std::vector<Ace> entries;  // in list order; first match wins
    int line = 0;
};

enum class EspCipher { aes_gcm_128, aes_gcm_256, aes_cbc_128, aes_cbc_256 };
enum class EspIntegrity { none, hmac_sha1_96, hmac_sha256_128 };  // none only with GCM

// ESP tunnel mode transform. GCM uses a 16-byte ICV (RFC 4106).
struct TransformSet {
    std::string name;
    EspCipher cipher = EspCipher::aes_gcm_128;
    EspIntegrity integrity = EspIntegrity::none;
    int line = 0;
};

// Keying material lengths, in bytes, as `set session-key` takes them. For GCM the
// cipher key is the AES key followed by the 4-byte salt (RFC 4106 section 8.1).
size_t cipher_key_bytes(EspCipher c);
size_t integrity_key_bytes(EspIntegrity i);
bool is_aead(EspCipher c);
const char* to_string(EspCipher c);
const char* to_string(EspIntegrity i);
const char* to_string(PortRole r);
const char* to_string(AceAction a);

struct IkeProposal {
    std::string name;
    std::string encryption;  // aes128, aes256, aes128gcm16, aes256gcm16
    std::string integrity;   // sha1, sha256, sha384, sha512 (empty with GCM)
    std::string prf;         // defaults to the integrity algorithm (sha256 with GCM)
    int dh_group = 14;       // 14, 15, 19, 20, 21
    int line = 0;
};

struct PresharedKey {
    std::string peer;  // IPv4 address or host name, as written in `set peer`
    Secret secret;
    int line = 0;
};

enum class DpdMode { periodic, on_demand };

struct Dpd {
    uint32_t interval_s = 10;  // 10..3600
    uint32_t retry_s = 2;      // 2..60
    DpdMode mode = DpdMode::on_demand;
    bool enabled = false;
    int line = 0;
};

struct Ike {
    std::vector<IkeProposal> proposals;
    std::vector<PresharedKey> keys;
    Dpd dpd;
    uint32_t ike_lifetime_s = 86400;
    int line = 0;
};

// Global IPsec settings (`crypto ipsec security-association ...` in IOS).
struct IpsecGlobal {
    uint32_t sa_lifetime_s = 3600;
    uint64_t sa_lifetime_kb = 4608000;
    uint32_t idle_time_s = 0;      // 0 = no global idle timer
    uint16_t replay_window = 64;   // 64..4096, multiple of 64 (0 disables? no: always on)
    int line = 0;
};

enum class EntryType { ipsec_isakmp, ipsec_manual };

// One `set peer` line: `host-name [dynamic] [default]` or `ip-address [default]`.
struct Peer {
    std::string host;            // as written
    std::optional<uint32_t> ip;  // set when `host` is a dotted-quad address
    bool dynamic = false;        // host name resolved right before each negotiation
    bool is_default = false;     // only on the first peer, at most one per entry
    int line = 0;
    bool is_hostname() const { return !ip.has_value(); }
};

// `set security-association idle-time N [default]`.
struct IdleTime {
    uint32_t seconds = 0;  // 60..86400
    bool to_default = false;
    int line = 0;
};

// One direction of an ipsec-manual SA (`set session-key inbound|outbound esp ...`).
struct ManualSa {
    uint32_t spi = 0;  // >= 256 (RFC 4303: 1..255 reserved)
    Secret cipher_key;
    Secret integrity_key;
    int line = 0;
};

// Peregrine extension: preemptive failback to the default peer.
struct Failback {
    uint32_t probe_interval_s = 5;    // 1..3600
    uint32_t hold_down_s = 30;        // 0..86400, time the default must answer continuously
    uint32_t max_hold_down_s = 600;   // dampening cap, >= hold_down_s
    int line = 0;
};

struct CryptoMapEntry {
    uint32_t seq = 0;
    EntryType type = EntryType::ipsec_isakmp;
    std::string match_address;               // access list name
    std::vector<Peer> peers;                 // in `set peer` order
    std::vector<std::string> transform_sets; // names, in preference order
    std::optional<int> pfs_group;
    std::optional<uint32_t> lifetime_s;      // overrides the global SA lifetime
    std::optional<uint64_t> lifetime_kb;
    // Set only when the entry's idle time is configured AND differs from the global
    // idle time: "otherwise, the idle timer is not added to the crypto map".
    std::optional<IdleTime> idle_time;
    bool udp_encap = false;                  // RFC 3948 ESP-in-UDP, port 4500
    bool esn = false;                        // 64-bit extended sequence numbers
    uint16_t replay_window = 0;              // 0 = the global window
    bool anti_replay = true;                 // false: `set security-association replay disable`
    std::optional<ManualSa> inbound;         // ipsec-manual only
    std::optional<ManualSa> outbound;        // ipsec-manual only
    std::optional<Failback> failback;
    int line = 0;

    const Peer* default_peer() const {
        return !peers.empty() && peers.front().is_default ? &peers.front() : nullptr;
    }
};

struct CryptoMap {
    std::string name;
    std::string interface;      // the port the map is applied to
    uint32_t local_address = 0; // defaults to the port's address
    std::vector<CryptoMapEntry> entries;  // sorted by sequence number
    int line = 0;
};

struct Config {
    std::string file;
    std::vector<Port> ports;
    std::vector<Route> routes;
    std::vector<StaticNeighbour> neighbours;
    std::vector<AccessList> access_lists;
    std::vector<TransformSet> transform_sets;
    Ike ike;
    IpsecGlobal ipsec;
    std::vector<CryptoMap> crypto_maps;

    const Port* find_port(const std::string& name) const;
    const AccessList* find_access_list(const std::string& name) const;
    const TransformSet* find_transform_set(const std::string& name) const;
};

// Address helpers shared by the loader, the summary printer and later layers.
std::optional<uint32_t> parse_ipv4(const std::string& text);
std::string format_ipv4(uint32_t addr);
std::string format_prefix(const Ipv4Prefix& p);

}  // namespace peregrine::config
