#include "actors/reader_actor.hpp"

#include "actors/counters.hpp"
#include "actors/errors.hpp"
#include "storage/journal_reader.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>

namespace herald::actors {

namespace {

struct reader_state {
  static inline const char* name = "journal-reader";
  std::shared_ptr<storage::journal_reader> reader;
  counters stats;
  uint64_t events_read = 0;
};

template <class F>
auto guarded(F&& f) -> caf::result<decltype(f())> {
  try {
    return f();
  } catch (const storage::failure& e) {
    return from_failure(e);
  }
}

using reader_ptr = reader_actor::stateful_pointer<reader_state>;

caf::result<stream_events> read_stream(reader_ptr self, const std::string& stream,
                                       storage::stream_version from, bool forward, uint64_t limit,
                                       uint64_t max_bytes) {
  auto scope = self->state.stats.measure();
  self->state.stats.sample(self);
  return guarded([&] {
    auto slice = self->state.reader->read_stream(
      stream, from.value, forward ? storage::direction::forward : storage::direction::backward,
      limit, static_cast<size_t>(std::min<uint64_t>(max_bytes, SIZE_MAX)));
    self->state.events_read += slice.events.size();
    return stream_events{storage::stream_version{slice.version}, std::move(slice.events)};
  });
}

reader_actor::behavior_type reader_impl(reader_ptr self,
                                        std::shared_ptr<storage::journal_reader> reader) {
  self->state.reader = std::move(reader); // used by this actor alone
  return {
    [self](read_stream_atom, const std::string& stream, storage::stream_version from, bool forward,
           uint64_t limit) { return read_stream(self, stream, from, forward, limit, UINT64_MAX); },
    [self](read_stream_atom, const std::string& stream, storage::stream_version from, bool forward,
           uint64_t limit, uint64_t max_bytes) {
      return read_stream(self, stream, from, forward, limit, max_bytes);
    },
    [self](read_all_atom, storage::journal_position from,
           uint64_t limit) -> caf::result<event_batch> {
      auto scope = self->state.stats.measure();
      self->state.stats.sample(self);
      return guarded([&] {
        auto events = self->state.reader->read_all(from.value, limit);
        self->state.events_read += events.size();
        return events;
      });
    },
    [self](head_atom) -> caf::result<storage::journal_position> {
      auto scope = self->state.stats.measure();
      return guarded([&] { return storage::journal_position{self->state.reader->head()}; });
    },
    [self](stats_atom) -> actor_stats {
      auto scope = self->state.stats.measure();
      self->state.stats.sample(self, true);
      auto s = self->state.stats.stats("journal-reader", "reader");
      s.figures = {{"events_read", static_cast<int64_t>(self->state.events_read)}};
      return s;
    },
  };
}

struct router_state {
  static inline const char* name = "journal-readers";
  std::vector<reader_actor> workers;
  size_t next = 0;
  counters stats;

  const reader_actor& pick() {
    return workers[next++ % workers.size()];
  }
};

reader_actor::behavior_type router_impl(reader_actor::stateful_pointer<router_state> self,
                                        std::vector<reader_actor> workers) {
  self->state.workers = std::move(workers);
  for (auto& w : self->state.workers)
    self->link_to(w); // the pool lives and dies as one
  return {
    [self](read_stream_atom a, std::string& stream, storage::stream_version from, bool forward,
           uint64_t limit) {
      auto scope = self->state.stats.measure();
      return self->delegate(self->state.pick(), a, std::move(stream), from, forward, limit);
    },
    [self](read_stream_atom a, std::string& stream, storage::stream_version from, bool forward,
           uint64_t limit, uint64_t max_bytes) {
      auto scope = self->state.stats.measure();
      return self->delegate(self->state.pick(), a, std::move(stream), from, forward, limit,
                            max_bytes);
    },
    [self](read_all_atom a, storage::journal_position from, uint64_t limit) {
      auto scope = self->state.stats.measure();
      return self->delegate(self->state.pick(), a, from, limit);
    },
    [self](head_atom a) {
      auto scope = self->state.stats.measure();
      return self->delegate(self->state.pick(), a);
    },
    [self](stats_atom) -> actor_stats {
      auto scope = self->state.stats.measure();
      self->state.stats.sample(self, true);
      auto s = self->state.stats.stats("journal-readers", "reader-pool");
      s.figures = {{"workers", static_cast<int64_t>(self->state.workers.size())}};
      return s;
    },
  };
}

} // namespace

reader_actor spawn_readers(caf::actor_system& sys, const std::string& path, size_t workers) {
  std::vector<reader_actor> pool;
  for (size_t i = 0; i < std::max<size_t>(workers, 1); ++i) {
    // Opened here so that a bad file fails at start, not in the actor.
    auto reader = std::make_shared<storage::journal_reader>(path);
    pool.push_back(sys.spawn<caf::detached>(reader_impl, std::move(reader)));
  }
  return sys.spawn(router_impl, std::move(pool));
}

} // namespace herald::actors
