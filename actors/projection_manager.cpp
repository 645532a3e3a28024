#include "actors/projection_manager.hpp"

#include "actors/errors.hpp"
#include "actors/gather.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <memory>

namespace herald::actors {

namespace {

using namespace std::chrono_literals;

struct manager_state {
  static inline const char* name = "projections";
  std::vector<std::pair<std::string, projection_actor>> projections;

  const projection_actor* find(const std::string& name) const {
    for (const auto& [n, a] : projections)
      if (n == name)
        return &a;
    return nullptr;
  }
};

using self_ptr = projections_actor::stateful_pointer<manager_state>;

caf::error unknown(const std::string& name) {
  return caf::make_error(errc::not_found, "no projection named \"" + name + "\"");
}

projections_actor::behavior_type
manager_impl(self_ptr self, std::vector<std::pair<std::string, projection_actor>> projections) {
  self->state.projections = std::move(projections);
  for (auto& [name, p] : self->state.projections)
    self->link_to(p);
  auto by_name = [self](auto atom) {
    return [self, atom](const std::string& name) -> caf::result<projection_status> {
      const auto* p = self->state.find(name);
      if (!p)
        return unknown(name);
      return self->delegate(*p, atom);
    };
  };
  return {
    [self](status_atom a) { return gather<projection_status>(self, self->state.projections, a); },
    [by_name](status_atom, const std::string& name) { return by_name(status_atom_v)(name); },
    [by_name](rebuild_atom, const std::string& name) { return by_name(rebuild_atom_v)(name); },
    [by_name](retry_atom, const std::string& name) { return by_name(retry_atom_v)(name); },
    [by_name](skip_atom, const std::string& name) { return by_name(skip_atom_v)(name); },
    [self](applied_atom a, const std::string& name,
           storage::journal_position position) -> caf::result<storage::journal_position> {
      const auto* p = self->state.find(name);
      if (!p)
        return unknown(name);
      return self->delegate(*p, a, position);
    },
    [self](snapshot_atom a, const std::string& name) -> caf::result<storage::journal_position> {
      const auto* p = self->state.find(name);
      if (!p)
        return unknown(name);
      return self->delegate(*p, a);
    },
    [self](stats_atom a) { return gather<actor_stats>(self, self->state.projections, a); },
  };
}

} // namespace

projections_actor
spawn_projection_manager(caf::actor_system& sys,
                         std::vector<std::pair<std::string, projection_actor>> projections) {
  return sys.spawn(manager_impl, std::move(projections));
}

} // namespace herald::actors
