// websocket.allowed_origins: which pages may open a WebSocket.
#include "net/origin.hpp"

#include <gtest/gtest.h>

namespace herald::test {
namespace {

using net::origin_allowed;

TEST(origin, clients_without_an_origin_are_not_browsers) {
  EXPECT_TRUE(origin_allowed("", "herald.example:8000", ""));
  EXPECT_TRUE(origin_allowed("", "herald.example:8000", "https://app.example"));
}

TEST(origin, by_default_only_the_nodes_own_pages) {
  EXPECT_TRUE(origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", ""));
  EXPECT_TRUE(origin_allowed("https://Herald.Example", "herald.example", ""));
  EXPECT_FALSE(origin_allowed("http://127.0.0.1:9000", "127.0.0.1:8000", ""));
  EXPECT_FALSE(origin_allowed("https://evil.example", "herald.example", ""));
  EXPECT_FALSE(origin_allowed("null", "herald.example", ""));
  EXPECT_FALSE(origin_allowed("https://evil.example", "", ""));
}

TEST(origin, a_list_of_exact_origins) {
  const char* list = "https://app.example, http://localhost:3000";
  EXPECT_TRUE(origin_allowed("https://app.example", "h", list));
  EXPECT_TRUE(origin_allowed("HTTPS://APP.EXAMPLE", "h", list));
  EXPECT_TRUE(origin_allowed("http://localhost:3000", "h", list));
  EXPECT_FALSE(origin_allowed("http://localhost:3001", "h", list));
  EXPECT_FALSE(origin_allowed("http://app.example", "h", list));
  EXPECT_FALSE(origin_allowed("https://app.example.evil", "h", list));
}

TEST(origin, subdomain_patterns) {
  const char* list = "https://*.example.com";
  EXPECT_TRUE(origin_allowed("https://a.example.com", "h", list));
  EXPECT_TRUE(origin_allowed("https://b.a.example.com", "h", list));
  EXPECT_FALSE(origin_allowed("https://example.com", "h", list));
  EXPECT_FALSE(origin_allowed("https://evilexample.com", "h", list));
  EXPECT_FALSE(origin_allowed("http://a.example.com", "h", list));
}

TEST(origin, star_admits_any) {
  EXPECT_TRUE(origin_allowed("https://anything.example", "h", "*"));
  EXPECT_TRUE(origin_allowed("null", "h", " * "));
}

} // namespace
} // namespace herald::test
