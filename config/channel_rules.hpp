// The rules a channel's name carries, independent of who asks: private
// channels ('$' first) need a subscription token, user-limited channels
// ('#u1,u2' at the end, in a namespace with user_limited = true) admit only
// the users they list. Every path that touches a channel (each WebSocket
// command, REST, the server API, the global log, projections) asks these,
// so the rules cannot differ between paths (docs/security.md).
#pragma once

#include "config/settings.hpp"

#include <string_view>

namespace herald::config {

/// A private channel: its name starts with '$'.
bool is_private_channel(std::string_view channel);

/// A user-limited channel: the namespace allows them and the name has '#'.
bool is_user_limited(const namespace_settings& ns, std::string_view channel);

/// Whether `user` is named after the last '#' ("dm#alice,bob" lists alice
/// and bob). An empty user is never listed.
bool lists_user(std::string_view channel, std::string_view user);

/// Whether a caller that holds no token for the channel and is known only as
/// `user` (empty: anonymous) may touch it at all: not private, and if
/// user-limited, listed. Namespace permissions are checked on top of this.
bool open_without_token(const namespace_settings& ns, std::string_view channel,
                        std::string_view user);

} // namespace herald::config
