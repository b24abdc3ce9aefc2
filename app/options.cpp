// app/options.cpp - command-line parsing (no EAL, no side effects).
#include "app/options.hpp"

#include <cstdlib>
#include <cstring>

namespace peregrine::app {

const char* usage() {
    return "usage: peregrine [EAL options] -- -f FILE [options]\n"
           "       peregrine --check-config -f FILE\n"
           "\n"
           "Peregrine options (after \"--\"; without \"--\" all options are Peregrine's):\n"
           "  -f, --config FILE     libconfig configuration file (see docs/CONFIG.md)\n"
           "      --check-config    validate FILE, print a summary, exit 0 (valid) or 1;\n"
           "                        does not initialise EAL or touch hugepages\n"
           "  -s, --socket PATH     control socket for peregrinectl\n"
           "                        (default /run/peregrine/<file-prefix>.sock)\n"
           "      --idle-sleep US   idle workers sleep US microseconds per empty poll\n"
           "                        (labs and shared machines; default 0: busy-poll)\n"
           "      --version         print the version and exit\n"
           "  -h, --help            this text\n"
           "\n"
           "EAL options (before \"--\") are DPDK's, e.g. -l 0,1 --no-huge -m 512 --vdev ...\n";
}

Options parse_options(int argc, const char* const* argv) {
    Options o;
    o.eal_args.push_back(argc > 0 && argv[0] ? argv[0] : "peregrine");
    int first = 1;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            for (int j = 1; j < i; ++j) o.eal_args.push_back(argv[j]);
            first = i + 1;
            break;
        }
    }
    for (int i = first; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&](const char* what) -> std::string {
            if (i + 1 >= argc) {
                o.error = std::string("option ") + a + " needs " + what;
                return {};
            }
            return argv[++i];
        };
        if (a == "-f" || a == "--config") {
            o.config_file = value("a FILE");
        } else if (a.rfind("--config=", 0) == 0) {
            o.config_file = a.substr(9);
        } else if (a == "--check-config") {
            o.check_config = true;
        } else if (a == "-s" || a == "--socket") {
            o.control_socket = value("a PATH");
        } else if (a == "--idle-sleep") {
            const std::string v = value("microseconds");
            char* end = nullptr;
            const unsigned long us = std::strtoul(v.c_str(), &end, 10);
            if (v.empty() || *end || us > 100000) o.error = "--idle-sleep needs 0..100000 microseconds";
            else o.idle_sleep_us = uint32_t(us);
        } else if (a == "--version") {
            o.version = true;
        } else if (a == "-h" || a == "--help") {
            o.help = true;
        } else {
            o.error = "unknown option '" + a + "'";
        }
        if (!o.error.empty()) return o;
    }
    if (!o.help && !o.version && o.config_file.empty()) o.error = "no configuration file (-f FILE)";
    return o;
}

}  // namespace peregrine::app
