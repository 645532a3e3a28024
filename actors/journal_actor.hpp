// The journal actor: the only writer of the journal.
//
// Protocol:
// - (append_atom, append_request) -> append_result, answered only after the
//   append's transaction committed (and, with durability full, was
//   fsynced). A failed expectation is a result (status), not an error.
//   Errors: overloaded (the queue is full: retry later), unavailable (the
//   disk refused: the batch was rolled back; retry later), damaged.
// - (derive_atom, processor_commit) -> processor_commit_result: a stream
//   processor's derived events and checkpoint, written by the writer thread
//   in one transaction of their own (taken turn about with append batches);
//   answered once committed. Errors as for appends.
// - (listen_atom, batch_listener): from now on the listener gets
//   (committed_atom, event_batch) after every commit, in position order.
//   Listeners are monitored and dropped when they go down.
// - (head_atom) -> the last committed position.
// - (stats_atom) -> actor_stats with head, batches, events, batch sizes.
//
// Group commit: appends are queued as they arrive and a flush_atom is sent to
// itself behind them; when it comes up, everything that arrived before it is
// handed to a writer thread as one transaction (bounded by
// journal.max_batch_events and max_batch_bytes). While the writer commits
// (and fsyncs), the actor keeps taking appends: they form the next batch.
// When the writer reports a batch done, the next one waits up to
// journal.commit_wait_us for as many appends as that batch acknowledged
// (appenders waiting for their ack append again at once): closed-loop
// appenders then share one batch per fsync instead of alternating between
// two half batches. One batch is in
// flight at a time, so positions, acks and listener batches stay in commit
// order. The actor runs detached, on its own thread, as does the writer, so
// fsync never blocks the scheduler. Under load, appends beyond
// journal.max_queue (mailbox plus those waiting for the writer) get
// `overloaded` instead of growing.
#pragma once

#include "actors/type_ids.hpp"
#include "config/settings.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <memory>

namespace caf {
class actor_system;
}

namespace herald::storage {
class journal;
}

namespace herald::actors {

/// Anything that wants committed batches.
using batch_listener = caf::typed_actor<caf::reacts_to<committed_atom, event_batch>>;

using journal_actor = caf::typed_actor<
  caf::replies_to<append_atom, storage::append_request>::with<storage::append_result>,
  caf::replies_to<derive_atom, storage::processor_commit>::with<storage::processor_commit_result>,
  caf::reacts_to<listen_atom, batch_listener>,
  caf::replies_to<head_atom>::with<storage::journal_position>,
  caf::replies_to<stats_atom>::with<actor_stats>,
  caf::reacts_to<flush_atom>>; // internal: the group-commit trigger

/// Spawns the journal actor (detached) around an open journal.
journal_actor spawn_journal(caf::actor_system& sys, std::shared_ptr<storage::journal> journal,
                            const config::journal_settings& settings);

} // namespace herald::actors
