// The one way a parser, protocol engine or other fallible call without exceptions reports
// failure: a Result<T> holds either the value or a one-line message naming what failed;
// Status (Result<void>) is success or that message. `return Error{"bad port"};` converts
// into any of them. Constructors and configuration still throw std::runtime_error.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

namespace usernet {

/// A failure's one-line message; converts into any Result or Status.
struct Error {
  std::string message;
};

/// Either a T or an Error's message.
template <class T>
class [[nodiscard]] Result {
 public:
  /// A success holding `value` (anything T can be built from).
  template <class U = T>
    requires(std::is_constructible_v<T, U &&> && !std::is_same_v<std::remove_cvref_t<U>, Result> &&
             !std::is_same_v<std::remove_cvref_t<U>, Error>)
  // NOLINTNEXTLINE(bugprone-forwarding-reference-overload): the requires clause excludes Result.
  Result(U&& value) : state_(std::in_place_index<0>, std::forward<U>(value)) {}
  /// A failure with `error`'s message.
  Result(Error error) : state_(std::in_place_index<1>, std::move(error.message)) {}

  /// True when this holds a value.
  bool ok() const { return state_.index() == 0; }
  /// The same as ok().
  explicit operator bool() const { return ok(); }

  /// The value; only when ok().
  T& value() & {
    assert(ok());
    return std::get<0>(state_);
  }
  /// The value; only when ok().
  const T& value() const& {
    assert(ok());
    return std::get<0>(state_);
  }
  /// The value, moved out; only when ok().
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(state_));
  }
  /// The same as value().
  T& operator*() & { return value(); }
  /// The same as value().
  const T& operator*() const& { return value(); }
  /// The same as value(), moved out.
  T&& operator*() && { return std::move(*this).value(); }
  /// The value's members; only when ok().
  T* operator->() { return &value(); }
  /// The value's members; only when ok().
  const T* operator->() const { return &value(); }

  /// The one-line message; only when !ok().
  const std::string& error() const {
    assert(!ok());
    return std::get<1>(state_);
  }

 private:
  std::variant<T, std::string> state_;
};

/// Success (default-constructed) or an Error's message.
template <>
class [[nodiscard]] Result<void> {
 public:
  /// Success.
  Result() = default;
  /// A failure with `error`'s message.
  Result(Error error) : error_(std::move(error.message)) {}

  /// True on success.
  bool ok() const { return !error_; }
  /// The same as ok().
  explicit operator bool() const { return ok(); }

  /// The one-line message; only when !ok().
  const std::string& error() const {
    assert(!ok());
    return *error_;
  }

 private:
  std::optional<std::string> error_;
};

/// Success or a one-line message, for calls that produce nothing else.
using Status = Result<void>;

}  // namespace usernet
