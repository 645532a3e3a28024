// The journal stores payloads and metadata as msgpack; clients speak JSON.
// These convert between the two. JSON -> msgpack validates (well-formed,
// bounded nesting) and is what every client payload goes through on the way
// in; msgpack -> JSON renders compact JSON (no raw newlines, so a rendered
// payload can be embedded in a newline-delimited protocol frame).
#pragma once

#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace herald::storage {

/// Deepest nesting of arrays and objects accepted in a payload.
inline constexpr size_t max_payload_depth = 64;

/// Appends the msgpack encoding of the JSON text `json` to `out`. Returns
/// false (and sets `error`) for malformed JSON, trailing garbage, nesting
/// deeper than `max_depth`, or what RapidJSON accepts but is not valid JSON
/// to write back (storage/json_value_check.hpp); `out` is then unspecified.
bool json_to_msgpack(std::string_view json, std::string& out, std::string& error,
                     size_t max_depth = max_payload_depth);

/// Appends the msgpack encoding of an already parsed JSON value (a
/// command's `data`) to `out`, without rendering and parsing it again.
/// Returns false (and sets `error`) as json_to_msgpack does for what the
/// value holds.
bool value_to_msgpack(const rapidjson::Value& value, std::string& out, std::string& error,
                      size_t max_depth = max_payload_depth);

/// Appends the compact JSON rendering of the msgpack value `mp` to `out`.
/// An empty input renders as `null`. Returns false for malformed msgpack.
bool msgpack_to_json(std::string_view mp, std::string& out);

/// The size of what msgpack_to_json renders for `mp`: the bytes a subscriber
/// receives as a publication's data. nullopt for malformed msgpack.
std::optional<size_t> rendered_json_size(std::string_view mp);

/// The one data size limit of every append path (websocket.max_data_bytes):
/// whether the data `mp` renders to at most `max_bytes` bytes of JSON. It is
/// checked on the rendering, not on what the client sent, because that is
/// what every subscriber's queue must hold (docs/security.md). Malformed
/// msgpack does not fit.
bool data_within_limit(std::string_view mp, size_t max_bytes);

/// Appends `text` as a JSON string literal (quoted and escaped) to `out`.
void append_json_string(std::string& out, std::string_view text);

} // namespace herald::storage
