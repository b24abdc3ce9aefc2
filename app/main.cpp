// app/main.cpp - composition root of the peregrine executable.
#include <cstdio>

#include "app/options.hpp"
#include "app/run.hpp"
#include "config/loader.hpp"

#ifndef PEREGRINE_VERSION
#define PEREGRINE_VERSION "unknown"
#endif

namespace {

// Print every diagnostic; return true when the file is valid.
bool report(const peregrine::config::LoadResult& r) {
    for (const auto& d : r.diagnostics) std::fprintf(stderr, "%s\n", d.str().c_str());
    return r.ok();
}

}  // namespace

int main(int argc, char** argv) {
    using namespace peregrine;
    const app::Options opt = app::parse_options(argc, argv);
    if (opt.help) {
        std::fputs(app::usage(), stdout);
        return 0;
    }
    if (opt.version) {
        std::printf("peregrine %s\n", PEREGRINE_VERSION);
        return 0;
    }
    if (!opt.error.empty()) {
        std::fprintf(stderr, "peregrine: %s\n\n%s", opt.error.c_str(), app::usage());
        return 2;
    }
    const config::LoadResult loaded = config::load_file(opt.config_file);
    const bool valid = report(loaded);
    if (opt.check_config) {
        if (!valid) {
            std::fprintf(stderr, "%s: %zu error(s), configuration NOT valid\n",
                         opt.config_file.c_str(), loaded.error_count());
            return 1;
        }
        std::fputs(config::summarize(*loaded.config).c_str(), stdout);
        std::printf("%s: configuration valid\n", opt.config_file.c_str());
        return 0;
    }
    if (!valid) return 1;
    return app::run(opt, *loaded.config);
}
