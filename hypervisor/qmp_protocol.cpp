#include "hypervisor/qmp_protocol.hpp"

namespace usernet {

namespace {

/// The "id" member when it is an unsigned integer (we only ever send those).
std::optional<std::uint64_t> message_id(const nlohmann::json& object) {
  const auto it = object.find("id");
  if (it == object.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<std::uint64_t>();
}

/// A string member, or "" when absent or not a string (peer data is never trusted).
std::string string_member(const nlohmann::json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

QmpMessage invalid(std::string why) {
  QmpMessage message;
  message.error_description = std::move(why);
  return message;
}

}  // namespace

QmpMessage parse_qmp_message(std::string_view line) {
  nlohmann::json object = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) return invalid("not JSON");
  if (!object.is_object()) return invalid("not a JSON object");

  QmpMessage message;
  if (const auto it = object.find("QMP"); it != object.end() && it->is_object()) {
    message.kind = QmpMessageKind::greeting;
    message.body = *it;
  } else if (const auto ret = object.find("return"); ret != object.end()) {
    message.kind = QmpMessageKind::result;
    message.id = message_id(object);
    message.body = *ret;
  } else if (const auto err = object.find("error"); err != object.end() && err->is_object()) {
    message.kind = QmpMessageKind::error;
    message.id = message_id(object);
    message.error_class = string_member(*err, "class");
    message.error_description = string_member(*err, "desc");
  } else if (const auto ev = object.find("event"); ev != object.end() && ev->is_string()) {
    message.kind = QmpMessageKind::event;
    message.event = ev->get<std::string>();
    if (const auto data = object.find("data"); data != object.end()) message.body = *data;
  } else {
    return invalid("unknown QMP message");
  }
  return message;
}

std::string format_qmp_command(std::string_view command, std::uint64_t id, const nlohmann::json& arguments) {
  nlohmann::json object{{"execute", command}, {"id", id}};
  if (!arguments.is_null()) object["arguments"] = arguments;
  return object.dump() + "\r\n";
}

std::vector<std::string> QmpLineSplitter::feed(std::string_view bytes) {
  std::vector<std::string> lines;
  if (overflowed_) return lines;
  pending_.append(bytes);
  std::size_t start = 0;
  for (std::size_t newline; (newline = pending_.find('\n', start)) != std::string::npos; start = newline + 1) {
    std::size_t end = newline;
    if (end > start && pending_[end - 1] == '\r') --end;
    if (end - start > max_line_) {
      overflowed_ = true;
      pending_.clear();
      return {};
    }
    if (end > start) lines.emplace_back(pending_, start, end - start);
  }
  pending_.erase(0, start);
  if (pending_.size() > max_line_) {
    overflowed_ = true;
    pending_.clear();
  }
  return lines;
}

}  // namespace usernet
