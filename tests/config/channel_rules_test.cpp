#include "config/channel_rules.hpp"

#include <gtest/gtest.h>

namespace herald::config {
namespace {

TEST(channel_rules, private_channels_start_with_dollar) {
  EXPECT_TRUE(is_private_channel("$chat:secret"));
  EXPECT_FALSE(is_private_channel("chat:$x"));
  EXPECT_FALSE(is_private_channel(""));
}

TEST(channel_rules, user_limited_only_where_the_namespace_allows_it) {
  namespace_settings limited;
  limited.user_limited = true;
  namespace_settings plain;
  EXPECT_TRUE(is_user_limited(limited, "dm:room#alice,bob"));
  EXPECT_FALSE(is_user_limited(plain, "dm:room#alice,bob"));
  EXPECT_FALSE(is_user_limited(limited, "dm:room"));
}

TEST(channel_rules, lists_users_after_the_last_hash) {
  EXPECT_TRUE(lists_user("dm:room#alice,bob", "alice"));
  EXPECT_TRUE(lists_user("dm:room#alice,bob", "bob"));
  EXPECT_FALSE(lists_user("dm:room#alice,bob", "al"));
  EXPECT_FALSE(lists_user("dm:room#alice,bob", ""));
  EXPECT_FALSE(lists_user("dm:room", "alice"));
  EXPECT_TRUE(lists_user("dm:a#b#carol", "carol"));
}

TEST(channel_rules, open_without_token) {
  namespace_settings limited;
  limited.user_limited = true;
  EXPECT_FALSE(open_without_token(limited, "$chat:x", "alice"));
  EXPECT_FALSE(open_without_token(limited, "dm:r#alice,bob", ""));
  EXPECT_FALSE(open_without_token(limited, "dm:r#alice,bob", "eve"));
  EXPECT_TRUE(open_without_token(limited, "dm:r#alice,bob", "bob"));
  EXPECT_TRUE(open_without_token(limited, "chat:lobby", ""));
}

} // namespace
} // namespace herald::config
