#include "protocol/append_args.hpp"

#include <charconv>

namespace herald::protocol {

namespace {

constexpr std::string_view bad_expected_version =
  "expected_version is any, no_stream, exists or a number";

std::string_view text_of(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

bool is_word(std::string_view text) {
  return text == "any" || text == "no_stream" || text == "exists";
}

} // namespace

bool valid_stream_name(std::string_view name, size_t max_length) {
  return !name.empty() && name.size() <= max_length;
}

std::optional<storage::expected_version> expected_version_from_text(std::string_view text) {
  if (text == "any")
    return storage::expected_version::any();
  if (text == "no_stream")
    return storage::expected_version::no_stream();
  if (text == "exists")
    return storage::expected_version::exists();
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size() || text.empty())
    return std::nullopt;
  return storage::expected_version::exact(v);
}

append_arg<storage::expected_version> parse_expected_version(const rapidjson::Value* field,
                                                             std::string_view absent_text,
                                                             number_strings numbers) {
  std::optional<storage::expected_version> expected;
  if (!field)
    expected = expected_version_from_text(absent_text);
  else if (field->IsUint64())
    expected = storage::expected_version::exact(field->GetUint64());
  else if (field->IsString() && (numbers == number_strings::taken || is_word(text_of(*field))))
    expected = expected_version_from_text(text_of(*field));
  if (!expected)
    return storage::unexpected{bad_append_arg{bad_expected_version}};
  return *expected;
}

append_arg<std::optional<std::string>> parse_event_type(const rapidjson::Value* field) {
  if (!field)
    return std::optional<std::string>();
  if (!field->IsString() || field->GetStringLength() == 0
      || field->GetStringLength() > max_type_length)
    return storage::unexpected{bad_append_arg{"\"type\" is a string of 1 to 128 characters"}};
  return std::optional<std::string>(text_of(*field));
}

append_arg<std::string> parse_event_id(const rapidjson::Value* field, empty_id empty) {
  if (!field)
    return std::string();
  if (!field->IsString() || (field->GetStringLength() == 0 && empty == empty_id::refused)
      || field->GetStringLength() > max_event_id_length)
    return storage::unexpected{bad_append_arg{"\"id\" is a string of 1 to 256 characters"}};
  return std::string(text_of(*field));
}

std::string event_type_of(const rapidjson::Value* data, std::string_view default_type) {
  if (data && data->IsObject()) {
    auto t = data->FindMember("type");
    if (t != data->MemberEnd() && t->value.IsString() && t->value.GetStringLength() > 0
        && t->value.GetStringLength() <= max_type_length)
      return std::string(text_of(t->value));
  }
  return std::string(default_type);
}

} // namespace herald::protocol
