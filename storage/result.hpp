// "A value, or why not": storage's idiom for outcomes a caller expects and
// handles (a query with a bad parameter, a handler SQL that does not
// compile), in the shape of C++23's std::expected. What makes an operation
// impossible (the disk refused, the file is damaged) stays an exception:
// storage::failure.
#pragma once

#include <utility>
#include <variant>

namespace herald::storage {

/// The error side of a result, as in `return unexpected{query_error{...}};`.
template <class E>
struct unexpected {
  E error;
};

template <class E>
unexpected(E) -> unexpected<E>;

template <class T, class E>
class [[nodiscard]] result {
public:
  result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  result(unexpected<E> e) : v_(std::in_place_index<1>, std::move(e.error)) {}

  bool has_value() const noexcept {
    return v_.index() == 0;
  }
  explicit operator bool() const noexcept {
    return has_value();
  }

  /// The value; only when has_value().
  T& value() & {
    return std::get<0>(v_);
  }
  const T& value() const& {
    return std::get<0>(v_);
  }
  T&& value() && {
    return std::get<0>(std::move(v_));
  }
  T& operator*() & {
    return value();
  }
  const T& operator*() const& {
    return value();
  }
  T* operator->() {
    return &value();
  }
  const T* operator->() const {
    return &value();
  }

  /// Why not; only when !has_value().
  const E& error() const& {
    return std::get<1>(v_);
  }
  E&& error() && {
    return std::get<1>(std::move(v_));
  }

private:
  std::variant<T, E> v_;
};

/// A result with no value: success, or why not.
template <class E>
class [[nodiscard]] result<void, E> {
public:
  result() = default;
  result(unexpected<E> e) : error_(std::move(e.error)), failed_(true) {}

  bool has_value() const noexcept {
    return !failed_;
  }
  explicit operator bool() const noexcept {
    return has_value();
  }
  const E& error() const& {
    return error_;
  }
  E&& error() && {
    return std::move(error_);
  }

private:
  E error_{};
  bool failed_ = false;
};

} // namespace herald::storage
