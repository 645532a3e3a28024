// The session policy without actors: namespace lookup, every namespace
// permission allowed and denied, the $ and # rules, anonymous clients,
// token outcomes and limits (docs/security.md).
#include "gateway/session_policy.hpp"

#include <gtest/gtest.h>

namespace herald::gateway {
namespace {

using config::permission;
using protocol::error_code;

/// The refusal of `access`, or nullopt when it grants a namespace.
std::optional<error_code> refusal(const channel_access& access) {
  if (!access)
    return access.error();
  return std::nullopt;
}

class SessionPolicy : public ::testing::Test {
protected:
  SessionPolicy() {
    settings.namespaces["chat"] = config::namespace_settings{};
    auto& open = settings.namespaces["open"];
    open.anonymous = true;
    open.publish = permission::any;
    open.history = permission::any;
    open.presence = permission::any;
    auto& dm = settings.namespaces["dm"];
    dm.user_limited = true;
    dm.publish = permission::any;
    auto& locked = settings.namespaces["locked"];
    locked.subscribe = permission::token;
    locked.publish = permission::token;
    locked.history = permission::server;
    locked.presence = permission::subscriber;
    settings.namespaces["off"].subscribe = permission::off;
    settings.channels.max_name_length = 16;
    settings.websocket.max_subscriptions = 2;
  }

  std::optional<error_code> check(channel_command what, std::string_view channel,
                                  std::string_view user, const channel_grant* grant = nullptr) {
    return refusal(session_policy(settings).check(what, channel, user, grant));
  }

  config::settings settings;
  channel_grant subscribed{true, false, false};
  channel_grant with_token{true, true, false};
  channel_grant server_side{true, false, true};
  channel_grant in_flight{false, true, false};
};

TEST_F(SessionPolicy, LookupRefusesBadNamesAndUnknownNamespaces) {
  session_policy policy(settings);
  EXPECT_EQ(refusal(policy.lookup("")), error_code::bad_request);
  EXPECT_EQ(refusal(policy.lookup("chat:0123456789ab")), error_code::bad_request); // 17 > 16
  EXPECT_EQ(refusal(policy.lookup("nowhere:x")), error_code::unknown_channel);
  auto found = policy.lookup("chat:lobby");
  ASSERT_FALSE(refusal(found));
  EXPECT_EQ(*found, &settings.namespaces["chat"]);
  // A private channel's namespace is the one after the '$'.
  EXPECT_FALSE(refusal(policy.lookup("$chat:x")));
}

TEST_F(SessionPolicy, LookupErrorsComeFirstForEveryCommand) {
  for (auto what : {channel_command::publish, channel_command::history, channel_command::presence,
                    channel_command::sub_refresh}) {
    EXPECT_EQ(check(what, "", "alice", &with_token), error_code::bad_request);
    EXPECT_EQ(check(what, "nowhere:x", "alice", &with_token), error_code::unknown_channel);
  }
}

TEST_F(SessionPolicy, SubscriberPermissionNeedsAnActiveSubscription) {
  EXPECT_EQ(check(channel_command::publish, "chat:a", "alice"), error_code::permission_denied);
  EXPECT_EQ(check(channel_command::publish, "chat:a", "alice", &in_flight),
            error_code::permission_denied);
  EXPECT_FALSE(check(channel_command::publish, "chat:a", "alice", &subscribed));
  EXPECT_FALSE(check(channel_command::history, "chat:a", "alice", &subscribed));
}

TEST_F(SessionPolicy, AnyAdmitsUsersAndAnonymousOnlyWhereAllowed) {
  EXPECT_FALSE(check(channel_command::publish, "open:a", "alice"));
  EXPECT_FALSE(check(channel_command::publish, "open:a", ""));
  EXPECT_FALSE(check(channel_command::publish, "dm:a", "alice"));
  EXPECT_EQ(check(channel_command::publish, "dm:a", ""), error_code::permission_denied);
}

TEST_F(SessionPolicy, TokenPermissionNeedsTokenRights) {
  EXPECT_EQ(check(channel_command::publish, "locked:a", "alice", &subscribed),
            error_code::permission_denied);
  EXPECT_FALSE(check(channel_command::publish, "locked:a", "alice", &with_token));
  EXPECT_FALSE(check(channel_command::publish, "locked:a", "alice", &server_side));
}

TEST_F(SessionPolicy, ServerAndOffPermissionsAdmitNobody) {
  EXPECT_EQ(check(channel_command::history, "locked:a", "alice", &with_token),
            error_code::permission_denied);
  EXPECT_EQ(
    session_policy(settings).admit_without_token(settings.namespaces["off"], "off:a", "alice"),
    error_code::permission_denied);
  EXPECT_FALSE(session_policy::subscribable(settings.namespaces["off"]));
  EXPECT_TRUE(session_policy::subscribable(settings.namespaces["chat"]));
}

TEST_F(SessionPolicy, FeaturesSwitchedOffAreNotAvailable) {
  // chat keeps the default presence = off: 108 before any permission.
  EXPECT_EQ(check(channel_command::presence, "chat:a", "alice", &with_token),
            error_code::not_available);
  settings.namespaces["chat"].history = permission::off;
  EXPECT_EQ(check(channel_command::history, "chat:a", "alice", &with_token),
            error_code::not_available);
  EXPECT_FALSE(check(channel_command::presence, "open:a", ""));
  EXPECT_FALSE(check(channel_command::presence, "locked:a", "alice", &subscribed));
}

TEST_F(SessionPolicy, PrivateChannelsNeedTokenRights) {
  EXPECT_EQ(check(channel_command::publish, "$open:a", "alice"), error_code::permission_denied);
  EXPECT_EQ(check(channel_command::publish, "$chat:a", "alice", &subscribed),
            error_code::permission_denied);
  EXPECT_FALSE(check(channel_command::publish, "$chat:a", "alice", &with_token));
  EXPECT_EQ(
    session_policy(settings).admit_without_token(settings.namespaces["open"], "$open:a", "alice"),
    error_code::permission_denied);
}

TEST_F(SessionPolicy, UserLimitedChannelsAdmitTheirListedUsers) {
  EXPECT_FALSE(check(channel_command::publish, "dm:r#alice,bob", "bob"));
  EXPECT_EQ(check(channel_command::publish, "dm:r#alice,bob", "eve"),
            error_code::permission_denied);
  EXPECT_FALSE(check(channel_command::publish, "dm:r#alice,bob", "eve", &with_token));
  session_policy policy(settings);
  EXPECT_FALSE(policy.admit_without_token(settings.namespaces["dm"], "dm:r#alice", "alice"));
  EXPECT_EQ(policy.admit_without_token(settings.namespaces["dm"], "dm:r#alice", "eve"),
            error_code::permission_denied);
}

TEST_F(SessionPolicy, SubscribeWithoutTokenFollowsTheSubscribePermission) {
  session_policy policy(settings);
  EXPECT_FALSE(policy.admit_without_token(settings.namespaces["chat"], "chat:a", "alice"));
  EXPECT_EQ(policy.admit_without_token(settings.namespaces["chat"], "chat:a", ""),
            error_code::permission_denied);
  EXPECT_FALSE(policy.admit_without_token(settings.namespaces["open"], "open:a", ""));
  EXPECT_EQ(policy.admit_without_token(settings.namespaces["locked"], "locked:a", "alice"),
            error_code::permission_denied);
}

TEST_F(SessionPolicy, SubRefreshRenewsOnlySubscriptionTokenGrants) {
  EXPECT_FALSE(check(channel_command::sub_refresh, "chat:a", "alice", &with_token));
  EXPECT_EQ(check(channel_command::sub_refresh, "chat:a", "alice"), error_code::permission_denied);
  EXPECT_EQ(check(channel_command::sub_refresh, "chat:a", "alice", &subscribed),
            error_code::permission_denied);
  EXPECT_EQ(check(channel_command::sub_refresh, "chat:a", "alice", &server_side),
            error_code::permission_denied);
  EXPECT_EQ(check(channel_command::sub_refresh, "chat:a", "alice", &in_flight),
            error_code::permission_denied);
}

TEST_F(SessionPolicy, AnonymousAllowedWhenAnyNamespaceSaysSo) {
  EXPECT_TRUE(session_policy(settings).anonymous_allowed());
  settings.namespaces["open"].anonymous = false;
  EXPECT_FALSE(session_policy(settings).anonymous_allowed());
}

TEST_F(SessionPolicy, SubscriptionLimit) {
  session_policy policy(settings);
  EXPECT_TRUE(policy.subscription_fits(0));
  EXPECT_TRUE(policy.subscription_fits(1));
  EXPECT_FALSE(policy.subscription_fits(2));
}

token_result verified(token_claims claims) {
  return token_result{token_status::ok, "", std::move(claims)};
}

token_result refused(token_status status) {
  return token_result{status, "why", {}};
}

TEST(SessionPolicyTokens, SubscriptionTokens) {
  token_claims c;
  c.sub = "alice";
  c.channel = "chat:a";
  EXPECT_EQ(session_policy::subscription_token(verified(c), "chat:a", "alice", "c1"),
            token_outcome::accepted);
  EXPECT_EQ(session_policy::subscription_token(verified(c), "chat:b", "alice", "c1"),
            token_outcome::invalid_close);
  EXPECT_EQ(session_policy::subscription_token(verified(c), "chat:a", "bob", "c1"),
            token_outcome::invalid_close);
  c.client = "c2";
  EXPECT_EQ(session_policy::subscription_token(verified(c), "chat:a", "alice", "c1"),
            token_outcome::invalid_close);
  EXPECT_EQ(session_policy::subscription_token(verified(c), "chat:a", "alice", "c2"),
            token_outcome::accepted);
  EXPECT_EQ(
    session_policy::subscription_token(refused(token_status::expired), "chat:a", "alice", "c1"),
    token_outcome::expired_reply);
  for (auto s : {token_status::malformed, token_status::unsupported_algorithm,
                 token_status::bad_signature, token_status::bad_claims})
    EXPECT_EQ(session_policy::subscription_token(refused(s), "chat:a", "alice", "c1"),
              token_outcome::denied_reply);
}

TEST(SessionPolicyTokens, ConnectTokens) {
  token_claims c;
  c.sub = "alice";
  EXPECT_EQ(session_policy::connect_token(verified(c)), token_outcome::accepted);
  EXPECT_EQ(session_policy::connect_token(refused(token_status::expired)),
            token_outcome::expired_reply);
  EXPECT_EQ(session_policy::connect_token(refused(token_status::bad_signature)),
            token_outcome::invalid_close);
  c.channel = "chat:a"; // a subscription token is no connection token
  EXPECT_EQ(session_policy::connect_token(verified(c)), token_outcome::invalid_close);
}

TEST(SessionPolicyTokens, RefreshTokens) {
  token_claims c;
  c.sub = "alice";
  EXPECT_EQ(session_policy::refresh_token(verified(c), "alice"), token_outcome::accepted);
  EXPECT_EQ(session_policy::refresh_token(verified(c), "bob"), token_outcome::invalid_close);
  EXPECT_EQ(session_policy::refresh_token(refused(token_status::expired), "alice"),
            token_outcome::expired_close);
  EXPECT_EQ(session_policy::refresh_token(refused(token_status::malformed), "alice"),
            token_outcome::invalid_close);
  c.channel = "chat:a";
  EXPECT_EQ(session_policy::refresh_token(verified(c), "alice"), token_outcome::invalid_close);
}

} // namespace
} // namespace herald::gateway
