// A projection: one actor per [[projection]] of the config, folding the
// journal into its read model (storage::read_model), exactly once.
//
// It applies committed batches as they come when they follow its checkpoint,
// and otherwise catches up from its own journal reader in pages of
// projections.apply_batch events, one page per message so that it stays
// responsive. It runs detached: its SQLite work never blocks the scheduler.
//
// - (committed_atom, event_batch) from the journal
// - (applied_atom, position) -> checkpoint, answered once the projection
//   has applied everything up to `position` (read-your-writes, tests)
// - (status_atom) -> projection_status (position, lag, status, fault)
// - (rebuild_atom) -> status: replays into a new generation file, from the
//   latest usable snapshot when there is one (a damaged snapshot is skipped
//   with a warning), while queries keep reading the current file; swaps when
//   the new one has caught up
//   (a handler failure stops it at that event: status rebuild_faulted; a
//   rebuild that fails otherwise, or was cut short by a stop, is abandoned:
//   status rebuild_failed until the next one)
// - (retry_atom) / (skip_atom) -> status: after a handler fault, try the
//   failing event again, or step over it; a stopped rebuild comes first
// - (snapshot_atom) -> position of a snapshot taken now
// - (stats_atom) -> actor_stats
// Query actors (file listeners) hear (file_atom, projection, path) whenever
// the current file changes, and (file_status_atom, projection, "faulted" or
// "running") when the current file stops or resumes following the journal.
#pragma once

#include "actors/type_ids.hpp"
#include "config/settings.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>
#include <vector>

namespace caf {
class actor_system;
}

namespace herald::actors {

using file_listener = caf::typed_actor<caf::reacts_to<file_atom, std::string, std::string>,
                                       caf::reacts_to<file_status_atom, std::string, std::string>>;

using projection_actor = caf::typed_actor<
  caf::reacts_to<committed_atom, event_batch>,
  caf::replies_to<applied_atom, storage::journal_position>::with<storage::journal_position>,
  caf::replies_to<status_atom>::with<projection_status>,
  caf::replies_to<rebuild_atom>::with<projection_status>,
  caf::replies_to<retry_atom>::with<projection_status>,
  caf::replies_to<skip_atom>::with<projection_status>,
  caf::replies_to<snapshot_atom>::with<storage::journal_position>,
  caf::replies_to<stats_atom>::with<actor_stats>,
  caf::reacts_to<step_atom>,  // internal: the next page of catch-up or rebuild
  caf::reacts_to<tick_atom>>; // internal: time-based snapshots

struct projection_options {
  config::projection_def def;
  config::projection_settings settings;
  std::string data_dir;
  std::string journal_path;
  std::vector<file_listener> file_listeners;
};

/// Opens the projection's current file (creating or replacing it when it is
/// missing or was written for another definition) and spawns the actor. A
/// damaged file does not fail the start: the projection reports `faulted`.
projection_actor spawn_projection(caf::actor_system& sys, projection_options options);

} // namespace herald::actors
