// The journal's checkpointer: every journal.checkpoint_every it copies the
// WAL's committed frames into the journal file on its own connection and
// thread (a PASSIVE checkpoint, which blocks neither the writer nor the
// readers). Without it, SQLite checkpoints inside the commit that crosses
// 4 MiB of WAL, and every append waiting behind that commit pays tens of
// milliseconds. Detached: it does disk I/O.
#pragma once

#include "actors/type_ids.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <string>

namespace caf {
class actor_system;
}

namespace herald::actors {

using checkpoint_actor =
  caf::typed_actor<caf::reacts_to<tick_atom>, caf::replies_to<stats_atom>::with<actor_stats>>;

checkpoint_actor spawn_checkpointer(caf::actor_system& sys, const std::string& journal_path,
                                    std::chrono::milliseconds every);

} // namespace herald::actors
