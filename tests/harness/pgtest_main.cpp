// tests/harness/pgtest_main.cpp - runs every registered case through CUnit's basic
// interface and prints CUnit's Run Summary.
//
//   peregrine-unit               run everything
//   peregrine-unit SUITE...      run only the named suites
//   peregrine-unit --list        list suites and cases
#include <CUnit/Basic.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "tests/harness/pgtest.hpp"

namespace pgtest {
std::vector<Case>& registry() {
    static std::vector<Case> r;
    return r;
}
std::vector<SuiteHooks>& hooks() {
    static std::vector<SuiteHooks> h;
    return h;
}
}  // namespace pgtest

int main(int argc, char** argv) {
    std::set<std::string> only;
    bool list = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--list") == 0)
            list = true;
        else
            only.insert(argv[i]);
    }
    // Group by suite, keeping registration (source) order inside a suite.
    std::map<std::string, std::vector<pgtest::Case>> suites;
    for (const auto& c : pgtest::registry())
        if (only.empty() || only.count(c.suite)) suites[c.suite].push_back(c);
    if (list) {
        for (const auto& [s, cases] : suites)
            for (const auto& c : cases) std::printf("%s/%s\n", s.c_str(), c.name);
        return 0;
    }
    if (suites.empty()) {
        std::fprintf(stderr, "no test case matched\n");
        return 2;
    }
    if (CU_initialize_registry() != CUE_SUCCESS) return 2;
    for (const auto& [s, cases] : suites) {
        CU_InitializeFunc init = nullptr;
        CU_CleanupFunc cleanup = nullptr;
        for (const auto& h : pgtest::hooks())
            if (s == h.suite) {
                init = h.init;
                cleanup = h.cleanup;
            }
        CU_pSuite suite = CU_add_suite(s.c_str(), init, cleanup);
        if (!suite) return 2;
        for (const auto& c : cases)
            if (!CU_add_test(suite, c.name, c.fn)) return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    const unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed() +
                            CU_get_number_of_tests_failed();
    const unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    std::printf("\n");
    if (ran == 0) return 3;  // a run that executed nothing is a failure, visibly
    return failed ? 1 : 0;
}
