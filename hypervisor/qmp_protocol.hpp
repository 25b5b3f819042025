// QEMU Machine Protocol (QMP) messages as pure code: splitting the byte stream into
// messages, classifying them (greeting, return, error, event) and formatting commands.
// QEMU sends one JSON object per line ("\r\n"); see QEMU's docs/interop/qmp-spec.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace usernet {

enum class QmpMessageKind {
  greeting,  // {"QMP": {"version": ..., "capabilities": [...]}}
  result,    // {"return": ..., "id": N}
  error,     // {"error": {"class": ..., "desc": ...}, "id": N}
  event,     // {"event": NAME, "data": {...}, "timestamp": {...}}
  invalid,   // not JSON, not an object, or none of the above
};

// The implicit destructor runs nlohmann::json's, whose flattening of nested values may
// allocate; a bad_alloc there ends the program anyway.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct QmpMessage {
  QmpMessageKind kind = QmpMessageKind::invalid;
  std::optional<std::uint64_t> id;  // for result/error, when the command carried one
  std::string event;                // event name
  nlohmann::json body;              // greeting's "QMP", result's "return", event's "data"
  std::string error_class;          // error's "class"
  std::string error_description;    // error's "desc", or why a message is invalid
};

/// Classifies one message (one line, without the line end).
QmpMessage parse_qmp_message(std::string_view line);

/// {"execute": command, "arguments": arguments (if not null), "id": id} + "\r\n".
std::string format_qmp_command(std::string_view command, std::uint64_t id,
                               const nlohmann::json& arguments = nullptr);

/// Collects stream bytes and hands out complete lines. A line longer than max_line is an
/// error (QEMU's replies are small; a huge line means a broken peer) and poisons the splitter.
class QmpLineSplitter {
 public:
  explicit QmpLineSplitter(std::size_t max_line = 1 << 20) : max_line_(max_line) {}
  /// Appends bytes; returns the complete lines (without "\r\n" / "\n"). Empty lines are skipped.
  std::vector<std::string> feed(std::string_view bytes);
  bool overflowed() const { return overflowed_; }

 private:
  std::size_t max_line_;
  std::string pending_;
  bool overflowed_ = false;
};

}  // namespace usernet
