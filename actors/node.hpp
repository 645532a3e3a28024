// A herald node's actors, started in dependency order from the settings and
// stopped in reverse. The composition root (app/) and the tests use it.
//
// Start order: the journal file is opened (refusing damaged or foreign
// files), definitions are validated (projection and query SQL, parameter
// names, processor statements), then journal actor -> readers -> channel
// registry -> query pool -> stream processors -> projections (each a journal
// listener; processors hear of the projections' files and wait on them). Stop: everything but the
// journal, then the journal, which finishes the batch in flight.
#pragma once

#include "actors/channel_registry.hpp"
#include "actors/checkpoint_actor.hpp"
#include "actors/journal_actor.hpp"
#include "actors/processor_manager.hpp"
#include "actors/projection_manager.hpp"
#include "actors/query_actor.hpp"
#include "actors/reader_actor.hpp"
#include "config/settings.hpp"

#include <memory>
#include <string>

namespace caf {
class actor_system;
}

namespace herald::storage {
class journal;
}

namespace herald::actors {

struct node {
  std::string journal_id;
  std::string epoch;
  journal_actor journal;
  reader_actor readers;
  channel_registry_actor channels;
  query_actor queries;
  projections_actor projections;
  processors_actor processors;
  checkpoint_actor checkpointer;
};

/// Starts the node's actors. Throws config::config_error for definitions
/// that do not compile (one line naming the source, line and reason) and
/// storage::failure for a journal that cannot be used.
node start_node(caf::actor_system& sys, const config::settings& s);

/// Stops the node's actors; the journal last.
void stop_node(node& n);

/// Checks every projection and query definition against SQLite; throws
/// config::config_error on the first problem.
void validate_definitions(const config::settings& s);

/// <data_dir>/journal.db
std::string journal_path(const config::settings& s);

} // namespace herald::actors
