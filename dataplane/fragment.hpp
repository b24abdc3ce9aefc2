// dataplane/fragment.hpp - IPv4 fragmentation before encryption.
//
// The outbound MTU policy (docs/ESP.md, "Packets over the tunnel MTU"): an inner packet
// whose ESP packet would not fit the outside port's MTU is
//   - DF clear: fragmented here BEFORE encryption, each fragment encrypted on its own
//     (what IOS does by default, "crypto ipsec fragmentation before-encryption"); the far
//     host reassembles, the peer gateway never has to;
//   - DF set: dropped (too_big) and answered with ICMP "fragmentation needed" carrying
//     the tunnel MTU (RFC 1191), built by the control core from the punted packet.
// Hot path: no allocation beyond mbufs from the pool, no logging.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

namespace peregrine::dataplane {

inline constexpr uint16_t kMaxFragments = 8;  // 8 x 576 covers a 1500-byte packet at the smallest MTU

// Splits the IPv4 packet at `ip` (inside m's single segment, `len` bytes, not itself a
// fragment) into fragments of total length <= max_len. out[0]/out_ip[0] is `m` trimmed
// to the first fragment; the others are new mbufs from `pool` with their IPv4 header at
// out_ip[k] and the default headroom in front. Every fragment has a fresh header
// checksum. Returns the number of fragments, or 0 (m unchanged, nothing allocated) when
// the packet fits, has DF set, needs more than max_out fragments, or the pool is empty.
uint16_t ipv4_fragment(rte_mbuf* m, uint8_t* ip, uint16_t len, uint16_t max_len, rte_mempool* pool,
                       rte_mbuf** out, uint8_t** out_ip, uint16_t max_out);

// Marks a punted mbuf as "too big for the tunnel": the control core answers its
// sender with ICMP fragmentation-needed carrying `mtu` (hash.fdir is free on TX paths).
inline constexpr uint32_t kPuntTooBig = 0x7b16f001;
inline void mark_too_big(rte_mbuf* m, uint16_t mtu) {
    m->hash.fdir.lo = kPuntTooBig;
    m->hash.fdir.hi = mtu;
}
inline bool is_too_big(const rte_mbuf* m, uint16_t& mtu) {
    if (m->hash.fdir.lo != kPuntTooBig) return false;
    mtu = uint16_t(m->hash.fdir.hi);
    return true;
}

}  // namespace peregrine::dataplane
