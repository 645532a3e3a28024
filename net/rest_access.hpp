// Who may touch a stream through the REST API (docs/security.md).
#pragma once

#include "config/settings.hpp"

#include <string_view>

namespace herald::net {

/// Whether a REST caller may touch a stream.
enum class stream_access {
  allowed,
  unknown_channel, ///< in no configured namespace: 404 for everyone
  denied,          ///< 403
};

/// The backend (a caller with the API key) may touch any stream of a
/// configured namespace.
stream_access server_access(const config::settings& s, std::string_view stream);

/// A caller without the API key is an anonymous client: it may do what the
/// namespace permission `op` (publish or history) allows when that is `any`,
/// the namespace has `anonymous = true`, and the channel needs no token
/// (not `$`) and lists no users (`#`) (config/channel_rules.hpp).
stream_access anonymous_access(const config::settings& s, std::string_view stream,
                               config::permission config::namespace_settings::*op);

} // namespace herald::net
