// tests/dataplane_flow/dpdk_sdk/ethdev_driver.h - the DPDK 22.11 driver-side ethdev types
// that the test PMD uses (driver SDK header, not shipped by Debian; see README.md).
// Reached through <rte_flow_driver.h>, which Debian does ship and which includes it.
#pragma once

#include <rte_compat.h>
#include <rte_ethdev.h>

#include <stddef.h>

#include "dev_driver.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rte_eth_dev;

// Shared device data, allocated and owned by ethdev: a prefix (up to numa_node) suffices,
// the PMD never allocates or copies it.
struct rte_eth_dev_data {
    char name[RTE_ETH_NAME_MAX_LEN];
    void** rx_queues;
    void** tx_queues;
    uint16_t nb_rx_queues;
    uint16_t nb_tx_queues;
    struct rte_eth_dev_sriov sriov;
    void* dev_private;  // rte_free()d by rte_eth_dev_release_port()
    struct rte_eth_link dev_link;
    struct rte_eth_conf dev_conf;
    uint16_t mtu;
    uint32_t min_rx_buf_size;
    uint64_t rx_mbuf_alloc_failed;
    struct rte_ether_addr* mac_addrs;  // rte_free()d by rte_eth_dev_release_port()
    uint64_t mac_pool_sel[RTE_ETH_NUM_RECEIVE_MAC_ADDR];
    struct rte_ether_addr* hash_mac_addrs;
    uint16_t port_id;
    uint8_t mode_bits;  // promiscuous, scattered_rx, all_multicast, dev_started, lro, ...
    uint8_t rx_queue_state[RTE_MAX_QUEUES_PER_PORT];
    uint8_t tx_queue_state[RTE_MAX_QUEUES_PER_PORT];
    uint32_t dev_flags;
    int numa_node;
    // VLAN filter table, owner, representor ids, flow_ops_mutex follow: not used here.
};

// Per-port slot of the rte_eth_devices[] array (complete: ethdev indexes the array).
struct rte_eth_dev {
    eth_rx_burst_t rx_pkt_burst;
    eth_tx_burst_t tx_pkt_burst;
    eth_tx_prep_t tx_pkt_prepare;
    eth_rx_queue_count_t rx_queue_count;
    eth_rx_descriptor_status_t rx_descriptor_status;
    eth_tx_descriptor_status_t tx_descriptor_status;
    struct rte_eth_dev_data* data;
    void* process_private;
    const struct eth_dev_ops* dev_ops;
    struct rte_device* device;
    struct rte_intr_handle* intr_handle;
    struct rte_eth_dev_cb_list link_intr_cbs;
    struct rte_eth_rxtx_callback* post_rx_burst_cbs[RTE_MAX_QUEUES_PER_PORT];
    struct rte_eth_rxtx_callback* pre_tx_burst_cbs[RTE_MAX_QUEUES_PER_PORT];
    enum rte_eth_dev_state state;
    void* security_ctx;
} __rte_cache_aligned;

typedef int (*eth_dev_op_t)(struct rte_eth_dev* dev);
typedef int (*eth_link_update_t)(struct rte_eth_dev* dev, int wait_to_complete);
typedef int (*eth_dev_infos_get_t)(struct rte_eth_dev* dev, struct rte_eth_dev_info* info);
typedef int (*eth_rx_queue_setup_t)(struct rte_eth_dev* dev, uint16_t rx_queue_id,
                                    uint16_t nb_rx_desc, unsigned int socket_id,
                                    const struct rte_eth_rxconf* rx_conf,
                                    struct rte_mempool* mb_pool);
typedef int (*eth_tx_queue_setup_t)(struct rte_eth_dev* dev, uint16_t tx_queue_id,
                                    uint16_t nb_tx_desc, unsigned int socket_id,
                                    const struct rte_eth_txconf* tx_conf);
typedef void (*eth_queue_release_t)(struct rte_eth_dev* dev, uint16_t queue_id);
typedef int (*eth_stats_get_t)(struct rte_eth_dev* dev, struct rte_eth_stats* stats);
struct rte_flow_ops;
typedef int (*eth_flow_ops_get_t)(struct rte_eth_dev* dev, const struct rte_flow_ops** ops);

// The PMD's operations: 113 slots in 22.11; the ones the test PMD leaves NULL are kept as
// anonymous slots. Slot offsets are asserted below.
struct eth_dev_ops {
    eth_dev_op_t dev_configure;                 // 0x000
    eth_dev_op_t dev_start;                     // 0x008
    eth_dev_op_t dev_stop;                      // 0x010
    void* slot_link_up_down[2];                 // 0x018
    eth_dev_op_t dev_close;                     // 0x028
    void* slot_reset;                           // 0x030
    eth_link_update_t link_update;              // 0x038
    void* slot_0x040[10];                       // is_removed .. mtu_set
    eth_stats_get_t stats_get;                  // 0x090
    void* slot_0x098[5];                        // stats_reset .. queue_stats_mapping_set
    eth_dev_infos_get_t dev_infos_get;          // 0x0c0
    void* slot_0x0c8[16];                       // rxq_info_get .. tx_queue_stop
    eth_rx_queue_setup_t rx_queue_setup;        // 0x148
    eth_queue_release_t rx_queue_release;       // 0x150
    void* slot_rx_intr[2];                      // 0x158
    eth_tx_queue_setup_t tx_queue_setup;        // 0x168
    eth_queue_release_t tx_queue_release;       // 0x170
    void* slot_0x178[23];                       // tx_done_cleanup .. get_module_eeprom
    eth_flow_ops_get_t flow_ops_get;            // 0x230
    void* slot_0x238[42];                       // get_dcb_info .. cman_config_get
    void* slot_spare[8];                        // zero margin
};

#ifdef __cplusplus
#define PG_SDK_ASSERT static_assert
#else
#define PG_SDK_ASSERT _Static_assert
#endif
// Values read from the shipped librte_ethdev.so.23 (see README.md).
PG_SDK_ASSERT(sizeof(struct rte_eth_dev) == 0x4080, "rte_eth_dev size differs from 22.11");
PG_SDK_ASSERT(offsetof(struct rte_eth_dev, data) == 0x30, "rte_eth_dev.data");
PG_SDK_ASSERT(offsetof(struct rte_eth_dev, dev_ops) == 0x40, "rte_eth_dev.dev_ops");
PG_SDK_ASSERT(offsetof(struct rte_eth_dev_data, mtu) == 0x950, "rte_eth_dev_data.mtu");
PG_SDK_ASSERT(offsetof(struct rte_eth_dev_data, mac_addrs) == 0x960, "rte_eth_dev_data.mac_addrs");
PG_SDK_ASSERT(offsetof(struct rte_eth_dev_data, numa_node) == 0x1578, "rte_eth_dev_data.numa_node");
PG_SDK_ASSERT(offsetof(struct eth_dev_ops, dev_infos_get) == 0xc0, "eth_dev_ops.dev_infos_get");
PG_SDK_ASSERT(offsetof(struct eth_dev_ops, rx_queue_setup) == 0x148, "eth_dev_ops.rx_queue_setup");
PG_SDK_ASSERT(offsetof(struct eth_dev_ops, tx_queue_setup) == 0x168, "eth_dev_ops.tx_queue_setup");
PG_SDK_ASSERT(offsetof(struct eth_dev_ops, flow_ops_get) == 0x230, "eth_dev_ops.flow_ops_get");
PG_SDK_ASSERT(sizeof(struct eth_dev_ops) >= 113 * sizeof(void*), "eth_dev_ops too small");
#undef PG_SDK_ASSERT

extern struct rte_eth_dev rte_eth_devices[];

__rte_internal struct rte_eth_dev* rte_eth_dev_allocate(const char* name);
__rte_internal struct rte_eth_dev* rte_eth_dev_allocated(const char* name);
__rte_internal int rte_eth_dev_release_port(struct rte_eth_dev* eth_dev);
__rte_internal void rte_eth_dev_probing_finish(struct rte_eth_dev* dev);

#ifdef __cplusplus
}
#endif
