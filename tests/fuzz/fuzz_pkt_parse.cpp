// tests/fuzz/fuzz_pkt_parse.cpp - libFuzzer target for the data-plane frame parser.
// The input is copied to an exactly-sized heap buffer so that ASan catches any read past
// the frame; the result is checked for internal consistency.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "dataplane/classifier.hpp"
#include "dataplane/pkt_parse.hpp"

using namespace peregrine::dataplane;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::unique_ptr<uint8_t[]> buf;
    if (size) {
        buf = std::make_unique<uint8_t[]>(size);
        std::memcpy(buf.get(), data, size);
    }
    const ParsedPkt p = parse_frame(buf.get(), size);
    // The common-case short path must agree with the general parser on every input.
    if (!(p == parse_frame_general(buf.get(), size))) std::abort();
    // Invariants: malformed <=> reason set; offsets inside the frame.
    if ((p.cls == PktClass::malformed) != (p.reason != MalformedReason::none)) std::abort();
    if (p.cls != PktClass::malformed) {
        if (p.l3_off > size || p.l4_off > size || p.payload_off > size) std::abort();
        if (p.l3_len && size_t{p.l3_off} + p.l3_len > size) std::abort();
        if ((p.cls == PktClass::esp || p.cls == PktClass::esp_in_udp) &&
            (p.spi == 0 || size_t{p.payload_off} + wire::kEspHdrLen > size))
            std::abort();
        if (p.cls != PktClass::arp && p.cls != PktClass::non_ip) (void)make_flow_key(p);
    }
    (void)to_string(p.cls);
    (void)describe(p.reason);
    return 0;
}
