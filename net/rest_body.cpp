#include "net/rest_body.hpp"

#include "net/http_util.hpp"
#include "protocol/json_exact.hpp"
#include "protocol/json_value_check.hpp"
#include "protocol/payload_codec.hpp"
#include "storage/event_meta.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <charconv>
#include <limits>

namespace herald::net {

namespace {

/// An unsigned query parameter, or `fallback` when absent; nullopt if bad.
/// Positions and versions are signed 64-bit in the journal, so a number past
/// INT64_MAX is bad too (it would wrap to a negative and read from the
/// start).
std::optional<uint64_t> uint_param(const query_args& query, const char* name, uint64_t fallback) {
  auto it = query.find(name);
  if (it == query.end())
    return fallback;
  uint64_t v = 0;
  const auto& s = it->second;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || ptr != s.data() + s.size() || s.empty()
      || v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  return v;
}

/// The metadata keys herald writes itself (storage/event_meta.hpp): the
/// publisher's identity, which subscribers see as the publication's `info`,
/// and the audit fields, so a REST caller may not pose as another user, key
/// or processor, or add publication tags (the server API's, checked there).
/// The ids have fields of their own on the event.
bool reserved_meta_key(std::string_view key) {
  return key == "user" || key == "client" || key == "conn_info" || key == "chan_info"
         || key == "via" || key == "key" || key == "processor" || key == "generation"
         || key == "correlation_id" || key == "causation_id" || key == "tags";
}

/// The event's `correlation_id` or `causation_id` into `out` (absent:
/// empty); the reason it is malformed otherwise. Same rules as an event id.
std::optional<std::string> lineage_id(const rapidjson::Value& e, const char* name,
                                      std::string& out) {
  auto it = e.FindMember(name);
  if (it == e.MemberEnd())
    return std::nullopt;
  if (!it->value.IsString() || it->value.GetStringLength() == 0
      || it->value.GetStringLength() > protocol::max_event_id_length)
    return "\"" + std::string(name) + "\" is a string of 1 to "
           + std::to_string(protocol::max_event_id_length) + " characters";
  out.assign(it->value.GetString(), it->value.GetStringLength());
  return std::nullopt;
}

/// Why `meta` may not be stored, if it may not.
std::optional<std::string> meta_problem(const rapidjson::Value& meta) {
  if (!meta.IsObject())
    return std::string("\"meta\" is a JSON object");
  for (const auto& m : meta.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    if (reserved_meta_key(key))
      return "\"meta\" may not set \"" + std::string(key)
             + (key == "correlation_id" || key == "causation_id"
                  ? "\": send it as the event's own field (docs/rest.md)"
                  : "\": herald records who published (docs/rest.md)");
  }
  return std::nullopt;
}

/// The member `name` of `obj`, or nullptr.
const rapidjson::Value* member(const rapidjson::Value& obj, const char* name) {
  auto it = obj.FindMember(name);
  return it == obj.MemberEnd() ? nullptr : &it->value;
}

/// The append a request body describes, or the reason it does not.
std::optional<std::string> build_append(const rapidjson::Value& body,
                                        std::optional<std::string_view> expected_header,
                                        std::string_view default_type,
                                        storage::append_request& out) {
  // The expected version: the body's field wins over the header.
  auto expected = protocol::parse_expected_version(member(body, "expected_version"),
                                                   expected_header.value_or("any"),
                                                   protocol::number_strings::taken);
  if (!expected)
    return std::string(expected.error().message);
  out.expected = *expected;
  auto add = [&](const rapidjson::Value& e) -> std::optional<std::string> {
    if (!e.IsObject())
      return std::string("an event is a JSON object");
    storage::new_event ne;
    const auto* data = member(e, "data");
    auto type = protocol::parse_event_type(member(e, "type"));
    if (!type)
      return std::string(type.error().message);
    auto& named_type = *type;
    ne.type = named_type ? std::move(*named_type) : protocol::event_type_of(data, default_type);
    auto id = protocol::parse_event_id(member(e, "id"), protocol::empty_id::refused);
    if (!id)
      return std::string(id.error().message);
    ne.id = std::move(*id);
    std::string error;
    if (!(data ? protocol::value_to_msgpack(*data, ne.data, error)
               : protocol::json_to_msgpack("null", ne.data, error)))
      return "\"data\": " + error;
    if (auto meta = e.FindMember("meta"); meta != e.MemberEnd()) {
      if (auto why = meta_problem(meta->value))
        return why;
      if (!protocol::value_to_msgpack(meta->value, ne.meta, error))
        return "\"meta\": " + error;
    }
    storage::event_meta lineage;
    if (auto why = lineage_id(e, "correlation_id", lineage.correlation))
      return why;
    if (auto why = lineage_id(e, "causation_id", lineage.causation))
      return why;
    if (!lineage.correlation.empty() || !lineage.causation.empty())
      ne.meta = storage::merge_meta(ne.meta, lineage);
    out.events.push_back(std::move(ne));
    return std::nullopt;
  };
  if (auto events = body.FindMember("events"); events != body.MemberEnd()) {
    if (!events->value.IsArray() || events->value.Empty())
      return std::string("\"events\" is a non-empty array");
    for (const auto& e : events->value.GetArray())
      if (auto why = add(e))
        return why;
  } else if (auto why = add(body)) {
    return why;
  }
  return std::nullopt;
}

} // namespace

std::optional<request_target> parse_target(std::string_view target) {
  request_target r;
  auto q = target.find('?');
  auto path = target.substr(0, q);
  if (q != std::string_view::npos) {
    auto query = parse_query(target.substr(q + 1));
    if (!query)
      return std::nullopt;
    r.query = std::move(*query);
  }
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    auto decoded = percent_decode(path.substr(0, slash), false);
    if (!decoded)
      return std::nullopt;
    r.segments.push_back(std::move(*decoded));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  return r;
}

parsed<stream_read_args> parse_stream_read(const query_args& query) {
  auto reverse = uint_param(query, "reverse", 0);
  auto limit = uint_param(query, "limit", 100);
  auto from =
    uint_param(query, "from", reverse && *reverse ? std::numeric_limits<uint64_t>::max() : 1);
  if (!reverse || !limit || !from || *reverse > 1)
    return storage::unexpected{bad_request{"from and limit are numbers, reverse is 0 or 1"}};
  return stream_read_args{*from, *limit, *reverse == 1};
}

parsed<log_read_args> parse_log_read(const query_args& query) {
  auto from = uint_param(query, "from", 1);
  auto limit = uint_param(query, "limit", 100);
  if (!from || !limit)
    return storage::unexpected{bad_request{"from and limit are numbers"}};
  return log_read_args{*from, *limit};
}

parsed<uint64_t> parse_rebuild_from(const query_args& query) {
  auto from = uint_param(query, "from", 1);
  if (!from)
    return storage::unexpected{bad_request{"from is a journal position (a number from 1)"}};
  return *from;
}

bool is_json_media_type(std::string_view content_type) {
  auto type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t'))
    type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t'))
    type.remove_prefix(1);
  constexpr std::string_view json = "application/json";
  if (type.size() != json.size())
    return false;
  for (size_t i = 0; i < json.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(type[i])) != json[i])
      return false;
  return true;
}

parsed<storage::append_request> parse_append(std::string_view stream, std::string_view body,
                                             std::optional<std::string_view> expected_header,
                                             std::string_view default_type) {
  rapidjson::Document doc;
  auto parsed =
    protocol::parse_exact<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(
      doc, body);
  if (parsed.IsError() || !doc.IsObject())
    return storage::unexpected{bad_request{"the body must be a JSON object"}};
  // Also what RapidJSON lets through but could not be written back as JSON
  // (protocol/json_value_check.hpp).
  if (auto s = protocol::check_json_value(doc, protocol::max_payload_depth);
      s != protocol::json_value_status::ok)
    return storage::unexpected{bad_request{
      s == protocol::json_value_status::too_deep
        ? "nested deeper than " + std::to_string(protocol::max_payload_depth) + " levels"
        : std::string(protocol::json_value_problem(s))}};
  storage::append_request append{std::string(stream), {}, {}};
  if (auto why = build_append(doc, expected_header, default_type, append))
    return storage::unexpected{bad_request{std::move(*why)}};
  return append;
}

} // namespace herald::net
