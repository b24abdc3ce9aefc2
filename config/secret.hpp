// config/secret.hpp - keying material that zeroes itself and never prints.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

namespace peregrine::config {

// Bytes of a key or pre-shared secret. Copies are allowed (the model is a value
// type); every copy wipes its storage when destroyed. There is deliberately no
// operator<< and no to_string: a Secret cannot reach a log line by accident.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::span<const uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}
    Secret(const Secret& o) : bytes_(o.bytes_) {}
    Secret(Secret&& o) noexcept : bytes_(o.bytes_) { o.wipe(); }
    Secret& operator=(const Secret& o) {
        if (this != &o) {
            wipe();
            bytes_ = o.bytes_;
        }
        return *this;
    }
    Secret& operator=(Secret&& o) noexcept {
        if (this != &o) {
            wipe();
            bytes_ = o.bytes_;
            o.wipe();
        }
        return *this;
    }
    ~Secret() { wipe(); }

    std::span<const uint8_t> bytes() const { return bytes_; }
    size_t size() const { return bytes_.size(); }
    bool empty() const { return bytes_.empty(); }

private:
    void wipe() noexcept {
        if (!bytes_.empty()) {
            // volatile stores so the wipe is not elided as a dead store
            volatile uint8_t* p = bytes_.data();
            for (size_t i = 0; i < bytes_.size(); ++i) p[i] = 0;
        }
        bytes_.clear();
    }
    std::vector<uint8_t> bytes_;
};

}  // namespace peregrine::config
