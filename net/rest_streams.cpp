// The REST API's streams and the global log: reads and appends.
#include "net/rest_handlers.hpp"

#include "actors/errors.hpp"
#include "net/ask.hpp"
#include "net/metrics.hpp"
#include "protocol/append_outcome.hpp"
#include "protocol/payload_codec.hpp"
#include "storage/msgpack_json.hpp"

#include <algorithm>

namespace herald::net {

namespace http = boost::beast::http;
using status = http::status;

namespace {

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

/// websocket.max_data_bytes, on each event's data as subscribers will
/// receive it (protocol::data_within_limit), as every append path checks it.
std::optional<http_response>
oversized_data(const http_request& req, const storage::append_request& append, int64_t max_bytes) {
  const auto max = static_cast<size_t>(max_bytes);
  for (size_t i = 0; i < append.events.size(); ++i) {
    if (protocol::data_within_limit(append.events[i].data, max))
      continue;
    std::string which = append.events.size() > 1 ? "event " + std::to_string(i + 1) + "'s " : "";
    return error_response(req, status::payload_too_large, "too_large",
                          which + "data is over websocket.max_data_bytes (" + std::to_string(max)
                            + " bytes as JSON, as subscribers receive it)");
  }
  return std::nullopt;
}

/// The journal's answer to an append, as the REST API gives it.
http_response append_answer(const http_request& req, const storage::append_result& r,
                            const std::optional<protocol::append_refusal>& refusal) {
  if (refusal) {
    const auto status = static_cast<http::status>(refusal->http_status);
    if (!refusal->actual_version)
      return error_response(req, status, refusal->http_code, refusal->http_message);
    // The version the stream is at, for the caller to retry against.
    std::string body = "{\"error\":{\"code\":";
    storage::append_json_string(body, refusal->http_code);
    body += ",\"message\":";
    storage::append_json_string(body, refusal->http_message);
    body += ",\"actual_version\":" + std::to_string(*refusal->actual_version) + "}}";
    return make_response(req, status, std::move(body));
  }
  std::string body = "{\"position\":" + std::to_string(r.last_position)
                     + ",\"version\":" + std::to_string(r.last_version)
                     + ",\"first_position\":" + std::to_string(r.first_position)
                     + ",\"first_version\":" + std::to_string(r.first_version);
  if (r.status == storage::append_status::idempotent)
    body += ",\"idempotent\":true";
  return make_response(req, status::ok, body + "}");
}

} // namespace

void read_stream(const rest_call& call) {
  const auto& ctx = call.ctx;
  const auto& req = call.req;
  const auto& stream = call.param("stream");
  if (auto refused = stream_refusal(*ctx, req, caller_of(*ctx, req), stream,
                                    &config::namespace_settings::history))
    return call.answer(std::move(*refused));
  const uint64_t max = static_cast<uint64_t>(ctx->settings().http.max_read_events);
  auto args = parse_stream_read(call.query);
  if (!args)
    return call.answer(
      error_response(req, status::bad_request, "bad_request", args.error().message));
  const auto [from, limit, reverse] = *args;
  auto epoch = ctx->node().epoch;
  auto respond = call.respond;
  ask<actors::stream_events>(
    ctx->sys, ctx->node().readers, ctx->settings().http.request_timeout,
    [req, respond, stream, epoch](actors::stream_events& s) {
      std::string body = "{\"stream\":";
      storage::append_json_string(body, stream);
      body += ",\"epoch\":\"" + epoch + "\",\"version\":" + std::to_string(s.version.value)
              + ",\"events\":" + events_json(s.events) + "}";
      (*respond)(make_response(req, status::ok, std::move(body)));
    },
    [req, respond](const caf::error& e) { (*respond)(node_error(req, e)); },
    actors::read_stream_atom_v, stream, storage::stream_version{from}, !reverse,
    std::min(limit, max));
}

void read_log(const rest_call& call) {
  const auto& ctx = call.ctx;
  const auto& req = call.req;
  const uint64_t max = static_cast<uint64_t>(ctx->settings().http.max_read_events);
  auto args = parse_log_read(call.query);
  if (!args)
    return call.answer(
      error_response(req, status::bad_request, "bad_request", args.error().message));
  const auto [from, limit] = *args;
  const bool anonymous = caller_of(*ctx, req) == caller::anonymous;
  const auto start = std::max<uint64_t>(from, 1);
  auto respond = call.respond;
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
      (*respond)(make_response(req, status::ok, std::move(body)));
    },
    [req, respond](const caf::error& e) { (*respond)(node_error(req, e)); },
    actors::read_all_atom_v, storage::journal_position{start}, std::min(limit, max));
}

void append_to_stream(const rest_call& call) {
  const auto& ctx = call.ctx;
  const auto& req = call.req;
  const auto& stream = call.param("stream");
  if (auto refused = cross_site_refusal(*ctx, req))
    return call.answer(std::move(*refused));
  if (!protocol::valid_stream_name(stream,
                                   static_cast<size_t>(ctx->settings().channels.max_name_length)))
    return call.answer(error_response(req, status::bad_request, "bad_request", "bad stream name"));
  if (auto refused = stream_refusal(*ctx, req, caller_of(*ctx, req), stream,
                                    &config::namespace_settings::publish))
    return call.answer(std::move(*refused));
  std::optional<std::string_view> expected_header;
  if (auto h = req.find("Expected-Version"); h != req.end())
    expected_header = std::string_view(h->value().data(), h->value().size());
  auto parsed_append = parse_append(stream, req.body(), expected_header,
                                    ctx->settings().namespace_of(stream)->default_type);
  if (!parsed_append)
    return call.answer(
      error_response(req, status::bad_request, "bad_request", parsed_append.error().message));
  auto append = std::move(*parsed_append);
  if (auto too_large = oversized_data(req, append, ctx->settings().websocket.max_data_bytes))
    return call.answer(std::move(*too_large));
  const auto audit = audit_of(*ctx, req, "rest");
  for (auto& e : append.events)
    e.meta = storage::merge_meta(e.meta, audit);
  auto metrics = ctx->session->metrics;
  auto started = std::chrono::steady_clock::now();
  auto respond = call.respond;
  ask<storage::append_result>(
    ctx->sys, ctx->node().journal, ctx->settings().http.request_timeout,
    [req, respond, metrics, started](storage::append_result& r) {
      metrics->observe_append(std::chrono::steady_clock::now() - started);
      auto refusal = protocol::refusal_of(r);
      if (!refusal)
        ++metrics->publishes;
      else if (refusal->conflict)
        ++metrics->publish_conflicts;
      (*respond)(append_answer(req, r, refusal));
    },
    [req, respond, metrics](const caf::error& e) {
      ++metrics->publish_errors;
      (*respond)(node_error(req, e));
    },
    actors::append_atom_v, std::move(append));
}

} // namespace herald::net
