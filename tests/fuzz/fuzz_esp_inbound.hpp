// tests/fuzz/fuzz_esp_inbound.hpp - what the inbound-path fuzz target exposes besides the
// libFuzzer entry points, for the seed-corpus regression (tests/fuzz/test_esp_inbound_seeds.cpp)
// that runs the same code without libFuzzer in the normal and ASan builds.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/runtime.hpp"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv);
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace pgfuzz::esp_inbound {

// Counters of the target's runtime, summed since LLVMFuzzerInitialize.
peregrine::dataplane::Stats stats();
// Frames the target checked on each port's TX side since LLVMFuzzerInitialize.
uint64_t frames_out_inside();
uint64_t frames_out_outside();
// Destroy the runtime (the EAL stays up until exit). The entry points must not be
// called afterwards.
void teardown();

}  // namespace pgfuzz::esp_inbound
