#include <doctest/doctest.h>

#include "dns/local_answers.hpp"
#include "tests/unit/dns/dns_test_support.hpp"

using namespace usernet::dns;
using namespace usernet::dns::test;

namespace {

struct Fixture {
  ZoneTable zones = ZoneTable::with_defaults(0xc0a87f01, 0xc0a87ffe);
  LocalAnswers local{LocalConfig{}, zones, {}};
  Fixture() {
    local.set_hooks(LeaseHooks{
        [](std::uint32_t ip) -> std::optional<std::string> {
          if (ip == 0xc0a87f02) return std::string("vm1");
          if (ip == 0xc0a87f03) return std::string("other.example.");
          return std::nullopt;
        },
        [](std::string_view host) -> std::optional<std::uint32_t> {
          if (host == "vm1") return 0xc0a87f02u;
          return std::nullopt;
        }});
  }
  std::optional<LocalAnswer> ask(const std::string& qname, RecordType type) {
    return local.answer(Question{name(qname), type, RecordClass::in});
  }
};

std::uint32_t soa_minimum(const ResourceRecord& soa) {
  const auto& r = soa.rdata;
  REQUIRE(r.size() >= 20);
  std::size_t at = r.size() - 4;
  return (std::uint32_t{r[at]} << 24) | (std::uint32_t{r[at + 1]} << 16) | (std::uint32_t{r[at + 2]} << 8) | r[at + 3];
}

}  // namespace

TEST_CASE("A for zone records keeps the question's spelling") {
  Fixture f;
  auto answer = f.ask("Host.Containers.Internal", RecordType::a);
  REQUIRE(answer.has_value());
  CHECK(answer->rcode == Rcode::no_error);
  REQUIRE(answer->answers.size() == 1);
  CHECK(answer->answers[0].name.to_text() == "Host.Containers.Internal.");
  CHECK(answer->answers[0].rdata == ipv4_rdata(0xc0a87ffe));
  CHECK(answer->answers[0].ttl == 0);
  CHECK(f.ask("gateway.docker.internal", RecordType::any)->answers.at(0).rdata == ipv4_rdata(0xc0a87f01));
}

TEST_CASE("AAAA and other types for a local name: NOERROR, no data, SOA in authority") {
  Fixture f;
  for (RecordType type : {RecordType::aaaa, RecordType::mx, RecordType::txt, RecordType::https}) {
    auto answer = f.ask("host.containers.internal", type);
    REQUIRE(answer.has_value());  // never forwarded
    CHECK(answer->rcode == Rcode::no_error);
    CHECK(answer->answers.empty());
    REQUIRE(answer->authorities.size() == 1);
    CHECK(answer->authorities[0].type == RecordType::soa);
    CHECK(answer->authorities[0].name.to_text() == "containers.internal.");
  }
}

TEST_CASE("with IPv6 addresses configured, gateway and host names get AAAA records too") {
  ZoneTable zones = ZoneTable::with_defaults(0xc0a87f01, 0xc0a87ffe);
  LocalConfig config;
  config.gateway_ip6 = std::array<std::uint8_t, 16>{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  config.host_ip6 = std::array<std::uint8_t, 16>{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
  LocalAnswers local{config, zones, {}};
  auto aaaa = local.answer(Question{name("host.containers.internal"), RecordType::aaaa, RecordClass::in});
  REQUIRE(aaaa.has_value());
  REQUIRE(aaaa->answers.size() == 1);
  CHECK(aaaa->answers[0].type == RecordType::aaaa);
  CHECK(aaaa->answers[0].rdata == std::vector<std::uint8_t>(config.host_ip6->begin(), config.host_ip6->end()));
  CHECK(aaaa->authorities.empty());
  auto any = local.answer(Question{name("gateway.containers.internal"), RecordType::any, RecordClass::in});
  REQUIRE(any->answers.size() == 2);  // A and AAAA
  CHECK(any->answers[1].rdata == std::vector<std::uint8_t>(config.gateway_ip6->begin(), config.gateway_ip6->end()));
  // A zone record with another address has no IPv6 twin: NOERROR, no data.
  ZoneTable custom;
  REQUIRE(custom.add(*parse_zone_option("example.test.,record=web:10.0.0.5")));
  LocalAnswers other{config, custom, {}};
  auto none = other.answer(Question{name("web.example.test"), RecordType::aaaa, RecordClass::in});
  REQUIRE(none.has_value());
  CHECK(none->answers.empty());
  CHECK(none->authorities.size() == 1);
}

TEST_CASE("unknown name in a local zone: NXDOMAIN with the zone's SOA") {
  Fixture f;
  auto answer = f.ask("nope.docker.internal", RecordType::a);
  REQUIRE(answer.has_value());
  CHECK(answer->rcode == Rcode::name_error);
  REQUIRE(answer->authorities.size() == 1);
  CHECK(answer->authorities[0].name.to_text() == "docker.internal.");
  CHECK(soa_minimum(answer->authorities[0]) == 0);
  CHECK(f.ask("nope.docker.internal", RecordType::aaaa)->rcode == Rcode::name_error);
}

TEST_CASE("the zone default address answers every other name") {
  Fixture f;
  REQUIRE(f.zones.add(Zone{"docker.internal", {}, 0x0a000009}));
  auto answer = f.ask("anything.docker.internal", RecordType::a);
  CHECK(answer->answers.at(0).rdata == ipv4_rdata(0x0a000009));
  CHECK(f.ask("host.docker.internal", RecordType::a)->answers.at(0).rdata == ipv4_rdata(0xc0a87ffe));
}

TEST_CASE("zone apex answers its SOA and nothing else") {
  Fixture f;
  auto soa = f.ask("containers.internal", RecordType::soa);
  REQUIRE(soa->answers.size() == 1);
  CHECK(soa->answers[0].type == RecordType::soa);
  auto a = f.ask("containers.internal", RecordType::a);
  CHECK(a->rcode == Rcode::no_error);
  CHECK(a->answers.empty());
  CHECK(a->authorities.size() == 1);
}

TEST_CASE("leased guests resolve by host name in the lease zone only") {
  Fixture f;
  CHECK(f.ask("VM1.containers.internal", RecordType::a)->answers.at(0).rdata == ipv4_rdata(0xc0a87f02));
  CHECK(f.ask("vm1.docker.internal", RecordType::a)->rcode == Rcode::name_error);
  CHECK(f.ask("x.vm1.containers.internal", RecordType::a)->rcode == Rcode::name_error);
}

TEST_CASE("PTR for gateway, host alias and leased guests; unknown subnet addresses stay local") {
  Fixture f;
  auto ptr_target = [&](const std::string& qname) {
    auto answer = f.ask(qname, RecordType::ptr);
    REQUIRE(answer.has_value());
    REQUIRE(answer->answers.size() == 1);
    CHECK(answer->answers[0].type == RecordType::ptr);
    auto target = DomainName::from_wire(answer->answers[0].rdata);
    REQUIRE(target.has_value());
    return target->to_text();
  };
  CHECK(ptr_target("1.127.168.192.in-addr.arpa") == "gateway.containers.internal.");
  CHECK(ptr_target("254.127.168.192.IN-ADDR.ARPA") == "host.containers.internal.");
  CHECK(ptr_target("2.127.168.192.in-addr.arpa") == "vm1.containers.internal.");
  CHECK(ptr_target("3.127.168.192.in-addr.arpa") == "other.example.");
  auto unknown = f.ask("77.127.168.192.in-addr.arpa", RecordType::ptr);
  REQUIRE(unknown.has_value());
  CHECK(unknown->rcode == Rcode::name_error);
  CHECK(unknown->authorities.at(0).name.to_text() == "127.168.192.in-addr.arpa.");
  // A leased guest's reverse name with another type: NODATA.
  auto other_type = f.ask("2.127.168.192.in-addr.arpa", RecordType::txt);
  CHECK(other_type->answers.empty());
  CHECK(other_type->rcode == Rcode::no_error);
  // Addresses outside the subnet are not ours to answer.
  CHECK_FALSE(f.ask("8.8.8.8.in-addr.arpa", RecordType::ptr).has_value());
  CHECK_FALSE(f.ask("example.com", RecordType::a).has_value());
}

TEST_CASE("reverse names parse only as four plain decimal octets") {
  CHECK(address_from_reverse_name(name("4.3.2.1.in-addr.arpa")) == 0x01020304u);
  CHECK_FALSE(address_from_reverse_name(name("3.2.1.in-addr.arpa")).has_value());
  CHECK_FALSE(address_from_reverse_name(name("5.4.3.2.1.in-addr.arpa")).has_value());
  CHECK_FALSE(address_from_reverse_name(name("256.3.2.1.in-addr.arpa")).has_value());
  CHECK_FALSE(address_from_reverse_name(name("04.3.2.1.in-addr.arpa")).has_value());
  CHECK_FALSE(address_from_reverse_name(name("-4.3.2.1.in-addr.arpa")).has_value());
  CHECK_FALSE(address_from_reverse_name(name("a.3.2.1.in-addr.arpa")).has_value());
}
