#include "protocol/commands.hpp"

#include "protocol/append_args.hpp"

namespace herald::protocol {

namespace {

storage::unexpected<decode_error> malformed(std::optional<std::string> channel = std::nullopt) {
  return storage::unexpected{decode_error{error_code::bad_request, std::move(channel)}};
}

/// The `channel` of `obj` when it is a string.
std::optional<std::string> channel_field(const rapidjson::Value* obj) {
  auto channel = get_string(obj, "channel");
  if (!channel.present || !channel.ok)
    return std::nullopt;
  return std::move(channel.value);
}

/// {recover?, offset?, epoch?} as connect's `subs` carry them; nullopt when
/// not an object or a field has the wrong type.
std::optional<commands::connect::known_position> known_position_of(const rapidjson::Value& v) {
  auto recover = get_bool(&v, "recover");
  auto offset = get_uint(&v, "offset");
  auto epoch = get_string(&v, "epoch");
  if (!v.IsObject() || !recover.ok || !offset.ok || !epoch.ok)
    return std::nullopt;
  return commands::connect::known_position{recover.value, {offset.value, std::move(epoch.value)}};
}

/// A command whose only field is its channel.
template <class T>
decoded<T> channel_only(const command& cmd) {
  auto channel = channel_field(cmd.body);
  if (!channel)
    return malformed();
  return T{std::move(*channel)};
}

} // namespace

decoded<commands::connect> decode_connect(const command& cmd) {
  auto token = get_string(cmd.body, "token");
  const auto* subs = get(cmd.body, "subs");
  if (!token.ok || (subs && !subs->IsObject()))
    return malformed();
  commands::connect c;
  c.token = std::move(token.value);
  if (subs)
    for (const auto& m : subs->GetObject())
      if (auto p = known_position_of(m.value))
        // The first of repeated keys counts, as a lookup by name finds it.
        c.subs.emplace(std::string(m.name.GetString(), m.name.GetStringLength()), std::move(*p));
  return c;
}

decoded<commands::subscribe> decode_subscribe(const command& cmd) {
  auto channel = channel_field(cmd.body);
  if (!channel)
    return malformed();
  auto recover = get_bool(cmd.body, "recover");
  auto offset = get_uint(cmd.body, "offset");
  auto epoch = get_string(cmd.body, "epoch");
  auto flag = get_uint(cmd.body, "flag");
  auto type = get_uint(cmd.body, "type");
  auto token = get_string(cmd.body, "token");
  if (!recover.ok || !offset.ok || !epoch.ok || !flag.ok || !type.ok || !token.ok
      || get(cmd.body, "tf"))
    return malformed(std::move(channel));
  commands::subscribe s;
  s.channel = std::move(*channel);
  s.token = std::move(token.value);
  s.recover = recover.value;
  s.position = {offset.value, std::move(epoch.value)};
  s.flag = flag.value;
  s.type = type.value;
  return s;
}

decoded<commands::unsubscribe> decode_unsubscribe(const command& cmd) {
  return commands::unsubscribe{channel_field(cmd.body)};
}

decoded<commands::publish> decode_publish(const command& cmd) {
  auto channel = channel_field(cmd.body);
  if (!channel)
    return malformed();
  return commands::publish{std::move(*channel), get(cmd.body, "data")};
}

decoded<commands::presence> decode_presence(const command& cmd) {
  return channel_only<commands::presence>(cmd);
}

decoded<commands::presence_stats> decode_presence_stats(const command& cmd) {
  return channel_only<commands::presence_stats>(cmd);
}

decoded<commands::history> decode_history(const command& cmd) {
  auto channel = channel_field(cmd.body);
  if (!channel)
    return malformed();
  auto limit = get_int(cmd.body, "limit");
  auto reverse = get_bool(cmd.body, "reverse");
  const auto* since = get(cmd.body, "since");
  auto since_offset = get_uint(since, "offset");
  auto since_epoch = get_string(since, "epoch");
  if (!limit.ok || !reverse.ok || (since && !since->IsObject()) || !since_offset.ok
      || !since_epoch.ok)
    return malformed(std::move(channel));
  commands::history h;
  h.channel = std::move(*channel);
  h.limit = limit.value;
  h.reverse = reverse.value;
  if (since)
    h.since = commands::stream_position{since_offset.value, std::move(since_epoch.value)};
  return h;
}

decoded<commands::rpc> decode_rpc(const command& cmd) {
  auto method = get_string(cmd.body, "method");
  if (!method.ok)
    return malformed();
  return commands::rpc{std::move(method.value), get(cmd.body, "data")};
}

decoded<commands::append> decode_append(const rapidjson::Value* args) {
  auto channel = channel_field(args);
  if (!channel)
    return malformed();
  auto expected =
    parse_expected_version(get(args, "expected_version"), "any", number_strings::refused);
  auto type = parse_event_type(get(args, "type"));
  auto event_id = parse_event_id(get(args, "id"), empty_id::means_none);
  if (!expected || !type || !event_id)
    return malformed(std::move(channel));
  commands::append a;
  a.channel = std::move(*channel);
  a.type = std::move(*type);
  a.event_id = std::move(*event_id);
  a.expected = *expected;
  a.data = get(args, "data");
  return a;
}

decoded<commands::send> decode_send(const command& cmd) {
  return commands::send{get(cmd.body, "data")};
}

decoded<commands::refresh> decode_refresh(const command& cmd) {
  auto token = get_string(cmd.body, "token");
  if (!token.ok || token.value.empty())
    return malformed();
  return commands::refresh{std::move(token.value)};
}

decoded<commands::sub_refresh> decode_sub_refresh(const command& cmd) {
  auto channel = channel_field(cmd.body);
  auto token = get_string(cmd.body, "token");
  if (!channel || !token.ok || token.value.empty())
    return malformed(std::move(channel));
  return commands::sub_refresh{std::move(*channel), std::move(token.value)};
}

std::optional<std::string> channel_named(const command& cmd) {
  switch (cmd.what) {
    case method::subscribe:
    case method::unsubscribe:
    case method::publish:
    case method::history:
    case method::presence:
    case method::presence_stats:
    case method::sub_refresh:
      return channel_field(cmd.body);
    case method::rpc: {
      auto r = decode_rpc(cmd);
      if (!r || r->method != "append")
        return std::nullopt;
      return channel_field(r->data);
    }
    default:
      return std::nullopt;
  }
}

} // namespace herald::protocol
