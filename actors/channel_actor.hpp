// A channel: one actor per active channel (= stream), spawned by the channel
// registry on the first subscription and stopped after channels.idle_stop
// without subscribers.
//
// It knows its stream's top offset (version) and keeps a ring of the most
// recent publications, each encoded once as a ready-to-send frame. It owns
// the subscribe hand-off (invariant 2): a subscriber first gets the reply,
// then the publications it missed (from the ring, or older ones from the
// journal readers, in chunks), then goes live; all of it in offset order,
// with no gap and no duplicate, because every step runs in this actor's
// message order. Live fan-out sends one shared message per batch to all
// live subscribers.
//
// Protocol (besides what the registry forwards):
// - (committed_atom, event_batch): new events of this stream, from the registry
// - (subscribe_atom, subscribe_request) -> subscribe_reply, then
//   (deliver_atom, delivery) messages to the subscriber, or
//   (resync_atom, resync) when it cannot vouch for the stream any more
// - (unsubscribe_atom, subscriber); subscribers are also monitored
// - (presence_atom) -> presence_reply
// - (stats_atom) -> actor_stats: subscribers, published, deliveries, top
//
// Join/leave pushes (namespaces with join_leave, channels of at most
// join_leave_max_subscribers) are gathered while the mailbox holds more
// messages and go to each subscriber as one delivery.
#pragma once

#include "actors/reader_actor.hpp"
#include "actors/type_ids.hpp"
#include "config/settings.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <atomic>
#include <cstdint>
#include <memory>

namespace herald::actors {

using channel_actor =
  caf::typed_actor<caf::reacts_to<committed_atom, event_batch>,
                   caf::replies_to<subscribe_atom, subscribe_request>::with<subscribe_reply>,
                   caf::reacts_to<unsubscribe_atom, caf::actor>,
                   caf::replies_to<presence_atom>::with<presence_reply>,
                   caf::replies_to<stats_atom>::with<actor_stats>,
                   caf::reacts_to<tick_atom, uint64_t>, // internal: idle timer
                   caf::reacts_to<flush_atom>, // internal: send the gathered join/leave pushes
                   caf::reacts_to<stop_atom>>;

/// Who a channel reports idleness to: (idle_atom, name, subscribes seen).
using channel_owner = caf::typed_actor<caf::reacts_to<idle_atom, std::string, uint64_t>>;

/// What a channel needs to know besides its name.
struct channel_options {
  std::string epoch;
  size_t ring_size = 1024;
  config::duration idle_stop = std::chrono::seconds(30);
  /// How long a read from the journal readers may take (server.actor_request_timeout).
  config::duration request_timeout = std::chrono::seconds(30);
  bool join_leave = false;
  /// Past this many subscribers no join/leave pushes (presence stays exact).
  size_t join_leave_max_subscribers = 1000;
  bool recovery = true;
  size_t catch_up_chunk = 1000;
  /// Most bytes of one paced catch-up delivery (see subscribe_request).
  size_t catch_up_bytes = 64 * 1024;
  /// Node-wide count of publications delivered (one per subscriber), shared
  /// by every channel so that it outlives them (herald_deliveries_total).
  std::shared_ptr<std::atomic<uint64_t>> deliveries_total;
};

/// Spawned by the registry, which hears when the channel has been idle for
/// idle_stop and decides whether it stops.
channel_actor spawn_channel(caf::actor_system& sys, std::string name, channel_options options,
                            reader_actor readers, channel_owner owner);

} // namespace herald::actors
