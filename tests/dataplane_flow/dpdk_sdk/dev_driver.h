// tests/dataplane_flow/dpdk_sdk/dev_driver.h - DPDK 22.11 generic driver/device types
// (driver SDK header, not shipped by Debian; see README.md).
#pragma once

#include <rte_common.h>
#include <rte_dev.h>
#include <rte_version.h>

static_assert(RTE_VER_YEAR == 22 && RTE_VER_MONTH == 11,
              "dpdk_sdk/ declares DPDK 22.11 layouts: install DPDK's own driver-SDK headers "
              "(meson -Denable_driver_sdk=true) for another DPDK version");

// A driver, as buses list them.
struct rte_driver {
    RTE_TAILQ_ENTRY(rte_driver) next;
    const char* name;
    const char* alias;
};

// A device found by a bus (22.11 layout; read through rte_dev_name() and friends).
struct rte_device {
    RTE_TAILQ_ENTRY(rte_device) next;
    const char* name;
    const char* bus_info;
    const struct rte_driver* driver;
    const struct rte_bus* bus;
    int numa_node;
    struct rte_devargs* devargs;
};
