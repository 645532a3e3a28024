// Parsing and printing of setting values: integers with bounds, sizes
// ("64KiB"), durations ("250ms"), booleans and HOST:PORT endpoints. Each parser
// returns the value or the reason it is invalid, worded for an operator.
#pragma once

#include "config/settings.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace herald::config {

/// Why a value was rejected, worded for an operator.
struct invalid {
  std::string reason;
};

template <class T>
using parsed = std::variant<T, invalid>;

parsed<int64_t> parse_integer(std::string_view text, int64_t min, int64_t max);
parsed<int64_t> parse_size(std::string_view text, int64_t min, int64_t max);
parsed<duration> parse_duration(std::string_view text, duration min, duration max);
parsed<bool> parse_bool(std::string_view text);
parsed<endpoint> parse_endpoint(std::string_view text);

std::string format_size(int64_t bytes);
std::string format_duration(duration d);
std::string format_endpoint(const endpoint& e);

} // namespace herald::config
