#include "hypervisor/option_list.hpp"

#include <charconv>

#include "hypervisor/config_error.hpp"

namespace usernet {

namespace {

/// Turns one raw field ("key=value" or "flag") into an Option.
Option make_option(const std::string& field) {
  Option option;
  const auto equals = field.find('=');
  if (equals == std::string::npos) {
    option.key = field;
  } else {
    option.key = field.substr(0, equals);
    option.value = field.substr(equals + 1);
    option.has_value = true;
  }
  return option;
}

}  // namespace

OptionList split_options(std::string_view text) {
  std::vector<std::string> fields;
  std::string current;
  bool quoted = false;
  for (const char c : text) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (quoted) throw ConfigError("quote", "unterminated '\"' in \"" + std::string(text) + "\"");
  fields.push_back(std::move(current));

  OptionList list;
  list.type = fields.front();
  if (list.type.empty()) throw ConfigError("type", "missing type before the first ','");
  for (std::size_t i = 1; i < fields.size(); ++i) {
    if (fields[i].empty()) continue;
    list.options.push_back(make_option(fields[i]));
  }
  return list;
}

OptionReader::OptionReader(std::string what, std::vector<Option> options)
    : what_(std::move(what)), options_(std::move(options)), used_(options_.size(), false) {}

const Option* OptionReader::find_once(std::string_view key) {
  const Option* found = nullptr;
  for (std::size_t i = 0; i < options_.size(); ++i) {
    if (options_[i].key != key) continue;
    if (found != nullptr) throw ConfigError(std::string(key), what_ + ": '" + std::string(key) + "' given twice");
    found = &options_[i];
    used_[i] = true;
  }
  return found;
}

bool OptionReader::has(std::string_view key) { return find_once(key) != nullptr; }

std::optional<std::string> OptionReader::value(std::string_view key) {
  const Option* option = find_once(key);
  if (option == nullptr) return std::nullopt;
  if (!option->has_value || option->value.empty()) {
    throw ConfigError(option->key, what_ + ": '" + option->key + "' needs a value (" + option->key + "=...)");
  }
  return option->value;
}

std::optional<bool> OptionReader::optional_flag(std::string_view key) {
  const Option* option = find_once(key);
  if (option == nullptr) return std::nullopt;
  if (!option->has_value) return true;
  const std::string& v = option->value;
  if (v == "on" || v == "true" || v == "yes") return true;
  if (v == "off" || v == "false" || v == "no") return false;
  throw ConfigError(option->key, what_ + ": '" + option->key + "' takes no value or on/off, not '" + v + "'");
}

std::optional<std::uint64_t> OptionReader::number(std::string_view key, std::uint64_t min,
                                                  std::uint64_t max) {
  const auto text = value(key);
  if (!text) return std::nullopt;
  std::uint64_t result = 0;
  const auto* end = text->data() + text->size();
  const auto [ptr, ec] = std::from_chars(text->data(), end, result);
  if (ec != std::errc{} || ptr != end || result < min || result > max) {
    throw ConfigError(std::string(key), what_ + ": '" + std::string(key) + "' must be a number from " +
                                            std::to_string(min) + " to " + std::to_string(max) +
                                            ", not '" + *text + "'");
  }
  return result;
}

void OptionReader::reject_unknown() const {
  for (std::size_t i = 0; i < options_.size(); ++i) {
    if (!used_[i]) {
      throw ConfigError(options_[i].key, what_ + ": unknown option '" + options_[i].key + "'");
    }
  }
}

}  // namespace usernet
