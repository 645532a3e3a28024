// What a client's parsed JSON must satisfy before any of it is journaled or
// echoed: nesting within a bound, and nothing that cannot be written back as
// valid JSON. RapidJSON 1.1.0 (Debian 12) accepts two things that fail the
// second rule: a number just past the double range ("8e308") becomes
// infinity without an error, and a lone low-surrogate escape ("\udc00")
// becomes the bytes ED B0 80, which are not UTF-8 (a browser fails the
// WebSocket connection on a text frame carrying them). Both were found by
// the fuzz targets of tests/fuzz. The client-frame decoder and the REST body
// parser run this on every document they accept.
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace herald::protocol {

enum class json_value_status {
  ok,
  too_deep,      ///< arrays and objects nested deeper than the bound
  not_finite,    ///< a number RapidJSON read as infinity
  bad_surrogate, ///< a string or key holding an unpaired UTF-16 surrogate
};

/// `v` written back as compact JSON text.
std::string json_text(const rapidjson::Value& v);

/// Checks `v` and everything in it; containers deeper than `max_depth`
/// levels below `v` are too deep.
json_value_status check_json_value(const rapidjson::Value& v, size_t max_depth);

/// Whether `text` holds a UTF-16 surrogate encoded as if it were a code point
/// (ED A0..BF xx), the only way a string decoded by RapidJSON with
/// kParseValidateEncodingFlag can be invalid UTF-8.
bool has_encoded_surrogate(std::string_view text);

/// The reason to give a client for a status other than ok.
const char* json_value_problem(json_value_status s);

} // namespace herald::protocol
