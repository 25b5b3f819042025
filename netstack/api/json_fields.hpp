// Reading JSON objects the way Go's encoding/json does, for the gvproxy-compatible API:
// keys match case-insensitively and, of several matches, the last one wins.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace usernet {

/// The value of `key` in `object` (an object), or nullptr if absent.
const nlohmann::json* find_field(const nlohmann::json& object, std::string_view key);

}  // namespace usernet
