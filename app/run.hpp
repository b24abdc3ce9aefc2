// app/run.hpp - run the appliance until SIGINT/SIGTERM.
#pragma once

#include "app/options.hpp"
#include "config/model.hpp"

namespace peregrine::app {

// Returns the process exit code.
int run(const Options& opt, const config::Config& cfg);

}  // namespace peregrine::app
