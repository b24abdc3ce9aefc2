// tests/fuzz/test_esp_inbound_seeds.cpp - the inbound fuzz target's seed corpus as a
// regression in the unit suites (normal and ASan builds), without libFuzzer: every seed
// file goes through LLVMFuzzerTestOneInput (whose own checks abort on a finding), then
// the counters must show that the corpus still reaches what its files were made for
// (tests/fuzz/gen_esp_inbound_seeds.py names them after it): decryption and forwarding
// on both SAs, and each kind of rejection.
#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_esp_inbound.hpp"
#include "tests/harness/pgtest.hpp"

using peregrine::dataplane::Drop;

namespace {

const std::string kSeeds = std::string(PG_FIXTURES) + "/fuzz/esp_inbound";

std::vector<std::string> seed_files() {
    std::vector<std::string> out;
    if (DIR* d = opendir(kSeeds.c_str())) {
        while (const dirent* e = readdir(d))
            if (e->d_name[0] != '.') out.push_back(kSeeds + "/" + e->d_name);
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<uint8_t> read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

uint64_t drops(const peregrine::dataplane::Stats& s, Drop d) { return s.drops[size_t(d)]; }

int seeds_init() { return LLVMFuzzerInitialize(nullptr, nullptr); }
int seeds_cleanup() {
    pgfuzz::esp_inbound::teardown();
    return 0;
}
PG_SUITE_HOOKS(esp_inbound_seeds, seeds_init, seeds_cleanup);

PG_TEST(esp_inbound_seeds, every_seed_runs_and_the_corpus_reaches_each_path) {
    const auto files = seed_files();
    CU_ASSERT(files.size() >= 20);
    const bool verbose = std::getenv("PG_SEEDS_VERBOSE") != nullptr;  // what each seed does
    for (const auto& f : files) {
        const auto bytes = read_file(f);
        const auto before = pgfuzz::esp_inbound::stats();
        LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
        if (!verbose) continue;
        const auto after = pgfuzz::esp_inbound::stats();
        std::printf("\n  %-32s rx %lu decrypted %lu protected %lu tx %lu punted %lu", f.substr(kSeeds.size() + 1).c_str(),
                    (unsigned long)(after.rx - before.rx), (unsigned long)(after.decrypted_in - before.decrypted_in),
                    (unsigned long)(after.protected_out - before.protected_out),
                    (unsigned long)(after.tx - before.tx), (unsigned long)(after.punted - before.punted));
        for (size_t d = 0; d < peregrine::dataplane::kDropReasons; ++d)
            if (after.drops[d] != before.drops[d])
                std::printf(" %s %lu", peregrine::dataplane::kDropNames[d],
                            (unsigned long)(after.drops[d] - before.drops[d]));
    }
    // Twice: the second pass meets the state the first left (reassembly table, outbound
    // sequence numbers) and must come out the same way per input.
    const auto first = pgfuzz::esp_inbound::stats();
    for (const auto& f : files) {
        const auto bytes = read_file(f);
        LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    }
    const auto st = pgfuzz::esp_inbound::stats();
    std::printf("\n  %zu seeds x 2: rx %lu, decrypted %lu, protected %lu, tx %lu, punted %lu\n",
                files.size(), (unsigned long)st.rx, (unsigned long)st.decrypted_in,
                (unsigned long)st.protected_out, (unsigned long)st.tx, (unsigned long)st.punted);
    for (size_t d = 0; d < peregrine::dataplane::kDropReasons; ++d)
        if (st.drops[d])
            std::printf("  drop %s = %lu\n", peregrine::dataplane::kDropNames[d], (unsigned long)st.drops[d]);
    CU_ASSERT_EQUAL(st.rx, 2 * first.rx);
    CU_ASSERT_EQUAL(st.decrypted_in, 2 * first.decrypted_in);
    CU_ASSERT_EQUAL(st.total_drops(), 2 * first.total_drops());

    // what the seeds were made for
    CU_ASSERT(st.decrypted_in >= 2 * 6);  // valid ESP on both SAs, raw and sealed
    CU_ASSERT(pgfuzz::esp_inbound::frames_out_inside() >= 2 * 6);
    CU_ASSERT(st.protected_out > 0);  // clear text from inside0 encrypted
    CU_ASSERT(pgfuzz::esp_inbound::frames_out_outside() > 0);
    CU_ASSERT(st.punted > 0);         // IKE, keepalive, ARP
    for (Drop d : {Drop::malformed, Drop::not_ipv4, Drop::ttl_exceeded, Drop::no_neighbour,
                   Drop::unknown_spi, Drop::replay, Drop::icv, Drop::bad_esp, Drop::policy,
                   Drop::clear_must_be_protected}) {
        if (drops(st, d) == 0) std::printf("  no seed reached drop %s\n", peregrine::dataplane::kDropNames[size_t(d)]);
        CU_ASSERT(drops(st, d) > 0);
    }
}

}  // namespace
