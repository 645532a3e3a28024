// The channel registry: one per gateway node. It listens to the journal's
// committed batches, splits them by stream and forwards each part to that
// channel's actor, if one is active. Subscriptions go through it: it spawns
// the channel on demand and delegates the request, so the channel answers the
// subscriber directly.
//
// Stopping idle channels without losing a subscription: a channel idle for
// channels.idle_stop reports how many subscribes it has seen; the registry
// stops it only if it has delegated exactly that many (none in flight), and
// from then on spawns a new one for that stream.
//
// - (committed_atom, event_batch) from the journal; a gap in positions is
//   filled from the readers before going on
// - (left_atom, channel) from a session that left the channel: past
//   channels.max_idle live channels, the channel stops at once if it has no
//   subscriber left (asked through its stats), so subscribe/unsubscribe loops
//   over ever new names cannot pile up idle channels
// - (subscribe_atom, subscribe_request) -> subscribe_reply (delegated)
// - (presence_atom, channel) -> presence_reply (empty when not active)
// - (stats_atom) -> actor_stats with channels, subscribers, deliveries summed
#pragma once

#include "actors/channel_actor.hpp"
#include "actors/reader_actor.hpp"
#include "actors/type_ids.hpp"
#include "config/settings.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace herald::actors {

using channel_registry_actor =
  caf::typed_actor<caf::reacts_to<committed_atom, event_batch>,
                   caf::replies_to<subscribe_atom, subscribe_request>::with<subscribe_reply>,
                   caf::replies_to<presence_atom, std::string>::with<presence_reply>,
                   caf::reacts_to<idle_atom, std::string, uint64_t>,
                   caf::reacts_to<left_atom, std::string>,
                   caf::replies_to<stats_atom>::with<actor_stats>>;

/// `journal_id` names the epoch; `head` is the last position committed when
/// the registry starts (it expects the next batch right after it).
channel_registry_actor spawn_channel_registry(caf::actor_system& sys, const config::settings& s,
                                              reader_actor readers, std::string journal_id,
                                              storage::journal_position head);

/// The epoch of every stream of the journal `journal_id`.
std::string epoch_of(const std::string& journal_id);

} // namespace herald::actors
