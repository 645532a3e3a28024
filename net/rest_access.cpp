#include "net/rest_access.hpp"

#include "config/channel_rules.hpp"
#include "net/api_key.hpp"
#include "net/http_util.hpp"
#include "net/origin.hpp"
#include "net/rest_handlers.hpp"

namespace herald::net {

namespace http = boost::beast::http;

stream_access server_access(const config::settings& s, std::string_view stream) {
  return s.namespace_of(stream) ? stream_access::allowed : stream_access::unknown_channel;
}

stream_access anonymous_access(const config::settings& s, std::string_view stream,
                               config::permission config::namespace_settings::*op) {
  const auto* ns = s.namespace_of(stream);
  if (!ns)
    return stream_access::unknown_channel;
  // As for a WebSocket client with no user and no token: `any` admits it
  // only where the namespace takes anonymous clients, and the channel's
  // name must not ask for a token ($) or list its users (#).
  if (!ns->anonymous || ns->*op != config::permission::any
      || !config::open_without_token(*ns, stream, ""))
    return stream_access::denied;
  return stream_access::allowed;
}

caller caller_of(const server_context& ctx, const http_request& req) {
  const auto& key = ctx.settings().http.api_key;
  return !key.empty() && has_api_key(req, key) ? caller::server : caller::anonymous;
}

storage::event_meta audit_of(const server_context& ctx, const http_request& req, std::string via) {
  storage::event_meta m;
  m.via = std::move(via);
  if (caller_of(ctx, req) == caller::server)
    m.key = ctx.settings().http.api_key_name;
  return m;
}

std::optional<http_response> stream_refusal(const server_context& ctx, const http_request& req,
                                            caller who, const std::string& stream,
                                            config::permission config::namespace_settings::*op) {
  switch (who == caller::server ? server_access(ctx.settings(), stream)
                                : anonymous_access(ctx.settings(), stream, op)) {
    case stream_access::allowed:
      return std::nullopt;
    case stream_access::unknown_channel:
      return error_response(req, http::status::not_found, "unknown_channel",
                            "the stream is in no configured namespace");
    case stream_access::denied:
      break;
  }
  return error_response(req, http::status::forbidden, "permission_denied",
                        "this stream needs the API key (see docs/security.md)");
}

/// Without an API key, nothing but these checks tells a POST from the
/// user's own tools from one a page on another site makes the user's
/// browser send: a form or a no-cors fetch can POST text/plain to any
/// address, loopback included, and browsers add the page's Origin. JSON
/// with another content type needs a CORS preflight, which herald never
/// grants. With a key configured, such a POST cannot carry the key.
std::optional<http_response> cross_site_refusal(const server_context& ctx,
                                                const http_request& req) {
  if (!ctx.settings().http.api_key.empty())
    return std::nullopt;
  if (!origin_allowed(as_std(req[http::field::origin]), as_std(req[http::field::host]),
                      ctx.settings().websocket.allowed_origins))
    return error_response(req, http::status::forbidden, "forbidden",
                          "this Origin may not write (see websocket.allowed_origins)");
  if (!is_json_media_type(as_std(req[http::field::content_type])))
    return error_response(req, http::status::unsupported_media_type, "unsupported_media_type",
                          "send the body with Content-Type: application/json");
  return std::nullopt;
}

} // namespace herald::net
