#include "net/rest_api.hpp"

#include "net/api_key.hpp"

#include "actors/errors.hpp"
#include "config/channel_rules.hpp"
#include "net/ask.hpp"
#include "net/http_util.hpp"
#include "net/metrics.hpp"
#include "net/origin.hpp"
#include "net/rest_body.hpp"
#include "net/static_files.hpp"
#include "protocol/payload_codec.hpp"
#include "storage/msgpack_json.hpp"

#include <algorithm>

namespace herald::net {

namespace http = boost::beast::http;

namespace {

using status = http::status;

http_response error(const http_request& req, status s, std::string_view code,
                    std::string_view message) {
  return json_response(req, s, error_body(code, message));
}

/// An actors error as an HTTP error.
http_response node_error(const http_request& req, const caf::error& e) {
  using actors::errc;
  auto msg = actors::message_of(e);
  switch (actors::code_of(e)) {
    case errc::overloaded:
      return error(req, status::too_many_requests, "overloaded", msg);
    case errc::bad_request:
      return error(req, status::bad_request, "bad_request", msg);
    case errc::not_found:
      return error(req, status::not_found, "not_found", msg);
    case errc::timeout:
      return error(req, status::service_unavailable, "timeout", msg);
    case errc::unavailable:
      return error(req, status::service_unavailable, "unavailable", msg);
    case errc::damaged:
      return error(req, status::service_unavailable, "damaged", msg);
    case errc::internal:
      break;
  }
  return error(req, status::internal_server_error, "internal", msg);
}

void append_event(std::string& out, const storage::recorded_event& e) {
  out += "{\"position\":" + std::to_string(e.position) + ",\"stream\":";
  storage::append_json_string(out, e.stream);
  out += ",\"version\":" + std::to_string(e.version) + ",\"type\":";
  storage::append_json_string(out, e.type);
  out += ",\"id\":";
  storage::append_json_string(out, e.id);
  out += ",\"time\":" + std::to_string(e.time) + ",\"meta\":";
  if (e.meta.empty() || !storage::msgpack_to_json(e.meta, out))
    out += "{}";
  out += ",\"data\":";
  if (!storage::msgpack_to_json(e.data, out))
    out += "null";
  out += '}';
}

std::string events_json(const std::vector<storage::recorded_event>& events) {
  std::string out = "[";
  for (size_t i = 0; i < events.size(); ++i) {
    if (i)
      out += ',';
    append_event(out, events[i]);
  }
  return out + "]";
}

/// Posts the answer: the respond callback is shared by the continuations.
using shared_responder = std::shared_ptr<responder>;

// -- who may touch a stream ----------------------------------------------------

/// Who is calling. A caller presenting the configured API key is the
/// backend: the server API, allowed everything. Anyone else (only possible
/// without a key configured, or on a public query) is an anonymous client
/// and is held to the channel rules a WebSocket client without a token and
/// without a user is (docs/security.md).
enum class caller { server, anonymous };

caller caller_of(const server_context& ctx, const http_request& req) {
  const auto& key = ctx.settings().http.api_key;
  return !key.empty() && has_api_key(req, key) ? caller::server : caller::anonymous;
}

/// The refusal of `caller` touching `stream` with the namespace permission
/// `op` (publish or history), or nullopt when it may.
std::optional<http_response> stream_refusal(const server_context& ctx, const http_request& req,
                                            caller who, const std::string& stream,
                                            config::permission config::namespace_settings::*op) {
  switch (who == caller::server ? server_access(ctx.settings(), stream)
                                : anonymous_access(ctx.settings(), stream, op)) {
    case stream_access::allowed:
      return std::nullopt;
    case stream_access::unknown_channel:
      return error(req, status::not_found, "unknown_channel",
                   "the stream is in no configured namespace");
    case stream_access::denied:
      break;
  }
  return error(req, status::forbidden, "permission_denied",
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
    return error(req, status::forbidden, "forbidden",
                 "this Origin may not write (see websocket.allowed_origins)");
  if (!is_json_media_type(as_std(req[http::field::content_type])))
    return error(req, status::unsupported_media_type, "unsupported_media_type",
                 "send the body with Content-Type: application/json");
  return std::nullopt;
}

// -- reads -------------------------------------------------------------------

void read_stream(const std::shared_ptr<server_context>& ctx, const http_request& req,
                 const route& r, const std::string& stream, shared_responder respond) {
  if (auto refused = stream_refusal(*ctx, req, caller_of(*ctx, req), stream,
                                    &config::namespace_settings::history))
    return (*respond)(std::move(*refused));
  const uint64_t max = static_cast<uint64_t>(ctx->settings().http.max_read_events);
  auto args = parse_stream_read(r.query);
  if (const auto* bad = std::get_if<bad_request>(&args))
    return (*respond)(error(req, status::bad_request, "bad_request", bad->message));
  const auto [from, limit, reverse] = std::get<stream_read_args>(args);
  auto epoch = ctx->node().epoch;
  ask<actors::stream_events>(
    ctx->sys, ctx->node().readers, ctx->settings().http.request_timeout,
    [req, respond, stream, epoch](actors::stream_events& s) {
      std::string body = "{\"stream\":";
      storage::append_json_string(body, stream);
      body += ",\"epoch\":\"" + epoch + "\",\"version\":" + std::to_string(s.version)
              + ",\"events\":" + events_json(s.events) + "}";
      (*respond)(json_response(req, status::ok, std::move(body)));
    },
    [req, respond](const caf::error& e) { (*respond)(node_error(req, e)); },
    actors::read_stream_atom_v, stream, from, !reverse, std::min(limit, max));
}

void read_log(const std::shared_ptr<server_context>& ctx, const http_request& req, const route& r,
              shared_responder respond) {
  const uint64_t max = static_cast<uint64_t>(ctx->settings().http.max_read_events);
  auto args = parse_log_read(r.query);
  if (const auto* bad = std::get_if<bad_request>(&args))
    return (*respond)(error(req, status::bad_request, "bad_request", bad->message));
  const auto [from, limit] = std::get<log_read_args>(args);
  const bool anonymous = caller_of(*ctx, req) == caller::anonymous;
  const auto start = std::max<uint64_t>(from, 1);
  ask<actors::event_batch>(
    ctx->sys, ctx->node().readers, ctx->settings().http.request_timeout,
    [ctx, req, respond, anonymous, start](actors::event_batch& events) {
      // `next` follows what was read, filtered or not, so that paging goes
      // on past a page of only hidden events; on an empty page it is where
      // to poll from.
      const uint64_t next = events.empty() ? start : events.back().position + 1;
      if (anonymous)
        events.erase(std::remove_if(events.begin(), events.end(),
                                    [&](const storage::recorded_event& e) {
                                      return anonymous_access(ctx->settings(), e.stream,
                                                              &config::namespace_settings::history)
                                             != stream_access::allowed;
                                    }),
                     events.end());
      std::string body =
        "{\"events\":" + events_json(events) + ",\"next\":" + std::to_string(next) + "}";
      (*respond)(json_response(req, status::ok, std::move(body)));
    },
    [req, respond](const caf::error& e) { (*respond)(node_error(req, e)); },
    actors::read_all_atom_v, start, std::min(limit, max));
}

// -- appends ------------------------------------------------------------------

/// websocket.max_data_bytes, on each event's data as subscribers will
/// receive it (protocol::data_within_limit), as every append path checks it.
std::optional<http_response>
oversized_data(const http_request& req, const storage::append_request& append, int64_t max_bytes) {
  const auto max = static_cast<size_t>(max_bytes);
  for (size_t i = 0; i < append.events.size(); ++i) {
    if (protocol::data_within_limit(append.events[i].data, max))
      continue;
    std::string which = append.events.size() > 1 ? "event " + std::to_string(i + 1) + "'s " : "";
    return error(req, status::payload_too_large, "too_large",
                 which + "data is over websocket.max_data_bytes (" + std::to_string(max)
                   + " bytes as JSON, as subscribers receive it)");
  }
  return std::nullopt;
}

void append(const std::shared_ptr<server_context>& ctx, const http_request& req,
            const std::string& stream, shared_responder respond) {
  if (auto refused = cross_site_refusal(*ctx, req))
    return (*respond)(std::move(*refused));
  if (stream.empty()
      || stream.size() > static_cast<size_t>(ctx->settings().channels.max_name_length))
    return (*respond)(error(req, status::bad_request, "bad_request", "bad stream name"));
  if (auto refused = stream_refusal(*ctx, req, caller_of(*ctx, req), stream,
                                    &config::namespace_settings::publish))
    return (*respond)(std::move(*refused));
  std::optional<std::string_view> expected_header;
  if (auto h = req.find("Expected-Version"); h != req.end())
    expected_header = std::string_view(h->value().data(), h->value().size());
  auto parsed_append = parse_append(stream, req.body(), expected_header,
                                    ctx->settings().namespace_of(stream)->default_type);
  if (const auto* bad = std::get_if<bad_request>(&parsed_append))
    return (*respond)(error(req, status::bad_request, "bad_request", bad->message));
  auto append = std::move(std::get<storage::append_request>(parsed_append));
  if (auto too_large = oversized_data(req, append, ctx->settings().websocket.max_data_bytes))
    return (*respond)(std::move(*too_large));
  auto metrics = ctx->session->metrics;
  auto started = std::chrono::steady_clock::now();
  ask<storage::append_result>(
    ctx->sys, ctx->node().journal, ctx->settings().http.request_timeout,
    [req, respond, metrics, started](storage::append_result& r) {
      using storage::append_status;
      metrics->observe_append(std::chrono::steady_clock::now() - started);
      switch (r.status) {
        case append_status::ok:
        case append_status::idempotent: {
          ++metrics->publishes;
          std::string body = "{\"position\":" + std::to_string(r.last_position)
                             + ",\"version\":" + std::to_string(r.last_version)
                             + ",\"first_position\":" + std::to_string(r.first_position)
                             + ",\"first_version\":" + std::to_string(r.first_version);
          if (r.status == append_status::idempotent)
            body += ",\"idempotent\":true";
          (*respond)(json_response(req, status::ok, body + "}"));
          return;
        }
        case append_status::wrong_expected_version: {
          ++metrics->publish_conflicts;
          std::string body = "{\"error\":{\"code\":\"wrong_expected_version\",\"message\":"
                             "\"the stream is at version "
                             + std::to_string(r.actual_version)
                             + "\",\"actual_version\":" + std::to_string(r.actual_version) + "}}";
          (*respond)(json_response(req, status::conflict, std::move(body)));
          return;
        }
        case append_status::duplicate_id:
          ++metrics->publish_conflicts;
          (*respond)(error(req, status::conflict, "duplicate_id", r.message));
          return;
        case append_status::invalid:
          (*respond)(error(req, status::bad_request, "bad_request", r.message));
          return;
      }
    },
    [req, respond, metrics](const caf::error& e) {
      ++metrics->publish_errors;
      (*respond)(node_error(req, e));
    },
    actors::append_atom_v, std::move(append));
}

// -- queries and projections ---------------------------------------------------

void run_query(const std::shared_ptr<server_context>& ctx, const http_request& req, const route& r,
               const std::string& name, shared_responder respond) {
  ask<actors::query_result>(
    ctx->sys, ctx->node().queries, ctx->settings().http.request_timeout,
    [req, respond](actors::query_result& q) {
      std::string body = "{\"rows\":" + q.rows_json + ",\"position\":" + std::to_string(q.position);
      if (q.truncated)
        body += ",\"truncated\":true";
      // A faulted projection's rows are stale: say so in the body and in a
      // header (docs/rest.md), not only through an old position.
      body += ",\"status\":";
      storage::append_json_string(body, q.status);
      auto res = json_response(req, status::ok, body + "}");
      res.set("Herald-Projection-Status", q.status);
      (*respond)(std::move(res));
    },
    [req, respond](const caf::error& e) { (*respond)(node_error(req, e)); }, actors::query_atom_v,
    actors::query_request{name, r.query});
}

std::string status_json(const actors::projection_status& s) {
  std::string out = "{\"name\":";
  storage::append_json_string(out, s.name);
  out += ",\"position\":" + std::to_string(s.position) + ",\"head\":" + std::to_string(s.head)
         + ",\"lag\":" + std::to_string(s.lag) + ",\"status\":";
  storage::append_json_string(out, s.status.empty() ? "unknown" : s.status);
  if (s.faulted_position)
    out += ",\"faulted_position\":" + std::to_string(s.faulted_position);
  if (!s.error.empty()) {
    out += ",\"error\":";
    storage::append_json_string(out, s.error);
  }
  out += ",\"snapshots\":" + std::to_string(s.snapshots) + "}";
  return out;
}

void projections(const std::shared_ptr<server_context>& ctx, const http_request& req,
                 const route& r, shared_responder respond) {
  auto timeout = ctx->settings().http.request_timeout;
  auto on_error = [req, respond](const caf::error& e) { (*respond)(node_error(req, e)); };
  auto one = [req, respond](actors::projection_status& s) {
    (*respond)(json_response(req, status::ok, status_json(s)));
  };
  const auto& segs = r.segments;
  if (segs.size() == 2) {
    if (req.method() != http::verb::get)
      return (*respond)(error(req, status::method_not_allowed, "method_not_allowed", "use GET"));
    ask<std::vector<actors::projection_status>>(
      ctx->sys, ctx->node().projections, timeout,
      [req, respond](std::vector<actors::projection_status>& all) {
        std::string body = "[";
        for (size_t i = 0; i < all.size(); ++i)
          body += (i ? "," : "") + status_json(all[i]);
        (*respond)(json_response(req, status::ok, body + "]"));
      },
      on_error, actors::status_atom_v);
    return;
  }
  const auto& name = segs[2];
  if (segs.size() == 3) {
    if (req.method() != http::verb::get)
      return (*respond)(error(req, status::method_not_allowed, "method_not_allowed", "use GET"));
    ask<actors::projection_status>(ctx->sys, ctx->node().projections, timeout, one, on_error,
                                   actors::status_atom_v, name);
    return;
  }
  if (segs.size() != 4 || (segs[3] != "rebuild" && segs[3] != "retry" && segs[3] != "skip"))
    return (*respond)(error(req, status::not_found, "not_found", "no such resource"));
  if (req.method() != http::verb::post)
    return (*respond)(error(req, status::method_not_allowed, "method_not_allowed", "use POST"));
  if (auto refused = cross_site_refusal(*ctx, req))
    return (*respond)(std::move(*refused));
  auto accepted = [req, respond](actors::projection_status& s) {
    (*respond)(json_response(req, status::accepted, status_json(s)));
  };
  if (segs[3] == "rebuild")
    ask<actors::projection_status>(ctx->sys, ctx->node().projections, timeout, accepted, on_error,
                                   actors::rebuild_atom_v, name);
  else if (segs[3] == "retry")
    ask<actors::projection_status>(ctx->sys, ctx->node().projections, timeout, accepted, on_error,
                                   actors::retry_atom_v, name);
  else
    ask<actors::projection_status>(ctx->sys, ctx->node().projections, timeout, accepted, on_error,
                                   actors::skip_atom_v, name);
}

} // namespace

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

http_response json_response(const http_request& req, http::status s, std::string body) {
  http_response res{s, req.version()};
  res.set(http::field::server, "herald");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

namespace {

/// What anyone may read when an API key is configured: the named queries
/// marked public (the demo page's initial load). Unknown queries fall
/// through to the key check, so their names stay private too.
bool public_resource(const server_context& ctx, const std::vector<std::string>& segs) {
  if (segs.size() != 3 || segs[1] != "queries")
    return false;
  for (const auto& q : ctx.settings().query_defs)
    if (q.name == segs[2])
      return q.public_read;
  return false;
}

} // namespace

void handle_request(const std::shared_ptr<server_context>& ctx, http_request req,
                    responder respond_fn) {
  auto respond = std::make_shared<responder>(std::move(respond_fn));
  auto r = parse_target(as_std(req.target()));
  if (!r)
    return (*respond)(error(req, status::bad_request, "bad_request", "malformed URL"));
  const auto& segs = r->segments;
  const auto verb = req.method();
  auto only = [&](http::verb v) {
    if (verb == v)
      return true;
    (*respond)(error(req, status::method_not_allowed, "method_not_allowed",
                     std::string("use ") + std::string(http::to_string(v))));
    return false;
  };
  if (segs.size() == 1 && segs[0] == "health") {
    if (!only(http::verb::get))
      return;
    bool up = ctx->ready && !ctx->stopping;
    std::string body = std::string("{\"status\":\"")
                       + (up              ? "ok"
                          : ctx->stopping ? "stopping"
                                          : "starting")
                       + "\",\"journal_id\":\"" + ctx->node().journal_id + "\",\"connections\":"
                       + std::to_string(ctx->session->metrics->connections.load()) + "}";
    return (*respond)(
      json_response(req, up ? status::ok : status::service_unavailable, std::move(body)));
  }
  if (segs.size() == 1 && segs[0] == "metrics") {
    if (!only(http::verb::get))
      return;
    return render_metrics(ctx, [req, respond](std::string text) {
      http_response res{status::ok, req.version()};
      res.set(http::field::server, "herald");
      res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      res.keep_alive(req.keep_alive());
      res.body() = std::move(text);
      res.prepare_payload();
      (*respond)(std::move(res));
    });
  }
  if (!segs.empty() && segs[0] == "api") {
    if (!has_api_key(req, ctx->settings().http.api_key) && !public_resource(*ctx, segs)) {
      auto res = error(req, status::unauthorized, "unauthorized",
                       "this endpoint needs the API key (Authorization: apikey KEY)");
      res.set(http::field::www_authenticate, "apikey");
      return (*respond)(std::move(res));
    }
    if (segs.size() == 3 && segs[1] == "streams") {
      if (verb == http::verb::post)
        return append(ctx, req, segs[2], respond);
      if (!only(http::verb::get))
        return;
      return read_stream(ctx, req, *r, segs[2], respond);
    }
    if (segs.size() == 2 && segs[1] == "events") {
      if (!only(http::verb::get))
        return;
      return read_log(ctx, req, *r, respond);
    }
    if (segs.size() == 3 && segs[1] == "queries") {
      if (!only(http::verb::get))
        return;
      return run_query(ctx, req, *r, segs[2], respond);
    }
    if (segs.size() >= 2 && segs[1] == "projections")
      return projections(ctx, req, *r, respond);
    return (*respond)(error(req, status::not_found, "not_found", "no such resource"));
  }
  if (segs.size() == 2 && segs[0] == "connection" && segs[1] == "websocket") {
    auto res = error(req, status::upgrade_required, "upgrade_required",
                     "this is the WebSocket endpoint: connect with a WebSocket client");
    res.set(http::field::upgrade, "websocket");
    return (*respond)(std::move(res));
  }
  // The demo page. Static files are looked up by exact name only, so no
  // path can reach outside them.
  std::string path = "/";
  for (const auto& s : segs)
    path += (path.size() > 1 ? "/" : "") + s;
  if (const auto* f = find_static(path)) {
    if (verb != http::verb::get && verb != http::verb::head)
      return (*respond)(error(req, status::method_not_allowed, "method_not_allowed", "use GET"));
    http_response res{status::ok, req.version()};
    res.set(http::field::server, "herald");
    res.set(http::field::content_type, std::string(f->content_type));
    res.keep_alive(req.keep_alive());
    if (verb == http::verb::get)
      res.body() = std::string(f->body);
    res.prepare_payload();
    if (verb == http::verb::head)
      res.content_length(f->body.size());
    return (*respond)(std::move(res));
  }
  (*respond)(error(req, status::not_found, "not_found", "no such resource"));
}

} // namespace herald::net
