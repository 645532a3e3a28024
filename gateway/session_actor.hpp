// A session: one actor per client connection, holding the protocol state of
// the Centrifugo client protocol v2 (JSON) that the `centrifuge` SDK speaks.
// It never touches the socket: net/ hands it each WebSocket message as
// (frame_atom, text) and it answers through an gateway::connection.
//
// What it does (docs/protocol.md):
// - connect (3501 for any other command first, 3502 when none comes in
//   websocket.connect_timeout), client ids, pings every
//   websocket.ping_interval and 3012 when pongs stop;
// - subscribe (permissions, 102/103/105/106, recovery via the channel's
//   hand-off), unsubscribe, publish (an append to the channel's stream,
//   answered after it is durable), history (112 on a wrong epoch), presence
//   and presence_stats, rpc `append` (event-sourced commands with expected
//   versions);
// - tokens and permissions (session_auth.cpp, docs/security.md): connection
//   and subscription JWTs, refresh and sub_refresh, expiry (3005, 2501,
//   3006), server-side subscriptions from the token's "channels", private
//   ($) and user-limited (#) channels;
// - per-connection rate limits (111, then 3013) and data size limits (106);
// - replies to one incoming message leave in one outgoing message.
// Deliveries and resyncs come from channels; net ends the actor when the
// socket closes, and channels notice through their monitors.
#pragma once

#include "actors/node.hpp"
#include "config/settings.hpp"
#include "gateway/connection.hpp"
#include "gateway/session_metrics.hpp"
#include "gateway/tokens.hpp"
#include "gateway/type_ids.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace herald::gateway {

// The core's vocabulary, as the gateway speaks it: the atoms and messages
// of the actors a session talks to.
using actors::actor_stats;
using actors::append_atom;
using actors::append_atom_v;
using actors::catch_up_atom;
using actors::catch_up_atom_v;
using actors::client_info;
using actors::deliver_atom;
using actors::deliver_atom_v;
using actors::delivery;
using actors::event_batch;
using actors::frame_ptr;
using actors::node;
using actors::presence_atom;
using actors::presence_atom_v;
using actors::presence_reply;
using actors::read_stream_atom;
using actors::read_stream_atom_v;
using actors::resync;
using actors::resync_atom;
using actors::resync_atom_v;
using actors::stats_atom;
using actors::stats_atom_v;
using actors::stream_events;
using actors::subscribe_atom;
using actors::subscribe_atom_v;
using actors::subscribe_reply;
using actors::subscribe_request;
using actors::tick_atom;
using actors::tick_atom_v;
using actors::unsubscribe_atom;
using actors::unsubscribe_atom_v;

using session_actor =
  caf::typed_actor<caf::reacts_to<frame_atom, std::string>, caf::reacts_to<deliver_atom, delivery>,
                   caf::replies_to<catch_up_atom, delivery>::with<bool>, // paced catch-up
                   caf::reacts_to<drain_atom>, // internal: the connection wrote its queue
                   caf::reacts_to<resync_atom, resync>,
                   caf::reacts_to<close_atom, uint16_t, std::string>, // close the connection
                                                                      // (shutdown)
                   caf::reacts_to<tick_atom, uint64_t>,   // internal: ping / pong timers
                   caf::reacts_to<loaded_atom>,           // internal: connect deadline
                   caf::reacts_to<expire_atom, uint64_t>, // internal: connection expiry
                   caf::reacts_to<expire_atom, std::string, uint64_t>, // subscription expiry
                   caf::replies_to<stats_atom>::with<actor_stats>,
                   // the server API (session_directory.hpp): a server-side
                   // subscription, its end, and refresh(expired, expire_at
                   // in Unix seconds or 0, new conn_info JSON or "")
                   caf::reacts_to<server_subscribe_atom, std::string>,
                   caf::reacts_to<server_unsubscribe_atom, std::string>,
                   caf::reacts_to<server_refresh_atom, bool, int64_t, std::string>>;

class session_directory;

/// What every session of a node shares: settings, the node's actors, the
/// counters, the token keys. Immutable after start.
struct session_context {
  std::shared_ptr<const config::settings> settings;
  node handles;
  std::shared_ptr<session_metrics> metrics;
  std::shared_ptr<const token_verifier> tokens;
  std::string version;
  /// Connected sessions by user, and clients by channel (the server API);
  /// may be null (then nothing is listed).
  std::shared_ptr<session_directory> directory;

  /// Whether any namespace lets clients in without a token.
  bool anonymous_allowed() const;
};

session_actor spawn_session(caf::actor_system& sys, std::shared_ptr<const session_context> ctx,
                            std::weak_ptr<connection> conn, std::string remote);

} // namespace herald::gateway
