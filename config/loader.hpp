// config/loader.hpp - libconfig text -> validated Config, with file:line diagnostics.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "config/model.hpp"

namespace peregrine::config {

struct Diagnostic {
    enum class Severity { error, warning };
    Severity severity = Severity::error;
    std::string file;
    int line = 0;          // 0 when the problem has no single line (e.g. empty file)
    std::string message;   // e.g. "crypto map 'tohub' seq 1: only the first peer can be the default"

    // "FILE:LINE: message" for errors, "FILE:LINE: warning: message" for warnings.
    std::string str() const;
};

struct LoadResult {
    std::shared_ptr<const Config> config;  // null when any error was found
    std::vector<Diagnostic> diagnostics;   // all errors and warnings of the file, in line order
    bool ok() const { return config != nullptr; }
    size_t error_count() const;
};

// Parse and validate. `name` is what diagnostics print as FILE. Never throws,
// never crashes on any input.
LoadResult load_file(const std::string& path);
LoadResult load_string(const std::string& text, const std::string& name = "<string>");

// Human summary for `peregrine --check-config`: ports, routes, ACLs, transform
// sets, IKE, and every crypto map entry with its peers in order (default marked,
// dynamic marked) and its effective idle timer. Never prints key material.
std::string summarize(const Config& cfg);

}  // namespace peregrine::config
