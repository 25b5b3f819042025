// Arbitrary zone patterns and names into the DNS zone table: a pattern RE2 refuses must be
// an error, never a crash, and a lookup must finish whatever the pattern (RE2 is linear).
// Input: pattern bytes, a NUL, then the name to look up.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "dns/zones.hpp"

using namespace usernet::dns;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find('\0');
  const std::string pattern(input.substr(0, split));
  const std::string_view query = split == std::string_view::npos ? "a.fuzz.test" : input.substr(split + 1);
  ZoneTable table;
  if (!table.add(Zone{"fuzz.test", {{"", pattern, 1}}, 2})) return 0;  // refused with a reason
  if (auto name = DomainName::from_text(std::string(query) + ".fuzz.test")) (void)table.find(*name);
  return 0;
}
