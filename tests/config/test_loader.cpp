// tests/config/test_loader.cpp - the configuration loader, table-driven over fixture
// files (tests/fixtures/config/), plus model values, examples, summary and robustness.
//
// bad_cases.inc / warn_cases.inc are generated with the fixtures by
// tests/config/gen_fixtures.py: each row names a fixture, the line the error is on
// (marked in the file with "# <-- expected error") and the exact message or a precise
// part of it.
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <string>
#include <vector>

#include "config/loader.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine::config;

// libconfig 1.5's parser does not free the string token it holds when it stops on a
// syntax error (allocated in its scanner: strbuf_append / libconfig_yylex). Under
// -Db_sanitize=address that would be reported at exit for some malformed inputs;
// suppress exactly those libconfig frames (tests/fuzz/fuzz_config.cpp does the same).
extern "C" const char* __lsan_default_suppressions() {
    return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

namespace {

const std::string kFixtures = std::string(PG_FIXTURES) + "/config/";

std::string source_root() {
    if (const char* r = std::getenv("PG_SOURCE_ROOT"); r && *r) return r;
    return std::string(PG_FIXTURES) + "/../..";
}

std::string dump(const LoadResult& r) {
    std::string out;
    for (const auto& d : r.diagnostics) out += "    " + d.str() + "\n";
    return out;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

size_t warning_count(const LoadResult& r) { return r.diagnostics.size() - r.error_count(); }

const Diagnostic* find_diag(const LoadResult& r, Diagnostic::Severity sev, int line, const std::string& msg) {
    for (const auto& d : r.diagnostics)
        if (d.severity == sev && d.line == line && contains(d.message, msg)) return &d;
    return nullptr;
}

struct BadCase {
    const char* file;
    int line;
    const char* message;
    size_t errors;
};
const BadCase kBad[] = {
#include "tests/config/bad_cases.inc"
};

struct WarnCase {
    const char* file;
    int line;
    const char* message;
};
const WarnCase kWarn[] = {
#include "tests/config/warn_cases.inc"
};

const CryptoMapEntry* entry(const Config& c, const std::string& map, uint32_t seq) {
    for (const auto& m : c.crypto_maps)
        if (m.name == map)
            for (const auto& e : m.entries)
                if (e.seq == seq) return &e;
    return nullptr;
}

}  // namespace

// ---- one error per fixture, at the marked line, with the expected message ------------
PG_TEST(config_bad, every_bad_fixture_fails_at_its_line) {
    CU_ASSERT(sizeof kBad / sizeof kBad[0] >= 60);
    for (const auto& c : kBad) {
        const std::string path = kFixtures + c.file;
        const LoadResult r = load_file(path);
        const Diagnostic* d = find_diag(r, Diagnostic::Severity::error, c.line, c.message);
        const bool good = !r.ok() && r.config == nullptr && d && r.error_count() == c.errors;
        if (!good)
            std::printf("\n  %s: want error at line %d: \"%s\" (%zu errors), got:\n%s", c.file, c.line, c.message,
                        c.errors, dump(r).c_str());
        CU_ASSERT(good);
        // str() is FILE:LINE: context: what
        if (d) CU_ASSERT(d->str().rfind(path + ":" + std::to_string(c.line) + ": ", 0) == 0);
    }
}

PG_TEST(config_bad, diagnostics_are_sorted_by_line) {
    for (const auto& c : kBad) {
        const LoadResult r = load_file(kFixtures + c.file);
        for (size_t i = 1; i < r.diagnostics.size(); ++i)
            CU_ASSERT(r.diagnostics[i - 1].line <= r.diagnostics[i].line);
    }
}

PG_TEST(config_bad, messages_never_contain_key_material) {
    // The bad-hex and wrong-length fixtures carry keys; no message may echo them.
    for (const char* f : {"bad/manual_bad_hex.cfg", "bad/manual_cipher_key_length.cfg",
                          "bad/manual_integrity_key_length.cfg", "bad/manual_gcm_salt.cfg"}) {
        const LoadResult r = load_file(kFixtures + f);
        CU_ASSERT(!r.ok());
        for (const auto& d : r.diagnostics) {
            CU_ASSERT(!contains(d.message, "0011223344"));
            CU_ASSERT(!contains(d.message, "0001020304"));
            CU_ASSERT(!contains(d.message, "ffeeddcc"));
        }
    }
}

// ---- warnings: the file still loads ---------------------------------------------------
PG_TEST(config_warn, warning_fixtures_load_with_their_warning) {
    for (const auto& c : kWarn) {
        const LoadResult r = load_file(kFixtures + c.file);
        const Diagnostic* d = find_diag(r, Diagnostic::Severity::warning, c.line, c.message);
        if (!r.ok() || !d)
            std::printf("\n  %s: want warning at line %d: \"%s\", got:\n%s", c.file, c.line, c.message,
                        dump(r).c_str());
        CU_ASSERT(r.ok());
        CU_ASSERT_PTR_NOT_NULL(d);
        CU_ASSERT_EQUAL(r.error_count(), 0u);
        if (d) CU_ASSERT(contains(d->str(), ": warning: "));
    }
}

PG_TEST(config_warn, idle_time_equal_to_global_is_not_added) {
    // Spec: "the crypto map idle-timer value must be different from the global value;
    // otherwise, the idle timer is not added to the crypto map" - nor its `default`.
    const LoadResult r = load_file(kFixtures + "warn/idle_equals_global.cfg");
    CU_ASSERT_FATAL(r.ok());
    const CryptoMapEntry* e = entry(*r.config, "tohub", 1);
    CU_ASSERT_FATAL(e != nullptr);
    CU_ASSERT(!e->idle_time.has_value());
    CU_ASSERT_EQUAL(r.config->ipsec.idle_time_s, 300u);
    const std::string s = summarize(*r.config);
    CU_ASSERT(contains(s, "idle-time: global (300 s)"));
    const std::string want = "warn/idle_equals_global.cfg:46: warning: crypto map 'tohub' seq 1: idle-time equals "
                             "the global idle time (300 s): the idle timer is not added to the crypto map";
    bool found = false;
    for (const auto& d : r.diagnostics) found = found || contains(d.str(), want);
    CU_ASSERT(found);
}

// ---- the good base fixture: model values --------------------------------------------
PG_TEST(config_good, base_fixture_model_values) {
    const LoadResult r = load_file(kFixtures + "good/base.cfg");
    if (!r.ok() || !r.diagnostics.empty()) std::printf("\n%s", dump(r).c_str());
    CU_ASSERT_FATAL(r.ok());
    CU_ASSERT_EQUAL(r.diagnostics.size(), 0u);
    const Config& c = *r.config;
    CU_ASSERT_EQUAL(c.ports.size(), 2u);
    CU_ASSERT_EQUAL(c.ports[0].address, 0xC0000201u);  // 192.0.2.1
    CU_ASSERT_EQUAL(c.ports[0].prefix_len, 24);
    CU_ASSERT(c.ports[1].role == PortRole::outside);
    CU_ASSERT_EQUAL(c.routes.size(), 1u);
    CU_ASSERT_EQUAL(c.routes[0].via, 0xC6336402u);  // 198.51.100.2
    CU_ASSERT_EQUAL(c.access_lists.size(), 2u);
    const AccessList* acl = c.find_access_list("101");
    CU_ASSERT_FATAL(acl != nullptr);
    CU_ASSERT_EQUAL(acl->entries.size(), 2u);
    CU_ASSERT_EQUAL(acl->entries[1].protocol, 6);
    CU_ASSERT_EQUAL(acl->entries[1].source_ports.lo, 1024);
    CU_ASSERT_EQUAL(acl->entries[1].source_ports.hi, 65535);
    CU_ASSERT_EQUAL(acl->entries[1].destination.len, 32);
    CU_ASSERT(acl->entries[1].destination_ports == (PortRange{443, 443}));
    CU_ASSERT(acl->entries[0].source_ports.any());
    CU_ASSERT(c.find_transform_set("gcm128")->integrity == EspIntegrity::none);
    CU_ASSERT(c.find_transform_set("cbc")->integrity == EspIntegrity::hmac_sha256_128);
    CU_ASSERT_EQUAL(c.ike.keys.size(), 2u);
    CU_ASSERT_EQUAL(c.ike.keys[1].secret.size(), 6u);  // secret-hex 0a0b0c0d0e0f
    CU_ASSERT(c.ike.dpd.enabled && c.ike.dpd.mode == DpdMode::periodic);
    CU_ASSERT_EQUAL(c.crypto_maps.size(), 1u);
    const CryptoMap& m = c.crypto_maps[0];
    CU_ASSERT_EQUAL(m.local_address, 0xC6336401u);  // defaults to the port address
    // Entries sorted by seq (seq 20 is first in the file).
    CU_ASSERT_EQUAL_FATAL(m.entries.size(), 2u);
    CU_ASSERT_EQUAL(m.entries[0].seq, 1u);
    CU_ASSERT_EQUAL(m.entries[1].seq, 20u);
    const CryptoMapEntry& e = m.entries[0];
    CU_ASSERT(e.type == EntryType::ipsec_isakmp);
    CU_ASSERT_EQUAL_FATAL(e.peers.size(), 2u);
    PG_ASSERT_STR_EQ(e.peers[0].host, "10.1.1.1");
    PG_ASSERT_STR_EQ(e.peers[1].host, "10.2.2.2");
    CU_ASSERT(e.peers[0].is_default && !e.peers[1].is_default);
    CU_ASSERT(!e.peers[0].dynamic && !e.peers[1].dynamic);
    CU_ASSERT(e.peers[0].ip == std::optional<uint32_t>(0x0A010101u));
    CU_ASSERT(e.default_peer() == &e.peers[0]);
    CU_ASSERT_FATAL(e.idle_time.has_value());
    CU_ASSERT_EQUAL(e.idle_time->seconds, 120u);
    CU_ASSERT(e.idle_time->to_default);
    CU_ASSERT_EQUAL(e.idle_time->line, 46);
    CU_ASSERT(e.pfs_group == std::optional<int>(19));
    CU_ASSERT_FATAL(e.failback.has_value());
    CU_ASSERT_EQUAL(e.failback->hold_down_s, 30u);
    CU_ASSERT_EQUAL(e.line, 41);
    CU_ASSERT_EQUAL(e.peers[1].line, 43);
    const CryptoMapEntry& man = m.entries[1];
    CU_ASSERT(man.type == EntryType::ipsec_manual);
    CU_ASSERT_FATAL(man.inbound.has_value() && man.outbound.has_value());
    CU_ASSERT_EQUAL(man.inbound->spi, 0x1001u);
    CU_ASSERT_EQUAL(man.outbound->spi, 0x2001u);
    CU_ASSERT_EQUAL(man.inbound->cipher_key.size(), 16u);
    CU_ASSERT_EQUAL(man.inbound->integrity_key.size(), 32u);
    CU_ASSERT_EQUAL(man.inbound->cipher_key.bytes()[1], 0x11);
    CU_ASSERT(!man.idle_time.has_value());
}

PG_TEST(config_good, load_string_names_the_file) {
    const LoadResult r = load_string("ports = ( { name = \"a\"; device = \"d\"; role = \"inside\";\n"
                                     "  address = \"192.0.2.1/24\"; mtu = 1; } );\n",
                                     "inline.cfg");
    CU_ASSERT(!r.ok());
    CU_ASSERT_EQUAL_FATAL(r.diagnostics.size(), 1u);
    PG_ASSERT_STR_EQ(r.diagnostics[0].str(), "inline.cfg:2: port 'a': 'mtu' must be 576 to 9000 (got 1)");
}

PG_TEST(config_good, idle_time_forms_and_no_global) {
    // Integer form, no `default`, no global timer: the timer is added as is.
    std::string text;
    {
        std::FILE* f = std::fopen((kFixtures + "good/base.cfg").c_str(), "rb");
        CU_ASSERT_FATAL(f != nullptr);
        char buf[4096];
        size_t n;
        while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
        std::fclose(f);
    }
    auto replace = [&](const std::string& from, const std::string& to) {
        const auto at = text.find(from);
        CU_ASSERT_FATAL(at != std::string::npos);
        text.replace(at, from.size(), to);
    };
    replace("idle-time = 300; ", "");
    replace("idle-time = \"120 default\";", "idle-time = 300;");
    const LoadResult r = load_string(text, "x.cfg");
    if (!r.ok()) std::printf("\n%s", dump(r).c_str());
    CU_ASSERT_FATAL(r.ok());
    const CryptoMapEntry* e = entry(*r.config, "tohub", 1);
    CU_ASSERT_FATAL(e && e->idle_time);
    CU_ASSERT_EQUAL(e->idle_time->seconds, 300u);
    CU_ASSERT(!e->idle_time->to_default);
    CU_ASSERT(contains(summarize(*r.config), "    idle-time 300 s\n"));
}

PG_TEST(config_good, static_neighbours_both_mac_forms) {
    const LoadResult r = load_string(
        "ports = ( { name = \"o\"; device = \"d\"; role = \"outside\"; address = \"198.51.100.1/24\"; } );\n"
        "neighbours = ( { address = \"198.51.100.2\"; mac = \"02:00:0A:0b:00:02\"; port = \"o\"; },\n"
        "               { address = \"198.51.100.3\"; mac = \"0200.0000.0003\"; port = \"o\"; },\n"
        "               { address = \"203.0.113.1\"; mac = \"02-00-00-00-00-04\"; port = \"o\"; } );\n",
        "n.cfg");
    if (!r.ok()) std::printf("\n%s", dump(r).c_str());
    CU_ASSERT_FATAL(r.ok());
    CU_ASSERT_EQUAL_FATAL(r.config->neighbours.size(), 3u);
    const uint8_t want0[6] = {0x02, 0x00, 0x0a, 0x0b, 0x00, 0x02};
    CU_ASSERT(std::memcmp(r.config->neighbours[0].mac, want0, 6) == 0);
    CU_ASSERT_EQUAL(r.config->neighbours[1].mac[5], 0x03);
    CU_ASSERT_EQUAL(r.config->neighbours[1].line, 3);
    // off the port's network: loaded, with a warning naming the line
    CU_ASSERT_EQUAL_FATAL(r.diagnostics.size(), 1u);
    PG_ASSERT_STR_EQ(r.diagnostics[0].str(),
                     "n.cfg:4: warning: neighbour 203.0.113.1: neighbour 203.0.113.1 is not on the network of "
                     "port 'o' (198.51.100.0/24)");
    CU_ASSERT(contains(summarize(*r.config), "neighbour 198.51.100.2 mac 02:00:0a:0b:00:02 port o (static)\n"));
}

// ---- several errors in one file: all of them, in line order --------------------------
PG_TEST(config_multi, all_errors_of_a_file_are_reported) {
    const LoadResult r = load_file(kFixtures + "several_errors.cfg");
    CU_ASSERT(!r.ok());
    struct Want {
        int line;
        const char* msg;
    } want[] = {
        {4, "port 'inside0': 'mtu' must be 576 to 9000 (got 100)"},
        {9, "access-list '101' entry 1: 'action' must be one of permit, deny (got 'allow')"},
        {12, "transform-set 'cbc': aes-cbc-128 requires 'integrity'"},
        {20, "crypto map 'tohub' seq 1: unknown transform-set 'gcm'"},
        {22, "crypto map 'tohub' seq 1: peer 2 '10.2.2.2': the default peer must be the first peer in the peer list"},
        {23, "crypto map 'tohub' seq 1: idle-time must be 60 to 86400 seconds (got 30)"},
        {24, "crypto map 'tohub' seq 1: unknown setting 'idle_time' (did you mean 'idle-time'?)"},
    };
    CU_ASSERT_EQUAL(r.error_count(), sizeof want / sizeof want[0]);
    for (const auto& w : want) {
        const bool hit = find_diag(r, Diagnostic::Severity::error, w.line, w.msg) != nullptr;
        if (!hit) std::printf("\n  missing line %d \"%s\" in:\n%s", w.line, w.msg, dump(r).c_str());
        CU_ASSERT(hit);
    }
    std::vector<int> lines;
    for (const auto& d : r.diagnostics)
        if (d.severity == Diagnostic::Severity::error) lines.push_back(d.line);
    CU_ASSERT((lines == std::vector<int>{4, 9, 12, 20, 22, 23, 24}));
}

// ---- the shipped examples ----------------------------------------------------------
PG_TEST(config_examples, all_examples_load_clean) {
    for (const char* f : {"tohub.cfg", "mymap.cfg", "dynamic.cfg", "manual.cfg"}) {
        const LoadResult r = load_file(source_root() + "/examples/" + f);
        if (!r.ok() || !r.diagnostics.empty()) std::printf("\n  examples/%s:\n%s", f, dump(r).c_str());
        CU_ASSERT(r.ok());
        CU_ASSERT_EQUAL(r.error_count(), 0u);
        CU_ASSERT_EQUAL(warning_count(r), 0u);
    }
}

PG_TEST(config_examples, tohub_is_the_spec_example) {
    const LoadResult r = load_file(source_root() + "/examples/tohub.cfg");
    CU_ASSERT_FATAL(r.ok());
    const CryptoMapEntry* e = entry(*r.config, "tohub", 1);
    CU_ASSERT_FATAL(e != nullptr);
    CU_ASSERT_EQUAL_FATAL(e->peers.size(), 2u);
    PG_ASSERT_STR_EQ(e->peers[0].host, "10.1.1.1");
    CU_ASSERT(e->peers[0].is_default);
    PG_ASSERT_STR_EQ(e->peers[1].host, "10.2.2.2");
    CU_ASSERT(!e->peers[1].is_default);
    CU_ASSERT_FATAL(e->idle_time.has_value());
    CU_ASSERT_EQUAL(e->idle_time->seconds, 120u);
    CU_ASSERT(e->idle_time->to_default);
    const std::string s = summarize(*r.config);
    CU_ASSERT(contains(s, "crypto map tohub (interface outside0, local address 198.51.100.1)\n"
                          "  seq 1 ipsec-isakmp  match address 101  transform-sets gcm128\n"
                          "    peer 1: 10.1.1.1 (default)\n"
                          "    peer 2: 10.2.2.2\n"
                          "    idle-time 120 s, then the default peer\n"));
}

PG_TEST(config_examples, mymap_and_dynamic_peers) {
    const LoadResult r = load_file(source_root() + "/examples/mymap.cfg");
    CU_ASSERT_FATAL(r.ok());
    const CryptoMapEntry* e = entry(*r.config, "mymap", 10);
    CU_ASSERT_FATAL(e != nullptr);
    CU_ASSERT_EQUAL_FATAL(e->peers.size(), 2u);
    PG_ASSERT_STR_EQ(e->peers[0].host, "10.0.0.1");
    PG_ASSERT_STR_EQ(e->peers[1].host, "10.0.0.2");
    CU_ASSERT(e->default_peer() == nullptr);
    PG_ASSERT_STR_EQ(e->match_address, "101");
    PG_ASSERT_STR_EQ(e->transform_sets.at(0), "my_t_set1");
    CU_ASSERT(contains(summarize(*r.config), "    idle-time: global (600 s)\n"));

    const LoadResult d = load_file(source_root() + "/examples/dynamic.cfg");
    CU_ASSERT_FATAL(d.ok());
    const CryptoMapEntry* b = entry(*d.config, "secure_b", 10);
    CU_ASSERT_FATAL(b && b->peers.size() == 1);
    PG_ASSERT_STR_EQ(b->peers[0].host, "b.cisco.com");
    CU_ASSERT(b->peers[0].dynamic && b->peers[0].is_hostname() && !b->peers[0].is_default);
    PG_ASSERT_STR_EQ(b->match_address, "140");
    const CryptoMapEntry* h = entry(*d.config, "tohub", 2);
    CU_ASSERT_FATAL(h && h->peers.size() == 2);
    PG_ASSERT_STR_EQ(h->peers[0].host, "user1");
    CU_ASSERT(h->peers[0].dynamic && h->peers[0].is_default);
    PG_ASSERT_STR_EQ(h->peers[1].host, "user2");
    CU_ASSERT(h->peers[1].dynamic && !h->peers[1].is_default);
    const std::string s = summarize(*d.config);
    CU_ASSERT(contains(s, "    peer 1: b.cisco.com (dynamic, resolved before each negotiation)\n"));
    CU_ASSERT(contains(s, "    peer 1: user1 (default, dynamic, resolved before each negotiation)\n"
                          "    peer 2: user2 (dynamic, resolved before each negotiation)\n"));
    CU_ASSERT(contains(s, "failback"));
}

PG_TEST(config_examples, manual_summary_hides_keys) {
    const LoadResult r = load_file(source_root() + "/examples/manual.cfg");
    CU_ASSERT_FATAL(r.ok());
    const CryptoMapEntry* e = entry(*r.config, "manual", 20);
    CU_ASSERT_FATAL(e && e->inbound && e->outbound);
    CU_ASSERT(e->type == EntryType::ipsec_manual);
    CU_ASSERT_EQUAL(e->inbound->cipher_key.size(), 16u);
    const std::string s = summarize(*r.config);
    CU_ASSERT(contains(s, "keys: configured"));
    CU_ASSERT(!contains(s, "00112233"));
    CU_ASSERT(!contains(s, "ffeeddcc"));
    CU_ASSERT(!contains(s, "1f1e1d1c"));
    const LoadResult t = load_file(source_root() + "/examples/tohub.cfg");
    CU_ASSERT_FATAL(t.ok());
    CU_ASSERT(!contains(summarize(*t.config), "example-only"));
}

// ---- robustness: never throw, never crash ---------------------------------------------
PG_TEST(config_robust, empty_garbage_and_binary_input) {
    const LoadResult empty = load_string("", "empty.cfg");
    CU_ASSERT(!empty.ok());
    CU_ASSERT_EQUAL_FATAL(empty.diagnostics.size(), 1u);
    PG_ASSERT_STR_EQ(empty.diagnostics[0].str(), "empty.cfg: missing required setting 'ports' (at least one port)");

    const LoadResult garbage = load_string("this is { not ( a config", "g.cfg");
    CU_ASSERT(!garbage.ok());
    CU_ASSERT(garbage.error_count() >= 1);

    std::string binary;
    for (int i = 0; i < 4096; ++i) binary.push_back(static_cast<char>((i * 131 + 7) & 0xff));
    const LoadResult bin = load_string(binary, "b.cfg");
    CU_ASSERT(!bin.ok());
    CU_ASSERT(bin.error_count() >= 1);

    const LoadResult nul = load_string(std::string("ports = ();\n\0x", 14), "n.cfg");
    CU_ASSERT(!nul.ok());
    CU_ASSERT_PTR_NOT_NULL(find_diag(nul, Diagnostic::Severity::error, 2, "NUL byte"));

    const LoadResult deep = load_string(std::string(20000, '(') , "d.cfg");
    CU_ASSERT(!deep.ok());

    const LoadResult types = load_string("ports = 5; routes = \"x\"; ike = (); ipsec = 1; crypto-maps = {};\n"
                                         "access-lists = ( 1, \"a\" ); transform-sets = [ 1 ];\n", "t.cfg");
    CU_ASSERT(!types.ok());
    CU_ASSERT(types.error_count() >= 7);

    const LoadResult missing = load_file(kFixtures + "does-not-exist.cfg");
    CU_ASSERT(!missing.ok());
    CU_ASSERT_EQUAL_FATAL(missing.diagnostics.size(), 1u);
    CU_ASSERT(contains(missing.diagnostics[0].str(), "does-not-exist.cfg: cannot open: "));
}

PG_TEST(config_robust, every_prefix_of_the_base_fixture) {
    // Truncations hit every parser and loader state; none may crash or throw.
    std::string text;
    std::FILE* f = std::fopen((kFixtures + "good/base.cfg").c_str(), "rb");
    CU_ASSERT_FATAL(f != nullptr);
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    std::fclose(f);
    size_t failed = 0;
    for (size_t len = 0; len < text.size(); len += 7) {
        const LoadResult r = load_string(text.substr(0, len), "p.cfg");
        failed += !r.ok();
        for (const auto& d : r.diagnostics) CU_ASSERT(d.line >= 0);
    }
    CU_ASSERT(failed > 0);
    CU_ASSERT(load_string(text, "p.cfg").ok());
}
