// The state of one session actor and the helpers its handlers share. Internal
// to session_actor.cpp (commands, deliveries, timers) and session_auth.cpp
// (tokens, permissions, expiry, server-side subscriptions).
#pragma once

#include "actors/counters.hpp"
#include "gateway/rate_limiter.hpp"
#include "gateway/session_actor.hpp"
#include "gateway/session_policy.hpp"
#include "gateway/subscription_sink.hpp"
#include "protocol/client_frame.hpp"
#include "protocol/codes.hpp"
#include "protocol/commands.hpp"

#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace herald::gateway {

using protocol::close_code;
using protocol::error_code;
using protocol::unsubscribe_code;

struct subscription {
  caf::actor channel; ///< null while the subscribe is in flight
  bool reject_unrecovered = false;
  bool server_side = false;       ///< from the connection token's "channels"
  bool with_token = false;        ///< granted by a subscription token
  std::optional<int64_t> expires; ///< Unix seconds, when a token set it
  uint64_t expiry_generation = 0;
  std::string chan_info;                  ///< JSON text from the subscription token
  std::vector<protocol::command> waiting; ///< later commands on this channel, while in flight
  sink_handle sink; ///< the channel's direct line to the connection, closed with this
};

/// A connect waiting for its server-side subscriptions: the reply goes out
/// when all have answered, and nothing else may precede it.
struct pending_connect {
  uint32_t id = 0;
  std::string result_head; ///< the connect result up to (not including) "subs"
  size_t waiting = 0;
  std::map<std::string, std::string> subs; ///< channel -> SubscribeResult JSON
  std::vector<frame_ptr> held;             ///< deliveries that came meanwhile
  std::vector<protocol::command> deferred; ///< commands that came meanwhile
  bool failed = false;
};

struct session_state {
  static inline const char* name = "session";
  std::shared_ptr<const session_context> ctx;
  std::weak_ptr<connection> conn;
  std::string remote;
  caf::actor_addr address; ///< this session's, to leave its channels when it ends
  bool connected = false;
  bool closing = false;
  bool listed = false; ///< in ctx->directory under (user, client)
  std::string client;
  std::string user;
  std::string conn_info;          ///< JSON text
  std::optional<int64_t> expires; ///< Unix seconds, when the connection token set it
  uint64_t expiry_generation = 0;
  std::optional<pending_connect> connecting;
  std::map<std::string, subscription> subs;
  /// Paced catch-up pieces waiting for the connection to drain: answered
  /// (true) when it has written everything queued (subscribe_request).
  std::vector<caf::typed_response_promise<bool>> drain_waiters;
  bool drain_armed = false;   ///< the connection will send drain_atom
  std::vector<frame_ptr> out; ///< replies of the message being handled
  bool awaiting_pong = false;
  uint64_t ping_generation = 0;
  rate_limiter command_limit;
  rate_limiter publish_limit;
  rate_limiter subscribe_limit;
  actors::counters stats;
  uint64_t commands = 0;
  /// Appends sent to the journal and not answered yet, and the ones waiting
  /// for one of them to be answered (websocket.max_appends_in_flight), in
  /// the order the client sent them.
  int64_t appends_in_flight = 0;
  std::deque<std::function<void()>> waiting_appends;
  /// Frames delivered to the client, by this actor and by its sinks.
  std::shared_ptr<std::atomic<uint64_t>> deliveries = std::make_shared<std::atomic<uint64_t>>(0);

  ~session_state();

  const config::settings& settings() const {
    return *ctx->settings;
  }

  session_policy policy() const {
    return session_policy(*ctx->settings);
  }

  /// The deadline of every request to a core actor (a subscribe, an
  /// append, a history read, a presence query) before the client gets an
  /// error: server.actor_request_timeout, as for the core actors.
  caf::timespan request_timeout() const {
    return settings().server.actor_request_timeout;
  }
};

using self_ptr = session_actor::stateful_pointer<session_state>;

/// Queues a reply of the message being handled.
void emit(self_ptr self, std::string text);

/// Hands what this turn produced to the connection, as one write.
void flush(self_ptr self);

void close_with(self_ptr self, close_code code, const std::string& reason);

/// Checks a channel name and its namespace; emits the error reply and
/// returns nullptr when it is not usable (107 when the command named no
/// well-formed channel: `channel` is nullptr).
const config::namespace_settings* channel_ns(self_ptr self, uint32_t id,
                                             const std::string* channel);

/// The policy's whole check of `what` on `channel` (name, namespace,
/// feature switched off, permission and channel rules); emits the refusal
/// and returns nullptr, or returns the channel's namespace.
const config::namespace_settings* admit(self_ptr self, uint32_t id, channel_command what,
                                        const std::string* channel);

/// What this connection holds of `channel`, if anything.
std::optional<channel_grant> grant_of(const session_state& st, const std::string& channel);

client_info info_of(const session_state& st, const std::string& chan_info = "");

/// Reply codes for errors from the node's actors.
void emit_node_error(self_ptr self, uint32_t id, const caf::error& e);

/// Starts the subscription of `channel` with the channel registry; `done`
/// runs with the SubscribeResult JSON, or with nullopt after the error
/// reply was emitted (for id != 0).
using subscribed_fn = std::function<void(std::optional<std::string> result)>;
void start_subscription(self_ptr self, uint32_t id, const std::string& channel,
                        const config::namespace_settings& ns, bool recover,
                        protocol::commands::stream_position from, subscribed_fn done);

/// Schedules the next server ping (websocket.ping_interval).
void arm_ping(self_ptr self);

/// Drops a subscription, telling its channel.
void end_subscription(self_ptr self, std::map<std::string, subscription>::iterator it);

/// The session's subscription to `channel` took effect / ended: the
/// subscription gauge and the directory's count of the channel's clients.
void count_subscribed(const session_state& st, const std::string& channel);
void count_unsubscribed(const session_state& st, const std::string& channel);

/// Lists a connected session of a user in the directory (the server API
/// reaches it from there).
void list_session(self_ptr self);

// -- session_auth.cpp ---------------------------------------------------------

/// connect: token, anonymous rules, server-side subscriptions. Returns false
/// when the connection cannot go on (the rest of the message is ignored).
bool handle_connect(self_ptr self, uint32_t id,
                    const protocol::decoded<protocol::commands::connect>& request);

/// After the connect reply went out (or at once without server-side
/// subscriptions): deliveries held meanwhile, then the deferred commands.
void finish_connect(self_ptr self);

/// Hands a channel's delivery to the connection (or holds it while the
/// connect reply is pending).
void deliver(self_ptr self, const delivery& d);

/// Asks the connection for drain_atom once it has written its queue.
void wait_for_drain(self_ptr self);

/// subscribe's permission and token check. Returns false after emitting the
/// error reply (or closing); on success fills the token's grants into `sub`.
bool admit_subscription(self_ptr self, uint32_t id, const std::string& channel,
                        const config::namespace_settings& ns, const std::string& token,
                        subscription& sub);

/// ",\"expires\":true,\"ttl\":N" for an expiry, or "".
std::string expiry_fields(const std::optional<int64_t>& expires);

/// Arms the subscription's expiry timer, if it has an expiry.
void arm_subscription_expiry(self_ptr self, const std::string& channel, subscription& sub);

void handle_refresh(self_ptr self, uint32_t id, const protocol::commands::refresh& request);
void handle_sub_refresh(self_ptr self, uint32_t id, const protocol::commands::sub_refresh& request);
void on_connection_expiry(self_ptr self, uint64_t generation);

/// The server API's refresh: close with 3005 when `expired`, else take the
/// new expiry (Unix seconds; 0: unchanged) and connection info (JSON; empty:
/// unchanged).
void on_server_refresh(self_ptr self, bool expired, int64_t expire_at, const std::string& info);
void on_subscription_expiry(self_ptr self, const std::string& channel, uint64_t generation);

} // namespace herald::gateway
