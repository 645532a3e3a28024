// Fuzz target: the client-frame decoder (protocol/client_frame.hpp). A
// WebSocket message is split into commands; each command's fields are read
// with the typed accessors and each command goes through its typed decoder
// (protocol/commands.hpp), and its "data" payload goes through the payload
// codec, as session_actor.cpp does.
#include "fuzz_entries.hpp"
#include "json_checks.hpp"
#include "protocol/client_frame.hpp"
#include "protocol/commands.hpp"
#include "protocol/json_value_check.hpp"
#include "protocol/payload_codec.hpp"

#include <optional>
#include <string>
#include <vector>

namespace herald::fuzz {

namespace {

/// Keys the session actor reads from some command (or from rpc data, or
/// from history's "since"), and a few the SDK sends that it ignores.
constexpr const char* keys[] = {
  "channel",    "data",    "offset",  "epoch",      "limit",
  "since",      "token",   "method",  "recover",    "flag",
  "type",       "tf",      "reverse", "id",         "name",
  "version",    "subs",    "delta",   "join_leave", "expected_version",
  "positioned", "headers", "info",    "missing",    "",
};

/// Every accessor on `key` agrees with the raw value.
void check_accessors(const rapidjson::Value* obj, const char* key) {
  const rapidjson::Value* raw = protocol::get(obj, key);
  HERALD_FUZZ_CHECK(!raw || (obj && obj->IsObject()));

  auto s = protocol::get_string(obj, key);
  HERALD_FUZZ_CHECK(s.present == (raw != nullptr));
  HERALD_FUZZ_CHECK(s.ok == (!raw || raw->IsString()));
  if (raw && s.ok)
    HERALD_FUZZ_CHECK(s.value == std::string_view(raw->GetString(), raw->GetStringLength()));

  auto u = protocol::get_uint(obj, key);
  HERALD_FUZZ_CHECK(u.present == (raw != nullptr));
  HERALD_FUZZ_CHECK(u.ok == (!raw || raw->IsUint64()));
  if (raw && u.ok)
    HERALD_FUZZ_CHECK(u.value == raw->GetUint64());

  auto i = protocol::get_int(obj, key);
  HERALD_FUZZ_CHECK(i.present == (raw != nullptr));
  HERALD_FUZZ_CHECK(i.ok == (!raw || raw->IsInt64()));
  if (raw && i.ok)
    HERALD_FUZZ_CHECK(i.value == raw->GetInt64());

  auto b = protocol::get_bool(obj, key);
  HERALD_FUZZ_CHECK(b.ok == (!raw || raw->IsBool()));
  HERALD_FUZZ_CHECK(b.value == (raw && raw->IsBool() && raw->GetBool()));

  if (raw) {
    // Replies embed values as compact JSON: one line that parses back.
    auto text = protocol::json_text(*raw);
    HERALD_FUZZ_CHECK(text.find('\n') == std::string::npos);
    rapidjson::Document doc;
    HERALD_FUZZ_CHECK(parse_json(text, doc));
    HERALD_FUZZ_CHECK(same_json(doc, *raw));
  }
}

void check_fields(const rapidjson::Value* obj) {
  for (const char* key : keys)
    check_accessors(obj, key);
}

/// What session_actor.cpp's payload_of does with "data": compact JSON, then
/// msgpack for the journal. The frame was depth-checked, so the payload is
/// within the codec's limit and must convert, and render back the same.
void check_payload(const rapidjson::Value* data) {
  std::string json = data ? protocol::json_text(*data) : std::string("null");
  std::string mp, error;
  HERALD_FUZZ_CHECK(protocol::json_to_msgpack(json, mp, error));
  rapidjson::Value null_value;
  check_msgpack_holds(mp, data ? *data : null_value);
}

/// A decoder either decodes or answers 107 (bad request).
template <class T>
void check_decoded(const protocol::decoded<T>& d) {
  if (!d)
    HERALD_FUZZ_CHECK(d.error().code == protocol::error_code::bad_request);
}

/// A channel command's decoder reports the channel the command names (also
/// when another field is malformed), and only that one.
template <class T>
void check_channel(const protocol::command& cmd, const protocol::decoded<T>& d) {
  check_decoded(d);
  auto raw = protocol::get_string(cmd.body, "channel");
  const std::string* channel = protocol::channel_of(d);
  HERALD_FUZZ_CHECK((channel != nullptr) == (raw.present && raw.ok));
  if (channel)
    HERALD_FUZZ_CHECK(*channel == raw.value);
  HERALD_FUZZ_CHECK(protocol::channel_named(cmd)
                    == (channel ? std::optional(*channel) : std::nullopt));
}

/// What the session decodes of each command.
void check_commands(const protocol::command& cmd) {
  using protocol::method;
  switch (cmd.what) {
    case method::connect:
      check_decoded(protocol::decode_connect(cmd));
      break;
    case method::subscribe:
      check_channel(cmd, protocol::decode_subscribe(cmd));
      break;
    case method::unsubscribe:
      check_decoded(protocol::decode_unsubscribe(cmd));
      break;
    case method::publish:
      check_channel(cmd, protocol::decode_publish(cmd));
      break;
    case method::presence:
      check_channel(cmd, protocol::decode_presence(cmd));
      break;
    case method::presence_stats:
      check_channel(cmd, protocol::decode_presence_stats(cmd));
      break;
    case method::history:
      check_channel(cmd, protocol::decode_history(cmd));
      break;
    case method::rpc: {
      auto r = protocol::decode_rpc(cmd);
      check_decoded(r);
      const auto* call = r ? &*r : nullptr;
      if (call && call->method == "append") {
        auto args = protocol::decode_append(call->data);
        check_decoded(args);
        const std::string* channel = protocol::channel_of(args);
        HERALD_FUZZ_CHECK(protocol::channel_named(cmd)
                          == (channel ? std::optional(*channel) : std::nullopt));
      }
      break;
    }
    case method::send:
      check_decoded(protocol::decode_send(cmd));
      break;
    case method::refresh:
      check_decoded(protocol::decode_refresh(cmd));
      break;
    case method::sub_refresh:
      check_channel(cmd, protocol::decode_sub_refresh(cmd));
      break;
    case method::pong:
    case method::unknown:
      HERALD_FUZZ_CHECK(!protocol::channel_named(cmd));
      break;
  }
}

} // namespace

void client_frame(std::string_view input) {
  std::vector<protocol::command> commands;
  std::string error;
  if (!protocol::parse_frame(input, commands, error)) {
    HERALD_FUZZ_CHECK(!error.empty());
    return;
  }
  HERALD_FUZZ_CHECK(!commands.empty());
  for (const auto& cmd : commands) {
    HERALD_FUZZ_CHECK(cmd.doc && cmd.doc->IsObject());
    // A pong ({} or only an id) has no method object; every other command has one.
    HERALD_FUZZ_CHECK((cmd.what == protocol::method::pong) == (cmd.body == nullptr));
    check_fields(cmd.body);
    check_commands(cmd);
    check_payload(protocol::get(cmd.body, "data"));
    // history's "since", rpc's "data" (the append rpc's arguments, whose own
    // "data" is the event payload) and connect's per-channel "subs".
    check_fields(protocol::get(cmd.body, "since"));
    const auto* args = protocol::get(cmd.body, "data");
    check_fields(args);
    if (args && args->IsObject())
      check_payload(protocol::get(args, "data"));
    if (const auto* subs = protocol::get(cmd.body, "subs"); subs && subs->IsObject())
      for (const auto& sub : subs->GetObject())
        check_fields(&sub.value);
    // Replies quote the method name and the client's strings.
    rapidjson::Document reply;
    HERALD_FUZZ_CHECK(parse_json(
      protocol::error_reply(cmd.id, protocol::error_code::bad_request, cmd.name), reply));
    auto channel = protocol::get_string(cmd.body, "channel");
    HERALD_FUZZ_CHECK(
      parse_json(protocol::unsubscribe_push(
                   channel.value, protocol::unsubscribe_code::insufficient_state, cmd.name),
                 reply));
  }
}

} // namespace herald::fuzz

HERALD_FUZZ_TARGET(herald::fuzz::client_frame)
