// The arguments of an append, as REST (POST /api/streams/{stream}) and the
// rpc "append" both take them: the expected version, an event's type and id,
// and the stream's name. Pure functions over RapidJSON values, so both APIs
// check the same rules with the same words.
//
// Where the two APIs differ today, a parameter says so: REST takes a
// version number in a string ("5") and refuses an empty id; the rpc takes
// numbers only and reads an empty id as none.
#pragma once

#include "storage/event.hpp"
#include "storage/result.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace herald::protocol {

/// The longest event type (REST `type`, WebSocket `data.type`, rpc `type`).
inline constexpr size_t max_type_length = 128;
/// The longest event id.
inline constexpr size_t max_event_id_length = 256;

/// Why an append argument is malformed. REST answers 400 with `message`;
/// the rpc "append" answers 107 "bad request" for every one.
struct bad_append_arg {
  std::string_view message;
};

/// An argument's value, or why it is malformed.
template <class T>
using append_arg = storage::result<T, bad_append_arg>;

/// Whether `name` may name a stream: 1 to `max_length` bytes
/// (channels.max_name_length).
bool valid_stream_name(std::string_view name, size_t max_length);

/// "any", "no_stream", "exists" or a version number in decimal.
std::optional<storage::expected_version> expected_version_from_text(std::string_view text);

/// Whether a string field may hold a version number in decimal.
enum class number_strings { taken, refused };

/// The expected version: `field` (nullptr when absent) is a number or a
/// string; when absent, `absent_text` is read instead (REST: the
/// Expected-Version header, else "any").
append_arg<storage::expected_version> parse_expected_version(const rapidjson::Value* field,
                                                             std::string_view absent_text,
                                                             number_strings numbers);

/// An event's `type` field (nullptr when absent): nullopt when absent, else
/// a string of 1 to max_type_length bytes.
append_arg<std::optional<std::string>> parse_event_type(const rapidjson::Value* field);

/// What an empty `id` means.
enum class empty_id { refused, means_none };

/// An event's `id` field (nullptr when absent): "" when absent, else a
/// string of at most max_event_id_length bytes.
append_arg<std::string> parse_event_id(const rapidjson::Value* field, empty_id empty);

/// The type of an event that names none: `data.type` when `data` is an
/// object with a string `type` of 1 to max_type_length bytes, else the
/// namespace's `default_type`. REST and WebSocket `publish` follow it.
std::string event_type_of(const rapidjson::Value* data, std::string_view default_type);

} // namespace herald::protocol
