// Which browser pages may open a WebSocket (websocket.allowed_origins).
// Browsers send the page's Origin with every WebSocket handshake and let any
// page connect anywhere, so the server must check it, or any site a user
// visits could talk to herald with the user's cookies.
#pragma once

#include <string_view>

namespace herald::net {

/// Whether a handshake with this Origin header may proceed.
/// - no Origin header: yes (not a browser; tokens guard those clients);
/// - `allowed` "*": any origin;
/// - `allowed` a comma-separated list: an exact origin ("https://app.example",
///   scheme and port included, case-insensitive) or a subdomain pattern
///   ("https://*.example.com");
/// - `allowed` empty: only the node's own pages (the Origin's host and port
///   equal the Host header).
bool origin_allowed(std::string_view origin, std::string_view host, std::string_view allowed);

} // namespace herald::net
