// The server API's methods (docs/rest.md, "Centrifugo server API"). The API
// is trusted like Centrifugo's: it may publish, read history and presence
// and move users' connections on any channel of a configured namespace,
// whatever the namespace's client permissions and the $ and # channel
// rules say. What still applies: a channel is a valid stream name in a
// configured namespace (else 107 / 102), a feature switched off in the
// namespace (history or presence = "off") is 108, and data obeys
// websocket.max_data_bytes.
#include "net/server_api.hpp"

#include "actors/messages.hpp"
#include "gateway/session_directory.hpp"
#include "net/ask.hpp"
#include "net/metrics.hpp"
#include "protocol/append_args.hpp"
#include "protocol/append_outcome.hpp"
#include "protocol/payload_codec.hpp"
#include "protocol/push_frames.hpp"
#include "storage/msgpack_json.hpp"

#include <algorithm>
#include <chrono>

namespace herald::net::server_api {

namespace {

storage::unexpected<error> fail(code c, std::string message) {
  return storage::unexpected<error>{error{c, std::move(message)}};
}

/// The channel's namespace, or why the API may not use the channel.
storage::result<const config::namespace_settings*, error> channel_of(const api_env& env,
                                                                     const std::string& channel) {
  const auto& s = env.ctx->settings();
  if (!protocol::valid_stream_name(channel, static_cast<size_t>(s.channels.max_name_length)))
    return fail(code::bad_request, "bad channel name");
  const auto* ns = s.namespace_of(channel);
  if (!ns)
    return fail(code::unknown_channel, "unknown channel: in no configured namespace");
  return ns;
}

/// The reply of a call whose arguments do not decode.
template <class T>
bool decoded_ok(const decoded<T>& d, const done_fn& done) {
  if (d)
    return true;
  done(storage::unexpected<error>{d.error()});
  return false;
}

/// Appends one publication to `channel`; {"offset","epoch"} when durable.
void publish_to(const api_env& env, const std::string& channel, const publish_args& p,
                done_fn done) {
  auto ns = channel_of(env, channel);
  if (!ns)
    return done(storage::unexpected<error>{ns.error()});
  const auto& s = env.ctx->settings();
  if (!protocol::data_within_limit(p.data, static_cast<size_t>(s.websocket.max_data_bytes)))
    return done(fail(code::bad_request, "data is over websocket.max_data_bytes ("
                                          + std::to_string(s.websocket.max_data_bytes)
                                          + " bytes as JSON)"));
  auto meta = env.audit;
  meta.tags = p.tags;
  std::string type = p.type.empty() ? (*ns)->default_type : p.type;
  storage::append_request req{
    channel,
    storage::expected_version::any(),
    {storage::new_event{std::move(type), p.idempotency, storage::encode_meta(meta), p.data}}};
  auto ctx = env.ctx;
  auto metrics = ctx->session->metrics;
  auto started = std::chrono::steady_clock::now();
  ask<storage::append_result>(
    ctx->sys, ctx->node().journal, s.http.request_timeout,
    [ctx, metrics, started, done](storage::append_result& r) {
      metrics->observe_append(std::chrono::steady_clock::now() - started);
      if (auto refused = protocol::refusal_of(r)) {
        metrics->count_refused(refused->conflict);
        // An idempotency_key is the event id: used before for another
        // publication, it is a conflict.
        return done(
          fail(refused->conflict ? code::conflict : code::bad_request, refused->http_message));
      }
      ++metrics->publishes;
      std::string out = "{\"offset\":" + std::to_string(r.last_version) + ",\"epoch\":";
      storage::append_json_string(out, ctx->node().epoch);
      done(out + "}");
    },
    [metrics, done](const caf::error& e) {
      ++metrics->publish_errors;
      done(fail(code::internal, "internal server error: " + to_string(e)));
    },
    actors::append_atom_v, std::move(req));
}

/// The listed sessions `who` names.
std::vector<gateway::session_directory::listed> sessions_of(const api_env& env,
                                                            const connections& who) {
  const auto& dir = env.ctx->session->directory;
  return dir ? dir->sessions_of(who.user, who.client)
             : std::vector<gateway::session_directory::listed>{};
}

/// subscribe and unsubscribe: tell each of the user's sessions.
template <class Atom>
void move_subscription(const api_env& env, const rapidjson::Value& params, Atom atom,
                       const done_fn& done) {
  auto args = decode_subscription(params);
  if (!decoded_ok(args, done))
    return;
  if (auto ns = channel_of(env, args->channel); !ns)
    return done(storage::unexpected<error>{ns.error()});
  for (const auto& s : sessions_of(env, args->who))
    caf::anon_send(s.handle, atom, args->channel);
  done(std::string("{}"));
}

/// presence and presence_stats: the channel's live subscribers.
void ask_presence(const api_env& env, const rapidjson::Value& params, bool stats, done_fn done) {
  auto channel = decode_channel(params);
  if (!decoded_ok(channel, done))
    return;
  auto ns = channel_of(env, *channel);
  if (!ns)
    return done(storage::unexpected<error>{ns.error()});
  if ((*ns)->presence == config::permission::off)
    return done(fail(code::not_available, "not available: presence is off in this namespace"));
  ask<actors::presence_reply>(
    env.ctx->sys, env.ctx->node().channels, env.ctx->settings().http.request_timeout,
    [stats, done](actors::presence_reply& p) {
      if (stats)
        return done("{\"num_clients\":" + std::to_string(p.clients.size())
                    + ",\"num_users\":" + std::to_string(p.num_users) + "}");
      std::string out = "{\"presence\":{";
      bool first = true;
      for (const auto& [client, info] : p.clients) {
        if (!first)
          out += ',';
        first = false;
        storage::append_json_string(out, client);
        out += ':';
        protocol::append_client_info(out, info);
      }
      done(out + "}}");
    },
    [done](const caf::error& e) {
      done(fail(code::internal, "internal server error: " + to_string(e)));
    },
    actors::presence_atom_v, *channel);
}

} // namespace

void publish(const api_env& env, const rapidjson::Value& params, done_fn done) {
  auto args = decode_publish(params);
  if (decoded_ok(args, done))
    publish_to(env, args->channel, *args, std::move(done));
}

void broadcast(const api_env& env, const rapidjson::Value& params, done_fn done) {
  auto args = decode_broadcast(params);
  if (!decoded_ok(args, done))
    return;
  auto shared = std::make_shared<broadcast_args>(std::move(*args));
  in_order(
    shared->channels.size(),
    [env, shared](size_t i, done_fn step_done) {
      publish_to(env, shared->channels[i], shared->publication, std::move(step_done));
    },
    [done](std::vector<reply> replies) {
      std::string out = "{\"responses\":[";
      for (size_t i = 0; i < replies.size(); ++i) {
        if (i)
          out += ',';
        out += replies[i] ? result_envelope(*replies[i]) : error_envelope(replies[i].error());
      }
      done(out + "]}");
    });
}

void subscribe(const api_env& env, const rapidjson::Value& params, done_fn done) {
  move_subscription(env, params, gateway::server_subscribe_atom_v, done);
}

void unsubscribe(const api_env& env, const rapidjson::Value& params, done_fn done) {
  move_subscription(env, params, gateway::server_unsubscribe_atom_v, done);
}

void disconnect(const api_env& env, const rapidjson::Value& params, done_fn done) {
  auto args = decode_disconnect(params);
  if (!decoded_ok(args, done))
    return;
  for (const auto& s : sessions_of(env, args->who)) {
    const auto& spared = args->whitelist;
    if (std::find(spared.begin(), spared.end(), s.client) == spared.end())
      caf::anon_send(s.handle, gateway::close_atom_v, args->close_code, args->reason);
  }
  done(std::string("{}"));
}

void refresh(const api_env& env, const rapidjson::Value& params, done_fn done) {
  auto args = decode_refresh(params);
  if (!decoded_ok(args, done))
    return;
  for (const auto& s : sessions_of(env, args->who))
    caf::anon_send(s.handle, gateway::server_refresh_atom_v, args->expired, args->expire_at,
                   args->info);
  done(std::string("{}"));
}

void presence(const api_env& env, const rapidjson::Value& params, done_fn done) {
  ask_presence(env, params, false, std::move(done));
}

void presence_stats(const api_env& env, const rapidjson::Value& params, done_fn done) {
  ask_presence(env, params, true, std::move(done));
}

void history(const api_env& env, const rapidjson::Value& params, done_fn done) {
  auto args = decode_history(params);
  if (!decoded_ok(args, done))
    return;
  auto ns = channel_of(env, args->channel);
  if (!ns)
    return done(storage::unexpected<error>{ns.error()});
  if ((*ns)->history == config::permission::off)
    return done(fail(code::not_available, "not available: history is off in this namespace"));
  const auto& epoch = env.ctx->node().epoch;
  if (args->since_offset && !args->since_epoch.empty() && args->since_epoch != epoch)
    return done(fail(code::unrecoverable_position, "unrecoverable position: another epoch"));
  const auto& s = env.ctx->settings();
  auto plan = plan_history(*args, static_cast<uint64_t>(s.http.max_read_events));
  ask<actors::stream_events>(
    env.ctx->sys, env.ctx->node().readers, s.http.request_timeout,
    [epoch, done](actors::stream_events& read) {
      std::string out = "{\"publications\":[";
      for (size_t i = 0; i < read.events.size(); ++i) {
        if (i)
          out += ',';
        protocol::append_publication(out, read.events[i]);
      }
      out += "],\"epoch\":";
      storage::append_json_string(out, epoch);
      done(out + ",\"offset\":" + std::to_string(read.version.value) + "}");
    },
    [done](const caf::error& e) {
      done(fail(code::internal, "internal server error: " + to_string(e)));
    },
    actors::read_stream_atom_v, args->channel, storage::stream_version{plan.from}, plan.forward,
    plan.count);
}

void history_remove(const api_env& env, const rapidjson::Value& params, done_fn done) {
  auto channel = decode_channel(params);
  if (!decoded_ok(channel, done))
    return;
  if (auto ns = channel_of(env, *channel); !ns)
    return done(storage::unexpected<error>{ns.error()});
  done(fail(code::not_available,
            "history_remove is not available: the journal is immutable, events are never "
            "removed (docs/rest.md)"));
}

void channels(const api_env& env, const rapidjson::Value& params, done_fn done) {
  auto pattern = decode_pattern(params);
  if (!decoded_ok(pattern, done))
    return;
  const auto& dir = env.ctx->session->directory;
  std::string out = "{\"channels\":{";
  bool first = true;
  if (dir)
    for (const auto& [name, clients] : dir->channels()) {
      if (!pattern->empty() && !glob_match(*pattern, name))
        continue;
      if (!first)
        out += ',';
      first = false;
      storage::append_json_string(out, name);
      out += ":{\"num_clients\":" + std::to_string(clients) + "}";
    }
  done(out + "}}");
}

void info(const api_env& env, const rapidjson::Value&, done_fn done) {
  const auto& ctx = *env.ctx;
  const auto& dir = ctx.session->directory;
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
    std::chrono::steady_clock::now() - ctx.started);
  std::string out = "{\"nodes\":[{\"uid\":";
  storage::append_json_string(out, ctx.node().journal_id);
  out += ",\"name\":\"herald\",\"version\":";
  storage::append_json_string(out, ctx.session->version);
  out += ",\"num_clients\":" + std::to_string(ctx.session->metrics->connections.load())
         + ",\"num_users\":" + std::to_string(dir ? dir->users() : 0)
         + ",\"num_channels\":" + std::to_string(dir ? dir->channels().size() : 0)
         + ",\"uptime\":" + std::to_string(uptime.count()) + "}]}";
  done(out);
}

} // namespace herald::net::server_api
