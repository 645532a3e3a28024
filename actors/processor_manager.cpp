#include "actors/processor_manager.hpp"

#include "actors/errors.hpp"
#include "actors/gather.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace herald::actors {

namespace {

struct manager_state {
  static inline const char* name = "processors";
  std::vector<std::pair<std::string, processor_actor>> processors;

  const processor_actor* find(const std::string& name) const {
    for (const auto& [n, a] : processors)
      if (n == name)
        return &a;
    return nullptr;
  }
};

using self_ptr = processors_actor::stateful_pointer<manager_state>;

processors_actor::behavior_type
manager_impl(self_ptr self, std::vector<std::pair<std::string, processor_actor>> processors) {
  self->state.processors = std::move(processors);
  for (auto& [name, p] : self->state.processors)
    self->link_to(p);
  auto by_name = [self](auto atom) {
    return [self, atom](const std::string& name) -> caf::result<processor_status> {
      const auto* p = self->state.find(name);
      if (!p)
        return caf::make_error(errc::not_found, "no processor named \"" + name + "\"");
      return self->delegate(*p, atom);
    };
  };
  return {
    [self](status_atom a) { return gather<processor_status>(self, self->state.processors, a); },
    [by_name](status_atom, const std::string& name) { return by_name(status_atom_v)(name); },
    [by_name](retry_atom, const std::string& name) { return by_name(retry_atom_v)(name); },
    [by_name](skip_atom, const std::string& name) { return by_name(skip_atom_v)(name); },
    [self](rebuild_atom, const std::string& name, uint64_t from,
           const std::string& by) -> caf::result<processor_status> {
      const auto* p = self->state.find(name);
      if (!p)
        return caf::make_error(errc::not_found, "no processor named \"" + name + "\"");
      return self->delegate(*p, rebuild_atom_v, from, by);
    },
    [self](stats_atom a) { return gather<actor_stats>(self, self->state.processors, a); },
  };
}

} // namespace

processors_actor
spawn_processor_manager(caf::actor_system& sys,
                        std::vector<std::pair<std::string, processor_actor>> processors) {
  return sys.spawn(manager_impl, std::move(processors));
}

} // namespace herald::actors
