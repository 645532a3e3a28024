// The REST API of CONTRACT.md, the health and metrics endpoints and the demo
// page: one function per request, answering through a callback that may be
// called from any thread (exactly once).
//
//   POST /api/streams/{stream}            append one event or {"events":[...]}
//   GET  /api/streams/{stream}?from&limit&reverse
//   GET  /api/events?from&limit           the global log
//   GET  /api/queries/{name}?param=...    a named query over a read model
//   GET  /api/projections[/{name}]        status
//   POST /api/projections/{name}/rebuild|retry|skip
//   GET  /health, GET /metrics, GET / (the demo page)
//
// Errors are {"error":{"code","message"}} with 400, 401, 403, 404, 405, 409,
// 413, 415, 429 or 503 (docs/rest.md).
#pragma once

#include "config/settings.hpp"
#include "net/server_context.hpp"

#include <boost/beast/http.hpp>

#include <functional>
#include <memory>

namespace herald::net {

using http_request = boost::beast::http::request<boost::beast::http::string_body>;
using http_response = boost::beast::http::response<boost::beast::http::string_body>;
using responder = std::function<void(http_response)>;

void handle_request(const std::shared_ptr<server_context>& ctx, http_request req,
                    responder respond);

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

/// A JSON response with the request's version and keep-alive.
http_response json_response(const http_request& req, boost::beast::http::status status,
                            std::string body);

} // namespace herald::net
