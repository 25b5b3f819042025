// Helpers the text-taking fuzz targets share.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace usernet::fuzz {

/// Splits text at '\n' (empty words kept: an empty argument is input too).
inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (;;) {
    const auto end = text.find('\n', start);
    lines.emplace_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return lines;
    start = end + 1;
  }
}

}  // namespace usernet::fuzz
