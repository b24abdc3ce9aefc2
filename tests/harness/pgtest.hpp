// tests/harness/pgtest.hpp - self-registering CUnit test cases.
//
//   PG_TEST(suite, name) { CU_ASSERT_EQUAL(1 + 1, 2); }
//
// Each case registers itself at static-initialisation time (test sources are
// compiled straight into the test executable, so nothing is dropped by the
// linker); pgtest_main.cpp groups them into CUnit suites and runs them.
#pragma once

#include <CUnit/CUnit.h>

#include <string>
#include <vector>

namespace pgtest {

using Fn = void (*)();

struct Case {
    const char* suite;
    const char* name;
    Fn fn;
};

std::vector<Case>& registry();

struct Registrar {
    Registrar(const char* suite, const char* name, Fn fn) { registry().push_back({suite, name, fn}); }
};

// Suite-level setup/teardown (optional), e.g. EAL initialisation for data-plane suites.
struct SuiteHooks {
    const char* suite;
    int (*init)();
    int (*cleanup)();
};
std::vector<SuiteHooks>& hooks();
struct HookRegistrar {
    HookRegistrar(const char* suite, int (*init)(), int (*cleanup)()) {
        hooks().push_back({suite, init, cleanup});
    }
};

}  // namespace pgtest

#define PG_TEST(suite, name)                                                              \
    static void pgtest_##suite##_##name();                                                \
    static const pgtest::Registrar pgtest_reg_##suite##_##name(#suite, #name,             \
                                                               &pgtest_##suite##_##name); \
    static void pgtest_##suite##_##name()

#define PG_SUITE_HOOKS(suite, init_fn, cleanup_fn) \
    static const pgtest::HookRegistrar pgtest_hooks_##suite(#suite, init_fn, cleanup_fn)

// CUnit's CU_ASSERT_STRING_EQUAL on std::string values.
#define PG_ASSERT_STR_EQ(actual, expected) \
    CU_ASSERT_STRING_EQUAL(std::string(actual).c_str(), std::string(expected).c_str())
