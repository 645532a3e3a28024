// Centrifugo's server API on herald (docs/rest.md, "Centrifugo server
// API"): POST /api/<method> with a JSON body, and the older POST /api of
// newline-delimited {"method","params"} lines that cent.js's pipeline()
// posts. Internal to net/: rest_api.cpp routes to these.
#pragma once

#include "net/rest_handlers.hpp"
#include "net/server_api_codec.hpp"

#include <functional>
#include <memory>
#include <string>

namespace herald::net {

/// The route handlers.
void server_api_call(const rest_call& call);   // POST /api/<method>
void server_api_legacy(const rest_call& call); // POST /api

namespace server_api {

/// What a method call runs with: the node, and who calls, for the audit
/// metadata of what it appends (via "api").
struct api_env {
  std::shared_ptr<server_context> ctx;
  storage::event_meta audit;
};

/// A method's result JSON, or its error.
using reply = storage::result<std::string, error>;
using done_fn = std::function<void(reply)>;

/// Keeps the parsed request alive while a call that reads it runs (batch).
using keepalive = std::shared_ptr<const void>;

/// Whether `method` is one of the methods (batch included).
bool known_method(std::string_view method);

/// Runs `method` with `params`; `done` runs once, on any thread.
void run_method(const api_env& env, const std::string& method, const keepalive& doc,
                const rapidjson::Value& params, done_fn done);

// The methods (server_api_methods.cpp), without batch.
void publish(const api_env& env, const rapidjson::Value& params, done_fn done);
void broadcast(const api_env& env, const rapidjson::Value& params, done_fn done);
void subscribe(const api_env& env, const rapidjson::Value& params, done_fn done);
void unsubscribe(const api_env& env, const rapidjson::Value& params, done_fn done);
void disconnect(const api_env& env, const rapidjson::Value& params, done_fn done);
void refresh(const api_env& env, const rapidjson::Value& params, done_fn done);
void presence(const api_env& env, const rapidjson::Value& params, done_fn done);
void presence_stats(const api_env& env, const rapidjson::Value& params, done_fn done);
void history(const api_env& env, const rapidjson::Value& params, done_fn done);
void history_remove(const api_env& env, const rapidjson::Value& params, done_fn done);
void channels(const api_env& env, const rapidjson::Value& params, done_fn done);
void info(const api_env& env, const rapidjson::Value& params, done_fn done);

/// Runs step(0), step(1)... one after the other (each starts when the last
/// is done, on whatever thread that was), then `finish` with every reply
/// in order. Steps that answer at once do not deepen the stack.
void in_order(size_t n, std::function<void(size_t, done_fn)> step,
              std::function<void(std::vector<reply>)> finish);

} // namespace server_api
} // namespace herald::net
