#include "protocol/client_frame.hpp"

#include "protocol/json_exact.hpp"
#include "protocol/json_value_check.hpp"
#include "storage/msgpack_json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace herald::protocol {

namespace {

method method_named(std::string_view name) {
  static const std::pair<std::string_view, method> names[] = {
    {"connect", method::connect},
    {"subscribe", method::subscribe},
    {"unsubscribe", method::unsubscribe},
    {"publish", method::publish},
    {"presence", method::presence},
    {"presence_stats", method::presence_stats},
    {"history", method::history},
    {"rpc", method::rpc},
    {"send", method::send},
    {"refresh", method::refresh},
    {"sub_refresh", method::sub_refresh},
  };
  for (const auto& [n, m] : names)
    if (n == name)
      return m;
  return method::unknown;
}

bool parse_line(std::string_view line, command& cmd, std::string& error, size_t max_depth) {
  auto doc = std::make_shared<rapidjson::Document>();
  // Publication data is carried unchanged: numbers are read exactly.
  constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  auto parsed = parse_exact<flags>(*doc, line);
  if (parsed.IsError()) {
    error = std::string("malformed JSON: ") + rapidjson::GetParseError_En(parsed.Code())
            + " at offset " + std::to_string(parsed.Offset());
    return false;
  }
  if (!doc->IsObject()) {
    error = "a command must be a JSON object";
    return false;
  }
  // Also what RapidJSON lets through but could not be written back as JSON
  // (protocol/json_value_check.hpp).
  if (auto s = check_json_value(*doc, max_depth); s != json_value_status::ok) {
    error = s == json_value_status::too_deep
              ? "nested deeper than " + std::to_string(max_depth) + " levels"
              : std::string("malformed JSON: ") + json_value_problem(s);
    return false;
  }
  cmd.what = method::pong;
  for (const auto& m : doc->GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (key == "id") {
      if (!m.value.IsUint()) {
        error = "the command id must be an integer from 0 to 4294967295";
        return false;
      }
      cmd.id = m.value.GetUint();
      continue;
    }
    if (cmd.what != method::pong) {
      error = "a command has one method, this one has " + cmd.name + " and " + std::string(key);
      return false;
    }
    cmd.name = std::string(key);
    cmd.what = method_named(key);
    cmd.body = &m.value;
  }
  if (cmd.what != method::pong && cmd.what != method::unknown && !cmd.body->IsObject()) {
    error = "the request of " + cmd.name + " must be a JSON object";
    return false;
  }
  // Only send and the pong go without an id: the client reads a message
  // without an id (id 0) as a push or a ping, so a reply to id 0 would be
  // lost on it.
  if (cmd.id == 0 && cmd.what != method::pong && cmd.what != method::send) {
    error = cmd.name + " needs an id";
    return false;
  }
  cmd.doc = std::move(doc);
  return true;
}

} // namespace

bool parse_frame(std::string_view message, std::vector<command>& out, std::string& error,
                 size_t max_depth) {
  size_t start = 0;
  while (start <= message.size()) {
    auto end = message.find('\n', start);
    if (end == std::string_view::npos)
      end = message.size();
    auto line = message.substr(start, end - start);
    bool blank = line.find_first_not_of(" \t\r") == std::string_view::npos;
    if (!blank) {
      command cmd;
      if (!parse_line(line, cmd, error, max_depth))
        return false;
      out.push_back(std::move(cmd));
    }
    start = end + 1;
  }
  if (out.empty()) {
    error = "an empty message";
    return false;
  }
  return true;
}

const rapidjson::Value* get(const rapidjson::Value* obj, const char* key) {
  if (!obj || !obj->IsObject())
    return nullptr;
  auto it = obj->FindMember(key);
  return it == obj->MemberEnd() ? nullptr : &it->value;
}

string_field get_string(const rapidjson::Value* obj, const char* key) {
  string_field f;
  if (const auto* v = get(obj, key)) {
    f.present = true;
    f.ok = v->IsString();
    if (f.ok)
      f.value.assign(v->GetString(), v->GetStringLength());
  }
  return f;
}

uint_field get_uint(const rapidjson::Value* obj, const char* key) {
  uint_field f;
  if (const auto* v = get(obj, key)) {
    f.present = true;
    f.ok = v->IsUint64();
    if (f.ok)
      f.value = v->GetUint64();
  }
  return f;
}

int_field get_int(const rapidjson::Value* obj, const char* key) {
  int_field f;
  if (const auto* v = get(obj, key)) {
    f.present = true;
    f.ok = v->IsInt64();
    if (f.ok)
      f.value = v->GetInt64();
  }
  return f;
}

bool_field get_bool(const rapidjson::Value* obj, const char* key) {
  bool_field f;
  if (const auto* v = get(obj, key)) {
    f.ok = v->IsBool();
    f.value = f.ok && v->GetBool();
  }
  return f;
}

std::string reply(uint32_t id, std::string_view method, std::string_view result_json) {
  std::string out = "{\"id\":" + std::to_string(id) + ",\"";
  out += method;
  out += "\":";
  out += result_json;
  out += '}';
  return out;
}

std::string error_reply(uint32_t id, error_code code, std::string_view message, bool temporary) {
  std::string out = "{\"id\":" + std::to_string(id)
                    + ",\"error\":{\"code\":" + std::to_string(value(code)) + ",\"message\":";
  storage::append_json_string(out, message);
  if (temporary)
    out += ",\"temporary\":true";
  out += "}}";
  return out;
}

std::string unsubscribe_push(std::string_view channel, unsubscribe_code code,
                             std::string_view reason) {
  std::string out = "{\"push\":{\"channel\":";
  storage::append_json_string(out, channel);
  out += ",\"unsubscribe\":{\"code\":" + std::to_string(value(code)) + ",\"reason\":";
  storage::append_json_string(out, reason);
  out += "}}}";
  return out;
}

std::string subscribe_push(std::string_view channel, std::string_view result_json) {
  std::string out = "{\"push\":{\"channel\":";
  storage::append_json_string(out, channel);
  out += ",\"subscribe\":";
  out += result_json;
  out += "}}";
  return out;
}

} // namespace herald::protocol
