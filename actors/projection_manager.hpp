// The projections of a node, by name: operators' and REST's single entry
// point for status, rebuild, retry and skip, and for waiting until a
// projection has caught up with a position.
//
// - (status_atom) -> every projection's status, in config order
// - (status_atom, name) / (rebuild_atom, name) / (retry_atom, name) /
//   (skip_atom, name) -> projection_status; not_found for unknown names
// - (applied_atom, name, position) -> checkpoint, once applied that far
// - (snapshot_atom, name) -> the position of a snapshot taken now
// - (stats_atom) -> every projection actor's stats
#pragma once

#include "actors/projection_actor.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <string>
#include <utility>
#include <vector>

namespace herald::actors {

using projections_actor =
  caf::typed_actor<caf::replies_to<status_atom>::with<std::vector<projection_status>>,
                   caf::replies_to<status_atom, std::string>::with<projection_status>,
                   caf::replies_to<rebuild_atom, std::string>::with<projection_status>,
                   caf::replies_to<retry_atom, std::string>::with<projection_status>,
                   caf::replies_to<skip_atom, std::string>::with<projection_status>,
                   caf::replies_to<applied_atom, std::string,
                                   storage::journal_position>::with<storage::journal_position>,
                   caf::replies_to<snapshot_atom, std::string>::with<storage::journal_position>,
                   caf::replies_to<stats_atom>::with<std::vector<actor_stats>>>;

projections_actor
spawn_projection_manager(caf::actor_system& sys,
                         std::vector<std::pair<std::string, projection_actor>> projections);

} // namespace herald::actors
