// dataplane/flow_steering.hpp - rte_flow rules that steer inbound ESP to the worker queue
// owning the SA, with software dispatch where the PMD cannot.
//
//   rule (one per SPI and encapsulation)            action        attr.priority
//   ETH / IPV4 / ESP(spi)                       ->  QUEUE(owner)  0
//   ETH / IPV4 / UDP(dst 4500) / ESP(spi)       ->  QUEUE(owner)  0    (RFC 3948 ESP-in-UDP)
//   ETH / IPV4 / UDP(dst 4500)                  ->  RSS(all)      1    (fallback for the one above,
//                                                                       shared by every SPI)
//
// Every rule is checked with rte_flow_validate() before rte_flow_create(). A rule the PMD
// does not validate is not an error: the runtime then dispatches by SPI in software (the
// worker that receives the packet hands it to the SA's owner, `queue_for_spi`), and the
// first such rule of a port logs exactly one line:
//
//   port 0 (net_pcap): rte_flow not supported (<reason>); inbound ESP uses software dispatch by SPI
//
// Control-path only (rte_flow calls may sleep, take locks and allocate); one FlowSteering
// per port, owned by whoever configured the port. The destructor destroys every flow it
// created (RAII); call it before the port is closed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "dataplane/esp_codec.hpp"

struct rte_flow;

namespace peregrine::dataplane {

// kNatTPort (RFC 3948: ESP-in-UDP travels on the IKE NAT-T port) comes from esp_codec.hpp.

#define PG_FLOW_STATUSES(X)                                                         \
    X(installed, "installed") /* the NIC steers this SPI (see FlowRoute for how) */ \
    X(software, "software")   /* PMD cannot: dispatch by SPI in software */         \
    X(removed, "removed")     /* remove_spi destroyed the SPI's flows */            \
    X(not_found, "not_found") /* remove_spi: no flow for that SPI */                \
    X(error, "error")         /* bad argument, or create/destroy failed; see message */

enum class FlowStatus : uint8_t {
#define PG_X(id, name) id,
    PG_FLOW_STATUSES(PG_X)
#undef PG_X
};

// How an installed rule delivers the SPI's packets.
enum class FlowRoute : uint8_t {
    none,   // nothing installed
    queue,  // pinned to the owner's queue: no software hand-off needed
    rss,    // spread by RSS over all queues: the receiving worker still hands off by SPI
};

std::string_view flow_status_name(FlowStatus s) noexcept;

struct FlowResult {
    FlowStatus status = FlowStatus::error;
    FlowRoute route = FlowRoute::none;
    std::string message;  // why (rte_flow_error text) for software / error

    bool installed() const noexcept { return status == FlowStatus::installed; }
    // Packets of this SPI reach the owner's queue without software dispatch.
    bool pinned() const noexcept { return installed() && route == FlowRoute::queue; }
};

// Receives the one "not supported" line of a port (and nothing else). Default: RTE_LOG.
using FlowLogFn = std::function<void(const std::string& line)>;

class FlowSteering {
  public:
    // Reads the port's driver name and RX queue count (the port must be configured) and
    // validates a representative rule (ETH / IPV4 / ESP(spi) -> QUEUE 0). Never fails:
    // a port without rte_flow support yields supported() == false.
    static FlowSteering probe(uint16_t port_id, FlowLogFn log = {});

    FlowSteering(FlowSteering&& other) noexcept;
    FlowSteering& operator=(FlowSteering&& other) noexcept;
    FlowSteering(const FlowSteering&) = delete;
    FlowSteering& operator=(const FlowSteering&) = delete;
    ~FlowSteering();

    bool supported() const noexcept { return supported_; }
    uint16_t port_id() const noexcept { return port_id_; }
    uint16_t nb_queues() const noexcept { return nb_queues_; }
    const std::string& driver_name() const noexcept { return driver_; }
    // Why probe() found no support ("" when supported).
    const std::string& unsupported_reason() const noexcept { return reason_; }

    // ETH / IPV4 / ESP(spi) -> QUEUE(queue). `spi` in host order.
    FlowResult steer_esp_spi(uint32_t spi, uint16_t queue);
    // ETH / IPV4 / UDP(dst 4500) / ESP(spi) -> QUEUE(queue) if the PMD accepts it, else the
    // shared ETH / IPV4 / UDP(dst 4500) -> RSS rule (route == rss).
    FlowResult steer_udp_esp_spi(uint32_t spi, uint16_t queue);
    // Destroys the SPI's rules (both encapsulations); drops the shared RSS rule with its
    // last user.
    FlowResult remove_spi(uint32_t spi);
    // Destroys every flow this object created.
    void clear() noexcept;

    // Number of rte_flow handles held (per-SPI rules plus the shared RSS rule).
    std::size_t flow_count() const noexcept;
    // The one-line log was emitted (at most once per object).
    bool fallback_logged() const noexcept { return logged_; }

  private:
    enum class Encap : uint8_t { esp, udp };
    struct Held {
        rte_flow* flow = nullptr;  // nullptr: riding the shared RSS rule
        uint16_t queue = 0;
    };

    FlowSteering(uint16_t port_id, FlowLogFn log);
    FlowResult steer(uint32_t spi, uint16_t queue, Encap encap);
    FlowResult fall_back(std::string reason);
    bool destroy(rte_flow* flow, std::string& err) noexcept;
    void release_rss() noexcept;

    uint16_t port_id_ = 0;
    uint16_t nb_queues_ = 0;
    bool supported_ = false;
    bool logged_ = false;
    std::string driver_;
    std::string reason_;
    FlowLogFn log_;
    std::map<std::pair<uint32_t, Encap>, Held> flows_;
    rte_flow* udp_rss_ = nullptr;  // shared UDP-4500 -> RSS rule
    unsigned udp_rss_users_ = 0;
};

// Software dispatch: the RX queue (= worker) that owns the inbound SA with this SPI when the
// NIC cannot steer. The control core assigns SA ownership with this same function, so the
// receiving worker computes the owner from the SPI alone, without a table. Deterministic and
// stable across restarts; a multiplicative hash then a range reduction, so the sequential
// SPIs that the IKE daemon allocates spread evenly. nb_queues == 0 gives 0.
uint16_t queue_for_spi(uint32_t spi, uint16_t nb_queues) noexcept;

}  // namespace peregrine::dataplane
