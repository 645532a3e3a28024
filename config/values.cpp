#include "config/values.hpp"

#include <charconv>
#include <limits>

namespace herald::config {

namespace {

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

/// Splits "250ms" into 250 and "ms"; fails when no digits lead.
bool split_number(std::string_view text, int64_t& number, std::string_view& unit) {
  const char* first = text.data();
  const char* last = first + text.size();
  auto [ptr, ec] = std::from_chars(first, last, number);
  if (ec != std::errc{} || ptr == first)
    return false;
  unit = std::string_view(ptr, static_cast<size_t>(last - ptr));
  while (!unit.empty() && unit.front() == ' ')
    unit.remove_prefix(1);
  return true;
}

bool scale(int64_t number, int64_t factor, int64_t& out) {
  if (number > std::numeric_limits<int64_t>::max() / factor
      || number < std::numeric_limits<int64_t>::min() / factor)
    return false;
  out = number * factor;
  return true;
}

} // namespace

parsed<int64_t> parse_integer(std::string_view text, int64_t min, int64_t max) {
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range)
    return invalid{quoted(text) + " is out of range (" + std::to_string(min) + ".."
                   + std::to_string(max) + ")"};
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty())
    return invalid{quoted(text) + " is not an integer"};
  if (value < min || value > max)
    return invalid{std::to_string(value) + " is out of range (" + std::to_string(min) + ".."
                   + std::to_string(max) + ")"};
  return value;
}

parsed<int64_t> parse_size(std::string_view text, int64_t min, int64_t max) {
  int64_t number = 0;
  std::string_view unit;
  if (!split_number(text, number, unit) || number < 0)
    return invalid{quoted(text) + " is not a size (examples: 65536, \"64KiB\", \"4MiB\")"};
  int64_t factor = 0;
  if (unit.empty() || unit == "B")
    factor = 1;
  else if (unit == "KiB" || unit == "KB" || unit == "K")
    factor = 1024;
  else if (unit == "MiB" || unit == "MB" || unit == "M")
    factor = 1024 * 1024;
  else if (unit == "GiB" || unit == "GB" || unit == "G")
    factor = int64_t{1024} * 1024 * 1024;
  else
    return invalid{quoted(text) + " has an unknown unit (use B, KiB, MiB or GiB)"};
  int64_t bytes = 0;
  if (!scale(number, factor, bytes) || bytes < min || bytes > max)
    return invalid{quoted(text) + " is out of range (" + format_size(min) + ".." + format_size(max)
                   + ")"};
  return bytes;
}

parsed<duration> parse_duration(std::string_view text, duration min, duration max) {
  int64_t number = 0;
  std::string_view unit;
  if (!split_number(text, number, unit) || number < 0 || unit.empty())
    return invalid{quoted(text)
                   + " is not a duration (examples: \"250ms\", \"30s\", \"5m\", \"1h\")"};
  int64_t factor = 0;
  if (unit == "ms")
    factor = 1;
  else if (unit == "s")
    factor = 1000;
  else if (unit == "m" || unit == "min")
    factor = 60 * 1000;
  else if (unit == "h")
    factor = 3600 * 1000;
  else
    return invalid{quoted(text) + " has an unknown unit (use ms, s, m or h)"};
  int64_t ms = 0;
  if (!scale(number, factor, ms) || duration(ms) < min || duration(ms) > max)
    return invalid{quoted(text) + " is out of range (" + format_duration(min) + ".."
                   + format_duration(max) + ")"};
  return duration(ms);
}

parsed<bool> parse_bool(std::string_view text) {
  if (text == "true" || text == "1" || text == "yes" || text == "on")
    return true;
  if (text == "false" || text == "0" || text == "no" || text == "off")
    return false;
  return invalid{quoted(text) + " is not a boolean (true or false)"};
}

parsed<endpoint> parse_endpoint(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0)
    return invalid{quoted(text) + " is not HOST:PORT (example: 127.0.0.1:8000)"};
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2); // [::1]:8000
  auto port = parse_integer(text.substr(colon + 1), 0, 65535);
  if (auto* bad = std::get_if<invalid>(&port))
    return invalid{quoted(text) + ": port " + bad->reason};
  return endpoint{std::string(host), static_cast<uint16_t>(std::get<int64_t>(port))};
}

std::string format_size(int64_t bytes) {
  constexpr int64_t kib = 1024, mib = kib * 1024, gib = mib * 1024;
  if (bytes >= gib && bytes % gib == 0)
    return std::to_string(bytes / gib) + "GiB";
  if (bytes >= mib && bytes % mib == 0)
    return std::to_string(bytes / mib) + "MiB";
  if (bytes >= kib && bytes % kib == 0)
    return std::to_string(bytes / kib) + "KiB";
  return std::to_string(bytes) + "B";
}

std::string format_duration(duration d) {
  auto ms = d.count();
  if (ms != 0 && ms % (3600 * 1000) == 0)
    return std::to_string(ms / (3600 * 1000)) + "h";
  if (ms != 0 && ms % (60 * 1000) == 0)
    return std::to_string(ms / (60 * 1000)) + "m";
  if (ms != 0 && ms % 1000 == 0)
    return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_endpoint(const endpoint& e) {
  if (e.host.find(':') != std::string::npos)
    return "[" + e.host + "]:" + std::to_string(e.port);
  return e.host + ":" + std::to_string(e.port);
}

} // namespace herald::config
