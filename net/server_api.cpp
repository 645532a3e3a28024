// The server API's endpoints: key, method and body checks with Centrifugo's
// HTTP statuses, the envelopes, batch and the legacy line protocol. The
// methods themselves are in server_api_methods.cpp.
#include "net/server_api.hpp"

#include "net/api_key.hpp"
#include "net/http_util.hpp"
#include "storage/msgpack_json.hpp"

#include <map>
#include <mutex>

namespace herald::net {

namespace http = boost::beast::http;

namespace server_api {

namespace {

using method_fn = void (*)(const api_env&, const rapidjson::Value&, done_fn);

const std::map<std::string, method_fn, std::less<>>& methods() {
  static const std::map<std::string, method_fn, std::less<>> table{
    {"publish", publish},       {"broadcast", broadcast},
    {"subscribe", subscribe},   {"unsubscribe", unsubscribe},
    {"disconnect", disconnect}, {"refresh", refresh},
    {"presence", presence},     {"presence_stats", presence_stats},
    {"history", history},       {"history_remove", history_remove},
    {"channels", channels},     {"info", info},
  };
  return table;
}

/// The state of one in_order run, shared by its steps' callbacks.
struct sequence : std::enable_shared_from_this<sequence> {
  size_t n = 0;
  std::function<void(size_t, done_fn)> step;
  std::function<void(std::vector<reply>)> finish;
  std::mutex mutex;
  std::vector<reply> replies;
  bool in_loop = false; ///< a thread is starting steps
  bool again = false;   ///< a step completed while it was

  void record(reply r) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      replies.push_back(std::move(r));
    }
    advance();
  }

  /// Starts the next step; a step that completes synchronously only marks
  /// `again`, and the loop here starts the one after it.
  void advance() {
    std::unique_lock<std::mutex> lock(mutex);
    if (in_loop) {
      again = true;
      return;
    }
    in_loop = true;
    do {
      again = false;
      if (replies.size() == n) {
        in_loop = false;
        auto all = std::move(replies);
        lock.unlock();
        finish(std::move(all));
        return;
      }
      const size_t i = replies.size();
      lock.unlock();
      step(i, [self = shared_from_this()](reply r) { self->record(std::move(r)); });
      lock.lock();
    } while (again);
    in_loop = false;
  }
};

/// {"replies":[{"METHOD":RESULT} or {"error":{...}}, ...]}
void batch(const api_env& env, const keepalive& doc, const rapidjson::Value& params, done_fn done) {
  std::optional<error> problem;
  auto commands = std::make_shared<std::vector<command>>(batch_commands(params, problem));
  if (problem)
    return done(storage::unexpected<error>{*problem});
  in_order(
    commands->size(),
    [env, doc, commands](size_t i, done_fn step_done) {
      const auto& c = (*commands)[i];
      if (c.problem)
        return step_done(storage::unexpected<error>{*c.problem});
      if (c.method == "batch" || !known_method(c.method))
        return step_done(storage::unexpected<error>{error{code::not_found, "unknown method"}});
      run_method(env, c.method, doc, *c.params, std::move(step_done));
    },
    [commands, done](std::vector<reply> replies) {
      std::string out = "{\"replies\":[";
      for (size_t i = 0; i < replies.size(); ++i) {
        if (i)
          out += ',';
        if (replies[i]) {
          out += "{";
          storage::append_json_string(out, (*commands)[i].method);
          out += ':' + *replies[i] + '}';
        } else {
          out += error_envelope(replies[i].error());
        }
      }
      done(out + "]}");
    });
}

} // namespace

bool known_method(std::string_view method) {
  return method == "batch" || methods().count(method) > 0;
}

void run_method(const api_env& env, const std::string& method, const keepalive& doc,
                const rapidjson::Value& params, done_fn done) {
  if (method == "batch")
    return batch(env, doc, params, std::move(done));
  auto it = methods().find(method);
  if (it == methods().end())
    return done(storage::unexpected<error>{error{code::not_found, "unknown method"}});
  it->second(env, params, std::move(done));
}

void in_order(size_t n, std::function<void(size_t, done_fn)> step,
              std::function<void(std::vector<reply>)> finish) {
  auto s = std::make_shared<sequence>();
  s->n = n;
  s->step = std::move(step);
  s->finish = std::move(finish);
  s->replies.reserve(n);
  s->advance();
}

} // namespace server_api

namespace {

using namespace server_api;

/// Centrifugo's bare answers: 401 for a missing or wrong key, 405 for
/// another method than POST. Nothing in the body; clients read the status.
http_response bare(const http_request& req, http::status status) {
  http_response res{status, req.version()};
  res.set(http::field::server, "herald");
  if (status == http::status::method_not_allowed)
    res.set(http::field::allow, "POST");
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

/// The key as Centrifugo takes it: X-API-Key, Authorization: apikey, or
/// the api_key query parameter.
bool key_presented(const rest_call& call) {
  const auto& key = call.ctx->settings().http.api_key;
  if (key.empty() || has_api_key(call.req, key))
    return true;
  auto q = call.query.find("api_key");
  return q != call.query.end() && same_api_key(q->second, key);
}

/// The checks every server API request passes first; the answer when one
/// fails.
std::optional<http_response> refusal(const rest_call& call) {
  if (!key_presented(call))
    return bare(call.req, http::status::unauthorized);
  if (call.req.method() != http::verb::post)
    return bare(call.req, http::status::method_not_allowed);
  // Without a key, a page in a browser must not be able to call it.
  return cross_site_refusal(*call.ctx, call.req);
}

api_env env_of(const rest_call& call) {
  api_env env{call.ctx, {}};
  env.audit.via = "api";
  if (!call.ctx->settings().http.api_key.empty())
    env.audit.key = call.ctx->settings().http.api_key_name;
  return env;
}

/// A request body that is no JSON object: 400, with the error in
/// Centrifugo's shape (where Centrifugo itself answers the text "Bad
/// Request") so that a client library reports the reason.
http_response undecodable(const http_request& req, const error& e) {
  return make_response(req, http::status::bad_request, error_envelope(e));
}

} // namespace

void server_api_call(const rest_call& call) {
  if (auto refused = refusal(call))
    return call.answer(std::move(*refused));
  auto target = parse_target(as_std(call.req.target()));
  const std::string method = target->segments.back(); // routed: /api/<method>
  auto doc = parse_params(call.req.body());
  if (!doc)
    return call.answer(undecodable(call.req, doc.error()));
  std::shared_ptr<const rapidjson::Document> held = *doc;
  run_method(env_of(call), method, held, *held, [req = call.req, respond = call.respond](reply r) {
    (*respond)(
      make_response(req, http::status::ok, r ? result_envelope(*r) : error_envelope(r.error())));
  });
}

void server_api_legacy(const rest_call& call) {
  // Only a POST to /api is the legacy endpoint; anything else there is the
  // REST API's unknown resource, as it was before.
  if (call.req.method() != http::verb::post) {
    if (!has_api_key(call.req, call.ctx->settings().http.api_key))
      return call.answer(unauthorized(call.req));
    return no_such_resource(call);
  }
  if (auto refused = refusal(call))
    return call.answer(std::move(*refused));
  // Each line is parsed on its own; a bad one is answered with an error
  // line and the others still run, in order.
  struct line {
    std::shared_ptr<rapidjson::Document> doc;
    command cmd;
  };
  auto lines = std::make_shared<std::vector<line>>();
  for (auto text : legacy_lines(call.req.body())) {
    line l;
    auto doc = parse_params(text);
    if (!doc)
      l.cmd.problem = doc.error();
    else {
      l.doc = *doc;
      l.cmd = legacy_command(*l.doc);
    }
    lines->push_back(std::move(l));
  }
  static const rapidjson::Value no_params(rapidjson::kObjectType);
  in_order(
    lines->size(),
    [env = env_of(call), lines](size_t i, done_fn step_done) {
      const auto& l = (*lines)[i];
      if (l.cmd.problem)
        return step_done(storage::unexpected<error>{*l.cmd.problem});
      if (!known_method(l.cmd.method))
        return step_done(storage::unexpected<error>{error{code::not_found, "unknown method"}});
      run_method(env, l.cmd.method, l.doc, l.cmd.params ? *l.cmd.params : no_params,
                 std::move(step_done));
    },
    [req = call.req, respond = call.respond](std::vector<reply> replies) {
      std::string out;
      for (size_t i = 0; i < replies.size(); ++i) {
        if (i)
          out += '\n';
        out += replies[i] ? result_envelope(*replies[i]) : error_envelope(replies[i].error());
      }
      (*respond)(make_response(req, http::status::ok, std::move(out)));
    });
}

} // namespace herald::net
