// tests/dataplane/eal_env.cpp - see eal_env.hpp.
#include "tests/dataplane/eal_env.hpp"

#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <cstdlib>
#include <string>
#include <vector>

namespace pgtest::dataplane {

namespace {
int g_state = 0;  // 0 = not tried, 1 = up, -1 = failed (do not retry: EAL init is once)
std::string g_runtime_dir;

// rte_eal_cleanup leaves the runtime directory (config + fbarray files, ~6 MB with
// --no-huge) behind; remove ours, and only ours.
void eal_teardown() {
    rte_eal_cleanup();
    const std::filesystem::path dir(g_runtime_dir);
    if (dir.filename().string().rfind("pg-dp-test-", 0) == 0) {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
}
}  // namespace

int eal_init_once() {
    if (g_state != 0) return g_state == 1 ? 0 : -1;
    const std::string prefix = "pg-dp-test-" + std::to_string(getpid());
    std::vector<std::string> args = {"peregrine-test-dataplane", "--no-huge", "--no-pci",
                                     "-m", "512", "--file-prefix", prefix,
                                     "--log-level=lib.eal:error", "-l", "0", "--no-telemetry"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
    if (rc < 0) {
        std::fprintf(stderr, "rte_eal_init failed: %s\n", rte_strerror(rte_errno));
        g_state = -1;
        return -1;
    }
    g_runtime_dir = rte_eal_get_runtime_dir();
    std::atexit(eal_teardown);
    g_state = 1;
    return 0;
}

}  // namespace pgtest::dataplane
