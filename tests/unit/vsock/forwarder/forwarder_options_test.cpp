#include <doctest/doctest.h>

#include <stdexcept>

#include "vsock/forwarder/forwarder_options.hpp"

using namespace usernet;

TEST_CASE("defaults match gvforwarder") {
  const auto options = parse_forwarder_options({});
  CHECK(options.url == "vsock://2:1024/connect");
  CHECK(options.iface == "tap0");
  CHECK(options.mac == "5a:94:ef:e4:0c:ee");
  CHECK(options.mtu == 4000);
  CHECK_FALSE(options.preexisting);
  CHECK(options.stop_if_exist == std::vector<std::string>{"eth0", "ens3", "enp0s1"});
  CHECK_FALSE(options.debug);
}

TEST_CASE("single and double dash, separate and = values, bare booleans") {
  const auto options = parse_forwarder_options({"-url", "unix:///run/api.sock", "--iface=vsock0", "-mac",
                                                "5a:94:ef:e4:0c:ef", "--mtu", "1500", "-preexisting",
                                                "--stop-if-exist=", "--debug=true"});
  CHECK(options.url == "unix:///run/api.sock");
  CHECK(options.iface == "vsock0");
  CHECK(options.mac == "5a:94:ef:e4:0c:ef");
  CHECK(options.mtu == 1500);
  CHECK(options.preexisting);
  CHECK(options.stop_if_exist.empty());
  CHECK(options.debug);
  CHECK_FALSE(parse_forwarder_options({"-debug=false"}).debug);
  CHECK(parse_forwarder_options({"-stop-if-exist", "eth1,,eth2"}).stop_if_exist ==
        std::vector<std::string>{"eth1", "eth2"});
}

TEST_CASE("bad flags and values are one-line errors") {
  CHECK_THROWS_WITH_AS(parse_forwarder_options({"-nope"}), doctest::Contains("-nope"), std::runtime_error);
  CHECK_THROWS_WITH_AS(parse_forwarder_options({"-url"}), doctest::Contains("needs an argument"), std::runtime_error);
  CHECK_THROWS_WITH_AS(parse_forwarder_options({"-url", "ftp://x"}), doctest::Contains("ftp://x"), std::runtime_error);
  CHECK_THROWS_AS(parse_forwarder_options({"-mac", "zz:94:ef:e4:0c:ee"}), std::runtime_error);
  CHECK_THROWS_AS(parse_forwarder_options({"-mtu", "40"}), std::runtime_error);
  CHECK_THROWS_AS(parse_forwarder_options({"-mtu", "1500x"}), std::runtime_error);
  CHECK_THROWS_AS(parse_forwarder_options({"-iface", "a-name-longer-than-15"}), std::runtime_error);
  CHECK_THROWS_AS(parse_forwarder_options({"-debug=maybe"}), std::runtime_error);
  CHECK_THROWS_AS(parse_forwarder_options({"stray"}), std::runtime_error);
}
