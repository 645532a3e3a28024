#include "actors/checkpoint_actor.hpp"

#include "actors/counters.hpp"
#include "storage/errors.hpp"
#include "storage/journal.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

namespace herald::actors {

namespace {

struct checkpoint_state {
  static inline const char* name = "journal-checkpointer";
  std::unique_ptr<storage::journal_checkpointer> checkpointer;
  std::chrono::milliseconds every{500};
  counters stats;
  uint64_t checkpoints = 0;
  uint64_t frames = 0;
  uint64_t failures = 0;
};

checkpoint_actor::behavior_type
checkpoint_impl(checkpoint_actor::stateful_pointer<checkpoint_state> self, std::string path,
                std::chrono::milliseconds every) {
  self->state.checkpointer = std::make_unique<storage::journal_checkpointer>(path);
  self->state.every = every;
  self->delayed_send(self, every, tick_atom_v);
  return {
    [self](tick_atom) {
      auto& st = self->state;
      auto scope = st.stats.measure();
      try {
        st.frames = static_cast<uint64_t>(st.checkpointer->checkpoint());
        ++st.checkpoints;
      } catch (const storage::failure& f) {
        // The writer's own backstop checkpoints keep the WAL bounded.
        if (st.failures++ == 0)
          spdlog::warn("journal checkpoint failed: {}", f.what());
      }
      self->delayed_send(self, st.every, tick_atom_v);
    },
    [self](stats_atom) -> actor_stats {
      auto& st = self->state;
      auto s = st.stats.stats("journal-checkpointer", "checkpointer");
      s.figures = {{"checkpoints", static_cast<int64_t>(st.checkpoints)},
                   {"wal_frames_in_file", static_cast<int64_t>(st.frames)},
                   {"failures", static_cast<int64_t>(st.failures)}};
      return s;
    },
  };
}

} // namespace

checkpoint_actor spawn_checkpointer(caf::actor_system& sys, const std::string& journal_path,
                                    std::chrono::milliseconds every) {
  return sys.spawn<caf::detached>(checkpoint_impl, journal_path, every);
}

} // namespace herald::actors
