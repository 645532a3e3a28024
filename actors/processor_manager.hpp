// The stream processors of a node, by name: REST's and /metrics' single
// entry point for their status, retry, skip and rebuild (docs/processors.md).
//
// - (status_atom) -> every processor's status, in config order
// - (status_atom, name) / (retry_atom, name) / (skip_atom, name) /
//   (rebuild_atom, name, from, by) -> processor_status; not_found for unknown
//   names
// - (stats_atom) -> every processor actor's stats
#pragma once

#include "actors/processor_actor.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>
#include <utility>
#include <vector>

namespace herald::actors {

using processors_actor = caf::typed_actor<
  caf::replies_to<status_atom>::with<std::vector<processor_status>>,
  caf::replies_to<status_atom, std::string>::with<processor_status>,
  caf::replies_to<retry_atom, std::string>::with<processor_status>,
  caf::replies_to<skip_atom, std::string>::with<processor_status>,
  caf::replies_to<rebuild_atom, std::string, uint64_t, std::string>::with<processor_status>,
  caf::replies_to<stats_atom>::with<std::vector<actor_stats>>>;

processors_actor
spawn_processor_manager(caf::actor_system& sys,
                        std::vector<std::pair<std::string, processor_actor>> processors);

} // namespace herald::actors
