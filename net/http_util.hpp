// Small HTTP helpers shared by the REST API and the HTTP session: URL
// decoding, query strings, and the JSON error body every error response uses.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace herald::net {

/// Percent-decodes a path segment or query value; nullopt when malformed
/// (a stray '%', bytes that decode to a NUL, or a result that is not UTF-8).
std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space);

/// Splits "a=1&b=two" into a map of decoded keys and values; nullopt when
/// anything in it is malformed.
std::optional<std::map<std::string, std::string>> parse_query(std::string_view query);

/// Beast's string_view (boost::string_view in 1.74) as a std::string_view.
template <class BoostStringView>
std::string_view as_std(BoostStringView s) {
  return {s.data(), s.size()};
}

/// {"error":{"code":CODE,"message":MESSAGE}}
std::string error_body(std::string_view code, std::string_view message);

} // namespace herald::net
