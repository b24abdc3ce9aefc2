// tests/dataplane_flow/dpdk_sdk/bus_vdev_driver.h - DPDK 22.11 vdev driver registration
// (driver SDK header, not shipped by Debian; see README.md).
#pragma once

#include <rte_bus_vdev.h>
#include <rte_compat.h>

#include "dev_driver.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rte_vdev_device {
    RTE_TAILQ_ENTRY(rte_vdev_device) next;
    struct rte_device device;
};

typedef int(rte_vdev_probe_t)(struct rte_vdev_device* dev);
typedef int(rte_vdev_remove_t)(struct rte_vdev_device* dev);
typedef int(rte_vdev_dma_map_t)(struct rte_vdev_device* dev, void* addr, uint64_t iova,
                                size_t len);

struct rte_vdev_driver {
    RTE_TAILQ_ENTRY(rte_vdev_driver) next;
    struct rte_driver driver;
    rte_vdev_probe_t* probe;
    rte_vdev_remove_t* remove;
    rte_vdev_dma_map_t* dma_map;
    rte_vdev_dma_map_t* dma_unmap;
    uint32_t drv_flags;
};

__rte_internal void rte_vdev_register(struct rte_vdev_driver* driver);
__rte_internal void rte_vdev_unregister(struct rte_vdev_driver* driver);

#ifdef __cplusplus
}
#endif

// Registers `drv` under `name` before main() (the vdev bus then probes "name<N>,args").
#define RTE_PMD_REGISTER_VDEV(nm, drv)        \
    RTE_INIT(pg_vdev_register_##nm) {         \
        (drv).driver.name = RTE_STR(nm);      \
        rte_vdev_register(&(drv));            \
    }
