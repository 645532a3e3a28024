#include "net/rest_api.hpp"

#include "gateway/node_failure.hpp"
#include "net/api_key.hpp"
#include "net/http_util.hpp"
#include "net/metrics.hpp"
#include "net/rest_handlers.hpp"
#include "net/server_api.hpp"
#include "net/static_files.hpp"

namespace herald::net {

namespace http = boost::beast::http;

namespace {

using status = http::status;

void health(const rest_call& call) {
  const auto& ctx = *call.ctx;
  bool up = ctx.ready && !ctx.stopping;
  std::string body = std::string("{\"status\":\"")
                     + (up             ? "ok"
                        : ctx.stopping ? "stopping"
                                       : "starting")
                     + "\",\"journal_id\":\"" + ctx.node().journal_id + "\",\"connections\":"
                     + std::to_string(ctx.session->metrics->connections.load()) + "}";
  call.answer(
    make_response(call.req, up ? status::ok : status::service_unavailable, std::move(body)));
}

void metrics(const rest_call& call) {
  render_metrics(call.ctx, [req = call.req, respond = call.respond](std::string text) {
    http_response res{status::ok, req.version()};
    res.set(http::field::server, "herald");
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(text);
    res.prepare_payload();
    (*respond)(std::move(res));
  });
}

/// An HTTP request to the WebSocket endpoint.
void websocket_hint(const rest_call& call) {
  call.answer(error_response(call.req, status::upgrade_required, "upgrade_required",
                             "this is the WebSocket endpoint: connect with a WebSocket client",
                             {{"Upgrade", "websocket"}}));
}

using http::verb;

/// Every resource the API serves. The routes of one path come in a row,
/// the first one's method named in a 405.
const std::vector<route>& routes() {
  static const std::vector<route> table{
    {verb::get, "/health", auth_rule::open, health},
    {verb::get, "/metrics", auth_rule::open, metrics},
    {std::nullopt, "/connection/websocket", auth_rule::open, websocket_hint},
    // Centrifugo's server API (server_api.hpp): it checks the key and the
    // method itself, to answer as Centrifugo does (401 and 405, empty).
    {std::nullopt, "/api", auth_rule::open, server_api_legacy},
    {std::nullopt, "/api/publish", auth_rule::open, server_api_call},
    {std::nullopt, "/api/broadcast", auth_rule::open, server_api_call},
    {std::nullopt, "/api/subscribe", auth_rule::open, server_api_call},
    {std::nullopt, "/api/unsubscribe", auth_rule::open, server_api_call},
    {std::nullopt, "/api/disconnect", auth_rule::open, server_api_call},
    {std::nullopt, "/api/refresh", auth_rule::open, server_api_call},
    {std::nullopt, "/api/presence", auth_rule::open, server_api_call},
    {std::nullopt, "/api/presence_stats", auth_rule::open, server_api_call},
    {std::nullopt, "/api/history", auth_rule::open, server_api_call},
    {std::nullopt, "/api/history_remove", auth_rule::open, server_api_call},
    {std::nullopt, "/api/channels", auth_rule::open, server_api_call},
    {std::nullopt, "/api/info", auth_rule::open, server_api_call},
    {std::nullopt, "/api/batch", auth_rule::open, server_api_call},
    {verb::get, "/api/streams/{stream}", auth_rule::api_key, read_stream},
    {verb::post, "/api/streams/{stream}", auth_rule::api_key, append_to_stream},
    {verb::get, "/api/events", auth_rule::api_key, read_log},
    {verb::get, "/api/queries/{name}", auth_rule::api_key_unless_public_query, run_query},
    {verb::get, "/api/projections", auth_rule::api_key, list_projections},
    {verb::get, "/api/projections/{name}", auth_rule::api_key, show_projection},
    {verb::post, "/api/projections/{name}/rebuild", auth_rule::api_key, rebuild_projection},
    {verb::post, "/api/projections/{name}/retry", auth_rule::api_key, retry_projection},
    {verb::post, "/api/projections/{name}/skip", auth_rule::api_key, skip_projection},
    {verb::get, "/api/processors", auth_rule::api_key, list_processors},
    {verb::get, "/api/processors/{name}", auth_rule::api_key, show_processor},
    {verb::post, "/api/processors/{name}/retry", auth_rule::api_key, retry_processor},
    {verb::post, "/api/processors/{name}/skip", auth_rule::api_key, skip_processor},
    {verb::post, "/api/processors/{name}/rebuild", auth_rule::api_key, rebuild_processor},
    // Anything else under /api is private too: a caller without the key
    // cannot probe which resources exist.
    {std::nullopt, "/api/**", auth_rule::api_key, no_such_resource},
  };
  return table;
}

bool public_query(const server_context& ctx, std::string_view name) {
  for (const auto& q : ctx.settings().query_defs)
    if (q.name == name)
      return q.public_read;
  return false;
}

bool authorized(const rest_call& call, auth_rule rule) {
  switch (rule) {
    case auth_rule::open:
      return true;
    case auth_rule::api_key_unless_public_query:
      if (public_query(*call.ctx, call.param("name")))
        return true;
      [[fallthrough]];
    case auth_rule::api_key:
      break;
  }
  return has_api_key(call.req, call.ctx->settings().http.api_key);
}

/// The demo page. Static files are looked up by exact name only, so no
/// path can reach outside them.
http_response demo_page(const http_request& req, const std::vector<std::string>& segments) {
  std::string path = "/";
  for (const auto& s : segments)
    path += (path.size() > 1 ? "/" : "") + s;
  const auto* f = find_static(path);
  if (!f)
    return error_response(req, status::not_found, "not_found", "no such resource");
  const auto method = req.method();
  if (method != verb::get && method != verb::head)
    return error_response(req, status::method_not_allowed, "method_not_allowed", "use GET");
  http_response res{status::ok, req.version()};
  res.set(http::field::server, "herald");
  res.set(http::field::content_type, std::string(f->content_type));
  res.keep_alive(req.keep_alive());
  if (method == verb::get)
    res.body() = std::string(f->body);
  res.prepare_payload();
  if (method == verb::head)
    res.content_length(f->body.size());
  return res;
}

} // namespace

void no_such_resource(const rest_call& call) {
  call.answer(error_response(call.req, status::not_found, "not_found", "no such resource"));
}

http_response unauthorized(const http_request& req) {
  return error_response(req, status::unauthorized, "unauthorized",
                        "this endpoint needs the API key (Authorization: apikey KEY)",
                        {{"WWW-Authenticate", "apikey"}});
}

http_response node_error(const http_request& req, const caf::error& e) {
  auto failure = gateway::failure_of(e);
  return error_response(req, static_cast<status>(failure.http_status), failure.http_code,
                        failure.http_message);
}

void handle_request(const std::shared_ptr<server_context>& ctx, http_request req,
                    responder respond) {
  auto target = parse_target(as_std(req.target()));
  if (!target)
    return respond(error_response(req, status::bad_request, "bad_request", "malformed URL"));
  auto match = find_route(routes(), req.method(), target->segments);
  if (match.outcome == route_match::no_route) {
    auto res = demo_page(req, target->segments);
    return respond(std::move(res));
  }
  rest_call call{ctx, std::move(req), std::move(target->query), std::move(match.params),
                 std::make_shared<responder>(std::move(respond))};
  const auto& r = *match.entry;
  if (!authorized(call, r.auth))
    return call.answer(unauthorized(call.req));
  if (match.outcome == route_match::wrong_method)
    return call.answer(error_response(call.req, status::method_not_allowed, "method_not_allowed",
                                      "use " + std::string(http::to_string(*r.method))));
  r.handler(call);
}

} // namespace herald::net
