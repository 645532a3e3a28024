// Parsing REST requests (net/rest_body.hpp): what the fuzz target found,
// pinned as plain unit tests. The fuzz target (tests/fuzz/rest_body_fuzz.cpp)
// checks the same rules on arbitrary input.
#include "net/rest_body.hpp"

#include <gtest/gtest.h>

namespace herald::test {
namespace {

using net::bad_request;
using net::parse_append;

std::string error_of(std::string_view body) {
  auto r = parse_append("s", body, std::nullopt);
  const auto* bad = std::get_if<bad_request>(&r);
  EXPECT_NE(bad, nullptr) << body;
  return bad ? bad->message : "";
}

TEST(rest_body, strings_keep_an_escaped_nul) {
  auto r = parse_append("s", R"({"type":"a\u0000b","id":"i\u0000d"})", std::nullopt);
  ASSERT_TRUE(std::holds_alternative<storage::append_request>(r));
  const auto& e = std::get<storage::append_request>(r).events.at(0);
  EXPECT_EQ(e.type, std::string("a\0b", 3));
  EXPECT_EQ(e.id, std::string("i\0d", 3));
}

TEST(rest_body, an_expected_version_with_a_nul_is_not_a_number) {
  EXPECT_EQ(error_of(R"({"type":"t","expected_version":"3\u0000x"})"),
            "expected_version is any, no_stream, exists or a number");
}

TEST(rest_body, rejects_what_could_not_be_written_back) {
  EXPECT_EQ(error_of(R"({"type":"t","data":[8e308]})"),
            "a number is too big to be stored in a double");
  EXPECT_EQ(error_of(R"({"type":"t","meta":{"k":"\udc00"}})"),
            "a \\u escape is an unpaired UTF-16 surrogate");
  EXPECT_EQ(error_of(R"({"type":"t","data":{"\udfff":1}})"),
            "a \\u escape is an unpaired UTF-16 surrogate");
}

} // namespace
} // namespace herald::test
