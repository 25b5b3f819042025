// The control API's routes against a real virtual network on a private loop (no frames
// flow; port forwards bind only on 127.0.0.1).
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "netstack/api/api_routes.hpp"
#include "netstack/services/gateway_dhcp.hpp"
#include "netstack/services/gateway_dns.hpp"
#include "netstack/services/port_forwarder.hpp"
#include "netstack/services/virtual_network.hpp"

using namespace usernet;
using json = nlohmann::json;

namespace {

/// A loopback TCP port nobody uses right now.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin);
  socklen_t len = sizeof sin;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sin), &len);
  ::close(fd);
  return ntohs(sin.sin_port);
}

/// Whether this host can bind the IPv6 loopback (not every test machine has IPv6).
bool ipv6_loopback_available() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_addr = in6addr_loopback;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&sin6), sizeof sin6) == 0;
  ::close(fd);
  return bound;
}

struct ApiFixture {
  uv_loop_t loop{};
  std::optional<VirtualNetwork> network;
  std::unique_ptr<PortForwarder> forwarder;
  std::unique_ptr<GatewayDns> dns;
  std::unique_ptr<GatewayDhcp> dhcp;
  std::unique_ptr<ApiRoutes> routes;

  explicit ApiFixture(GuestExposePolicy guest_expose = GuestExposePolicy::refused,
                      LocalAddressMeaning meaning = LocalAddressMeaning::loopback_default) {
    uv_loop_init(&loop);
    network.emplace(&loop, NetworkConfig{});
    forwarder = std::make_unique<PortForwarder>(*network, GuestIpv6::on);
    DnsOptions dns_options;
    dns_options.upstream = {"127.0.0.1:5353"};
    dns = std::make_unique<GatewayDns>(*network, dns_options);
    dhcp = std::make_unique<GatewayDhcp>(*network, make_dhcp_config(network->config(), DhcpOptions{}));
    ApiServices services{{&*network, forwarder.get(), dhcp.get(), dns.get(), {}}, ExposeRules{meaning, guest_expose},
                         meaning == LocalAddressMeaning::gvproxy};
    routes = std::make_unique<ApiRoutes>(std::move(services));
  }
  ~ApiFixture() {
    routes.reset();
    dhcp.reset();
    dns.reset();
    forwarder.reset();
    network.reset();
    uv_run(&loop, UV_RUN_NOWAIT);
    uv_loop_close(&loop);
  }

  HttpResponse call(const std::string& method, const std::string& target, const std::string& body = {},
                    ApiCaller caller = {}) {
    return routes->handle(HttpRequest{method, target, {}, body}, caller);
  }
  HttpResponse post(const std::string& target, const json& body, ApiCaller caller = {}) {
    return call("POST", target, body.dump(), caller);
  }
};

const ApiCaller kGuest{true, make_ipv4(192, 168, 127, 5)};

}  // namespace

TEST_CASE("expose, list and unexpose a forward; errors have gvproxy's statuses") {
  ApiFixture f;
  const std::string local = "127.0.0.1:" + std::to_string(free_port());
  CHECK(f.post("/services/forwarder/expose", {{"local", local}, {"remote", "192.168.127.2:8080"}}).status == 200);
  auto all = json::parse(f.call("GET", "/services/forwarder/all").body);
  REQUIRE(all.size() == 1);
  CHECK(all[0] == json{{"local", local}, {"remote", "192.168.127.2:8080"}, {"protocol", "tcp"}});

  auto again = f.post("/services/forwarder/expose", {{"local", local}, {"remote", "192.168.127.2:8080"}});
  CHECK(again.status == 500);
  CHECK(again.body == "proxy already running for tcp on " + local + "\n");
  // From the host, a remote without an IP cannot be completed (gvproxy: the unix peer is "@").
  auto no_ip = f.post("/services/forwarder/expose", {{"local", "127.0.0.1:1"}, {"remote", ":8080"}});
  CHECK(no_ip.status == 400);
  CHECK(no_ip.body == "address @: missing port in address\n");
  auto sctp = f.post("/services/forwarder/expose", {{"local", local}, {"remote", "192.168.127.2:1"}, {"protocol", "sctp"}});
  CHECK(sctp.status == 500);
  CHECK(sctp.body == "unknown protocol sctp\n");
  CHECK(f.post("/services/forwarder/expose", {{"local", "bogus"}, {"remote", "192.168.127.2:1"}}).status == 500);
  CHECK(f.post("/services/forwarder/expose", {{"local", "127.0.0.1:2"}, {"remote", "192.168.127.2:99999"}}).body ==
        "strconv.ParseUint: parsing \"99999\": value out of range\n");

  CHECK(f.post("/services/forwarder/unexpose", {{"local", local}, {"protocol", "tcp"}}).status == 200);
  CHECK(json::parse(f.call("GET", "/services/forwarder/all").body).empty());
  auto missing = f.post("/services/forwarder/unexpose", {{"local", local}, {"protocol", "tcp"}});
  CHECK(missing.status == 500);
  CHECK(missing.body == "proxy not found\n");

  auto bad_json = f.call("POST", "/services/forwarder/expose", "{\"local\":");
  CHECK(bad_json.status == 400);
  CHECK(bad_json.body == "unexpected EOF\n");
  CHECK(f.call("POST", "/services/forwarder/expose", "").body == "EOF\n");
  CHECK(f.call("POST", "/services/forwarder/expose", "xx").body ==
        "invalid character 'x' looking for beginning of value\n");
  CHECK(f.call("POST", "/services/forwarder/expose", "[]").body ==
        "json: cannot unmarshal array into Go value of type types.ExposeRequest\n");
  auto wrong_type = f.post("/services/forwarder/expose", {{"local", 8080}, {"remote", ":80"}});
  CHECK(wrong_type.status == 400);
  CHECK(wrong_type.body ==
        "json: cannot unmarshal number into Go struct field ExposeRequest.local of type string\n");
  auto nowhere = f.post("/services/forwarder/expose", {{"local", local}, {"remote", "nowhere"}});
  CHECK(nowhere.status == 400);
  CHECK(nowhere.body == "address nowhere: missing port in address\n");
  CHECK(f.call("GET", "/services/forwarder/expose").status == 400);
  CHECK(f.call("GET", "/nothing/here").status == 404);
}

TEST_CASE("the guest sees only the forwarder routes and exposes only with --guest-expose on 127.0.0.1") {
  {
    ApiFixture f(GuestExposePolicy::refused);
    const std::string local = "127.0.0.1:" + std::to_string(free_port());
    CHECK(f.post("/services/forwarder/expose", {{"local", local}, {"remote", ":80"}}, kGuest).status == 403);
    CHECK(f.forwarder->list().empty());
  }
  ApiFixture f(GuestExposePolicy::loopback_only);
  CHECK(f.call("GET", "/stats", {}, kGuest).status == 404);
  CHECK(f.call("GET", "/services/dns/all", {}, kGuest).status == 404);
  CHECK(f.call("GET", "/tunnel?ip=192.168.127.2&port=22", {}, kGuest).status == 404);
  CHECK(f.call("GET", "/services/forwarder/all", {}, kGuest).status == 200);

  const auto port = std::to_string(free_port());
  CHECK(f.post("/services/forwarder/expose", {{"local", "0.0.0.0:" + port}, {"remote", ":80"}}, kGuest).status == 403);
  CHECK(f.post("/services/forwarder/expose", {{"local", "/tmp/x.sock"}, {"remote", ":80"}, {"protocol", "unix"}},
               kGuest).status == 403);
  CHECK(f.post("/services/forwarder/expose", {{"local", "127.0.0.1:" + port}, {"remote", ":80"}}, kGuest).status ==
        200);
  const auto list = f.forwarder->list();
  REQUIRE(list.size() == 1);
  CHECK(list[0].remote_ip == IpAddress::from_v4(kGuest.guest_ip));  // ":80" is the calling guest
  CHECK(f.post("/services/forwarder/unexpose", {{"local", ":" + port}}, kGuest).status == 200);
  CHECK(f.forwarder->list().empty());
  // IPv6: the host's ::1 is loopback too; any other IPv6 host address is not.
  CHECK(f.post("/services/forwarder/expose", {{"local", "[fd00::1]:" + port}, {"remote", ":80"}}, kGuest).status ==
        403);
  CHECK(f.post("/services/forwarder/expose", {{"local", "[::1]:" + port}, {"remote", "[fd00::5]"}}, kGuest).status ==
        400);
  if (ipv6_loopback_available()) {
    CHECK(f.post("/services/forwarder/expose", {{"local", "[::1]:" + port}, {"remote", "[fd00::5]:80"}}, kGuest)
              .status == 200);
    auto all = json::parse(f.call("GET", "/services/forwarder/all").body);
    REQUIRE(all.size() == 1);
    CHECK(all[0] == json{{"local", "[::1]:" + port}, {"remote", "[fd00::5]:80"}, {"protocol", "tcp"}});
    CHECK(f.post("/services/forwarder/unexpose", {{"local", "[::1]:" + port}}, kGuest).status == 200);
  } else {
    MESSAGE("this host has no IPv6 loopback: the [::1] forward is not checked");
  }
}

TEST_CASE("gvproxy rules: ':P' keeps its name and listens everywhere; a guest unexposes only its own") {
  ApiFixture f(GuestExposePolicy::any_address, LocalAddressMeaning::gvproxy);
  const std::string local = ":" + std::to_string(free_port());
  CHECK(f.post("/services/forwarder/expose", {{"local", local}, {"remote", ":80"}}, kGuest).status == 200);
  auto all = json::parse(f.call("GET", "/services/forwarder/all").body);
  REQUIRE(all.size() == 1);
  CHECK(all[0] == json{{"local", local}, {"remote", "192.168.127.5:80"}, {"protocol", "tcp"}});
  CHECK(f.forwarder->list()[0].local_all_families);
  // A host-made forward is not the guest's to remove.
  const std::string host_local = "127.0.0.1:" + std::to_string(free_port());
  CHECK(f.post("/services/forwarder/expose", {{"local", host_local}, {"remote", "192.168.127.2:22"}}).status == 200);
  CHECK(f.post("/services/forwarder/unexpose", {{"local", host_local}}, kGuest).status == 403);
  CHECK(f.post("/services/forwarder/unexpose", {{"local", "0.0.0.0" + local}}, kGuest).body == "proxy not found\n");
  CHECK(f.post("/services/forwarder/unexpose", {{"local", local}}, kGuest).status == 200);
  // Leases list the gateway and the static lease before any DHCP.
  auto leases = json::parse(f.call("GET", "/leases").body);
  CHECK(leases["192.168.127.1"] == "5a:94:ef:e4:0c:dd");
  CHECK(leases["192.168.127.2"] == "5a:94:ef:e4:0c:ee");
  auto stats = json::parse(f.call("GET", "/stats").body);
  CHECK(stats["TCP"].contains("CurrentEstablished"));
  CHECK(stats.contains("BytesSent"));
  CHECK(f.call("GET", "/tunnel?port=22").status == 500);
}

TEST_CASE("DNS zones: add at run time, list in gvproxy's shape, invalid zones are 400") {
  ApiFixture f;
  json zone = {{"Name", "apps.test."},
               {"DefaultIP", "192.168.127.9"},
               {"Records", {{{"Name", "web"}, {"IP", "192.168.127.10"}}, {{"Regexp", "^db"}, {"IP", "192.168.127.11"}}}}};
  CHECK(f.post("/services/dns/add", zone).status == 200);
  auto zones = json::parse(f.call("GET", "/services/dns/all").body);
  auto it = std::find_if(zones.begin(), zones.end(), [](const json& z) { return z["Name"] == "apps.test."; });
  REQUIRE(it != zones.end());
  CHECK((*it)["DefaultIP"] == "192.168.127.9");
  CHECK((*it)["Records"][0] == json{{"Name", "web"}, {"IP", "192.168.127.10"}, {"Regexp", nullptr}});
  CHECK((*it)["Records"][1]["Regexp"] == "^db");
  // Go decodes keys case-insensitively; so do we.
  CHECK(f.post("/services/dns/add", {{"name", "lower.test."}, {"records", json::array()}}).status == 200);
  CHECK(f.post("/services/dns/add", {{"Name", "x.test."}, {"Records", {{{"Name", "a"}, {"IP", "300.1.1.1"}}}}}).status ==
        400);
  CHECK(f.post("/services/dns/add", {{"Records", json::array()}}).status == 400);
  CHECK(f.post("/services/dns/add", {{"Name", "y.test."}, {"Records", {{{"Regexp", "("}, {"IP", "1.2.3.4"}}}}}).status ==
        400);
}

TEST_CASE("leases, cam, stats and metrics") {
  ApiFixture f;
  // Before any DHCP: the gateway and the static lease, as gvproxy's IP pool.
  CHECK(json::parse(f.call("GET", "/leases").body) ==
        json{{"192.168.127.1", "5a:94:ef:e4:0c:dd"}, {"192.168.127.2", "5a:94:ef:e4:0c:ee"}});
  CHECK(f.call("GET", "/services/dhcp/leases").status == 200);
  struct SilentPort : SwitchPort {
    bool send_frame(ByteSpan) override { return true; }
    std::string describe() const override { return "test"; }
  } port;
  auto& sw = f.network->network_switch();
  const PortId id = sw.attach(port);
  // A broadcast from 02:00:00:00:00:09 teaches the switch where that MAC lives.
  std::vector<std::uint8_t> frame(60, 0);
  for (int i = 0; i < 6; ++i) frame[static_cast<std::size_t>(i)] = 0xff;
  frame[6] = 0x02;
  frame[11] = 0x09;
  frame[12] = 0x08;
  frame[13] = 0x06;
  sw.receive(id, frame);
  auto cam = json::parse(f.call("GET", "/cam").body);
  CHECK(cam["02:00:00:00:00:09"] == id);
  auto stats_after = json::parse(f.call("GET", "/stats").body);
  CHECK(stats_after["usernet_switch_ports"] == 2);
  sw.detach(id);
  auto stats = json::parse(f.call("GET", "/stats").body);
  const auto metrics = f.call("GET", "/metrics");
  CHECK(metrics.content_type.starts_with("text/plain"));
  CHECK(stats["usernet_switch_ports"] == 1);
  CHECK(metrics.body.find("# TYPE usernet_switch_ports gauge\nusernet_switch_ports 1\n") != std::string::npos);
  CHECK(stats["usernet_dns_zones"] == 2);
  CHECK(metrics.body.find("usernet_flows_active{protocol=\"udp\"} 0\n") != std::string::npos);
}

TEST_CASE("/tunnel validates ip and port and hands the socket on after a bare OK") {
  ApiFixture f;
  CHECK(f.call("GET", "/tunnel?port=22").body == "ip is mandatory\n");
  CHECK(f.call("GET", "/tunnel?ip=192.168.127.2&port=0").status == 500);
  CHECK(f.call("GET", "/tunnel?ip=192.168.127.2&port=22x").status == 500);
  CHECK(f.call("GET", "/tunnel?ip=192.168.127&port=22").status == 500);
  auto ok = f.call("GET", "/tunnel?ip=192.168.127.2&port=22");
  CHECK(ok.status == 200);
  CHECK(ok.body == "OK");
  CHECK(static_cast<bool>(ok.take_over));
  CHECK(http_query_parameter("/t?a=1&ip=x&b", "ip") == "x");
  CHECK(http_query_parameter("/t?a=1&b", "b").empty());
  CHECK(http_query_parameter("/t", "ip").empty());
}
