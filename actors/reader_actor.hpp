// Journal readers: a pool of detached actors, each with its own read-only
// connection, behind one router that hands requests out round-robin
// (the worker answers the requester directly). Readers never wait for the
// writer (WAL), and the writer never serves reads.
//
// - (read_stream_atom, stream, from, forward, limit) -> stream_events
//   (forward from version `from`, or backward from it; limit 0 reads only
//   the version)
// - (read_stream_atom, stream, from, forward, limit, max_bytes) -> the same,
//   stopping before the event that takes the events past max_bytes (at
//   least one event): what history replies need, bounded in memory too
// - (read_all_atom, from_position, limit) -> event_batch
// - (head_atom) -> the last committed position
// Versions and positions travel as storage::stream_version and
// storage::journal_position, so that one cannot be taken for the other.
// - (stats_atom) -> actor_stats
// Storage errors come back as unavailable or damaged.
#pragma once

#include "actors/type_ids.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>

namespace caf {
class actor_system;
}

namespace herald::actors {

using reader_actor = caf::typed_actor<
  caf::replies_to<read_stream_atom, std::string, storage::stream_version, bool,
                  uint64_t>::with<stream_events>,
  caf::replies_to<read_stream_atom, std::string, storage::stream_version, bool, uint64_t,
                  uint64_t>::with<stream_events>,
  caf::replies_to<read_all_atom, storage::journal_position, uint64_t>::with<event_batch>,
  caf::replies_to<head_atom>::with<storage::journal_position>,
  caf::replies_to<stats_atom>::with<actor_stats>>;

/// Opens `workers` readers of the journal at `path` (throws
/// storage::failure if it cannot) and returns the router in front of them.
reader_actor spawn_readers(caf::actor_system& sys, const std::string& path, size_t workers);

} // namespace herald::actors
