// What the REST API's handlers share (net/rest_*.cpp): the call a route's
// handler answers, and the checks several resources make. Internal to net/.
#pragma once

#include "net/rest_access.hpp"
#include "net/rest_body.hpp"
#include "net/rest_response.hpp"
#include "net/rest_routes.hpp"
#include "net/server_context.hpp"
#include "storage/event_meta.hpp"

#include <caf/error.hpp>

#include <functional>
#include <memory>
#include <optional>

namespace herald::net {

using responder = std::function<void(http_response)>;

/// One request on its way to an answer. `respond` is shared by the
/// continuations of the node's replies and is called exactly once.
struct rest_call {
  std::shared_ptr<server_context> ctx;
  http_request req;
  query_args query;
  path_params params;
  std::shared_ptr<responder> respond;

  void answer(http_response res) const {
    (*respond)(std::move(res));
  }
  const std::string& param(std::string_view name) const {
    return params.find(name)->second;
  }
};

/// The REST API's 404 for a path that names nothing, and its 401.
void no_such_resource(const rest_call& call);
http_response unauthorized(const http_request& req);

/// An error of the node's actors as an HTTP error.
http_response node_error(const http_request& req, const caf::error& e);

/// Who is calling. A caller presenting the configured API key is the
/// backend: the server API, allowed everything. Anyone else (only possible
/// without a key configured, or on a public query) is an anonymous client
/// and is held to the channel rules a WebSocket client without a token and
/// without a user is (docs/security.md).
enum class caller { server, anonymous };
caller caller_of(const server_context& ctx, const http_request& req);

/// Who appends, for the events' audit metadata (storage/event_meta.hpp):
/// `via` and, for a caller that presented the API key, its configured name
/// (http.api_key_name), never the key; an anonymous caller records no key.
storage::event_meta audit_of(const server_context& ctx, const http_request& req, std::string via);

/// The refusal of `who` touching `stream` with the namespace permission
/// `op` (publish or history), or nullopt when it may.
std::optional<http_response> stream_refusal(const server_context& ctx, const http_request& req,
                                            caller who, const std::string& stream,
                                            config::permission config::namespace_settings::*op);

/// The refusal of a write a page on another site may have made the user's
/// browser send, or nullopt.
std::optional<http_response> cross_site_refusal(const server_context& ctx, const http_request& req);

// The handlers of the route table, by resource.
void read_stream(const rest_call& call); // rest_streams.cpp
void append_to_stream(const rest_call& call);
void read_log(const rest_call& call);
void run_query(const rest_call& call); // rest_projections.cpp
void list_projections(const rest_call& call);
void show_projection(const rest_call& call);
void rebuild_projection(const rest_call& call);
void retry_projection(const rest_call& call);
void skip_projection(const rest_call& call);
void list_processors(const rest_call& call); // rest_processors.cpp
void show_processor(const rest_call& call);
void retry_processor(const rest_call& call);
void skip_processor(const rest_call& call);
void rebuild_processor(const rest_call& call);

} // namespace herald::net
