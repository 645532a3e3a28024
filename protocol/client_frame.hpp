// The client protocol's wire format (Centrifugo protocol v2, JSON; see
// docs/protocol.md): splitting a WebSocket message into commands, and
// encoding replies. The commands' fields are decoded into typed structs by
// protocol/commands.hpp. Pure functions, no actors: the session actor and
// the fuzz target both use them.
#pragma once

#include "protocol/codes.hpp"

#include <rapidjson/document.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::protocol {

enum class method : uint8_t {
  pong, ///< `{}`: no id, no method
  connect,
  subscribe,
  unsubscribe,
  publish,
  presence,
  presence_stats,
  history,
  rpc,
  send,
  refresh,
  sub_refresh,
  unknown,
};

struct command {
  uint32_t id = 0;
  method what = method::unknown;
  std::string name;                         ///< the method key as sent
  std::shared_ptr<rapidjson::Document> doc; ///< owns `body`
  const rapidjson::Value* body = nullptr;   ///< the method's object, if any
};

/// Splits a message into commands (one JSON object per line; blank lines
/// skipped). Returns false, with a reason, for anything malformed: text that
/// is not JSON objects, an id that is not a uint32, several method keys,
/// nesting deeper than `max_depth`, a number beyond the range of a double or
/// an unpaired surrogate escape (protocol/json_value_check.hpp).
bool parse_frame(std::string_view message, std::vector<command>& out, std::string& error,
                 size_t max_depth = 64);

/// Typed access to request fields; `present` tells whether the field was
/// there, `ok` whether it had the right type.
struct string_field {
  bool present = false;
  bool ok = true;
  std::string value;
};
string_field get_string(const rapidjson::Value* obj, const char* key);

struct uint_field {
  bool present = false;
  bool ok = true;
  uint64_t value = 0;
};
uint_field get_uint(const rapidjson::Value* obj, const char* key);

struct int_field {
  bool present = false;
  bool ok = true;
  int64_t value = 0;
};
int_field get_int(const rapidjson::Value* obj, const char* key);

/// A boolean field; absent is false, another type is not ok.
struct bool_field {
  bool ok = true;
  bool value = false;
};
bool_field get_bool(const rapidjson::Value* obj, const char* key);

/// The member `key` if present (any type), else nullptr.
const rapidjson::Value* get(const rapidjson::Value* obj, const char* key);

/// {"id":ID,"METHOD":RESULT}
std::string reply(uint32_t id, std::string_view method, std::string_view result_json);

/// {"id":ID,"error":{"code":C,"message":M[,"temporary":true]}}
std::string error_reply(uint32_t id, error_code code, std::string_view message,
                        bool temporary = false);

/// {"push":{"channel":C,"unsubscribe":{"code":N,"reason":R}}}
std::string unsubscribe_push(std::string_view channel, unsubscribe_code code,
                             std::string_view reason);

/// {"push":{"channel":C,"subscribe":RESULT}}: a server-side subscription
/// the server API made (RESULT is the SubscribeResult JSON).
std::string subscribe_push(std::string_view channel, std::string_view result_json);

/// The server ping: {}
inline constexpr std::string_view ping = "{}";

} // namespace herald::protocol
