// Centrifugo's server API as herald reads and writes it (docs/rest.md,
// "Centrifugo server API"): the requests of each method decoded from JSON
// into plain values, and the envelopes of the answers. Pure functions with
// no actors, sockets or settings: server_api.cpp runs the methods, and
// tests/net/server_api_codec_test.cpp checks these directly.
#pragma once

#include "storage/result.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::net::server_api {

/// Centrifugo's server API error codes (its source, internal/apiproto).
enum class code : int {
  internal = 100,
  unknown_channel = 102,
  not_found = 104, ///< an unknown method in a batch or a legacy line
  bad_request = 107,
  not_available = 108,
  unrecoverable_position = 112,
  conflict = 113,
};

struct error {
  code what = code::bad_request;
  std::string message;
};

template <class T>
using decoded = storage::result<T, error>;

/// A method's request body (or a batch command's, or a legacy line's
/// params), parsed: a JSON object, numbers read exactly, nesting bounded.
/// An empty body is {} (cent.js sends "{}" for info; curl may send nothing).
decoded<std::shared_ptr<rapidjson::Document>> parse_params(std::string_view body);

struct publish_args {
  std::string channel;     ///< empty in broadcast (channels named there)
  std::string data;        ///< msgpack
  std::string type;        ///< data.type, as on every append path; empty: the namespace's
  std::string tags;        ///< JSON object of strings, or empty
  std::string idempotency; ///< the event id, or empty
};
decoded<publish_args> decode_publish(const rapidjson::Value& params);

struct broadcast_args {
  std::vector<std::string> channels;
  publish_args publication;
};
decoded<broadcast_args> decode_broadcast(const rapidjson::Value& params);

/// Whose connections a subscribe, unsubscribe, disconnect or refresh acts
/// on: all of `user`'s, or only the one with id `client`.
struct connections {
  std::string user;
  std::string client;
};

struct subscription_args {
  connections who;
  std::string channel;
};
decoded<subscription_args> decode_subscription(const rapidjson::Value& params);

struct disconnect_args {
  connections who;
  std::vector<std::string> whitelist; ///< client ids spared
  uint16_t close_code = 3503;         ///< Centrifugo's "force disconnect"
  std::string reason = "force disconnect";
};
decoded<disconnect_args> decode_disconnect(const rapidjson::Value& params);

struct refresh_args {
  connections who;
  bool expired = false;
  int64_t expire_at = 0; ///< Unix seconds; 0: unchanged
  std::string info;      ///< JSON; empty: unchanged
};
decoded<refresh_args> decode_refresh(const rapidjson::Value& params);

/// presence, presence_stats, history_remove.
decoded<std::string> decode_channel(const rapidjson::Value& params);

struct history_args {
  std::string channel;
  int64_t limit = 0; ///< 0: only the stream's top; -1: all (capped)
  std::optional<uint64_t> since_offset;
  std::string since_epoch;
  bool reverse = false;
};
decoded<history_args> decode_history(const rapidjson::Value& params);

/// channels: the optional glob `pattern` (empty: every channel).
decoded<std::string> decode_pattern(const rapidjson::Value& params);

/// gobwas/glob as far as herald takes it: `*` any run of characters, `?`
/// one character, `\` escapes the next; anything else is literal.
bool glob_match(std::string_view pattern, std::string_view name);

/// The journal stream versions a history read covers: where it starts, in
/// which direction, and how many (0 when only the top is wanted).
struct history_read {
  uint64_t from = 1;
  bool forward = true;
  uint64_t count = 0;
};
history_read plan_history(const history_args& h, uint64_t cap);

/// {"result":RESULT}
std::string result_envelope(std::string_view result_json);
/// {"error":{"code":N,"message":M}}
std::string error_envelope(const error& e);

/// One command of a batch, {"publish":{...}}, or of a legacy line,
/// {"method":"publish","params":{...}}: its method and params (null when
/// the command is malformed: `problem` says why).
struct command {
  std::string method;
  const rapidjson::Value* params = nullptr;
  std::optional<error> problem;
};
std::vector<command> batch_commands(const rapidjson::Value& params, std::optional<error>& problem);
command legacy_command(const rapidjson::Value& line);

/// The non-blank lines of a legacy request body.
std::vector<std::string_view> legacy_lines(std::string_view body);

} // namespace herald::net::server_api
