// The journal stores payloads and metadata as msgpack; clients speak JSON.
// This is the client side of the conversion: JSON -> msgpack validates
// (well-formed, bounded nesting, writable back as JSON) and is what every
// client payload goes through on the way in; the size a payload renders to
// is what the data limit counts. Rendering stored msgpack as JSON is the
// journal's own (storage/msgpack_json.hpp).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace herald::protocol {

/// Deepest nesting of arrays and objects accepted in a payload.
inline constexpr size_t max_payload_depth = 64;

/// Appends the msgpack encoding of the JSON text `json` to `out`. Returns
/// false (and sets `error`) for malformed JSON, trailing garbage, nesting
/// deeper than `max_depth`, or what RapidJSON accepts but is not valid JSON
/// to write back (protocol/json_value_check.hpp); `out` is then unspecified.
bool json_to_msgpack(std::string_view json, std::string& out, std::string& error,
                     size_t max_depth = max_payload_depth);

/// Appends the msgpack encoding of an already parsed JSON value (a
/// command's `data`) to `out`, without rendering and parsing it again.
/// Returns false (and sets `error`) as json_to_msgpack does for what the
/// value holds.
bool value_to_msgpack(const rapidjson::Value& value, std::string& out, std::string& error,
                      size_t max_depth = max_payload_depth);

/// The size of what msgpack_to_json renders for `mp`: the bytes a subscriber
/// receives as a publication's data (storage::msgpack_to_json). nullopt for malformed msgpack.
std::optional<size_t> rendered_json_size(std::string_view mp);

/// The one data size limit of every append path (websocket.max_data_bytes):
/// whether the data `mp` renders to at most `max_bytes` bytes of JSON. It is
/// checked on the rendering, not on what the client sent, because that is
/// what every subscriber's queue must hold (docs/security.md). Malformed
/// msgpack does not fit.
bool data_within_limit(std::string_view mp, size_t max_bytes);

} // namespace herald::protocol
