// app/options.hpp - command line of the peregrine executable.
//
//   peregrine [EAL options] -- [peregrine options]
//
// As in DPDK applications, everything before "--" goes to rte_eal_init(). When
// there is no "--", every argument is Peregrine's (handy for --check-config).
#pragma once

#include <string>
#include <vector>

namespace peregrine::app {

struct Options {
    std::vector<std::string> eal_args;  // argv[0] first
    std::string config_file;
    bool check_config = false;
    bool version = false;
    bool help = false;
    std::string control_socket;  // CLI socket path (peregrinectl)
    uint32_t idle_sleep_us = 0;  // workers sleep when idle (labs, shared cores); 0 = busy-poll
    std::string error;           // non-empty: bad command line
};

Options parse_options(int argc, const char* const* argv);
const char* usage();

}  // namespace peregrine::app
