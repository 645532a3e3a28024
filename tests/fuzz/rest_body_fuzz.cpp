// Fuzz target: REST request parsing (net/rest_body.hpp). The input is
//
//   /api/streams/chat%3Alobby?from=1&limit=10     the request target
//   Expected-Version: 3                           or any other line: no header
//   {"type":"message","data":{"text":"hi"}}       the body, to the end
//
// The target goes through parse_target and the read-argument parsers, the
// body through parse_append; what they accept is checked against the rules
// of docs/rest.md.
#include "fuzz_entries.hpp"
#include "input_lines.hpp"
#include "json_checks.hpp"
#include "net/rest_body.hpp"

#include <string>

namespace herald::fuzz {

namespace {

/// Whether Beast's request-line parser passes `target` on: it refuses
/// control characters, space and DEL (is_pathchar), so those never reach
/// parse_target in the server.
bool beast_admits(std::string_view target) {
  for (unsigned char c : target)
    if (c <= 0x20 || c == 0x7f)
      return false;
  return true;
}

void check_target(std::string_view target) {
  auto r = net::parse_target(target);
  if (!r)
    return;
  // Decoding rejects what would decode to a NUL, and drops empty segments.
  const bool refused = !beast_admits(target); // raw bytes, not decoded ones
  for (const auto& s : r->segments)
    HERALD_FUZZ_CHECK(!s.empty() && (refused || s.find('\0') == std::string::npos));
  for (const auto& [k, v] : r->query)
    HERALD_FUZZ_CHECK(
      !k.empty()
      && (refused || (k.find('\0') == std::string::npos && v.find('\0') == std::string::npos)));
  auto stream = net::parse_stream_read(r->query);
  if (!stream)
    HERALD_FUZZ_CHECK(!stream.error().message.empty());
  else if (!r->query.count("from"))
    HERALD_FUZZ_CHECK(stream->from == (stream->reverse ? UINT64_MAX : 1));
  auto log = net::parse_log_read(r->query);
  if (!log)
    HERALD_FUZZ_CHECK(!log.error().message.empty());
}

/// The events of a body that parse_append accepted: the body itself, or its
/// "events" array.
const rapidjson::Value& events_of(const rapidjson::Document& body) {
  auto it = body.FindMember("events");
  return it == body.MemberEnd() ? body : it->value;
}

/// The expected version is the body's "expected_version" (all of it), else
/// the header, else any.
void check_expected(const storage::expected_version& ev, const rapidjson::Document& body,
                    std::optional<std::string_view> header) {
  std::string text = header ? std::string(*header) : "any";
  if (auto it = body.FindMember("expected_version"); it != body.MemberEnd())
    text = it->value.IsString() ? std::string(it->value.GetString(), it->value.GetStringLength())
                                : std::to_string(it->value.GetUint64());
  using kind = storage::expected_version::kind;
  switch (ev.k) {
    case kind::any:
      HERALD_FUZZ_CHECK(text == "any");
      break;
    case kind::no_stream:
      HERALD_FUZZ_CHECK(text == "no_stream");
      break;
    case kind::exists:
      HERALD_FUZZ_CHECK(text == "exists");
      break;
    case kind::exact: {
      HERALD_FUZZ_CHECK(!text.empty() && text.find_first_not_of("0123456789") == std::string::npos);
      auto digits = text.find_first_not_of('0');
      HERALD_FUZZ_CHECK(std::to_string(ev.version)
                        == (digits == std::string::npos ? "0" : text.substr(digits)));
      break;
    }
  }
}

void check_append(std::string_view body, std::optional<std::string_view> header) {
  auto result = net::parse_append("orders-1", body, header, "message");
  if (!result) {
    // The message goes into a JSON error body, on one line.
    HERALD_FUZZ_CHECK(!result.error().message.empty());
    HERALD_FUZZ_CHECK(result.error().message.find('\n') == std::string::npos);
    return;
  }
  const auto& append = *result;
  HERALD_FUZZ_CHECK(append.stream == "orders-1");
  HERALD_FUZZ_CHECK(!append.events.empty());
  rapidjson::Document doc;
  HERALD_FUZZ_CHECK(parse_json(body, doc) && doc.IsObject());
  check_expected(append.expected, doc, header);
  const auto& sent = events_of(doc);
  HERALD_FUZZ_CHECK(sent.IsArray() ? sent.Size() == append.events.size()
                                   : append.events.size() == 1);
  for (size_t i = 0; i < append.events.size(); ++i) {
    const auto& e = append.events[i];
    const auto& original = sent.IsArray() ? sent[static_cast<rapidjson::SizeType>(i)] : sent;
    // docs/rest.md: a type of 1 to 128 characters, an optional id of 1 to
    // 256, both exactly as sent; without a type, the WebSocket rule.
    HERALD_FUZZ_CHECK(!e.type.empty() && e.type.size() <= 128);
    auto data = original.FindMember("data");
    if (auto type = original.FindMember("type"); type != original.MemberEnd())
      HERALD_FUZZ_CHECK(
        e.type == std::string_view(type->value.GetString(), type->value.GetStringLength()));
    else
      HERALD_FUZZ_CHECK(e.type
                        == protocol::event_type_of(
                          data == original.MemberEnd() ? nullptr : &data->value, "message"));
    HERALD_FUZZ_CHECK(e.id.size() <= 256);
    if (auto id = original.FindMember("id"); id != original.MemberEnd())
      HERALD_FUZZ_CHECK(e.id
                        == std::string_view(id->value.GetString(), id->value.GetStringLength()));
    else
      HERALD_FUZZ_CHECK(e.id.empty());
    rapidjson::Value null_value;
    check_msgpack_holds(e.data, data == original.MemberEnd() ? null_value : data->value);
    if (auto meta = original.FindMember("meta"); meta != original.MemberEnd())
      check_msgpack_holds(e.meta, meta->value);
    else
      HERALD_FUZZ_CHECK(e.meta.empty());
  }
}

} // namespace

void rest_body(std::string_view input) {
  auto target = next_line(input);
  auto header_line = next_line(input);
  constexpr std::string_view header_name = "Expected-Version: ";
  std::optional<std::string_view> header;
  if (header_line.substr(0, header_name.size()) == header_name)
    header = header_line.substr(header_name.size());
  check_target(target);
  check_append(input, header);
}

} // namespace herald::fuzz

HERALD_FUZZ_TARGET(herald::fuzz::rest_body)
