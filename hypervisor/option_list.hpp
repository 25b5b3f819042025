// Splits vfkit-style option strings ("virtio-blk,path=/d.img,readonly") into a type and
// ordered key[=value] options. Double quotes group text containing commas and are removed:
// both `"cmdline=a b,c"` and `cmdline="a b,c"` give key cmdline, value `a b,c`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace usernet {

struct Option {
  std::string key;
  std::string value;
  bool has_value = false;  // "readonly" vs "readonly="
};

struct OptionList {
  std::string type;  // the first field
  std::vector<Option> options;
};

/// Splits text at unquoted commas; empty fields (",,") are skipped as vfkit does.
/// Throws ConfigError (key "quote") on an unterminated quote, and (key "type") when the
/// first field is empty.
OptionList split_options(std::string_view text);

/// Reads options of one device/bootloader and checks them: every key must be consumed
/// exactly once, so unknown and repeated keys are reported by name.
class OptionReader {
 public:
  /// what: "virtio-net", "linux bootloader"... used in error messages.
  OptionReader(std::string what, std::vector<Option> options);

  /// True if key is present; throws if it appears more than once.
  bool has(std::string_view key);
  /// The value of key, or nullopt; throws if it appears twice or has no "=value".
  std::optional<std::string> value(std::string_view key);
  /// A flag without value ("readonly"); "key=on|true|yes" and "off|false|no" also work.
  bool flag(std::string_view key) { return optional_flag(key).value_or(false); }
  /// Like flag(), but nullopt when the key is absent.
  std::optional<bool> optional_flag(std::string_view key);
  /// An unsigned number in [min, max], or nullopt when absent; throws on bad text.
  std::optional<std::uint64_t> number(std::string_view key, std::uint64_t min, std::uint64_t max);
  /// Throws ConfigError naming the first option nobody asked for.
  void reject_unknown() const;
  const std::string& what() const { return what_; }

 private:
  const Option* find_once(std::string_view key);

  std::string what_;
  std::vector<Option> options_;
  std::vector<bool> used_;
};

}  // namespace usernet
