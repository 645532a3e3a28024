// The REST API's named queries and projections.
#include "net/rest_handlers.hpp"

#include "net/ask.hpp"
#include "storage/msgpack_json.hpp"

namespace herald::net {

namespace http = boost::beast::http;
using status = http::status;

namespace {

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

std::function<void(const caf::error&)> error_answer(const rest_call& call) {
  return [req = call.req, respond = call.respond](const caf::error& e) {
    (*respond)(node_error(req, e));
  };
}

/// Asks the projection manager `atom` about the {name} projection and
/// answers its status with `answer_status` (200 for a read, 202 for a
/// command the manager has taken on).
template <class Atom>
void ask_projection(const rest_call& call, Atom atom, status answer_status) {
  const auto& ctx = call.ctx;
  ask<actors::projection_status>(
    ctx->sys, ctx->node().projections, ctx->settings().http.request_timeout,
    [req = call.req, respond = call.respond, answer_status](actors::projection_status& s) {
      (*respond)(make_response(req, answer_status, status_json(s)));
    },
    error_answer(call), atom, call.param("name"));
}

} // namespace

void run_query(const rest_call& call) {
  const auto& ctx = call.ctx;
  ask<actors::query_result>(
    ctx->sys, ctx->node().queries, ctx->settings().http.request_timeout,
    [req = call.req, respond = call.respond](actors::query_result& q) {
      std::string body = "{\"rows\":" + q.rows_json + ",\"position\":" + std::to_string(q.position);
      if (q.truncated)
        body += ",\"truncated\":true";
      // A faulted projection's rows are stale: say so in the body and in a
      // header (docs/rest.md), not only through an old position.
      body += ",\"status\":";
      storage::append_json_string(body, q.status);
      (*respond)(
        make_response(req, status::ok, body + "}", {{"Herald-Projection-Status", q.status}}));
    },
    error_answer(call), actors::query_atom_v,
    actors::query_request{call.param("name"), call.query});
}

void list_projections(const rest_call& call) {
  const auto& ctx = call.ctx;
  ask<std::vector<actors::projection_status>>(
    ctx->sys, ctx->node().projections, ctx->settings().http.request_timeout,
    [req = call.req, respond = call.respond](std::vector<actors::projection_status>& all) {
      std::string body = "[";
      for (size_t i = 0; i < all.size(); ++i)
        body += (i ? "," : "") + status_json(all[i]);
      (*respond)(make_response(req, status::ok, body + "]"));
    },
    error_answer(call), actors::status_atom_v);
}

void show_projection(const rest_call& call) {
  ask_projection(call, actors::status_atom_v, status::ok);
}

void rebuild_projection(const rest_call& call) {
  if (auto refused = cross_site_refusal(*call.ctx, call.req))
    return call.answer(std::move(*refused));
  ask_projection(call, actors::rebuild_atom_v, status::accepted);
}

void retry_projection(const rest_call& call) {
  if (auto refused = cross_site_refusal(*call.ctx, call.req))
    return call.answer(std::move(*refused));
  ask_projection(call, actors::retry_atom_v, status::accepted);
}

void skip_projection(const rest_call& call) {
  if (auto refused = cross_site_refusal(*call.ctx, call.req))
    return call.answer(std::move(*refused));
  ask_projection(call, actors::skip_atom_v, status::accepted);
}

} // namespace herald::net
