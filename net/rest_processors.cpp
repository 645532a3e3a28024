// The REST API's stream processors (docs/rest.md, docs/processors.md).
#include "net/rest_handlers.hpp"

#include "net/ask.hpp"
#include "storage/msgpack_json.hpp"

namespace herald::net {

namespace http = boost::beast::http;
using status = http::status;

namespace {

std::string status_json(const actors::processor_status& s) {
  std::string out = "{\"name\":";
  storage::append_json_string(out, s.name);
  out += ",\"status\":";
  storage::append_json_string(out, s.status.empty() ? "unknown" : s.status);
  out += ",\"position\":" + std::to_string(s.position)
         + ",\"checkpoint\":" + std::to_string(s.checkpoint) + ",\"head\":" + std::to_string(s.head)
         + ",\"lag\":" + std::to_string(s.lag) + ",\"waiting_on\":[";
  for (size_t i = 0; i < s.waiting_on.size(); ++i) {
    if (i)
      out += ',';
    storage::append_json_string(out, s.waiting_on[i]);
  }
  out += "]";
  if (s.faulted_position)
    out += ",\"faulted_position\":" + std::to_string(s.faulted_position);
  out += ",\"last_error\":";
  if (s.error.empty())
    out += "null";
  else
    storage::append_json_string(out, s.error);
  out += ",\"batches\":" + std::to_string(s.batches) + ",\"events_in\":"
         + std::to_string(s.events_in) + ",\"events_out\":" + std::to_string(s.events_out)
         + ",\"statement_ms\":" + std::to_string(s.statement_ns / 1000000) + ",\"skipped\":"
         + std::to_string(s.skipped) + ",\"generation\":" + std::to_string(s.generation)
         + ",\"rebuilds\":" + std::to_string(s.rebuilds) + "}";
  return out;
}

/// Asks the processor manager `atom` (with `args`) about the {name}
/// processor.
template <class Atom, class... Args>
void ask_processor(const rest_call& call, status answer_status, Atom atom, Args... args) {
  const auto& ctx = call.ctx;
  ask<actors::processor_status>(
    ctx->sys, ctx->node().processors, ctx->settings().http.request_timeout,
    [req = call.req, respond = call.respond, answer_status](actors::processor_status& s) {
      (*respond)(make_response(req, answer_status, status_json(s)));
    },
    [req = call.req, respond = call.respond](const caf::error& e) {
      (*respond)(node_error(req, e));
    },
    atom, call.param("name"), std::move(args)...);
}

} // namespace

void list_processors(const rest_call& call) {
  const auto& ctx = call.ctx;
  ask<std::vector<actors::processor_status>>(
    ctx->sys, ctx->node().processors, ctx->settings().http.request_timeout,
    [req = call.req, respond = call.respond](std::vector<actors::processor_status>& all) {
      std::string body = "[";
      for (size_t i = 0; i < all.size(); ++i)
        body += (i ? "," : "") + status_json(all[i]);
      (*respond)(make_response(req, status::ok, body + "]"));
    },
    [req = call.req, respond = call.respond](const caf::error& e) {
      (*respond)(node_error(req, e));
    },
    actors::status_atom_v);
}

void show_processor(const rest_call& call) {
  ask_processor(call, status::ok, actors::status_atom_v);
}

void retry_processor(const rest_call& call) {
  if (auto refused = cross_site_refusal(*call.ctx, call.req))
    return call.answer(std::move(*refused));
  ask_processor(call, status::accepted, actors::retry_atom_v);
}

void skip_processor(const rest_call& call) {
  if (auto refused = cross_site_refusal(*call.ctx, call.req))
    return call.answer(std::move(*refused));
  ask_processor(call, status::accepted, actors::skip_atom_v);
}

void rebuild_processor(const rest_call& call) {
  if (auto refused = cross_site_refusal(*call.ctx, call.req))
    return call.answer(std::move(*refused));
  auto from = parse_rebuild_from(call.query);
  if (!from)
    return call.answer(
      error_response(call.req, status::bad_request, "bad_request", from.error().message));
  // The processor logs the rebuild with who asked: the audit trail of an
  // action that publishes into live channels again.
  const auto audit = audit_of(*call.ctx, call.req, "rest");
  const std::string by =
    audit.key.empty() ? "an anonymous REST caller" : "REST with API key \"" + audit.key + "\"";
  ask_processor(call, status::accepted, actors::rebuild_atom_v, *from, by);
}

} // namespace herald::net
