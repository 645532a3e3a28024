// A stream processor: one actor per [[processor]] of the config
// (docs/processors.md). Like a projection it follows the journal's committed
// batches (catching up from its own reader in pages of
// processors.batch_events), runs alongside the projections, and detached:
// its SQLite work never blocks the scheduler. For each page it
//
// 1. keeps the events of the namespaces (and types) it reads, public
//    channels only;
// 2. waits until each read model of `wait_for` has applied the page's last
//    position (asking the projection manager, so a projection's progress
//    releases it; a missing checkpoint is behind; status `waiting` with
//    waiting_on meanwhile);
// 3. runs its statement once over those events (storage::processor_statement)
//    and checks every row (storage::check_derived_row);
// 4. sends the derived events with its new checkpoint to the journal actor,
//    which writes both in one transaction, compare-and-set on the old
//    checkpoint: exactly once, across kill -9.
//
// A page that derives nothing moves the checkpoint only in memory; the next
// commit carries it (re-reading such events after a crash derives nothing).
// A rebuild from position P commits (generation + 1, checkpoint P - 1) in one
// journal transaction, then derives again from P: the generation is part of
// the derived ids, so the new events are new to the journal (and to
// subscribers). Work started before it (a page waiting for read models, a
// commit in flight) belongs to the old generation and its outcome is
// dropped; the journal refuses its commit if it comes after the rebuild.
//
// A failing page is re-run one source event at a time, so that a fault names
// the event; the processor then stops there (status faulted) until retried
// or skipped. Temporary failures (a busy read model, a refused append) are
// retried every processors.retry_every.
//
// - (committed_atom, event_batch) from the journal
// - (file_atom, projection, path) / (file_status_atom, ...) from projections
// - (wait_for_atom, projection manager) once, at start
// - (status_atom) / (retry_atom) / (skip_atom) -> processor_status
// - (rebuild_atom, from, by) -> processor_status once the journal holds the
//   next generation with the checkpoint from - 1; bad_request unless from is
//   1..head + 1; `by` (who asked) goes to the log
// - (stats_atom) -> actor_stats (the figures /metrics shows)
#pragma once

#include "actors/type_ids.hpp"
#include "config/settings.hpp"

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <memory>
#include <string>

namespace caf {
class actor_system;
}

namespace herald::actors {

using processor_actor = caf::typed_actor<
  caf::reacts_to<committed_atom, event_batch>, caf::reacts_to<file_atom, std::string, std::string>,
  caf::reacts_to<file_status_atom, std::string, std::string>,
  caf::reacts_to<wait_for_atom, caf::actor>, caf::replies_to<status_atom>::with<processor_status>,
  caf::replies_to<retry_atom>::with<processor_status>,
  caf::replies_to<skip_atom>::with<processor_status>,
  caf::replies_to<rebuild_atom, uint64_t, std::string>::with<processor_status>,
  caf::replies_to<stats_atom>::with<actor_stats>,
  caf::reacts_to<step_atom>,  // internal: the next page
  caf::reacts_to<tick_atom>>; // internal: a retry after a temporary failure

struct processor_options {
  config::processor_def def;
  /// The whole configuration: rows are checked against its namespaces.
  std::shared_ptr<const config::settings> settings;
  std::string journal_path;
  caf::actor journal; ///< the journal actor (takes derive_atom)
};

processor_actor spawn_processor(caf::actor_system& sys, processor_options options);

} // namespace herald::actors
