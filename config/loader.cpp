// config/loader.cpp - entry points: read the text, let libconfig parse it, run the
// section loaders, and hand back the model only when no error was found.
#include "config/loader.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/load_ctx.hpp"

namespace peregrine::config {

std::string Diagnostic::str() const {
    std::string out = file;
    if (line > 0) out += ":" + std::to_string(line);
    out += ": ";
    if (severity == Severity::warning) out += "warning: ";
    return out + message;
}

size_t LoadResult::error_count() const {
    size_t n = 0;
    for (const auto& d : diagnostics) n += d.severity == Diagnostic::Severity::error;
    return n;
}

namespace {

constexpr size_t kMaxFileBytes = 4u << 20;  // a gateway config is kilobytes; refuse megabytes

// Problems libconfig itself cannot be trusted with: a NUL byte would silently cut the
// text short, and @include would make the loader read other files (it has no side
// effects and reads exactly one file). Comments and strings are skipped the way
// libconfig's scanner skips them, so "@include" inside them is harmless.
void prescan(detail::Ctx& ctx, const std::string& text) {
    enum class St { code, string, line_comment, block_comment } st = St::code;
    int line = 1;
    bool nul_reported = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\n') ++line;
        if (c == '\0' && !nul_reported) {
            ctx.error(line, "", "the file contains a NUL byte (is it a text file?)");
            nul_reported = true;
        }
        switch (st) {
            case St::code:
                if (c == '"') st = St::string;
                else if (c == '#' || (c == '/' && i + 1 < text.size() && text[i + 1] == '/')) st = St::line_comment;
                else if (c == '/' && i + 1 < text.size() && text[i + 1] == '*') st = St::block_comment, ++i;
                else if (c == '@' && text.compare(i, 8, "@include") == 0)
                    ctx.error(line, "", "@include is not supported: keep the configuration in one file");
                break;
            case St::string:
                if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') ++i;
                else if (c == '"') st = St::code;
                break;
            case St::line_comment:
                if (c == '\n') st = St::code;
                break;
            case St::block_comment:
                if (c == '*' && i + 1 < text.size() && text[i + 1] == '/') st = St::code, ++i;
                break;
        }
    }
}

LoadResult load(const std::string& text, const std::string& name) {
    detail::Ctx ctx(name);
    LoadResult res;
    try {
        if (text.size() > kMaxFileBytes) {
            ctx.error(0, "", "file too large (" + std::to_string(text.size()) + " bytes, limit " +
                                 std::to_string(kMaxFileBytes) + ")");
        } else {
            prescan(ctx, text);
        }
        if (!ctx.has_errors()) {
            libconfig::Config lc;
            bool parsed = false;
            try {
                lc.readString(text.c_str());
                parsed = true;
            } catch (const libconfig::ParseException& e) {
                ctx.error(e.getLine(), "", e.getError() ? e.getError() : "parse error");
            }
            if (parsed) {
                auto cfg = std::make_shared<Config>();
                cfg->file = name;
                const libconfig::Setting& root = lc.getRoot();
                detail::Group top(ctx, root, "",
                                  {"ports", "routes", "neighbours", "access-lists", "transform-sets", "ike", "ipsec",
                                   "crypto-maps"});
                detail::load_ports(ctx, root, *cfg);
                detail::load_routes(ctx, root, *cfg);
                detail::load_neighbours(ctx, root, *cfg);
                detail::load_access_lists(ctx, root, *cfg);
                detail::load_transform_sets(ctx, root, *cfg);
                detail::load_ike(ctx, root, *cfg);
                detail::load_ipsec(ctx, root, *cfg);
                detail::load_crypto_maps(ctx, root, *cfg);
                if (!ctx.has_errors()) res.config = std::move(cfg);
            }
        }
    } catch (const std::exception& e) {
        // Not expected: every reader checks types first. Never let it escape.
        ctx.error(0, "", std::string("internal error while loading: ") + e.what());
        res.config = nullptr;
    } catch (...) {
        ctx.error(0, "", "internal error while loading");
        res.config = nullptr;
    }
    res.diagnostics = ctx.take();
    return res;
}

}  // namespace

LoadResult load_string(const std::string& text, const std::string& name) { return load(text, name); }

LoadResult load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const int err = errno;
        LoadResult res;
        Diagnostic d;
        d.file = path;
        d.message = std::string("cannot open: ") + std::strerror(err);
        res.diagnostics.push_back(std::move(d));
        return res;
    }
    std::string text;
    char buf[65536];
    while (in.read(buf, sizeof buf) || in.gcount() > 0) {
        text.append(buf, static_cast<size_t>(in.gcount()));
        if (text.size() > kMaxFileBytes) break;  // load() reports the size
    }
    if (in.bad()) {
        LoadResult res;
        Diagnostic d;
        d.file = path;
        d.message = "read error";
        res.diagnostics.push_back(std::move(d));
        return res;
    }
    return load(text, path);
}

}  // namespace peregrine::config
