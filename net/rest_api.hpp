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
// Errors are {"error":{"code","message"}} with 400, 404, 405, 409, 413, 429
// or 503 (docs/rest.md).
#pragma once

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

/// A JSON response with the request's version and keep-alive.
http_response json_response(const http_request& req, boost::beast::http::status status,
                            std::string body);

} // namespace herald::net
