// The REST API (docs/rest.md), the health and metrics endpoints and the demo
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

#include "net/rest_access.hpp"
#include "net/rest_response.hpp"
#include "net/server_context.hpp"

#include <functional>
#include <memory>

namespace herald::net {

using responder = std::function<void(http_response)>;

void handle_request(const std::shared_ptr<server_context>& ctx, http_request req,
                    responder respond);

} // namespace herald::net
