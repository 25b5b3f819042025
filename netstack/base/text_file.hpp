// Reading a small text file whole (configs, /proc files).
#pragma once

#include <optional>
#include <string>

namespace usernet {

/// The file's whole content, or nullopt when it cannot be opened or read.
std::optional<std::string> read_text_file(const std::string& path);

}  // namespace usernet
