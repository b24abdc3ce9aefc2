// tests/control/policy_test_util.hpp - fake resolver and action helpers for peer policy tests.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "control/peer_policy.hpp"

namespace pptest {

using namespace peregrine::control;
using namespace std::chrono_literals;

class FakeResolver : public Resolver {
public:
    std::map<std::string, std::optional<uint32_t>> table;
    std::map<std::string, int> calls;
    std::optional<uint32_t> resolve(std::string_view host) override {
        ++calls[std::string(host)];
        auto it = table.find(std::string(host));
        return it == table.end() ? std::nullopt : it->second;
    }
};

// A copy of the first action of type T (copies: a Decision is often reassigned).
template <class T>
std::optional<T> find(const Decision& d) {
    for (const auto& a : d.actions)
        if (auto p = std::get_if<T>(&a)) return *p;
    return std::nullopt;
}

template <class T>
int count(const Decision& d) {
    int n = 0;
    for (const auto& a : d.actions) n += std::holds_alternative<T>(a) ? 1 : 0;
    return n;
}

// Index of the first action of type T, or -1.
template <class T>
int index_of(const Decision& d) {
    for (size_t i = 0; i < d.actions.size(); ++i)
        if (std::holds_alternative<T>(d.actions[i])) return static_cast<int>(i);
    return -1;
}

inline PolicyPeer ip_peer(uint32_t ip, bool is_default = false) {
    return PolicyPeer{"ip" + std::to_string(ip), ip, false, is_default};
}

inline PeerPolicy make(const PolicyConfig& cfg, Resolver& r, Millis now = Millis{0}) {
    auto v = PeerPolicy::create(cfg, r, now);
    return std::get<PeerPolicy>(std::move(v));
}

}  // namespace pptest
