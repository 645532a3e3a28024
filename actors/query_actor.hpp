// Named queries over read models: a pool of detached query actors, each with
// its own read-only connections, behind a router that hands requests out
// round-robin. Parameters are always bound; results are capped at
// queries.row_limit rows and queries.timeout of run time.
//
// - (query_atom, query_request) -> query_result; errors: not_found (no such
//   query), bad_request (parameters), timeout, unavailable (the projection
//   has no file yet or the disk refused), damaged
// - (file_atom, projection, path): a projection's current file changed
//   (sent by projection actors; the router forwards it to every worker)
// - (file_status_atom, projection, "faulted" | "running"): whether that file is
//   stale (the projection stopped at a failing event); answers say so
// - (stats_atom) -> actor_stats
#pragma once

#include "actors/projection_actor.hpp"
#include "actors/type_ids.hpp"
#include "config/settings.hpp"

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

namespace herald::actors {

using query_actor = caf::typed_actor<caf::replies_to<query_atom, query_request>::with<query_result>,
                                     caf::reacts_to<file_atom, std::string, std::string>,
                                     caf::reacts_to<file_status_atom, std::string, std::string>,
                                     caf::replies_to<stats_atom>::with<actor_stats>>;

query_actor spawn_query_pool(caf::actor_system& sys, const config::settings& s);

} // namespace herald::actors
