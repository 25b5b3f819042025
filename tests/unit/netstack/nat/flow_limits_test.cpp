#include <doctest/doctest.h>
#include <uv.h>

#include <vector>

#include "netstack/nat/flow_limits.hpp"

using namespace usernet;

namespace {
const IpAddress kGuestA = IpAddress::from_v4(make_ipv4(192, 168, 127, 2));
const IpAddress kGuestB = IpAddress::from_v4(make_ipv4(192, 168, 127, 3));

/// A loop for FlowLimits' warning timer, closed after the limits are gone.
struct TestLoop {
  uv_loop_t loop;
  TestLoop() { uv_loop_init(&loop); }
  ~TestLoop() {
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
  }
};
}  // namespace

TEST_CASE("the fd reserve is an eighth of the limit, within 64..1024") {
  CHECK(FdBudget::reserve_for(1024) == 128);
  CHECK(FdBudget::reserve_for(256) == 64);
  CHECK(FdBudget::reserve_for(20000) == 1024);
  FdBudget budget(20000, 30);
  CHECK(budget.for_flows() == 20000 - 1024 - 30);
  CHECK(FdBudget(50, 10).for_flows() == 0);  // a tiny limit leaves flows nothing, not a wrap-around
}

TEST_CASE("default caps still allow 10 000 TCP connections at a hard limit of 20000") {
  TestLoop test_loop;
  {
    uv_loop_t& loop = test_loop.loop;
    FlowLimits limits(&loop, FdBudget(20000, 30), FlowCaps{});
    CHECK(limits.caps().tcp >= 10000);
    CHECK(limits.caps().tcp_per_guest >= 10000);
    CHECK(limits.caps().udp_per_guest <= limits.caps().udp);
  }
}

TEST_CASE("echo flows get their own small cap, one guest a share of it") {
  TestLoop test_loop;
  {
    uv_loop_t& loop = test_loop.loop;
    FlowLimits limits(&loop, FdBudget(1024, 30), FlowCaps{});
    CHECK(limits.caps().icmp == limits.fds().for_flows() / 8);
    CHECK(limits.caps().icmp_per_guest == limits.caps().icmp);
    FlowLimits large(&loop, FdBudget(20000, 30), FlowCaps{});
    CHECK(large.caps().icmp == 1024);
    CHECK(large.caps().icmp_per_guest == 256);
    FlowCaps two;
    two.icmp_per_guest = 2;
    FlowLimits capped(&loop, FdBudget(20000, 30), two);
    FlowRefusal refusal = FlowRefusal::none;
    const IpAddress guest = IpAddress::from_v4(make_ipv4(192, 168, 127, 2));
    FlowSlot a = capped.acquire(FlowKind::icmp, guest, true, refusal);
    FlowSlot b = capped.acquire(FlowKind::icmp, guest, false, refusal);
    CHECK(capped.active(FlowKind::icmp, guest) == 2);
    CHECK_FALSE(capped.acquire(FlowKind::icmp, guest, true, refusal));
    CHECK(refusal == FlowRefusal::guest_limit);
    CHECK(capped.acquire(FlowKind::udp, guest, true, refusal));  // other kinds are not affected
    CHECK(capped.fds().taken() == 1);  // b rode on the raw socket's one fd
  }
}

TEST_CASE("slots count per guest and in total, and give fds back when released") {
  TestLoop test_loop;
  {
    uv_loop_t& loop = test_loop.loop;
    FlowCaps caps;
    caps.tcp = 3;
    caps.tcp_per_guest = 2;
    FlowLimits limits(&loop, FdBudget(1000, 0), caps);
    FlowRefusal why = FlowRefusal::none;
    FlowSlot a1 = limits.acquire(FlowKind::tcp, kGuestA, true, why);
    FlowSlot a2 = limits.acquire(FlowKind::tcp, kGuestA, true, why);
    CHECK(a1);
    CHECK(a2);
    CHECK_FALSE(limits.acquire(FlowKind::tcp, kGuestA, true, why));
    CHECK(why == FlowRefusal::guest_limit);
    FlowSlot b1 = limits.acquire(FlowKind::tcp, kGuestB, true, why);
    CHECK(b1);  // A at its cap does not hurt B
    CHECK_FALSE(limits.acquire(FlowKind::tcp, kGuestB, true, why));
    CHECK(why == FlowRefusal::total_limit);
    CHECK(limits.fds().taken() == 3);
    FlowSlot moved = std::move(a1);
    a2.release();
    CHECK(limits.active(FlowKind::tcp, kGuestA) == 1);
    CHECK(limits.fds().taken() == 2);
    CHECK(limits.acquire(FlowKind::tcp, kGuestA, true, why));  // released at once, then again
    limits.refused(FlowKind::tcp, FlowRefusal::guest_limit, kGuestA);
    CHECK(limits.refusals(FlowKind::tcp, FlowRefusal::guest_limit) == 1);
  }
}

TEST_CASE("out of fds is its own refusal") {
  TestLoop test_loop;
  {
    uv_loop_t& loop = test_loop.loop;
    FlowLimits limits(&loop, FdBudget(66, 0), FlowCaps{});  // reserve 64: two fds for flows
    FlowRefusal why = FlowRefusal::none;
    std::vector<FlowSlot> held;
    for (FlowKind kind : {FlowKind::udp, FlowKind::tcp, FlowKind::tcp})
      if (FlowSlot slot = limits.acquire(kind, kGuestA, true, why)) held.push_back(std::move(slot));
    CHECK(held.size() == 2);
    CHECK(why == FlowRefusal::no_fds);
    CHECK(limits.acquire(FlowKind::half_open, kGuestB, false, why));  // needs no fd
  }
}
