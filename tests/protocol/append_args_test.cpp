// The arguments of an append (protocol/append_args.hpp), as REST and the
// rpc "append" read them.
#include "protocol/append_args.hpp"

#include <gtest/gtest.h>

namespace herald::test {
namespace {

using namespace protocol;
using storage::expected_version;
using kind = expected_version::kind;

rapidjson::Document json(const char* text) {
  rapidjson::Document d;
  d.Parse(text);
  EXPECT_FALSE(d.HasParseError()) << text;
  return d;
}

template <class T>
std::string_view error_of(const append_arg<T>& a) {
  return a ? std::string_view("(no error)") : a.error().message;
}

expected_version version_of(const append_arg<expected_version>& a) {
  EXPECT_TRUE(a) << error_of(a);
  return a ? a.value() : expected_version{};
}

constexpr std::string_view bad_version = "expected_version is any, no_stream, exists or a number";

TEST(append_args, expected_version_texts) {
  EXPECT_EQ(expected_version_from_text("any")->k, kind::any);
  EXPECT_EQ(expected_version_from_text("no_stream")->k, kind::no_stream);
  EXPECT_EQ(expected_version_from_text("exists")->k, kind::exists);
  EXPECT_EQ(expected_version_from_text("18446744073709551615")->version, UINT64_MAX);
  for (auto bad : {"", "maybe", "-1", "1.5", " 1", "1 ", "18446744073709551616", "Any"})
    EXPECT_FALSE(expected_version_from_text(bad)) << bad;
  EXPECT_FALSE(expected_version_from_text(std::string_view("1\0", 2)));
}

TEST(append_args, an_absent_expected_version_reads_the_fallback) {
  EXPECT_EQ(version_of(parse_expected_version(nullptr, "any", number_strings::refused)).k,
            kind::any);
  auto header = version_of(parse_expected_version(nullptr, "3", number_strings::taken));
  EXPECT_EQ(header.k, kind::exact);
  EXPECT_EQ(header.version, 3u);
  EXPECT_EQ(error_of(parse_expected_version(nullptr, "soon", number_strings::taken)), bad_version);
}

TEST(append_args, expected_version_fields) {
  auto d = json(R"({"n":7,"w":"no_stream","s":"5","neg":-1,"f":1.5,"x":null,"o":{}})");
  for (auto numbers : {number_strings::taken, number_strings::refused}) {
    auto n = version_of(parse_expected_version(&d["n"], "any", numbers));
    EXPECT_EQ(n.k, kind::exact);
    EXPECT_EQ(n.version, 7u);
    EXPECT_EQ(version_of(parse_expected_version(&d["w"], "any", numbers)).k, kind::no_stream);
    for (auto bad : {"neg", "f", "x", "o"})
      EXPECT_EQ(error_of(parse_expected_version(&d[bad], "any", numbers)), bad_version) << bad;
  }
  // REST reads a number in a string; the rpc does not.
  EXPECT_EQ(version_of(parse_expected_version(&d["s"], "any", number_strings::taken)).version, 5u);
  EXPECT_EQ(error_of(parse_expected_version(&d["s"], "any", number_strings::refused)), bad_version);
  // The field wins over the fallback.
  EXPECT_EQ(version_of(parse_expected_version(&d["w"], "9", number_strings::taken)).k,
            kind::no_stream);
}

TEST(append_args, event_types_are_1_to_128_characters) {
  const std::string longest(max_type_length, 't');
  auto d = json(("{\"ok\":\"" + longest + "\",\"long\":\"" + longest
                 + "t\",\"empty\":\"\",\"n\":1,\"nul\":\"a\\u0000b\"}")
                  .c_str());
  EXPECT_FALSE(parse_event_type(nullptr).value());
  EXPECT_EQ(*parse_event_type(&d["ok"]).value(), longest);
  EXPECT_EQ(*parse_event_type(&d["nul"]).value(), std::string("a\0b", 3));
  for (auto bad : {"long", "empty", "n"})
    EXPECT_EQ(error_of(parse_event_type(&d[bad])), "\"type\" is a string of 1 to 128 characters")
      << bad;
}

TEST(append_args, event_ids_are_up_to_256_characters) {
  const std::string longest(max_event_id_length, 'i');
  auto d = json(
    ("{\"ok\":\"" + longest + "\",\"long\":\"" + longest + "i\",\"empty\":\"\",\"n\":1}").c_str());
  const std::string_view bad_id = "\"id\" is a string of 1 to 256 characters";
  for (auto empty : {empty_id::refused, empty_id::means_none}) {
    EXPECT_EQ(parse_event_id(nullptr, empty).value(), "");
    EXPECT_EQ(parse_event_id(&d["ok"], empty).value(), longest);
    EXPECT_EQ(error_of(parse_event_id(&d["long"], empty)), bad_id);
    EXPECT_EQ(error_of(parse_event_id(&d["n"], empty)), bad_id);
  }
  // REST refuses an empty id; the rpc reads it as none.
  EXPECT_EQ(error_of(parse_event_id(&d["empty"], empty_id::refused)), bad_id);
  EXPECT_EQ(parse_event_id(&d["empty"], empty_id::means_none).value(), "");
}

TEST(append_args, an_unnamed_type_comes_from_data_or_the_namespace) {
  auto d = json(R"({"typed":{"type":"moved"},"empty":{"type":""},"number":{"type":1},"list":[1]})");
  EXPECT_EQ(event_type_of(&d["typed"], "message"), "moved");
  EXPECT_EQ(event_type_of(&d["empty"], "message"), "message");
  EXPECT_EQ(event_type_of(&d["number"], "message"), "message");
  EXPECT_EQ(event_type_of(&d["list"], "message"), "message");
  EXPECT_EQ(event_type_of(nullptr, "message"), "message");
}

TEST(append_args, stream_names_are_1_to_max_length_bytes) {
  EXPECT_TRUE(valid_stream_name("a", 1));
  EXPECT_FALSE(valid_stream_name("", 10));
  EXPECT_FALSE(valid_stream_name("ab", 1));
}

} // namespace
} // namespace herald::test
