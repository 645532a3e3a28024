#include "actors/projection_actor.hpp"

#include "actors/counters.hpp"
#include "actors/errors.hpp"
#include "storage/journal_reader.hpp"
#include "storage/projection_store.hpp"
#include "storage/read_model.hpp"

#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <spdlog/spdlog.h>

namespace herald::actors {

namespace {

using namespace std::chrono_literals;

struct waiter {
  uint64_t position;
  caf::typed_response_promise<storage::journal_position> promise;
};

struct projection_state {
  static inline const char* name = "projection";
  projection_options o;
  /// Null until the projection's directory could be read (it is retried
  /// while that fails for a temporary reason, such as too many open files).
  std::unique_ptr<storage::projection_store> store;
  std::unique_ptr<storage::journal_reader> reader;
  std::unique_ptr<storage::read_model> model;
  uint64_t generation = 0;
  uint64_t head = 0;
  bool faulted = false;
  bool fault_temporary = false;
  std::string error;
  uint64_t faulted_position = 0;
  bool step_scheduled = false;
  // A rebuild in progress.
  std::unique_ptr<storage::read_model> rebuild;
  uint64_t rebuild_generation = 0;
  uint64_t rebuilt_from = 0;
  uint64_t rebuilds = 0;
  /// The last rebuild was abandoned (failed or interrupted): status
  /// rebuild_failed until the next one starts.
  std::string rebuild_error;
  /// A handler failed during the rebuild: it stops at that event (status
  /// rebuild_faulted) until an operator retries or skips it.
  bool rebuild_faulted = false;
  uint64_t rebuild_faulted_position = 0;
  std::string rebuild_fault;
  /// What query actors were last told about this projection's read model.
  std::string announced = "running";
  // Snapshots.
  uint64_t since_snapshot = 0;
  counters::clock::time_point last_snapshot = counters::clock::now();
  uint64_t snapshots = 0;
  uint64_t snapshot_position = 0;
  std::vector<waiter> waiters;
  counters stats;
  uint64_t applied = 0;
  uint64_t apply_ns = 0;
  int64_t last_event_time = 0;
  int64_t lag_ms = 0;

  uint64_t checkpoint() const {
    return model ? model->checkpoint() : 0;
  }
};

using self_ptr = projection_actor::stateful_pointer<projection_state>;

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

/// Tells query actors whether the read model they read is faulted (its
/// rows stop at the faulted event), when that changed.
void announce(self_ptr self) {
  auto& st = self->state;
  std::string now = st.faulted ? "faulted" : "running";
  if (now == st.announced)
    return;
  st.announced = now;
  for (auto& l : st.o.file_listeners)
    self->send(l, file_status_atom_v, st.o.def.name, now);
}

void fault(self_ptr self, std::string error, uint64_t position, bool temporary) {
  auto& st = self->state;
  st.faulted = true;
  st.fault_temporary = temporary;
  st.error = std::move(error);
  st.faulted_position = position;
  spdlog::error("projection {} faulted{}: {}", st.o.def.name,
                position ? " at position " + std::to_string(position) : std::string(), st.error);
  for (auto& w : st.waiters)
    w.promise.deliver(
      caf::make_error(errc::unavailable, "projection " + st.o.def.name + " is faulted"));
  st.waiters.clear();
  announce(self);
}

/// Clears a fault of the current model (retry, skip, a healed disk).
void clear_fault(self_ptr self) {
  auto& st = self->state;
  st.faulted = false;
  st.error.clear();
  st.faulted_position = 0;
  announce(self);
}

/// Clears a stopped rebuild, which goes on from its checkpoint.
void clear_rebuild_fault(self_ptr self) {
  auto& st = self->state;
  st.rebuild_faulted = false;
  st.rebuild_faulted_position = 0;
  st.rebuild_fault.clear();
}

void release_waiters(self_ptr self) {
  auto& st = self->state;
  auto cp = st.checkpoint();
  auto& ws = st.waiters;
  for (auto it = ws.begin(); it != ws.end();) {
    if (it->position <= cp) {
      it->promise.deliver(storage::journal_position{cp});
      it = ws.erase(it);
    } else {
      ++it;
    }
  }
}

projection_status status_of(self_ptr self) {
  auto& st = self->state;
  projection_status s;
  s.name = st.o.def.name;
  s.position = st.checkpoint();
  s.head = std::max(st.head, s.position);
  s.lag = s.head - s.position;
  // A stopped rebuild comes first: retry and skip act on it.
  if (st.rebuild && st.rebuild_faulted) {
    s.status = "rebuild_faulted";
    s.faulted_position = st.rebuild_faulted_position;
    s.error = st.rebuild_fault;
  } else if (st.faulted) {
    s.status = "faulted";
    s.faulted_position = st.faulted_position;
    s.error = st.error;
  } else {
    s.status = st.rebuild                  ? "rebuilding"
               : !st.rebuild_error.empty() ? "rebuild_failed"
               : s.lag > 0                 ? "catching_up"
                                           : "running";
    s.error = st.rebuild_error;
  }
  s.snapshots = st.snapshots;
  s.snapshot_position = st.snapshot_position;
  return s;
}

void notify_file(self_ptr self) {
  auto& st = self->state;
  if (!st.model)
    return;
  for (auto& l : st.o.file_listeners)
    self->send(l, file_atom_v, st.o.def.name, st.model->path());
}

/// Takes over what the store found: the newest generation if it matches the
/// definition. A damaged current file leaves the projection faulted (an
/// operator rebuilds it); no usable file means a first build.
void use_current(self_ptr self, storage::projection_store::current current) {
  auto& st = self->state;
  for (auto number : current.abandoned_builds) {
    // herald stopped during a rebuild: say so until the next one starts.
    st.rebuild_error = "rebuild abandoned: herald stopped before generation "
                       + std::to_string(number) + " was built; start it again";
  }
  st.generation = current.generation;
  if (!current.damaged.empty()) {
    fault(self, current.damaged + "; rebuild the projection", 0, false);
    return;
  }
  if (current.definition_changed)
    spdlog::warn("projection {}: its definition changed; rebuilding it from the journal",
                 st.o.def.name);
  st.model = std::move(current.model);
}

void take_snapshot(self_ptr self) {
  auto& st = self->state;
  auto pos = st.checkpoint();
  if (!st.model || pos == 0 || pos == st.snapshot_position)
    return;
  st.store->snapshot(*st.model);
  ++st.snapshots;
  st.snapshot_position = pos;
  st.since_snapshot = 0;
  st.last_snapshot = counters::clock::now();
}

void maybe_snapshot(self_ptr self) {
  auto& st = self->state;
  const auto& set = st.o.settings;
  bool by_count = set.snapshot_every_events > 0
                  && st.since_snapshot >= static_cast<uint64_t>(set.snapshot_every_events);
  bool by_time = set.snapshot_every.count() > 0 && st.since_snapshot > 0
                 && counters::clock::now() - st.last_snapshot >= set.snapshot_every;
  if (!by_count && !by_time)
    return;
  try {
    take_snapshot(self);
  } catch (const std::exception& e) {
    spdlog::warn("projection {}: snapshot failed: {}", st.o.def.name, e.what());
  }
}

/// Applies events to the current model and updates everything that follows.
void apply_live(self_ptr self, const event_batch& events) {
  auto& st = self->state;
  auto start = counters::clock::now();
  storage::apply_result r;
  try {
    r = st.model->apply(events);
  } catch (const storage::failure& f) {
    fault(self,
          f.code() == storage::errc::corrupt ? f.what() + std::string("; rebuild the projection")
                                             : f.what(),
          st.checkpoint() + 1, storage::is_temporary(f.code()));
    return;
  }
  st.apply_ns += static_cast<uint64_t>(
    std::chrono::duration_cast<std::chrono::nanoseconds>(counters::clock::now() - start).count());
  st.applied += r.applied;
  st.since_snapshot += r.applied;
  if (r.applied > 0) {
    for (const auto& e : events)
      if (e.position == r.checkpoint)
        st.last_event_time = e.time;
    st.lag_ms = now_ms() - st.last_event_time;
  }
  if (r.failed)
    fault(self, r.error, r.failed_position, false);
  release_waiters(self);
  maybe_snapshot(self);
}

void schedule_step(self_ptr self) {
  if (!self->state.step_scheduled) {
    self->state.step_scheduled = true;
    self->send(self, step_atom_v);
  }
}

/// Reads one page of the journal from `after` + 1.
event_batch read_page(self_ptr self, uint64_t after) {
  auto& st = self->state;
  auto page = st.reader->read_all(after + 1, static_cast<size_t>(st.o.settings.apply_batch));
  if (!page.empty())
    st.head = std::max(st.head, page.back().position);
  return page;
}

void abort_rebuild(self_ptr self, std::string why) {
  auto& st = self->state;
  spdlog::error("projection {}: rebuild abandoned: {}", st.o.def.name, why);
  st.rebuild_error = "rebuild abandoned: " + why;
  st.store->abandon(std::move(st.rebuild));
  clear_rebuild_fault(self);
  if (!st.model) // nothing to fall back on
    fault(self, st.rebuild_error, 0, false);
}

/// The new generation has caught up: it becomes live-N (closed, renamed,
/// reopened, so that no WAL file is left under the old name) and current.
void swap_in_rebuild(self_ptr self) {
  auto& st = self->state;
  try {
    st.model = st.store->promote(std::move(st.rebuild), st.rebuild_generation);
  } catch (const std::exception& e) {
    st.rebuild.reset();
    clear_rebuild_fault(self);
    st.rebuild_error = std::string("rebuild abandoned: it could not be swapped in: ") + e.what();
    spdlog::error("projection {}: {}", st.o.def.name, st.rebuild_error);
    return;
  }
  auto previous = st.generation;
  st.generation = st.rebuild_generation;
  clear_rebuild_fault(self);
  clear_fault(self);
  ++st.rebuilds;
  spdlog::info("projection {}: rebuilt (from position {}), now at position {}", st.o.def.name,
               st.rebuilt_from, st.checkpoint());
  notify_file(self);
  // Queries may still read the previous generation; older ones go.
  try {
    st.store->prune_generations_before(previous);
  } catch (const storage::failure& f) {
    spdlog::warn("projection {}: old generations stay for now: {}", st.o.def.name, f.what());
  }
  release_waiters(self);
}

void rebuild_step(self_ptr self) {
  auto& st = self->state;
  try {
    auto page = read_page(self, st.rebuild->checkpoint());
    if (!page.empty()) {
      auto r = st.rebuild->apply(page);
      if (r.failed && !st.model) {
        // A first build: what was built becomes current, faulted where the
        // handler failed, so that operators can skip or retry as usual.
        swap_in_rebuild(self);
        fault(self, r.error, r.failed_position, false);
        return;
      }
      if (r.failed) {
        // Stop at the event, as a live fault does: the current generation
        // goes on serving, and skip or retry moves the rebuild on.
        st.rebuild_faulted = true;
        st.rebuild_faulted_position = r.failed_position;
        st.rebuild_fault = r.error;
        spdlog::error("projection {}: rebuild stopped at position {}: {}", st.o.def.name,
                      r.failed_position, r.error);
        return;
      }
    }
  } catch (const storage::failure& f) {
    abort_rebuild(self, f.what());
    return;
  }
  if (st.rebuild->checkpoint() >= st.checkpoint() && st.rebuild->checkpoint() >= st.head)
    swap_in_rebuild(self);
}

void step(self_ptr self) {
  auto& st = self->state;
  st.step_scheduled = false;
  if (st.model && !st.faulted && st.checkpoint() < st.head) {
    try {
      auto page = read_page(self, st.checkpoint());
      if (!page.empty())
        apply_live(self, page);
    } catch (const storage::failure& f) {
      fault(self, f.what(), st.checkpoint() + 1, storage::is_temporary(f.code()));
    }
  }
  if (st.rebuild && !st.rebuild_faulted)
    rebuild_step(self);
  bool behind = st.model && !st.faulted && st.checkpoint() < st.head;
  if (behind || (st.rebuild && !st.rebuild_faulted))
    schedule_step(self);
}

void start_rebuild(self_ptr self) {
  auto& st = self->state;
  if (st.rebuild || !st.store)
    return;
  st.rebuild_error.clear();
  clear_rebuild_fault(self);
  auto skipped = [&](const std::string& path, const std::string& why) {
    spdlog::warn("projection {}: skipping snapshot {}: {}", st.o.def.name, path, why);
  };
  st.rebuilt_from = 0;
  try {
    auto build =
      st.store->begin_rebuild(st.generation, std::max(st.head, st.checkpoint()), skipped);
    st.rebuild = std::move(build.model);
    st.rebuild_generation = build.generation;
    st.rebuilt_from = build.from;
  } catch (const storage::failure& f) {
    st.rebuild_error = std::string("cannot start a rebuild: ") + f.what();
    if (!st.model)
      fault(self, st.rebuild_error, 0, storage::is_temporary(f.code()));
    return;
  }
  spdlog::info("projection {}: rebuilding from position {}", st.o.def.name, st.rebuilt_from);
  schedule_step(self);
}

/// Steps the current model over the event it faulted at.
void skip_live(self_ptr self) {
  auto& st = self->state;
  st.model->skip_to(st.faulted_position);
  spdlog::warn("projection {}: skipped the event at position {}", st.o.def.name,
               st.faulted_position);
  clear_fault(self);
  release_waiters(self);
  schedule_step(self);
}

/// Steps a stopped rebuild over the event it stopped at; it goes on.
void skip_in_rebuild(self_ptr self) {
  auto& st = self->state;
  st.rebuild->skip_to(st.rebuild_faulted_position);
  spdlog::warn("projection {}: rebuild skipped the event at position {}", st.o.def.name,
               st.rebuild_faulted_position);
  clear_rebuild_fault(self);
  schedule_step(self);
}

/// Opens the projection's files: its current generation, or a first build.
/// When the directory cannot be read (too many open files, a refusing disk)
/// the projection stays faulted without a store, and the tick tries again.
void open_files(self_ptr self) {
  auto& st = self->state;
  storage::projection_store::current current;
  try {
    auto store = std::make_unique<storage::projection_store>(st.o.data_dir, st.o.def,
                                                             st.o.settings.snapshot_keep);
    current = store->open_current();
    st.store = std::move(store);
  } catch (const storage::failure& f) {
    if (!st.faulted) // a retry that fails again says nothing new
      fault(self, f.what(), 0, storage::is_temporary(f.code()));
    return;
  }
  if (st.faulted)
    clear_fault(self); // a retry that worked
  use_current(self, std::move(current));
  if (!st.model && !st.faulted)
    start_rebuild(self); // the first build, or the definition changed
}

void arm_tick(self_ptr self) {
  auto every = self->state.o.settings.snapshot_every;
  config::duration interval = 5s;
  if (every.count() > 0 && every < interval)
    interval = every;
  self->delayed_send(self, interval, tick_atom_v);
}

projection_actor::behavior_type projection_impl(self_ptr self, projection_options o) {
  auto& st = self->state;
  st.o = std::move(o);
  st.reader = std::make_unique<storage::journal_reader>(st.o.journal_path);
  st.head = st.reader->head();
  open_files(self);
  notify_file(self);
  announce(self);
  if (st.checkpoint() < st.head)
    schedule_step(self);
  arm_tick(self);
  return {
    [self](committed_atom, const event_batch& batch) {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self);
      if (batch.empty())
        return;
      st.head = std::max(st.head, batch.back().position);
      if (st.rebuild)
        schedule_step(self);
      if (!st.model || st.faulted)
        return;
      // In order and not catching up: apply now. Otherwise the catch-up
      // reads these from the journal.
      if (!st.step_scheduled && batch.front().position <= st.checkpoint() + 1)
        apply_live(self, batch);
      else if (st.checkpoint() < st.head)
        schedule_step(self);
    },
    [self](step_atom) {
      auto scope = self->state.stats.measure();
      step(self);
    },
    [self](applied_atom,
           storage::journal_position wanted) -> caf::result<storage::journal_position> {
      auto& st = self->state;
      auto scope = st.stats.measure();
      const uint64_t position = wanted.value;
      if (st.checkpoint() >= position)
        return storage::journal_position{st.checkpoint()};
      if (st.faulted)
        return caf::make_error(errc::unavailable, "projection " + st.o.def.name + " is faulted");
      auto promise = self->make_response_promise<storage::journal_position>();
      st.waiters.push_back({position, promise});
      st.head = std::max(st.head, position);
      schedule_step(self);
      return promise;
    },
    [self](status_atom) -> projection_status {
      auto scope = self->state.stats.measure();
      return status_of(self);
    },
    [self](rebuild_atom) -> projection_status {
      auto scope = self->state.stats.measure();
      start_rebuild(self);
      return status_of(self);
    },
    [self](retry_atom) -> projection_status {
      auto& st = self->state;
      auto scope = st.stats.measure();
      if (st.rebuild && st.rebuild_faulted) {
        clear_rebuild_fault(self);
        schedule_step(self);
      } else if (st.faulted && st.model) {
        clear_fault(self);
        schedule_step(self);
      }
      return status_of(self);
    },
    [self](skip_atom) -> caf::result<projection_status> {
      auto& st = self->state;
      auto scope = st.stats.measure();
      try {
        if (st.rebuild && st.rebuild_faulted)
          skip_in_rebuild(self);
        else if (st.faulted && st.model && st.faulted_position > 0)
          skip_live(self);
      } catch (const storage::failure& f) {
        return from_failure(f);
      }
      return status_of(self);
    },
    [self](snapshot_atom) -> caf::result<storage::journal_position> {
      auto scope = self->state.stats.measure();
      try {
        take_snapshot(self);
      } catch (const std::exception& e) {
        return caf::make_error(errc::unavailable, std::string(e.what()));
      }
      return storage::journal_position{self->state.snapshot_position};
    },
    [self](stats_atom) -> actor_stats {
      auto& st = self->state;
      auto scope = st.stats.measure();
      st.stats.sample(self, true);
      auto status = status_of(self);
      auto s = st.stats.stats("projection " + st.o.def.name, "projection");
      s.figures = {
        {"position", static_cast<int64_t>(status.position)},
        {"head", static_cast<int64_t>(status.head)},
        {"lag", static_cast<int64_t>(status.lag)},
        {"lag_ms", status.lag > 0 ? st.lag_ms : 0},
        {"applied", static_cast<int64_t>(st.applied)},
        {"apply_ns", static_cast<int64_t>(st.apply_ns)},
        {"faulted", st.faulted ? 1 : 0},
        {"rebuilds", static_cast<int64_t>(st.rebuilds)},
        {"rebuilt_from", static_cast<int64_t>(st.rebuilt_from)},
        {"snapshots", static_cast<int64_t>(st.snapshots)},
        {"generation", static_cast<int64_t>(st.generation)},
      };
      return s;
    },
    [self](tick_atom) {
      auto& st = self->state;
      // Temporary faults (the disk refused) heal by themselves: try again.
      if (st.faulted && st.fault_temporary && st.model) {
        clear_fault(self);
        schedule_step(self);
      } else if (st.faulted && st.fault_temporary && !st.store) {
        open_files(self);
        notify_file(self);
        if (st.checkpoint() < st.head)
          schedule_step(self);
      }
      maybe_snapshot(self);
      arm_tick(self);
    },
  };
}

} // namespace

projection_actor spawn_projection(caf::actor_system& sys, projection_options options) {
  return sys.spawn<caf::detached>(projection_impl, std::move(options));
}

} // namespace herald::actors
