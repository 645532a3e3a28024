// What a client connection may do, decided without actors: the channel's
// namespace, the namespace permission of each command, the channel's own
// rules ($ private, # user-limited; config/channel_rules.hpp), what a
// token's verification means for the connection, and the per-connection
// limits. The session actor asks it and acts on the answer; every rule of
// docs/security.md that depends only on names, settings and what the
// connection holds lives here, so it is tested without CAF.
#pragma once

#include "config/settings.hpp"
#include "gateway/tokens.hpp"
#include "protocol/codes.hpp"
#include "storage/result.hpp"

#include <cstddef>
#include <optional>
#include <string_view>

namespace herald::gateway {

/// What a connection holds of one channel.
struct channel_grant {
  bool active = false;      ///< subscribed (not in flight)
  bool with_token = false;  ///< granted by a subscription token
  bool server_side = false; ///< from the connection token's "channels"

  /// Token rights: the channel's own rules no longer apply.
  bool token_rights() const {
    return with_token || server_side;
  }
};

/// The commands that act on a channel, each checked against its own
/// namespace permission.
enum class channel_command {
  publish,     ///< publish and rpc append
  history,     ///< history (108 where the namespace switches it off)
  presence,    ///< presence and presence_stats (108 where off)
  sub_refresh, ///< renewing a subscription token's grant
};

/// A channel's namespace, or the error code that refuses the command.
using channel_access = storage::result<const config::namespace_settings*, protocol::error_code>;

/// What a verified connection or subscription token means for the command
/// that carried it.
enum class token_outcome {
  accepted,
  expired_reply, ///< reply 109: the SDK fetches a new token
  denied_reply,  ///< reply 103
  expired_close, ///< close 3005: reconnect with a fresh token
  invalid_close, ///< close 3500 "invalid token" (terminal)
};

class session_policy {
public:
  explicit session_policy(const config::settings& settings) : settings_(settings) {}

  /// The namespace of a channel named in a command: 107 for a missing,
  /// empty or too long name, 102 where no namespace holds it.
  channel_access lookup(std::string_view channel) const;

  /// Whether a connection of `user` (empty: anonymous) that holds `grant`
  /// of `channel` (nullptr: none) has the namespace permission `p`, the
  /// channel's own rules included.
  bool allowed(const config::namespace_settings& ns, config::permission p, std::string_view channel,
               std::string_view user, const channel_grant* grant) const;

  /// The whole check of a command on a channel: lookup, then 108 where the
  /// namespace switched the feature off, then 103 where not allowed.
  channel_access check(channel_command what, std::string_view channel, std::string_view user,
                       const channel_grant* grant) const;

  /// A subscribe without a subscription token: 103 unless the namespace's
  /// subscribe permission admits this user to the channel.
  std::optional<protocol::error_code> admit_without_token(const config::namespace_settings& ns,
                                                          std::string_view channel,
                                                          std::string_view user) const;

  /// A subscription token first needs a namespace that is not off.
  static bool subscribable(const config::namespace_settings& ns) {
    return ns.subscribe != config::permission::off;
  }

  /// Whether a connection holding `held` subscriptions may add one
  /// (websocket.max_subscriptions; else 106).
  bool subscription_fits(size_t held) const;

  /// Whether any namespace lets clients in without a token.
  bool anonymous_allowed() const;

  /// A subscription token's verification for `channel`, for a connection
  /// of `user` with client id `client`.
  static token_outcome subscription_token(const token_result& r, std::string_view channel,
                                          std::string_view user, std::string_view client);

  /// A connect token's verification (an empty token is anonymous, decided
  /// by anonymous_allowed).
  static token_outcome connect_token(const token_result& r);

  /// A refresh token's verification for a connection of `user`.
  static token_outcome refresh_token(const token_result& r, std::string_view user);

private:
  const config::settings& settings_;
};

} // namespace herald::gateway
