#include <doctest/doctest.h>

#include <set>

#include "netstack/api/slirp4netns_api.hpp"

using namespace usernet;

namespace {
/// A backend that records what is open; `refuse` makes the next add fail (a port in use).
struct FakeForwards {
  std::set<std::string> open;
  bool refuse = false;
  HostForwardBackend backend() {
    return {[this](const ForwardSpec& spec) -> Status {
              if (refuse || open.contains(spec.protocol_name() + " " + spec.local())) return Error{"address in use"};
              open.insert(spec.protocol_name() + " " + spec.local());
              return {};
            },
            [this](const ForwardSpec& spec) { open.erase(spec.protocol_name() + " " + spec.local()); }};
  }
};
const Ipv4 kGuest = make_ipv4(10, 0, 2, 100);
}  // namespace

TEST_CASE("add, list and remove host forwards in slirp4netns's replies") {
  FakeForwards forwards;
  Slirp4netnsApi api(forwards.backend(), kGuest);
  // podman's exact request: guest_addr "" and a trailing newline.
  CHECK(api.answer(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,)"
                   R"("guest_addr":"","guest_port":80}})"
                   "\n") == R"({"return":{"id":1}})");
  CHECK(forwards.open.contains("tcp 0.0.0.0:8080"));
  CHECK(api.answer(R"({"execute":"add_hostfwd","arguments":{"proto":"udp","host_port":5353,"guest_addr":"10.0.2.5","guest_port":53}})") ==
        R"({"return":{"id":2}})");
  CHECK(api.answer(R"({"execute":"list_hostfwd"})") ==
        R"({"entries":[{"id":1,"proto":"tcp","host_addr":"0.0.0.0","host_port":8080,"guest_addr":"10.0.2.100","guest_port":80},)"
        R"({"id":2,"proto":"udp","host_addr":"0.0.0.0","host_port":5353,"guest_addr":"10.0.2.5","guest_port":53}]})");
  CHECK(api.answer(R"({"execute":"remove_hostfwd","arguments":{"id":1}})") == R"({"return":{}})");
  CHECK_FALSE(forwards.open.contains("tcp 0.0.0.0:8080"));
  CHECK(api.answer(R"({"execute":"remove_hostfwd","arguments":{"id":1}})") ==
        R"({"error":{"desc":"bad request: remove_hostfwd: bad arguments.id"}})");
  // Ids are never reused.
  CHECK(api.answer(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":8080,"guest_port":80}})") ==
        R"({"return":{"id":3}})");
  CHECK(api.forward_count() == 2);
}

TEST_CASE("malformed requests get slirp4netns's error objects, in its order of checks") {
  FakeForwards forwards;
  Slirp4netnsApi api(forwards.backend(), kGuest);
  auto desc = [&](const std::string& request) { return api.answer(request); };
  auto error = [](const std::string& text) { return R"({"error":{"desc":"bad request: )" + text + R"("}})"; };
  CHECK(desc("{not json") == error("cannot parse JSON"));
  CHECK(desc("") == error("cannot parse JSON"));
  CHECK(desc("[1,2]") == error("json_object() failed"));
  CHECK(desc(R"({"arguments":{}})") == error("no execute found"));
  CHECK(desc(R"({"execute":7})") == error("no execute found"));
  CHECK(desc(R"({"execute":"reboot"})") == error("unknown execute"));
  // slirp4netns 1.2.0 crashes on a missing proto; here it is the proto error.
  CHECK(desc(R"({"execute":"add_hostfwd"})") == error("add_hostfwd: bad arguments.proto"));
  CHECK(desc(R"({"execute":"add_hostfwd","arguments":{"proto":"sctp","host_port":1,"guest_port":1}})") ==
        error("add_hostfwd: bad arguments.proto"));
  CHECK(desc(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_addr":"::1","host_port":1,"guest_port":1}})") ==
        error("add_hostfwd: bad arguments.host_addr"));
  CHECK(desc(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":"80","guest_port":1}})") ==
        error("add_hostfwd: bad arguments.host_port"));
  CHECK(desc(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":70000,"guest_port":1}})") ==
        error("add_hostfwd: bad arguments.host_port"));
  CHECK(desc(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":1,"guest_addr":"x","guest_port":1}})") ==
        error("add_hostfwd: bad arguments.guest_addr"));
  CHECK(desc(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":1,"guest_port":0}})") ==
        error("add_hostfwd: bad arguments.guest_port"));
  CHECK(desc(R"({"execute":"remove_hostfwd","arguments":{"id":"1"}})") == error("remove_hostfwd: bad arguments.id"));
  CHECK(desc(std::string(5000, ' ')) == error("too large message"));
  forwards.refuse = true;
  CHECK(desc(R"({"execute":"add_hostfwd","arguments":{"proto":"tcp","host_port":9,"guest_port":9}})") ==
        error("add_hostfwd: slirp_add_hostfwd failed"));
  CHECK(api.forward_count() == 0);  // nothing half-made
}
