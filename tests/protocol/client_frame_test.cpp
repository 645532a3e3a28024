// The client-frame decoder (protocol/client_frame.hpp): what the fuzz target
// found, pinned as plain unit tests. The fuzz target
// (tests/fuzz/client_frame_fuzz.cpp) checks the same rules on arbitrary input.
#include "protocol/client_frame.hpp"
#include "protocol/json_value_check.hpp"

#include <gtest/gtest.h>

namespace herald::protocol {
namespace {

std::string error_of(std::string_view frame) {
  std::vector<command> commands;
  std::string error;
  EXPECT_FALSE(parse_frame(frame, commands, error)) << frame;
  return error;
}

TEST(client_protocol, rejects_numbers_past_the_double_range) {
  // RapidJSON reads these as infinity, which to_json cannot write back.
  EXPECT_EQ(error_of(R"({"publish":{"channel":"c","data":[8e308]},"id":1})"),
            "malformed JSON: a number is too big to be stored in a double");
  EXPECT_EQ(error_of(R"({"publish":{"channel":"c","data":{"x":-1.8e308}}})"),
            "malformed JSON: a number is too big to be stored in a double");
}

TEST(client_protocol, rejects_unpaired_surrogates) {
  // RapidJSON decodes a lone low surrogate to bytes that are not UTF-8; a
  // browser would fail the WebSocket of every subscriber it reached.
  EXPECT_EQ(error_of(R"({"publish":{"channel":"c","data":"hi \ude00"},"id":1})"),
            "malformed JSON: a \\u escape is an unpaired UTF-16 surrogate");
  EXPECT_EQ(error_of(R"({"\udc00":{}})"),
            "malformed JSON: a \\u escape is an unpaired UTF-16 surrogate");
}

TEST(client_protocol, accepts_the_largest_double_and_surrogate_pairs) {
  std::vector<command> commands;
  std::string error;
  ASSERT_TRUE(parse_frame(
    R"({"publish":{"channel":"c","data":[1.7976931348623157e308,"\ud83d\ude00"]},"id":1})",
    commands, error))
    << error;
  EXPECT_EQ(protocol::json_text(*get(commands.at(0).body, "data")),
            "[1.7976931348623157e308,\"\xf0\x9f\x98\x80\"]");
}

} // namespace
} // namespace herald::protocol
