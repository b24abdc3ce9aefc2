// config/load_ctx.cpp - diagnostics collection and typed setting readers.
#include "config/load_ctx.hpp"

#include <algorithm>
#include <cctype>

namespace peregrine::config::detail {

void Ctx::add(Diagnostic::Severity sev, int line, const std::string& where, const std::string& what) {
    Diagnostic d;
    d.severity = sev;
    d.file = file_;
    d.line = line;
    d.message = where.empty() ? what : where + ": " + what;
    diags_.push_back(std::move(d));
}
void Ctx::error(int line, const std::string& where, const std::string& what) {
    add(Diagnostic::Severity::error, line, where, what);
}
void Ctx::warning(int line, const std::string& where, const std::string& what) {
    add(Diagnostic::Severity::warning, line, where, what);
}
bool Ctx::has_errors() const {
    return std::any_of(diags_.begin(), diags_.end(),
                       [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::error; });
}
std::vector<Diagnostic> Ctx::take() {
    std::stable_sort(diags_.begin(), diags_.end(),
                     [](const Diagnostic& a, const Diagnostic& b) { return a.line < b.line; });
    return std::move(diags_);
}

bool is_list(const Setting& s) { return s.isList() || s.isArray(); }

std::optional<int64_t> as_integer(const Setting& s) {
    if (s.getType() == Setting::TypeInt) return static_cast<int64_t>(static_cast<int>(s));
    if (s.getType() == Setting::TypeInt64) return static_cast<int64_t>(static_cast<long long>(s));
    return std::nullopt;
}

const char* type_name(const Setting& s) {
    switch (s.getType()) {
        case Setting::TypeInt:
        case Setting::TypeInt64: return "an integer";
        case Setting::TypeFloat: return "a float";
        case Setting::TypeString: return "a string";
        case Setting::TypeBoolean: return "a boolean";
        case Setting::TypeGroup: return "a group";
        case Setting::TypeArray: return "an array";
        case Setting::TypeList: return "a list";
        default: return "nothing";
    }
}

static size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t sub = prev[j - 1] + (std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                                      std::tolower(static_cast<unsigned char>(b[j - 1]))
                                                  ? 0
                                                  : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

std::string suggest(std::string_view word, std::initializer_list<std::string_view> candidates) {
    if (word.size() > 64) return {};
    std::string_view best;
    size_t best_d = 3;  // at most two edits away
    for (auto c : candidates) {
        const size_t d = edit_distance(word, c);
        if (d < best_d && d < std::max<size_t>(c.size(), 2)) {
            best_d = d;
            best = c;
        }
    }
    return std::string(best);
}

Group::Group(Ctx& ctx, const Setting& s, std::string where, std::initializer_list<std::string_view> known)
    : ctx_(ctx), s_(s), where_(std::move(where)) {
    for (int i = 0; i < s_.getLength(); ++i) {
        const Setting& child = s_[i];
        const char* n = child.getName();
        const std::string_view name = n ? n : "";
        if (std::find(known.begin(), known.end(), name) != known.end()) continue;
        std::string msg = "unknown setting '" + std::string(name) + "'";
        if (auto s = suggest(name, known); !s.empty()) msg += " (did you mean '" + s + "'?)";
        ctx_.error(line_of(child), where_, msg);
    }
}

const Setting* Group::get(const char* key) const {
    // Setting::exists/operator[] on a group; no exceptions escape.
    if (!s_.exists(key)) return nullptr;
    return &s_[key];
}

int Group::line(const char* key) const {
    const Setting* s = get(key);
    return s ? line_of(*s) : line();
}

std::optional<std::string> Group::string(const char* key, bool required) const {
    const Setting* s = get(key);
    if (!s) {
        if (required) ctx_.error(line(), where_, std::string("missing required setting '") + key + "'");
        return std::nullopt;
    }
    if (s->getType() != Setting::TypeString) {
        ctx_.error(line_of(*s), where_,
                   std::string("'") + key + "' must be a string, not " + type_name(*s));
        return std::nullopt;
    }
    return std::string(static_cast<const char*>(*s));
}

std::optional<int64_t> Group::integer(const char* key, bool required, int64_t lo, int64_t hi) const {
    const Setting* s = get(key);
    if (!s) {
        if (required) ctx_.error(line(), where_, std::string("missing required setting '") + key + "'");
        return std::nullopt;
    }
    auto v = as_integer(*s);
    if (!v) {
        ctx_.error(line_of(*s), where_,
                   std::string("'") + key + "' must be an integer, not " + type_name(*s));
        return std::nullopt;
    }
    if (*v < lo || *v > hi) {
        ctx_.error(line_of(*s), where_,
                   std::string("'") + key + "' must be " + std::to_string(lo) + " to " +
                       std::to_string(hi) + " (got " + std::to_string(*v) + ")");
        return std::nullopt;
    }
    return v;
}

std::optional<bool> Group::boolean(const char* key) const {
    const Setting* s = get(key);
    if (!s) return std::nullopt;
    if (s->getType() != Setting::TypeBoolean) {
        ctx_.error(line_of(*s), where_,
                   std::string("'") + key + "' must be true or false, not " + type_name(*s));
        return std::nullopt;
    }
    return static_cast<bool>(*s);
}

const Setting* Group::list(const char* key, bool required) const {
    const Setting* s = get(key);
    if (!s) {
        if (required) ctx_.error(line(), where_, std::string("missing required setting '") + key + "'");
        return nullptr;
    }
    if (!is_list(*s)) {
        ctx_.error(line_of(*s), where_,
                   std::string("'") + key + "' must be a list ( ... ) or array [ ... ], not " + type_name(*s));
        return nullptr;
    }
    return s;
}

const Setting* Group::group(const char* key, bool required) const {
    const Setting* s = get(key);
    if (!s) {
        if (required) ctx_.error(line(), where_, std::string("missing required setting '") + key + "'");
        return nullptr;
    }
    if (!s->isGroup()) {
        ctx_.error(line_of(*s), where_,
                   std::string("'") + key + "' must be a group { ... }, not " + type_name(*s));
        return nullptr;
    }
    return s;
}

std::optional<std::string> Group::choice(const char* key, bool required,
                                         std::initializer_list<std::string_view> choices) const {
    auto v = string(key, required);
    if (!v) return std::nullopt;
    if (std::find(choices.begin(), choices.end(), *v) != choices.end()) return v;
    std::string all;
    for (auto c : choices) all += (all.empty() ? "" : ", ") + std::string(c);
    std::string msg = "'" + std::string(key) + "' must be one of " + all + " (got '" + *v + "')";
    ctx_.error(line(key), where_, msg);
    return std::nullopt;
}

std::optional<Ipv4Prefix> parse_prefix(const std::string& text, std::string& why) {
    const auto slash = text.find('/');
    if (slash == std::string::npos) {
        why = "'" + text + "' is not a prefix (expected A.B.C.D/LEN)";
        return std::nullopt;
    }
    auto addr = parse_ipv4(text.substr(0, slash));
    const std::string len = text.substr(slash + 1);
    if (!addr) {
        why = "'" + text + "' has an invalid address";
        return std::nullopt;
    }
    if (len.empty() || len.size() > 2 || !std::all_of(len.begin(), len.end(), [](char c) {
            return c >= '0' && c <= '9';
        }) || std::stoi(len) > 32) {
        why = "'" + text + "' has an invalid prefix length (expected 0 to 32)";
        return std::nullopt;
    }
    return Ipv4Prefix{*addr, static_cast<uint8_t>(std::stoi(len))};
}

Ipv4Prefix network_of(const Ipv4Prefix& p) {
    const uint32_t mask = p.len == 0 ? 0 : ~uint32_t{0} << (32 - p.len);
    return Ipv4Prefix{p.addr & mask, p.len};
}

bool host_bits_clear(const Ipv4Prefix& p) { return network_of(p).addr == p.addr; }

std::optional<std::vector<uint8_t>> parse_hex(const std::string& text, std::string& why) {
    std::string_view t = text;
    if (t.size() >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X')) t.remove_prefix(2);
    if (t.empty()) {
        why = "is empty";
        return std::nullopt;
    }
    if (t.size() % 2) {
        why = "is not valid hex (odd number of digits)";
        return std::nullopt;
    }
    std::vector<uint8_t> out;
    out.reserve(t.size() / 2);
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (size_t i = 0; i < t.size(); i += 2) {
        const int hi = nib(t[i]), lo = nib(t[i + 1]);
        if (hi < 0 || lo < 0) {
            // The position only: the digits themselves are key material.
            why = "is not valid hex (bad digit at position " + std::to_string(i + (hi < 0 ? 1 : 2)) + ")";
            // wipe what was decoded so far
            volatile uint8_t* p = out.data();
            for (size_t k = 0; k < out.size(); ++k) p[k] = 0;
            return std::nullopt;
        }
        out.push_back(static_cast<uint8_t>(hi << 4 | lo));
    }
    return out;
}

bool looks_numeric(const std::string& text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// RFC 1123 host name: dot-separated labels of letters, digits and hyphens, each 1..63
// characters, not starting or ending with a hyphen, 253 characters at most.
bool valid_hostname(const std::string& text) {
    if (text.empty() || text.size() > 253 || looks_numeric(text)) return false;
    size_t label = 0;
    char prev = '.';
    for (char c : text) {
        if (c == '.') {
            if (label == 0 || prev == '-') return false;
            label = 0;
        } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') {
            if (label == 0 && c == '-') return false;
            if (++label > 63) return false;
        } else {
            return false;
        }
        prev = c;
    }
    return label > 0 && prev != '-';
}

std::vector<std::string> split_words(const std::string& text) {
    std::vector<std::string> out;
    std::string cur;
    for (char c : text) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            if (!cur.empty()) out.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) out.push_back(std::move(cur));
    return out;
}

bool valid_replay_window(int64_t w) { return w >= 64 && w <= 4096 && w % 64 == 0; }

}  // namespace peregrine::config::detail
