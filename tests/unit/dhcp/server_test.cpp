// The RFC 2131 state machine of dhcp::Server, driven with client messages built byte by byte.
#include <doctest/doctest.h>

#include "dhcp/server.hpp"
#include "dhcp_test_support.hpp"

using namespace usernet;
using namespace usernet::dhcp;
using namespace usernet::dhcp::test;

namespace {

constexpr std::uint32_t kGateway = ipv4(192, 168, 127, 1);
constexpr std::uint64_t kStart = 5'000'000;
constexpr std::uint64_t kLeaseMs = 3600 * 1000;

std::uint32_t host(std::uint8_t last) { return ipv4(192, 168, 127, last); }

std::optional<Reply> send(Server& server, const RequestBuilder& request, std::uint64_t now = kStart) {
  return server.handle(request.bytes(), now);
}

std::uint8_t type_of(const Message& m) { return static_cast<std::uint8_t>(m.type); }

/// DISCOVER then REQUEST (SELECTING) for `mac`; returns the ACKed address.
std::uint32_t acquire(Server& server, const MacAddress& mac, std::uint64_t now = kStart,
                      const std::string& name = "") {
  const auto offer = send(server, RequestBuilder(MessageType::discover, mac), now);
  REQUIRE(offer);
  const Message offered = parse_reply(offer->payload);
  const std::uint32_t ip = offered.header.yiaddr;
  const auto server_id = offered.options.find_ipv4(OptionCode::server_id);
  REQUIRE(server_id);
  auto request = RequestBuilder(MessageType::request, mac).server_id(*server_id).requested_ip(ip);
  if (!name.empty()) request.host_name(name);
  const auto ack = send(server, request, now);
  REQUIRE(ack);
  REQUIRE(ack->type == MessageType::ack);
  return ip;
}

std::optional<Lease> lease_of(const Server& server, const MacAddress& mac, std::uint64_t now) {
  for (const Lease& lease : server.leases(now)) {
    if (lease.mac == mac) return lease;
  }
  return std::nullopt;
}

/// A /29 with a 4-address pool (.2 to .5) and no static leases.
Config tiny_config() {
  Config config;
  config.network = ipv4(10, 0, 0, 0);
  config.prefix_length = 29;
  config.gateway = ipv4(10, 0, 0, 1);
  config.server_id = ipv4(10, 0, 0, 1);
  config.dns_servers = {ipv4(10, 0, 0, 1)};
  config.excluded = {ipv4(10, 0, 0, 6)};
  config.static_leases.clear();
  return config;
}

MacAddress mac_number(std::uint8_t n) { return {0x02, 0, 0, 0, 1, n}; }

}  // namespace

TEST_CASE("DISCOVER from the default guest MAC gets an OFFER of its static .2 with the core options") {
  Server server{Config{}};
  const auto reply = send(server, RequestBuilder(MessageType::discover, kDefaultGuestMac).xid(0xabcdef01).flags(kBroadcastFlag));
  REQUIRE(reply);
  CHECK(reply->type == MessageType::offer);
  CHECK(reply->broadcast);
  CHECK(reply->payload.size() >= 300);
  const Message m = parse_reply(reply->payload);
  CHECK(type_of(m) == 2);
  CHECK(m.header.xid == 0xabcdef01);
  CHECK(m.header.flags == kBroadcastFlag);
  CHECK(m.header.client_mac() == kDefaultGuestMac);
  CHECK(m.header.yiaddr == host(2));
  CHECK(m.header.ciaddr == 0);
  CHECK(m.options.find_ipv4(OptionCode::server_id) == kGateway);
  CHECK(m.options.find_ipv4(OptionCode::subnet_mask) == ipv4(255, 255, 255, 0));
  CHECK(m.options.find_ipv4(OptionCode::router) == kGateway);
  CHECK(m.options.find_ipv4(OptionCode::domain_name_server) == kGateway);
  CHECK(m.options.find_ipv4(OptionCode::lease_time) == 3600u);
  CHECK(m.options.find_ipv4(OptionCode::renewal_time) == 1800u);
  CHECK(m.options.find_ipv4(OptionCode::rebinding_time) == 3150u);
  CHECK(m.options.find_u16(OptionCode::interface_mtu) == 1500);
  CHECK_FALSE(m.options.find(OptionCode::domain_name));  // none configured
  CHECK_FALSE(m.options.find(OptionCode::domain_search));
  CHECK(server.counters().offers == 1);
  CHECK(server.leases(kStart).empty());  // an offer is not a lease
}

TEST_CASE("dynamic clients get .3 upward; an outstanding offer is reserved for its client") {
  Server server{Config{}};
  const auto offer_a = send(server, RequestBuilder(MessageType::discover, kMacA));
  const auto offer_b = send(server, RequestBuilder(MessageType::discover, kMacB));
  REQUIRE(offer_a);
  REQUIRE(offer_b);
  CHECK(parse_reply(offer_a->payload).header.yiaddr == host(3));
  CHECK(parse_reply(offer_b->payload).header.yiaddr == host(4));
  // Asking again gets the same address.
  const auto again = send(server, RequestBuilder(MessageType::discover, kMacA), kStart + 1000);
  REQUIRE(again);
  CHECK(parse_reply(again->payload).header.yiaddr == host(3));
}

TEST_CASE("DISCOVER honours a free requested address, not a taken or reserved one") {
  Server server{Config{}};
  const auto offer = send(server, RequestBuilder(MessageType::discover, kMacA).requested_ip(host(77)));
  REQUIRE(offer);
  CHECK(parse_reply(offer->payload).header.yiaddr == host(77));
  for (const std::uint32_t taken : {host(77), host(1), host(2), host(254), host(255), ipv4(10, 0, 0, 5)}) {
    const auto other = send(server, RequestBuilder(MessageType::discover, kMacB).requested_ip(taken));
    REQUIRE(other);
    CHECK(parse_reply(other->payload).header.yiaddr == host(3));
  }
}

TEST_CASE("SELECTING REQUEST: ACK binds the lease with the host name; ACK mirrors the offer") {
  Server server{Config{}};
  const std::uint32_t ip = acquire(server, kMacA, kStart, "fedora");
  CHECK(ip == host(3));
  const auto lease = lease_of(server, kMacA, kStart);
  REQUIRE(lease);
  CHECK(lease->ip == host(3));
  CHECK(lease->hostname == "fedora");
  CHECK(lease->expires_ms == kStart + kLeaseMs);
  CHECK_FALSE(lease->is_static);
  CHECK(server.counters().acks == 1);
  CHECK(server.counters().received_of(MessageType::request) == 1);
}

TEST_CASE("SELECTING REQUEST naming another server withdraws our offer silently") {
  Server server{Config{}};
  REQUIRE(send(server, RequestBuilder(MessageType::discover, kMacA)));
  const auto reply = send(server, RequestBuilder(MessageType::request, kMacA)
                                      .server_id(ipv4(192, 168, 127, 50))
                                      .requested_ip(host(3)));
  CHECK_FALSE(reply);
  CHECK(server.counters().drops_of(DropReason::other_server) == 1);
  CHECK(server.counters().naks == 0);
  CHECK(server.leases(kStart).empty());
  // The client keeps its claim to the address if it comes back.
  const auto offer = send(server, RequestBuilder(MessageType::discover, kMacA));
  REQUIRE(offer);
  CHECK(parse_reply(offer->payload).header.yiaddr == host(3));
}

TEST_CASE("SELECTING REQUEST for an address taken by another MAC gets a broadcast NAK") {
  Server server{Config{}};
  acquire(server, kMacA);
  const auto reply = send(server, RequestBuilder(MessageType::request, kMacB).server_id(kGateway).requested_ip(host(3)));
  REQUIRE(reply);
  CHECK(reply->type == MessageType::nak);
  CHECK(reply->broadcast);
  const Message m = parse_reply(reply->payload);
  CHECK(type_of(m) == 6);
  CHECK(m.header.yiaddr == 0);
  CHECK(m.header.ciaddr == 0);
  CHECK(m.options.find_ipv4(OptionCode::server_id) == kGateway);
  CHECK_FALSE(m.options.find(OptionCode::lease_time));
  CHECK_FALSE(m.options.find(OptionCode::router));
  CHECK(m.options.find(OptionCode::message));
  CHECK(lease_of(server, kMacA, kStart)->ip == host(3));  // A keeps it
}

TEST_CASE("INIT-REBOOT REQUEST: own or free address ACKed, anything else NAKed") {
  Server server{Config{}};
  acquire(server, kMacA);
  SUBCASE("its own address") {
    const auto reply = send(server, RequestBuilder(MessageType::request, kMacA).requested_ip(host(3)), kStart + 10);
    REQUIRE(reply);
    CHECK(reply->type == MessageType::ack);
    CHECK(reply->broadcast);
    CHECK(lease_of(server, kMacA, kStart)->expires_ms == kStart + 10 + kLeaseMs);
  }
  SUBCASE("a free address the server has no record of (e.g. after a restart): authoritative ACK") {
    const auto reply = send(server, RequestBuilder(MessageType::request, kMacB).requested_ip(host(40)));
    REQUIRE(reply);
    CHECK(reply->type == MessageType::ack);
    CHECK(parse_reply(reply->payload).header.yiaddr == host(40));
    CHECK(lease_of(server, kMacB, kStart)->ip == host(40));
  }
  SUBCASE("addresses it may not have") {
    for (const std::uint32_t bad : {host(3), host(2), host(1), host(254), host(255), host(0),
                                    ipv4(10, 0, 2, 15)}) {
      INFO(format_ipv4(bad));
      const auto reply = send(server, RequestBuilder(MessageType::request, kMacB).requested_ip(bad));
      REQUIRE(reply);
      CHECK(reply->type == MessageType::nak);
      CHECK(reply->broadcast);
    }
    CHECK(server.counters().naks == 7);
    CHECK_FALSE(lease_of(server, kMacB, kStart));
  }
}

TEST_CASE("RENEWING REQUEST (ciaddr only) extends the lease and is answered by unicast") {
  Server server{Config{}};
  acquire(server, kMacA, kStart, "vm");
  const std::uint64_t later = kStart + kLeaseMs / 2;
  const auto reply = send(server, RequestBuilder(MessageType::request, kMacA).ciaddr(host(3)), later);
  REQUIRE(reply);
  CHECK(reply->type == MessageType::ack);
  CHECK_FALSE(reply->broadcast);
  CHECK(reply->unicast_ip == host(3));
  const Message m = parse_reply(reply->payload);
  CHECK(m.header.ciaddr == host(3));
  CHECK(m.header.yiaddr == host(3));
  const auto lease = lease_of(server, kMacA, later);
  REQUIRE(lease);
  CHECK(lease->expires_ms == later + kLeaseMs);
  CHECK(lease->hostname == "vm");  // kept when the renewal carries no host name
}

TEST_CASE("REBINDING after the lease expired still ACKs while nobody took the address") {
  Server server{Config{}};
  acquire(server, kMacA);
  const std::uint64_t after_expiry = kStart + kLeaseMs + 1;
  CHECK(server.leases(after_expiry).empty());
  const auto reply = send(server, RequestBuilder(MessageType::request, kMacA).ciaddr(host(3)), after_expiry);
  REQUIRE(reply);
  CHECK(reply->type == MessageType::ack);
  CHECK(lease_of(server, kMacA, after_expiry)->expires_ms == after_expiry + kLeaseMs);
}

TEST_CASE("RENEWING an address now held by someone else gets a broadcast NAK") {
  Server server{Config{}};
  acquire(server, kMacA);
  const auto reply = send(server, RequestBuilder(MessageType::request, kMacB).ciaddr(host(3)));
  REQUIRE(reply);
  CHECK(reply->type == MessageType::nak);
  CHECK(reply->broadcast);
  CHECK(reply->unicast_ip == 0);
}

TEST_CASE("REQUEST without any address is dropped") {
  Server server{Config{}};
  CHECK_FALSE(send(server, RequestBuilder(MessageType::request, kMacA)));
  CHECK_FALSE(send(server, RequestBuilder(MessageType::request, kMacA).server_id(kGateway)));
  CHECK(server.counters().drops_of(DropReason::missing_address) == 2);
}

TEST_CASE("leases expire; the same MAC gets its address back; others prefer fresh addresses") {
  Server server{Config{}};
  acquire(server, kMacA);
  const std::uint64_t later = kStart + 2 * kLeaseMs;
  CHECK(server.leases(later).empty());
  CHECK(acquire(server, kMacB, later) == host(4));
  CHECK(acquire(server, kMacA, later) == host(3));
}

TEST_CASE("RELEASE frees the lease; the MAC still gets its address back later") {
  Server server{Config{}};
  acquire(server, kMacA);
  CHECK_FALSE(send(server, RequestBuilder(MessageType::release, kMacA).ciaddr(host(3)).server_id(kGateway)));
  CHECK(server.counters().releases == 1);
  CHECK(server.leases(kStart).empty());
  // A release of something the client does not hold is counted and changes nothing.
  CHECK_FALSE(send(server, RequestBuilder(MessageType::release, kMacB).ciaddr(host(3))));
  CHECK_FALSE(send(server, RequestBuilder(MessageType::release, kMacB)));
  CHECK(server.counters().drops_of(DropReason::unknown_lease) == 1);
  CHECK(server.counters().drops_of(DropReason::missing_address) == 1);
  CHECK(acquire(server, kMacA, kStart + 5) == host(3));
}

TEST_CASE("RELEASE by another MAC does not end someone's lease") {
  Server server{Config{}};
  acquire(server, kMacA);
  CHECK_FALSE(send(server, RequestBuilder(MessageType::release, kMacB).ciaddr(host(3))));
  CHECK(lease_of(server, kMacA, kStart));
}

TEST_CASE("DECLINE takes the address out of the pool for the hold time") {
  Config config;
  config.decline_hold_ms = 600'000;
  Server server{config};
  acquire(server, kMacA);
  CHECK_FALSE(send(server, RequestBuilder(MessageType::decline, kMacA).requested_ip(host(3)).server_id(kGateway)));
  CHECK(server.counters().declines == 1);
  CHECK(server.leases(kStart).empty());
  // Neither the decliner nor anyone else gets .3 during the hold, even when asking for it.
  CHECK(acquire(server, kMacA, kStart + 1) == host(4));
  const auto asking = send(server, RequestBuilder(MessageType::discover, kMacB).requested_ip(host(3)), kStart + 2);
  CHECK(parse_reply(asking->payload).header.yiaddr == host(5));
  const auto nak = send(server, RequestBuilder(MessageType::request, kMacB).requested_ip(host(3)), kStart + 3);
  CHECK(nak->type == MessageType::nak);
  // After the hold it is the lowest free address again.
  CHECK(acquire(server, kMacC, kStart + 600'001) == host(3));
}

TEST_CASE("DECLINE of an address the client was not given is ignored and counted") {
  Server server{Config{}};
  acquire(server, kMacA);
  CHECK_FALSE(send(server, RequestBuilder(MessageType::decline, kMacB).requested_ip(host(3))));
  CHECK_FALSE(send(server, RequestBuilder(MessageType::decline, kMacB)));
  CHECK_FALSE(send(server, RequestBuilder(MessageType::decline, kMacA).requested_ip(host(3)).server_id(host(9))));
  CHECK(server.counters().drops_of(DropReason::unknown_lease) == 1);
  CHECK(server.counters().drops_of(DropReason::missing_address) == 1);
  CHECK(server.counters().drops_of(DropReason::other_server) == 1);
  CHECK(lease_of(server, kMacA, kStart));
  CHECK(acquire(server, kMacB) == host(4));
}

TEST_CASE("INFORM gets an ACK with configuration only, unicast to ciaddr") {
  Server server{Config{}};
  const auto reply = send(server, RequestBuilder(MessageType::inform, kMacA).ciaddr(host(200)));
  REQUIRE(reply);
  CHECK(reply->type == MessageType::ack);
  CHECK_FALSE(reply->broadcast);
  CHECK(reply->unicast_ip == host(200));
  const Message m = parse_reply(reply->payload);
  CHECK(m.header.ciaddr == host(200));
  CHECK(m.header.yiaddr == 0);
  CHECK_FALSE(m.options.find(OptionCode::lease_time));
  CHECK_FALSE(m.options.find(OptionCode::renewal_time));
  CHECK_FALSE(m.options.find(OptionCode::rebinding_time));
  CHECK(m.options.find_ipv4(OptionCode::router) == kGateway);
  CHECK(m.options.find_ipv4(OptionCode::domain_name_server) == kGateway);
  CHECK(server.leases(kStart).empty());
}

TEST_CASE("a full pool answers no OFFER, counts it and reports it once per episode") {
  Server server{tiny_config()};
  for (std::uint8_t n = 0; n < 4; ++n) CHECK(acquire(server, mac_number(n)) == ipv4(10, 0, 0, 2 + n));
  CHECK_FALSE(server.take_pool_exhausted_event());
  CHECK_FALSE(send(server, RequestBuilder(MessageType::discover, mac_number(9))));
  CHECK_FALSE(send(server, RequestBuilder(MessageType::discover, mac_number(10))));
  CHECK(server.counters().drops_of(DropReason::pool_exhausted) == 2);
  CHECK(server.take_pool_exhausted_event());
  CHECK_FALSE(server.take_pool_exhausted_event());
  CHECK_FALSE(send(server, RequestBuilder(MessageType::discover, mac_number(9))));
  CHECK_FALSE(server.take_pool_exhausted_event());  // still the same episode
  // The network, gateway, excluded .6 and broadcast were never handed out.
  for (const Lease& lease : server.leases(kStart)) {
    CHECK(lease.ip >= ipv4(10, 0, 0, 2));
    CHECK(lease.ip <= ipv4(10, 0, 0, 5));
  }
  // A release makes room; the next exhaustion is a new episode.
  send(server, RequestBuilder(MessageType::release, mac_number(1)).ciaddr(ipv4(10, 0, 0, 3)));
  const auto offer = send(server, RequestBuilder(MessageType::discover, mac_number(9)));
  REQUIRE(offer);
  CHECK(parse_reply(offer->payload).header.yiaddr == ipv4(10, 0, 0, 3));
  CHECK_FALSE(send(server, RequestBuilder(MessageType::discover, mac_number(10))));
  CHECK(server.take_pool_exhausted_event());
}

TEST_CASE("when the pool is full, the address lost longest ago goes to a new client") {
  Server server{tiny_config()};
  for (std::uint8_t n = 0; n < 4; ++n) acquire(server, mac_number(n), kStart + n);
  const std::uint64_t later = kStart + 3 * kLeaseMs;
  CHECK(acquire(server, mac_number(20), later) == ipv4(10, 0, 0, 2));
  CHECK(acquire(server, mac_number(21), later) == ipv4(10, 0, 0, 3));
}

TEST_CASE("static leases: always the same address, never anyone else's") {
  Server server{Config{}};
  // Even when asking for another address the static client is offered its own.
  const auto offer = send(server, RequestBuilder(MessageType::discover, kDefaultGuestMac).requested_ip(host(50)));
  CHECK(parse_reply(offer->payload).header.yiaddr == host(2));
  const auto nak = send(server, RequestBuilder(MessageType::request, kDefaultGuestMac).requested_ip(host(50)));
  CHECK(nak->type == MessageType::nak);
  CHECK(acquire(server, kDefaultGuestMac) == host(2));
  CHECK(lease_of(server, kDefaultGuestMac, kStart)->is_static);
  // Other clients never get .2, even while its owner is away.
  const std::uint64_t later = kStart + 5 * kLeaseMs;
  const auto other = send(server, RequestBuilder(MessageType::discover, kMacA).requested_ip(host(2)), later);
  CHECK(parse_reply(other->payload).header.yiaddr == host(3));
  CHECK(send(server, RequestBuilder(MessageType::request, kMacA).requested_ip(host(2)), later)->type ==
        MessageType::nak);
}

TEST_CASE("static leases added at run time take the address over; removal makes it dynamic") {
  Server server{Config{}};
  CHECK(acquire(server, kMacA) == host(3));
  CHECK(server.add_static_lease({kMacB, host(3)}));
  CHECK(server.static_leases().size() == 2);
  CHECK(server.config().static_leases.size() == 2);
  // A's renewal is refused, so it starts over and gets a fresh address; B gets .3.
  CHECK(send(server, RequestBuilder(MessageType::request, kMacA).ciaddr(host(3)), kStart + 1)->type ==
        MessageType::nak);
  CHECK(acquire(server, kMacA, kStart + 2) == host(4));
  CHECK(acquire(server, kMacB, kStart + 3) == host(3));
  CHECK(lease_of(server, kMacB, kStart + 3)->is_static);

  // Errors leave everything unchanged.
  const auto taken = server.add_static_lease({kMacC, host(3)});
  REQUIRE_FALSE(taken);
  CHECK(taken.error().find("already bound") != std::string::npos);
  REQUIRE_FALSE(server.add_static_lease({kMacC, kGateway}));
  CHECK(server.static_leases().size() == 2);

  // Moving B's static lease to another address replaces it.
  CHECK(server.add_static_lease({kMacB, host(20)}));
  CHECK(server.static_leases().size() == 2);
  CHECK(send(server, RequestBuilder(MessageType::request, kMacB).ciaddr(host(3)), kStart + 4)->type ==
        MessageType::nak);

  CHECK(server.remove_static_lease(kMacB));
  CHECK_FALSE(server.remove_static_lease(kMacB));
  CHECK(server.static_leases().size() == 1);
  // Without its static lease the default guest keeps what it holds, as a dynamic lease.
  CHECK(acquire(server, kDefaultGuestMac, kStart + 5) == host(2));
  CHECK(server.remove_static_lease(kDefaultGuestMac));
  const auto renew = send(server, RequestBuilder(MessageType::request, kDefaultGuestMac).ciaddr(host(2)), kStart + 6);
  CHECK(renew->type == MessageType::ack);
  CHECK_FALSE(lease_of(server, kDefaultGuestMac, kStart + 6)->is_static);
}

TEST_CASE("host names: invalid ones are counted and not stored") {
  Server server{Config{}};
  acquire(server, kMacA, kStart, "bad name!");
  CHECK(server.counters().invalid_host_names == 1);
  CHECK(lease_of(server, kMacA, kStart)->hostname.empty());
  acquire(server, kMacB, kStart, "web.example.com");
  CHECK(lease_of(server, kMacB, kStart)->hostname == "web");
}

TEST_CASE("malformed messages are counted by reason and never answered") {
  Server server{Config{}};
  auto truncated = RequestBuilder(MessageType::discover, kMacA).bytes();
  truncated.resize(100);
  CHECK_FALSE(server.handle(truncated, kStart));
  CHECK_FALSE(server.handle({}, kStart));
  CHECK_FALSE(send(server, RequestBuilder(MessageType::discover, kMacA).cookie(0)));
  CHECK_FALSE(send(server, RequestBuilder(MessageType::discover, kMacA).no_end().raw_options({55, 40, 1})));
  CHECK_FALSE(send(server, RequestBuilder(std::nullopt, kMacA)));
  CHECK_FALSE(send(server, RequestBuilder(MessageType::offer, kMacA)));
  const Counters& c = server.counters();
  CHECK(c.received == 6);
  CHECK(c.drops_of(DropReason::truncated) == 2);
  CHECK(c.drops_of(DropReason::bad_magic_cookie) == 1);
  CHECK(c.drops_of(DropReason::malformed_options) == 1);
  CHECK(c.drops_of(DropReason::missing_message_type) == 1);
  CHECK(c.drops_of(DropReason::server_message) == 1);
  CHECK(server.leases(kStart).empty());
}

TEST_CASE("the client identifier is echoed (RFC 6842)") {
  Server server{Config{}};
  const std::vector<std::uint8_t> id{1, 2, 0, 0, 0, 0, 10};
  const auto reply = send(server, RequestBuilder(MessageType::discover, kMacA).option(61, id));
  REQUIRE(reply);
  CHECK(option_bytes(parse_reply(reply->payload), 61) == id);
}
