// tests/dataplane/eal_env.hpp - one EAL per test process, shared by the suites that need
// DPDK memory (rte_acl, rte_lpm). No NICs: --no-huge --no-pci, a per-pid file prefix so
// that parallel runs never share a runtime directory.
#pragma once

namespace pgtest::dataplane {

// CUnit suite-init shape: 0 on success. Idempotent; rte_eal_cleanup runs at exit.
int eal_init_once();

}  // namespace pgtest::dataplane
