#include "protocol/json_value_check.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>

namespace herald::protocol {

std::string json_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

namespace {

json_value_status check(const rapidjson::Value& v, size_t depth, size_t max_depth) {
  if (depth > max_depth)
    return json_value_status::too_deep;
  if (v.IsDouble())
    return std::isfinite(v.GetDouble()) ? json_value_status::ok : json_value_status::not_finite;
  if (v.IsString())
    return has_encoded_surrogate(std::string_view(v.GetString(), v.GetStringLength()))
             ? json_value_status::bad_surrogate
             : json_value_status::ok;
  if (v.IsObject()) {
    for (const auto& m : v.GetObject()) {
      if (has_encoded_surrogate(std::string_view(m.name.GetString(), m.name.GetStringLength())))
        return json_value_status::bad_surrogate;
      if (auto s = check(m.value, depth + 1, max_depth); s != json_value_status::ok)
        return s;
    }
  } else if (v.IsArray()) {
    for (const auto& e : v.GetArray())
      if (auto s = check(e, depth + 1, max_depth); s != json_value_status::ok)
        return s;
  }
  return json_value_status::ok;
}

} // namespace

json_value_status check_json_value(const rapidjson::Value& v, size_t max_depth) {
  return check(v, 0, max_depth);
}

bool has_encoded_surrogate(std::string_view text) {
  for (size_t i = 0; i + 1 < text.size(); ++i)
    if (static_cast<unsigned char>(text[i]) == 0xed
        && static_cast<unsigned char>(text[i + 1]) >= 0xa0)
      return true;
  return false;
}

const char* json_value_problem(json_value_status s) {
  switch (s) {
    case json_value_status::ok:
      return "";
    case json_value_status::too_deep:
      return "nested too deep"; // callers name their bound instead
    case json_value_status::not_finite:
      return "a number is too big to be stored in a double";
    case json_value_status::bad_surrogate:
      return "a \\u escape is an unpaired UTF-16 surrogate";
  }
  return "";
}

} // namespace herald::protocol
