// The values actors exchange. Everything here that may cross nodes has an
// `inspect` overload and a type id (type_ids.hpp); the frame types at the end
// are local-only (they share memory) and never leave the gateway node.
#pragma once

#include "actors/subscriber_sink.hpp"
#include "protocol/client_info.hpp"
#include "protocol/frame.hpp"
#include "storage/event.hpp"
#include "storage/positions.hpp"

#include <caf/actor.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace herald::storage {

// inspect() for the storage types, found by argument-dependent lookup. They
// need no CAF header: CAF calls them with its own inspectors.

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, expected_version& x) {
  return f(x.k, x.version);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, new_event& x) {
  return f(x.type, x.id, x.meta, x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_request& x) {
  return f(x.stream, x.expected, x.events);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_result& x) {
  return f(x.status, x.first_position, x.last_position, x.first_version, x.last_version,
           x.actual_version, x.message);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, recorded_event& x) {
  return f(x.position, x.stream, x.version, x.type, x.id, x.time, x.meta, x.data);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, processor_commit& x) {
  return f(x.processor, x.from, x.to, x.appends, x.generation, x.rebuild);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, processor_commit_result& x) {
  return f(x.status, x.actual, x.message, x.generation);
}

} // namespace herald::storage

namespace herald::protocol {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, client_info& x) {
  return f(x.user, x.client, x.conn_info, x.chan_info);
}

} // namespace herald::protocol

namespace herald::actors {

using event_batch = std::vector<storage::recorded_event>;

/// Events of one stream read from the journal, and the stream's version.
struct stream_events {
  storage::stream_version version;
  event_batch events;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_events& x) {
  return f(x.version, x.events);
}

using protocol::client_info;

/// Per-actor counters, the answer to stats_atom. `figures` holds the
/// role's own numbers (journal head, channel subscribers, projection lag...).
struct actor_stats {
  std::string name;
  std::string role;
  uint64_t messages = 0;
  uint64_t busy_ns = 0;
  uint64_t mailbox = 0;     ///< depth at the last sample
  uint64_t mailbox_max = 0; ///< deepest sample seen
  std::map<std::string, int64_t> figures;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_stats& x) {
  return f(x.name, x.role, x.messages, x.busy_ns, x.mailbox, x.mailbox_max, x.figures);
}

/// A subscription request to a channel. The subscriber receives
/// (deliver_atom, delivery) and (resync_atom, resync) messages. With
/// `recover`, the client holds `offset` of `epoch` and wants what followed.
/// With `paced`, a catch-up backlog (from the journal, or the part of a ring
/// backlog that does not fit in the reply) arrives as (catch_up_atom, delivery)
/// requests of bounded size, the next one only
/// after the subscriber answered the last (true): a client recovering a
/// long backlog gets it as fast as it reads, never all at once.
struct subscribe_request {
  std::string channel;
  caf::actor subscriber;
  client_info info;
  bool recover = false;
  storage::stream_version offset;
  std::string epoch;
  bool paced = false;
  /// Where live deliveries go, when the subscriber has a direct line to its
  /// connection; otherwise they come as deliver_atom messages. Local only:
  /// not serialized.
  std::shared_ptr<subscriber_sink> sink;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscribe_request& x) {
  return f(x.channel, x.subscriber, x.info, x.recover, x.offset, x.epoch, x.paced);
}

/// The answer to a subscription, sent before any delivery of the channel to
/// that subscriber. When `recovered`, `offset` is the requested one and the
/// missed publications follow: those the channel had at hand in
/// `publications` (Publication JSON objects, in order), the rest as
/// deliveries; otherwise `offset` is the top.
struct subscribe_reply {
  std::string epoch;
  storage::stream_version offset;
  bool recovered = false;
  bool was_recovering = false;
  std::vector<std::string> publications;
  caf::actor channel; ///< where to send unsubscribe_atom
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subscribe_reply& x) {
  return f(x.epoch, x.offset, x.recovered, x.was_recovering, x.publications, x.channel);
}

/// Who is subscribed to a channel, by client id.
struct presence_reply {
  std::map<std::string, client_info> clients;
  uint64_t num_users = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, presence_reply& x) {
  return f(x.clients, x.num_users);
}

/// A projection as operators see it.
struct projection_status {
  std::string name;
  /// running, catching_up, faulted, rebuilding, rebuild_faulted, rebuild_failed
  std::string status;
  uint64_t position = 0;
  uint64_t head = 0;
  uint64_t lag = 0;
  uint64_t faulted_position = 0;
  std::string error;
  uint64_t snapshots = 0;
  uint64_t snapshot_position = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, projection_status& x) {
  return f(x.name, x.status, x.position, x.head, x.lag, x.faulted_position, x.error, x.snapshots,
           x.snapshot_position);
}

/// A named query and its parameters, as strings from the request.
/// A stream processor's status (status_atom to the processor manager).
struct processor_status {
  std::string name;
  /// running, catching_up, waiting (for a read model: waiting_on), faulted
  std::string status;
  uint64_t position = 0;   ///< source events handled through here
  uint64_t checkpoint = 0; ///< the checkpoint committed in the journal
  uint64_t head = 0;
  uint64_t lag = 0; ///< head - position
  std::vector<std::string> waiting_on;
  uint64_t faulted_position = 0;
  std::string error;
  uint64_t batches = 0;    ///< statement runs
  uint64_t events_in = 0;  ///< source events the statement saw
  uint64_t events_out = 0; ///< derived events committed
  uint64_t statement_ns = 0;
  uint64_t skipped = 0;    ///< source events skipped by an operator
  uint64_t generation = 0; ///< rebuilds over the processor's life (in the journal)
  uint64_t rebuilds = 0;   ///< rebuilds since this node started
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, processor_status& x) {
  return f(x.name, x.status, x.position, x.checkpoint, x.head, x.lag, x.waiting_on,
           x.faulted_position, x.error, x.batches, x.events_in, x.events_out, x.statement_ns,
           x.skipped, x.generation, x.rebuilds);
}

struct query_request {
  std::string name;
  std::map<std::string, std::string> params;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, query_request& x) {
  return f(x.name, x.params);
}

/// Rows as a JSON array of objects, and the projection position they reflect.
struct query_result {
  std::string rows_json;
  uint64_t rows = 0;
  uint64_t position = 0;
  bool truncated = false; ///< the row limit cut the result
  /// "faulted" when the projection stopped at a failing event (the rows are
  /// stale: later events are not in them), else "running".
  std::string status = "running";
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, query_result& x) {
  return f(x.rows_json, x.rows, x.position, x.truncated, x.status);
}

using protocol::frame_ptr;

/// What a channel sends a subscriber: publications with consecutive offsets
/// starting at `first_offset`, or (first_offset == 0) other pushes of the
/// channel such as join and leave.
struct delivery {
  std::string channel;
  uint64_t first_offset = 0;
  std::vector<frame_ptr> frames;
};

/// A channel telling a subscriber it cannot vouch for its stream any more
/// (a gap it cannot fill): the client must resubscribe with recovery.
struct resync {
  std::string channel;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, resync& x) {
  return f(x.channel);
}

} // namespace herald::actors
