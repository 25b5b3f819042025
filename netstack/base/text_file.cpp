#include "netstack/base/text_file.hpp"

#include <fstream>
#include <sstream>

namespace usernet {

std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace usernet
