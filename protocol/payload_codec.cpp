#include "protocol/payload_codec.hpp"

#include "protocol/json_exact.hpp"
#include "protocol/json_value_check.hpp"
#include "storage/msgpack_json.hpp"

#include <cmath>
#include <vector>

namespace herald::protocol {

namespace {

/// A SAX filter in front of the journal's msgpack encoder: it refuses what
/// must not be stored (nesting deeper than the bound, a number read as
/// infinity, a lone surrogate) and forwards everything else.
class msgpack_writer : public sax_forwarder<storage::msgpack_sax_writer> {
public:
  msgpack_writer(std::string& out, size_t max_depth) : sax_forwarder(out), max_depth_(max_depth) {}

  bool too_deep = false;
  bool not_finite = false;
  bool bad_surrogate = false;

  bool Double(double d) {
    // A number past the double range arrives as infinity (json_exact.hpp);
    // stored, it would never render back as JSON.
    if (!std::isfinite(d)) {
      not_finite = true;
      return false;
    }
    return next_.Double(d);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) {
    // A lone "\udc00" escape decodes to bytes that are not UTF-8.
    if (has_encoded_surrogate(std::string_view(s, n))) {
      bad_surrogate = true;
      return false;
    }
    return next_.String(s, n, copy);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) {
    return String(s, n, copy);
  }
  bool StartObject() {
    return deeper() && next_.StartObject();
  }
  bool EndObject(rapidjson::SizeType members) {
    --depth_;
    return next_.EndObject(members);
  }
  bool StartArray() {
    return deeper() && next_.StartArray();
  }
  bool EndArray(rapidjson::SizeType elements) {
    --depth_;
    return next_.EndArray(elements);
  }

private:
  bool deeper() {
    if (depth_ >= max_depth_) {
      too_deep = true;
      return false;
    }
    ++depth_;
    return true;
  }

  size_t max_depth_;
  size_t depth_ = 0;
};

/// What stopped `handler`, if anything did (empty: nothing).
std::string writer_problem(const msgpack_writer& handler, size_t max_depth) {
  if (handler.too_deep)
    return "nested deeper than " + std::to_string(max_depth) + " levels";
  if (handler.not_finite || handler.bad_surrogate)
    return json_value_problem(handler.not_finite ? json_value_status::not_finite
                                                 : json_value_status::bad_surrogate);
  return {};
}

} // namespace

bool value_to_msgpack(const rapidjson::Value& value, std::string& out, std::string& error,
                      size_t max_depth) {
  msgpack_writer handler(out, max_depth);
  if (value.Accept(handler))
    return true;
  error = writer_problem(handler, max_depth);
  return false;
}

bool json_to_msgpack(std::string_view json, std::string& out, std::string& error,
                     size_t max_depth) {
  msgpack_writer handler(out, max_depth);
  constexpr unsigned flags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag
                             | rapidjson::kParseStopWhenDoneFlag;
  size_t consumed = 0;
  auto result = parse_exact<flags>(json, handler, &consumed);
  if (error = writer_problem(handler, max_depth); !error.empty())
    return false;
  if (result.IsError()) {
    error = std::string("malformed JSON at offset ") + std::to_string(result.Offset());
    return false;
  }
  // kParseStopWhenDoneFlag stops after one value: only whitespace may follow.
  for (size_t i = consumed; i < json.size(); ++i) {
    char c = json[i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
      error = "unexpected data after the JSON value at offset " + std::to_string(i);
      return false;
    }
  }
  return true;
}

std::optional<size_t> rendered_json_size(std::string_view mp) {
  std::string out;
  if (!storage::msgpack_to_json(mp, out))
    return std::nullopt;
  return out.size();
}

bool data_within_limit(std::string_view mp, size_t max_bytes) {
  auto size = rendered_json_size(mp);
  return size && *size <= max_bytes;
}

} // namespace herald::protocol
