#include "netstack/base/result.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

using usernet::Error;
using usernet::Result;
using usernet::Status;

namespace {

Result<int> half(int n) {
  if (n % 2 != 0) return Error{"odd: " + std::to_string(n)};
  return n / 2;
}

Status check_even(int n) {
  if (n % 2 != 0) return Error{"odd"};
  return {};
}

}  // namespace

TEST_CASE("Result holds a value or a one-line error") {
  const Result<int> good = half(8);
  CHECK(good.ok());
  CHECK(static_cast<bool>(good));
  CHECK(good.value() == 4);
  CHECK(*good == 4);

  const Result<int> bad = half(7);
  CHECK_FALSE(bad.ok());
  CHECK_FALSE(static_cast<bool>(bad));
  CHECK(bad.error() == "odd: 7");
}

TEST_CASE("Result converts from anything its value type is built from") {
  Result<std::string> text = "literal";
  REQUIRE(text);
  CHECK(*text == "literal");
  CHECK(text->size() == 7);
  text->append("!");
  CHECK(text.value() == "literal!");

  Result<std::vector<int>> list = std::vector<int>{1, 2, 3};
  REQUIRE(list);
  CHECK(list->size() == 3);

  const Result<std::string> failed = Error{"no text"};
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == "no text");
}

TEST_CASE("Result moves its value out, so move-only values work") {
  Result<std::unique_ptr<int>> owned = std::make_unique<int>(5);
  REQUIRE(owned);
  std::unique_ptr<int> taken = std::move(owned).value();
  REQUIRE(taken);
  CHECK(*taken == 5);

  Result<std::unique_ptr<int>> again = std::make_unique<int>(6);
  REQUIRE(again);
  std::unique_ptr<int> star = *std::move(again);
  CHECK(*star == 6);
}

TEST_CASE("Status is success by default and otherwise carries the message") {
  const Status fine;
  CHECK(fine.ok());
  CHECK(static_cast<bool>(fine));
  CHECK(check_even(2).ok());

  const Status odd = check_even(3);
  CHECK_FALSE(odd.ok());
  CHECK_FALSE(static_cast<bool>(odd));
  CHECK(odd.error() == "odd");
}
