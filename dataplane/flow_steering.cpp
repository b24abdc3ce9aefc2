// dataplane/flow_steering.cpp - see flow_steering.hpp for the rules and the fallback.
#include "dataplane/flow_steering.hpp"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_log.h>

#include <array>
#include <cstring>
#include <vector>

namespace peregrine::dataplane {

namespace {

// SPIs 1..255 are reserved (RFC 4303 2.1); any other value represents "an SPI" for probing.
constexpr uint32_t kProbeSpi = 0x100;
// rte_flow: a lower number is matched first. Per-SPI rules win over the shared RSS rule.
constexpr uint32_t kSpiPriority = 0;
constexpr uint32_t kRssPriority = 1;

constexpr std::array<std::string_view, 5> kStatusNames = {
#define PG_X(id, name) name,
    PG_FLOW_STATUSES(PG_X)
#undef PG_X
};

// Storage of one rule while it is validated and created. The items and actions point into
// the object itself, so it is filled in place and never copied.
struct Rule {
    rte_flow_attr attr{};
    rte_flow_item_esp esp_spec{};
    rte_flow_item_esp esp_mask{};
    rte_flow_item_udp udp_spec{};
    rte_flow_item_udp udp_mask{};
    rte_flow_action_queue queue{};
    rte_flow_action_rss rss{};
    std::vector<uint16_t> rss_queues;
    std::array<rte_flow_item, 5> items{};
    std::array<rte_flow_action, 2> actions{};

    Rule() = default;
    Rule(const Rule&) = delete;
    Rule& operator=(const Rule&) = delete;
};

enum class Shape : uint8_t { esp_queue, udp_esp_queue, udp_rss };

void build(Rule& r, Shape shape, uint32_t spi, uint16_t queue, uint16_t nb_queues) {
    r.attr.ingress = 1;
    r.attr.priority = shape == Shape::udp_rss ? kRssPriority : kSpiPriority;
    std::size_t n = 0;
    r.items[n++].type = RTE_FLOW_ITEM_TYPE_ETH;   // any Ethernet header
    r.items[n++].type = RTE_FLOW_ITEM_TYPE_IPV4;  // any IPv4 header (the next item implies
                                                  // the protocol)
    if (shape != Shape::esp_queue) {
        r.udp_spec.hdr.dst_port = rte_cpu_to_be_16(kNatTPort);
        r.udp_mask.hdr.dst_port = RTE_BE16(0xffff);
        r.items[n].type = RTE_FLOW_ITEM_TYPE_UDP;
        r.items[n].spec = &r.udp_spec;
        r.items[n].mask = &r.udp_mask;
        ++n;
    }
    if (shape != Shape::udp_rss) {
        r.esp_spec.hdr.spi = rte_cpu_to_be_32(spi);
        r.esp_mask.hdr.spi = RTE_BE32(0xffffffff);
        r.items[n].type = RTE_FLOW_ITEM_TYPE_ESP;
        r.items[n].spec = &r.esp_spec;
        r.items[n].mask = &r.esp_mask;
        ++n;
    }
    r.items[n].type = RTE_FLOW_ITEM_TYPE_END;

    if (shape == Shape::udp_rss) {
        r.rss_queues.resize(nb_queues);
        for (uint16_t q = 0; q < nb_queues; ++q) r.rss_queues[q] = q;
        r.rss.func = RTE_ETH_HASH_FUNCTION_DEFAULT;
        r.rss.level = 0;  // outer headers
        r.rss.types = RTE_ETH_RSS_NONFRAG_IPV4_UDP;
        r.rss.queue_num = nb_queues;
        r.rss.queue = r.rss_queues.data();
        r.actions[0].type = RTE_FLOW_ACTION_TYPE_RSS;
        r.actions[0].conf = &r.rss;
    } else {
        r.queue.index = queue;
        r.actions[0].type = RTE_FLOW_ACTION_TYPE_QUEUE;
        r.actions[0].conf = &r.queue;
    }
    r.actions[1].type = RTE_FLOW_ACTION_TYPE_END;
}

// "pgflowtest: item ESP: mask on seq not supported" or, when the PMD gave no message,
// the errno text ("Function not implemented" for a PMD without flow ops).
std::string error_text(int rc, const rte_flow_error& e) {
    if (e.message != nullptr && e.message[0] != '\0') return e.message;
    const int err = rc < 0 ? -rc : rte_errno;
    return err != 0 ? rte_strerror(err) : "unknown rte_flow error";
}

// Validates a rule; on failure `why` says why.
bool validate(uint16_t port, const Rule& r, std::string& why) {
    rte_flow_error e{};
    const int rc = rte_flow_validate(port, &r.attr, r.items.data(), r.actions.data(), &e);
    if (rc == 0) return true;
    why = error_text(rc, e);
    return false;
}

rte_flow* create(uint16_t port, const Rule& r, std::string& why) {
    rte_flow_error e{};
    rte_flow* f = rte_flow_create(port, &r.attr, r.items.data(), r.actions.data(), &e);
    if (f == nullptr) why = "rte_flow_create: " + error_text(-rte_errno, e);
    return f;
}

void default_log(const std::string& line) {
    RTE_LOG(NOTICE, USER1, "%s\n", line.c_str());
}

}  // namespace

std::string_view flow_status_name(FlowStatus s) noexcept {
    const auto i = static_cast<std::size_t>(s);
    return i < kStatusNames.size() ? kStatusNames[i] : "?";
}

FlowSteering::FlowSteering(uint16_t port_id, FlowLogFn log)
    : port_id_(port_id), log_(log ? std::move(log) : FlowLogFn(default_log)) {}

FlowSteering FlowSteering::probe(uint16_t port_id, FlowLogFn log) {
    FlowSteering fs(port_id, std::move(log));
    rte_eth_dev_info info{};
    const int rc = rte_eth_dev_info_get(port_id, &info);
    if (rc != 0) {
        fs.driver_ = "?";
        fs.reason_ = std::string("rte_eth_dev_info_get: ") + rte_strerror(-rc);
        return fs;
    }
    fs.driver_ = info.driver_name != nullptr ? info.driver_name : "?";
    fs.nb_queues_ = info.nb_rx_queues;
    if (fs.nb_queues_ == 0) {
        fs.reason_ = "port has no RX queue configured";
        return fs;
    }
    Rule r;
    build(r, Shape::esp_queue, kProbeSpi, 0, fs.nb_queues_);
    fs.supported_ = validate(port_id, r, fs.reason_);
    if (fs.supported_) fs.reason_.clear();
    return fs;
}

FlowSteering::FlowSteering(FlowSteering&& o) noexcept
    : port_id_(o.port_id_),
      nb_queues_(o.nb_queues_),
      supported_(o.supported_),
      logged_(o.logged_),
      driver_(std::move(o.driver_)),
      reason_(std::move(o.reason_)),
      log_(std::move(o.log_)),
      flows_(std::move(o.flows_)),
      udp_rss_(std::exchange(o.udp_rss_, nullptr)),
      udp_rss_users_(std::exchange(o.udp_rss_users_, 0)) {
    o.flows_.clear();
}

FlowSteering& FlowSteering::operator=(FlowSteering&& o) noexcept {
    if (this != &o) {
        clear();
        port_id_ = o.port_id_;
        nb_queues_ = o.nb_queues_;
        supported_ = o.supported_;
        logged_ = o.logged_;
        driver_ = std::move(o.driver_);
        reason_ = std::move(o.reason_);
        log_ = std::move(o.log_);
        flows_ = std::move(o.flows_);
        o.flows_.clear();
        udp_rss_ = std::exchange(o.udp_rss_, nullptr);
        udp_rss_users_ = std::exchange(o.udp_rss_users_, 0);
    }
    return *this;
}

FlowSteering::~FlowSteering() {
    clear();
}

std::size_t FlowSteering::flow_count() const noexcept {
    std::size_t n = udp_rss_ != nullptr ? 1 : 0;
    for (const auto& [key, held] : flows_)
        if (held.flow != nullptr) ++n;
    return n;
}

FlowResult FlowSteering::fall_back(std::string reason) {
    if (!logged_) {
        logged_ = true;
        log_("port " + std::to_string(port_id_) + " (" + driver_ + "): rte_flow not supported (" +
             reason + "); inbound ESP uses software dispatch by SPI");
    }
    return {FlowStatus::software, FlowRoute::none, std::move(reason)};
}

FlowResult FlowSteering::steer_esp_spi(uint32_t spi, uint16_t queue) {
    return steer(spi, queue, Encap::esp);
}

FlowResult FlowSteering::steer_udp_esp_spi(uint32_t spi, uint16_t queue) {
    return steer(spi, queue, Encap::udp);
}

FlowResult FlowSteering::steer(uint32_t spi, uint16_t queue, Encap encap) {
    if (queue >= nb_queues_ && nb_queues_ != 0)
        return {FlowStatus::error, FlowRoute::none,
                "queue " + std::to_string(queue) + " out of range (port " +
                    std::to_string(port_id_) + " has " + std::to_string(nb_queues_) +
                    " RX queues)"};
    if (!supported_) return fall_back(reason_);

    const auto key = std::make_pair(spi, encap);
    std::string why;
    Rule rule;
    build(rule, encap == Encap::esp ? Shape::esp_queue : Shape::udp_esp_queue, spi, queue,
          nb_queues_);
    Held fresh{nullptr, queue};
    FlowRoute route = FlowRoute::queue;
    if (validate(port_id_, rule, why)) {
        fresh.flow = create(port_id_, rule, why);
        if (fresh.flow == nullptr) return {FlowStatus::error, FlowRoute::none, why};
    } else if (encap == Encap::esp) {
        return fall_back(why);
    } else {
        // No ESP match behind UDP: spread UDP 4500 by RSS, shared by every SPI.
        route = FlowRoute::rss;
        if (udp_rss_ == nullptr) {
            Rule rss;
            build(rss, Shape::udp_rss, spi, queue, nb_queues_);
            std::string why_rss;
            if (!validate(port_id_, rss, why_rss))
                return fall_back(why + "; UDP " + std::to_string(kNatTPort) + " RSS: " + why_rss);
            udp_rss_ = create(port_id_, rss, why_rss);
            if (udp_rss_ == nullptr) return {FlowStatus::error, FlowRoute::none, why_rss};
        }
        auto it = flows_.find(key);
        if (it != flows_.end() && it->second.flow == nullptr)
            return {FlowStatus::installed, route, {}};
        ++udp_rss_users_;
    }

    // Make before break: the new rule exists before the old one of the same SPI goes.
    auto it = flows_.find(key);
    if (it != flows_.end()) {
        std::string ignored;
        if (it->second.flow != nullptr)
            destroy(it->second.flow, ignored);
        else if (route == FlowRoute::queue)
            release_rss();
        it->second = fresh;
    } else {
        flows_.emplace(key, fresh);
    }
    return {FlowStatus::installed, route, {}};
}

FlowResult FlowSteering::remove_spi(uint32_t spi) {
    FlowResult res{FlowStatus::not_found, FlowRoute::none, {}};
    for (const Encap encap : {Encap::esp, Encap::udp}) {
        auto it = flows_.find({spi, encap});
        if (it == flows_.end()) continue;
        if (res.status == FlowStatus::not_found) res.status = FlowStatus::removed;
        if (it->second.flow == nullptr) {
            release_rss();
        } else if (std::string why; !destroy(it->second.flow, why)) {
            res.status = FlowStatus::error;
            res.message = why;
        }
        flows_.erase(it);
    }
    return res;
}

bool FlowSteering::destroy(rte_flow* flow, std::string& err) noexcept {
    rte_flow_error e{};
    const int rc = rte_flow_destroy(port_id_, flow, &e);
    if (rc == 0) return true;
    err = "rte_flow_destroy: " + error_text(rc, e);
    return false;
}

void FlowSteering::release_rss() noexcept {
    if (udp_rss_users_ > 0 && --udp_rss_users_ == 0 && udp_rss_ != nullptr) {
        std::string ignored;
        destroy(std::exchange(udp_rss_, nullptr), ignored);
    }
}

void FlowSteering::clear() noexcept {
    std::string ignored;  // a port closed before us already dropped its flows
    for (auto& [key, held] : flows_)
        if (held.flow != nullptr) destroy(held.flow, ignored);
    flows_.clear();
    if (udp_rss_ != nullptr) destroy(std::exchange(udp_rss_, nullptr), ignored);
    udp_rss_users_ = 0;
}

uint16_t queue_for_spi(uint32_t spi, uint16_t nb_queues) noexcept {
    // Fibonacci hashing (2^32 / golden ratio): consecutive SPIs land far apart in the high
    // bits; the multiply-shift then maps the 32-bit hash onto [0, nb_queues) without a
    // division and without the bias of a modulo by a non-power of two.
    const uint32_t h = spi * 0x9E3779B1u;
    return static_cast<uint16_t>((static_cast<uint64_t>(h) * nb_queues) >> 32);
}

}  // namespace peregrine::dataplane
