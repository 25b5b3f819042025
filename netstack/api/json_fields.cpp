#include "netstack/api/json_fields.hpp"

#include <algorithm>
#include <cctype>

namespace usernet {

const nlohmann::json* find_field(const nlohmann::json& object, std::string_view key) {
  const nlohmann::json* found = nullptr;
  for (auto it = object.begin(); it != object.end(); ++it) {
    const std::string& k = it.key();
    if (k.size() == key.size() && std::equal(k.begin(), k.end(), key.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      found = &it.value();
  }
  return found;
}

}  // namespace usernet
