// Checks the client-frame and REST fuzz targets share: compact JSON text parses
// back, and a payload survives JSON -> msgpack -> JSON with the same value.
#pragma once

#include "fuzz_entries.hpp"
#include "storage/msgpack_json.hpp"

#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>

namespace herald::fuzz {

/// Parses `text` with the flags the server uses for client input.
inline bool parse_json(std::string_view text, rapidjson::Document& doc) {
  doc.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(text.data(),
                                                                                    text.size());
  return !doc.HasParseError();
}

/// Whether two numbers are the same value. Integers compare exactly. Doubles
/// may move by an ulp or two: RapidJSON's default (not full-precision) number
/// parsing does not always read the shortest text it wrote back to the same
/// bits, which the server accepts.
inline bool same_number(const rapidjson::Value& a, const rapidjson::Value& b) {
  // herald reads `-0` as negative zero, as JavaScript does, where RapidJSON
  // reads the integer 0 (protocol/json_exact.hpp).
  auto negative_zero = [](const rapidjson::Value& v) {
    return v.IsDouble() && v.GetDouble() == 0 && std::signbit(v.GetDouble());
  };
  if ((negative_zero(a) && b.IsInt64() && b.GetInt64() == 0)
      || (negative_zero(b) && a.IsInt64() && a.GetInt64() == 0))
    return true;
  if (a.IsDouble() || b.IsDouble()) {
    if (!a.IsDouble() || !b.IsDouble())
      return false;
    double x = a.GetDouble(), y = b.GetDouble();
    double scale = std::max(std::fabs(x), std::fabs(y));
    return x == y || std::fabs(x - y) <= scale * 1e-14 || std::fabs(x - y) < 1e-300;
  }
  if (a.IsUint64() || b.IsUint64())
    return a.IsUint64() && b.IsUint64() && a.GetUint64() == b.GetUint64();
  return a.IsInt64() && b.IsInt64() && a.GetInt64() == b.GetInt64();
}

/// Deep equality: same types, same member order, numbers by same_number.
inline bool same_json(const rapidjson::Value& a, const rapidjson::Value& b) {
  if (a.IsNumber() || b.IsNumber())
    return a.IsNumber() && b.IsNumber() && same_number(a, b);
  if (a.GetType() != b.GetType())
    return false;
  if (a.IsString())
    return std::string_view(a.GetString(), a.GetStringLength())
           == std::string_view(b.GetString(), b.GetStringLength());
  if (a.IsArray()) {
    if (a.Size() != b.Size())
      return false;
    for (rapidjson::SizeType i = 0; i < a.Size(); ++i)
      if (!same_json(a[i], b[i]))
        return false;
    return true;
  }
  if (a.IsObject()) {
    if (a.MemberCount() != b.MemberCount())
      return false;
    for (auto x = a.MemberBegin(), y = b.MemberBegin(); x != a.MemberEnd(); ++x, ++y)
      if (!same_json(x->name, y->name) || !same_json(x->value, y->value))
        return false;
    return true;
  }
  return true; // null, true, false: the type is the value
}

/// msgpack bytes made by json_to_msgpack render back as one line of JSON
/// holding `expected`.
inline void check_msgpack_holds(std::string_view mp, const rapidjson::Value& expected) {
  std::string back;
  HERALD_FUZZ_CHECK(storage::msgpack_to_json(mp, back));
  HERALD_FUZZ_CHECK(back.find('\n') == std::string::npos);
  rapidjson::Document doc;
  HERALD_FUZZ_CHECK(parse_json(back, doc));
  HERALD_FUZZ_CHECK(same_json(doc, expected));
}

} // namespace herald::fuzz
