#include "netstack/base/port_number.hpp"

#include <doctest/doctest.h>

using usernet::parse_port;

TEST_CASE("parse_port takes decimal 1..65535 and nothing else") {
  CHECK(parse_port("1") == 1);
  CHECK(parse_port("8080") == 8080);
  CHECK(parse_port("65535") == 65535);
  CHECK(parse_port("0080") == 80);
  for (const char* bad : {"", "0", "65536", "99999999999", "-1", "+80", "80a", " 80", "80 ", "0x50", "8.0"})
    CHECK_MESSAGE(!parse_port(bad), bad);
}
