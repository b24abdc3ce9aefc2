// config/load_ctx.hpp - internal to the loader: diagnostics collection and typed,
// line-aware readers over libconfig++ settings. Not installed, not used outside config/.
//
// Every reader reports problems into a Ctx instead of throwing, so one pass over the
// file yields all of its errors. Messages never contain key material: readers of
// secrets return bytes, and callers only ever print lengths.
#pragma once

#include <libconfig.h++>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.hpp"
#include "config/model.hpp"

namespace peregrine::config::detail {

using libconfig::Setting;

class Ctx {
public:
    explicit Ctx(std::string file) : file_(std::move(file)) {}
    void error(int line, const std::string& where, const std::string& what);
    void warning(int line, const std::string& where, const std::string& what);
    bool has_errors() const;
    std::vector<Diagnostic> take();  // sorted by line (stable)

    // Names declared in the file, valid or not, per kind ("port", "access-list",
    // "transform-set"): a reference to a declared-but-invalid object is not reported
    // a second time as unknown.
    std::map<std::string, std::set<std::string>> declared;
    bool is_declared(const std::string& kind, const std::string& name) const {
        auto it = declared.find(kind);
        return it != declared.end() && it->second.count(name) != 0;
    }

private:
    void add(Diagnostic::Severity sev, int line, const std::string& where, const std::string& what);
    std::string file_;
    std::vector<Diagnostic> diags_;
};

inline int line_of(const Setting& s) { return static_cast<int>(s.getSourceLine()); }
bool is_list(const Setting& s);  // libconfig list "( )" or array "[ ]"
std::optional<int64_t> as_integer(const Setting& s);  // int or int64 settings only
const char* type_name(const Setting& s);

// One libconfig group being read. The constructor reports every child whose name is
// not in `known` ("unknown setting 'idle_time' (did you mean 'idle-time'?)").
class Group {
public:
    Group(Ctx& ctx, const Setting& s, std::string where, std::initializer_list<std::string_view> known);

    const Setting* get(const char* key) const;  // nullptr when absent
    bool has(const char* key) const { return get(key) != nullptr; }
    int line() const { return line_of(s_); }
    int line(const char* key) const;  // the key's line, else the group's
    const std::string& where() const { return where_; }
    void set_where(std::string w) { where_ = std::move(w); }
    Ctx& ctx() const { return ctx_; }

    void error(const char* key, const std::string& what) const { ctx_.error(line(key), where_, what); }
    void warning(const char* key, const std::string& what) const { ctx_.warning(line(key), where_, what); }

    // Typed readers: report "missing required setting", wrong types and ranges.
    std::optional<std::string> string(const char* key, bool required) const;
    std::optional<int64_t> integer(const char* key, bool required, int64_t lo, int64_t hi) const;
    std::optional<bool> boolean(const char* key) const;
    const Setting* list(const char* key, bool required) const;   // list or array
    const Setting* group(const char* key, bool required) const;  // group
    // A string chosen from `choices`; reports the valid spellings otherwise.
    std::optional<std::string> choice(const char* key, bool required,
                                      std::initializer_list<std::string_view> choices) const;

private:
    Ctx& ctx_;
    const Setting& s_;
    std::string where_;
};

// "did you mean" helper: the closest of `candidates` to `word`, or empty.
std::string suggest(std::string_view word, std::initializer_list<std::string_view> candidates);

// Text helpers. Each returns nullopt and fills `why` on failure.
std::optional<Ipv4Prefix> parse_prefix(const std::string& text, std::string& why);  // A.B.C.D/len, host bits kept
bool host_bits_clear(const Ipv4Prefix& p);
Ipv4Prefix network_of(const Ipv4Prefix& p);
std::optional<std::vector<uint8_t>> parse_hex(const std::string& text, std::string& why);
bool valid_hostname(const std::string& text);
bool looks_numeric(const std::string& text);  // only digits and dots: must be an IPv4 address
std::vector<std::string> split_words(const std::string& text);

// Section loaders, in the order loader.cpp runs them.
void load_ports(Ctx& ctx, const Setting& root, Config& cfg);
void load_routes(Ctx& ctx, const Setting& root, Config& cfg);
void load_neighbours(Ctx& ctx, const Setting& root, Config& cfg);
void load_access_lists(Ctx& ctx, const Setting& root, Config& cfg);
void load_transform_sets(Ctx& ctx, const Setting& root, Config& cfg);
void load_ike(Ctx& ctx, const Setting& root, Config& cfg);
void load_ipsec(Ctx& ctx, const Setting& root, Config& cfg);
void load_crypto_maps(Ctx& ctx, const Setting& root, Config& cfg);

// Replay window rule shared by the global and per-entry settings.
bool valid_replay_window(int64_t w);

}  // namespace peregrine::config::detail
