#include "net/server_api_codec.hpp"

#include "protocol/append_args.hpp"
#include "protocol/json_exact.hpp"
#include "protocol/json_value_check.hpp"
#include "protocol/payload_codec.hpp"
#include "storage/msgpack_json.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <limits>

namespace herald::net::server_api {

namespace {

storage::unexpected<error> bad(std::string message) {
  return storage::unexpected<error>{error{code::bad_request, std::move(message)}};
}

const rapidjson::Value* member(const rapidjson::Value& obj, const char* name) {
  if (!obj.IsObject())
    return nullptr;
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

/// A string field: nullopt (after setting `why`) when present and not a
/// string; empty when absent.
std::optional<std::string> text(const rapidjson::Value& obj, const char* name, std::string& why) {
  const auto* v = member(obj, name);
  if (!v)
    return std::string();
  if (!v->IsString()) {
    why = std::string("\"") + name + "\" is a string";
    return std::nullopt;
  }
  return std::string(v->GetString(), v->GetStringLength());
}

/// A required non-empty string field.
std::optional<std::string> required(const rapidjson::Value& obj, const char* name,
                                    std::string& why) {
  auto v = text(obj, name, why);
  if (v && v->empty()) {
    why = std::string("\"") + name + "\" required";
    return std::nullopt;
  }
  return v;
}

std::optional<bool> flag(const rapidjson::Value& obj, const char* name, std::string& why) {
  const auto* v = member(obj, name);
  if (!v)
    return false;
  if (!v->IsBool()) {
    why = std::string("\"") + name + "\" is true or false";
    return std::nullopt;
  }
  return v->GetBool();
}

std::string json_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

/// Herald carries JSON only: a binary payload has no place in its
/// publications, so the base64 forms are refused rather than mangled.
std::optional<std::string> binary_refused(const rapidjson::Value& obj) {
  for (const char* name : {"b64data", "b64info"})
    if (member(obj, name))
      return std::string("\"") + name
             + "\" is not supported: herald carries JSON, send \"data\" / \"info\"";
  return std::nullopt;
}

/// Publication tags: an object of strings, without the names herald sets
/// itself on every publication.
std::optional<std::string> tags_of(const rapidjson::Value& obj, std::string& out) {
  const auto* t = member(obj, "tags");
  if (!t)
    return std::nullopt;
  if (!t->IsObject())
    return std::string("\"tags\" is an object of strings");
  for (const auto& m : t->GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (!m.value.IsString())
      return std::string("\"tags\" is an object of strings");
    if (key == "type" || key == "position")
      return "\"tags\" may not set \"" + std::string(key) + "\": herald sets it";
  }
  if (t->MemberCount() > 0)
    out = json_text(*t);
  return std::nullopt;
}

std::optional<std::string> publication_fields(const rapidjson::Value& p, publish_args& out) {
  if (auto refused = binary_refused(p))
    return refused;
  const auto* data = member(p, "data");
  if (!data)
    return std::string("\"data\" required");
  std::string why;
  if (!protocol::value_to_msgpack(*data, out.data, why))
    return "\"data\": " + why;
  out.type = protocol::event_type_of(data, "");
  if (auto skip = flag(p, "skip_history", why); !skip)
    return why;
  else if (*skip)
    return std::string("\"skip_history\" is not supported: every publication is a journal "
                       "event, kept in history");
  if (const auto* version = member(p, "version");
      version && !(version->IsUint64() && version->GetUint64() == 0))
    return std::string("\"version\" is not supported");
  if (auto why_tags = tags_of(p, out.tags))
    return why_tags;
  auto key = text(p, "idempotency_key", why);
  if (!key)
    return why;
  if (key->size() > protocol::max_event_id_length)
    return "\"idempotency_key\" is at most " + std::to_string(protocol::max_event_id_length)
           + " characters";
  out.idempotency = std::move(*key);
  return std::nullopt;
}

std::optional<std::string> connections_of(const rapidjson::Value& p, connections& out) {
  std::string why;
  auto user = required(p, "user", why);
  if (!user)
    return why;
  auto client = text(p, "client", why);
  if (!client)
    return why;
  out = {std::move(*user), std::move(*client)};
  return std::nullopt;
}

} // namespace

decoded<std::shared_ptr<rapidjson::Document>> parse_params(std::string_view body) {
  auto doc = std::make_shared<rapidjson::Document>();
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    doc->SetObject();
    return doc;
  }
  auto parsed =
    protocol::parse_exact<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
      *doc, body);
  if (parsed.IsError() || !doc->IsObject())
    return bad("the body must be a JSON object");
  if (auto s = protocol::check_json_value(*doc, protocol::max_payload_depth);
      s != protocol::json_value_status::ok)
    return bad(s == protocol::json_value_status::too_deep
                 ? "nested deeper than " + std::to_string(protocol::max_payload_depth) + " levels"
                 : std::string(protocol::json_value_problem(s)));
  return doc;
}

decoded<publish_args> decode_publish(const rapidjson::Value& params) {
  publish_args out;
  std::string why;
  auto channel = required(params, "channel", why);
  if (!channel)
    return bad(why);
  out.channel = std::move(*channel);
  if (auto problem = publication_fields(params, out))
    return bad(*problem);
  return out;
}

decoded<broadcast_args> decode_broadcast(const rapidjson::Value& params) {
  broadcast_args out;
  const auto* channels = member(params, "channels");
  if (!channels || !channels->IsArray() || channels->Empty())
    return bad("\"channels\" required: a non-empty array of strings");
  for (const auto& c : channels->GetArray()) {
    if (!c.IsString() || c.GetStringLength() == 0)
      return bad("\"channels\" required: a non-empty array of strings");
    out.channels.emplace_back(c.GetString(), c.GetStringLength());
  }
  if (auto problem = publication_fields(params, out.publication))
    return bad(*problem);
  return out;
}

decoded<subscription_args> decode_subscription(const rapidjson::Value& params) {
  subscription_args out;
  if (auto problem = connections_of(params, out.who))
    return bad(*problem);
  std::string why;
  auto channel = required(params, "channel", why);
  if (!channel)
    return bad(why);
  out.channel = std::move(*channel);
  return out;
}

decoded<disconnect_args> decode_disconnect(const rapidjson::Value& params) {
  disconnect_args out;
  if (auto problem = connections_of(params, out.who))
    return bad(*problem);
  if (const auto* list = member(params, "whitelist")) {
    if (!list->IsArray())
      return bad("\"whitelist\" is an array of client ids");
    for (const auto& c : list->GetArray()) {
      if (!c.IsString())
        return bad("\"whitelist\" is an array of client ids");
      out.whitelist.emplace_back(c.GetString(), c.GetStringLength());
    }
  }
  if (const auto* d = member(params, "disconnect")) {
    const auto* c = member(*d, "code");
    // A WebSocket close code an application may send (RFC 6455 7.4.2):
    // 3000..4999; the reason must fit a close frame (123 bytes).
    if (!d->IsObject() || !c || !c->IsUint() || c->GetUint() < 3000 || c->GetUint() > 4999)
      return bad("\"disconnect\" is {\"code\": 3000..4999, \"reason\": \"...\"}");
    out.close_code = static_cast<uint16_t>(c->GetUint());
    std::string why;
    auto reason = text(*d, "reason", why);
    if (!reason || reason->size() > 123)
      return bad("\"disconnect\".\"reason\" is a string of at most 123 bytes");
    out.reason = std::move(*reason);
  }
  return out;
}

decoded<refresh_args> decode_refresh(const rapidjson::Value& params) {
  refresh_args out;
  if (auto problem = connections_of(params, out.who))
    return bad(*problem);
  if (auto refused = binary_refused(params))
    return bad(*refused);
  std::string why;
  auto expired = flag(params, "expired", why);
  if (!expired)
    return bad(why);
  out.expired = *expired;
  if (const auto* at = member(params, "expire_at")) {
    if (!at->IsInt64() || at->GetInt64() < 0)
      return bad("\"expire_at\" is a Unix time in seconds");
    out.expire_at = at->GetInt64();
  }
  if (const auto* info = member(params, "info"))
    out.info = json_text(*info);
  return out;
}

decoded<std::string> decode_channel(const rapidjson::Value& params) {
  std::string why;
  auto channel = required(params, "channel", why);
  if (!channel)
    return bad(why);
  return std::move(*channel);
}

decoded<history_args> decode_history(const rapidjson::Value& params) {
  history_args out;
  std::string why;
  auto channel = required(params, "channel", why);
  if (!channel)
    return bad(why);
  out.channel = std::move(*channel);
  if (const auto* limit = member(params, "limit")) {
    if (!limit->IsInt64() || limit->GetInt64() < -1)
      return bad("\"limit\" is -1 (all), 0 (only the position) or a count");
    out.limit = limit->GetInt64();
  }
  if (const auto* since = member(params, "since")) {
    const auto* offset = member(*since, "offset");
    const auto* epoch = member(*since, "epoch");
    if (!since->IsObject() || (offset && !offset->IsUint64()) || (epoch && !epoch->IsString()))
      return bad("\"since\" is {\"offset\": N, \"epoch\": \"...\"}");
    out.since_offset = offset ? offset->GetUint64() : 0;
    if (epoch)
      out.since_epoch.assign(epoch->GetString(), epoch->GetStringLength());
  }
  auto reverse = flag(params, "reverse", why);
  if (!reverse)
    return bad(why);
  out.reverse = *reverse;
  return out;
}

decoded<std::string> decode_pattern(const rapidjson::Value& params) {
  std::string why;
  auto pattern = text(params, "pattern", why);
  if (!pattern)
    return bad(why);
  return std::move(*pattern);
}

bool glob_match(std::string_view pattern, std::string_view name) {
  // Iterative matching with one backtrack point (the last `*`): linear
  // space, at most |pattern| * |name| steps.
  size_t p = 0, n = 0, star = std::string_view::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
      continue;
    }
    if (p < pattern.size()) {
      bool escaped = pattern[p] == '\\' && p + 1 < pattern.size();
      char want = escaped ? pattern[p + 1] : pattern[p];
      if ((!escaped && want == '?') || want == name[n]) {
        p += escaped ? 2 : 1;
        ++n;
        continue;
      }
    }
    if (star == std::string_view::npos)
      return false;
    p = star + 1;
    n = ++resume;
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

history_read plan_history(const history_args& h, uint64_t cap) {
  history_read r;
  r.forward = !h.reverse;
  r.count = h.limit < 0 ? cap : std::min<uint64_t>(static_cast<uint64_t>(h.limit), cap);
  if (h.reverse) {
    // Backward from just before `since`, or from the top.
    if (!h.since_offset)
      r.from = std::numeric_limits<uint64_t>::max();
    else if (*h.since_offset == 0)
      r.count = 0; // nothing lies before the start
    else
      r.from = *h.since_offset - 1;
  } else {
    r.from = h.since_offset ? *h.since_offset + 1 : 1;
  }
  if (r.from == 0)
    r.count = 0;
  return r;
}

std::string result_envelope(std::string_view result_json) {
  std::string out = "{\"result\":";
  out += result_json;
  out += '}';
  return out;
}

std::string error_envelope(const error& e) {
  std::string out =
    "{\"error\":{\"code\":" + std::to_string(static_cast<int>(e.what)) + ",\"message\":";
  storage::append_json_string(out, e.message);
  out += "}}";
  return out;
}

std::vector<command> batch_commands(const rapidjson::Value& params, std::optional<error>& problem) {
  std::vector<command> out;
  const auto* commands = member(params, "commands");
  if (!commands || !commands->IsArray()) {
    problem = error{code::bad_request, "\"commands\" required: an array"};
    return out;
  }
  for (const auto& c : commands->GetArray()) {
    command cmd;
    if (!c.IsObject() || c.MemberCount() != 1 || !c.MemberBegin()->value.IsObject())
      cmd.problem = error{code::bad_request, "a command is {\"METHOD\": {params}}"};
    else {
      cmd.method.assign(c.MemberBegin()->name.GetString(), c.MemberBegin()->name.GetStringLength());
      cmd.params = &c.MemberBegin()->value;
    }
    out.push_back(std::move(cmd));
  }
  return out;
}

command legacy_command(const rapidjson::Value& line) {
  command cmd;
  const auto* method = member(line, "method");
  const auto* params = member(line, "params");
  if (!method || !method->IsString() || (params && !params->IsObject())) {
    cmd.problem = error{code::bad_request, "a line is {\"method\": \"...\", \"params\": {...}}"};
    return cmd;
  }
  cmd.method.assign(method->GetString(), method->GetStringLength());
  cmd.params = params;
  return cmd;
}

std::vector<std::string_view> legacy_lines(std::string_view body) {
  std::vector<std::string_view> out;
  while (!body.empty()) {
    auto end = body.find('\n');
    auto line = body.substr(0, end);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos)
      out.push_back(line);
    body = end == std::string_view::npos ? std::string_view() : body.substr(end + 1);
  }
  return out;
}

} // namespace herald::net::server_api
