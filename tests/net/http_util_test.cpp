// URL decoding: what a path segment or query value may hold.
#include "net/http_util.hpp"

#include <gtest/gtest.h>

namespace herald::test {
namespace {

using net::percent_decode;

TEST(http_util, percent_decodes) {
  EXPECT_EQ(percent_decode("chat%3Alobby", false), "chat:lobby");
  EXPECT_EQ(percent_decode("a+b", false), "a+b");
  EXPECT_EQ(percent_decode("a+b", true), "a b");
  EXPECT_EQ(percent_decode("%C3%A9%F0%9F%98%80", false), "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(http_util, refuses_stray_percents_and_nul) {
  EXPECT_FALSE(percent_decode("%", false));
  EXPECT_FALSE(percent_decode("a%2", false));
  EXPECT_FALSE(percent_decode("%zz", false));
  EXPECT_FALSE(percent_decode("a%00b", false));
}

TEST(http_util, refuses_what_is_not_utf8) {
  for (const char* bad : {"%FF", "%80", "%C3", "%C0%AE", "%C0%80", "%E0%80%AF", "%ED%A0%80",
                          "%F4%90%80%80", "%F8%88%80%80%80", "a%E2%82", "\xff"})
    EXPECT_FALSE(percent_decode(bad, false)) << bad;
  EXPECT_TRUE(percent_decode("%F4%8F%BF%BF", false)); // U+10FFFF
  EXPECT_TRUE(percent_decode("%EF%BF%BD", false));    // U+FFFD
}

TEST(http_util, parses_queries) {
  auto q = net::parse_query("from=1&limit=%32&&room=a+b");
  ASSERT_TRUE(q);
  EXPECT_EQ((*q)["from"], "1");
  EXPECT_EQ((*q)["limit"], "2");
  EXPECT_EQ((*q)["room"], "a b");
  EXPECT_FALSE(net::parse_query("room=%FF"));
  EXPECT_FALSE(net::parse_query("=1"));
}

} // namespace
} // namespace herald::test
