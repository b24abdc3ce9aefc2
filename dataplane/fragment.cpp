// dataplane/fragment.cpp
#include "dataplane/fragment.hpp"

#include <rte_ip.h>

#include <cstring>

namespace peregrine::dataplane {

namespace {
inline void put16(uint8_t* p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
inline void finish_header(uint8_t* ip, uint16_t total, uint16_t frag_field) {
    put16(ip + 2, total);
    put16(ip + 6, frag_field);
    ip[10] = ip[11] = 0;
    const uint16_t ck = rte_ipv4_cksum(reinterpret_cast<const rte_ipv4_hdr*>(ip));
    std::memcpy(ip + 10, &ck, 2);  // rte_ipv4_cksum returns it in network order
}
}  // namespace

uint16_t ipv4_fragment(rte_mbuf* m, uint8_t* ip, uint16_t len, uint16_t max_len, rte_mempool* pool,
                       rte_mbuf** out, uint8_t** out_ip, uint16_t max_out) {
    const uint16_t ihl = uint16_t((ip[0] & 0x0f) * 4);
    const uint16_t flags = uint16_t((ip[6] << 8) | ip[7]);
    if (len <= max_len || (flags & 0x4000) || (flags & 0x3fff) || ihl < 20 || len <= ihl) return 0;
    if (max_len < ihl + 8) return 0;
    const uint16_t chunk = uint16_t((max_len - ihl) & ~7u);  // payload per fragment, 8-byte units
    const uint16_t payload = uint16_t(len - ihl);
    const uint16_t n = uint16_t((payload + chunk - 1) / chunk);
    if (n > max_out || n < 2) return 0;
    // allocate first, so that failure leaves m untouched
    if (rte_pktmbuf_alloc_bulk(pool, out + 1, n - 1) != 0) return 0;
    const uint8_t* src = ip + ihl;
    for (uint16_t k = 1; k < n; ++k) {
        const uint16_t off = uint16_t(k * chunk);
        const uint16_t plen = uint16_t(k == n - 1 ? payload - off : chunk);
        uint8_t* fip = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(out[k], uint16_t(ihl + plen)));
        std::memcpy(fip, ip, ihl);
        std::memcpy(fip + ihl, src + off, plen);
        finish_header(fip, uint16_t(ihl + plen), uint16_t((k == n - 1 ? 0 : 0x2000) | (off >> 3)));
        out[k]->port = m->port;
        out_ip[k] = fip;
    }
    finish_header(ip, uint16_t(ihl + chunk), 0x2000);
    const uint16_t cut = uint16_t(len - ihl - chunk);
    m->data_len = uint16_t(m->data_len - cut);
    m->pkt_len -= cut;
    out[0] = m;
    out_ip[0] = ip;
    return n;
}

}  // namespace peregrine::dataplane
