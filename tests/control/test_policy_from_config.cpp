// tests/control/test_policy_from_config.cpp - config::CryptoMapEntry -> PolicyConfig.
#include "control/policy_from_config.hpp"
#include "tests/harness/pgtest.hpp"

using namespace peregrine;

PG_TEST(policy_from_config, maps_peers_idle_failback) {
    config::CryptoMapEntry e;
    config::Peer p1;
    p1.host = "10.1.1.1";
    p1.ip = 0x0A010101;
    p1.is_default = true;
    config::Peer p2;
    p2.host = "user2";
    p2.dynamic = true;
    e.peers = {p1, p2};
    e.idle_time = config::IdleTime{120, true, 7};
    config::Failback fb;
    fb.probe_interval_s = 3;
    fb.hold_down_s = 20;
    fb.max_hold_down_s = 300;
    e.failback = fb;
    config::IpsecGlobal g;
    g.idle_time_s = 600;
    const control::PolicyConfig c = control::policy_from_config(e, g);
    CU_ASSERT_EQUAL_FATAL(c.peers.size(), 2u);
    PG_ASSERT_STR_EQ(c.peers[0].host, "10.1.1.1");
    CU_ASSERT_EQUAL(c.peers[0].ip.value(), 0x0A010101u);
    CU_ASSERT_TRUE(c.peers[0].is_default);
    CU_ASSERT_FALSE(c.peers[0].dynamic);
    CU_ASSERT_TRUE(c.peers[1].dynamic);
    CU_ASSERT_FALSE(c.peers[1].ip.has_value());
    CU_ASSERT_EQUAL(c.idle_time->seconds, 120u);
    CU_ASSERT_TRUE(c.idle_time->to_default);
    CU_ASSERT_EQUAL(c.global_idle_s, 600u);
    CU_ASSERT_EQUAL(c.failback->probe_interval_s, 3u);
    CU_ASSERT_EQUAL(c.failback->hold_down_s, 20u);
    CU_ASSERT_EQUAL(c.failback->max_hold_down_s, 300u);
    CU_ASSERT_FALSE(control::validate(c).has_value());
    // no per-map idle time (the loader dropped one equal to the global): global applies
    e.idle_time.reset();
    e.failback.reset();
    const control::PolicyConfig c2 = control::policy_from_config(e, g);
    CU_ASSERT_FALSE(c2.idle_time.has_value());
    CU_ASSERT_FALSE(c2.failback.has_value());
    const auto eff = control::effective_idle(c2);
    CU_ASSERT_TRUE(eff.has_value() && eff->seconds == 600 && !eff->to_default);
}
