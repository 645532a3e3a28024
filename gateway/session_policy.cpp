#include "gateway/session_policy.hpp"

#include "config/channel_rules.hpp"
#include "protocol/append_args.hpp"

namespace herald::gateway {

namespace {

using config::permission;
using protocol::error_code;

/// The channel's own rules ($, #): token rights open the channel to this
/// connection; without them it must be open without a token to this user.
bool channel_open(const config::namespace_settings& ns, std::string_view channel,
                  std::string_view user, const channel_grant* grant) {
  if (grant && grant->token_rights())
    return true;
  return config::open_without_token(ns, channel, user);
}

/// The namespace's permission `p` alone.
bool permitted(const config::namespace_settings& ns, permission p, std::string_view user,
               const channel_grant* grant) {
  switch (p) {
    case permission::off:
    case permission::server:
      return false;
    case permission::any:
      return !user.empty() || ns.anonymous;
    case permission::subscriber:
      return grant != nullptr;
    case permission::token:
      return grant && grant->token_rights();
  }
  return false;
}

} // namespace

channel_access session_policy::lookup(std::string_view channel) const {
  if (!protocol::valid_stream_name(channel,
                                   static_cast<size_t>(settings_.channels.max_name_length)))
    return storage::unexpected{error_code::bad_request};
  if (const auto* ns = settings_.namespace_of(channel))
    return ns;
  return storage::unexpected{error_code::unknown_channel};
}

bool session_policy::allowed(const config::namespace_settings& ns, permission p,
                             std::string_view channel, std::string_view user,
                             const channel_grant* grant) const {
  // Only an active subscription counts as holding the channel.
  const channel_grant* held = grant && grant->active ? grant : nullptr;
  return channel_open(ns, channel, user, held) && permitted(ns, p, user, held);
}

channel_access session_policy::check(channel_command what, std::string_view channel,
                                     std::string_view user, const channel_grant* grant) const {
  auto access = lookup(channel);
  if (!access)
    return access;
  const auto& ns = **access;
  permission p = permission::off;
  switch (what) {
    case channel_command::publish:
      p = ns.publish;
      break;
    case channel_command::history:
      if (ns.history == permission::off)
        return storage::unexpected{error_code::not_available};
      p = ns.history;
      break;
    case channel_command::presence:
      if (ns.presence == permission::off)
        return storage::unexpected{error_code::not_available};
      p = ns.presence;
      break;
    case channel_command::sub_refresh:
      // Only what a subscription token granted can be renewed by one; a
      // server-side subscription belongs to the connection token.
      if (!grant || grant->server_side)
        return storage::unexpected{error_code::permission_denied};
      p = permission::token;
      break;
  }
  if (!allowed(ns, p, channel, user, grant))
    return storage::unexpected{error_code::permission_denied};
  return access;
}

std::optional<error_code> session_policy::admit_without_token(const config::namespace_settings& ns,
                                                              std::string_view channel,
                                                              std::string_view user) const {
  // The same check as every other command on the channel (the connection
  // holds no subscription of it yet): `any` admits where the channel is
  // open to this user; `token` and `server` need a token.
  if (subscribable(ns) && allowed(ns, ns.subscribe, channel, user, nullptr))
    return std::nullopt;
  return error_code::permission_denied;
}

bool session_policy::subscription_fits(size_t held) const {
  return held < static_cast<size_t>(settings_.websocket.max_subscriptions);
}

bool session_policy::anonymous_allowed() const {
  for (const auto& [name, ns] : settings_.namespaces)
    if (ns.anonymous)
      return true;
  return false;
}

token_outcome session_policy::subscription_token(const token_result& r, std::string_view channel,
                                                 std::string_view user, std::string_view client) {
  if (!r.ok())
    return r.status == token_status::expired ? token_outcome::expired_reply
                                             : token_outcome::denied_reply;
  const auto& c = r.claims;
  if (c.sub != user || c.channel != channel || (!c.client.empty() && c.client != client))
    return token_outcome::invalid_close;
  return token_outcome::accepted;
}

token_outcome session_policy::connect_token(const token_result& r) {
  // Expired: the SDK fetches a new token and reconnects.
  if (r.status == token_status::expired)
    return token_outcome::expired_reply;
  if (!r.ok() || r.claims.for_subscription())
    return token_outcome::invalid_close;
  return token_outcome::accepted;
}

token_outcome session_policy::refresh_token(const token_result& r, std::string_view user) {
  if (r.status == token_status::expired)
    return token_outcome::expired_close;
  if (!r.ok() || r.claims.sub != user || r.claims.for_subscription())
    return token_outcome::invalid_close;
  return token_outcome::accepted;
}

} // namespace herald::gateway
