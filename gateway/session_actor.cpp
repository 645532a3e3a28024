#include "gateway/session_actor.hpp"

#include "actors/errors.hpp"
#include "gateway/node_failure.hpp"
#include "gateway/session_directory.hpp"
#include "gateway/session_state.hpp"
#include "protocol/append_args.hpp"
#include "protocol/append_outcome.hpp"
#include "protocol/json_value_check.hpp"
#include "protocol/payload_codec.hpp"
#include "protocol/push_frames.hpp"
#include "storage/event_meta.hpp"
#include "storage/ids.hpp"
#include "storage/msgpack_json.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include <limits>
#include <map>

namespace herald::gateway {

bool session_context::anonymous_allowed() const {
  return session_policy(*settings).anonymous_allowed();
}

using protocol::method;

session_state::~session_state() {
  if (!ctx)
    return;
  --ctx->metrics->connections;
  if (listed && ctx->directory)
    ctx->directory->remove(user, client);
  // The session ends (its socket closed): leave every channel now, as an
  // unsubscribe would, so that the registry can stop the abandoned ones at
  // once (channels.max_idle); a connect/subscribe/disconnect loop leaves
  // nothing behind either. The channels' monitors would notice later.
  auto me = caf::actor_cast<caf::actor>(address);
  for (const auto& [name, sub] : subs)
    if (sub.channel) {
      count_unsubscribed(*this, name);
      if (me)
        caf::anon_send(sub.channel, unsubscribe_atom_v, me);
      caf::anon_send(ctx->handles.channels, actors::left_atom_v, name);
    }
}

void count_subscribed(const session_state& st, const std::string& channel) {
  ++st.ctx->metrics->subscriptions;
  if (st.ctx->directory)
    st.ctx->directory->joined(channel);
}

void count_unsubscribed(const session_state& st, const std::string& channel) {
  --st.ctx->metrics->subscriptions;
  if (st.ctx->directory)
    st.ctx->directory->left(channel);
}

void list_session(self_ptr self) {
  auto& st = self->state;
  if (st.user.empty() || !st.ctx->directory)
    return; // the server API names users; anonymous clients have none
  st.ctx->directory->add(st.user, st.client, caf::actor_cast<session_actor>(self));
  st.listed = true;
}

void emit(self_ptr self, std::string text) {
  self->state.out.push_back(std::make_shared<const std::string>(std::move(text)));
}

void flush(self_ptr self) {
  auto& st = self->state;
  if (st.out.empty())
    return;
  st.ctx->metrics->frames_out += st.out.size();
  if (auto c = st.conn.lock())
    c->send(std::move(st.out));
  st.out.clear();
}

void close_with(self_ptr self, close_code code, const std::string& reason) {
  auto& st = self->state;
  if (st.closing)
    return;
  st.closing = true;
  flush(self);
  ++st.ctx->metrics->disconnects;
  // Every refusal that ends a connection, for whoever wonders why a client
  // was let go (connect refusals are logged at info where they happen).
  spdlog::debug("session {} from {} closed with {} \"{}\"", st.client, st.remote,
                protocol::value(code), reason);
  if (auto c = st.conn.lock())
    c->close(code, reason);
}

namespace {

/// The message that goes with each refusal of the policy.
const char* refusal_message(error_code code) {
  switch (code) {
    case error_code::bad_request:
      return "bad request";
    case error_code::unknown_channel:
      return "unknown channel";
    case error_code::not_available:
      return "not available";
    default:
      return "permission denied";
  }
}

/// The namespace of `access`; else its refusal is emitted and nullptr
/// returned.
const config::namespace_settings* granted(self_ptr self, uint32_t id,
                                          const channel_access& access) {
  if (!access) {
    emit(self, protocol::error_reply(id, access.error(), refusal_message(access.error())));
    return nullptr;
  }
  return *access;
}

} // namespace

std::optional<channel_grant> grant_of(const session_state& st, const std::string& channel) {
  auto it = st.subs.find(channel);
  if (it == st.subs.end())
    return std::nullopt;
  const auto& sub = it->second;
  return channel_grant{sub.channel != nullptr, sub.with_token, sub.server_side};
}

const config::namespace_settings* channel_ns(self_ptr self, uint32_t id,
                                             const std::string* channel) {
  if (!channel)
    return granted(self, id, storage::unexpected{error_code::bad_request});
  return granted(self, id, self->state.policy().lookup(*channel));
}

const config::namespace_settings* admit(self_ptr self, uint32_t id, channel_command what,
                                        const std::string* channel) {
  if (!channel)
    return granted(self, id, storage::unexpected{error_code::bad_request});
  auto& st = self->state;
  auto grant = grant_of(st, *channel);
  return granted(self, id, st.policy().check(what, *channel, st.user, grant ? &*grant : nullptr));
}

client_info info_of(const session_state& st, const std::string& chan_info) {
  return client_info{st.user, st.client, st.conn_info, chan_info};
}

void emit_node_error(self_ptr self, uint32_t id, const caf::error& e) {
  auto f = failure_of(e);
  emit(self, protocol::error_reply(id, f.reply, f.reply_message, f.temporary));
}

void arm_ping(self_ptr self) {
  auto every = self->state.settings().websocket.ping_interval;
  if (every.count() > 0)
    self->delayed_send(self, every, tick_atom_v, ++self->state.ping_generation);
}

namespace {

void dispatch(self_ptr self, const protocol::command& cmd);

/// Runs the commands that waited for a subscribe to complete.
void run_waiting(self_ptr self, const std::vector<protocol::command>& waiting) {
  for (const auto& cmd : waiting) {
    if (self->state.closing)
      break;
    dispatch(self, cmd);
  }
  flush(self);
}

/// Leaves `channel`, and tells the registry, which stops the channel at
/// once if it has no subscriber left and channels.max_idle channels are live
/// (a subscribe/unsubscribe loop over new names leaves nothing behind).
void leave_channel(self_ptr self, const caf::actor& channel, const std::string& name) {
  caf::anon_send(channel, unsubscribe_atom_v, caf::actor_cast<caf::actor>(self));
  caf::anon_send(self->state.ctx->handles.channels, actors::left_atom_v, name);
}

} // namespace

namespace {

/// Lets the channel's deliveries reach the client directly, now that the
/// subscribe reply is queued ahead of them; during a connect, the connect
/// reply comes first (finish_connect opens them).
void open_sink(self_ptr self, const std::string& channel) {
  auto& st = self->state;
  auto it = st.subs.find(channel);
  if (it != st.subs.end() && it->second.channel && !st.connecting)
    it->second.sink.open();
}

} // namespace

void start_subscription(self_ptr self, uint32_t id, const std::string& channel,
                        const config::namespace_settings& ns, bool recover,
                        protocol::commands::stream_position from, subscribed_fn done) {
  auto& st = self->state;
  subscribe_request req;
  req.channel = channel;
  req.subscriber = caf::actor_cast<caf::actor>(self);
  req.info = info_of(st, st.subs[channel].chan_info);
  req.recover = recover;
  req.offset = storage::stream_version{from.offset};
  req.epoch = std::move(from.epoch);
  req.paced = true;
  auto sink = std::make_shared<subscription_sink>(st.conn, st.ctx->metrics, st.deliveries);
  st.subs[channel].sink = sink_handle(sink);
  req.sink = std::move(sink);
  const bool recoverable = ns.recovery;
  self->request(st.ctx->handles.channels, st.request_timeout(), subscribe_atom_v, std::move(req))
    .then(
      [self, id, channel, recoverable, done](subscribe_reply& r) {
        auto& st = self->state;
        auto it = st.subs.find(channel);
        if (it == st.subs.end() || st.closing) {
          // Unsubscribed (or closing) while the subscribe was in flight.
          leave_channel(self, r.channel, channel);
          return;
        }
        auto waiting = std::move(it->second.waiting);
        if (it->second.reject_unrecovered && r.was_recovering && !r.recovered) {
          leave_channel(self, r.channel, channel);
          st.subs.erase(it);
          if (id)
            emit(self, protocol::error_reply(id, error_code::unrecoverable_position,
                                             "unrecoverable position"));
          done(std::nullopt);
          run_waiting(self, waiting);
          return;
        }
        it->second.channel = r.channel;
        count_subscribed(st, channel);
        arm_subscription_expiry(self, channel, it->second);
        std::string result = "{";
        if (recoverable)
          result += "\"recoverable\":true,";
        result += "\"positioned\":true,\"epoch\":";
        storage::append_json_string(result, r.epoch);
        result += ",\"offset\":" + std::to_string(r.offset.value);
        if (r.was_recovering)
          result += ",\"was_recovering\":true";
        if (r.recovered)
          result += ",\"recovered\":true";
        result += expiry_fields(it->second.expires);
        if (!r.publications.empty()) {
          result += ",\"publications\":[";
          for (size_t i = 0; i < r.publications.size(); ++i) {
            if (i)
              result += ',';
            result += r.publications[i];
          }
          result += ']';
        }
        result += '}';
        done(std::move(result));
        open_sink(self, channel);
        run_waiting(self, waiting);
      },
      [self, id, channel, done](const caf::error& e) {
        std::vector<protocol::command> waiting;
        if (auto it = self->state.subs.find(channel); it != self->state.subs.end()) {
          waiting = std::move(it->second.waiting);
          self->state.subs.erase(it);
        }
        if (id)
          emit_node_error(self, id, e);
        done(std::nullopt);
        run_waiting(self, waiting);
      });
}

void end_subscription(self_ptr self, std::map<std::string, subscription>::iterator it) {
  auto& st = self->state;
  if (it->second.channel) {
    leave_channel(self, it->second.channel, it->first);
    count_unsubscribed(st, it->first);
  }
  st.subs.erase(it);
}

namespace {

/// One of the connection's rate limits: false after emitting 111 (or
/// closing with 3013).
bool take_rate(self_ptr self, rate_limiter& limit, uint32_t id) {
  switch (limit.take(rate_limiter::clock::now())) {
    case rate_limiter::verdict::allow:
      return true;
    case rate_limiter::verdict::refuse:
      ++self->state.ctx->metrics->rate_limited;
      emit(self,
           protocol::error_reply(id, error_code::too_many_requests, "too many requests", true));
      return false;
    case rate_limiter::verdict::close:
      close_with(self, close_code::too_many_requests, "too many requests");
      return false;
  }
  return false;
}

// -- subscribe / unsubscribe -------------------------------------------------

/// Answers a malformed command; false when `request` is one.
template <class T>
bool well_formed(self_ptr self, uint32_t id, const protocol::decoded<T>& request) {
  if (request)
    return true;
  const auto& e = request.error();
  emit(self, protocol::error_reply(id, e.code, refusal_message(e.code)));
  return false;
}

void handle_subscribe(self_ptr self, uint32_t id,
                      const protocol::decoded<protocol::commands::subscribe>& request) {
  auto& st = self->state;
  // websocket.subscribe_rate, before any work: each subscribe may start a
  // channel actor (and a token check), so a subscribe/unsubscribe loop is
  // what this bounds.
  if (!take_rate(self, st.subscribe_limit, id))
    return;
  // The channel's namespace is checked before the other fields.
  const auto* ns = channel_ns(self, id, protocol::channel_of(request));
  if (!ns || !well_formed(self, id, request))
    return;
  const auto& s = *request;
  if (s.type != 0) {
    emit(self, protocol::error_reply(id, error_code::permission_denied, "permission denied"));
    return;
  }
  if (st.subs.count(s.channel)) {
    emit(self, protocol::error_reply(id, error_code::already_subscribed, "already subscribed"));
    return;
  }
  subscription sub;
  sub.reject_unrecovered = s.rejects_unrecovered();
  if (!admit_subscription(self, id, s.channel, *ns, s.token, sub))
    return;
  if (!st.policy().subscription_fits(st.subs.size())) {
    emit(self, protocol::error_reply(id, error_code::limit_exceeded, "limit exceeded"));
    return;
  }
  st.subs[s.channel] = std::move(sub);
  start_subscription(self, id, s.channel, *ns, s.recover, s.position,
                     [self, id](std::optional<std::string> result) {
                       if (result)
                         emit(self, protocol::reply(id, "subscribe", *result));
                       flush(self);
                     });
}

void handle_unsubscribe(self_ptr self, uint32_t id,
                        const protocol::commands::unsubscribe& request) {
  auto& st = self->state;
  if (request.channel) {
    auto it = st.subs.find(*request.channel);
    // Server-side subscriptions belong to the token, not to the client.
    if (it != st.subs.end() && !it->second.server_side)
      end_subscription(self, it);
  }
  // Always success: an error would make the client reconnect.
  emit(self, protocol::reply(id, "unsubscribe", "{}"));
}

// -- the server API's subscribe and unsubscribe --------------------------------

/// A server-side subscription the server API asked for. The client learns
/// of it from a subscribe push; nothing happens when the connection is
/// already subscribed, still connecting, or at websocket.max_subscriptions.
void on_server_subscribe(self_ptr self, const std::string& channel) {
  auto& st = self->state;
  if (st.closing || !st.connected || st.connecting || st.subs.count(channel))
    return;
  const auto* ns = st.settings().namespace_of(channel);
  if (!ns || !st.policy().subscription_fits(st.subs.size())) {
    spdlog::info("server API subscribe of user {} to {} skipped (unknown namespace or over "
                 "websocket.max_subscriptions)",
                 st.user, channel);
    return;
  }
  subscription sub;
  sub.server_side = true;
  st.subs[channel] = std::move(sub);
  start_subscription(self, 0, channel, *ns, false, {},
                     [self, channel](std::optional<std::string> result) {
                       if (result)
                         emit(self, protocol::subscribe_push(channel, *result));
                       flush(self);
                     });
}

/// The server API's unsubscribe: from a client-side or server-side
/// subscription alike, with an unsubscribe push (2000: not resubscribed).
void on_server_unsubscribe(self_ptr self, const std::string& channel) {
  auto& st = self->state;
  auto it = st.subs.find(channel);
  if (st.closing || it == st.subs.end())
    return;
  auto waiting = std::move(it->second.waiting);
  end_subscription(self, it);
  emit(self, protocol::unsubscribe_push(channel, unsubscribe_code::server, "server unsubscribe"));
  run_waiting(self, waiting); // commands that waited for the subscribe now fail as unsubscribed
}

// -- publish and append ------------------------------------------------------

/// Converts a JSON value to msgpack; emits 106 when it is over
/// websocket.max_data_bytes, 107 when it cannot be converted.
bool payload_of(self_ptr self, uint32_t id, const rapidjson::Value* data, std::string& out) {
  std::string error;
  if (!data)
    return protocol::json_to_msgpack("null", out, error);
  if (!protocol::value_to_msgpack(*data, out, error)) {
    emit(self, protocol::error_reply(id, error_code::bad_request, "bad request"));
    return false;
  }
  // The one data limit of every append path, on what subscribers receive.
  if (!protocol::data_within_limit(
        out, static_cast<size_t>(self->state.settings().websocket.max_data_bytes))) {
    emit(self, protocol::error_reply(id, error_code::limit_exceeded, "limit exceeded"));
    return false;
  }
  return true;
}

/// websocket.publish_rate: false after emitting 111 (or closing with 3013).
bool take_publish(self_ptr self, uint32_t id) {
  return take_rate(self, self->state.publish_limit, id);
}

std::string meta_of(const session_state& st) {
  storage::event_meta m;
  m.user = st.user;
  m.client = st.client;
  m.conn_info = st.conn_info;
  m.via = "ws";
  return storage::encode_meta(m);
}

/// Sends the next waiting append, if any, now that one was answered.
void append_answered(self_ptr self) {
  auto& st = self->state;
  --st.appends_in_flight;
  if (st.waiting_appends.empty())
    return;
  auto next = std::move(st.waiting_appends.front());
  st.waiting_appends.pop_front();
  next();
}

/// Appends and answers `id` once the journal acknowledged it. Past
/// websocket.max_appends_in_flight the append waits for an earlier one's
/// answer: the journal still gets them in the order sent.
template <class OnResult>
void append(self_ptr self, uint32_t id, storage::append_request req, OnResult on_result) {
  auto& st = self->state;
  auto send = [self, id, req = std::move(req), on_result]() mutable {
    auto& st = self->state;
    ++st.appends_in_flight;
    auto started = actors::counters::clock::now();
    self->request(st.ctx->handles.journal, st.request_timeout(), append_atom_v, std::move(req))
      .then(
        [self, started, on_result](storage::append_result& r) {
          auto& st = self->state;
          st.ctx->metrics->observe_append(actors::counters::clock::now() - started);
          if (r.succeeded())
            ++st.ctx->metrics->publishes;
          else
            st.ctx->metrics->count_refused(protocol::refusal_of(r)->conflict);
          on_result(r);
          append_answered(self);
          flush(self);
        },
        [self, id](const caf::error& e) {
          ++self->state.ctx->metrics->publish_errors;
          emit_node_error(self, id, e);
          append_answered(self);
          flush(self);
        });
  };
  if (st.appends_in_flight < st.settings().websocket.max_appends_in_flight
      && st.waiting_appends.empty()) {
    send();
    return;
  }
  ++st.ctx->metrics->appends_waited;
  st.waiting_appends.emplace_back(std::move(send));
}

void handle_publish(self_ptr self, uint32_t id, const protocol::commands::publish& request) {
  auto& st = self->state;
  const auto* ns = admit(self, id, channel_command::publish, &request.channel);
  if (!ns)
    return;
  if (!take_publish(self, id))
    return;
  std::string payload;
  if (!payload_of(self, id, request.data, payload))
    return;
  storage::append_request req{
    request.channel,
    storage::expected_version::any(),
    {storage::new_event{protocol::event_type_of(request.data, ns->default_type), "", meta_of(st),
                        std::move(payload)}}};
  append(self, id, std::move(req), [self, id](const storage::append_result& r) {
    if (r.succeeded())
      emit(self, protocol::reply(id, "publish", "{}"));
    else
      emit(self, protocol::error_reply(id, error_code::bad_request, r.message));
  });
}

/// rpc method "append": {channel, type, data, id?, expected_version?}.
void handle_append_rpc(self_ptr self, uint32_t id,
                       const protocol::decoded<protocol::commands::append>& request) {
  auto& st = self->state;
  // The channel's permission and the publish rate come before the other
  // arguments.
  const auto* ns = admit(self, id, channel_command::publish, protocol::channel_of(request));
  if (!ns)
    return;
  if (!take_publish(self, id) || !well_formed(self, id, request))
    return;
  const auto& a = *request;
  std::string payload;
  if (!payload_of(self, id, a.data, payload))
    return;
  storage::append_request req{a.channel,
                              a.expected,
                              {storage::new_event{a.type.value_or(ns->default_type), a.event_id,
                                                  meta_of(st), std::move(payload)}}};
  append(self, id, std::move(req), [self, id](const storage::append_result& r) {
    if (auto refused = protocol::refusal_of(r)) {
      emit(self, protocol::error_reply(id, refused->rpc_code, refused->rpc_message));
      return;
    }
    emit(self, protocol::reply(
                 id, "rpc",
                 "{\"data\":{\"offset\":" + std::to_string(r.last_version)
                   + ",\"position\":" + std::to_string(r.last_position)
                   + (r.status == storage::append_status::idempotent ? ",\"idempotent\":true" : "")
                   + "}}"));
  });
}

void handle_rpc(self_ptr self, uint32_t id, const protocol::commands::rpc& request) {
  if (request.method == "append") {
    handle_append_rpc(self, id, protocol::decode_append(request.data));
    return;
  }
  emit(self, protocol::error_reply(id, error_code::method_not_found, "method not found"));
}

// -- history and presence -----------------------------------------------------

/// Most bytes of publications one history reply carries: the setting, and
/// never more than half the queue a connection may hold, so that a history
/// reply alone never closes its caller as a slow consumer.
size_t history_budget(const config::websocket_settings& ws) {
  return static_cast<size_t>(std::min(ws.history_max_bytes, ws.max_queued_bytes / 2));
}

/// "publications":[...], with as many of `events` as fit in `max_bytes` of
/// rendered JSON (at least one; the client pages on with `since`).
void append_history_publications(std::string& result, const event_batch& events, size_t max_bytes) {
  result += "\"publications\":[";
  const size_t start = result.size();
  for (size_t i = 0; i < events.size(); ++i) {
    const size_t before = result.size();
    if (i)
      result += ',';
    protocol::append_publication(result, events[i]);
    if (i > 0 && result.size() - start > max_bytes) {
      result.resize(before); // the reader counts stored bytes; JSON may be larger
      break;
    }
  }
  result += "],";
}

void handle_history(self_ptr self, uint32_t id,
                    const protocol::decoded<protocol::commands::history>& request) {
  auto& st = self->state;
  // The channel's permission is checked before the other fields.
  if (!admit(self, id, channel_command::history, protocol::channel_of(request))
      || !well_formed(self, id, request))
    return;
  const auto& h = *request;
  const auto& epoch = st.ctx->handles.epoch;
  if (h.since && !h.since->epoch.empty() && h.since->epoch != epoch) {
    emit(self,
         protocol::error_reply(id, error_code::unrecoverable_position, "unrecoverable position"));
    return;
  }
  const auto max = static_cast<uint64_t>(st.settings().websocket.history_limit);
  uint64_t count = h.limit < 0 ? max : std::min<uint64_t>(static_cast<uint64_t>(h.limit), max);
  const uint64_t since_offset = h.since ? h.since->offset : 0;
  uint64_t from = 1;
  if (h.reverse)
    from =
      h.since ? (since_offset == 0 ? 0 : since_offset - 1) : std::numeric_limits<uint64_t>::max();
  else
    from = h.since ? since_offset + 1 : 1;
  bool none = h.reverse && h.since && since_offset == 0;
  const auto max_bytes = history_budget(st.settings().websocket);
  self
    ->request(st.ctx->handles.readers, st.request_timeout(), read_stream_atom_v, h.channel,
              storage::stream_version{from}, !h.reverse, none ? uint64_t{0} : count,
              static_cast<uint64_t>(max_bytes))
    .then(
      [self, id, epoch, max_bytes](const stream_events& read) {
        std::string result = "{";
        if (!read.events.empty())
          append_history_publications(result, read.events, max_bytes);
        result += "\"epoch\":";
        storage::append_json_string(result, epoch);
        result += ",\"offset\":" + std::to_string(read.version.value) + "}";
        emit(self, protocol::reply(id, "history", result));
        flush(self);
      },
      [self, id](const caf::error& e) {
        emit_node_error(self, id, e);
        flush(self);
      });
}

void handle_presence(self_ptr self, uint32_t id, const std::string& channel, bool stats) {
  auto& st = self->state;
  if (!admit(self, id, channel_command::presence, &channel))
    return;
  self->request(st.ctx->handles.channels, st.request_timeout(), presence_atom_v, channel)
    .then(
      [self, id, stats](const presence_reply& p) {
        std::string result;
        if (stats) {
          result = "{\"num_clients\":" + std::to_string(p.clients.size())
                   + ",\"num_users\":" + std::to_string(p.num_users) + "}";
          emit(self, protocol::reply(id, "presence_stats", result));
        } else {
          result = "{\"presence\":{";
          bool first = true;
          for (const auto& [client, info] : p.clients) {
            if (!first)
              result += ',';
            first = false;
            storage::append_json_string(result, client);
            result += ':';
            protocol::append_client_info(result, info);
          }
          result += "}}";
          emit(self, protocol::reply(id, "presence", result));
        }
        flush(self);
      },
      [self, id](const caf::error& e) {
        emit_node_error(self, id, e);
        flush(self);
      });
}

// -- one incoming message ----------------------------------------------------

/// A command on a channel whose subscribe is still in flight waits for it:
/// a connection's commands on a channel take effect in the order sent (a
/// publish right after a subscribe reaches the new subscriber). rpc append
/// names its channel in its data; it waits like publish, so that it is
/// checked against the subscription it follows.
bool wait_for_subscribe(self_ptr self, const protocol::command& cmd) {
  auto channel = protocol::channel_named(cmd);
  if (!channel)
    return false;
  auto it = self->state.subs.find(*channel);
  if (it == self->state.subs.end() || it->second.channel)
    return false;
  it->second.waiting.push_back(cmd);
  return true;
}

/// Runs `handle` on a well-formed command; answers a malformed one.
template <class T, class Handler>
void run(self_ptr self, uint32_t id, const protocol::decoded<T>& request, Handler handle) {
  if (well_formed(self, id, request))
    handle(self, id, *request);
}

void dispatch(self_ptr self, const protocol::command& cmd) {
  if (wait_for_subscribe(self, cmd))
    return;
  ++self->state.commands;
  ++self->state.ctx->metrics->commands;
  switch (cmd.what) {
    case method::pong:
      self->state.awaiting_pong = false;
      break;
    case method::connect:
      close_with(self, close_code::bad_request, "bad request");
      break; // a second connect
    case method::subscribe:
      handle_subscribe(self, cmd.id, protocol::decode_subscribe(cmd));
      break;
    case method::unsubscribe:
      run(self, cmd.id, protocol::decode_unsubscribe(cmd), handle_unsubscribe);
      break;
    case method::publish:
      run(self, cmd.id, protocol::decode_publish(cmd), handle_publish);
      break;
    case method::history:
      handle_history(self, cmd.id, protocol::decode_history(cmd));
      break;
    case method::presence:
      run(self, cmd.id, protocol::decode_presence(cmd),
          [](self_ptr self, uint32_t id, const protocol::commands::presence& p) {
            handle_presence(self, id, p.channel, false);
          });
      break;
    case method::presence_stats:
      run(self, cmd.id, protocol::decode_presence_stats(cmd),
          [](self_ptr self, uint32_t id, const protocol::commands::presence_stats& p) {
            handle_presence(self, id, p.channel, true);
          });
      break;
    case method::rpc:
      run(self, cmd.id, protocol::decode_rpc(cmd), handle_rpc);
      break;
    case method::send:
      break; // fire-and-forget messages: accepted, ignored
    case method::refresh:
      run(self, cmd.id, protocol::decode_refresh(cmd), handle_refresh);
      break;
    case method::sub_refresh:
      run(self, cmd.id, protocol::decode_sub_refresh(cmd), handle_sub_refresh);
      break;
    case method::unknown:
      emit(self, protocol::error_reply(cmd.id, error_code::method_not_found, "method not found"));
      break;
  }
}

/// websocket.command_rate, for every command but pongs: false after
/// emitting 111 (or closing with 3013).
bool take_command(self_ptr self, const protocol::command& cmd) {
  return cmd.what == method::pong || take_rate(self, self->state.command_limit, cmd.id);
}

void on_message(self_ptr self, const std::string& text) {
  auto& st = self->state;
  if (st.closing)
    return;
  std::vector<protocol::command> commands;
  std::string error;
  if (!protocol::parse_frame(text, commands, error)) {
    close_with(self, close_code::bad_request, "bad request");
    return;
  }
  for (auto& cmd : commands) {
    if (st.closing)
      break;
    if (!take_command(self, cmd))
      continue;
    if (!st.connected) {
      if (cmd.what != method::connect) {
        close_with(self, close_code::bad_request, "bad request");
        break;
      }
      if (!handle_connect(self, cmd.id, protocol::decode_connect(cmd)))
        break; // the rest of the message is ignored, as Centrifugo does
      if (auto c = st.conn.lock())
        c->connected(); // no longer pending for its address
      continue;
    }
    if (st.connecting) {
      // The connect reply waits for server-side subscriptions; nothing may
      // overtake it.
      st.connecting->deferred.push_back(std::move(cmd));
      continue;
    }
    dispatch(self, cmd);
  }
  flush(self);
}

} // namespace

void deliver(self_ptr self, const delivery& d) {
  auto& st = self->state;
  if (st.closing || d.frames.empty())
    return;
  auto it = st.subs.find(d.channel);
  if (it == st.subs.end() || !it->second.channel)
    return; // unsubscribed meanwhile
  *st.deliveries += d.frames.size();
  if (st.connecting) {
    // A server-side subscription's publications wait for the connect
    // reply, which must come first.
    st.connecting->held.insert(st.connecting->held.end(), d.frames.begin(), d.frames.end());
    return;
  }
  st.ctx->metrics->frames_out += d.frames.size();
  if (auto c = st.conn.lock())
    c->send(d.frames);
}

void finish_connect(self_ptr self) {
  auto& st = self->state;
  if (!st.connecting)
    return;
  auto pending = std::move(*st.connecting);
  st.connecting.reset();
  for (auto& f : pending.held)
    st.out.push_back(std::move(f));
  for (const auto& cmd : pending.deferred) {
    if (st.closing)
      break;
    dispatch(self, cmd);
  }
  flush(self);
  for (auto& [channel, sub] : st.subs)
    if (sub.channel)
      sub.sink.open(); // after the connect reply and what was held for it
  if (!st.drain_waiters.empty())
    wait_for_drain(self);
}

void wait_for_drain(self_ptr self) {
  auto& st = self->state;
  auto c = st.conn.lock();
  if (st.drain_armed || !c)
    return;
  st.drain_armed = true;
  c->when_drained(
    [handle = caf::actor_cast<session_actor>(self)] { caf::anon_send(handle, drain_atom_v); });
}

namespace {

session_actor::behavior_type session_impl(self_ptr self, std::shared_ptr<const session_context> ctx,
                                          std::weak_ptr<connection> conn, std::string remote) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.conn = std::move(conn);
  st.remote = std::move(remote);
  st.address = self->address();
  ++st.ctx->metrics->connections;
  ++st.ctx->metrics->connections_total;
  st.command_limit = rate_limiter(st.settings().websocket.command_rate);
  st.publish_limit = rate_limiter(st.settings().websocket.publish_rate);
  st.subscribe_limit = rate_limiter(st.settings().websocket.subscribe_rate);
  self->delayed_send(self, st.settings().websocket.connect_timeout, loaded_atom_v);
  return {
    [self](frame_atom, const std::string& text) {
      auto scope = self->state.stats.measure();
      self->state.stats.sample(self);
      on_message(self, text);
    },
    [self](deliver_atom, const delivery& d) {
      auto scope = self->state.stats.measure();
      deliver(self, d);
    },
    [self](catch_up_atom, const delivery& d) -> caf::result<bool> {
      auto& st = self->state;
      auto scope = st.stats.measure();
      deliver(self, d);
      if (st.closing || st.conn.expired())
        return true; // nothing to pace; the channel hears of the end soon
      // The next piece comes when this one has left: the backlog waits in
      // the journal, not in memory.
      auto promise = self->make_response_promise<bool>();
      st.drain_waiters.push_back(promise);
      if (!st.connecting)
        wait_for_drain(self);
      return promise;
    },
    [self](drain_atom) {
      auto& st = self->state;
      st.drain_armed = false;
      for (auto& p : std::exchange(st.drain_waiters, {}))
        p.deliver(true);
    },
    [self](resync_atom, const resync& r) {
      auto& st = self->state;
      auto it = st.subs.find(r.channel);
      if (it == st.subs.end())
        return;
      if (it->second.server_side) {
        // 3010: the client reconnects and recovers its server-side channels.
        close_with(self, close_code::insufficient_state, "insufficient state");
        return;
      }
      if (it->second.channel)
        count_unsubscribed(st, r.channel);
      st.subs.erase(it);
      // 2500: the client resubscribes and recovers.
      emit(self, protocol::unsubscribe_push(r.channel, unsubscribe_code::insufficient_state,
                                            "insufficient state"));
      flush(self);
    },
    [self](expire_atom, uint64_t generation) { on_connection_expiry(self, generation); },
    [self](expire_atom, const std::string& channel, uint64_t generation) {
      on_subscription_expiry(self, channel, generation);
    },
    [self](close_atom, uint16_t code, const std::string& reason) {
      close_with(self, static_cast<close_code>(code), reason);
    },
    [self](tick_atom, uint64_t generation) {
      auto& st = self->state;
      if (generation != st.ping_generation || st.closing)
        return;
      if (st.awaiting_pong) {
        close_with(self, close_code::no_pong, "no pong");
        return;
      }
      emit(self, std::string(protocol::ping));
      flush(self);
      st.awaiting_pong = true;
      // The pong deadline; the next ping follows when it has passed.
      auto timeout = st.settings().websocket.pong_timeout;
      auto every = st.settings().websocket.ping_interval;
      self->delayed_send(self, std::min(timeout, every), tick_atom_v, generation);
      if (timeout < every)
        self->delayed_send(self, every, tick_atom_v, ++st.ping_generation);
    },
    [self](loaded_atom) {
      if (!self->state.connected)
        close_with(self, close_code::stale, "stale");
    },
    [self](server_subscribe_atom, const std::string& channel) {
      on_server_subscribe(self, channel);
    },
    [self](server_unsubscribe_atom, const std::string& channel) {
      on_server_unsubscribe(self, channel);
    },
    [self](server_refresh_atom, bool expired, int64_t expire_at, const std::string& info) {
      on_server_refresh(self, expired, expire_at, info);
      flush(self);
    },
    [self](stats_atom) -> actor_stats {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self, true);
      auto s = st.stats.stats("session " + st.client + " " + st.remote, "session");
      s.figures = {{"subscriptions", static_cast<int64_t>(st.subs.size())},
                   {"commands", static_cast<int64_t>(st.commands)},
                   {"deliveries", static_cast<int64_t>(st.deliveries->load())}};
      if (auto c = st.conn.lock())
        s.figures["queued_bytes"] = static_cast<int64_t>(c->queued_bytes());
      return s;
    },
  };
}

} // namespace

session_actor spawn_session(caf::actor_system& sys, std::shared_ptr<const session_context> ctx,
                            std::weak_ptr<connection> conn, std::string remote) {
  return sys.spawn(session_impl, std::move(ctx), std::move(conn), std::move(remote));
}

} // namespace herald::gateway
